"""Where export's CPU goes: cProfile on every thread, stats merged (issue 26).

    python bench/profile_export.py               # 2,000 x 100, top 30 by tottime
    python bench/profile_export.py --quick --top 40

The export scenario of `bench/export_bench.py` (2,000 campaigns x 100 numbers,
every campaign into a directory), exported once to warm up and once under the
profiler, as the CLI runs it (read, build, write). Each thread (the main one and
every reader thread) gets its own `cProfile.Profile` timed by `time.thread_time`,
so the figures are CPU time of that thread, not wall time spent waiting; the
profiles are merged into one `pstats.Stats`. cProfile inflates what it times
(about 3x for many small calls): read the order and the ratios.
"""

from __future__ import annotations

import argparse
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_bench import export_once, seed
from harness import client_for, emulator, merged, thread_profiles


def profiled_export(url: str, out_dir: Path) -> tuple[pstats.Stats, float]:
    client, _urls = client_for(url)
    t0 = time.perf_counter()
    with thread_profiles() as profiles:
        export_once(client, out_dir)
    wall = time.perf_counter() - t0
    return merged(profiles), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    campaigns = 200 if args.quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "export.sqlite"
        seed(db, campaigns, 100)
        with emulator(db, 0) as emu:
            client, _ = client_for(emu.url)
            export_once(client, work / "warm")  # warm up
            shutil.rmtree(work / "warm")
            stats, wall = profiled_export(emu.url, work / "out")
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(args.sort).print_stats(args.top)
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        print(
            f"== export {campaigns:,}x100: sum of tottime, every thread {total:.2f} s; "
            f"wall under the profiler {wall:.2f} s"
        )
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
