"""A signal while apply looks for a POST it sent but got no answer to (helper b67).

The POST was sent: it may have been committed, or still be. Reporting it "not
attempted" told the operator nothing had happened, and the re-run made a duplicate
when the late write landed (README, "Duplicates after a timeout": "never silent").
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


def test_a_signal_during_the_look_for_a_lost_post_reports_it_may_still_land(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.faults.add_rule("late-commit", "POST", r"/campaigns", count=1)
    emulator.faults.commit_delay = 4
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    env = dict(os.environ, UPCALL_API_URL=emulator.base_url, UPCALL_AUTH_TOKEN=TOKEN)
    argv = ["apply", "--auto-approve", "--timeout", "1", "--format", "json", str(m)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "upcall_sync.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,  # noqa: PLW1509 (it only sets a signal handler)
    )
    # the POST timed out (1 s) and apply is looking for it (?name=&from_number=, which
    # plan does not ask), within its window
    deadline = time.monotonic() + 20
    while not any(
        r.method == "GET" and ("from_number", "+16501231234") in r.query for r in emulator.requests
    ):
        assert time.monotonic() < deadline, "apply never looked up the lost POST"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (change,) = [c for c in json.loads(out)["changes"] if c["kind"] == "create_campaign"]
    assert change["status"] == "failed", change
    assert "may still land" in change["message"]
    assert "Duplicates after a timeout" in change["message"]
    assert "Traceback" not in err and TOKEN not in out + err
    time.sleep(4)  # and it does land: the report was right to say so
    assert len(emulator.store.sql("SELECT id FROM campaigns WHERE name = 'SP Late'")) == 1
