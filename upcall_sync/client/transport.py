"""HTTP for the Upcall v1 API: auth, timeouts, retries, paging, error mapping, redaction.

Knows nothing of manifests or plans. One `requests.Session` is injected and
shared by every thread (its pool is sized for the parallelism asked for).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter

from upcall_sync.client.breaker import CircuitBreaker
from upcall_sync.client.observe import PageObserver, PageRead
from upcall_sync.client.paging import canonical, page_facts, page_size
from upcall_sync.client.prepare import prepared, send_settings
from upcall_sync.client.ratelimit import RateLimiter, StartWindow
from upcall_sync.client.responses import (
    describe,
    excerpt,
    is_connect_failure,
    parse_error_document,
    retry_after_seconds,
    tls_problem,
)
from upcall_sync.client.retry import Retrier, RetryPolicy
from upcall_sync.client.rows import DecodedPage
from upcall_sync.client.slots import SendGate, Slots
from upcall_sync.errors import (
    ApiResponseError,
    ApiStatusError,
    BadApiUrl,
    Cancelled,
    FieldMessage,
    InsecureTransport,
    NoToken,
    OutcomeUnknown,
    PaginationError,
    TransportError,
)
from upcall_sync.redact import (
    Redactor,
    Secret,
    account_fingerprint,
    scrub_exception,
    scrub_third_party_logs,
    strip_token,
)

__all__ = ["Cancelled", "RetryPolicy", "Timeouts", "Transport", "make_session"]

log = logging.getLogger("upcall_sync.http")

DEFAULT_BASE_URL = "https://www.upcall.com/api/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "PATCH", "HEAD", "OPTIONS"})
JSON_TYPES = ("application/json", "application/vnd.api+json", "text/json")

#: The one decoder of API answers (every page goes through it). orjson: a page of 100
#: numbers in 89 µs against 171 µs for pydantic-core's from_json and 324 µs for json.loads
#: (bench/README.md, "Decoding"). Raises ValueError on anything that is not JSON.
decode_json: Callable[[bytes], Any] = orjson.loads
MAX_PAGES = 100_000
#: the page size a run asks for, and the smallest it falls back to after 400s
DEFAULT_PAGE_SIZE = 1000
MIN_PAGE_SIZE = 10
#: error fields that say the page parameters were refused (field maps and JSON:API
#: `source.parameter`; a pointer's last part for `page[size]` is the whole name)
PAGE_FIELDS = frozenset({"page", "page[size]", "page.size", "page_size", "size", "base"})


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, between bytes, and for a whole response body."""

    connect: float = 10.0
    read: float = 30.0
    total: float = 120.0


@dataclass
class Stats:
    """Counters shared across threads: what the client actually did on the wire."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, method: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "by_method": dict(self.by_method),
            }


@dataclass(frozen=True)
class Response:
    status: int
    document: Any
    headers: Mapping[str, str]


class RawAnswer(NamedTuple):
    """An answer as it came: status, content type, body, and a redirect's Location
    (without the token)."""

    status: int
    content_type: str
    body: bytes
    location: str


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


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_session(pool_size: int = 8) -> requests.Session:
    """A pooled session with no retries of its own (the transport retries)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept"] = "application/vnd.api+json, application/json"
    session.headers["User-Agent"] = "upcall-sync"
    session.trust_env = False
    return session


def checked_api_url(base_url: str, *, allow_insecure_http: bool) -> SplitResult:
    """The API URL's parts, once it is an http(s) URL with a host, no credentials, and no
    plain http to anything but loopback (unless allowed)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadApiUrl(
            f"API URL {strip_token(base_url)!r} is not an http(s) URL with a host "
            "(such as https://www.upcall.com/api/v1)"
        )
    if parts.username is not None or parts.password is not None:
        raise BadApiUrl(
            "the API URL may not hold credentials (user:password@): it is printed in "
            "errors and saved plans; the auth token is given apart from the URL"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise InsecureTransport(
            f"refusing to send the auth token over plain http to {parts.hostname}: "
            "use https or a loopback address"
        )
    return parts


class Transport:
    """Sends requests to one Upcall API base URL with one auth token."""

    def __init__(
        self,
        base_url: str,
        token: Secret | str,
        *,
        session: requests.Session | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_body_bytes: int = 64 * 1024 * 1024,
        allow_insecure_http: bool = False,
        cancel: threading.Event | None = None,
        sleep: Callable[[float], None] | None = None,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._token = token if isinstance(token, Secret) else Secret(token)
        self.redact = Redactor(self._token.reveal())
        scrub_third_party_logs(self._token.reveal())
        self.base_url = base_url.rstrip("/")
        parts = checked_api_url(self.base_url, allow_insecure_http=allow_insecure_http)
        if not self._token:
            raise NoToken("no auth token: set UPCALL_AUTH_TOKEN or UPCALL_AUTH_TOKEN_FILE")
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self._origin_text = f"{parts.scheme}://{parts.netloc}"
        self.session = session if session is not None else make_session()
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        #: the page size listings ask for; lowered for the run when a server refuses it
        self.page_size = page_size
        self._size_lock = threading.Lock()
        #: held by the run's first listing while it finds the page size the server takes
        self._size_finder = threading.Lock()
        self._size_known = threading.Event()
        self.max_body_bytes = max_body_bytes
        self.cancel = cancel or threading.Event()
        self.stats = Stats()
        #: one limiter and one breaker for every thread: the run's shared view of the server
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.breaker = breaker if breaker is not None else CircuitBreaker(where=self._origin_text)
        #: slow start: few writes in flight until answers show the server takes more
        self.window = StartWindow()
        #: requests in flight at once (`UpcallClient` bounds them at its `parallelism`)
        self.slots = Slots(None)
        #: asked before each request goes out (apply's start gate), when set
        self.gate: SendGate | None = None
        #: told of every listing page read (`observe.PageRead`); None: nobody listens
        self.on_page: PageObserver | None = None
        #: the one retry policy; apply's duplicate-proof POSTs use it too (`retrier.call`)
        self.retrier = Retrier(
            self.retry,
            cancel=self.cancel,
            stopped=self.breaker.opened,
            time_left=self.breaker.time_left,
            sleep=sleep,
            on_retry=self.stats.count_retry,
            redact=self.redact,
        )

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, token={self._token!r})"

    @functools.cached_property
    def account(self) -> str:
        """The token's one-way fingerprint (`redact.account_fingerprint`), never the token."""
        return account_fingerprint(self._token)

    def token_for_redaction(self) -> str:
        """The raw token, for a Redactor that must scrub it (the CLI's output filter)."""
        return self._token.reveal()

    # -- URLs -----------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL for an API path, without the token."""
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if params:
            clean = {k: _param(v) for k, v in params.items() if v is not None}
            sep = "&" if urlsplit(url).query else "?"
            url = url + sep + urlencode(clean, safe="[]:")
        return url

    def display(self, url: str) -> str:
        """A URL fit for messages: no token, and relative to the base URL when possible."""
        clean = self.redact(strip_token(url))
        if clean.startswith(self.base_url):
            return clean[len(self.base_url) :] or "/"
        return clean

    # -- Requests -------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/vnd.api+json",
    ) -> Response:
        """One API call, retried when that is safe. Raises only UpcallSyncError subclasses.
        `content_type` is the body's (the write probe tries the others CONTRACT.md names)."""
        url = self.url(path, params)
        return self.retrier.call(
            lambda: self._once(method, url, body, content_type), retry_if=_retryable
        )

    def raw_get(self, path: str) -> RawAnswer:
        """One GET whose answer is returned as it is, whatever its status. It goes through
        the rate limiter and the retry policy like every request (429 and 5xx are retried
        first); doctor reads error bodies and redirects with it."""
        url = self.url(path)

        def once() -> RawAnswer:
            resp, raw = self._exchange("GET", url, None)
            if resp.status_code in RETRY_STATUSES:
                self._interpret("GET", url, resp, raw)  # raises the retryable error
            return RawAnswer(
                resp.status_code,
                resp.headers.get("Content-Type", ""),
                raw,
                self.redact(strip_token(resp.headers.get("Location", ""))),
            )

        return self.retrier.call(once, retry_if=_retryable)

    def _once(self, method: str, url: str, body: Any, content_type: str) -> Response:
        resp, raw = self._exchange(method, url, body, content_type)
        return self._interpret(method, url, resp, raw)

    def _exchange(
        self, method: str, url: str, body: Any, content_type: str = "application/vnd.api+json"
    ) -> tuple[requests.Response, bytes]:
        """Send one request (in one of the `slots` of requests in flight, in the start
        window, paced by the limiter, guarded by the breaker); its body."""
        if self.cancel.is_set():
            raise Cancelled("interrupted before sending a request")
        self.breaker.check()
        slots = self.slots  # the one given back to, should a client replace it meanwhile
        if not slots.take(self.cancel):
            raise Cancelled("interrupted before sending a request")
        try:
            return self._exchange_in_slot(method, url, body, content_type)
        finally:
            slots.give()

    def _exchange_in_slot(
        self, method: str, url: str, body: Any, content_type: str
    ) -> tuple[requests.Response, bytes]:
        windowed = method != "GET"  # slow start is for writes: reads go out as before
        if windowed and not self.window.enter(self.cancel):
            raise Cancelled("interrupted before sending a request")
        refused: bool | None = None  # no answer
        try:
            resp, started = self._send(method, url, body, content_type)
            refused = resp.status_code == 429
        finally:
            if windowed:
                self.window.leave(refused)
            elif refused:
                self.window.lift()
        try:
            raw = self._read_body(resp, method, url, started)
        finally:
            resp.close()
        if log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.monotonic() - started) * 1000
            log.debug(
                "%s %s -> %d (%.0f ms)", method, self.display(url), resp.status_code, elapsed_ms
            )
        return resp, raw

    def _send(
        self, method: str, url: str, body: Any, content_type: str
    ) -> tuple[requests.Response, float]:
        """The request sent when the limiter allows, and its answer's head (told to the
        breaker and the limiter); when it was sent."""
        gate = self.gate  # asked during the wait for the limiter, and after it
        if not self.limiter.acquire(self.cancel, gate.refuses if gate is not None else None):
            if gate is not None:
                gate.may_send()  # NotStarted, when that is why the wait ended
            raise Cancelled("interrupted before sending a request")
        self.breaker.check()
        if gate is not None:
            gate.may_send()
        started = time.monotonic()
        self.stats.count(method)
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        try:
            # what session.request(method, url, params={TOKEN_PARAM: token}, data=data,
            # headers=headers, stream=True) sends, prepared without its merges
            request = prepared(self.session, method, url, self._token.reveal(), data, headers)
            resp = self.session.send(
                request,
                # a run that cannot connect fails when the breaker would open, not later
                timeout=(
                    min(self.timeouts.connect, max(self.breaker.time_left(), 0.5)),
                    self.timeouts.read,
                ),
                allow_redirects=False,
                **send_settings(self.session, request.url or url),
            )
        except requests.RequestException as exc:
            if gate is not None:
                gate.sent(False)  # it may have reached the server
            scrub_exception(exc, self.redact)
            raise self._transport_error(method, url, exc, sent_at=started) from exc
        if gate is not None:
            gate.sent(resp.status_code == 429)
        self.breaker.answered()
        if resp.status_code == 429:
            self.stats.count_throttled()
            wait = retry_after_seconds(resp.headers.get("Retry-After"))
            self.limiter.on_answer(started, 429, resp.headers, wait)
        else:
            self.limiter.on_answer(started, resp.status_code, resp.headers)
        return resp, started

    def _transport_error(
        self,
        method: str,
        url: str,
        exc: BaseException,
        reason: str | None = None,
        *,
        sent_at: float | None = None,
    ) -> TransportError:
        """Map a requests failure: retryable when the request surely never reached the server.

        A TLS failure is not transient: it opens the breaker at once. Any other
        failure counts towards it; the one that opens it becomes ApiUnreachable
        (a write whose outcome is unknown stays OutcomeUnknown: apply looks it up).
        """
        shown = self.display(url)
        tls = tls_problem(exc)
        if tls is not None:
            raise self.breaker.trip(self.redact(f"{method} {shown}: {tls}"))
        reason = reason or describe(exc)
        unreachable = self.breaker.failed(time.monotonic() if sent_at is None else sent_at, reason)
        never_sent = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError) and is_connect_failure(exc)
        )
        err: TransportError
        if unreachable is not None and (never_sent or method in IDEMPOTENT):
            return unreachable
        if never_sent or method in IDEMPOTENT:
            err = TransportError(f"{method} {shown}: {reason}", method=method, url=shown)
            err.retryable = True
        else:
            err = OutcomeUnknown(
                f"{method} {shown}: {reason}; the request may or may not have taken effect",
                method=method,
                url=shown,
                timed_out=isinstance(exc, requests.Timeout) or "timed out" in reason,
            )
        return err

    def _read_body(self, resp: requests.Response, method: str, url: str, started: float) -> bytes:
        """The whole body, bounded in size and in total time (a trickling body must end)."""
        chunks: list[bytes] = []
        size = 0
        deadline = started + self.timeouts.total
        raw = resp.raw
        # read1 returns as soon as any bytes arrive, so the deadline check below runs
        # even for a body that trickles in. (decode_content is set as an attribute, not
        # passed, so that vcrpy's response stub accepts the call too.)
        raw.decode_content = True
        try:
            while True:
                chunk = raw.read1(64 * 1024)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_body_bytes:
                    shown = self.display(url)
                    raise ApiResponseError(
                        f"{method} {shown}: response body larger than "
                        f"{self.max_body_bytes // (1024 * 1024)} MB; refusing to read it",
                        method=method,
                        url=shown,
                        status=resp.status_code,
                    )
                if time.monotonic() > deadline:
                    raise requests.ReadTimeout(
                        f"response not finished after {self.timeouts.total:g} s (timed out)"
                    )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            scrub_exception(exc, self.redact)
            reason = None
            if not isinstance(exc, requests.Timeout) and "timed out" not in str(exc):
                expected = resp.headers.get("Content-Length")
                of = f" of {int(expected):,}" if expected and expected.isdigit() else ""
                reason = f"the response was cut off after {size:,}{of} bytes"
            raise self._transport_error(method, url, exc, reason, sent_at=started) from exc
        return b"".join(chunks)

    def _interpret(
        self,
        method: str,
        url: str,
        resp: requests.Response,
        raw: bytes,
        decode: PageDecoder | None = None,
    ) -> Response:
        status = resp.status_code
        if 200 <= status < 300:
            if status == 204 or not raw.strip():
                return Response(status, None, resp.headers)
            if decode is not None:
                rows = decode(raw)
                if rows is not None:
                    return Response(status, rows, resp.headers)
            try:
                doc = decode_json(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                err = self._bad_body(method, self.display(url), status, resp, raw)
                raise err from exc
            return Response(status, doc, resp.headers)
        shown = self.display(url)
        fields, body_excerpt = self._error_fields(resp, raw)
        retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
        err_status = ApiStatusError(
            method=method,
            url=shown,
            status=status,
            fields=fields,
            excerpt=body_excerpt,
            retry_after=retry_after,
        )
        if status == 429 and retry_after is not None and retry_after > self.retry.retry_after_cap:
            err_status.args = (
                f"{method} {shown}: HTTP 429: the server asks to wait {retry_after:g} s "
                f"(Retry-After), more than the {self.retry.retry_after_cap:g} s this client waits",
            )
            raise err_status
        if status in RETRY_STATUSES:
            if method in IDEMPOTENT or status == 429:
                err_status.retryable = True
            else:
                unknown = OutcomeUnknown(
                    f"{err_status.args[0]}; the request may or may not have taken effect",
                    method=method,
                    url=shown,
                    status=status,
                )
                raise unknown
        raise err_status

    def _bad_body(
        self, method: str, shown: str, status: int, resp: requests.Response, raw: bytes
    ) -> Exception:
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        shown_body = self.redact(excerpt(raw))
        msg = (
            f"{method} {shown}: HTTP {status} with a body that is not JSON ({ctype}): "
            f"{shown_body!r}"
        )
        if method not in IDEMPOTENT:
            # The write was accepted (2xx) but we cannot read what it made.
            return OutcomeUnknown(msg, method=method, url=shown, status=status)
        err = ApiResponseError(msg, method=method, url=shown, status=status)
        return err

    def _error_fields(
        self, resp: requests.Response, raw: bytes
    ) -> tuple[tuple[FieldMessage, ...], str]:
        try:
            doc = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            return (), self.redact(excerpt(raw))
        fields = parse_error_document(doc)
        return tuple(FieldMessage(self.redact(f.field), self.redact(f.message)) for f in fields), ""

    # -- Lists ----------------------------------------------------------------

    def read_page(
        self, url: str, number: int, asked: int, decode: PageDecoder | None = None
    ) -> Page:
        """One page of a listing, with what its links say about the rest; `decode`: the
        listing's own page decoder, tried first."""
        if decode is None:
            resp = self.request("GET", url)
        else:
            resp = self.retrier.call(lambda: self._get_page(url, decode), retry_if=_retryable)
        doc = resp.document
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

    def _get_page(self, url: str, decode: PageDecoder) -> Response:
        resp, raw = self._exchange("GET", url, None)
        return self._interpret("GET", url, resp, raw, decode)

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
                if not _refused_page_size(exc) or size <= MIN_PAGE_SIZE:
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


def _retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        from upcall_sync.client.models import format_api_datetime

        return format_api_datetime(value)
    return str(value)
