"""A POST never sent twice blindly, for `jobs.apply`.

When a POST's outcome is unknown (timeout, reset, 5xx, a lost answer), the object is
looked up with a filtered GET (the caller's `lookup`, comparing every detail) and the
POST is repeated only if it is not there, with the client's own retry policy's waits.
No decision rests on the wording of an API message: a refused number add is looked up
too.

A POST that timed out may still be committed after the look-up (a slow server, a
proxy or a queue in between): when the first look finds nothing, apply looks again,
at growing intervals, for `late_commit_window` seconds (by default the read timeout
plus LATE_COMMIT_MARGIN) before it sends the POST again. A stop (a signal, or the API
going silent) while it looks reports the POST as failed (it may still land), never as
not attempted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from upcall_sync.client import UpcallClient
from upcall_sync.errors import ApiStatusError, ApiUnreachable, Cancelled, OutcomeUnknown
from upcall_sync.jobs.schedule import Op

log = logging.getLogger("upcall_sync.jobs.apply")

#: seconds beyond the read timeout that a timed-out POST is watched for a late commit
LATE_COMMIT_MARGIN = 5.0


class Posts:
    """The POSTs of one apply run."""

    def __init__(
        self,
        client: UpcallClient,
        cancel: threading.Event,
        *,
        lookup_attempts: int,
        late_commit_window: float | None,
        on_unreachable: Callable[[str], None],
    ) -> None:
        self.client = client
        #: the applier's stop event: in-flight work finishes, nothing new starts
        self.cancel = cancel
        self.lookup_attempts = lookup_attempts
        if late_commit_window is None:
            late_commit_window = client.read_timeout + LATE_COMMIT_MARGIN
        self.late_commit_window = late_commit_window
        #: a POST was sent again after one timed out: until then, the first may land
        self.late_commit_deadline = 0.0
        self.on_unreachable = on_unreachable
        self._lock = threading.Lock()

    def send(
        self,
        op: Op,
        send: Callable[[], Any],
        lookup: Callable[[], str | None],
        *,
        look_on_refusal: bool = False,
    ) -> str:
        """POST once; if its outcome is unknown, look before posting again (`op.resent`
        records that it was sent again: the convergence check looks for its duplicate).

        With `look_on_refusal`, a 400 is looked up too (the API refuses to add a
        contact twice; what it says about it is not something to parse)."""

        timed_out = False
        unknown: list[OutcomeUnknown] = []  # a POST sent whose answer was lost

        def attempt() -> str:
            nonlocal timed_out
            try:
                if op.attempts:  # sent again after an unknown outcome: a duplicate may follow
                    op.resent = True
                op.attempts += 1
                made = str(send().id)
                if timed_out:  # sent again: the first may still land; look for it later
                    with self._lock:
                        self.late_commit_deadline = time.monotonic() + self.late_commit_window
                return made
            except OutcomeUnknown as exc:
                unknown.append(exc)
                log.info("outcome unknown (%s); looking before retrying", exc.one_line())
                found = lookup()
                if found is None and exc.timed_out:
                    timed_out = True
                    found = self._watch_for_late_commit(lookup)
                if found is not None:
                    return found
                raise
            except ApiStatusError as exc:
                if look_on_refusal and exc.status == 400:
                    found = lookup()
                    if found is not None:
                        return found
                raise

        # the client's one retry policy: backoff with jitter, bounded in time; the
        # applier's own stop event ends a wait (in-flight work finishes, nothing new)
        try:
            return self.client.retry(
                attempt,
                retry_if=lambda e: isinstance(e, OutcomeUnknown),
                max_attempts=self.lookup_attempts,
                cancel=self.cancel,
                annotate=False,
            )
        except (Cancelled, ApiUnreachable) as exc:
            if not unknown:
                raise
            raise self._stopped_looking(exc, unknown[-1]) from exc

    def _stopped_looking(
        self, exc: Cancelled | ApiUnreachable, lost: OutcomeUnknown
    ) -> OutcomeUnknown:
        """A stop while looking for a POST that was sent: not "not attempted", since it
        may have been (or still be) committed."""
        why = "interrupted"
        if isinstance(exc, ApiUnreachable):
            why = "the API stopped answering"
            self.on_unreachable(exc.one_line())  # the run stops all the same
        return OutcomeUnknown(
            f"{lost.one_line()}; {why} while looking for it: it may still land, "
            "and a re-run before it does makes a duplicate (README, "
            "'Duplicates after a timeout')",
            method=lost.method,
            url=lost.url,
            status=lost.status,
            timed_out=lost.timed_out,
        )

    def _watch_for_late_commit(self, lookup: Callable[[], str | None]) -> str | None:
        """Look again at growing intervals until the window ends: a write the server
        was still working on when the client gave up lands within it."""
        deadline = time.monotonic() + self.late_commit_window
        pause = 0.25
        while (left := deadline - time.monotonic()) > 0:
            if self.cancel.wait(min(pause, left)):
                return None
            found = lookup()
            if found is not None:
                log.info("a timed-out POST was committed late: found it, not sending it again")
                return found
            pause = min(pause * 2, 2.0)
        return None
