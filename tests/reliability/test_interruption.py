"""SIGINT / SIGTERM during apply: stop starting changes, finish what is in flight, report.

The CLI runs as a real subprocess; the emulator runs in this process with a
little latency so that apply is mid-way when the signal lands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from ..conftest import TOKEN
from ..helpers.accounts import no_duplicates
from ..helpers.signals import default_sigint
from ..helpers.slow import NUMBERS, big_manifest, wait_for_writes


def _apply(emu: Emulator, manifest: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, UPCALL_API_URL=emu.base_url, UPCALL_AUTH_TOKEN=TOKEN, NO_COLOR="1")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upcall_sync.cli",
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
            str(manifest),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,  # noqa: PLW1509 (it only sets a signal handler)
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_first_signal_stops_cleanly_and_a_rerun_completes(
    slow_emulator: Emulator, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    m = big_manifest(tmp_path)
    proc = _apply(slow_emulator, m)
    wait_for_writes(slow_emulator, 20)
    proc.send_signal(sig)
    started = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert time.monotonic() - started < 5  # in-flight requests finish; nothing new starts
    assert "Stopping: letting in-flight changes finish" in err
    assert "Not attempted (" in out
    assert "Apply interrupted:" in out
    assert "Traceback" not in out + err and TOKEN not in out + err
    assert no_duplicates(slow_emulator)
    # the campaign is not made ready with a half-loaded list
    assert slow_emulator.store.sql("SELECT status FROM campaigns")[0]["status"] == "pending"

    slow_emulator.latency = 0
    rerun = _apply(slow_emulator, m)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, out + err
    assert "Converged" in out
    assert no_duplicates(slow_emulator)
    assert slow_emulator.store.sql("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"] == NUMBERS
    assert slow_emulator.store.sql("SELECT status FROM campaigns")[0]["status"] == "ready"


def test_second_signal_exits_at_once(slow_emulator: Emulator, tmp_path: Path) -> None:
    proc = _apply(slow_emulator, big_manifest(tmp_path))
    wait_for_writes(slow_emulator, 20)
    slow_emulator.latency = 3.0  # what is in flight now takes a while to finish
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - started < 2
    assert "Apply interrupted" not in out  # no report: it quit at once


def test_sigterm_while_apply_still_reads_ends_as_ctrl_c_does_with_its_report(
    slow_emulator: Emulator, tmp_path: Path
) -> None:
    """A CI runner cancelling the job sends SIGTERM; before apply's own handlers (while
    it plans) Python's default ended the process on the spot: no JSON report, which
    --format json promises on every exit. Now: the report, `interrupted`, exit 143."""
    slow_emulator.latency = 2.0  # the plan's first read is still on the wire
    env = dict(
        os.environ, UPCALL_API_URL=slow_emulator.base_url, UPCALL_AUTH_TOKEN=TOKEN, NO_COLOR="1"
    )
    manifest = str(big_manifest(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upcall_sync.cli",
            "apply",
            "--auto-approve",
            "-f",
            "json",
            manifest,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 20
    while not slow_emulator.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    doc = json.loads(out)
    assert (doc["result"], doc["exit_code"]) == ("error", 143)
    assert "Traceback" not in err
    assert not [r for r in slow_emulator.requests if r.method != "GET"]  # nothing written
