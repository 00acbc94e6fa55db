"""Apply's progress on stderr: one line per operation for logs (`LineProgress`), a rich
bar with counts, rate and ETA for terminals (`BarProgress`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any

from upcall_sync.core.changes import CreateCampaign, Plan, UpdateCampaign

_VERB = {
    "applied": "done",
    "failed": "FAILED",
    "skipped": "skipped",
    "not_attempted": "not attempted",
}


def operation_count(plan: Plan) -> int:
    """How many operations applying `plan` takes: its changes, and a "set ready" step for
    each campaign made ready only after its numbers are in."""
    extra = sum(
        1
        for c in plan.changes
        if isinstance(c, CreateCampaign | UpdateCampaign) and c.ready_after_numbers
    )
    return len(plan.changes) + extra


#: a zero-argument callable giving the rate limiter's status (`client.limiter_status`):
#: an object with `throttled`, `rate` and `describe()`
StatusSource = Callable[[], Any]


class LineProgress:
    """One line per finished operation: what CI logs want.

    With `status`, a line also says when the server starts throttling (and at
    what rate requests go), when that rate moves by a fifth, and when it stops.
    """

    def __init__(self, out: IO[str], status: StatusSource | None = None) -> None:
        self.out = out
        self._status = status
        self._shown: tuple[bool, float | None] = (False, None)

    def _throttle_line(self) -> None:
        if self._status is None:
            return
        now = self._status()
        was_throttled, was_rate = self._shown
        moved = (
            now.rate is not None
            and was_rate is not None
            and abs(now.rate - was_rate) > 0.2 * was_rate
        )
        if now.throttled and (not was_throttled or moved):
            self.out.write(f"{'throttled':>13}  {now.describe()}\n")
            self._shown = (True, now.rate)
        elif was_throttled and not now.throttled:
            pace = now.describe()
            self.out.write(f"{'throttled':>13}  no longer{': ' + pace if pace else ''}\n")
            self._shown = (False, now.rate)

    def __call__(self, op: Any) -> None:
        self._throttle_line()
        detail = op.result if op.status == "applied" else op.message
        suffix = (
            f" ({detail})" if detail and op.status == "applied" else f": {detail}" if detail else ""
        )
        self.out.write(f"{_VERB.get(op.status, op.status):>13}  {op.label}{suffix}\n")
        self.out.flush()

    def close(self) -> None:
        return


class BarProgress:
    """A rich progress bar with counts, rate and ETA, for terminals."""

    def __init__(self, total: int, out: IO[str], status: StatusSource | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]applying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[problems]}"),
            TextColumn("[yellow]{task.fields[throttle]}"),
            console=Console(file=out),
            transient=False,
        )
        self._status = status
        self._task = self._progress.add_task(
            "apply", total=total, rate="", problems="", throttle=""
        )
        self._failed = 0
        self._done = 0
        self._started = time.monotonic()
        self._progress.start()

    def __call__(self, op: Any) -> None:
        self._done += 1
        if op.status == "failed":
            self._failed += 1
            self._progress.console.print(
                f"[red]FAILED[/red] {op.label}: {op.message}", markup=True, highlight=False
            )
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self._progress.update(
            self._task,
            advance=1,
            rate=f"{self._done / elapsed:,.1f}/s",
            problems=f"[red]{self._failed} failed[/red]" if self._failed else "",
            throttle=self._status().describe() if self._status is not None else "",
        )

    def close(self) -> None:
        self._progress.stop()
