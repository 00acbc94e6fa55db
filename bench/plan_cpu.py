"""Plan's client CPU time, paired A/B against other commits (issue 26).

    python bench/plan_cpu.py --against c69ee28 --against dae9940 --pairs 5

Wall-clock figures on this shared 2-core machine move 10-20% with the neighbours'
load; CPU time of the planning process moves far less. The plan scenario of
`bench/run.py` (2,000 live campaigns, 500 x 100 managed, nothing to change) is
seeded once; for each latency one emulator (this checkout's) serves every side.
Each pair runs one child process per side, back to back, in turn: the child loads
the manifest (not measured), plans once to warm up, then plans once measured and
prints the plan's wall time, its CPU time (`time.process_time`: every thread of
the client process), the I/O floor's wall and CPU time (the same URLs GET by a
plain script in the same child) and the emulator's CPU. Medians over the pairs.
`--as-cli` times the plan as `upcall-sync plan` runs it, with Python's cyclic garbage
collector paused (`cli.gc_paused`; the library never touches it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = r"""
import contextlib, json, sys, time
sys.path.insert(0, sys.argv[1])
from harness import client_for, floor, requests_sent
from run import PlanOptions, load_manifests, plan_for
url, manifest, as_cli = sys.argv[2], sys.argv[3], sys.argv[4] == "1"
desired = load_manifests([manifest])
client, _ = client_for(url)
plan_for(desired, client, PlanOptions())
client, urls = client_for(url)
if as_cli:  # as `upcall-sync plan` runs it: the cyclic collector paused
    from upcall_sync.cli.base import gc_paused
else:
    gc_paused = contextlib.nullcontext
c, w = time.process_time(), time.perf_counter()
with gc_paused():
    planned = plan_for(desired, client, PlanOptions())
cpu, wall = time.process_time() - c, time.perf_counter() - w
assert planned.plan.empty
c, w = time.process_time(), time.perf_counter()
fw = floor(urls, 8)
fcpu = time.process_time() - c
print(json.dumps({"wall": wall, "cpu": cpu, "floor": fw, "floor_cpu": fcpu,
                  "requests": requests_sent(client)}))
"""


def emulator_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def side(
    code: Path, url: str, manifest: Path, emu_pid: int, as_cli: bool = False
) -> dict[str, float]:
    env = {**os.environ, "UPCALL_BENCH_CODE": str(code)}
    e0 = emulator_cpu(emu_pid)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), url, str(manifest), "1" if as_cli else "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    row["emulator_cpu"] = emulator_cpu(emu_pid) - e0
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", action="append", default=[], help="a commit (repeatable)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--latency", type=float, action="append", help="ms (default 0 and 20)")
    parser.add_argument(
        "--as-cli",
        action="store_true",
        help="time plan as `upcall-sync plan` runs it, with the cyclic GC paused (cli.gc_paused)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from harness import emulator
    from run import seed_large_account, write_large_manifest

    with tempfile.TemporaryDirectory(prefix="upcall-plan-cpu-") as tmp:
        work = Path(tmp)
        sides: dict[str, Path] = {}
        for rev in args.against:
            tree = work / rev
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev],
                check=True,
            )
            sides[rev] = tree
        sides["this checkout"] = ROOT
        db = work / "large.sqlite"
        seed_large_account(db, 2000, 500, 100)
        manifest = work / "campaigns.yaml"
        write_large_manifest(manifest, 500, 100)
        started = time.perf_counter()
        try:
            for latency in args.latency or [0.0, 20.0]:
                results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
                with emulator(db, latency) as emu:
                    for _ in range(args.pairs):
                        for name, code in sides.items():
                            results[name].append(
                                side(code, emu.url, manifest, emu.proc.pid, args.as_cli)
                            )
                how = ", GC paused as the CLI runs it" if args.as_cli else ""
                print(
                    f"\nplan @ {latency:g} ms{how}, medians of {args.pairs}"
                    f" (load {os.getloadavg()[0]:.1f})"
                )
                print(
                    "| side | plan wall | plan CPU | floor wall | floor CPU | emulator CPU | plan / floor | requests |"
                )
                print("| --- | --- | --- | --- | --- | --- | --- | --- |")
                for name, rows in results.items():
                    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                    ratio = statistics.median(r["wall"] / r["floor"] for r in rows)
                    print(
                        f"| {name} | {med['wall']:.2f} s | {med['cpu']:.2f} s | {med['floor']:.2f} s"
                        f" | {med['floor_cpu']:.2f} s | {med['emulator_cpu']:.2f} s | {ratio:.2f}"
                        f" | {med['requests']:.0f} |",
                        flush=True,
                    )
        finally:
            for tree in sides.values():
                if tree != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                        check=False,
                    )
        print(f"\ntook {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
