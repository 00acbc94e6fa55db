"""The reading threads: up to `parallelism` at work, fewer when more would only queue for
this process's CPU (issue 26: `client/readpool.py`)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, Future

import pytest

from upcall_sync.client.readpool import LEAST, MEASURABLE, ReadPace, ReadPool
from upcall_sync.emulator import Emulator

from .conftest import TOKEN, connect

MS = 0.001


# -- the pace -------------------------------------------------------------------------


def test_a_server_on_this_machine_needs_few_threads() -> None:
    """0.5 ms at the server, 1.2 ms of CPU a page: one thread decodes while another
    waits, and one more in hand."""
    assert ReadPace(8).worth(0.5 * MS, 1.2 * MS) == 3


def test_a_network_keeps_every_thread() -> None:
    """20 ms at the server against 1.5 ms of CPU: 15 threads would be worth it; 8 may."""
    assert ReadPace(8).worth(20 * MS, 1.5 * MS) == 8
    assert ReadPace(8).worth(5 * MS, 1.2 * MS) == 7  # ceil(1 + 4.17) + 1


def test_never_below_two_nor_above_parallelism() -> None:
    assert ReadPace(8).worth(0.0, 1 * MS) == LEAST == 2
    assert ReadPace(1).worth(0.0, 1 * MS) == 1  # --parallelism 1 stays one thread
    assert ReadPace(4).worth(1.0, 1 * MS) == 4
    assert ReadPace(8).worth(0.0, 0.0) == 8  # no CPU measured: no reason to cut


def test_the_pace_follows_recent_pages_both_ways() -> None:
    pace = ReadPace(8, measurable=True)
    for _ in range(31):  # too few pages to tell
        pace.record(1.7 * MS, 1.2 * MS)
    assert pace.size == 8
    for _ in range(33):
        pace.record(1.7 * MS, 1.2 * MS)
    assert pace.size == 3
    for _ in range(80):  # the server slows down: every thread is worth it again
        pace.record(25 * MS, 1.2 * MS)
    assert pace.size == 8


def test_the_least_wait_is_the_servers_time_not_the_queue() -> None:
    """Pages that waited for other threads' turns at the CPU say nothing of the server:
    one page in the window that did not wait is enough."""
    pace = ReadPace(8, measurable=True)
    for i in range(64):
        pace.record((1.7 if i == 40 else 9.0) * MS, 1.2 * MS)
    assert pace.size == 3


def test_a_coarse_thread_clock_keeps_every_thread() -> None:
    """Windows counts thread CPU in ticks of about 15 ms: a page's CPU is 0 or a tick,
    and the least wait would be 0 however far the server."""
    pace = ReadPace(8, measurable=False)
    for i in range(128):
        pace.record(20 * MS, (15.6 if i % 10 == 0 else 0.0) * MS)
    assert pace.size == 8


def test_this_machines_thread_clock_is_fine_enough() -> None:
    assert MEASURABLE is (time.get_clock_info("thread_time").resolution <= 1e-4)


# -- the pool ---------------------------------------------------------------------------


class _Gauge:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.threads: set[str] = set()

    def task(self, seconds: float) -> str:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.threads.add(threading.current_thread().name)
        time.sleep(seconds)
        with self.lock:
            self.now -= 1
        return threading.current_thread().name


def test_no_more_than_the_pace_at_work() -> None:
    pace = ReadPace(8)
    pace.size = 2
    gauge = _Gauge()
    with ReadPool(pace, "t") as pool:
        futures = [pool.submit(gauge.task, 0.01) for _ in range(20)]
    assert all(f.done() for f in futures)
    assert gauge.peak == 2


def test_every_thread_at_work_when_the_pace_allows() -> None:
    pace = ReadPace(8)
    gauge = _Gauge()
    with ReadPool(pace, "t") as pool:
        for _ in range(24):
            pool.submit(gauge.task, 0.02)
    assert gauge.peak == 8
    assert len(gauge.threads) == 8


def test_a_raised_pace_wakes_threads_mid_run() -> None:
    pace = ReadPace(8)
    pace.size = 2
    gauge = _Gauge()
    with ReadPool(pace, "t") as pool:
        first = [pool.submit(gauge.task, 0.01) for _ in range(10)]
        first[-1].result()
        assert gauge.peak == 2
        pace.size = 6
        for _ in range(30):
            pool.submit(gauge.task, 0.02)
    assert gauge.peak == 6


def test_results_failures_and_cancelled_futures_as_an_executor() -> None:
    pace = ReadPace(2)
    release = threading.Event()

    def fail() -> None:
        raise ValueError("page 3")

    with ReadPool(pace) as pool:
        blocked = [pool.submit(release.wait, 5) for _ in range(2)]  # both threads busy
        queued: Future[int] = pool.submit(lambda: 1)
        assert queued.cancel()  # not started: it never runs
        ok = pool.submit(lambda x, y: x + y, 2, y=3)
        bad = pool.submit(fail)
        release.set()
    assert [f.result() for f in blocked] == [True, True]
    assert ok.result() == 5
    with pytest.raises(ValueError, match="page 3"):
        bad.result()
    with pytest.raises(CancelledError):
        queued.result()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(lambda: 1)


def test_shutdown_can_cancel_what_waits() -> None:
    pace = ReadPace(1)
    release = threading.Event()
    pool = ReadPool(pace)
    running = pool.submit(release.wait, 5)
    waiting = pool.submit(lambda: 1)
    time.sleep(0.05)
    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert running.result() is True
    assert waiting.cancelled()
    pool.shutdown()  # joins the thread: nothing is left running


# -- wired into the client -----------------------------------------------------------------


def test_every_page_read_tells_the_pace(emulator: Emulator) -> None:
    emulator.store.seed(
        emulator.accounts[TOKEN], campaigns=[{"name": f"C{i:03d}"} for i in range(250)]
    )
    emulator.api.max_page_size = 10
    client = connect(emulator, parallelism=4)
    pace = client.transport.pace
    assert pace is not None and pace.size == pace.most == 4
    with client.workers("read") as pool:
        assert isinstance(pool, ReadPool) and pool.pace is pace
    campaigns = client.list_campaigns()
    assert len(campaigns) == 250
    assert pace.pages == 25  # one a page
