"""The rate limiter on a fake clock, side by side against a baseline commit's.

    python bench/limiter_sim.py                      # against 6b2edc7's limiter
    python bench/limiter_sim.py --baseline beac7dd

A closed loop (helper b56's simulation, kept here since the fourteenth session): N
workers each send a request when the limiter lets it go (`acquire`'s arithmetic, on a
fake clock), the answer comes back after a fixed latency, a 429 (with `Retry-After: 1`)
is retried by the same worker after that second, and the run ends when every request has
been admitted. The server refuses by scenario: outages (every request refused for a
while), stray 429s (a share refused whatever the pace), a token bucket (a real limit:
R a second, a burst of R, or an empty bucket at the start for a quota already spent).
No threads, no HTTP: seconds of simulated time, the same for every run. The baseline's
`ratelimit.py` is read with `git show` and loaded beside this checkout's (it imports the
same `limit_headers` and `slots`).
"""

from __future__ import annotations

import argparse
import heapq
import importlib.util
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def limiter_module(rev: str | None) -> ModuleType:
    """`upcall_sync.client.ratelimit` of this checkout (None) or of commit `rev`."""
    if rev is None:
        from upcall_sync.client import ratelimit

        return ratelimit
    source = subprocess.run(
        ["git", "show", f"{rev}:upcall_sync/client/ratelimit.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"ratelimit_{rev}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"ratelimit_{rev}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class Bucket:
    """The server's token bucket: `rate` a second, a burst of `rate` (at least 1; `tokens` at
    first)."""

    def __init__(self, rate: float | None, tokens: float | None) -> None:
        self.rate = rate
        self.tokens = (rate or 0.0) if tokens is None else tokens
        self.at = 0.0

    def admits(self, t: float) -> bool:
        if not self.rate:
            return True
        self.tokens = min(max(self.rate, 1.0), self.tokens + (t - self.at) * self.rate)
        self.at = t
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def pacing_wait(lim: Any, t: float) -> float:
    """`acquire`'s arithmetic without its sleep: 0 when a request may go at `t`, else how
    long until it may (takes the token when it may)."""
    wait = lim._hold_until - t
    if wait > 0:
        return float(wait)
    rate = lim._rate(t)
    if rate is None:
        return 0.0
    lim._tokens = min(1.0, lim._tokens + (t - lim._stamp) * rate)
    lim._stamp = t
    if lim._tokens >= 1.0:
        lim._tokens -= 1.0
        return 0.0
    return float((1.0 - lim._tokens) / rate)


def simulate(
    module: ModuleType,
    refuse: Callable[[float], bool],
    total: int = 430,
    workers: int = 16,
    latency: float = 0.15,
    limit: float | None = None,
    start_tokens: float | None = None,
    until: float = 300.0,
) -> dict[str, Any]:
    """One run: its simulated wall time, requests admitted, sent and refused."""
    now = [0.0]
    lim = module.RateLimiter(clock=lambda: now[0])
    bucket = Bucket(limit, start_tokens)
    heap: list[tuple[float, int]] = [(0.0, i) for i in range(workers)]
    left, done, sent, refused = total, 0, 0, 0
    pending: dict[int, tuple[float, bool]] = {}
    while heap and done < total:
        t, w = heapq.heappop(heap)
        if t > until:
            break
        now[0] = t
        if w in pending:  # its answer arrives
            sent_at, ok = pending.pop(w)
            lim.on_answer(sent_at, 200 if ok else 429, {}, None if ok else 1.0)
            done += ok
            # admitted: the worker's next request; refused: the same after its Retry-After
            heapq.heappush(heap, (t, w) if ok else (t + 1.0, w + 1000))
            continue
        retry = w >= 1000
        if not retry and left == 0:
            continue
        wait = pacing_wait(lim, t)
        if wait > 0:
            heapq.heappush(heap, (t + min(max(wait, 1e-6), 0.5), w))
            continue
        left -= not retry
        sent += 1
        ok = not refuse(t) and bucket.admits(t)
        refused += not ok
        pending[w % 1000] = (t, ok)
        heapq.heappush(heap, (t + latency, w % 1000))
    return {"wall": now[0], "done": done, "sent": sent, "refused": refused}


def _every(start: float, length: float, period: float = 1e9) -> Callable[[float], bool]:
    return lambda t: t >= start and (t - start) % period < length


def _share(p: float, seed: int) -> Callable[[float], bool]:
    rng = random.Random(seed)
    return lambda _t: rng.random() < p


SCENARIOS: list[tuple[str, Callable[[], Callable[[float], bool]], dict[str, Any]]] = [
    ("no 429s", lambda: _every(1e9, 0), {}),
    ("3 s outage from 1 s", lambda: _every(1.0, 3.0), {}),
    ("3 s outage from 0 s", lambda: _every(0.0, 3.0), {}),
    ("3 s outage from 0.1 s", lambda: _every(0.1, 3.0), {}),
    ("2 s of every 10 from 1 s", lambda: _every(1.0, 2.0, 10.0), {}),
    ("2 s of every 10 from 0 s", lambda: _every(0.0, 2.0, 10.0), {}),
    ("2 s of every 10 from 0.05 s", lambda: _every(0.05, 2.0, 10.0), {}),
    ("2 s of every 10 from 0.2 s", lambda: _every(0.2, 2.0, 10.0), {}),
    ("2 s of every 10 from 0.5 s", lambda: _every(0.5, 2.0, 10.0), {}),
    (
        "2 s of every 10 from 0.3 s, 500 ms answers",
        lambda: _every(0.3, 2.0, 10.0),
        {"latency": 0.5},
    ),
    # outages filling most of the time: still slow, some worse since 0874640 (bench/README)
    (
        "3 s of every 5 from 0 s, 20 ms answers",
        lambda: _every(0.0, 3.0, 5.0),
        {"latency": 0.02},
    ),
    (
        "2 s of every 5 from 0.05 s, 1 s answers",
        lambda: _every(0.05, 2.0, 5.0),
        {"latency": 1.0},
    ),
    ("10% stray 429s (4 seeds, summed)", lambda: _share(0.1, 0), {}),
    ("30% stray 429s", lambda: _share(0.3, 2), {}),
    ("a 5 req/s limit", lambda: _every(1e9, 0), {"limit": 5.0}),
    (
        "a 5 req/s limit, 500 ms answers (150)",
        lambda: _every(1e9, 0),
        {"limit": 5.0, "latency": 0.5, "total": 150},
    ),
    ("a 2 req/s limit (80)", lambda: _every(1e9, 0), {"limit": 2.0, "total": 80}),
    ("a 20 req/s limit", lambda: _every(1e9, 0), {"limit": 20.0}),
    (
        "a 1 req/s limit, 64 workers (60)",
        lambda: _every(1e9, 0),
        {"limit": 1.0, "workers": 64, "total": 60},
    ),
    ("a 0.8 req/s limit (60)", lambda: _every(1e9, 0), {"limit": 0.8, "total": 60}),
    ("a 0.5 req/s limit (40)", lambda: _every(1e9, 0), {"limit": 0.5, "total": 40}),
    ("a 0.3 req/s limit (30)", lambda: _every(1e9, 0), {"limit": 0.3, "total": 30}),
    (
        "a 5 req/s quota spent at the start (150)",
        lambda: _every(1e9, 0),
        {"limit": 5.0, "start_tokens": 0.0, "total": 150},
    ),
    (
        "3 s outage from 1 s, then 5 req/s (150)",
        lambda: _every(1.0, 3.0),
        {"limit": 5.0, "total": 150},
    ),
    (
        "3 s outage from 0 s, then 5 req/s (150)",
        lambda: _every(0.0, 3.0),
        {"limit": 5.0, "total": 150},
    ),
]


def run(
    module: ModuleType, name: str, make: Callable[[], Any], kw: dict[str, Any]
) -> dict[str, Any]:
    if name.startswith("10% stray"):
        runs = [simulate(module, _share(0.1, seed), **kw) for seed in range(4)]
        return {k: sum(r[k] for r in runs) for k in ("wall", "done", "sent", "refused")}
    return simulate(module, make(), **kw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", default="6b2edc7")
    args = parser.parse_args()
    before, after = limiter_module(args.baseline), limiter_module(None)
    print(
        f"430 requests (or as noted), 16 workers, 150 ms answers; {args.baseline} / this checkout"
    )
    print(
        "| scenario | wall before | wall after | after / before | refused before | refused after |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, make, kw in SCENARIOS:
        b, a = run(before, name, make, kw), run(after, name, make, kw)
        total = kw.get("total", 430)
        b_left = f" (not done: {b['done']})" if b["done"] < total else ""
        a_left = f" (not done: {a['done']})" if a["done"] < total else ""
        print(
            f"| {name} | {b['wall']:.1f} s{b_left} | {a['wall']:.1f} s{a_left} | "
            f"{a['wall'] / b['wall']:.2f} | {b['refused']} | {a['refused']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
