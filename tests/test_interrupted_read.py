"""Ctrl-C or SIGTERM while a command reads the account (before apply's own handlers):
one line says so, exit 130 or 143, no traceback. Typer turns the interrupt into a quiet
exit code; without that line an interrupted plan ended without a word."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import CONFIRMED, TOKEN

ROOT = Path(__file__).resolve().parent.parent


def _default_signals() -> None:
    # as on a terminal: a suite started in the background without job control runs
    # with SIGINT ignored, which its children would inherit
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_while_plan_reads(
    sig: signal.Signals, preexec: Callable[[], None], latency_ms: int
) -> tuple[int, str, str]:
    """`plan` in a child process, sent `sig` once it has reached the API; its exit code,
    stdout and stderr."""
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), latency_ms=latency_ms) as emu:
        env = {**os.environ, "UPCALL_AUTH_TOKEN": TOKEN, "NO_COLOR": "1"}
        command = ["plan", "--api-url", emu.base_url, "examples/campaigns.yaml"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "upcall_sync.cli", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,  # noqa: PLW1509 (no threads started in between)
        )
        try:
            deadline = time.monotonic() + 60
            while not emu.requests and time.monotonic() < deadline:  # it is reading
                time.sleep(0.05)
            assert emu.requests, "the plan never reached the API"
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_plan_reads_is_one_line(sig: signal.Signals, code: int) -> None:
    returncode, out, err = _signal_while_plan_reads(sig, _default_signals, latency_ms=1000)
    assert "Traceback" not in err, err
    assert err.splitlines()[-1:] == ["error: interrupted"], err
    assert returncode == code
    assert out == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_the_process_was_started_ignoring_stays_ignored(sig: signal.Signals) -> None:
    """A background job without job control starts with SIGINT ignored (and a supervisor
    may ignore SIGTERM for its children): the plan reads on and ends as it would."""

    def ignoring() -> None:
        _default_signals()
        signal.signal(sig, signal.SIG_IGN)

    returncode, out, err = _signal_while_plan_reads(sig, ignoring, latency_ms=300)
    assert "interrupted" not in err, err
    assert returncode == 0, err
    assert out.strip(), "the plan was printed"
