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

from upcall_sync.client.resources import parse_resource
from upcall_sync.client.transport import Page, Transport, _canonical

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[M]):
    """One filtered listing endpoint and the model its resources parse into."""

    path: str
    model: type[M]
    types: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def parse(self, items: list[dict[str, Any]]) -> list[M]:
        return [
            parse_resource(item, self.model, self.types, method="GET", url=self.path)
            for item in items
        ]


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


def read_all(
    transport: Transport,
    pool: Executor,
    listings: Sequence[Listing[Any]],
    firsts: Sequence[Page] | None = None,
) -> list[list[Any]]:
    """Every resource of every listing, parsed; listings read breadth first in `pool`.

    Call from the thread that owns `pool` (tasks never wait on other tasks).
    """
    if firsts is None:
        firsts = submit_all(pool, lambda lst: transport.first_page(lst.path, lst.params), listings)
    pages: list[dict[int, Page]] = [{f.number: f} for f in firsts]
    jobs: list[tuple[int, Future[Page]]] = []
    chains: list[tuple[int, Future[list[Page]]]] = []
    for i, (listing, first) in enumerate(zip(listings, firsts, strict=True)):
        urls = transport.rest_urls(listing.path, listing.params, first)
        if urls is not None:
            size = first.size or transport.page_size
            jobs.extend((i, pool.submit(transport.read_page, url, n, size)) for n, url in urls)
        elif first.has_next:
            chains.append((i, pool.submit(lambda p: list(transport.follow(p)), first)))
    for (i, _job), page in zip(jobs, gather([f for _i, f in jobs]), strict=True):
        pages[i][page.number] = page
    for (i, _chain), chain in zip(chains, gather([f for _i, f in chains]), strict=True):
        for page in chain:
            pages[i][page.number] = page
    out: list[list[Any]] = []
    for listing, by_number in zip(listings, pages, strict=True):
        ordered = [by_number[n] for n in sorted(by_number)]
        tail = ordered[-1]
        if tail.has_next:  # the listing grew while we read it: finish it link by link
            seen = {_canonical(p.url) for p in ordered}
            ordered.extend(transport.follow(tail, seen))
        items: list[dict[str, Any]] = []
        ids: set[Any] = set()
        for page in ordered:
            for item in page.items:
                key = item.get("id") if isinstance(item, dict) else None
                if key is not None and key in ids:
                    continue  # a row that moved across a page boundary while reading
                if key is not None:
                    ids.add(key)
                items.append(item)
        out.append(listing.parse(items))
    return out
