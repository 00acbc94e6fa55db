"""The Upcall v1 API as typed methods: campaigns, campaign numbers, contact lists."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from upcall_sync.client.breaker import UNREACHABLE_AFTER, CircuitBreaker
from upcall_sync.client.connection import DEFAULT_PARALLELISM, Connection, read_token
from upcall_sync.client.listings import Listing, R, first_pages, read_all
from upcall_sync.client.lists import ContactListsApi, _filters
from upcall_sync.client.models import (
    Campaign,
    CampaignAttributes,
    CampaignNumber,
)
from upcall_sync.client.observe import PageObserver
from upcall_sync.client.pager import Page
from upcall_sync.client.probe import Probe
from upcall_sync.client.ratelimit import LimiterStatus, RateLimiter
from upcall_sync.client.resources import contact_row, document, parse_single
from upcall_sync.client.rows import DecodedPage, NumberRow, decode_rows
from upcall_sync.client.slots import SendGate, Slots
from upcall_sync.client.transport import (
    RetryPolicy,
    Timeouts,
    Transport,
    checked_api_url,
    make_session,
)
from upcall_sync.core.model import CAMPAIGN_STATUSES
from upcall_sync.errors import UsageError
from upcall_sync.redact import Secret, strip_token

CAMPAIGN_TYPES = ("campaigns",)
NUMBER_TYPES = ("campaign_numbers",)
T = TypeVar("T")

#: the old name of `read_token`, for library callers
resolve_token = read_token


class Workers(ThreadPoolExecutor):
    """`ThreadPoolExecutor`, but a `with` block left by an exception (Ctrl-C's
    KeyboardInterrupt, SIGTERM's, a failed page) cancels the tasks not yet started:
    nobody is left to take their results. `ThreadPoolExecutor` runs every one of them
    first, so an interrupted plan or export read every page it had queued before it
    stopped: 21 s after Ctrl-C at `--parallelism 1` over 80 pages of 100 ms each,
    against 0.1-0.3 s now (found by a break-it review, b39).

    Left by a signal, it also ends the waits of the tasks in flight (`cancel`, the
    transport's: a wait for the rate limiter, or to retry after a 429's `Retry-After`)
    while it waits for them, and clears it again once they are done: a plan whose page
    waited out `Retry-After: 20` took 38 s to exit after Ctrl-C. A signal during that
    wait (a second Ctrl-C, or the first after a failed page) sets it too, and leaves it
    set: the tasks are still in flight, and a cleared `cancel` sent them back to their
    retries and `Retry-After` waits, which the process then waited out on exit (a
    timed-out page retried after a second Ctrl-C, on Pythons that join the pool's
    threads at exit)."""

    def __init__(self, max_workers: int, thread_name_prefix: str, cancel: threading.Event) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._cancel = cancel

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        signalled = isinstance(exc, KeyboardInterrupt) and not self._cancel.is_set()
        if signalled:
            self._cancel.set()
        try:
            self.shutdown(wait=True, cancel_futures=exc_type is not None)
        except KeyboardInterrupt:
            self._cancel.set()  # not cleared: the tasks in flight have not ended
            raise
        if signalled:
            self._cancel.clear()


class UpcallClient(ContactListsApi):
    """Typed access to one Upcall account (one auth token)."""

    def __init__(self, transport: Transport, parallelism: int = DEFAULT_PARALLELISM) -> None:
        self.transport = transport
        #: requests in flight at once: as many as its pooled connections (and the reading
        #: threads of `workers`; apply runs more workers, `slots.WORKERS_PER_SLOT`)
        self.parallelism = max(1, parallelism)
        transport.slots = Slots(self.parallelism)

    def __repr__(self) -> str:
        return f"UpcallClient({self.transport!r})"

    @classmethod
    def open(cls, connection: Connection, session: requests.Session | None = None) -> UpcallClient:
        """A client of one `Connection`: a session pooling `connection.parallelism`
        connections (unless one is injected), its timeouts, retries and rate limit."""
        url = connection.base_url
        # refused before its origin is taken for the breaker: one urlsplit cannot read
        # was an internal error there
        checked_api_url(url, allow_insecure_http=connection.allow_insecure_http)
        transport = Transport(
            url,
            connection.token,
            session=session if session is not None else make_session(connection.parallelism),
            timeouts=connection.timeouts,
            retry=connection.retry,
            allow_insecure_http=connection.allow_insecure_http,
            limiter=RateLimiter(connection.max_rps),
            breaker=CircuitBreaker(connection.unreachable_after, where=_origin(url)),
            page_size=connection.page_size,
        )
        return cls(transport, connection.parallelism)

    @classmethod
    def connect(
        cls,
        base_url: str | None = None,
        token: str | Secret | None = None,
        *,
        token_file: str | Path | None = None,
        session: requests.Session | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        max_rps: float | None = None,
        unreachable_after: float = UNREACHABLE_AFTER,
        page_size: int | None = None,
    ) -> UpcallClient:
        """A client from explicit values, falling back to UPCALL_API_URL / UPCALL_AUTH_TOKEN
        (`Connection.resolve`, then `open`).

        `max_rps` caps the request rate up front (the limiter still learns a lower
        limit from 429s); `unreachable_after` is how long no request may be answered
        before every request fails at once with ApiUnreachable; `page_size` is what
        listings ask for (a 400 halves it for the run).
        """
        connection = Connection.resolve(
            base_url,
            token,
            token_file=token_file,
            parallelism=parallelism,
            timeouts=timeouts,
            retry=retry,
            max_rps=max_rps,
            unreachable_after=unreachable_after,
            allow_insecure_http=allow_insecure_http,
            page_size=page_size,
        )
        return cls.open(connection, session)

    # -- what the rest of a run may know of the connection -----------------------

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def account(self) -> str:
        """A short one-way fingerprint of the account the token acts for (never the
        token): saved plans and the JSON plan record it."""
        return self.transport.account

    @property
    def read_timeout(self) -> float:
        """Seconds a response may take to start (the write side waits past it for a
        timed-out POST that may still be committed)."""
        return self.transport.timeouts.read

    def redact(self, text: str) -> str:
        """`text` without the token (raw, encoded, or as an auth_token value)."""
        return self.transport.redact(text)

    def workers(self, name: str) -> ThreadPoolExecutor:
        """A pool of `parallelism` threads for this client's requests (one per connection).
        A `with` block left by an exception cancels the tasks not started (`Workers`)."""
        return Workers(self.parallelism, name, self.transport.cancel)

    @contextlib.contextmanager
    def gated(self, gate: SendGate) -> Iterator[None]:
        """While the block runs, every request of this client asks `gate` before it goes
        out (apply's `StartGate`: nothing new starts once the run stopped)."""
        before, self.transport.gate = self.transport.gate, gate
        try:
            yield
        finally:
            self.transport.gate = before

    def retry(
        self,
        fn: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool],
        max_attempts: int | None = None,
        cancel: threading.Event | None = None,
        annotate: bool = True,
    ) -> T:
        """`fn()` under the client's one retry policy (backoff with jitter, bounded in
        time, stopped by the circuit breaker); `cancel` ends a wait with Cancelled."""
        return self.transport.retrier.call(
            fn, retry_if=retry_if, max_attempts=max_attempts, cancel=cancel, annotate=annotate
        )

    def limiter_status(self) -> LimiterStatus:
        """Whether the server is limiting this client's rate, and to what."""
        return self.transport.limiter.status()

    def probe(self) -> Probe:
        """Raw GET-only access for `doctor` (whole documents, single pages, any status)."""
        return Probe(self.transport)

    def interrupt(self) -> None:
        """From now on no request of this client is sent (each fails with Cancelled) and
        every wait ends (the rate limiter's, a retry's): for a command that a signal stops
        while it only reads (apply's convergence check), not while writes are in flight."""
        self.transport.cancel.set()

    def requests_sent(self) -> int:
        """How many requests this client has sent (retries included)."""
        return self.transport.stats.requests

    def observe_pages(self, observer: PageObserver | None) -> None:
        """Call `observer` with a `PageRead` after every listing page this client reads
        (from the thread that read it); None stops it. The one progress hook."""
        self.transport.on_page = observer

    # -- Campaigns ------------------------------------------------------------

    def campaigns_listing(
        self,
        *,
        name: str | None = None,
        language: str | None = None,
        status: str | None = None,
        from_number: str | None = None,
        min_start_datetime: datetime | None = None,
        max_start_datetime: datetime | None = None,
        min_created_datetime: datetime | None = None,
        max_created_datetime: datetime | None = None,
        min_updated_datetime: datetime | None = None,
        max_updated_datetime: datetime | None = None,
    ) -> Listing[Campaign]:
        """`GET /campaigns` with every documented filter, combined with AND."""
        if status is not None and status not in CAMPAIGN_STATUSES:
            raise UsageError(f"status filter must be one of {', '.join(CAMPAIGN_STATUSES)}")
        params = {
            "name": name,
            "language": language,
            "status": status,
            "from_number": from_number,
            "min_start_datetime": min_start_datetime,
            "max_start_datetime": max_start_datetime,
            "min_created_datetime": min_created_datetime,
            "max_created_datetime": max_created_datetime,
            "min_updated_datetime": min_updated_datetime,
            "max_updated_datetime": max_updated_datetime,
        }
        clean = {k: v for k, v in params.items() if v is not None}
        return Listing.of("/campaigns", Campaign, CAMPAIGN_TYPES, clean)

    def campaign_pages(self, **filters: Any) -> Generator[tuple[Page, list[Campaign]]]:
        """Pages of `GET /campaigns` (filters as for `campaigns_listing`)."""
        listing = self.campaigns_listing(**filters)
        for page in self.transport.pages(listing.path, listing.params):
            yield page, listing.parse(page.items)

    def list_campaigns(self, **filters: Any) -> list[Campaign]:
        """Every campaign matching the filters of `campaign_pages`."""
        return [c for _p, items in self.campaign_pages(**filters) for c in items]

    def get_campaign(self, campaign_id: str) -> Campaign:
        path = f"/campaigns/{campaign_id}"
        resp = self.transport.request("GET", path)
        return parse_single(resp.document, Campaign, CAMPAIGN_TYPES, method="GET", url=path)

    def create_campaign(self, attributes: CampaignAttributes) -> Campaign:
        body = document("campaigns", attributes.model_dump(mode="json", exclude_unset=True))
        resp = self.transport.request("POST", "/campaigns", body=body)
        return parse_single(
            resp.document, Campaign, CAMPAIGN_TYPES, method="POST", url="/campaigns"
        )

    def update_campaign(self, campaign_id: str, attributes: CampaignAttributes) -> Campaign:
        path = f"/campaigns/{campaign_id}"
        body = document(
            "campaigns", attributes.model_dump(mode="json", exclude_unset=True), campaign_id
        )
        resp = self.transport.request("PATCH", path, body=body)
        return parse_single(resp.document, Campaign, CAMPAIGN_TYPES, method="PATCH", url=path)

    # -- Campaign numbers -----------------------------------------------------

    def numbers_listing(self, campaign_id: str, **filters: str | None) -> Listing[CampaignNumber]:
        """`GET /campaigns/:id/numbers`.

        Filters: phone, first_name, last_name, title, company, email, recipient,
        line1, line2, city, region, postal_code, country (exact matches, AND).
        """
        return Listing.of(
            f"/campaigns/{campaign_id}/numbers", CampaignNumber, NUMBER_TYPES, _filters(filters)
        )

    def number_rows(self, campaign_id: str, **filters: str | None) -> Listing[NumberRow]:
        """`numbers_listing` read into fast rows, no model per row (the hot path)."""
        return Listing(
            f"/campaigns/{campaign_id}/numbers",
            NUMBER_TYPES,
            number_row,
            _filters(filters),
            decode=_decode_number_page,
        )

    def number_pages(
        self, campaign_id: str, **filters: str | None
    ) -> Generator[tuple[Page, list[CampaignNumber]]]:
        listing = self.numbers_listing(campaign_id, **filters)
        for page in self.transport.pages(listing.path, listing.params):
            yield page, listing.parse(page.items)

    def first_page(self, listing: Listing[R]) -> tuple[Page, list[R]]:
        """The first page of a listing: its items, and (links.last) how many pages follow."""
        page = self.transport.first_page(listing.path, listing.params, decode=listing.page_decoder)
        return page, listing.rows_of(page)

    def first_pages(
        self, pool: Executor, listings: Sequence[Listing[Any]]
    ) -> list[tuple[Page, list[Any]]]:
        """The first page of each listing (parsed), in parallel in `pool`."""
        return first_pages(self.transport, pool, listings)

    def read_all(
        self,
        pool: Executor,
        listings: Sequence[Listing[Any]],
        firsts: Sequence[tuple[Page, list[Any]]] | None = None,
    ) -> list[list[Any]]:
        """Every resource of many listings, read breadth first in `pool`."""
        return read_all(self.transport, pool, listings, firsts)

    def list_numbers(self, campaign_id: str, **filters: str | None) -> list[CampaignNumber]:
        return [n for _p, items in self.number_pages(campaign_id, **filters) for n in items]

    def add_number(self, campaign_id: str, list_contact_id: str | int) -> CampaignNumber:
        """Add a list contact to a campaign (`POST /campaigns/:id/numbers`)."""
        path = f"/campaigns/{campaign_id}/numbers"
        body = document("numbers", {"list_contact_id": int(list_contact_id)})
        resp = self.transport.request("POST", path, body=body)
        return parse_single(resp.document, CampaignNumber, NUMBER_TYPES, method="POST", url=path)


def _origin(url: str) -> str:
    parts = urlsplit(strip_token(url))
    return f"{parts.scheme}://{parts.netloc}"


def number_row(item: Any) -> NumberRow:
    """A `campaign_numbers` resource as a fast row."""
    rid, status, values = contact_row(
        item, NUMBER_TYPES, method="GET", url="/campaigns/:id/numbers"
    )
    return NumberRow(rid, status, values)


def _decode_number_page(raw: bytes) -> DecodedPage | None:
    """A page of `campaign_numbers` straight into rows (`rows.decode_rows`)."""
    return decode_rows(raw, NUMBER_TYPES, NumberRow)
