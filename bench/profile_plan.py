"""Where plan's CPU goes: cProfile on every thread, stats merged (issue 26).

    python bench/profile_plan.py                 # 0 ms and 20 ms, top 25 by tottime
    python bench/profile_plan.py --latency 20 --top 40

The plan scenario of `bench/run.py` (2,000 live campaigns, 500 x 100 managed),
planned once to warm up and once under the profiler. Each thread (the main one
and every reader thread) gets its own `cProfile.Profile` timed by
`time.thread_time`, so the figures are CPU time of that thread, not wall time
spent waiting; the profiles are merged into one `pstats.Stats`. cProfile inflates
what it times (about 3x for many small calls): read the order and the ratios.
"""

from __future__ import annotations

import argparse
import io
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import client_for, emulator, merged, thread_profiles
from run import PlanOptions, load_manifests, plan_for, seed_large_account, write_large_manifest


def profiled_plan(desired: object, url: str) -> pstats.Stats:
    client, _urls = client_for(url)
    with thread_profiles() as profiles:
        plan_for(desired, client, PlanOptions())
    return merged(profiles)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, action="append", help="ms (default 0 and 20)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "large.sqlite"
        seed_large_account(db, 2000, 500, 100)
        manifest = work / "campaigns.yaml"
        write_large_manifest(manifest, 500, 100)
        desired = load_manifests([manifest])
        for latency in args.latency or [0.0, 20.0]:
            with emulator(db, latency) as emu:
                client, _ = client_for(emu.url)
                plan_for(desired, client, PlanOptions())  # warm up
                stats = profiled_plan(desired, emu.url)
            out = io.StringIO()
            stats.stream = out  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(args.top)
            total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
            print(f"== plan @ {latency:g} ms: sum of tottime, every thread {total:.2f} s")
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
