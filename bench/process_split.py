"""Would export pay for a second process? (issue 26: "reader processes", one of the three
design changes the export target was found to need; the fourteenth session's measurement,
kept to be run again.)

    python bench/process_split.py                 # 2,000 x 100, 5 rounds, fork
    python bench/process_split.py --start spawn   # the worker started as on macOS/Windows

An upper bound, not a design: the main process does nothing but the floor's GETs
(requests, 8 threads, no rate control, no checks of the answers) and hands each body to a
worker process over a pipe; the worker decodes the pages (`rows.decode_rows`), does
export's per-number work (`number_pages`), builds the files (`build`) and writes them
(`write_files`). Each round times that, export as it is (in one process, as the CLI runs
it), and the I/O floor, one after the other; the split's files are checked to be export's,
byte for byte, in the first round. Below 1.6 with room to spare, and the split would be
worth designing (the token, rate control, errors and Ctrl-C across a process boundary).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_bench import ExportOptions, __version__, build, read_live, seed, write_files
from harness import client_for, emulator, floor, median

from upcall_sync.client.transport import make_session


def worker(conn: Connection, listed: list[Any], exported: list[Any], out_dir: str) -> None:
    """Decode, check, build and write what the main process read."""
    from upcall_sync.client.api import _decode_number_page
    from upcall_sync.jobs.export import LiveRead
    from upcall_sync.jobs.export_numbers import PhoneCheck, number_pages

    gc.disable()  # as the CLI's export runs
    reader = number_pages(PhoneCheck())
    numbers: dict[str, Any] = {}
    while msg := conn.recv_bytes():
        page = _decode_number_page(msg[4:])
        assert page is not None
        numbers[exported[int.from_bytes(msg[:4], "big")].id] = reader(page.rows)
    live = LiveRead(listed, exported, numbers, {})
    result = build(live, ExportOptions(), version=__version__, to_dir=True)
    write_files(result.files, Path(out_dir), overwrite=False)
    conn.send((result.campaigns, result.numbers))


def split_export(
    ctx: Any, listed: list[Any], exported: list[Any], urls: list[str], out_dir: str
) -> tuple[int, int]:
    """The floor's GETs here, everything else in the worker; what the worker exported."""
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=worker, args=(theirs, listed, exported, out_dir))
    process.start()
    session = make_session(8)
    lock = threading.Lock()

    def get(item: tuple[int, str]) -> None:
        body = session.get(item[1], timeout=60).content
        with lock:
            ours.send_bytes(item[0].to_bytes(4, "big") + body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, enumerate(urls)))
    ours.send_bytes(b"")
    done: tuple[int, int] = ours.recv()
    process.join()
    return done


def in_one_process(client: Any, out_dir: Path) -> tuple[int, int]:
    gc.disable()
    try:
        live = read_live(client, ExportOptions())
        result = build(live, ExportOptions(), version=__version__, to_dir=True)
        write_files(result.files, out_dir, overwrite=False)
        return result.campaigns, result.numbers
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", choices=("fork", "spawn", "forkserver"), default="fork")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ctx = mp.get_context(args.start)
    walls: dict[str, list[float]] = {"split": [], "export": [], "floor": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed(work / "export.sqlite", 2000, 100)
        with emulator(work / "export.sqlite", 0) as emu:
            client, urls = client_for(emu.url)
            live = read_live(client, ExportOptions())  # warm up; records the URLs
            floor_urls = list(urls)
            by_id = {u.split("/campaigns/")[1].split("/")[0]: u for u in urls if "/numbers" in u}
            pages = [by_id[c.id] for c in live.exported]
            for r in range(args.rounds):
                split_dir, export_dir = (
                    Path(tempfile.mkdtemp(dir=tmp)),
                    Path(tempfile.mkdtemp(dir=tmp)),
                )
                started = time.perf_counter()
                got = split_export(ctx, live.listed, live.exported, pages, str(split_dir / "o"))
                walls["split"].append(time.perf_counter() - started)
                started = time.perf_counter()
                assert in_one_process(client, export_dir / "o") == got == (2000, 200_000)
                walls["export"].append(time.perf_counter() - started)
                walls["floor"].append(floor(floor_urls, 8))
                if r == 0:
                    names = sorted(os.listdir(export_dir / "o"))
                    assert names == sorted(os.listdir(split_dir / "o"))
                    for name in names:
                        same = (export_dir / "o" / name).read_bytes()
                        assert same == (split_dir / "o" / name).read_bytes(), name
                shutil.rmtree(split_dir)
                shutil.rmtree(export_dir)
                print(
                    f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items())
                )
    fl = median(walls["floor"])
    print(f"2,000 x 100 at 0 ms, worker started by {args.start}, medians of {args.rounds}:")
    print("| run | wall | / floor |")
    print("| --- | --- | --- |")
    for name, label in (
        ("split", "GETs here, the rest in a worker process"),
        ("export", "export as it is"),
        ("floor", "I/O floor"),
    ):
        print(f"| {label} | {median(walls[name]):.2f} s | {median(walls[name]) / fl:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
