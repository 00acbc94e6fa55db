"""A long apply against a slow emulator: to interrupt it, or watch it report."""

from __future__ import annotations

import time
from pathlib import Path

from upcall_sync.emulator import Emulator

from ..conftest import write_manifest

NUMBERS = 120


def big_manifest(tmp_path: Path) -> Path:
    rows = "".join(
        f'      - {{phone: "+1650555{i:04d}", first_name: P{i}}}\n' for i in range(NUMBERS)
    )
    return write_manifest(
        tmp_path / "m.yaml",
        f"version: 1\ncampaigns:\n  - name: big\n    status: ready\n    numbers:\n{rows}",
    )


def wait_for_writes(emu: Emulator, n: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for r in emu.requests if r.method == "POST") >= n:
            return
        time.sleep(0.02)
    raise AssertionError("apply never got going")
