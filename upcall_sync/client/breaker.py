"""A circuit breaker for a dead API, shared by every thread of a run.

An *answer* is any HTTP response (whatever its status). A *failure* is a
request that got none: connection refused or reset, a timeout. An outage
starts when the first request that failed was sent, unless something was
answered after that. Once an outage has lasted `unreachable_after` seconds
(`first_contact` seconds while the API has never answered in this run), the
breaker opens: from then on every request fails at once with `ApiUnreachable`,
and the run stops sending. It does not close again within the run: a
re-run starts afresh (and, through the duplicate-proof apply, completes the
rest).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from upcall_sync.errors import ApiUnreachable

#: default seconds without any answer before a run stops sending
UNREACHABLE_AFTER = 30.0
#: while the API has never answered in this run: fail a run that cannot connect fast
FIRST_CONTACT = 5.0


class CircuitBreaker:
    """Thread-safe; one per transport."""

    def __init__(
        self,
        unreachable_after: float = UNREACHABLE_AFTER,
        *,
        first_contact: float | None = None,
        where: str = "the API",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not unreachable_after > 0:
            raise ValueError("unreachable_after must be more than 0 seconds")
        self.unreachable_after = unreachable_after
        self.first_contact = min(
            unreachable_after, FIRST_CONTACT if first_contact is None else first_contact
        )
        self.where = where
        self._clock = clock
        self._lock = threading.Lock()
        self._ever_answered = False
        self._last_answer: float | None = None
        self._outage_start: float | None = None
        self._last_reason = ""
        self._error: ApiUnreachable | None = None
        self.opened = threading.Event()

    def _threshold(self) -> float:
        return self.unreachable_after if self._ever_answered else self.first_contact

    def answered(self) -> None:
        with self._lock:
            self._ever_answered = True
            self._last_answer = self._clock()
            self._outage_start = None

    def failed(self, sent_at: float, reason: str) -> ApiUnreachable | None:
        """Record a request that got no answer; the error to raise when that opens the breaker."""
        with self._lock:
            self._last_reason = reason
            if self._outage_start is None:
                self._outage_start = max(sent_at, self._last_answer or sent_at)
            self._check()
            return ApiUnreachable(str(self._error)) if self._error is not None else None

    def trip(self, message: str) -> ApiUnreachable:
        """Open now, for a failure that no retry can cure (TLS); the error to raise."""
        with self._lock:
            if self._error is None:
                self._error = ApiUnreachable(message)
                self.opened.set()
            return ApiUnreachable(message)

    def check(self) -> None:
        """Before sending: raise ApiUnreachable when the breaker is (or should now be) open."""
        with self._lock:
            self._check()
            if self._error is not None:
                raise ApiUnreachable(str(self._error))  # a fresh one: callers annotate theirs

    def time_left(self) -> float:
        """Seconds before an outage going on now would open the breaker."""
        with self._lock:
            if self._outage_start is None:
                return self._threshold()
            return self._outage_start + self._threshold() - self._clock()

    def _check(self) -> None:
        if self._error is not None or self._outage_start is None:
            return
        silent = self._clock() - self._outage_start
        if silent < self._threshold():
            return
        reason = f" (last: {self._last_reason})" if self._last_reason else ""
        if self._ever_answered:
            message = (
                f"the API stopped answering: nothing from {self.where} for {silent:.0f} s"
                f"{reason}; stopped sending requests"
            )
        else:
            message = f"cannot reach the API at {self.where}: no answer in {silent:.0f} s{reason}"
        self._error = ApiUnreachable(message)
        self.opened.set()
