"""`upcall-sync doctor`: a live API checked against every assumption the client makes.

Read-only: every request is a GET. Each check gives a verdict, its evidence,
and what in plan or apply rests on it (docs/api-contract.md has one row per
assumption and names the check that verifies it):

- PASS: the assumption holds, as far as the account's data lets us see.
- WARN: it holds with a caveat the client copes with (no `links.last`:
  slower, still right; datetimes without an offset: read as UTC).
- SKIP: not checked: the account has no data to check it on (no campaigns,
  no numbers, no contact list), or an earlier check failed. Never a PASS.
- FAIL: it does not hold, and plan or apply would go wrong. A required check
  that fails makes the report not `ok` (the command exits 1).

Every probe goes through the client's rate limiter and retry policy, so a
stray 429 or 503 is retried as plan would retry it, not reported as a FAIL.

Uses only the client (its raw probe, models and parsers), never the emulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
import requests

from upcall_sync.client import Page, UpcallClient
from upcall_sync.client.api import CAMPAIGN_TYPES
from upcall_sync.client.models import Campaign, ContactList
from upcall_sync.client.paging import page_number, page_size
from upcall_sync.client.resources import parse_resource
from upcall_sync.client.responses import excerpt, parse_error_document
from upcall_sync.core.normalize import api_v1_path
from upcall_sync.errors import (
    ApiResponseError,
    ApiStatusError,
    TransportError,
    UpcallSyncError,
    shown_name,
)
from upcall_sync.jobs.doctor_report import (
    FAIL,
    INFORMATIONAL,
    NEEDED_BY,
    PASS,
    SKIP,
    WARN,
    Check,
    Report,
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
BIG_PAGE = 1000
#: 555-0100..0199 numbers are reserved for fiction: no account's caller ID
FICTIONAL_NUMBER = "+12125550199"
MISSING_ID = "0"
API_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
RATE_HEADERS = ("ratelimit", "x-ratelimit", "retry-after")
NUMBER_PROBES = 5

#: the checks after base-url and token, in the order they run
ORDER = tuple(NEEDED_BY)[2:-1]


class _Skip(Exception):
    """A check that cannot run; its message says why (SKIP: not checked)."""


def run_doctor(client: UpcallClient) -> Report:
    """Every check, in order; never raises for what the API does (that is a verdict)."""
    return _Doctor(client).run()


# -- the checks --------------------------------------------------------------------------


@dataclass
class _Campaigns:
    """What the first requests learned, for the checks after them."""

    small: dict[str, Any]
    big: dict[str, Any]
    #: why the page of page[size]=1000 could not be read, if it could not
    big_error: str = ""
    #: the page size accepted after page[size]=1000 was refused with 400 (0: it was not)
    fell_back_to: int = 0

    @property
    def items(self) -> list[Any]:
        data = self.big.get("data")
        return data if isinstance(data, list) else []

    def links(self, doc: dict[str, Any]) -> dict[str, Any]:
        links = doc.get("links")
        return links if isinstance(links, dict) else {}

    @property
    def more_than_one(self) -> bool:
        return len(self.items) > 1 or "next" in self.links(self.big)


class _Doctor:
    def __init__(self, client: UpcallClient) -> None:
        self.client = client
        self.api = client.probe()
        self.report = Report(self.api.redact(self.api.base_url))
        self.headers: dict[str, str] = {}
        self.statuses: list[int] = []
        self.list_id: str | None = None
        self.number: tuple[str, str, str] | None = None  # campaign id, number id, phone
        self.blocked = "the API could not be read"

    def run(self) -> Report:
        with self.api.watching(self._saw):
            seen = self._reachable()
            if seen is not None:
                self._all(seen)
            else:
                for name in ORDER:
                    self._put(name, SKIP, f"not checked: {self.blocked}")
            self._add("rate-limit", self._rate_limit)
        return self.report

    def _saw(self, resp: requests.Response) -> None:
        self.statuses.append(resp.status_code)
        for key, value in resp.headers.items():
            if key.lower().startswith(RATE_HEADERS):
                self.headers[key] = value

    def _add(self, name: str, fn: Callable[[], tuple[str, str]]) -> None:
        try:
            verdict, evidence = fn()
        except _Skip as skip:
            verdict, evidence = SKIP, str(skip)
        except UpcallSyncError as exc:
            verdict, evidence = FAIL, exc.one_line()
        except (LookupError, TypeError, ValueError, AttributeError) as exc:
            # data of a shape no check expected: a verdict too, not a crash
            verdict, evidence = FAIL, f"unexpected data in a response: {type(exc).__name__}: {exc}"
        self._put(name, verdict, evidence)

    def _put(self, name: str, verdict: str, evidence: str) -> None:
        self.report.checks.append(
            Check(
                name,
                verdict,
                # evidence quotes the server (a phone, an error message, a header): its
                # control characters escaped, so it cannot forge a line or drive a terminal
                shown_name(self.api.redact(evidence)),
                NEEDED_BY[name],
                required=name not in INFORMATIONAL,
            )
        )

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        doc = self.api.document(path, **params)
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list | dict):
            raise ApiResponseError(
                f"GET {path} -> 200, but not a JSON:API document with data", method="GET", url=path
            )
        return doc

    # -- reaching the API at all ---------------------------------------------------------

    def _reachable(self) -> _Campaigns | None:
        """base-url and token, from one small page of /campaigns."""
        try:
            small = self._get("/campaigns", **{"page[number]": 1, "page[size]": 1})
        except ApiStatusError as exc:
            self._refused(exc)
            return None
        except UpcallSyncError as exc:
            hint = "" if isinstance(exc, TransportError) else self._hint()
            self._put("base-url", FAIL, exc.one_line() + hint)
            self._put("token", SKIP, "not checked: the API could not be read")
            return None
        self._put("base-url", PASS, "GET /campaigns -> 200, a JSON:API document")
        self._put("token", PASS, "accepted (GET /campaigns -> 200)")
        try:
            big = self._get("/campaigns", **{"page[number]": 1, "page[size]": BIG_PAGE})
        except ApiStatusError as exc:
            if exc.status != 400:
                return _Campaigns(small, {}, exc.one_line())
            return self._smaller(small, exc)
        except UpcallSyncError as exc:
            return _Campaigns(small, {}, exc.one_line())
        return _Campaigns(small, big)

    def _smaller(self, small: dict[str, Any], refused: ApiStatusError) -> _Campaigns:
        """page[size]=1000 refused with 400: the client's own fallback (halving)."""
        try:
            page = self.api.first_page("/campaigns", {}, BIG_PAGE)
        except UpcallSyncError:
            return _Campaigns(small, {}, refused.one_line())
        size = page_size(page.url) or 0
        big = {"data": page.items, "links": {"self": page.url}}
        return _Campaigns(small, big, fell_back_to=size)

    def _refused(self, exc: ApiStatusError) -> None:
        check = "check UPCALL_AUTH_TOKEN or UPCALL_AUTH_TOKEN_FILE (or the token file given)"
        why = {
            401: "the API refused the token (HTTP 401 on GET /campaigns)",
            403: "the token may not read campaigns (HTTP 403 on GET /campaigns): it is "
            "valid, but not allowed to do this",
        }.get(exc.status or 0)
        if why is None and exc.status in REDIRECTS:
            why = self._redirected(exc.status or 0)
        if why is not None:
            self._put("base-url", PASS, f"the server answers GET /campaigns (HTTP {exc.status})")
            self.blocked = "the token was refused"
            self._put("token", FAIL, f"{why}: {check}")
            return
        status = exc.status or 0
        if (status == 429 or status >= 500) and self._served():
            # throttled past the client's wait, or a server error through every retry (a
            # 503 storm), at the API's path: not a wrong URL to fix
            why = "the API is throttling" if status == 429 else "a server error"
            self.blocked = f"GET /campaigns answered HTTP {status} ({why})"
            self._put("base-url", FAIL, f"{exc.one_line()}; run doctor again later")
            self.report.retry_later = True
            self._put("token", SKIP, f"not checked: {self.blocked}")
            return
        self._put("base-url", FAIL, exc.one_line() + self._hint())
        self._put("token", SKIP, "not checked: the base URL does not serve /campaigns")
        self.blocked = "the base URL does not serve /campaigns"

    def _served(self) -> bool:
        """Whether the base URL's path is the API's (`/api/v1`): `_hint` has no better."""
        return urlsplit(self.api.base_url).path.rstrip("/").endswith("/api/v1")

    def _redirected(self, status: int) -> str | None:
        """A redirect instead of data: how web apps answer a missing or wrong token (to a
        sign-in page). None when it only points at the same URL on https (the base URL's
        problem, reported as such)."""
        where = ""
        try:
            location = self.api.redirect_target("/campaigns")
        except UpcallSyncError:
            location = ""
        if location:
            target = urlsplit(location)
            here = urlsplit(self.api.base_url)
            if (
                target.scheme == "https"
                and here.scheme == "http"
                and (target.hostname == here.hostname)
            ):
                return None
            where = f" to {self.api.display(location)}"
        return (
            f"GET /campaigns answered HTTP {status} (a redirect{where}) instead of data, "
            "which is how the API turns away a missing or wrong token"
        )

    def _hint(self) -> str:
        parts = urlsplit(self.api.base_url)
        path = parts.path.rstrip("/")
        if path.endswith("/api/v1"):
            return "; this URL does not serve the Upcall v1 API"
        better = parts._replace(path=api_v1_path(path), query="", fragment="").geturl()
        return f"; the Upcall API lives under /api/v1: try --api-url {better}"

    def _all(self, seen: _Campaigns) -> None:
        self._add("links", lambda: self._links(seen))
        self._add("page-cap", lambda: self._page_cap(seen))
        self._add("name-filter", lambda: self._name_filter(seen))
        self._add("from-number-filter", lambda: self._from_number_filter(seen))
        self._add("campaign-by-id", lambda: self._campaign_by_id(seen))
        self._add("datetimes", lambda: self._datetimes(seen))
        self._add("numbers", lambda: self._numbers(seen))
        self._add("phone-filter", self._phone_filter)
        self._add("lists", self._lists)
        self._add("list-contacts", self._list_contacts)
        self._add("error-shape", self._error_shape)

    # -- paging ----------------------------------------------------------------------------

    def _links(self, seen: _Campaigns) -> tuple[str, str]:
        links = seen.links(seen.small)
        items = seen.small.get("data")
        if not links:
            return FAIL, "GET /campaigns has no links object: the client cannot page"
        if isinstance(items, list) and len(items) > 1:
            return FAIL, f"{len(items)} campaigns on a page of page[size]=1: the server ignores it"
        keys = ", ".join(k for k in ("self", "next", "last") if k in links)
        if not seen.more_than_one:
            raise _Skip(f"not checked: links.next needs 2 campaigns or more (links: {keys})")
        if "next" not in links:
            return FAIL, (
                "page 1 of page[size]=1 has no links.next though the account has more "
                "campaigns: the client would read only the first page of every listing"
            )
        last = page_number(links.get("last"))
        first = Page(list(items or []), 1, last, True, self._small_url(), links["next"], 1)
        second = next(self.api.follow(first), None)
        if second is None or second.items[:1] == first.items[:1]:
            return FAIL, "links.next does not lead to the next page"
        if "last" not in links:
            return WARN, (
                f"links: {keys}; no links.last, so the client follows links.next one page "
                "at a time (right, but long listings read slower)"
            )
        if first.last is None or first.last < 2:
            return FAIL, f"links.last ({links['last']!r}) does not name a later page number"
        return (
            PASS,
            f"links: {keys}; links.next leads to page 2; links.last names page {first.last}",
        )

    def _small_url(self) -> str:
        return self.api.url("/campaigns", {"page[number]": 1, "page[size]": 1})

    def _page_cap(self, seen: _Campaigns) -> tuple[str, str]:
        if seen.big_error:
            return FAIL, f"{seen.big_error} (the client asks for page[size]={BIG_PAGE})"
        if seen.fell_back_to:
            return WARN, (
                f"page[size]={BIG_PAGE} is refused with HTTP 400; the client halves the size "
                f"until one is accepted (page[size]={seen.fell_back_to}) and keeps it for the "
                f"run (--page-size {seen.fell_back_to} skips the refusals)"
            )
        links = seen.links(seen.big)
        count = len(seen.items)
        if count > BIG_PAGE:
            return FAIL, f"{count} campaigns on a page of page[size]={BIG_PAGE}: size ignored"
        reported = page_size(links.get("self")) or page_size(links.get("last"))
        if reported is None:
            return WARN, (
                f"the links carry no page[size]; {count} campaigns on page 1 of "
                f"page[size]={BIG_PAGE} (the client then builds page URLs with its own size)"
            )
        if reported < BIG_PAGE:
            return PASS, f"the server caps page[size] at {reported} (asked {BIG_PAGE})"
        return PASS, f"page[size]={BIG_PAGE} honoured ({count} campaigns on page 1)"

    # -- filters and documents -------------------------------------------------------------

    def _one_campaign(self, seen: _Campaigns) -> dict[str, Any]:
        for item in seen.items:
            attrs = item.get("attributes") if isinstance(item, dict) else None
            if isinstance(attrs, dict) and isinstance(attrs.get("name"), str):
                found: dict[str, Any] = item
                return found
        raise _Skip("not checked: no campaigns")

    def _name_filter(self, seen: _Campaigns) -> tuple[str, str]:
        item = self._one_campaign(seen)
        cid, name = str(item.get("id")), item["attributes"]["name"]
        found = self.client.list_campaigns(name=name)
        shown = _quote(name)
        if cid not in {c.id for c in found}:
            return FAIL, (
                f"?name={shown} did not return campaign {cid} of that name: plan would not "
                "find existing campaigns and would create them again"
            )
        others = [c for c in found if c.name != name]
        loose = len(name) > 1 and cid in {c.id for c in self.client.list_campaigns(name=name[:-1])}
        if others or loose:
            example = _quote(others[0].name) if others else _quote(name[:-1])
            return WARN, (
                f"?name= is not exact (it also matches {example}); plan re-checks names, "
                "so it stays right but reads more"
            )
        return PASS, f"?name={shown} returned exactly the {len(found)} campaign(s) of that name"

    def _from_number_filter(self, seen: _Campaigns) -> tuple[str, str]:
        asked = f"?from_number={FICTIONAL_NUMBER} (a fictional number)"
        try:
            found = self.client.list_campaigns(from_number=FICTIONAL_NUMBER)
        except ApiStatusError as exc:
            named = {f.field for f in exc.fields}
            if exc.status == 400 and named <= {"from_number", "base"}:
                return PASS, (
                    f"{asked} -> HTTP 400: the server checks the filter against the "
                    "account's confirmed numbers; plan asks it only for the from_numbers "
                    "of the manifests, which must be confirmed to be set at all"
                )
            raise
        if found and len(found) >= len(seen.items):
            return FAIL, (
                f"{asked} returned every campaign: the filter is ignored, and plan would "
                "believe every campaign already has its from_number"
            )
        if found:
            return WARN, f"{asked} returned {len(found)} campaign(s)"
        if not seen.items:
            raise _Skip(f"not checked: {asked} accepted, but with no campaigns it shows nothing")
        return PASS, f"{asked} accepted and returned no campaigns"

    def _campaign_by_id(self, seen: _Campaigns) -> tuple[str, str]:
        cid = str(self._one_campaign(seen).get("id"))
        got = self.client.get_campaign(cid)
        if got.id != cid:
            return FAIL, f"GET /campaigns/{cid} returned campaign {got.id}"
        return PASS, f"GET /campaigns/{cid} returned that campaign"

    def _datetimes(self, seen: _Campaigns) -> tuple[str, str]:
        values: list[tuple[str, str, Any]] = []
        for item in seen.items:
            parse_resource(item, Campaign, CAMPAIGN_TYPES, method="GET", url="/campaigns")
            attrs = item["attributes"]
            for key in ("created_at", "updated_at", "start_datetime", "end_datetime"):
                if attrs.get(key) is not None:
                    values.append((str(item.get("id")), key, attrs[key]))
        if not values:
            raise _Skip("not checked: no campaigns")
        rank = {PASS: 0, WARN: 1, FAIL: 2}
        worst = max(
            ((_datetime_verdict(v), cid, key, v) for cid, key, v in values),
            key=lambda w: rank[w[0]],
        )
        verdict, cid, key, value = worst
        if verdict == FAIL:
            return FAIL, f"campaign {cid} {key} is {value!r}: not an ISO 8601 datetime"
        if _naive(value):
            return WARN, (
                f"campaign {cid} {key} is {value!r}, without a UTC offset: the client reads "
                "such datetimes as UTC, whatever the machine's TZ says"
            )
        if verdict == WARN:
            return WARN, (
                f"campaign {cid} {key} is {value!r}, not UTC with milliseconds; the client "
                "parses it and compares to the second"
            )
        return PASS, f"{len(values)} datetimes, all UTC with milliseconds (e.g. {value})"

    def _numbers(self, seen: _Campaigns) -> tuple[str, str]:
        self._one_campaign(seen)
        tried = 0
        for item in [i for i in seen.items if isinstance(i, dict)][:NUMBER_PROBES]:
            cid = str(item.get("id"))
            tried += 1
            _page, rows = self.client.first_page(self.client.numbers_listing(cid))
            if rows:
                number = rows[0]
                self.number = (cid, number.id, number.phone)
                if not number.phone.startswith("+"):
                    return WARN, f"campaign {cid}: number phone {number.phone!r} is not E.164"
                return PASS, f"GET /campaigns/{cid}/numbers: campaign_numbers, phones in E.164"
        raise _Skip(f"not checked: no numbers in the first {tried} campaign(s)")

    def _phone_filter(self) -> tuple[str, str]:
        if self.number is None:
            raise _Skip("not checked: no campaign number to look up")
        cid, nid, phone = self.number
        if nid not in {n.id for n in self.client.list_numbers(cid, phone=phone)}:
            return FAIL, f"?phone={phone} did not return number {nid} of that phone"
        try:
            parsed = phonenumbers.parse(phone, None)
            styled = phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
        except phonenumbers.NumberParseException:
            return PASS, f"?phone={phone} finds number {nid}"
        loose = nid in {n.id for n in self.client.list_numbers(cid, phone=styled)}
        how = "normalises phones" if loose else "matches the exact text"
        return PASS, (
            f"?phone={phone} finds number {nid}; the filter {how} "
            f"(?phone={styled!r} finds {'it too' if loose else 'nothing'})"
        )

    # -- the inferred contact-list endpoints -----------------------------------------------

    def _lists(self) -> tuple[str, str]:
        try:
            page = self.api.first_page("/lists", {}, page_size=100)
        except ApiStatusError as exc:
            if exc.status == 404:
                return FAIL, (
                    "GET /lists -> 404: the inferred contact-list endpoints are missing, "
                    "so apply cannot stage contacts"
                )
            raise
        lists = [
            parse_resource(item, ContactList, ("lists",), method="GET", url="/lists")
            for item in page.items
        ]
        self.list_id = lists[0].id if lists else None
        return PASS, f"GET /lists -> 200: {len(lists)} contact list(s) on page 1"

    def _list_contacts(self) -> tuple[str, str]:
        if self.report.checks[-1].verdict == FAIL:
            raise _Skip("not checked: GET /lists failed")
        if self.list_id is None:
            raise _Skip("not checked: no contact list (apply creates one)")
        path = f"/lists/{self.list_id}/contacts"
        try:
            _page, rows = self.client.first_page(self.client.contacts_listing(self.list_id))
        except ApiStatusError as exc:
            if exc.status == 404:
                return FAIL, f"GET {path} -> 404: apply cannot stage contacts"
            raise
        return PASS, f"GET {path} -> 200: {len(rows)} list_contacts on page 1"

    # -- errors and rate limits --------------------------------------------------------------

    def _error_shape(self) -> tuple[str, str]:
        path = f"/campaigns/{MISSING_ID}"
        status, ctype, raw = self._raw_get(path)
        asked = f"GET {path} (no such campaign) -> {status}"
        if status != 404:
            return FAIL, f"{asked}, not 404: plan treats only 404 as 'gone'"
        return error_shape_verdict(asked, ctype, raw, self.api.redact)

    def _raw_get(self, path: str) -> tuple[int, str, bytes]:
        """One GET whose body we read as it is, with the client's limiter and retries."""
        return self.api.unchecked_get(path)

    def _rate_limit(self) -> tuple[str, str]:
        if not self.statuses:  # no answer at all: no headers to miss, nothing checked
            raise _Skip("not checked: the API never answered")
        retried = f"; {self.statuses.count(429)} answer(s) were 429" if 429 in self.statuses else ""
        if not self.headers:
            return (
                PASS,
                f"no rate-limit headers sent; the client relies on 429 + Retry-After{retried}",
            )
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(self.headers.items()))
        return PASS, f"{shown}{retried}"


# -- pure verdicts (tested directly) -------------------------------------------------------


def _datetime_verdict(value: Any) -> str:
    """PASS for the API's own form, WARN for another ISO 8601 (one without an offset is
    UTC, CONTRACT.md), FAIL for what is no datetime."""
    if not isinstance(value, str):
        return FAIL
    if API_DATETIME.fullmatch(value):
        return PASS
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return FAIL
    return WARN


def _naive(value: Any) -> bool:
    try:
        return datetime.fromisoformat(str(value)).tzinfo is None
    except ValueError:
        return False


def error_shape_verdict(
    asked: str, ctype: str, raw: bytes, redact: Callable[[str], str] | None = None
) -> tuple[str, str]:
    """What the client makes of a 404's body: a field map and JSON:API both pass. A body
    quoted is redacted (`redact`) before it is cut, as the client's errors are: a token
    the cut went through would be a prefix too short to be recognised afterwards."""
    try:
        doc = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        kind = ctype.split(";", maxsplit=1)[0].strip() or "no content type"
        return WARN, f"{asked} with a body that is not JSON ({kind}): {excerpt(raw, 40, redact)!r}"
    errors = doc.get("errors") if isinstance(doc, dict) else None
    messages = "; ".join(str(f) for f in parse_error_document(doc))
    if isinstance(errors, dict):
        return PASS, f"{asked} with a field map: {messages}"
    if isinstance(errors, list):
        said = {str(e.get("status")) for e in errors if isinstance(e, dict) and "status" in e}
        if said - {"404"}:
            return WARN, (
                f"{asked} with JSON:API error objects that say status {', '.join(sorted(said))} "
                f"(the client reads the HTTP status): {messages}"
            )
        return PASS, f"{asked} with JSON:API error objects: {messages}"
    shown = excerpt(raw, 40, redact)
    return WARN, f"{asked} with JSON the client does not read as errors: {shown!r}"


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


__all__ = ["Check", "Report", "error_shape_verdict", "run_doctor"]
