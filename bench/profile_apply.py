"""Where apply's time goes: request slots per phase, and cProfile on every thread (issue 26).

    python bench/profile_apply.py                  # slots per phase, then the profile (top 30)
    python bench/profile_apply.py --no-profile     # slots only (no profiler overhead)
    python bench/profile_apply.py --campaigns 20 --top 40

The apply scenario of `bench/run.py` (100 campaigns x 50 numbers from empty, every
campaign `ready`, 20 ms latency, parallelism 8): plan, apply, convergence check.

**Slots.** Every request's send and end are recorded (a wrapper around the
transport's exchange), so the run's wall time splits into busy slot-seconds (8
request slots x wall) and idle ones, per phase; a phase whose requests follow one
another leaves 7 of 8 slots idle, which `bench/run.py`'s per-request figure pays for.

**Profile.** Each thread (the main one, every apply worker and every reader thread)
gets its own `cProfile.Profile` timed by `time.thread_time`, so the figures are CPU
time of that thread; the profiles are merged. cProfile inflates what it times (about
3x for many small calls): read the order and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import client_for, emulator, merged, requests_sent, thread_profiles
from run import (
    Applier,
    PlanOptions,
    Store,
    converge,
    load_manifests,
    plan_for,
    write_apply_manifest,
)

SLOTS = 8


class Slots:
    """(sent, ended) of every request, to tell busy slots from idle ones."""

    def __init__(self, client: Any) -> None:
        self.spans: list[tuple[float, float]] = []
        transport = client.transport
        exchange: Callable[..., Any] = transport._exchange

        def recorded(*args: Any, **kwargs: Any) -> Any:
            sent = time.perf_counter()
            try:
                return exchange(*args, **kwargs)
            finally:
                self.spans.append((sent, time.perf_counter()))

        transport._exchange = recorded

    def busy(self, start: float, end: float) -> float:
        """Slot-seconds spent in requests between start and end."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.spans)

    def count(self, start: float, end: float) -> int:
        return sum(1 for a, _b in self.spans if start <= a < end)


@contextlib.contextmanager
def profiled(enabled: bool) -> Iterator[list[cProfile.Profile]]:
    if not enabled:
        yield []
        return
    with thread_profiles() as profiles:
        yield profiles


def run_once(desired: Any, url: str, profile: bool) -> tuple[list[tuple[str, float, float]], Any]:
    client, _urls = client_for(url)
    slots = Slots(client)
    marks: list[tuple[str, float, float]] = []
    with profiled(profile) as profiles:
        t0 = time.perf_counter()
        planned = plan_for(desired, client, PlanOptions())
        t1 = time.perf_counter()
        result = Applier(client, planned.plan).run()
        t2 = time.perf_counter()
        left = converge(client, desired, planned.plan, PlanOptions())
        t3 = time.perf_counter()
    assert result.ok and left.empty
    marks = [("plan", t0, t1), ("apply", t1, t2), ("convergence check", t2, t3)]
    print(f"requests: {requests_sent(client):,}; wall {t3 - t0:.2f} s")
    for name, a, b in [*marks, ("all", t0, t3)]:
        busy = slots.busy(a, b)
        n = slots.count(a, b)
        idle = SLOTS * (b - a) - busy
        per = (b - a) / max(n, 1) * SLOTS * 1000
        print(
            f"  {name:<18} {b - a:6.2f} s  {n:6,} requests  {per:5.1f} ms per slot  "
            f"busy {busy:7.2f} slot-s  idle {idle:6.2f} slot-s ({idle / (SLOTS * (b - a)):.1%})"
        )
    first_sent = min((a for a, _b in slots.spans if a >= t1), default=t1)
    last_full = t1
    events = sorted([(a, 1) for a, _b in slots.spans] + [(b, -1) for _a, b in slots.spans])
    in_flight = 0
    for at, step in events:
        in_flight += step
        if t1 <= at < t2 and in_flight >= SLOTS:
            last_full = at
    print(
        f"  apply: {(first_sent - t1) * 1000:.0f} ms before its first request; "
        f"{(t2 - last_full) * 1000:.0f} ms from the last moment with {SLOTS} in flight to its end"
    )
    return marks, merged(profiles) if profiles else None


def by_package(stats: Any) -> list[tuple[str, float]]:
    """tottime summed per package (upcall_sync per module), largest first."""
    sums: dict[str, float] = {}
    for (filename, _line, func), value in stats.stats.items():
        path = filename.replace("\\", "/")
        if "/upcall_sync/" in path:
            name = "upcall_sync/" + path.split("/upcall_sync/")[1]
        elif "site-packages/" in path:
            name = path.split("site-packages/")[1].split("/")[0]
        elif path.startswith("<") or filename == "~":
            name = func if filename == "~" else path
            name = "builtins: " + name.split(" of ")[0].strip("{}<>")
        else:
            name = "stdlib: " + path.rsplit("/", 1)[-1]
        sums[name] = sums.get(name, 0.0) + value[2]
    return sorted(sums.items(), key=lambda kv: -kv[1])[:25]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--per", type=int, default=50)
    parser.add_argument("--latency", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = work / "campaigns.yaml"
        write_apply_manifest(manifest, args.campaigns, args.per)
        desired = load_manifests([manifest])
        for profile in (False,) if args.no_profile else (False, True):
            db = work / f"apply-{profile}.sqlite"
            Store(str(db)).close()
            with emulator(db, args.latency) as emu:
                print(
                    f"== apply {args.campaigns}x{args.per} @ {args.latency:g} ms"
                    + (" under cProfile" if profile else "")
                )
                _marks, stats = run_once(desired, emu.url, profile)
            if stats is not None:
                out = io.StringIO()
                stats.stream = out  # type: ignore[attr-defined]
                stats.sort_stats("tottime").print_stats(args.top)
                total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
                print(f"== sum of tottime, every thread {total:.2f} s; by package:")
                for name, seconds in by_package(stats):
                    print(f"  {seconds:6.2f} s  {name}")
                print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
