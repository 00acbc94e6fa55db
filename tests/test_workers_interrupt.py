"""`client.api.Workers` and a signal that lands while it waits for the tasks in flight
(a second Ctrl-C after the first, or the first after a failed page): the transport's
`cancel` is set and stays set, so those tasks end their retries and waits instead of
going back to them (a cleared `cancel` sent a timed-out page back to its retries after
a second Ctrl-C, and the process waited them out on exit)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from types import FrameType

import pytest

from upcall_sync.client.api import Workers


@pytest.fixture
def interrupt_later() -> Iterator[None]:
    """SIGUSR1 raises KeyboardInterrupt in the main thread (as Ctrl-C would), sent
    0.3 s into the test: while the pool's exit waits for its task in flight."""
    # signals reach the main thread only (pytest and its xdist workers run tests there)
    assert threading.current_thread() is threading.main_thread()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGUSR1, handler)
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGUSR1))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGUSR1, before)


def _in_flight(cancel: threading.Event) -> bool:
    """A page whose request no `cancel` can end (a stalled socket read): whether its
    retries were then called off."""
    time.sleep(1.5)  # well after the signal, sent at 0.3 s, even on a loaded machine
    return cancel.is_set()


@pytest.mark.parametrize("first", [KeyboardInterrupt, RuntimeError])
@pytest.mark.usefixtures("interrupt_later")
def test_a_signal_while_the_pool_waits_leaves_the_tasks_in_flight_cancelled(
    first: type[BaseException],
) -> None:
    cancel = threading.Event()
    task: Future[bool] | None = None
    with pytest.raises(KeyboardInterrupt), Workers(2, "test", cancel) as pool:
        task = pool.submit(_in_flight, cancel)
        raise first  # a first Ctrl-C, or a failed page; the signal comes in the wait
    assert task is not None
    assert task.result(timeout=10) is True, "the task in flight went back to its retries"
    assert cancel.is_set()


def test_one_signal_clears_the_cancel_once_the_tasks_are_done() -> None:
    """A library caller's client is not left cancelled by an interrupt it caught."""
    cancel = threading.Event()
    task: Future[bool] | None = None
    with pytest.raises(KeyboardInterrupt), Workers(2, "test", cancel) as pool:
        task = pool.submit(time.sleep, 0.2)
        raise KeyboardInterrupt
    assert task is not None and task.done()
    assert not cancel.is_set()
