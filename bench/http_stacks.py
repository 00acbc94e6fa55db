"""What the export's I/O floor is made of, and what a leaner GET path would buy (issue 26).

    python bench/http_stacks.py              # 2,000 x 100, medians of 3
    python bench/http_stacks.py --quick      # 200 x 100
    python bench/http_stacks.py --lane       # and the export with an experimental GET lane

At 0 ms latency the "I/O floor" of `bench/export_bench.py` is not I/O: it is a plain
script's client CPU in requests, urllib3 and http.client (the GIL serialises it). This
GETs the export's own URLs (the campaign listing and every campaign's numbers) with 8
threads through three stacks, one after the other in each run:

- requests: `Session.get(...).content`, the floor script exactly;
- urllib3: one `PoolManager`, `request(...).data` (what requests wraps);
- http.client: one keep-alive `HTTPConnection` per thread (what urllib3 wraps).

Every URL carries the bench token, so each GET is answered with its page (a GET without
it would be a short 401, and would measure nothing).

Beside each stack's wall time: its client CPU (every thread) and the emulator's (a
process of its own, on the same 2 cores): where the client spends less than the
emulator, the floor is the emulator's.

The export's ratio is given two ways: against a floor run right after each export (as
`export_bench.py` does; median of the per-run ratios) and against the requests row of
the same table (ratio of medians). They differ by as much as the floor moves between
runs on this machine (15-20%).

`--lane` also times the export itself (read, build, write, as `export_bench.py` does),
once through the client as it is and once with an *experiment*: the transport's GETs
sent on a keep-alive `http.client` connection per thread instead of through requests
(`Transport._send` replaced in this process only, for GETs to a plain-http URL; the
limiter, breaker and slots still run). The experiment skips what requests does for
the product (TLS settings, proxies, cookies, hooks, content decoding, its exception
mapping), so it is an upper bound of what such a lane could give, not a design: it
answers whether issue 26's export target (export / floor <= 1.6) is within reach of
the client's own code, or only below requests.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import urllib3
from export_bench import export_once, seed
from harness import Report, client_for, emulator, load, make_session, median

transport_module = load("upcall_sync.client.transport")
PARALLELISM = 8


def _in_threads(fn: Callable[[str], bytes], items: list[str]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLELISM) as pool:
        sizes = sum(map(len, pool.map(fn, items)))
    assert sizes > 0
    return time.perf_counter() - started


def _page(status: int, body: bytes) -> bytes:
    """The body of a page the emulator served (a 401 or an error would measure nothing)."""
    assert status == 200, status
    return body


def via_requests(urls: list[str]) -> float:
    session = make_session(PARALLELISM)

    def get(url: str) -> bytes:
        resp = session.get(url, timeout=60)
        return _page(resp.status_code, resp.content)

    return _in_threads(get, urls)


def via_urllib3(urls: list[str]) -> float:
    manager = urllib3.PoolManager(maxsize=PARALLELISM)

    def get(url: str) -> bytes:
        resp = manager.request("GET", url)
        return _page(resp.status, resp.data)

    return _in_threads(get, urls)


def via_http_client(urls: list[str]) -> float:
    local = threading.local()
    netloc = urlsplit(urls[0]).netloc

    def get(url: str) -> bytes:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(netloc, timeout=60)
        conn.request("GET", url[url.index("/", len("http://")) :])
        with conn.getresponse() as resp:
            return _page(resp.status, resp.read())

    return _in_threads(get, urls)


class _Answer:
    """What the transport reads of an answer, from an `http.client.HTTPResponse`."""

    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self.status_code = resp.status
        self.headers = resp.msg  # case-insensitive .get, as requests' headers
        self.raw = resp  # read1, as urllib3's response

    def close(self) -> None:
        self.raw.close()


@contextmanager
def http_client_lane() -> Iterator[None]:
    """The experiment: the transport's plain-http GETs on one keep-alive http.client
    connection per thread (see the module's docstring for what it leaves out)."""
    Transport = transport_module.Transport
    original = Transport._send
    local = threading.local()

    def send(self: Any, method: str, url: str, body: Any, content_type: str) -> Any:
        if method != "GET" or not url.startswith("http://"):
            return original(self, method, url, body, content_type)
        if not self.limiter.acquire(self.cancel, None):
            raise transport_module.Cancelled("interrupted before sending a request")
        self.breaker.check()
        started = time.monotonic()
        self.stats.count(method)
        parts = urlsplit(url)
        query = f"{parts.query}&" if parts.query else ""
        target = f"{parts.path}?{query}auth_token={self._token.reveal()}"
        headers = dict(self.session.headers)
        for attempt in (1, 2):  # a keep-alive connection the server closed: once more
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(parts.netloc, timeout=60)
            try:
                conn.request("GET", target, headers=headers)
                answer = _Answer(conn.getresponse())
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                local.conn = None
                if attempt == 2:
                    raise
        self.breaker.answered()
        self.limiter.on_answer(started, answer.status_code, answer.headers)
        return answer, started

    Transport._send = send
    try:
        yield
    finally:
        Transport._send = original


def export_seconds(url: str, out_dir: Path) -> tuple[float, float, list[str]]:
    """One export (read, build, write) as `export_bench.export_once` times it: wall and
    client CPU seconds, and the GET URLs requests sent (none under the lane)."""
    client, urls = client_for(url, PARALLELISM)
    started, cpu = time.perf_counter(), time.process_time()
    live, result = export_once(client, out_dir)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert getattr(result, "numbers", 0) > 0
    del live, result
    shutil.rmtree(out_dir)
    return seconds, cpu, urls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lane", action="store_true", help="also time the export experiment")
    args = parser.parse_args()
    campaigns, per = (200, 100) if args.quick else (2000, 100)
    report = Report()
    tag = f"GETs of export {campaigns:,}x{per}"
    stacks = {"requests": via_requests, "urllib3": via_urllib3, "http.client": via_http_client}
    times: dict[str, list[float]] = {name: [] for name in stacks}
    cpus: dict[str, list[float]] = {name: [] for name in stacks}
    served: dict[str, list[float]] = {name: [] for name in stacks}
    exports: dict[str, list[float]] = {"client as it is": [], "http.client GET lane": []}
    ratios: dict[str, list[float]] = {name: [] for name in exports}
    export_cpus: dict[str, list[float]] = {name: [] for name in exports}
    with tempfile.TemporaryDirectory(prefix="upcall-bench-http-") as tmp:
        work = Path(tmp)
        db = work / "export.sqlite"
        seed(db, campaigns, per)
        with emulator(db, 0) as emu:
            _seconds, _cpu, urls = export_seconds(emu.url, work / "warm-up")
            print(f"\n[{tag}] {len(urls):,} URLs, {PARALLELISM} threads", flush=True)
            for run in range(args.runs):
                for name, fn in stacks.items():
                    c0, e0 = time.process_time(), emu.cpu_seconds()
                    times[name].append(fn(urls))
                    cpus[name].append(time.process_time() - c0)
                    served[name].append(emu.cpu_seconds() - e0)
                if args.lane:
                    for name in exports if run % 2 == 0 else reversed(exports):
                        lane: AbstractContextManager[None] = (
                            nullcontext() if name == "client as it is" else http_client_lane()
                        )
                        with lane:
                            seconds, cpu, _ = export_seconds(emu.url, work / f"out{run}")
                        exports[name].append(seconds)
                        export_cpus[name].append(cpu)
                        ratios[name].append(seconds / via_requests(urls))
                print(
                    f"  run {run + 1}: "
                    + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in {**times, **exports}.items() if t),
                    flush=True,
                )
    floor = median(times["requests"])
    for name, values in times.items():
        report.add(tag, f"{name}: wall (median)", f"{median(values):.2f} s")
        report.add(tag, f"{name} / requests (the floor)", f"{median(values) / floor:.2f}")
        report.add(tag, f"{name}: client CPU (median)", f"{median(cpus[name]):.2f} s")
        report.add(tag, f"{name}: the emulator's CPU (median)", f"{median(served[name]):.2f} s")
    for name, values in exports.items():
        if values:
            report.add(tag, f"export, {name}: wall (median)", f"{median(values):.2f} s")
            report.add(
                tag, f"export, {name}: client CPU (median)", f"{median(export_cpus[name]):.2f} s"
            )
            report.add(
                tag,
                f"export, {name} / the floor beside it (median)",
                f"{median(ratios[name]):.2f} (runs {', '.join(f'{r:.2f}' for r in ratios[name])})",
                "<= 1.6",
                median(ratios[name]) <= 1.6,
            )
            report.add(
                tag,
                f"export, {name} / the requests row above (medians)",
                f"{median(values) / floor:.2f}",
            )
    print("\n" + report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
