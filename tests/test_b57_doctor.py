"""Break-it b57: what a server sends cannot forge a line of doctor's output.

doctor and its write probe quote the server in their evidence (a number's phone,
the message of a refused add). Printed raw, a line break there started a line of
its own (a forged `PASS` or `FOUND`), and a terminal escape cleared the screen.
"""

from __future__ import annotations

import json

import pytest

from upcall_sync.emulator import Emulator, Modes

from .conftest import TOKEN, run_cli

FORGED = "\x1b[2J\x1b[31m\nPASS  lists  forged"


def _no_forgery(out: str, forged_line: str) -> None:
    assert "\x1b" not in out
    assert not [line for line in out.splitlines() if line.startswith(forged_line)], out
    assert "\\u001b[2J\\u001b[31m\\n" in out  # shown, escaped, on its own line


def test_a_phone_from_the_server_cannot_forge_a_doctor_line(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    account = cli_env.store.add_account(TOKEN)
    cli_env.store.seed(
        account,
        campaigns=[{"name": "One"}, {"name": "Two"}],
        list_name="people",
        contacts=[{"phone": "+16505550100" + FORGED}],
        memberships=[(0, 0)],
    )
    code, out, _err = run_cli(capsys, "doctor")
    assert code == 0 and "phone-filter" in out
    _no_forgery(out, "PASS  lists  forged")
    _code, out, _err = run_cli(capsys, "doctor", "--format", "json")
    phone = next(c for c in json.loads(out)["checks"] if c["name"] == "phone-filter")
    assert "\x1b" not in phone["evidence"] and "\n" not in phone["evidence"]


def test_a_server_message_cannot_forge_a_write_probe_line(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    message = "taken" + FORGED.replace("PASS  lists", "FOUND  patch")
    cli_env.api.modes = Modes(duplicate_number_message=message)
    code, out, _err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve")
    assert code == 0, out
    assert "duplicate-number" in out
    _no_forgery(out, "FOUND  patch  forged")


def test_nothing_passes_when_the_api_never_answered(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against an address where nothing listens, the rate-limit check said PASS ("no
    rate-limit headers sent") though not one answer was seen."""
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("UPCALL_API_URL", f"http://127.0.0.1:{port}/api/v1")
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    code, out, _err = run_cli(capsys, "doctor", "--format", "json", "--unreachable-after", "0.5")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert report["summary"]["pass"] == 0, report["checks"]
    (rate,) = [c for c in report["checks"] if c["name"] == "rate-limit"]
    assert rate["verdict"] == "SKIP" and "never answered" in rate["evidence"]
