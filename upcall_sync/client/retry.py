"""The one retry policy: every request of the transport, and apply's duplicate-proof POSTs.

Built on tenacity. The first attempt runs on its own (almost every call ends
there, and a `Retrying` costs about as much as the rest of the request's own
work); when it fails, its failure becomes the first attempt of one `Retrying`,
which decides and makes the rest. The `max_total_seconds` clock starts when the
call does:

- **Which failures** are retried is the caller's predicate (the transport:
  errors it marked `retryable`; apply: a POST whose outcome is unknown and
  that a look-up did not find).
- **Waits** are exponential with jitter, never shorter than the server's
  `Retry-After`; a throttled attempt (HTTP 429) waits just its Retry-After
  (the shared rate limiter does the pacing).
- **Stops** after `max_attempts` failed attempts, not counting 429s (a 429
  was not processed), or when the next wait would end past `max_total_seconds`.
- **Sleeps** end early on cancel (`Cancelled`) and when the circuit breaker
  opens (the next attempt then fails at once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, wait_exponential_jitter

from upcall_sync.errors import ApiUnreachable, Cancelled, UpcallSyncError

__all__ = ["Cancelled", "Retrier", "RetryPolicy", "is_throttled"]

log = logging.getLogger("upcall_sync.http")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before giving up on a retryable failure."""

    max_attempts: int = 8
    backoff_initial: float = 0.25
    backoff_max: float = 8.0
    jitter: float = 0.25
    max_total_seconds: float = 90.0
    retry_after_cap: float = 60.0


def is_throttled(exc: BaseException | None) -> bool:
    return getattr(exc, "status", None) == 429


class Retrier:
    """Runs a call under the policy; thread-safe (each call gets its own tenacity state)."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        cancel: threading.Event,
        stopped: threading.Event | None = None,
        time_left: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        on_retry: Callable[[], None] | None = None,
        redact: Callable[[str], str] = str,
        give_up: Callable[[], bool] | None = None,
    ) -> None:
        self.policy = policy
        #: asked during a wait to retry: True ends the wait early (apply's start gate
        #: after Ctrl-C: a change that never reached the API is not sent again, so its
        #: worker need not sit out a 429's Retry-After first)
        self._give_up = give_up
        self._redact = redact
        self.cancel = cancel
        self.stopped = stopped or threading.Event()
        self._time_left = time_left
        self._sleep = sleep
        self._on_retry = on_retry
        self._backoff = wait_exponential_jitter(
            multiplier=policy.backoff_initial, max=policy.backoff_max, jitter=policy.jitter
        )

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool],
        max_attempts: int | None = None,
        annotate: bool = True,
        cancel: threading.Event | None = None,
    ) -> T:
        """`fn()`, retried while `retry_if(error)` holds and the policy allows.

        `max_attempts` overrides the policy's cap for this call; `cancel` (default:
        the transport's) ends a wait with `Cancelled`. With `annotate`, the error
        finally raised says how many attempts it took. Apply's duplicate-proof POST
        is meant to run here too:

            transport.retrier.call(post_or_find, retry_if=lambda e: isinstance(e, OutcomeUnknown),
                                   max_attempts=lookup_attempts, cancel=applier_cancel)
        """
        started = time.monotonic()
        try:  # the first attempt, without tenacity: almost every call ends here
            return fn()
        except Exception as exc:
            failed = exc
        return self._again(
            fn,
            failed,
            started,
            retry_if=retry_if,
            cap=max_attempts or self.policy.max_attempts,
            annotate=annotate,
            event=cancel or self.cancel,
        )

    def _again(
        self,
        fn: Callable[[], T],
        failed: Exception,
        started: float,
        *,
        retry_if: Callable[[BaseException], bool],
        cap: int,
        annotate: bool,
        event: threading.Event,
    ) -> T:
        """`call` after its first attempt failed with `failed`: tenacity takes over, and
        that failure is its first attempt."""
        first: Exception | None = failed
        counted = 0  # failed attempts that count against the cap (not 429s)

        def attempt() -> T:
            # tenacity's first attempt is the one already made: its failure, as it was
            nonlocal first
            if first is not None:
                failed, first = first, None
                raise failed
            return fn()

        def retry(state: RetryCallState) -> bool:
            nonlocal counted
            exc = state.outcome.exception() if state.outcome else None
            if exc is None or not retry_if(exc):
                return False
            if not is_throttled(exc):
                counted += 1
            return True

        def stop(state: RetryCallState) -> bool:
            if counted >= cap:
                return True
            elapsed = time.monotonic() - started  # the clock starts with the first attempt
            return elapsed + (state.upcoming_sleep or 0.0) > self.policy.max_total_seconds

        retrying = Retrying(
            retry=retry,
            stop=stop,
            wait=self.wait,
            sleep=lambda seconds: self.pause(seconds, event),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except UpcallSyncError as exc:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            if isinstance(exc, ApiUnreachable):
                raise
            if annotate and attempts > 1 and exc.args and isinstance(exc.args[0], str):
                took = time.monotonic() - started
                exc.args = (f"{exc.args[0]} (gave up after {attempts} attempts in {took:.0f} s)",)
            raise

    def wait(self, state: RetryCallState) -> float:
        """Backoff with jitter, never less than Retry-After; a 429 waits its Retry-After
        (a zero or past one gets the backoff: no hot loop against a confused server)."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if not isinstance(retry_after, int | float):
            retry_after = None
        if is_throttled(exc) and retry_after:
            return float(retry_after)
        delay = float(self._backoff(state))
        return max(delay, float(retry_after)) if retry_after is not None else delay

    def pause(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Sleep before a retry: ends early on cancel (raises), when the breaker opens, or
        when `give_up` says so (the attempt that follows then stops before sending)."""
        cancel = cancel or self.cancel
        if self._sleep is not None:
            self._sleep(seconds)
            return
        if self._time_left is not None:  # wake when the breaker would open, to fail then
            seconds = min(seconds, max(self._time_left(), 0.0) + 0.01)
        deadline = time.monotonic() + seconds
        while not self.stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or (self._give_up is not None and self._give_up()):
                return
            if cancel.wait(min(left, 0.25)):
                raise Cancelled("interrupted while waiting to retry")

    def _before_sleep(self, state: RetryCallState) -> None:
        if self._on_retry is not None:
            self._on_retry()
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "retrying after %s (attempt %d, waiting %.2fs)",
            self._redact(str(exc)),
            state.attempt_number,
            state.upcoming_sleep,
        )
