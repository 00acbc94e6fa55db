"""The Upcall v1 API as typed methods: campaigns, campaign numbers, contact lists."""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from concurrent.futures import Executor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from upcall_sync.client.breaker import UNREACHABLE_AFTER, CircuitBreaker
from upcall_sync.client.listings import Listing, M, first_pages, read_all
from upcall_sync.client.lists import ContactListsApi, _filters
from upcall_sync.client.models import (
    Campaign,
    CampaignAttributes,
    CampaignNumber,
)
from upcall_sync.client.ratelimit import RateLimiter
from upcall_sync.client.resources import contact_row, document, live_contact, parse_single
from upcall_sync.client.transport import (
    DEFAULT_BASE_URL,
    DEFAULT_PAGE_SIZE,
    Page,
    RetryPolicy,
    Timeouts,
    Transport,
    make_session,
)
from upcall_sync.core.model import CAMPAIGN_STATUSES, LiveNumber
from upcall_sync.errors import NoToken, UsageError
from upcall_sync.redact import Secret, strip_token

CAMPAIGN_TYPES = ("campaigns",)
NUMBER_TYPES = ("campaign_numbers",)


class UpcallClient(ContactListsApi):
    """Typed access to one Upcall account (one auth token)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def __repr__(self) -> str:
        return f"UpcallClient({self.transport!r})"

    @classmethod
    def connect(
        cls,
        base_url: str | None = None,
        token: str | Secret | None = None,
        *,
        token_file: str | Path | None = None,
        session: requests.Session | None = None,
        parallelism: int = 8,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        max_rps: float | None = None,
        unreachable_after: float = UNREACHABLE_AFTER,
        page_size: int | None = None,
    ) -> UpcallClient:
        """A client from explicit values, falling back to UPCALL_API_URL / UPCALL_AUTH_TOKEN.

        `max_rps` caps the request rate up front (the limiter still learns a lower
        limit from 429s); `unreachable_after` is how long no request may be answered
        before every request fails at once with ApiUnreachable; `page_size` is what
        listings ask for (a 400 halves it for the run).
        """
        url = base_url or os.environ.get("UPCALL_API_URL") or DEFAULT_BASE_URL
        secret = resolve_token(token, token_file)
        transport = Transport(
            url,
            secret,
            session=session if session is not None else make_session(parallelism),
            timeouts=timeouts,
            retry=retry,
            allow_insecure_http=allow_insecure_http,
            limiter=RateLimiter(max_rps),
            breaker=CircuitBreaker(unreachable_after, where=_origin(url)),
            page_size=page_size or DEFAULT_PAGE_SIZE,
        )
        return cls(transport)

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
        return Listing("/campaigns", Campaign, CAMPAIGN_TYPES, clean)

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
        return Listing(
            f"/campaigns/{campaign_id}/numbers", CampaignNumber, NUMBER_TYPES, _filters(filters)
        )

    def number_rows(self, campaign_id: str, **filters: str | None) -> Listing[CampaignNumber]:
        """`numbers_listing`, its rows read straight into the live numbers plans compare
        (the hot path: no model object per row)."""
        return self.numbers_listing(campaign_id, **filters).with_rows(number_row)

    def number_pages(
        self, campaign_id: str, **filters: str | None
    ) -> Generator[tuple[Page, list[CampaignNumber]]]:
        listing = self.numbers_listing(campaign_id, **filters)
        for page in self.transport.pages(listing.path, listing.params):
            yield page, listing.parse(page.items)

    def first_page(self, listing: Listing[M]) -> tuple[Page, list[M]]:
        """The first page of a listing: its items, and (links.last) how many pages follow."""
        page = self.transport.first_page(listing.path, listing.params)
        return page, listing.parse(page.items)

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


def resolve_token(token: str | Secret | None, token_file: str | Path | None) -> Secret:
    """The token from an argument, a token file, UPCALL_AUTH_TOKEN or UPCALL_AUTH_TOKEN_FILE."""
    if isinstance(token, Secret):
        return token
    if token:
        return Secret(token)
    path = token_file or os.environ.get("UPCALL_AUTH_TOKEN_FILE")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8-sig").strip()  # -sig: Notepad's BOM
        except OSError as exc:
            raise UsageError(f"cannot read token file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"token file {path} is not UTF-8 text") from None
        if not value:
            raise UsageError(f"token file {path} is empty")
        if any(ch.isspace() for ch in value):
            raise UsageError(
                f"token file {path} holds more than the token (whitespace inside it); "
                "it must hold the token alone"
            )
        return Secret(value)
    env = os.environ.get("UPCALL_AUTH_TOKEN", "").strip()
    if env:
        return Secret(env)
    raise NoToken("no auth token: set UPCALL_AUTH_TOKEN or UPCALL_AUTH_TOKEN_FILE")


def number_row(item: Any) -> LiveNumber:
    """A `campaign_numbers` resource as the live number a plan compares."""
    rid, status, values = contact_row(
        item, NUMBER_TYPES, method="GET", url="/campaigns/:id/numbers"
    )
    return LiveNumber(id=rid, contact=live_contact(values), status=status)
