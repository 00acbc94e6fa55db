"""Would writing export's files while it reads pay off? (issue 26: "overlap reading with
building"; the eleventh session's measurement, kept to be run again).

    python bench/write_overlap.py              # 2,000 x 100, 3 rounds
    python bench/write_overlap.py --quick      # 200 x 100

Export reads every page (`read_live`), then builds and writes one file per campaign; at
0 ms its read is bound by the client's CPU (the GIL), and creating 2,000 files costs this
machine's kernel about a second of CPU of its own. Each round times, against the export
bench's emulator:

- `read_live` alone;
- `read_live` while another thread creates the same number of files of export's size
  (`open`/`write`/`close`, the syscalls that release the GIL), the whole until both end;
- that thread alone;
- the I/O floor (the plain script GETting the same URLs, as `export_bench.py` times it).

Overlap pays where "read + writer together" is below "read alone + writer alone". Every
figure is wall time, with the process's CPU (`process_time`: every thread) beside it.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_bench import ExportOptions, read_live, seed
from harness import client_for, emulator, floor, median

#: one exported campaign of 100 numbers is about 15 kB of YAML
FILE = (b"      - {phone: '+16500000000', first_name: F0, last_name: Bench, city: x}\n") * 200


def create_files(directory: str, count: int) -> None:
    for i in range(count):
        path = os.path.join(directory, f".c{i:05d}.yaml.tmp")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, FILE)
        finally:
            os.close(fd)


def timed(work: Callable[[], object]) -> tuple[float, float]:
    gc.disable()  # as the CLI's export runs
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    campaigns = 200 if args.quick else 2000
    figures: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed(work / "export.sqlite", campaigns, 100)
        with emulator(work / "export.sqlite", 0) as emu:
            client, urls = client_for(emu.url)
            read_live(client, ExportOptions())  # warm up; records the URLs
            export_urls = list(urls)

            def together(directory: str) -> None:
                writer = threading.Thread(target=create_files, args=(directory, campaigns))
                writer.start()
                read_live(client, ExportOptions())
                writer.join()

            for _ in range(args.rounds):
                rounds: dict[str, Callable[[str], object]] = {
                    "read alone": lambda _d: read_live(client, ExportOptions()),
                    "read + writer together": together,
                    "writer alone": lambda d: create_files(d, campaigns),
                    "I/O floor (GETs only)": lambda _d: floor(export_urls, 8),
                }
                for name, job in rounds.items():
                    directory = tempfile.mkdtemp(dir=tmp)
                    figures.setdefault(name, []).append(timed(lambda: job(directory)))  # noqa: B023
                    shutil.rmtree(directory)
    print(f"export's read of {campaigns:,} x 100, and creating {campaigns:,} files of 15 kB")
    print("| run | wall (median) | CPU (median) | walls |")
    print("| --- | --- | --- | --- |")
    for name, runs in figures.items():
        walls = ", ".join(f"{w:.2f}" for w, _c in runs)
        print(
            f"| {name} | {median([w for w, _c in runs]):.2f} s | "
            f"{median([c for _w, c in runs]):.2f} s | {walls} |"
        )
    read, both, alone = (
        median([w for w, _c in figures[k]])
        for k in ("read alone", "read + writer together", "writer alone")
    )
    print(
        f"overlapped / one after the other: {both / (read + alone):.2f} "
        "(below 1: writing while reading pays)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
