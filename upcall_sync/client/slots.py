"""Requests in flight: at most `parallelism` at once, however many threads wait to send.

`--parallelism N` bounds the requests in flight (and so the pooled connections),
not the threads that want to send. A thread that waits out a `Retry-After`
between two attempts holds no slot, so apply runs more workers than slots
(`WORKERS_PER_SLOT`): when a stray 429 puts a worker to sleep for a second, the
other changes still go out N at a time instead of N - 1 (issue 26: with every
tenth request refused, most of a 16-slot apply's workers slept at once).
"""

from __future__ import annotations

import threading
from typing import Protocol

#: apply's worker threads per slot: a worker waiting out a Retry-After frees its slot
WORKERS_PER_SLOT = 2


class SendGate(Protocol):
    """Asked before each request goes out, in the thread that sends it (apply's
    `schedule.StartGate`, set with `UpcallClient.gated`)."""

    def refuses(self) -> bool:
        """Whether `may_send` would raise (a wait for the limiter ends when it does)."""

    def may_send(self) -> None:
        """Raise (`NotStarted`) to keep the request from going out."""

    def sent(self, refused: bool) -> None:
        """The request went out: answered 429 (`refused`: nothing was handled), or
        anything else, or no answer at all."""


class Slots:
    """A counting semaphore whose wait ends when the run is cancelled. Its `size` may
    change under `_cv` (the start window grows, then lifts: `ratelimit.StartWindow`);
    while it is None nothing is counted."""

    def __init__(self, size: int | None) -> None:
        """`size`: requests in flight at once; None: no bound."""
        self.size = size
        self._cv = threading.Condition()
        self._taken = 0

    def take(self, cancel: threading.Event) -> bool:
        """Wait for a free slot and take it; False when `cancel` was set while waiting."""
        if self.size is None:
            return True
        with self._cv:
            while self.size is not None and self._taken >= self.size:
                if cancel.is_set():
                    return False
                self._cv.wait(0.05)
            self._taken += 1
            return True

    def give(self) -> None:
        """Give back a slot `take` returned True for."""
        if self.size is None:
            return
        with self._cv:
            self._taken -= 1
            self._cv.notify()

    @property
    def taken(self) -> int:
        with self._cv:
            return self._taken
