"""The client's one progress hook: every listing page read, as it is read.

A reader of the account (plan, export, doctor, apply's convergence check) may
take minutes against a throttled API. `UpcallClient.observe_pages(fn)` makes
the transport call `fn(PageRead(...))` after each listing page it reads
(`Transport.read_page`, the one place every page passes, from whichever
thread read it); what to show is the caller's business. The hook never sees
a URL, a resource or the token: only where the page stands in its listing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PageRead:
    """One listing page read: its number, and what its links say about the rest."""

    #: the page's number in its listing (1: a listing starts)
    number: int
    #: the listing's last page number from `links.last` (None: not given)
    last: int | None
    #: the page has a `links.next`
    more: bool


#: called from the thread that read the page; must be quick and must not raise
PageObserver = Callable[[PageRead], None]
