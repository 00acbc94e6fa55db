"""Stray 429s (a shared quota, a load-shedding proxy) against a real rate limit: the
limiter backs off only from 429s that rise with its own rate (issue 26).

The simulations run the limiter on a fake clock in a closed loop: each request goes
out at the pace the limiter allows (capped at what the workers could send), and the
"server" answers it at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from upcall_sync.client.ratelimit import RateLimiter
from upcall_sync.emulator import Emulator
from upcall_sync.emulator.faults import Faults

from .conftest import CONFIRMED, TOKEN, run_cli, write_manifest


def _manifest(path: Path, campaigns: int, numbers: int) -> Path:
    body = "version: 1\ncampaigns:\n"
    for c in range(campaigns):
        body += f"  - name: stray {c}\n    status: ready\n    numbers:\n"
        body += "".join(
            f'      - {{phone: "+1650{c:03d}{n:04d}", first_name: P{n}}}\n' for n in range(numbers)
        )
    return write_manifest(path, body)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class _Outcome:
    sent: int = 0
    refused: int = 0


def _simulate(
    limiter: RateLimiter,
    clock: _Clock,
    seconds: float,
    cap: float,
    refuse: Callable[[int, float], bool],
) -> _Outcome:
    """Send for `seconds` at the limiter's pace (at most `cap`/s); `refuse(i, t)` says
    whether request i, sent at t, is answered 429."""
    out = _Outcome()
    end = clock.now + seconds
    while clock.now < end:
        rate = limiter.status().rate
        clock.now += 1.0 / min(rate or cap, cap)
        refused = refuse(out.sent, clock.now)
        out.sent += 1
        out.refused += refused
        limiter.on_answer(clock.now, 429 if refused else 200, {}, 1.0 if refused else None)
    return out


class _Bucket:
    """The emulator's token bucket: `rate` a second, a burst of `rate`."""

    def __init__(self, rate: float, start: float) -> None:
        self.rate, self.tokens, self.at = rate, rate, start

    def __call__(self, _i: int, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return False
        return True


def test_a_429_on_every_10th_request_does_not_slow_it_down() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    out = _simulate(limiter, clock, 30.0, 50.0, lambda i, _t: i % 10 == 9)
    # about 1,500 requests at full speed; a slow-down that held would cost hundreds
    assert out.sent >= 0.95 * 50 * 30
    assert limiter.events == 0 and limiter.stray >= 1
    assert limiter.status().rate is None


def test_random_stray_429s_do_not_slow_it_down() -> None:
    import random

    rng = random.Random(7)
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    out = _simulate(limiter, clock, 30.0, 50.0, lambda _i, _t: rng.random() < 0.1)
    assert out.sent >= 0.9 * 50 * 30


def test_a_real_limit_is_still_learned_and_kept_to() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    out = _simulate(limiter, clock, 60.0, 50.0, _Bucket(5.0, clock.now))
    admitted = out.sent - out.refused
    assert out.refused <= 0.10 * out.sent
    assert admitted >= 0.8 * 5 * 60  # wall time within 1.25x of the floor
    assert limiter.events >= 1


def test_a_real_limit_behind_stray_429s_is_still_learned() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    bucket = _Bucket(5.0, clock.now)
    out = _simulate(limiter, clock, 60.0, 50.0, lambda i, t: i % 10 == 9 or bucket(i, t))
    admitted = out.sent - out.refused
    # the stray tenth is refused whatever the pace; the limit adds little on top
    assert out.refused <= 0.25 * out.sent
    assert admitted >= 0.7 * 5 * 60


class _Sleeper:
    """Stands for the run's cancel event: `acquire` waits on it, and a wait moves the
    fake clock on (the limiter looks again at least every half second, as it does)."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def wait(self, timeout: float) -> bool:
        self.clock.now += timeout
        return False


def _paced(
    limiter: RateLimiter, clock: _Clock, seconds: float, cap: float, refuse: Callable[[float], bool]
) -> _Outcome:
    """Send for `seconds`, each request when `acquire` lets it go (and at most `cap`/s);
    `refuse(t)` says whether the request sent at t is answered 429."""
    out = _Outcome()
    sleeper = _Sleeper(clock)
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1.0 / cap
        limiter.acquire(sleeper)  # type: ignore[arg-type]
        refused = refuse(clock.now)
        out.sent += 1
        out.refused += refused
        limiter.on_answer(clock.now, 429 if refused else 200, {}, 1.0 if refused else None)
    return out


def test_an_outage_is_not_taken_for_a_limit_of_nothing() -> None:
    """Three seconds in which the server refuses everything (a shared quota spent, a
    proxy shedding load), then none: the pace climbs back to the limit it measured within
    seconds. The outage was measured as a limit of 0 (the floor, 0.2/s): 4 requests went
    in the 10 seconds after it."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    _paced(limiter, clock, 2.0, 50.0, lambda _t: False)
    _paced(limiter, clock, 3.0, 50.0, lambda _t: True)
    out = _paced(limiter, clock, 10.0, 50.0, lambda _t: False)
    assert out.sent >= 100, out
    rate = limiter.status().rate
    assert rate is None or rate >= 10.0


def test_outages_every_10_seconds_do_not_wear_the_pace_down() -> None:
    """Two seconds of refusals in every ten: each one was measured as the server's limit
    (what the slow pace after the last one let through), and the run never recovered
    (411 admitted in the minute; a real run was not done after 60 s)."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    start = clock.now
    out = _paced(limiter, clock, 60.0, 50.0, lambda t: (t - start) % 10 >= 8.0)
    assert out.sent - out.refused >= 500, out


@pytest.mark.parametrize("begins", [0.0, 0.1, 0.3])
def test_an_outage_in_the_runs_first_second_is_not_taken_for_its_limit(begins: float) -> None:
    """Two seconds of refusals in every ten, the first beginning with the run (or a few
    answers into it). The first event measured what the run's first moment let through
    (a request or a few: 10 req/s) as the server's limit, and every later outage climbed
    back only to that: under 300 admitted in the minute, where a limit no 429 has backed
    should not hold the pace down."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    start = clock.now
    out = _paced(limiter, clock, 60.0, 50.0, lambda t: (t - start - begins) % 10 < 2.0)
    assert out.sent - out.refused >= 1000, out


def test_the_few_refusals_a_run_starts_with_are_not_taken_for_a_limit_of_nothing() -> None:
    """A run's first writes go two at a time (slow start); both refused, and a retry
    a second later refused too: nothing admitted, and too few answers to call it an
    outage. That was measured as a limit of 0 (the floor, 0.2/s) and kept: an apply
    through a proxy refusing its first 2 seconds of every 10 sent 0.2-0.4 req/s."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(2):
        limiter.on_answer(clock.now, 429, {}, 1.0)
        clock.now += 0.05
    clock.now += 1.5
    limiter.on_answer(clock.now - 0.01, 429, {}, 1.0)
    out = _paced(limiter, clock, 10.0, 50.0, lambda _t: False)
    assert out.sent >= 300, out


def test_a_real_limit_refusing_from_the_first_request_is_still_learned() -> None:
    """A quota spent before the run began: the bucket is empty at the first request,
    and refills at 5 a second. Refused from the start is not taken for a limit of 0,
    nor for no limit at all."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    bucket = _Bucket(5.0, clock.now)
    bucket.tokens = 0.0
    out = _paced(limiter, clock, 60.0, 50.0, lambda t: bucket(0, t))
    admitted = out.sent - out.refused
    assert out.refused <= 0.10 * out.sent, out
    assert admitted >= 0.8 * 5 * 60, out


def test_a_real_limit_after_an_outage_is_still_learned() -> None:
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    _paced(limiter, clock, 2.0, 50.0, lambda _t: False)
    _paced(limiter, clock, 3.0, 50.0, lambda _t: True)
    bucket = _Bucket(5.0, clock.now)
    out = _paced(limiter, clock, 60.0, 50.0, lambda t: bucket(0, t))
    admitted = out.sent - out.refused
    assert out.refused <= 0.10 * out.sent, out
    assert admitted >= 0.8 * 5 * 60, out


@pytest.mark.parametrize("latency", [0])
def test_apply_against_stray_429s_is_not_slowed_by_them(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    latency: int,
) -> None:
    """Through the CLI: the emulator answers a tenth of requests 429 (Retry-After: 1)
    whatever the pace. Before issue 26 the pace decayed to under 1 req/s (150 s and
    more); now the run takes the time of its requests plus the waits asked for."""
    manifest = _manifest(tmp_path / "m.yaml", 2, 25)
    faults = Faults(rate=0.1, kinds=("429",), seed=26, retry_after=1)
    with Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=faults, latency_ms=latency
    ) as emu:
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("NO_COLOR", "1")
        started = time.monotonic()
        code, out, err = run_cli(
            capsys,
            "apply",
            "--auto-approve",
            "--parallelism",
            "16",
            "--api-url",
            emu.base_url,
            str(manifest),
        )
        wall = time.monotonic() - started
        assert code == 0, out + err
        refused = sum(1 for r in emu.requests if r.status == 429)
        assert refused >= 3
        # the waits asked for, spread over 16 workers, plus generous room for the requests
        # themselves on a loaded machine; the decaying pace took minutes
        assert wall <= refused * 1.0 / 16 + 15.0


def test_the_first_event_measures_from_the_runs_first_request() -> None:
    """The limiter is made, then the run reads for half a second before its first
    request: the rate admitted is measured from that request, not from the limiter's
    birth (which would make the trial's pace, and so the trial, 10x slower)."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    clock.now += 0.5
    for _ in range(4):  # four answers in 40 ms, then a 429
        sent = clock.now
        clock.now += 0.01
        limiter.on_answer(sent, 200, {})
    limiter.on_answer(clock.now, 429, {}, 1.0)
    # 4 admitted in the 40 ms since the first request (measured over at least 50 ms):
    # 80/s, and half of it
    assert limiter.status().rate == pytest.approx(40.0)


def test_a_trial_reads_one_share_from_before_and_during_it() -> None:
    """A tenth refused before the first event (2 of 18: a rough reading), and 2 of the
    30 answers at the trial's slower pace: one share of about 8% explains both, where a
    limit would have refused next to none at half the pace. The slow-down is undone (the
    share before, taken alone, predicted 3.3 429s and held it)."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock)
    for n in range(16):  # 15 admitted, then a 429: the first event
        clock.now += 0.01
        limiter.on_answer(clock.now, 429 if n == 15 else 200, {}, 1.0 if n == 15 else None)
    assert limiter.events == 1
    sent_before = clock.now - 0.005
    for refused in (True, False):  # two answers to requests in flight at the event
        clock.now += 0.005
        limiter.on_answer(sent_before, 429 if refused else 200, {}, 1.0 if refused else None)
    for n in range(30):  # at the trial's pace: the 12th and the 27th answers are 429s
        rate = limiter.status().rate
        assert rate is not None and rate < 80
        clock.now += 1.0 / rate
        refused = n in (11, 26)
        limiter.on_answer(clock.now, 429 if refused else 200, {}, 1.0 if refused else None)
    assert limiter.events == 0 and limiter.stray == 1
    assert limiter.status().rate is None
