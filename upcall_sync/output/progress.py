"""Progress on stderr, for terminals (rich bars) and logs (lines).

- Apply's writes: one line per operation for logs (`LineProgress`), a rich bar
  with counts, rate and ETA for terminals (`BarProgress`).
- Long reads of the account (plan, export, doctor, apply's convergence check):
  the client tells of every listing page it reads (`UpcallClient.observe_pages`,
  a `PageRead`); `ReadTally` adds them up: pages read, and the pages known to
  exist from each listing's `links.last` (a listing without one leaves the
  total unknown, so only a count is shown, as it is once every page announced
  so far is read: the reader may start another listing). On a terminal
  `ReadBar` shows pages read against the known total (or a count), the request
  rate, the server's throttling and an ETA; elsewhere (CI logs) `ReadLines` writes one line about
  every `LINE_INTERVAL` seconds, from a timer thread (so a stalled request is
  not silence either), and nothing at all for a read shorter than that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from upcall_sync.core.changes import CreateCampaign, Plan, UpdateCampaign

if TYPE_CHECKING:
    from upcall_sync.client import PageRead

_VERB = {
    "applied": "done",
    "failed": "FAILED",
    "skipped": "skipped",
    "not_attempted": "not attempted",
}


def outcome_word(status: str) -> str:
    """An operation's outcome as progress lines show it, right-aligned to one width."""
    return f"{_VERB.get(status, status):>13}"


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
        self._gone = False  # `out` refused a write: write no more

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
        if self._gone:
            return
        detail = op.result if op.status == "applied" else op.message
        suffix = (
            f" ({detail})" if detail and op.status == "applied" else f": {detail}" if detail else ""
        )
        try:
            self._throttle_line()
            self.out.write(f"{outcome_word(op.status)}  {op.label}{suffix}\n")
            self.out.flush()
        except (OSError, ValueError):
            # the reader went away (`apply ... | head`): this runs in apply's workers,
            # and a progress line is no reason to stop applying; write no more
            self._gone = True

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


# -- long reads of the account ---------------------------------------------------------

#: seconds between two progress lines without a terminal (none for a shorter read)
LINE_INTERVAL = 10.0

#: how many requests the client has sent so far (`UpcallClient.requests_sent`)
RequestCount = Callable[[], int]


@dataclass(frozen=True)
class Snapshot:
    """What a display shows at one moment."""

    read: int
    #: pages known to exist (None: some listing has not said how long it is)
    total: int | None
    requests: int
    elapsed: float
    throttle: str
    #: False: the work reads no listings (the write probe): requests alone are counted
    paged: bool = True

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far: None while the total is unknown or too
        little has been read to tell."""
        if self.total is None or self.read < 2 or self.elapsed <= 0:
            return None
        left = max(self.total - self.read, 0) * self.elapsed / self.read
        return left if left >= 1 else None

    def pages(self) -> str:
        if not self.total:
            return f"{self.read:,} page{'s' if self.read != 1 else ''} read"
        return f"{self.read:,} of {self.total:,} page{'s' if self.total != 1 else ''} read"

    def requests_sent(self) -> str:
        return f"{self.requests:,} request{'s' if self.requests != 1 else ''}"

    def line(self, what: str) -> str:
        parts = [f"{self.requests_sent()} ({self.rate:,.1f}/s)"]
        if self.paged:
            parts.insert(0, self.pages())
        if self.eta is not None:
            parts.append(f"about {duration(self.eta)} left")
        if self.throttle:
            parts.append(self.throttle)
        return f"{what}: {', '.join(parts)}"


def duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class ReadTally:
    """Pages read and pages known to exist, from `PageRead`s of any thread."""

    def __init__(
        self,
        requests: RequestCount | None = None,
        status: StatusSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        totals: bool = True,
        paged: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self._requests = requests
        self._status = status
        self._clock = clock
        self._first_request = requests() if requests is not None else 0
        self.started = clock()
        self._read = 0
        self._known = 0
        self._open = 0  # listings read link by link, their length not known yet
        #: False: the reader reads first pages only (doctor's probes), so links.last
        #: announces pages it will never read: show a count
        self._totals = totals
        self._paged = paged

    @property
    def paged(self) -> bool:
        """False: the work reads no listings (the write probe): requests alone count."""
        return self._paged

    def __call__(self, page: PageRead) -> None:
        with self._lock:
            self._read += 1
            if page.number == 1:  # a listing starts: links.last says how long it is
                self._known += page.last if page.last and page.last > 1 else 1
                if page.last is None and page.more:
                    self._open += 1
            elif page.last is None:  # a page found by following links.next
                self._known += 1
                if not page.more:
                    self._open = max(self._open - 1, 0)

    def snapshot(self) -> Snapshot:
        with self._lock:
            read, known, unknown = self._read, self._known, self._open > 0
        sent = self._requests() - self._first_request if self._requests is not None else read
        status = self._status() if self._status is not None else None
        # a total only while some page it counts is still unread: once every page
        # announced so far is read, the next listing may start (plan reads each
        # campaign's numbers after the campaigns), so "N of N" would be a full bar
        # that lies; show a count until a listing announces pages still to come
        return Snapshot(
            read=read,
            total=None if unknown or not self._totals or known <= read else known,
            requests=sent,
            elapsed=self._clock() - self.started,
            throttle=status.describe() if status is not None else "",
            paged=self._paged,
        )


class ReadDisplay(Protocol):
    """What the command line holds while the account is read."""

    tally: ReadTally

    def __call__(self, page: PageRead) -> None: ...

    def close(self) -> None: ...


class ReadLines:
    """A line every `interval` seconds while reading (CI logs); none for a shorter read,
    and a closing line only after lines were shown."""

    def __init__(
        self, out: IO[str], what: str, tally: ReadTally, interval: float | None = None
    ) -> None:
        self.out = out
        self.what = what
        self.tally = tally
        self._interval = LINE_INTERVAL if interval is None else interval
        self._stop = threading.Event()
        self._shown = 0
        self._gone = False  # `out` refused a write: write no more
        self._thread = threading.Thread(target=self._tick, name="read-progress", daemon=True)
        self._thread.start()

    def __call__(self, page: PageRead) -> None:
        self.tally(page)

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            self._write(self.tally.snapshot().line(self.what))

    def _write(self, line: str) -> None:
        if self._gone:
            return
        self._shown += 1
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):
            # stderr closed (`2>&1 >plan.txt | head -1`): progress is no result, so
            # its end never fails the command; nothing more is written to it
            self._gone = True

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        if self._shown:  # a count: a reader may stop before a listing's last page
            now = self.tally.snapshot()
            took = duration(now.elapsed)
            if not now.paged:
                self._write(f"{self.what}: {now.requests_sent()} in {took}")
                return
            pages = f"{now.read:,} page{'s' if now.read != 1 else ''}"
            # not "done": the read may as well have been stopped (Ctrl-C, an error)
            self._write(f"{self.what}: {pages} read ({now.requests_sent()}) in {took}")


class ReadBar:
    """A rich bar for terminals: pages read of the known total (a count while the total is
    unknown), the request rate, throttling, an ETA; cleared when the read ends."""

    def __init__(self, out: IO[str], what: str, tally: ReadTally) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.tally = tally
        counts: tuple[Any, ...] = (
            TextColumn("{task.fields[pages]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            TextColumn("[yellow]{task.fields[throttle]}"),
        )
        if not tally.paged:  # no page read to update on (the write probe): each refresh
            counts = (_sent_column(tally), TimeElapsedColumn())
        self._progress = Progress(
            TextColumn(f"[bold]{_markup_safe(what)}"),
            BarColumn(),
            *counts,
            console=Console(file=out),
            transient=True,
        )
        self._task = self._progress.add_task(
            what, total=None, pages="", rate="", eta="", throttle=""
        )
        self._closed = False
        self._progress.start()

    def __call__(self, page: PageRead) -> None:
        self.tally(page)
        now = self.tally.snapshot()
        self._progress.update(
            self._task,
            completed=now.read,
            total=now.total,
            pages=now.pages(),
            rate=f"{now.rate:,.1f} req/s",
            eta=f"eta {duration(now.eta)}" if now.eta is not None else "",
            throttle=_markup_safe(now.throttle),
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._progress.stop()


def _sent_column(tally: ReadTally) -> Any:
    """A bar column of requests sent, their rate and throttling as of each refresh: work
    that reads no listings (the write probe) gives the bar no page read to update on,
    and its requests went uncounted on a terminal."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Sent(ProgressColumn):
        def render(self, task: Any) -> Text:
            now = tally.snapshot()
            text = Text(f"{now.requests_sent()} {now.rate:,.1f} req/s")
            if now.throttle:
                text.append(f" {now.throttle}", style="yellow")
            return text

    return Sent()


def _markup_safe(text: str) -> str:
    return text.replace("[", r"\[")


def read_display(
    out: IO[str],
    what: str,
    *,
    bar: bool,
    requests: RequestCount | None = None,
    status: StatusSource | None = None,
    totals: bool = True,
    paged: bool = True,
) -> ReadDisplay:
    """The display for `out`: a bar on a terminal (`bar`), lines otherwise; `totals`
    False shows counts only (a reader that does not read listings to their end), `paged`
    False requests alone (work that reads no listings)."""
    tally = ReadTally(requests, status, totals=totals, paged=paged)
    if bar:
        return ReadBar(out, what, tally)
    return ReadLines(out, what, tally)
