"""Reading many listings at once, breadth first.

A plan reads hundreds of listings (every matched campaign's numbers, the
campaigns, the contacts). Following `links.next` one page after another makes
each listing a chain of round trips; instead, the first page of every listing
is read in parallel, and since that page's `links.last` and the server's own
page size tell how many pages remain, the rest are read in parallel too. If
the last page still has a `links.next` (the data grew while reading), or the
server's links do not allow building page URLs, the listing falls back to
following `links.next`, with the loop and origin checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from upcall_sync.client.paging import canonical
from upcall_sync.client.resources import parse_resource
from upcall_sync.client.transport import Page, Transport

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


@dataclass(frozen=True)
class Listing(Generic[R]):
    """One filtered listing endpoint and how each of its resources becomes a row `R`:
    a client model (`Listing.of`), or one of the client's fast rows (`rows.NumberRow`)."""

    path: str
    types: tuple[str, ...]
    row: Callable[[Any], R]
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, path: str, model: type[M], types: tuple[str, ...], params: dict[str, Any]
    ) -> Listing[M]:
        """A listing whose resources parse into the pydantic `model`."""

        def row(item: Any) -> M:
            return parse_resource(item, model, types, method="GET", url=path)

        return Listing(path, types, row, params)

    def parse(self, items: list[dict[str, Any]]) -> list[R]:
        row = self.row
        return [row(item) for item in items]

    def with_rows(self, fn: Callable[[R], S]) -> Listing[S]:
        """The same listing, each row mapped by `fn` as its page arrives (in the thread
        that read the page): how the state layer turns API rows into live values while
        the other pages are still on the wire."""
        row = self.row

        def mapped(item: Any) -> S:
            return fn(row(item))

        return Listing(self.path, self.types, mapped, self.params)


def gather(futures: Sequence[Future[T]]) -> list[T]:
    """Results in order; the first failure cancels what has not started and is raised."""
    if not futures:
        return []
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for f in done:
        exc = f.exception()
        if exc is not None:
            for p in pending:
                p.cancel()
            raise exc
    return [f.result() for f in futures]


def submit_all(pool: Executor, fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    return gather([pool.submit(fn, item) for item in items])


def first_pages(
    transport: Transport, pool: Executor, listings: Sequence[Listing[Any]]
) -> list[tuple[Page, list[Any]]]:
    """The first page of each listing, fetched and parsed in one task each."""

    def fetch(listing: Listing[Any]) -> tuple[Page, list[Any]]:
        page = transport.first_page(listing.path, listing.params)
        return page, listing.parse(page.items)

    return submit_all(pool, fetch, listings)


def read_all(
    transport: Transport,
    pool: Executor,
    listings: Sequence[Listing[Any]],
    firsts: Sequence[tuple[Page, list[Any]]] | None = None,
) -> list[list[Any]]:
    """Every resource of every listing, parsed; listings read breadth first in `pool`.

    Pages are parsed in the thread that fetched them, overlapping other
    requests' waits. Call from the thread that owns `pool` (tasks never wait
    on other tasks).
    """
    if firsts is None:
        firsts = first_pages(transport, pool, listings)
    pages: list[dict[int, tuple[Page, list[Any]]]] = [{f[0].number: f} for f in firsts]

    def fetch(listing: Listing[Any], url: str, number: int, size: int) -> tuple[Page, list[Any]]:
        page = transport.read_page(url, number, size)
        return page, listing.parse(page.items)

    def chain(listing: Listing[Any], first: Page) -> list[tuple[Page, list[Any]]]:
        return [(p, listing.parse(p.items)) for p in transport.follow(first)]

    jobs: list[tuple[int, Future[tuple[Page, list[Any]]]]] = []
    chains: list[tuple[int, Future[list[tuple[Page, list[Any]]]]]] = []
    for i, (listing, (first, _rows)) in enumerate(zip(listings, firsts, strict=True)):
        urls = transport.rest_urls(listing.path, listing.params, first)
        if urls is not None:
            size = first.size or transport.page_size
            jobs.extend((i, pool.submit(fetch, listing, url, n, size)) for n, url in urls)
        elif first.has_next:
            chains.append((i, pool.submit(chain, listing, first)))
    for (i, _job), done in zip(jobs, gather([f for _i, f in jobs]), strict=True):
        pages[i][done[0].number] = done
    for (i, _chain), followed in zip(chains, gather([f for _i, f in chains]), strict=True):
        for done in followed:
            pages[i][done[0].number] = done
    return [
        _rows_of(transport, listing, by_number)
        for listing, by_number in zip(listings, pages, strict=True)
    ]


def _rows_of(
    transport: Transport, listing: Listing[Any], by_number: dict[int, tuple[Page, list[Any]]]
) -> list[Any]:
    """One listing's rows in page order: finished link by link if it grew while being
    read, and without a row seen twice (one that moved across a page boundary)."""
    ordered = [by_number[n] for n in sorted(by_number)]
    tail = ordered[-1][0]
    if tail.has_next:  # the listing grew while we read it: finish it link by link
        seen = {canonical(p.url) for p, _rows in ordered}
        ordered.extend((p, listing.parse(p.items)) for p in transport.follow(tail, seen))
    rows: list[Any] = []
    ids: set[Any] = set()
    for page, page_rows in ordered:
        for item, parsed in zip(page.items, page_rows, strict=True):
            key = item.get("id") if isinstance(item, dict) else None
            if key is not None and key in ids:
                continue
            if key is not None:
                ids.add(key)
            rows.append(parsed)
    return rows
