"""What bench/run.py and bench/export_bench.py share: the report, the emulator as a
process, a client that records its GETs, and the I/O floor script.

`UPCALL_BENCH_CODE=DIR` measures the upcall-sync in DIR (a worktree of another
commit: `bench/run.py --baseline REV` sets it); the emulator is always this
checkout's, so both clients meet the same server.
"""

from __future__ import annotations

import contextlib
import cProfile
import importlib
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = Path(os.environ.get("UPCALL_BENCH_CODE") or ROOT)
sys.path.insert(0, str(CODE))


def load(*names: str) -> Any:
    """The first of these modules that the measured code has (the folder move renamed
    some), by its file under CODE: an editable install of another checkout must not
    lend a module the measured code lacks."""
    for name in names:
        path = CODE.joinpath(*name.split("."))
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return importlib.import_module(name)
    raise ModuleNotFoundError(f"none of {', '.join(names)} under {CODE}")


import requests  # noqa: E402

from upcall_sync.client import RetryPolicy, UpcallClient, make_session  # noqa: E402

TOKEN = "bench-token-not-secret"
FROM_MANAGED = "+16501231234"
FROM_OTHER = "+14155550100"
PAGE = 100  # the emulator's page-size cap, as the real API's


@dataclass
class Row:
    scenario: str
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def add(self, *args: Any, **kwargs: Any) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        mark = "" if row.ok is None else ("  ok" if row.ok else "  MISSED")
        print(
            f"  {row.figure}: {row.value}"
            + (f"  (target {row.target})" if row.target else "")
            + mark,
            flush=True,
        )

    def table(self) -> str:
        lines = ["| scenario | figure | measured | target | |", "| --- | --- | --- | --- | --- |"]
        for r in self.rows:
            verdict = "" if r.ok is None else ("met" if r.ok else "**missed**")
            lines.append(f"| {r.scenario} | {r.figure} | {r.value} | {r.target} | {verdict} |")
        return "\n".join(lines)


def median(values: list[float]) -> float:
    return statistics.median(values)


# -- the emulator, as a process -----------------------------------------------------------


class EmulatorProcess:
    def __init__(self, db: Path, latency_ms: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "upcall_sync.cli",
                "emulator",
                "--db",
                str(db),
                "--port",
                "0",
                "--token",
                TOKEN,
                "--confirmed-number",
                FROM_MANAGED,
                "--confirmed-number",
                FROM_OTHER,
                "--latency-ms",
                str(latency_ms),
                "--max-page-size",
                str(PAGE),
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("the emulator did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@contextmanager
def emulator(db: Path, latency_ms: float) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(db, latency_ms)
    try:
        yield emu
    finally:
        emu.stop()


def client_for(url: str, parallelism: int = 8) -> tuple[UpcallClient, list[str]]:
    """A client, and the list every GET URL it sends is recorded in (for the floor script).

    The per-process caches of a token's fingerprint and redaction regexes are emptied
    first, so that each measured run pays what one `upcall-sync` process pays."""
    redact = load("upcall_sync.redact")
    for cache in ("_fingerprint", "_matchers"):
        if hasattr(redact, cache):
            getattr(redact, cache).cache_clear()
    urls: list[str] = []
    session = make_session(parallelism)

    def record(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.request.method == "GET":
            urls.append(resp.request.url or "")

    session.hooks["response"].append(record)
    client = UpcallClient.connect(
        url, TOKEN, session=session, parallelism=parallelism, retry=RetryPolicy(max_attempts=3)
    )
    return client, urls


def requests_sent(client: Any) -> int:
    """Requests the client sent (older commits kept the count on the transport)."""
    sent = getattr(client, "requests_sent", None)
    return int(sent()) if sent is not None else int(client.transport.stats.requests)


def floor(urls: list[str], parallelism: int) -> float:
    """The I/O floor: a plain script GETting the same URLs with the same parallelism."""
    session = make_session(parallelism)
    started = time.perf_counter()
    with ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(lambda u: session.get(u, timeout=60).content, urls))
    return time.perf_counter() - started


# -- cProfile on every thread ------------------------------------------------------------


@contextmanager
def thread_profiles() -> Iterator[list[cProfile.Profile]]:
    """cProfile on this thread and on every thread started inside the block, each timed
    by `time.thread_time` (CPU time of that thread, not wall time spent waiting); the
    list holds them all (this thread's first), for `merged`."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start(*_args: object) -> None:
        sys.setprofile(None)  # this thread only: from here its cProfile owns it
        prof = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(prof)
        prof.enable()

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.setprofile(start)
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.setprofile(None)
        for prof in profiles:
            prof.disable()  # a no-op for other threads' profilers; their stats are complete


def merged(profiles: list[cProfile.Profile]) -> pstats.Stats:
    """The profiles of `thread_profiles` as one `pstats.Stats`."""
    stats = pstats.Stats(profiles[0])
    for prof in profiles[1:]:
        with contextlib.suppress(TypeError):  # a thread that recorded nothing
            stats.add(prof)
    return stats
