"""The export benchmark: 2,000 campaigns x 100 numbers, against the I/O floor.

    python bench/export_bench.py             # medians of 3 runs
    python bench/export_bench.py --quick     # 200 campaigns x 100 numbers
    python bench/export_bench.py --latency 20   # with 20 ms per request, as over a network
    python bench/run.py --only export        # the same as the first, from the main harness

Requests are counted (the client's own counter, cross-checked against the
URLs a session hook saw) and compared with the minimum the data allows: the
campaign listing (one page per 100 campaigns) plus one page of numbers per
100 numbers of each exported campaign. The I/O floor is a plain script that
GETs exactly the URLs export fetched, with the same parallelism (8), in the
same run. Export is timed through the library as the CLI runs it: read,
build the manifests (with every check), write them into a directory (with
the cyclic collector paused where that code's CLI
pauses it: since issue 26); its
client CPU (`process_time`: every thread of this process) is reported beside
the floor script's, figures steadier than wall time on a shared machine, and
the part spent before writing (creating 2,000 files costs kernel CPU that varies
with the disk's state: the side run second by `run.py --baseline` pays more).

The I/O floor has no disk in it. Beside it, each run also times a *disk floor*: a
plain script writing the same files (the bytes export wrote, read back first and not
timed) into a new directory beside export's, one `open`/`write`/`close` each, no
temp file or rename. `export / (I/O floor + disk floor)` then tells how much of
what is left is the client's own work rather than the machine's I/O. Issue 26's
target is `export / floor`, the GETs alone; the second ratio is printed beside it,
not instead of it.

The *CPU bound* (since the sixth session): the CPU both processes spent (the client's
over the whole export, the emulator's while export read), divided by the cores they
share, over the floor. It is the least `export / floor` the machine allows the client
as it is, were every core busy from start to end; a target below it needs less CPU,
not more overlap. (At 0 ms the floor itself keeps both cores of a 2-core machine busy
most of the time: the emulator's CPU is about the floor's wall time.)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    FROM_MANAGED,
    FROM_OTHER,
    PAGE,
    TOKEN,
    Report,
    client_for,
    emulator,
    floor,
    load,
    median,
)

__version__ = load("upcall_sync").__version__
#: the cores both processes share: the CPU bound divides their CPU time by it
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
Store = load("upcall_sync.emulator.store").Store
_export = load("upcall_sync.jobs.export", "upcall_sync.export")
ExportOptions, build, read_live, write_files = (
    _export.ExportOptions,
    _export.build,
    _export.read_live,
    _export.write_files,
)


def seed(db: Path, campaigns: int, per: int) -> None:
    store = Store(str(db))
    account = store.add_account(TOKEN, [FROM_MANAGED, FROM_OTHER])
    statuses = ("pending", "ready", "paused", "completed")
    store.seed(
        account,
        campaigns=[
            {
                "name": f"Acme campaign {i:04d}",
                "status": statuses[i % 4],
                "pitch": "Be friendly",
                "language": "en",
                "instructions": "Call people\nand ask about product satisfaction\n",
                "start_datetime": "2026-07-11T16:00:00.000Z",
                "end_datetime": "2026-07-12T00:00:00.000Z",
            }
            for i in range(campaigns)
        ],
        list_name="bench",
        contacts=[
            {
                "phone": f"+1650{k:07d}",
                "first_name": f"F{k}",
                "last_name": "Bench",
                "company": "Safeway",
                "city": "Fremont",
                "postal_code": "94536",
            }
            for k in range(campaigns * per)
        ],
        memberships=[(c, c * per + k) for c in range(campaigns) for k in range(per)],
    )
    store.close()


def _cli_pauses_gc() -> bool:
    """Whether the measured code's `export` command pauses the cyclic garbage collector
    (since issue 26), so that export is timed as that code's CLI runs it."""
    try:
        tools = load("upcall_sync.cli.tools", "upcall_sync.cli")
        return "gc_paused(" in inspect.getsource(tools.export)
    except (AttributeError, OSError, TypeError, ModuleNotFoundError):
        return False


@contextlib.contextmanager
def as_the_cli() -> Iterator[None]:
    """The collector paused during the export when the measured CLI pauses it."""
    paused = _cli_pauses_gc() and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def export_once(client: object, out_dir: Path) -> tuple[object, object]:
    """One export of every campaign into `out_dir`, as the CLI runs it."""
    with as_the_cli():
        live = read_live(client, ExportOptions())
        result = build(live, ExportOptions(), version=__version__, to_dir=True)
        write_files(result.files, out_dir, overwrite=False)
    return live, result


def disk_floor(written: Path, into: Path) -> float:
    """A plain script writing the files export wrote in `written` into `into`, one
    `open`/`write`/`close` each (their bytes read first, not timed): the disk's part."""
    files = [(f.name, f.read_bytes()) for f in sorted(written.iterdir())]
    assert files
    into.mkdir()
    started = time.perf_counter()
    for name, data in files:
        fd = os.open(into / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    return time.perf_counter() - started


def _timed_export(
    client: object, out_dir: Path, expected: tuple[int, int], emulator_cpu: Callable[[], float]
) -> dict[str, float]:
    """One export of every campaign into `out_dir`, as the CLI runs it, timed phase by
    phase (wall and this process's CPU; the emulator's CPU over the read)."""
    e0 = emulator_cpu()
    c0, t0 = time.process_time(), time.perf_counter()
    with as_the_cli():
        live = read_live(client, ExportOptions())
        t1 = time.perf_counter()
        e1 = emulator_cpu()
        result = build(live, ExportOptions(), version=__version__, to_dir=True)
        t2, c2 = time.perf_counter(), time.process_time()
        write_files(result.files, out_dir, overwrite=False)
        t3, c3 = time.perf_counter(), time.process_time()
        assert (result.campaigns, result.numbers) == (expected[0], expected[0] * expected[1])
        requests = live.requests
        del live, result  # freed by reference counting, as the CLI frees them
    return {
        "walls": t3 - t0,
        "reads": t1 - t0,
        "builds": t2 - t1,
        "writes": t3 - t2,
        "requests": requests,
        "cpus": c3 - c0,
        "read_build_cpus": c2 - c0,
        "emulator_cpus": e1 - e0,
    }


def scenario_export(
    report: Report, work: Path, runs: int, quick: bool, latency_ms: float = 0
) -> None:
    campaigns, per = (200, 100) if quick else (2000, 100)
    at = f" @ {latency_ms:g} ms" if latency_ms else ""
    print(f"\n[export] {campaigns:,} campaigns x {per} numbers{at}", flush=True)
    db = work / "export.sqlite"
    seed(db, campaigns, per)
    minimum = math.ceil(campaigns / PAGE) + campaigns * math.ceil(per / PAGE)
    tag = f"export {campaigns:,}x{per}{at}"
    figures: dict[str, list[float]] = {}
    hooked = []
    with emulator(db, latency_ms) as emu:
        for run in range(runs):
            client, urls = client_for(emu.url)
            out_dir = work / f"out{run}"
            one = _timed_export(client, out_dir, (campaigns, per), emu.cpu_seconds)
            hooked.append(len(urls))
            f0, fe0 = time.process_time(), emu.cpu_seconds()
            one["floors"] = floor(urls, 8)
            one["floor_cpus"] = time.process_time() - f0
            one["floor_emulator_cpus"] = emu.cpu_seconds() - fe0
            # the least wall time the CPU both processes spent allows on this machine's
            # cores, with every core busy all the time (no overlap lost)
            one["cpu_bounds"] = (one["cpus"] + one["emulator_cpus"]) / CORES
            one["disk_floors"] = disk_floor(out_dir, work / f"disk{run}")
            shutil.rmtree(out_dir)
            shutil.rmtree(work / f"disk{run}")
            for key, value in one.items():
                figures.setdefault(key, []).append(value)
    m = {key: median(values) for key, values in figures.items()}
    r, w, f, d = m["requests"], m["walls"], m["floors"], m["disk_floors"]
    assert hooked == figures["requests"], (hooked, figures["requests"])
    report.add(tag, "requests made by export (all GET)", f"{r:.0f}")
    report.add(tag, "minimum the data allows", f"{minimum:,}")
    report.add(tag, "requests / minimum", f"{r / minimum:.3f}", "= 1", r == minimum)
    report.add(tag, "export wall time (median)", f"{w:.2f} s")
    report.add(tag, "I/O floor wall time (median)", f"{f:.2f} s")
    report.add(tag, "export / floor", f"{w / f:.2f}")
    report.add(tag, "disk floor: a plain script writing the same files (median)", f"{d:.2f} s")
    report.add(tag, "export / (I/O floor + disk floor)", f"{w / (f + d):.2f}")
    report.add(
        tag,
        "of which: read_live (GETs, JSON, rows; per-number work since issue 26)",
        f"{m['reads']:.2f} s",
    )
    report.add(
        tag,
        "of which: build (checks and YAML; grouping and joining since issue 26)",
        f"{m['builds']:.2f} s",
    )
    report.add(tag, "of which: write_files", f"{m['writes']:.2f} s")
    report.add(tag, "export client CPU, every thread (median)", f"{m['cpus']:.2f} s")
    report.add(
        tag,
        "of which: before writing (read_live and build; writing is the disk's)",
        f"{m['read_build_cpus']:.2f} s",
    )
    report.add(tag, "I/O floor client CPU (median)", f"{m['floor_cpus']:.2f} s")
    report.add(
        tag,
        "emulator CPU: during export's read / during the floor (median)",
        f"{m['emulator_cpus']:.2f} s / {m['floor_emulator_cpus']:.2f} s",
    )
    bound = median([b / fl for b, fl in zip(figures["cpu_bounds"], figures["floors"], strict=True)])
    report.add(
        tag,
        f"CPU bound: (export client CPU + emulator CPU) / {CORES} cores / floor (median)",
        f"{bound:.2f}",
    )
    report.raw["export"] = {**figures, "minimum": minimum}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--latency",
        type=float,
        default=0,
        metavar="MS",
        help="the emulator's latency per request (issue 26's target is at 0 ms)",
    )
    args = parser.parse_args()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="upcall-bench-export-") as tmp:
        scenario_export(report, Path(tmp), args.runs, args.quick, args.latency)
    print("\n" + report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
