"""Break-it b57: the read progress never claims more than it knows.

Plan reads the campaigns, then each matched campaign's numbers, one listing
after another: the pages still to come are not announced until their listing
starts. A total counted only from the listings started so far was then "N of N"
(a full bar, 100%) for most of the read.
"""

from __future__ import annotations

import io
import time

from upcall_sync.client import PageRead
from upcall_sync.output.progress import ReadBar, ReadLines, ReadTally


def test_no_total_once_every_announced_page_is_read() -> None:
    tally = ReadTally()
    tally(PageRead(1, 1, False))  # the campaigns: one page
    assert tally.snapshot().total is None
    for _ in range(5):  # each campaign's numbers: a listing of one page, started later
        tally(PageRead(1, 1, False))
        now = tally.snapshot()
        assert now.total is None, now
        assert "of" not in now.pages() and now.eta is None


def test_a_total_while_announced_pages_are_still_unread() -> None:
    tally = ReadTally()
    tally(PageRead(1, 4, True))
    tally(PageRead(2, 4, True))
    now = tally.snapshot()
    assert (now.read, now.total) == (2, 4) and now.pages() == "2 of 4 pages read"
    tally(PageRead(3, 4, True))
    tally(PageRead(4, 4, False))
    assert tally.snapshot().total is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_never_full_while_listings_keep_starting() -> None:
    out = _Terminal()
    bar = ReadBar(out, "plan", ReadTally())
    for _ in range(4):
        bar(PageRead(1, 1, False))
        bar._progress.refresh()
    bar.close()
    shown = out.getvalue()
    assert "4 pages read" in shown
    assert " of " not in shown and "100%" not in shown


def test_the_lines_show_a_count_for_one_page_listings() -> None:
    out = io.StringIO()
    tally = ReadTally()
    lines = ReadLines(out, "plan", tally, interval=60)
    for _ in range(3):
        lines(PageRead(1, 1, False))
    assert tally.snapshot().line("plan").startswith("plan: 3 pages read, ")
    lines.close()


def test_the_closing_line_does_not_say_done() -> None:
    """close() runs on Ctrl-C and on errors too (`error: interrupted` follows it), so its
    line says what was read, not that the read is done."""
    out = io.StringIO()
    lines = ReadLines(out, "plan", ReadTally(), interval=0.01)
    lines(PageRead(1, 3, True))
    time.sleep(0.05)  # a line or more shown, so close() writes its own
    lines.close()
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("plan: 1 page read (") and "done" not in last, last


class _ClosedPipe(io.StringIO):
    """stderr whose reader went away (`2>&1 >plan.txt | head -1`)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stderr_never_fails_the_read() -> None:
    """Progress is no result: a plan whose stderr reader is gone still ends and prints
    its plan on stdout (it exited 1 with nothing on stdout)."""
    lines = ReadLines(_ClosedPipe(), "plan", ReadTally(), interval=0.01)
    lines(PageRead(1, 3, True))
    time.sleep(0.05)  # the timer thread tries (and fails) to write a line or more
    assert lines._thread.is_alive()
    lines.close()  # and so does the closing line: no exception
