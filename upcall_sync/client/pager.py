"""Listings, page by page: the paging half of `Transport` (its subclass sends the requests).

- Page 1 finds the page size a server takes: a 400 that names no field but the page's
  halves the size down to MIN_PAGE_SIZE, and the size accepted is kept for the run (the
  run's first listing finds it alone; the others wait for it).
- Pages 2..last are built the way the server builds its own links, with the page size
  it reports, so they can be read in parallel (`rest_urls`); otherwise `links.next` is
  followed, refused when it leaves the API's origin (the token would go with it) or
  returns to a page already read (`follow`).

Knows nothing of manifests or plans; no request of its own: `get_page` is the subclass's.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from upcall_sync.client.observe import PageObserver, PageRead
from upcall_sync.client.paging import canonical, page_facts, page_size
from upcall_sync.client.responses import Response
from upcall_sync.client.rows import DecodedPage
from upcall_sync.errors import ApiResponseError, ApiStatusError, PaginationError
from upcall_sync.redact import Redactor, strip_token

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGES", "MIN_PAGE_SIZE", "Page", "PageDecoder", "Pager"]

log = logging.getLogger("upcall_sync.http")

MAX_PAGES = 100_000
#: the page size a run asks for, and the smallest it falls back to after 400s
DEFAULT_PAGE_SIZE = 1000
MIN_PAGE_SIZE = 10
#: error fields that say the page parameters were refused (field maps and JSON:API
#: `source.parameter`; a pointer's last part for `page[size]` is the whole name)
PAGE_FIELDS = frozenset({"page", "page[size]", "page.size", "page_size", "size", "base"})


@dataclass(frozen=True)
class Page:
    """One page of a listing: its resources and its pagination facts.

    `size` is the page size the server says it uses (from its own links), not
    the one we asked for; `next_url` is `links.next`, not yet checked.
    """

    items: list[dict[str, Any]]
    number: int
    last: int | None
    has_next: bool
    url: str = ""
    next_url: Any = None
    size: int | None = None
    #: the page's rows when a listing's decoder made them straight from the body
    #: (`rows.decode_rows`; `items` is then empty), else None: parse `items`
    rows: list[Any] | None = None
    #: each resource's `id` as sent (None for a resource without one), in order
    ids: list[Any] = field(default_factory=list)


#: a listing's page decoder (`rows.decode_rows`, bound): rows straight from the body,
#: or None to decode it as any answer and parse its items
PageDecoder = Callable[[bytes], DecodedPage | None]


class Pager(ABC):
    """Reads listings page by page over the requests its subclass sends (`get_page`)."""

    #: set by the subclass: the API's base URL, its origin (links.next must stay in it)
    base_url: str
    redact: Redactor
    _origin: tuple[str, str | None, int | None]
    _origin_text: str

    def _init_paging(self, page_size: int) -> None:
        #: the page size listings ask for; lowered for the run when a server refuses it
        self.page_size = page_size
        self._size_lock = threading.Lock()
        #: held by the run's first listing while it finds the page size the server takes
        self._size_finder = threading.Lock()
        self._size_known = threading.Event()
        #: told of every listing page read (`observe.PageRead`); None: nobody listens
        self.on_page: PageObserver | None = None

    @abstractmethod
    def get_page(self, url: str, decode: PageDecoder | None) -> Response:
        """The answer to `GET url` (retried as any GET): its rows when `decode` made them
        straight from the body, else its decoded JSON."""

    @abstractmethod
    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL for an API path, without the token."""

    @abstractmethod
    def display(self, url: str) -> str:
        """A URL fit for messages."""

    def read_page(
        self, url: str, number: int, asked: int, decode: PageDecoder | None = None
    ) -> Page:
        """One page of a listing, with what its links say about the rest; `decode`: the
        listing's own page decoder, tried first."""
        doc = self.get_page(url, decode).document
        rows: list[Any] | None = None
        items: list[dict[str, Any]] = []
        if isinstance(doc, DecodedPage):
            rows, ids = doc.rows, doc.ids
            links = doc.links if isinstance(doc.links, dict) else {}
        else:
            items, links = self._list_document(doc, url)
            ids = [item.get("id") if isinstance(item, dict) else None for item in items]
        if len(ids) > asked:
            log.warning(
                "GET %s returned %d items on a page of size %d; the server ignores page sizes",
                self.display(url),
                len(ids),
                asked,
            )
        nxt = links.get("next")
        last, size = page_facts(links.get("last"))
        page = Page(
            items=items,
            number=number,
            last=last,
            has_next=bool(nxt),
            url=url,
            next_url=nxt,
            size=size or page_size(links.get("self")),
            rows=rows,
            ids=ids,
        )
        if self.on_page is not None:
            self.on_page(PageRead(page.number, page.last, page.has_next))
        return page

    def first_page(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        decode: PageDecoder | None = None,
    ) -> Page:
        """Page 1 of a listing. A 400 that names no field but the page's (or none) halves
        the page size, down to MIN_PAGE_SIZE, and the size accepted is kept for the run:
        some servers refuse a page[size] above their cap instead of capping it. The run's
        first listing finds that size alone (the others wait for it), so a plan that opens
        hundreds of listings at once does not make each of them halve its way down."""
        if page_size is None and not self._size_known.is_set():
            with self._size_finder:
                if not self._size_known.is_set():
                    try:
                        return self._first_page(path, params, None, decode)
                    finally:
                        self._size_known.set()
        return self._first_page(path, params, page_size, decode)

    def _first_page(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        page_size: int | None,
        decode: PageDecoder | None = None,
    ) -> Page:
        size = page_size or self.page_size
        while True:
            url = self.url(path, {**(params or {}), "page[number]": 1, "page[size]": size})
            try:
                page = self.read_page(url, 1, size, decode)
            except ApiStatusError as exc:
                if not _refused_page_size(exc):
                    raise
                if size <= MIN_PAGE_SIZE:
                    if size < (page_size or self.page_size):  # halved all the way down
                        exc.args = (
                            f"{exc.args[0]}; page[size] was halved down to {size}: if the API "
                            "takes fewer, pass --page-size N (the most it takes)",
                            *exc.args[1:],
                        )
                    raise
                smaller = max(MIN_PAGE_SIZE, size // 2)
                log.info("GET %s: HTTP 400 for page[size]=%d; trying %d", path, size, smaller)
                size = smaller
                continue
            if page_size is None:
                with self._size_lock:
                    if size < self.page_size:
                        log.info("page[size]=%d accepted; using it for the rest of the run", size)
                        self.page_size = size
            return page

    def rest_urls(
        self, path: str, params: Mapping[str, Any] | None, first: Page
    ) -> list[tuple[int, str]] | None:
        """(number, URL) of pages 2..last, built the way the server builds its own links,
        with the page size *it* reports; None when its links do not allow that (then the
        caller follows links.next instead)."""
        if not first.has_next or not first.last or not first.size:
            return None
        if first.last <= first.number or first.last > MAX_PAGES:
            return None
        base = dict(params or {})
        return [
            (n, self.url(path, {**base, "page[number]": n, "page[size]": first.size}))
            for n in range(first.number + 1, first.last + 1)
        ]

    def follow(
        self, page: Page, seen: set[str] | None = None, decode: PageDecoder | None = None
    ) -> Iterator[Page]:
        """The pages after `page`, following links.next until it is absent.

        Refuses a links.next that leaves the API's origin (the token would go
        with it) or that returns to a page already read.
        """
        seen = seen if seen is not None else {canonical(page.url)}
        seen.add(canonical(page.url))
        current = page
        while current.has_next:
            url = self._follow(current.next_url, current.url)
            key = canonical(url)
            if key in seen:
                raise PaginationError(
                    f"GET {self.display(url)}: links.next points back at a page already read; "
                    "the server's pagination loops",
                    method="GET",
                    url=self.display(url),
                )
            seen.add(key)
            if len(seen) > MAX_PAGES:
                raise PaginationError(
                    f"GET {self.display(url)}: more than {MAX_PAGES:,} pages; giving up",
                    method="GET",
                    url=self.display(url),
                )
            size = current.size or self.page_size
            current = self.read_page(url, current.number + 1, size, decode)
            yield current

    def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[Page]:
        """Every page of a listing, one after another, following links.next."""
        first = self.first_page(path, params, page_size=page_size)
        yield first
        yield from self.follow(first)

    def _follow(self, nxt: Any, current: str) -> str:
        if not isinstance(nxt, str):
            raise ApiResponseError(
                f"GET {self.display(current)}: links.next is not a URL",
                method="GET",
                url=self.display(current),
            )
        parts = urlsplit(nxt)
        if not parts.scheme:  # a relative link: resolve against the current page
            base = urlsplit(current)
            parts = parts._replace(scheme=base.scheme, netloc=base.netloc)
        origin = (parts.scheme, parts.hostname, parts.port)
        if (
            parts.scheme == "http"
            and self._origin[0] == "https"
            and (parts.hostname == self._origin[1])
        ):
            # the reference's own links say http://: same host, followed on https only
            base = urlsplit(self.base_url)
            parts = parts._replace(scheme=base.scheme, netloc=base.netloc)
            origin = self._origin
        if origin != self._origin:
            shown = self.redact(strip_token(urlunsplit(parts)))
            raise PaginationError(
                f"GET {self.display(current)}: links.next leads to {shown}, outside "
                f"{self._origin_text}; not following it with the token",
                method="GET",
                url=self.display(current),
            )
        return strip_token(urlunsplit(parts))

    def _list_document(self, doc: Any, url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ApiResponseError(
                f"GET {self.display(url)}: expected a JSON:API document with a data list",
                method="GET",
                url=self.display(url),
            )
        links = doc.get("links") if isinstance(doc.get("links"), dict) else {}
        return doc["data"], links or {}


def _refused_page_size(exc: ApiStatusError) -> bool:
    """A 400 on a listing that may be about the page size: it names the page parameters,
    or no field at all (the decision rests on the status and the field, never the text)."""
    if exc.status != 400:
        return False
    return all(f.field.lower() in PAGE_FIELDS for f in exc.fields)
