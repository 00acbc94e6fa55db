"""The API misbehaves; upcall-sync stays correct and says what is wrong in one line.

Every case runs the real `plan` command against the emulator (or a tiny
scripted server for what the emulator cannot be made to do) and must end
with one line on stderr and exit 1 (or a correct plan and a warning), fast.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.emulator import Emulator

from .. import figures
from ..conftest import TOKEN, run_cli, serve, write_manifest

MANIFEST = "version: 1\ncampaigns:\n  - name: a\n  - name: b\n"
FAST = ("--timeout", "0.3", "--max-retry-time", "0.6")

EMULATOR_CASES = {
    "html": "HTTP 502: <html><head><title>502 Bad Gateway",
    "invalid-json": "with a body that is not JSON",
    "truncated": "the response was cut off",
    "loop-next": "links.next points back at a page already read",
    "foreign-next": "links.next leads to http://attacker.example",
    "scheme-next": "not following it with the token",
    "slow-body": "timed out waiting for the response",
    "timeout": "timed out waiting for the response",
    "retry-after-huge": "the server asks to wait 86400 s (Retry-After), more than the 60 s",
    "500": "HTTP 500: Internal error (gave up after",
    "503": "HTTP 503: Service unavailable (gave up after",
    "reset": "connection reset by the server",
}


def _check_one_line(code: int, out: str, err: str, needle: str, elapsed: float) -> None:
    lines = err.strip().splitlines()
    assert code == 1, (out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err and TOKEN not in err
    assert elapsed < 10, f"took {elapsed:.1f}s"


@pytest.mark.parametrize("fault", list(EMULATOR_CASES))
def test_misbehaving_emulator(
    fault: str, cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    figures.add("misbehaving_cases")
    cli_env.faults.stall_seconds = 3
    cli_env.faults.add_rule(fault, "GET", r"/campaigns", count=-1)
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    started = time.monotonic()
    code, out, err = run_cli(capsys, "plan", *FAST, str(m))
    _check_one_line(code, out, err, EMULATOR_CASES[fault], time.monotonic() - started)
    figures.add("misbehaving_handled")


def test_a_page_far_larger_than_asked_is_read_correctly_with_a_warning(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    figures.add("misbehaving_cases")
    cli_env.store.seed(cli_env.accounts[TOKEN], campaigns=[{"name": f"c{i}"} for i in range(1200)])
    cli_env.faults.add_rule("huge-page", "GET", r"/campaigns", count=-1)
    m = write_manifest(
        tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: c5\n  - name: c1100\n"
    )
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", *FAST, str(m))
    assert (code, out) == (0, "No changes. Live state matches the manifests.\n")
    assert "returned 1200 items on a page of size 1000; the server ignores page sizes" in err
    figures.add("misbehaving_handled")


# -- a scripted server for the rest -----------------------------------------------------


class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        status, headers, body = self.answer
        self.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def scripted() -> Iterator[str]:
    with serve(_Scripted) as base:
        yield base


SCRIPTED = {
    "not-jsonapi": (
        (200, {"Content-Type": "application/json"}, b"[1, 2, 3]"),
        "expected a JSON:API document with a data list",
    ),
    "redirect-elsewhere": (
        (302, {"Location": "http://attacker.example/api/v1/campaigns"}, b""),
        "HTTP 302",
    ),
    "wrong-resource-type": (
        (
            200,
            {},
            json.dumps(
                {"data": [{"id": "1", "type": "lists", "attributes": {"name": "a"}}]}
            ).encode(),
        ),
        "data.type is 'lists', expected campaigns",
    ),
    "missing-attributes": (
        (200, {}, json.dumps({"data": [{"id": "1", "type": "campaigns"}]}).encode()),
        "data.attributes is missing",
    ),
    "error-without-body": ((403, {}, b""), "HTTP 403: not allowed for this token"),
}


@pytest.mark.parametrize("case", list(SCRIPTED))
def test_misbehaving_server(
    case: str,
    scripted: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    figures.add("misbehaving_cases")
    answer, needle = SCRIPTED[case]
    monkeypatch.setattr(_Scripted, "answer", answer)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    started = time.monotonic()
    code, out, err = run_cli(capsys, "plan", "--api-url", scripted, *FAST, str(m))
    _check_one_line(code, out, err, needle, time.monotonic() - started)
    figures.add("misbehaving_handled")


def test_nothing_listening(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures.add("misbehaving_cases")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    started = time.monotonic()
    code, out, err = run_cli(
        capsys, "plan", "--api-url", f"http://127.0.0.1:{port}/api/v1", *FAST, str(m)
    )
    _check_one_line(code, out, err, "connection refused", time.monotonic() - started)
    figures.add("misbehaving_handled")


class _EndlessRedirect(BaseHTTPRequestHandler):
    """A 302 whose body never ends: it trickles (`pause` between bytes) or floods."""

    protocol_version = "HTTP/1.1"
    pause = 0.05

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/api/v1/elsewhere")
        self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        chunk = b"x" if self.pause else b"x" * (1 << 20)
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(self.pause)
        except OSError:  # the client gave up on it
            return


def _plan_against(
    handler: type[BaseHTTPRequestHandler],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *options: str,
    again: bool = False,
) -> tuple[int, str, str, float]:
    """`plan` of MANIFEST against a scripted server: exit code, stdout, stderr, seconds.
    Each call counts one case tried, except one that runs a case `again` (other options)."""
    if not again:
        figures.add("misbehaving_cases")
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    with serve(handler) as base:
        started = time.monotonic()
        code, out, err = run_cli(capsys, *options, "plan", "--api-url", base, *FAST, str(m))
        return code, out, err, time.monotonic() - started


@pytest.mark.parametrize(
    ("pause", "needle"),
    [(0.05, "timed out waiting for the response"), (0.0, "response body larger than 64 MB")],
)
def test_a_redirect_whose_body_never_ends_is_bounded_like_any_answer(
    pause: float,
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests' `Session.send` read a redirect's body whole before answering (to free
    the connection), past the total timeout and the body's size cap: a 302 that
    trickled kept plan waiting as long as the server went on, and one that flooded
    was read into memory. Every answer's body is now the transport's bounded read."""
    monkeypatch.setattr(_EndlessRedirect, "pause", pause)
    code, out, err, elapsed = _plan_against(_EndlessRedirect, capsys, tmp_path, monkeypatch)
    _check_one_line(code, out, err, needle, elapsed)
    figures.add("misbehaving_handled")


class _EchoingRedirect(BaseHTTPRequestHandler):
    """A 302 whose body quotes the request's token, 72 characters in (where a message's
    80-character excerpt would cut it to its first 8, too few to be redacted as such)."""

    protocol_version = "HTTP/1.1"
    status = 302

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        token = self.path.split("auth_token=", 1)[-1].split("&", 1)[0]
        body = ("You are being redirected " + "." * 47 + " " + token).encode()
        self.send_response(self.status)
        self.send_header("Location", "/login")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_redirects_body_is_not_quoted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounded read of a redirect's body (above) is only to end the answer: the
    message is the status alone, as when requests consumed the body, so nothing a
    server echoes there (the URL, token and all) reaches the output, not even cut."""
    code, out, err, elapsed = _plan_against(_EchoingRedirect, capsys, tmp_path, monkeypatch)
    _check_one_line(code, out, err, "HTTP 302", elapsed)
    assert err.rstrip().endswith("HTTP 302") and TOKEN[:6] not in err, err
    code, out, err, _ = _plan_against(
        _EchoingRedirect, capsys, tmp_path, monkeypatch, "--debug", again=True
    )
    assert code == 1 and "being redirected" not in err and TOKEN[:6] not in err, err
    figures.add("misbehaving_handled")


def test_an_error_body_is_redacted_before_it_is_cut(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error's body is quoted up to 80 characters: a token it echoes where the cut
    falls is redacted whole first, not cut to a prefix too short to be recognised."""
    monkeypatch.setattr(_EchoingRedirect, "status", 403)
    code, out, err, elapsed = _plan_against(_EchoingRedirect, capsys, tmp_path, monkeypatch)
    _check_one_line(code, out, err, "HTTP 403: You are being redirected", elapsed)
    assert ". REDACTE" in err and TOKEN[:6] not in err, err
    figures.add("misbehaving_handled")


class _BadlyEncodedRedirect(BaseHTTPRequestHandler):
    """A 302 (or `status`) whose body says `Content-Encoding: gzip` but is plain text."""

    protocol_version = "HTTP/1.1"
    status = 302

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        body = b"<html>moved</html>"
        self.send_response(self.status)
        self.send_header("Location", "/login")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_redirect_whose_body_does_not_decode_is_the_redirect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its status is the answer, at once: not 'the response was cut off after 0 of 18
    bytes', retried and counted towards the breaker, as once the bounded reader (not
    requests, which dropped it undecoded) read a redirect's body."""
    code, out, err, elapsed = _plan_against(_BadlyEncodedRedirect, capsys, tmp_path, monkeypatch)
    _check_one_line(code, out, err, "HTTP 302", elapsed)
    assert err.rstrip().endswith("HTTP 302"), err
    figures.add("misbehaving_handled")


def test_a_page_whose_body_does_not_decode_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 whose body is not the gzip its Content-Encoding says (a proxy's slip) is
    named as such, not 'the response was cut off after 0 of 18 bytes', which sent the
    reader looking for a dropped connection."""
    monkeypatch.setattr(_BadlyEncodedRedirect, "status", 200)
    code, out, err, elapsed = _plan_against(_BadlyEncodedRedirect, capsys, tmp_path, monkeypatch)
    _check_one_line(
        code, out, err, "the response body does not decode as its Content-Encoding (gzip)", elapsed
    )
    assert "cut off" not in err, err
    figures.add("misbehaving_handled")
