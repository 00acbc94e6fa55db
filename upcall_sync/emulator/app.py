"""The Upcall v1 API's behaviour, as CONTRACT.md describes it, over a `Store`.

`Api.handle()` is pure request-in, response-out: no sockets here (the server
module owns the wire and the fault injection). Every bad input gets a 4xx with
a field-map body (or JSON:API error objects, with `error_style="jsonapi"`,
each carrying the response's own status), never a 500. Where the reference
leaves a question open, `Modes` picks the reading served (see modes.py).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import phonenumbers

from upcall_sync.emulator.exchange import (
    DATETIME_FILTERS,
    HttpError,
    Request,
    Result,
    bad,
    error_source,
    error_title,
)
from upcall_sync.emulator.modes import Modes
from upcall_sync.emulator.store import (
    ADDRESS_COLUMNS,
    CONTACT_COLUMNS,
    CONTACT_FILTERS,
    DuplicateNumber,
    PageResult,
    Row,
    Store,
)

API_PREFIX = "/api/v1"
STATUSES = ("pending", "ready", "paused", "completed", "archived")
CAMPAIGN_ATTRIBUTES = (
    "name",
    "instructions",
    "pitch",
    "start_datetime",
    "end_datetime",
    "language",
    "status",
    "from_number",
)
CONTACT_ATTRIBUTES = (
    "phone",
    "extension",
    "first_name",
    "last_name",
    "title",
    "company",
    "email",
    "address",
)
JSON_CONTENT_TYPES = ("application/json", "application/vnd.api+json", "text/json")


def parse_datetime(value: Any) -> str:
    """Any ISO 8601 datetime with Z or an offset, as the API's UTC-with-milliseconds text."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("no UTC offset")
    utc = parsed.astimezone(UTC)
    # isoformat pads every year to four digits (strftime's %Y writes year 999 as "999")
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: an API datetime's UTC marker, in a rendered document (naive_datetimes drops it)
_UTC_MARK = re.compile(rb'("\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z"')


def normalize_name(value: str) -> str:
    """A name as a normalizing server stores it: NFC, whitespace collapsed and trimmed."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def normalize_phone(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


Handler = Callable[["Api", Request, int, re.Match[str]], Result]


class Api:
    """Routes and handles Upcall v1 requests for every account in a store."""

    def __init__(
        self,
        store: Store,
        *,
        max_page_size: int = 100,
        default_page_size: int = 25,
        error_style: str = "fields",
        modes: Modes | None = None,
    ) -> None:
        self.store = store
        self.max_page_size = max_page_size
        self.default_page_size = min(default_page_size, max_page_size)
        self.error_style = error_style
        #: replaceable at any time (`api.modes = Modes(...)`), like `error_style`
        self.modes = modes or Modes()
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/campaigns"), Api.get_campaigns),
            ("POST", re.compile(r"/campaigns"), Api.post_campaign),
            ("PATCH", re.compile(r"/campaigns"), Api.patch_campaign_reference_form),
            ("GET", re.compile(r"/campaigns/(?P<id>[^/]+)"), Api.get_campaign),
            ("PATCH", re.compile(r"/campaigns/(?P<id>[^/]+)"), Api.patch_campaign),
            ("GET", re.compile(r"/campaigns/(?P<id>[^/]+)/numbers"), Api.get_numbers),
            ("POST", re.compile(r"/campaigns/(?P<id>[^/]+)/numbers"), Api.post_number),
            ("GET", re.compile(r"/lists"), Api.get_lists),
            ("POST", re.compile(r"/lists"), Api.post_list),
            ("GET", re.compile(r"/lists/(?P<id>[^/]+)/contacts"), Api.get_contacts),
            ("POST", re.compile(r"/lists/(?P<id>[^/]+)/contacts"), Api.post_contact),
            (
                "PATCH",
                re.compile(r"/lists/(?P<id>[^/]+)/contacts/(?P<cid>[^/]+)"),
                Api.patch_contact,
            ),
        ]

    # -- Entry point ----------------------------------------------------------

    @property
    def created(self) -> int:
        """The status of a POST that creates (`created_200`: 200 OK, else 201 Created)."""
        return 200 if self.modes.created_200 else 201

    def handle(self, req: Request) -> Result:
        try:
            return self._dispatch(req)
        except HttpError as exc:
            return Result(exc.status, self.error_body(exc.errors, exc.status), account=None)

    def error_body(self, errors: dict[str, list[str]], status: int = 400) -> dict[str, Any]:
        """A field map, or JSON:API error objects (`Result` stamps its status on those)."""
        if self.error_style == "jsonapi":
            return {
                "errors": [
                    {
                        "status": str(status),
                        "title": error_title(status, name),
                        "detail": msg,
                        **error_source(name),
                    }
                    for name, msgs in errors.items()
                    for msg in msgs
                ]
            }
        return {"errors": errors}

    def _dispatch(self, req: Request) -> Result:
        if not req.path.startswith(API_PREFIX + "/"):
            raise bad("base", "Not found", 404)
        path = req.path[len(API_PREFIX) :].rstrip("/") or "/"
        params = dict(req.query)
        token = params.get("auth_token", "")
        access = self.store.token_access(token) if token else None
        if access is None:
            raise bad("auth_token", "is missing or not valid", 401)
        account, read_only = access
        if self.modes.no_lists and (path == "/lists" or path.startswith("/lists/")):
            raise bad("base", "Not found", 404)
        allowed = []
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                allowed.append(method)
                if method == req.method:
                    if read_only and method != "GET":
                        raise bad("base", "This token may read but not make changes", 403)
                    result = handler(self, req, account, match)
                    result.account = account
                    return result
        if allowed:
            raise HttpError(
                405, {"base": [f"{req.method} is not allowed here; use {', '.join(allowed)}"]}
            )
        raise bad("base", "Not found", 404)

    # -- Shared pieces --------------------------------------------------------

    def _body(self, req: Request, types: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        ctype = req.content_type.split(";")[0].strip().lower()
        if ctype and ctype not in JSON_CONTENT_TYPES:
            raise bad("base", f"Content-Type {ctype} is not supported; send JSON", 415)
        try:
            doc = json.loads(req.body.decode("utf-8")) if req.body.strip() else None
        except (UnicodeDecodeError, ValueError):
            raise bad("base", "Request body is not valid JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise bad("data", "Request body must be a JSON object with a data object")
        data = doc["data"]
        if data.get("type") not in types:
            raise bad("type", f"must be {' or '.join(types)}")
        attrs = data.get("attributes", {})
        if not isinstance(attrs, dict):
            raise bad("attributes", "must be an object")
        return data, attrs

    def _id(self, raw: Any, name: str = "id") -> int:
        text = str(raw)
        if isinstance(raw, bool) or not text.isdigit() or len(text) > 18:
            raise bad(name, "Not found", 404)
        return int(text)

    def _page_params(self, req: Request) -> tuple[int, int]:
        params = dict(req.query)
        try:
            number = int(params.get("page[number]", "1"))
            size = int(params.get("page[size]", str(self.default_page_size)))
        except ValueError:
            raise bad("page", "page[number] and page[size] must be whole numbers") from None
        if number < 1 or size < 1:
            raise bad("page", "page[number] and page[size] must be at least 1")
        if number > 10_000_000:
            raise bad("page", "page[number] is too large")
        limit = self.modes.page_size_limit
        if limit and "page[size]" not in params:
            size = min(size, limit)
        if limit and size > limit:
            raise bad("page[size]", f"must be at most {limit}")
        return number, min(size, self.max_page_size)

    def _list(self, req: Request, fetch: Callable[[int, int], PageResult]) -> Result:
        number, size = self._page_params(req)
        override = req.override
        if override == "huge-page":
            page = fetch(1, 1_000_000)
            size = max(size, 1)
        else:
            page = fetch(number, size)
        total = page.total
        last = max(1, -(-total // size))
        base = [(k, v) for k, v in req.query if k not in ("page[number]", "page[size]")]
        origin = f"{'http' if self.modes.http_links else req.scheme}://{req.host}"

        def link(n: int, where: str = origin) -> str:
            query = urlencode([*base, ("page[number]", str(n)), ("page[size]", str(size))])
            return f"{where}{req.path}?{query}"

        links = {"self": link(number)}
        if not self.modes.no_last_link:
            links["last"] = link(last)
        if override == "loop-next":
            links["next"] = link(number)
        elif override == "foreign-next":
            links["next"] = link(number + 1, "http://attacker.example")
        elif override == "scheme-next":
            other = "https" if req.scheme == "http" else "http"
            links["next"] = link(number + 1, f"{other}://{req.host}")
        elif number < last and override != "huge-page":
            links["next"] = link(number + 1)
        raw = b'{"data":' + page.data.encode() + b',"links":' + json.dumps(links).encode() + b"}"
        return Result(200, None, raw=self._dates(raw))

    def _dates(self, raw: bytes) -> bytes:
        """A rendered document's datetimes, without their `Z` under `naive_datetimes`."""
        return _UTC_MARK.sub(rb'\1"', raw) if self.modes.naive_datetimes else raw

    def _single(self, kind: str, row: Row, status: int, *, wrote: bool = False) -> Result:
        """One resource's document, rendered by the store like the rows of a list page."""
        copied = self.modes.numbers_copy_contacts
        data = self.store.document(kind, int(row["id"]), copied=copied)
        raw = self._dates(b'{"data":' + data.encode() + b"}")
        return Result(status, None, raw=raw, wrote=wrote)

    # -- Campaigns ------------------------------------------------------------

    def get_campaigns(self, req: Request, account: int, _m: re.Match[str]) -> Result:
        filters: dict[str, Any] = {}
        params = dict(req.query)
        for name in ("name", "language"):
            if name in params:
                filters[name] = params[name]
        if "status" in params:
            if params["status"] not in STATUSES:
                raise bad("status", f"must be one of {', '.join(STATUSES)}")
            filters["status"] = params["status"]
        if "from_number" in params:
            filters["from_number"] = self._filter_phone(params["from_number"])
        for param, key in DATETIME_FILTERS.items():
            if param in params:
                try:
                    filters[key] = parse_datetime(params[param])
                except ValueError:
                    raise bad(param, "is not a valid datetime") from None
        return self._list(req, lambda n, s: self.store.list_campaigns(account, filters, n, s))

    def get_campaign(self, req: Request, account: int, m: re.Match[str]) -> Result:
        row = self.store.get_campaign(account, self._id(m["id"]))
        if row is None:
            raise bad("id", "Not found", 404)
        return self._single("campaign", row, 200)

    def _campaign_values(
        self, account: int, attrs: dict[str, Any], current: Row | None
    ) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for key in attrs:
            if key not in CAMPAIGN_ATTRIBUTES and self.modes.strict:
                errors.setdefault(key, []).append("is not a known attribute")
        for key in CAMPAIGN_ATTRIBUTES:
            if key not in attrs:
                continue
            value = attrs[key]
            if value is not None and not isinstance(value, str):
                errors.setdefault(key, []).append("must be a string")
                continue
            values[key] = value
        if self.modes.normalize_names and isinstance(values.get("name"), str):
            values["name"] = normalize_name(values["name"])
        name = values.get("name", current["name"] if current else None)
        if (current is None or "name" in values) and (
            not isinstance(name, str) or not name.strip()
        ):
            errors.setdefault("name", []).append("Campaign name is a required field")
        if "status" in values and values["status"] not in STATUSES:
            errors.setdefault("status", []).append(f"must be one of {', '.join(STATUSES)}")
        for key in ("start_datetime", "end_datetime"):
            if values.get(key) is not None:
                try:
                    values[key] = parse_datetime(values[key])
                except ValueError:
                    errors.setdefault(key, []).append("is not a valid datetime")
        start = values.get("start_datetime", current["start_datetime"] if current else None)
        end = values.get("end_datetime", current["end_datetime"] if current else None)
        if (
            self.modes.strict
            and start
            and end
            and "start_datetime" not in errors
            and "end_datetime" not in errors
            and end <= start
        ):
            errors.setdefault("end_datetime", []).append("must be after start_datetime")
        if values.get("from_number") is not None:
            phone = normalize_phone(values["from_number"])
            if phone is None or not self.store.is_confirmed(account, phone):
                errors.setdefault("from_number", []).append("Couldn't find that number")
            else:
                values["from_number"] = phone
        if errors:
            raise HttpError(400, errors)
        return values

    def post_campaign(self, req: Request, account: int, _m: re.Match[str]) -> Result:
        _data, attrs = self._body(req, ("campaigns",))
        values = self._campaign_values(account, attrs, None)
        if self.modes.strict and values.get("status") is None:
            values["status"] = "pending"
        if self.modes.create_ready:  # the status sent is ignored: the default dials
            values["status"] = "ready"
        row = self.store.create_campaign(account, values)
        return self._single("campaign", row, self.created, wrote=True)

    def patch_campaign(self, req: Request, account: int, m: re.Match[str]) -> Result:
        campaign_id = self._id(m["id"])
        data, attrs = self._body(req, ("campaigns",))
        if "id" in data and str(data["id"]) != str(campaign_id):
            raise bad("id", "does not match the campaign in the URL", 409)
        return self._patch(account, campaign_id, attrs)

    def patch_campaign_reference_form(
        self, req: Request, account: int, _m: re.Match[str]
    ) -> Result:
        """`PATCH /campaigns` with `data.id`: the reference's own (slipped) form."""
        data, attrs = self._body(req, ("campaigns",))
        if "id" not in data:
            raise bad("id", "is required to update a campaign")
        return self._patch(account, self._id(data["id"]), attrs)

    def _patch(self, account: int, campaign_id: int, attrs: dict[str, Any]) -> Result:
        current = self.store.get_campaign(account, campaign_id)
        if current is None:
            raise bad("id", "Not found", 404)
        values = self._campaign_values(account, attrs, current)
        if "status" in values and values["status"] is None:
            raise bad("status", f"must be one of {', '.join(STATUSES)}")
        if self.modes.patch_replace:  # what was not sent is gone
            blank: dict[str, Any] = dict.fromkeys(CAMPAIGN_ATTRIBUTES)
            values = {**blank, "name": "", "status": "pending", **values}
        row = self.store.update_campaign(account, campaign_id, values)
        return self._single("campaign", row, 200, wrote=True)

    # -- Campaign numbers -----------------------------------------------------

    def _contact_filters(self, req: Request) -> dict[str, Any]:
        params = dict(req.query)
        filters = {k: params[k] for k in CONTACT_FILTERS if k in params}
        if "phone" in filters:
            filters["phone"] = self._filter_phone(filters["phone"])
        return filters

    def _filter_phone(self, value: str) -> str:
        """A phone filter value: exactly as sent, or normalised to E.164 (`normalize_filters`)."""
        if not self.modes.normalize_filters:
            return value
        return normalize_phone(value) or value

    def get_numbers(self, req: Request, account: int, m: re.Match[str]) -> Result:
        campaign_id = self._id(m["id"])
        if self.store.get_campaign(account, campaign_id) is None:
            raise bad("id", "Not found", 404)
        filters = self._contact_filters(req)
        copied = self.modes.numbers_copy_contacts
        return self._list(
            req,
            lambda n, s: self.store.list_numbers(
                account, campaign_id, filters, n, s, copied=copied
            ),
        )

    def post_number(self, req: Request, account: int, m: re.Match[str]) -> Result:
        campaign_id = self._id(m["id"])
        if self.store.get_campaign(account, campaign_id) is None:
            raise bad("id", "Not found", 404)
        # The reference's two examples disagree on the type; accept both.
        _data, attrs = self._body(req, ("numbers", "campaigns", "campaign_numbers"))
        unknown = [k for k in attrs if k != "list_contact_id"]
        if unknown and self.modes.strict:
            raise HttpError(400, {k: ["is not a known attribute"] for k in unknown})
        raw = attrs.get("list_contact_id")
        if raw is None:
            raise bad("list_contact_id", "is required")
        if isinstance(raw, bool) or not (
            isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit())
        ):
            raise bad("list_contact_id", "must be a contact id")
        contact_id = int(raw)
        if contact_id > 2**62 or self.store.get_contact(account, contact_id) is None:
            raise bad("list_contact_id", "Couldn't find that contact")
        try:
            row = self.store.add_number(
                account, campaign_id, contact_id, copied=self.modes.numbers_copy_contacts
            )
        except DuplicateNumber:
            raise bad("list_contact_id", self.modes.duplicate_number_message) from None
        return self._single("number", row, self.created, wrote=True)

    # -- Contact lists (inferred) ---------------------------------------------

    def get_lists(self, req: Request, account: int, _m: re.Match[str]) -> Result:
        name = dict(req.query).get("name")
        return self._list(req, lambda n, s: self.store.list_lists(account, name, n, s))

    def post_list(self, req: Request, account: int, _m: re.Match[str]) -> Result:
        _data, attrs = self._body(req, ("lists",))
        unknown = [k for k in attrs if k != "name"]
        if unknown and self.modes.strict:
            raise HttpError(400, {k: ["is not a known attribute"] for k in unknown})
        name = attrs.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad("name", "List name is a required field")
        if self.modes.normalize_names:
            name = normalize_name(name)
        return self._single("list", self.store.create_list(account, name), self.created, wrote=True)

    def _list_for(self, account: int, raw_id: str) -> int:
        list_id = self._id(raw_id)
        if self.store.get_list(account, list_id) is None:
            raise bad("id", "Not found", 404)
        return list_id

    def get_contacts(self, req: Request, account: int, m: re.Match[str]) -> Result:
        list_id = self._list_for(account, m["id"])
        filters = self._contact_filters(req)
        return self._list(
            req, lambda n, s: self.store.list_contacts(account, list_id, filters, n, s)
        )

    def _contact_values(self, attrs: dict[str, Any], creating: bool) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        strict = self.modes.strict
        for key, value in attrs.items():
            if key not in CONTACT_ATTRIBUTES:
                if strict:
                    errors.setdefault(key, []).append("is not a known attribute")
            elif key == "address":
                if value is None:
                    values.update(dict.fromkeys(ADDRESS_COLUMNS))
                elif not isinstance(value, dict):
                    errors.setdefault("address", []).append("must be an object")
                else:
                    for part, text in value.items():
                        if part not in ADDRESS_COLUMNS:
                            if strict:
                                errors.setdefault(f"address.{part}", []).append(
                                    "is not a known attribute"
                                )
                        elif text is not None and not isinstance(text, str):
                            errors.setdefault(f"address.{part}", []).append("must be a string")
                        else:
                            values[part] = text
            elif value is not None and not isinstance(value, str):
                errors.setdefault(key, []).append("must be a string")
            else:
                values[key] = value
        if creating and not values.get("phone"):
            errors.setdefault("phone", []).append("is required")
        if values.get("phone") is not None:
            phone = normalize_phone(values["phone"])
            if phone is not None:
                values["phone"] = phone
            elif strict or not values["phone"].strip():
                errors.setdefault("phone", []).append("is not a valid phone number")
            else:
                values["phone"] = values["phone"].strip()
        elif "phone" in values:
            errors.setdefault("phone", []).append("can't be blank")
        if errors:
            raise HttpError(400, errors)
        return values

    def post_contact(self, req: Request, account: int, m: re.Match[str]) -> Result:
        list_id = self._list_for(account, m["id"])
        _data, attrs = self._body(req, ("list_contacts", "contacts", "numbers"))
        values = self._contact_values(attrs, creating=True)
        row = self.store.create_contact(account, list_id, values)
        return self._single("contact", row, self.created, wrote=True)

    def patch_contact(self, req: Request, account: int, m: re.Match[str]) -> Result:
        list_id = self._list_for(account, m["id"])
        contact_id = self._id(m["cid"])
        current = self.store.get_contact(account, contact_id)
        if current is None or current["list_id"] != list_id:
            raise bad("id", "Not found", 404)
        data, attrs = self._body(req, ("list_contacts", "contacts", "numbers"))
        if "id" in data and str(data["id"]) != str(contact_id):
            raise bad("id", "does not match the contact in the URL", 409)
        replace = self.modes.contact_patch_replace  # a phone is required, as on create
        values = self._contact_values(attrs, creating=replace)
        if replace:  # what was not sent is gone
            values = {**dict.fromkeys(CONTACT_COLUMNS), **values}
        row = self.store.update_contact(account, contact_id, values)
        return self._single("contact", row, 200, wrote=True)
