"""The reading threads: up to `parallelism` at work, fewer when more would only queue
for this process's CPU (issue 26).

Reading a listing page costs this process CPU (sending, decoding, the state layer's
per-page hook: about a millisecond for 100 numbers) and then waits for the server.
Threads beyond what keeps both busy add no throughput: with Python's global lock,
each one only waits its turn for the CPU, and every turn it takes is a thread switch
that costs more CPU (measured: against a local server, a 2,000-page export spent
about 0.4 s more CPU, about 12%, on 8 threads than on 2, and read no faster).

`ReadPace` works out how many are worth it from what each page cost (`record`: the
page's wall time and its thread's CPU time): one page's CPU time keeps a thread busy,
and the server's time, the least wall time not spent on CPU among recent pages, is
covered by `server / cpu` more threads; `ReadPace.size` is that plus one in hand,
never below `LEAST`, never above `parallelism`. The least is taken, not the mean,
because a page that waited for another thread's turn at the CPU waited longer than
the server took: the least is the server's own time. Over a network (tens of
milliseconds a request against one of CPU) that is always `parallelism`; against a
server on the same machine it comes down to two or three.

`ReadPool` is the executor the reader and export read in (`UpcallClient.workers`):
at most `ReadPace.size` of its threads take work at once, and a thread that finishes
a page takes the next itself, so the others stay asleep rather than taking turns.
It starts at `parallelism` and follows the pace after its first pages. Where the
thread CPU clock is coarse (Windows counts it in scheduler ticks of about 15 ms), a
page's CPU time says nothing and the pace stays at `parallelism`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["LEAST", "MEASURABLE", "ReadPace", "ReadPool"]

T = TypeVar("T")

#: reading threads kept at work even when the CPU is the bottleneck: one decodes
#: while the other's request is with the server
LEAST = 2
#: the pages the pace is worked out from (the latest), and how often (every `_EVERY`)
_WINDOW = 64
_EVERY = 16


def _fine_thread_clock() -> bool:
    """Whether `time.thread_time` can time a page (about a millisecond of CPU)."""
    try:
        return time.get_clock_info("thread_time").resolution <= 1e-4
    except (OSError, ValueError):  # pragma: no cover - a platform without one
        return False


#: whether pages' CPU times can tell the pace (else it stays at `parallelism`)
MEASURABLE = _fine_thread_clock()


class ReadPace:
    """How many page reads are worth running at once, from what recent pages cost."""

    def __init__(self, most: int, *, measurable: bool = MEASURABLE) -> None:
        self.most = max(1, most)
        self.measurable = measurable
        #: reading threads worth running now: `most` until pages tell otherwise
        self.size = self.most
        self._lock = threading.Lock()
        self._waits: deque[float] = deque(maxlen=_WINDOW)
        self._cpus: deque[float] = deque(maxlen=_WINDOW)
        self._since = 0
        #: pages recorded
        self.pages = 0

    def record(self, wall: float, cpu: float) -> None:
        """One page read: its wall time and the CPU time of the thread that read it."""
        with self._lock:
            self._waits.append(max(0.0, wall - cpu))
            self._cpus.append(cpu)
            self._since += 1
            self.pages += 1
            if self._since < _EVERY or len(self._cpus) < _WINDOW // 2 or not self.measurable:
                return
            self._since = 0
            self.size = self.worth(min(self._waits), sum(self._cpus) / len(self._cpus))

    def worth(self, server: float, cpu: float) -> int:
        """Threads that keep this process and a server taking `server` seconds a page
        both busy, where a page costs `cpu` seconds of this process's CPU."""
        if cpu <= 0:
            return self.most
        return max(min(LEAST, self.most), min(self.most, math.ceil(1 + server / cpu) + 1))


class _Item:
    __slots__ = ("fn", "future")

    def __init__(self, future: Future[Any], fn: Callable[[], Any]) -> None:
        self.future = future
        self.fn = fn

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn()
        except BaseException as exc:  # handed to whoever waits on the future
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class ReadPool(Executor):
    """An executor of up to `pace.most` threads, of which `pace.size` take work at once.

    As `ThreadPoolExecutor`: threads start as work arrives, `shutdown(wait=True)` (the
    end of a `with` block) runs what was submitted and joins them, a cancelled future is
    skipped. Its threads are daemons, so a pool never shut down cannot keep the process
    alive. Tasks must not wait on one another (the reader's never do)."""

    def __init__(self, pace: ReadPace, name: str = "read") -> None:
        self.pace = pace
        self._name = name
        self._cv = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._threads: list[threading.Thread] = []
        self._busy = 0  # threads running a task
        self._idle = 0  # threads waiting for work
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.append(_Item(future, lambda: fn(*args, **kwargs)))
            if self._idle and self._busy < self.pace.size:
                self._cv.notify()
            elif (
                not self._idle
                and self._busy < self.pace.size
                and len(self._threads) < self.pace.most
            ):
                self._start()
        return future

    def _start(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        item: _Item | None = None
        while True:
            with self._cv:
                if item is not None:
                    self._busy -= 1
                    item = None
                # a thread done with a page takes the next itself; another is woken only
                # when the pace allows more at work than there are
                while not (self._queue and self._busy < self.pace.size):
                    if self._closed and not self._queue:
                        self._cv.notify_all()
                        return
                    self._idle += 1
                    self._cv.wait()
                    self._idle -= 1
                item = self._queue.popleft()
                self._busy += 1
                if self._queue and self._idle and self._busy < self.pace.size:
                    self._cv.notify()
                elif (
                    self._queue
                    and not self._idle
                    and self._busy < self.pace.size
                    and len(self._threads) < self.pace.most
                ):
                    self._start()
            item.run()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cv:
            self._closed = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft().future.cancel()
            self._cv.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()
