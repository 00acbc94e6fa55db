"""Rate limits and a dead API: the emulator's --rate-limit, the shared adaptive limiter,
the one retry policy, and the circuit breaker, through the CLI where it matters."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from upcall_sync.client import CampaignAttributes, RetryPolicy, Transport, UpcallClient
from upcall_sync.client.breaker import CircuitBreaker
from upcall_sync.client.limit_headers import parse_limit_headers
from upcall_sync.client.ratelimit import RateLimiter
from upcall_sync.client.responses import tls_problem
from upcall_sync.emulator import Emulator
from upcall_sync.emulator.faults import RateLimit
from upcall_sync.emulator.store import Store
from upcall_sync.errors import ApiStatusError, ApiUnreachable

from .conftest import CONFIRMED, FAST_TIMEOUTS, TOKEN, run_cli, write_manifest
from .helpers.accounts import duplicates


def _manifest(path: Path, campaigns: int, numbers: int, status: str = "ready") -> Path:
    body = "version: 1\ncampaigns:\n"
    for c in range(campaigns):
        body += f"  - name: rl {c}\n    status: {status}\n    numbers:\n"
        body += "".join(
            f'      - {{phone: "+1650{c:03d}{n:04d}", first_name: P{n}}}\n' for n in range(numbers)
        )
    return write_manifest(path, body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the emulator's token bucket ------------------------------------------------------------


def test_emulator_refuses_the_excess_with_an_integer_retry_after() -> None:
    with Emulator(tokens=[TOKEN], rate_limit=RateLimit(4, headers=True)) as emu:
        session = requests.Session()
        answers = [
            session.get(f"{emu.base_url}/campaigns", params={"auth_token": TOKEN}) for _ in range(7)
        ]
        statuses = [a.status_code for a in answers]
        assert statuses[:4] == [200] * 4 and 429 in statuses[4:]
        refused = [a for a in answers if a.status_code == 429]
        assert all(a.headers["Retry-After"] == "1" for a in refused)  # ceil(< 0.25 s)
        assert answers[0].headers["RateLimit-Policy"] == "4;w=1"
        assert [a.headers["RateLimit-Remaining"] for a in answers[:4]] == ["3", "2", "1", "0"]
        logged = [r.fault for r in emu.requests if r.status == 429]
        assert logged and set(logged) == {"rate-limit"}
        time.sleep(0.3)  # a token again
        assert session.get(f"{emu.base_url}/campaigns", params={"auth_token": TOKEN}).ok


def test_emulator_rate_limit_option_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "emulator", "--token", "t", "--rate-limit", "-1")
    assert code == 1 and "--rate-limit" in err and len(err.strip().splitlines()) == 1


# -- the limiter, on a fake clock ---------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _drive(limiter: RateLimiter, clock: _Clock, seconds: float, sent: float, admitted: float):
    """Send `sent` requests/s for `seconds`, the server admitting `admitted` of them a second."""
    step = 1.0 / sent
    credit = 0.0
    for _ in range(round(seconds * sent)):
        clock.now += step
        credit += admitted / sent
        if credit >= 1.0:
            credit -= 1.0
            limiter.on_answer(clock.now, 200, {})
        else:
            limiter.on_answer(clock.now, 429, {}, 1.0)


def test_limiter_learns_the_servers_rate_from_429s() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    assert limiter.status().rate is None
    for _ in range(10):  # a burst of 10 admitted, then a refusal
        clock.now += 0.01
        limiter.on_answer(clock.now, 200, {})
    limiter.on_answer(clock.now, 429, {}, 1.0)
    first = limiter.status()
    # half the rate admitted since the run's first request (10 answers in 0.09 s)
    assert first.throttled and first.rate == pytest.approx(0.5 * 10 / 0.09)
    # Then we send at the limiter's pace and the server admits 5/s: the limit is measured.
    tokens, paces = 0.0, []
    for _ in range(200):
        step = 1.0 / (limiter.status().rate or 50.0)
        clock.now += step
        tokens = min(5.0, tokens + 5.0 * step)
        admitted = tokens >= 1.0
        tokens -= admitted
        events = limiter.events
        limiter.on_answer(clock.now, 200 if admitted else 429, {}, None if admitted else 1.0)
        if limiter.events > events:
            paces.append(limiter.status().rate)
    assert len(paces) >= 2
    assert paces[-1] == pytest.approx(0.9 * 5, rel=0.15)  # after each later event


def test_a_stray_429_below_the_learned_limit_does_not_slow_it_down() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    _drive(limiter, clock, 1.0, sent=50, admitted=50)
    limiter.on_answer(clock.now, 429, {}, 1.0)
    assert limiter.events == 1
    before = limiter.status().rate
    assert before is not None
    for _ in range(3):  # one 429 among ~50 answers, each of three seconds
        _drive(limiter, clock, 1.0, sent=25, admitted=25)
        limiter.on_answer(clock.now, 429, {}, 1.0)
    after = limiter.status().rate
    # the 429s went on at the slower pace: the slow-down is undone (no limit again)
    assert limiter.events <= 1 and (after is None or after >= before)


def test_retry_after_zero_teaches_nothing() -> None:
    limiter = RateLimiter()
    limiter.on_answer(time.monotonic(), 429, {}, 0.0)
    assert limiter.events == 0 and limiter.status().rate is None


def test_max_rps_paces_every_thread() -> None:
    limiter = RateLimiter(max_rps=40)
    cancel = threading.Event()
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda: [limiter.acquire(cancel) for _ in range(5)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 19 / 40 * 0.95  # 20 requests, the first at once
    assert limiter.status().rate == 40 and limiter.status().source == "max-rps"


def test_rate_limit_headers_in_their_common_forms() -> None:
    assert parse_limit_headers({"RateLimit-Policy": "100;w=60"}).policy_rate == pytest.approx(
        100 / 60
    )
    both = parse_limit_headers({"RateLimit-Policy": '"burst";q=10;w=1, "day";q=8640;w=86400'})
    assert both.policy_rate == pytest.approx(0.1)
    github = parse_limit_headers(
        {
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + 30),
        }
    )
    assert github.policy_rate is None and github.remaining == 0
    assert github.reset is not None and 25 < github.reset <= 31
    draft = parse_limit_headers({"RateLimit": '"default";r=0;t=7'})
    assert (draft.remaining, draft.reset) == (0, 7.0)
    assert parse_limit_headers({"RateLimit-Reset": "soon", "RateLimit-Policy": "x"}) == (
        parse_limit_headers({})
    )


def test_remaining_zero_holds_requests_until_reset() -> None:
    limiter = RateLimiter()
    limiter.on_answer(time.monotonic(), 200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "1"})
    assert limiter.status().throttled
    started = time.monotonic()
    assert limiter.acquire(threading.Event())
    assert time.monotonic() - started >= 0.9


# -- the one retry policy ---------------------------------------------------------------------------


def test_429_is_retried_without_counting_against_the_attempt_cap(emulator: Emulator) -> None:
    client = UpcallClient.connect(
        emulator.base_url,
        TOKEN,
        retry=RetryPolicy(max_attempts=2, backoff_initial=0.001, backoff_max=0.002, jitter=0),
    )
    emulator.faults.add_rule("429", "POST", "/campaigns", count=5)
    made = client.create_campaign(CampaignAttributes(name="patient"))
    assert made.name == "patient"
    assert client.transport.stats.throttled == 5
    assert len(client.list_campaigns(name="patient")) == 1


@pytest.mark.parametrize("retry_after", ["Wed, 21 Oct 2015 07:28:00 GMT", "soon", "-5"])
def test_a_past_or_garbled_retry_after_backs_off_then_gives_up_clearly(
    emulator: Emulator, retry_after: str
) -> None:
    emulator.faults.retry_after = retry_after  # type: ignore[assignment]
    emulator.faults.add_rule("429", "GET", "/campaigns", count=-1)
    client = UpcallClient.connect(
        emulator.base_url,
        TOKEN,
        retry=RetryPolicy(backoff_initial=0.05, backoff_max=0.2, jitter=0, max_total_seconds=1),
    )
    started = time.monotonic()
    with pytest.raises(ApiStatusError) as info:
        client.list_campaigns()
    assert time.monotonic() - started < 2
    assert 3 <= len(emulator.requests) <= 12  # backed off: no hot loop
    assert str(info.value).startswith("GET /campaigns?page[number]=1")
    assert "HTTP 429: Too many requests (gave up after" in str(info.value)


def test_the_retry_clock_starts_with_the_first_attempt() -> None:
    """Each answer takes 0.7 s; with 1 s allowed, a second attempt fits and a third does not."""
    with Emulator(tokens=[TOKEN], latency_ms=700) as emu:
        emu.faults.add_rule("503", "GET", "/campaigns", count=-1)
        transport = Transport(
            emu.base_url,
            TOKEN,
            retry=RetryPolicy(
                backoff_initial=0.05, backoff_max=0.05, jitter=0, max_total_seconds=1
            ),
            timeouts=FAST_TIMEOUTS,
        )
        with pytest.raises(Exception, match="HTTP 503"):
            transport.request("GET", "/campaigns")
        assert len(emu.requests) <= 2


# -- through the CLI: a rate-limited server --------------------------------------------------------


def test_apply_under_a_rate_limit_converges_with_few_429s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _manifest(tmp_path / "m.yaml", 2, 8)
    with Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), rate_limit=RateLimit(20)
    ) as emu:
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("NO_COLOR", "1")
        code, out, err = run_cli(
            capsys, "apply", "--auto-approve", "--api-url", emu.base_url, str(manifest)
        )
        assert code == 0, out + err
        refused = sum(1 for r in emu.requests if r.status == 429)
        assert refused >= 1  # the limit was reached, and learned
        assert refused <= 0.3 * len(emu.requests)
        assert "server throttling: sending" in out
        code, _, _ = run_cli(
            capsys, "plan", "--detailed-exitcode", "--api-url", emu.base_url, str(manifest)
        )
        assert code == 0
        assert not any(duplicates(emu).values())


def test_a_server_that_sends_its_policy_is_never_exceeded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _manifest(tmp_path / "m.yaml", 2, 8)
    limit = RateLimit(20, headers=True)
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), rate_limit=limit) as emu:
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        code, out, err = run_cli(
            capsys, "apply", "--auto-approve", "--api-url", emu.base_url, str(manifest)
        )
        assert code == 0, out + err
        assert len(emu.requests) > 30
        assert [r for r in emu.requests if r.status == 429] == []


def test_max_rps_caps_the_rate_through_the_cli(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path / "m.yaml", 1, 4)
    started = time.monotonic()
    code, _, err = run_cli(capsys, "apply", "--auto-approve", "--max-rps", "8", str(manifest))
    elapsed = time.monotonic() - started
    assert code == 0, err
    sent = len(cli_env.requests)
    assert sent >= 8 and elapsed >= (sent - 1) / 8 * 0.95


@pytest.mark.parametrize("value", ["0", "-2", "1e9", "fast", "1e-9", "0.001"])
def test_bad_max_rps_is_a_one_line_usage_error(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = run_cli(capsys, "plan", f"--max-rps={value}", "examples")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--max-rps" in err
    assert cli_env.requests == []


# -- through the CLI: a dead API ---------------------------------------------------------------------


def test_a_closed_port_fails_within_10_seconds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    manifest = _manifest(tmp_path / "m.yaml", 1, 1)
    url = f"http://127.0.0.1:{_free_port()}/api/v1"
    started = time.monotonic()
    code, _, err = run_cli(capsys, "apply", "--auto-approve", "--api-url", url, str(manifest))
    assert code == 1 and time.monotonic() - started < 10
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        rf"error: cannot reach the API at {re.escape(url.removesuffix('/api/v1'))}: "
        r"no answer in [56] s \(last: connection refused\)",
        lines[0],
    ), lines


def test_https_to_an_http_server_fails_at_once_saying_why(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    url = emulator.base_url.replace("http://", "https://")
    started = time.monotonic()
    code, _, err = run_cli(capsys, "plan", "--api-url", url, "examples")
    assert code == 1 and time.monotonic() - started < 3
    assert "TLS handshake failed: the server does not speak https?" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("library_says", "we_say"),
    [
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
            "certificate (_ssl.c:1006)",
            "TLS certificate not trusted: self-signed certificate",
        ),
        (
            "Max retries exceeded with url: /x (Caused by SSLError(SSLCertVerificationError(1, "
            '"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, '
            "certificate is not valid for 'api.example'. (_ssl.c:1006)\")))",
            "TLS certificate not trusted: Hostname mismatch, certificate is not valid for "
            "'api.example'.",
        ),
        (
            "Caused by SSLError(SSLError(1, '[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert "
            "handshake failure (_ssl.c:1006)'))",
            "TLS handshake failed: sslv3 alert handshake failure",
        ),
        (
            "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
            "TLS handshake failed: the server does not speak https? (check the URL's scheme)",
        ),
    ],
)
def test_tls_failures_in_words(library_says: str, we_say: str) -> None:
    assert tls_problem(requests.exceptions.SSLError(library_says)) == we_say
    assert tls_problem(requests.exceptions.ConnectionError(library_says)) is None


def test_breaker_opens_after_the_threshold_of_silence_and_fails_fast() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(1.0, where="http://x", clock=clock)
    breaker.answered()
    clock.now += 10  # idle time is not silence
    assert breaker.failed(clock.now, "connection refused") is None
    clock.now += 0.5
    breaker.answered()  # an answer ends the outage
    clock.now += 0.5
    assert breaker.failed(clock.now, "connection refused") is None
    clock.now += 1.0
    error = breaker.failed(clock.now - 0.1, "connection reset")
    assert isinstance(error, ApiUnreachable)
    assert str(error) == (
        "the API stopped answering: nothing from http://x for 1 s (last: connection reset); "
        "stopped sending requests"
    )
    with pytest.raises(ApiUnreachable):
        breaker.check()
    assert breaker.opened.is_set()


def _emulator_process(db: Path) -> subprocess.Popen[str]:
    args = ["emulator", "--db", str(db), "--token", TOKEN, "--confirmed-number", CONFIRMED[0]]
    return subprocess.Popen(
        [sys.executable, "-m", "upcall_sync.cli", *args, "--latency-ms", "15"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_api_killed_mid_apply_stops_it_and_a_rerun_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "api.db"
    manifest = _manifest(tmp_path / "m.yaml", 2, 30, status="pending")
    proc = _emulator_process(db)
    assert proc.stdout is not None and proc.stderr is not None
    url = proc.stdout.readline().strip()
    died: list[float] = []

    def kill_after_writes() -> None:
        assert proc.stderr is not None
        posts = 0
        for line in proc.stderr:
            posts += " POST " in line
            if posts >= 20:
                proc.kill()
                died.append(time.monotonic())
                return

    watcher = threading.Thread(target=kill_after_writes, daemon=True)
    watcher.start()
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    try:
        code, out, err = run_cli(
            capsys,
            "apply",
            "--auto-approve",
            "--parallelism",
            "4",
            "--unreachable-after",
            "1",
            "--api-url",
            url,
            str(manifest),
        )
    finally:
        proc.kill()
        proc.wait()
        watcher.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    assert died and time.monotonic() - died[0] < 8
    assert code == 1
    assert "Not attempted" in out and "not attempted." in out
    assert err.strip().splitlines()[-1].startswith("error: the API stopped answering")
    with Emulator(Store(str(db)), tokens=[TOKEN], confirmed_numbers=list(CONFIRMED)) as emu:
        code, out, err = run_cli(
            capsys, "apply", "--auto-approve", "--api-url", emu.base_url, str(manifest)
        )
        assert code == 0, out + err
        assert not any(duplicates(emu).values())
        emu.store.close()


# -- the progress display ----------------------------------------------------------------------------


def test_progress_says_when_the_server_throttles_and_at_what_rate() -> None:
    import io
    from types import SimpleNamespace

    from upcall_sync.client.ratelimit import LimiterStatus
    from upcall_sync.output.progress import BarProgress, LineProgress

    status = [LimiterStatus(True, 4.5, "learned")]
    op = SimpleNamespace(status="applied", label="add x", message="", result="id 1")
    lines = io.StringIO()
    progress = LineProgress(lines, lambda: status[0])
    progress(op)
    progress(op)  # unchanged: no new line
    status[0] = LimiterStatus(True, 2.0, "learned")
    progress(op)
    status[0] = LimiterStatus(False, 2.5, "learned")
    progress(op)
    assert [
        line.split(None, 1)[1] for line in lines.getvalue().splitlines() if "throttled" in line
    ] == [
        "server throttling: sending 4.5 req/s",
        "server throttling: sending 2.0 req/s",
        "no longer",
    ]
    bar_out = io.StringIO()
    bar = BarProgress(2, bar_out, lambda: status[0])
    status[0] = LimiterStatus(True, 4.5, "learned")
    bar(op)
    bar.close()
    assert "server throttling: sending 4.5 req/s" in bar_out.getvalue()
