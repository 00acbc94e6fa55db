"""The transport's request preparation sends what `requests.Session.request` would send:
method, URL (token included), headers in order, body and hooks, for any URL, token,
body and session state (issue 26: the session-wide merges are not redone per request)."""

from __future__ import annotations

import string
from http.server import BaseHTTPRequestHandler

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from upcall_sync.client import make_session
from upcall_sync.client.prepare import _CANONICAL, lean_url, prepared, send_settings, sent
from upcall_sync.redact import TOKEN_PARAM

from .conftest import serve

_CANONICAL_URLS = st.from_regex(_CANONICAL, fullmatch=True)
_URL_CHARS = string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=% \"<>\\^`{|}é\u2028"
_ODD_URLS = st.builds(
    lambda scheme, host, rest: f"{scheme}://{host}{rest}",
    st.sampled_from(["http", "https", "HTTP", "hTtps"]),
    st.sampled_from(
        ["127.0.0.1:8080", "API.example.com", "example.com:080", "user:pw@h.io", "h.io.", "[::1]:9"]
    ),
    st.text(_URL_CHARS, max_size=40),
)
_URLS = st.one_of(_CANONICAL_URLS, _ODD_URLS)
_TOKENS = st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t)
_BODIES = st.one_of(st.none(), st.binary(max_size=40), st.just(b'{"data":{"type":"lists"}}'))
_CONTENT_TYPES = st.sampled_from(
    [None, "application/vnd.api+json", "application/json", "application/x-www-form-urlencoded"]
)


def _as_sent(p: requests.PreparedRequest) -> tuple[object, ...]:
    return (p.method, p.url, list(p.headers.items()), p.body, p.hooks)


def _expected(
    session: requests.Session, method: str, url: str, token: str, data: bytes | None, ct: str | None
) -> tuple[object, ...] | type[Exception]:
    headers = {"Content-Type": ct} if ct else {}
    request = requests.Request(
        method, url, headers=headers, data=data or {}, params={TOKEN_PARAM: token}
    )
    try:
        return _as_sent(session.prepare_request(request))
    except Exception as exc:  # what requests refuses, the lean path must refuse alike
        return type(exc)


def _got(
    session: requests.Session, method: str, url: str, token: str, data: bytes | None, ct: str | None
) -> tuple[object, ...] | type[Exception]:
    headers = {"Content-Type": ct} if ct else {}
    try:
        return _as_sent(prepared(session, method, url, token, data, headers))
    except Exception as exc:
        return type(exc)


@settings(max_examples=200)
@given(st.sampled_from(["GET", "POST", "PATCH"]), _URLS, _TOKENS, _BODIES, _CONTENT_TYPES)
def test_a_request_is_prepared_as_session_request_prepares_it(
    method: str, url: str, token: str, data: bytes | None, ct: str | None
) -> None:
    session = make_session(2)
    session.hooks["response"].append(lambda r, *a, **k: None)
    assert _got(session, method, url, token, data, ct) == _expected(
        session, method, url, token, data, ct
    )


@settings(max_examples=200)
@given(_URLS, _TOKENS)
def test_the_lean_url_is_requests_own(url: str, token: str) -> None:
    lean = lean_url(url, token)
    if lean is not None:
        p = requests.PreparedRequest()
        p.prepare_url(url, {TOKEN_PARAM: token})
        assert lean == p.url


def test_the_api_urls_take_the_lean_path() -> None:
    """The URLs plan and export send by the thousand are the canonical form (else the
    saving is not there): paging, ids, from_number filters."""
    for url in (
        "http://127.0.0.1:54321/api/v1/campaigns?page[number]=3&page[size]=100",
        "https://api.upcall.com/api/v1/campaigns/123/numbers?page[size]=100",
        "https://api.upcall.com/api/v1/lists/7/contacts",
    ):
        assert lean_url(url, "t") is not None, url


def test_a_session_holding_a_cookie_sends_it() -> None:
    """A server that set a cookie (a load balancer's stickiness) gets it back: that
    session takes requests' own preparation."""
    session = make_session(2)
    session.cookies.set("AWSALB", "sticky", domain="127.0.0.1", path="/")
    url = "http://127.0.0.1:8080/api/v1/campaigns"
    got = prepared(session, "GET", url, "tok", None, {})
    assert got.headers["Cookie"] == "AWSALB=sticky"
    assert _as_sent(got) == _expected(session, "GET", url, "tok", None, None)


@given(st.dictionaries(st.sampled_from(["http", "https", "no_proxy"]), st.none() | st.text()))
def test_send_settings_are_merge_environment_settings(proxies: dict[str, str | None]) -> None:
    session = make_session(2)
    session.proxies.update(proxies)  # type: ignore[arg-type]
    url = "http://127.0.0.1:8080/api/v1/campaigns?auth_token=t"
    want = session.merge_environment_settings(url, {}, True, None, None)
    assert send_settings(session, url) == dict(want)


def test_a_session_trusting_its_environment_is_prepared_by_requests() -> None:
    """A caller's own session that reads the environment (netrc, proxies, CA bundle):
    every merge is requests' own."""
    session = requests.Session()
    url = "http://127.0.0.1:8080/api/v1/campaigns"
    assert _as_sent(prepared(session, "GET", url, "tok", None, {})) == _expected(
        session, "GET", url, "tok", None, None
    )
    want = session.merge_environment_settings(url, {}, True, None, None)
    assert send_settings(session, url) == dict(want)


class _Answers(BaseHTTPRequestHandler):
    """Answers by path: a page, a page setting cookies, a redirect, a 429."""

    def do_GET(self) -> None:
        path = "/" + self.path.split("?")[0].rsplit("/", 1)[-1]
        status = {"/redirect": 302, "/busy": 429}.get(path, 200)
        self.send_response(status)
        if path == "/cookies":
            self.send_header("Set-Cookie", "AWSALB=sticky; Path=/")
            self.send_header("set-cookie", "other=2; Path=/api")
        if path == "/redirect":
            self.send_header("Location", "/elsewhere")
        body = b'{"data":[]}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _answer(how: str, path: str, base: str) -> tuple[object, ...]:
    """What one request gets through `sent` or `Session.send`: status, headers, body,
    the session's cookies after, the hook's calls, whether it was timed."""
    session = make_session(2)
    calls: list[int] = []
    session.hooks["response"].append(lambda r, *a, **k: calls.append(r.status_code))
    request = prepared(session, "GET", base + path, "tok", None, {})
    settings = {**send_settings(session, request.url or ""), "timeout": (5, 5)}
    if how == "sent":
        resp = sent(session, request, **settings)
    else:
        resp = session.send(request, allow_redirects=False, **settings)
    body = resp.raw.read()
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() != "date"]
    cookies = sorted((c.name, c.value, c.path) for c in session.cookies)
    return resp.status_code, headers, body, cookies, calls, resp.elapsed.total_seconds() > 0


def test_sent_answers_as_session_send() -> None:
    """The lean send (issue 26) gets what `Session.send` gets, the session's cookies and
    its hooks included, for a page, cookies set twice, a redirect not followed, a 429.
    One difference: `Session.send` reads a redirect's body whole (without bound or
    deadline) to release the connection; `sent` leaves it, as every other answer's, to
    the transport's bounded reader."""
    with serve(_Answers) as base:
        for path in ("/page", "/cookies", "/busy"):
            assert _answer("sent", path, base) == _answer("send", path, base), path
        lean, classic = _answer("sent", "/redirect", base), _answer("send", "/redirect", base)
        assert (lean[2], classic[2]) == (b'{"data":[]}', b"")
        assert lean[:2] + lean[3:] == classic[:2] + classic[3:]
        assert _answer("sent", "/cookies", base)[3] == [
            ("AWSALB", "sticky", "/"),
            ("other", "2", "/api"),
        ]
