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
from functools import cached_property
from itertools import chain
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from upcall_sync.client.pager import Page, PageDecoder
from upcall_sync.client.paging import canonical
from upcall_sync.client.resources import parse_resource
from upcall_sync.client.rows import DecodedPage
from upcall_sync.client.transport import Transport

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


@dataclass(frozen=True)
class Listing(Generic[R]):
    """One filtered listing endpoint and how each of its resources becomes a row `R`:
    a client model (`Listing.of`), or one of the client's fast rows (`rows.NumberRow`).

    `row` turns one decoded resource into the listing's base row; `decode`, when set,
    makes a page of base rows straight from the body (`rows.decode_rows`), answering
    None to leave the page to `row`; `then` maps a page of base rows to `R` (the state
    layer's hook, `with_rows`/`with_pages`)."""

    path: str
    types: tuple[str, ...]
    row: Callable[[Any], Any]
    params: dict[str, Any] = field(default_factory=dict)
    decode: PageDecoder | None = None
    then: Callable[[list[Any]], list[R]] | None = None

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
        rows = [row(item) for item in items]
        return rows if self.then is None else self.then(rows)

    def rows_of(self, page: Page) -> list[R]:
        """A page's rows: those `page_decoder` made, else its items parsed."""
        return self.parse(page.items) if page.rows is None else page.rows

    @cached_property
    def page_decoder(self) -> PageDecoder | None:
        """What reads this listing's pages (`Transport.read_page(decode=)`): `decode`, its
        rows mapped by `then` at once, so that a page keeps only the rows it returns."""
        decode, then = self.decode, self.then
        if decode is None or then is None:
            return decode

        def decoded(raw: bytes) -> DecodedPage | None:
            page = decode(raw)
            return None if page is None else page._replace(rows=then(page.rows))

        return decoded

    def with_rows(self, fn: Callable[[R], S]) -> Listing[S]:
        """The same listing, each row mapped by `fn` as its page arrives (in the thread
        that read the page): how the state layer turns API rows into live values while
        the other pages are still on the wire."""
        then = self.then

        def mapped(rows: list[Any]) -> list[S]:
            return [fn(r) for r in (rows if then is None else then(rows))]

        return Listing(self.path, self.types, self.row, self.params, self.decode, mapped)

    def with_pages(self, fn: Callable[[list[R]], list[S]]) -> Listing[S]:
        """As `with_rows`, with `fn` mapping a whole page of rows at once (one call per
        page: the hot path's mapping, without a call per row)."""
        then = self.then
        if then is None:
            return Listing(self.path, self.types, self.row, self.params, self.decode, fn)

        def mapped(rows: list[Any]) -> list[S]:
            return fn(then(rows))

        return Listing(self.path, self.types, self.row, self.params, self.decode, mapped)


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
        page = transport.first_page(listing.path, listing.params, decode=listing.page_decoder)
        return page, listing.rows_of(page)

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
        page = transport.read_page(url, number, size, listing.page_decoder)
        return page, listing.rows_of(page)

    def follow(listing: Listing[Any], first: Page) -> list[tuple[Page, list[Any]]]:
        return [
            (p, listing.rows_of(p)) for p in transport.follow(first, None, listing.page_decoder)
        ]

    jobs: list[tuple[int, Future[tuple[Page, list[Any]]]]] = []
    chains: list[tuple[int, Future[list[tuple[Page, list[Any]]]]]] = []
    for i, (listing, (first, _rows)) in enumerate(zip(listings, firsts, strict=True)):
        urls = transport.rest_urls(listing.path, listing.params, first)
        if urls is not None:
            size = first.size or transport.page_size
            jobs.extend((i, pool.submit(fetch, listing, url, n, size)) for n, url in urls)
        elif first.has_next:
            chains.append((i, pool.submit(follow, listing, first)))
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
        ordered.extend(
            (p, listing.rows_of(p)) for p in transport.follow(tail, seen, listing.page_decoder)
        )
    ids: set[Any] = set(chain.from_iterable(p.ids for p, _rows in ordered))
    if None not in ids and len(ids) == sum(len(p.ids) for p, _rows in ordered):
        # no id twice (what nearly every listing is): the pages' rows as they are
        if len(ordered) == 1:
            return ordered[0][1]
        return list(chain.from_iterable(page_rows for _p, page_rows in ordered))
    rows: list[Any] = []
    ids = set()
    for page, page_rows in ordered:
        for key, parsed in zip(page.ids, page_rows, strict=True):
            if key is not None and key in ids:
                continue
            if key is not None:
                ids.add(key)
            rows.append(parsed)
    return rows
