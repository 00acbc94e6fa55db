"""HTTP for the Upcall v1 API: auth, timeouts, retries, error mapping, redaction (and,
through `pager.Pager`, paging).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter

from upcall_sync.client.breaker import CircuitBreaker
from upcall_sync.client.pager import DEFAULT_PAGE_SIZE, PageDecoder, Pager
from upcall_sync.client.prepare import prepared, send_settings, sent
from upcall_sync.client.ratelimit import RateLimiter, StartWindow
from upcall_sync.client.responses import (
    RawAnswer,
    Response,
    describe,
    excerpt,
    is_connect_failure,
    parse_error_document,
    retry_after_seconds,
    tls_problem,
)
from upcall_sync.client.retry import Retrier, RetryPolicy
from upcall_sync.client.slots import SendGate, Slots
from upcall_sync.core.normalize import api_v1_path
from upcall_sync.errors import (
    ApiResponseError,
    ApiStatusError,
    BadApiUrl,
    Cancelled,
    FieldMessage,
    InsecureTransport,
    NoToken,
    OutcomeUnknown,
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
    """The API URL's parts, once it is an http(s) URL with a host, no credentials, no
    query or fragment, and no plain http to anything but loopback (unless allowed)."""
    # shown up to its query or fragment: either may hold a key of another service
    cut = base_url.split("?", 1)[0].split("#", 1)[0]
    shown = repr(cut) + (" (its query or fragment not shown)" if cut != base_url else "")
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 (a port that is no number, or past 65535, raises here)
    except ValueError as exc:  # `https://[::1/api`, `https://host:abc/api`
        raise BadApiUrl(
            f"API URL {shown} is not a URL that can be read ({exc}): give one such as "
            "https://www.upcall.com/api/v1"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadApiUrl(
            f"API URL {strip_token(cut)!r}{shown[len(repr(cut)) :]} is not an http(s) URL "
            "with a host (such as https://www.upcall.com/api/v1)"
        )
    if parts.username is not None or parts.password is not None:
        raise BadApiUrl(
            "the API URL may not hold credentials (user:password@): it is printed in "
            "errors and saved plans; the auth token is given apart from the URL"
        )
    if parts.query or parts.fragment or base_url.rstrip("/").endswith(("?", "#")):
        # not quoted: a query may hold a key of another service
        shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
        base = f"{parts.scheme}://{parts.netloc}{api_v1_path(parts.path.rstrip('/'))}"
        raise BadApiUrl(
            f"the API URL {shown} has a query or a fragment (?... or #...): paths and "
            f"parameters are added to it, so give the base URL alone: try --api-url {base}"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise InsecureTransport(
            f"refusing to send the auth token over plain http to {parts.hostname}: "
            "use https or a loopback address"
        )
    return parts


class Transport(Pager):
    """Sends requests to one Upcall API base URL with one auth token (and reads listings
    page by page: `Pager`)."""

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
        # scheme and host have no case (`HTTP://API.example` is `http://api.example`):
        # written one way, as the URLs built on it and the links the server sends are
        self.base_url = f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
        if not self._token:
            raise NoToken("no auth token: set UPCALL_AUTH_TOKEN or UPCALL_AUTH_TOKEN_FILE")
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self._origin_text = f"{parts.scheme}://{parts.netloc}"
        self.session = session if session is not None else make_session()
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._init_paging(page_size)
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
        #: the one retry policy; apply's duplicate-proof POSTs use it too (`retrier.call`)
        self.retrier = Retrier(
            self.retry,
            cancel=self.cancel,
            stopped=self.breaker.opened,
            time_left=self.breaker.time_left,
            sleep=sleep,
            on_retry=self.stats.count_retry,
            redact=self.redact,
            give_up=self._gate_refuses,
        )

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, token={self._token!r})"

    def _gate_refuses(self) -> bool:
        """Whether the start gate (when set) refuses this thread's next request."""
        gate = self.gate
        return gate is not None and gate.refuses()

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

    def get_page(self, url: str, decode: PageDecoder | None) -> Response:
        if decode is None:
            return self.request("GET", url)
        return self.retrier.call(lambda: self._get_page(url, decode), retry_if=_retryable)

    def _get_page(self, url: str, decode: PageDecoder) -> Response:
        resp, raw = self._exchange("GET", url, None)
        return self._interpret("GET", url, resp, raw, decode)

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
            resp = sent(
                self.session,
                request,
                # a run that cannot connect fails when the breaker would open, not later
                timeout=(
                    min(self.timeouts.connect, max(self.breaker.time_left(), 0.5)),
                    self.timeouts.read,
                ),
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
            undecodable = isinstance(exc, urllib3.exceptions.DecodeError)
            if undecodable and not 200 <= resp.status_code < 300:
                # a redirect's or error's body that does not decode as its Content-Encoding
                # says: the status is the answer (requests dropped a redirect's body so)
                return b""
            scrub_exception(exc, self.redact)
            reason = None
            if undecodable:
                coding = self.redact(resp.headers.get("Content-Encoding", "")) or "?"
                reason = f"the response body does not decode as its Content-Encoding ({coding})"
            elif not isinstance(exc, requests.Timeout) and "timed out" not in str(exc):
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
        # a redirect's body (read, bounded, only to end the answer) is not quoted: it is
        # no error text, and servers echo the URL, token and all, in it
        redirect = 300 <= status < 400
        fields, body_excerpt = ((), "") if redirect else self._error_fields(resp, raw)
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
            # apply's outcome line quotes field messages when there are some: the 429's
            # ("Too many requests") hid why it was not retried
            err_status.fields = ()
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
        shown_body = excerpt(raw, redact=self.redact)
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
            return (), excerpt(raw, redact=self.redact)
        fields = parse_error_document(doc)
        return tuple(FieldMessage(self.redact(f.field), self.redact(f.message)) for f in fields), ""


def _retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        from upcall_sync.client.models import format_api_datetime

        return format_api_datetime(value)
    return str(value)
