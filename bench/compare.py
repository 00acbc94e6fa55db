"""`bench/run.py --baseline REV`: every scenario measured on commit REV and on this
checkout, side by side, so a regression shows as a ratio.

REV is checked out into a temporary git worktree. For each scenario, bench/run.py
(this checkout's harness) runs twice as child processes, first with
UPCALL_BENCH_CODE pointing at the worktree, then at this checkout, each writing its
rows as JSON; the scenarios alternate, so both sides meet the same load. The
emulator is this checkout's in both runs: only the client differs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_NUMBER = re.compile(r"^-?[\d,]*\.?\d+")


def number(value: str) -> float | None:
    head = _NUMBER.match(value.strip())
    return float(head.group(0).replace(",", "")) if head else None


def _side(code: Path, scenario: str, runs: int, quick: bool, out: Path) -> list[dict[str, Any]]:
    args = [sys.executable, str(ROOT / "bench/run.py"), "--only", scenario, "--runs", str(runs)]
    args += ["--quick"] * quick + ["--json", str(out)]
    env = {**os.environ, "UPCALL_BENCH_CODE": str(code)}
    done = subprocess.run(args, env=env, cwd=ROOT, check=False)
    if done.returncode != 0 or not out.exists():
        return []
    return list(json.loads(out.read_text())["rows"])


def compare(rev: str, scenarios: list[str], runs: int, quick: bool) -> int:
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="upcall-bench-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), sha],
            check=True,
        )
        try:
            rows: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
            for scenario in scenarios:
                print(f"\n== {scenario}: baseline {sha}", flush=True)
                before = _side(tree, scenario, runs, quick, Path(tmp) / f"{scenario}-before.json")
                print(f"\n== {scenario}: this checkout", flush=True)
                after = _side(ROOT, scenario, runs, quick, Path(tmp) / f"{scenario}-now.json")
                rows += _pair(before, after)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    print(f"\n| scenario | figure | baseline {sha} | this checkout | now / baseline | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for before, after in rows:
        print(_line(before, after))
    return 0


def _pair(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    keyed = {(r["scenario"], r["figure"]): r for r in before}
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    for row in after:
        pairs.append((keyed.pop((row["scenario"], row["figure"]), None), row))
    pairs += [(row, None) for row in keyed.values()]
    if not before:
        pairs.append(({"scenario": "(baseline)", "figure": "failed to run", "value": ""}, None))
    return pairs


def _line(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    some = after or before or {}
    old = before["value"] if before else "—"
    new = after["value"] if after else "—"
    a, b = number(old) if before else None, number(new) if after else None
    ratio = f"{b / a:.2f}" if a and b is not None else ""
    target = some.get("target", "")
    if after and after.get("ok") is not None:
        target += " met" if after["ok"] else " **missed**"
    return f"| {some.get('scenario', '')} | {some.get('figure', '')} | {old} | {new} | {ratio} | {target} |"
