"""Break-it b57: `upcall-sync apply ... | head` must not stop the apply half-way.

Apply's workers write one progress line per change (`LineProgress`). Once the
reader of stdout went away, each worker died on BrokenPipeError with a
traceback, and the apply stopped with campaigns created but their numbers not
added and the ready campaign left pending.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from upcall_sync.emulator import Emulator
from upcall_sync.output.progress import LineProgress

from .conftest import ROOT, TOKEN


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_does_not_raise_in_apply_workers() -> None:
    progress = LineProgress(_ClosedPipe())
    op = SimpleNamespace(status="applied", result="id 1", message="", label="create x")
    progress(op)
    progress(op)  # and nothing more is tried


def test_apply_piped_to_head_finishes_the_apply(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    with Emulator(tokens=[TOKEN], confirmed_numbers=["+16501231234"]) as emu:
        env = {**os.environ, "UPCALL_API_URL": emu.base_url, "UPCALL_AUTH_TOKEN": TOKEN}
        env.pop("UPCALL_AUTH_TOKEN_FILE", None)
        cli = [sys.executable, "-m", "upcall_sync.cli"]
        apply = subprocess.Popen(
            [*cli, "apply", "--auto-approve", "."],
            cwd=tmp_path / "examples",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert apply.stdout is not None
        # the reader stops after the first change's line, as `| head -N` would
        for line in apply.stdout:
            if b"done  " in line:
                break
        apply.stdout.close()
        _out, err = apply.communicate(timeout=120)
        assert b"Traceback" not in err, err.decode()
        again = subprocess.run(
            [*cli, "plan", "--detailed-exitcode", "-q", "."],
            cwd=tmp_path / "examples",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 0, again.stdout  # the apply was finished
        statuses = {
            r["name"]: r["status"] for r in emu.store.sql("SELECT name, status FROM campaigns")
        }
        assert statuses["Acme Q3 satisfaction survey"] == "ready"
