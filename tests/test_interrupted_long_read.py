"""Ctrl-C or SIGTERM while export or plan reads many pages ends the read once the pages
in flight are in, not after every page queued (`client.api.Workers.__exit__` cancels them):
exit 130/143, one line, no traceback, at any --parallelism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import CONFIRMED, TOKEN

ROOT = Path(__file__).resolve().parent.parent
PAGES = 80  # one numbers page a campaign, 100 ms each: 8 s at --parallelism 1
LATENCY_MS = 100


def _as_on_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("sig", "code", "parallelism"),
    [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 8)],
)
def test_a_signal_ends_a_long_export_read_at_once(
    sig: signal.Signals, code: int, parallelism: int, tmp_path: Path
) -> None:
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), latency_ms=LATENCY_MS) as emu:
        emu.store.seed(emu.accounts[TOKEN], campaigns=[{"name": f"C{i:03d}"} for i in range(PAGES)])
        env = {**os.environ, "UPCALL_AUTH_TOKEN": TOKEN, "NO_COLOR": "1"}
        command = ["export", "--out", str(tmp_path / "out"), "--quiet"]
        command += ["--api-url", emu.base_url, "--parallelism", str(parallelism)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "upcall_sync.cli", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_as_on_a_terminal,  # noqa: PLW1509 (no threads started in between)
        )
        try:
            deadline = time.monotonic() + 60
            while len(emu.requests) < 3 and time.monotonic() < deadline:  # reading numbers
                time.sleep(0.02)
            assert len(emu.requests) >= 3, "the export never reached the numbers"
            proc.send_signal(sig)
            sent = time.monotonic()
            out, err = proc.communicate(timeout=60)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        read = len(emu.requests)
    assert "Traceback" not in err, err
    assert err.splitlines()[-1:] == ["error: interrupted"], err
    assert proc.returncode == code
    assert out == ""
    # the pages in flight (one per thread, 100 ms each) and no more: every page queued
    # took 8 s at --parallelism 1 before
    assert took < 3.0, f"{took:.1f} s after the signal"
    assert read < 3 + 2 * max(parallelism, 8), read
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
