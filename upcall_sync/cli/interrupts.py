"""Signal handlers for the time a command runs, put back after it.

Every command that handles SIGINT or SIGTERM itself (the read commands, apply, the
write probe) takes them through `handling`, so that they agree on two
rules: only the main thread can take a signal (elsewhere, as in a test calling the
command from a thread, nothing is installed), and a signal the process was started
ignoring stays ignored. A shell starts a background job (`upcall-sync emulator &` in a
script) with SIGINT ignored, so that Ctrl-C meant for the script in front does not
stop it; `nohup` and some CI runners do the same for other signals. (The emulator,
which imports nothing of the tool, keeps the same rules in `emulator.cli`.)

A command that goes on after a signal (apply lets in-flight changes finish, the write
probe archives its campaign) reacts through `stopping`: the
handler itself only notes the signal, and the reaction (setting an `Event`, printing
a line) runs in a watcher thread. Setting an `Event` inside the handler deadlocks when
the signal lands while the interrupted thread holds that event's lock (inside its own
`wait`, between polls), and a print there raises "reentrant call" when it lands during
another write to stderr.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["STOP_SIGNALS", "handling", "stopping"]

#: what stops a command: Ctrl-C, and `kill` or a CI runner cancelling the job
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any]


@contextlib.contextmanager
def handling(
    handler: Handler,
    signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
    *,
    replacing: Callable[[signal.Signals, Any], bool] | None = None,
) -> Iterator[None]:
    """`handler` for each of `signals` while the block runs, then what was there before.

    A signal whose handler is `SIG_IGN` is left ignored; so is one for which
    `replacing(signal, current_handler)` is false, when given (the read commands take a signal
    only from Python's default handlers, leaving a caller's own in place).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in signals:
            current = signal.getsignal(sig)
            if current is signal.SIG_IGN or (replacing is not None and not replacing(sig, current)):
                continue
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def stopping(
    on_signal: Callable[[int], None], *, second_exits: bool = False
) -> Iterator[list[int]]:
    """For the block, each SIGINT/SIGTERM is added to the list yielded and
    `on_signal(signum)` runs for it in a watcher thread, never in the handler (which
    takes no lock: `SimpleQueue.put` is reentrant). With `second_exits`, a second signal
    ends the process at once (exit 130, or 143 for SIGTERM), in the handler. Every
    reaction to a signal received has run when the block ends."""
    received: list[int] = []
    signals: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if second_exits and len(received) > 1:
            os._exit(143 if signum == signal.SIGTERM else 130)
        signals.put(signum)

    def watch() -> None:
        while (signum := signals.get()) is not None:
            on_signal(signum)

    watcher = threading.Thread(target=watch, name="upcall-sync signals", daemon=True)
    watcher.start()
    try:
        with handling(handler):
            yield received
    finally:
        signals.put(None)
        watcher.join()
