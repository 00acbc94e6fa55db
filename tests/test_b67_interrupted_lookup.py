"""A stop while apply looks for a POST it sent but got no answer to (helper b67).

The POST was sent: it may have been committed, or still be. Reporting it "not
attempted" (after Ctrl-C, SIGTERM, or the API going silent) told the operator
nothing had happened, and the re-run made a duplicate when the late write landed
(README, "Duplicates after a timeout": "never silent").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from upcall_sync.emulator import Emulator

from .conftest import TOKEN, write_manifest
from .helpers.signals import default_sigint

MANIFEST = """version: 1
defaults:
  from_number: "+16501231234"
campaigns:
  - name: SP Late
    pitch: hi
"""


def _apply_looking_for_a_lost_post(
    emu: Emulator, tmp_path: Path, *extra: str
) -> subprocess.Popen[str]:
    """apply, once its campaign POST timed out (1 s) and it is looking for it
    (?name=&from_number=, which plan does not ask), within its window."""
    emu.faults.add_rule("late-commit", "POST", r"/campaigns", count=1)
    emu.faults.commit_delay = 4
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    env = dict(os.environ, UPCALL_API_URL=emu.base_url, UPCALL_AUTH_TOKEN=TOKEN)
    argv = ["apply", "--auto-approve", "--timeout", "1", "--format", "json", *extra, str(m)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "upcall_sync.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,  # noqa: PLW1509 (it only sets a signal handler)
    )
    deadline = time.monotonic() + 20
    while not any(
        r.method == "GET" and ("from_number", "+16501231234") in r.query for r in emu.requests
    ):
        assert time.monotonic() < deadline, "apply never looked up the lost POST"
        time.sleep(0.05)
    time.sleep(0.3)
    return proc


def _the_create(out: str) -> dict[str, str]:
    (change,) = [c for c in json.loads(out)["changes"] if c["kind"] == "create_campaign"]
    return change


def test_a_signal_during_the_look_for_a_lost_post_reports_it_may_still_land(
    emulator: Emulator, tmp_path: Path
) -> None:
    proc = _apply_looking_for_a_lost_post(emulator, tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    change = _the_create(out)
    assert change["status"] == "failed", change
    assert "interrupted while looking for it: it may still land" in change["message"]
    assert "Duplicates after a timeout" in change["message"]
    assert "Traceback" not in err and TOKEN not in out + err
    time.sleep(4)  # and it does land: the report was right to say so
    assert len(emulator.store.sql("SELECT id FROM campaigns WHERE name = 'SP Late'")) == 1


def test_the_api_dying_during_the_look_for_a_lost_post_reports_it_may_still_land(
    emulator: Emulator, tmp_path: Path
) -> None:
    proc = _apply_looking_for_a_lost_post(emulator, tmp_path, "--unreachable-after", "3")
    emulator.faults.add_rule("reset", "GET", r".*", count=10_000)  # no answer any more
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    doc = json.loads(out)
    change = _the_create(out)
    assert change["status"] == "failed", change
    assert "the API stopped answering while looking for it: it may still land" in change["message"]
    assert doc["stopped_early"] is True  # the run still stops sending
    assert "the API stopped answering" in err
    assert "Traceback" not in err and TOKEN not in out + err
