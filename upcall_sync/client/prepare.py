"""Each request prepared exactly as `requests.Session.request` prepares it, without the
session-wide merging that call redoes every time (issue 26).

`Session.request` builds a `Request`, merges the session's cookies, auth, headers,
params and hooks into it (`prepare_request`: about 100 us of CPU, most of it runtime
`typing` protocol checks in `merge_setting`), re-parses and re-quotes the URL with
urllib3 (`prepare_url`: about 50 us), and merges the environment's settings. For the
sessions upcall-sync makes (`make_session`: no environment, no auth, no params) and
while the session holds no cookies, every one of those merges gives the same answer
each time; `prepared` then does only what differs per request, calling requests' own
`prepare_*` steps where it does anything, and `send_settings` is computed as
`merge_environment_settings` computes it. Any other session, or a session that has
picked up a cookie, gets `Session.prepare_request` itself.

The URL: for a URL in the canonical form `lean_url` accepts (lower-case http(s) host,
no user info, percent sign, fragment or dot segment; a path and query of plain
characters) requests' preparation only percent-encodes `[` and `]` and appends the
encoded token parameter; `lean_url` does that. Anything else goes through requests'
`prepare_url`. Equivalence with `Session.prepare_request` is property-tested
(`tests/test_prepare.py`), method, URL, headers (in order), body and hooks.

`sent` then sends it as `Session.send` would, but leaves every answer's body, a
redirect's included, to the transport's bounded reader.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from requests.hooks import dispatch_hook

from upcall_sync.redact import TOKEN_PARAM

__all__ = ["lean_url", "prepared", "send_settings", "sent"]

#: a URL requests' preparation leaves as it is but for `[`/`]` and the token parameter:
#: lower-case host (urllib3 lower-cases it), a port without leading zeros, a path
#: (requests adds "/" to none), no "." or ".." segment (urllib3 removes them), and a
#: query of characters that are neither encoded nor decoded on the way
_CANONICAL = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*"
    r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:/(?!\.\.?(?:/|\?|\Z))[A-Za-z0-9_~.-]*)+"
    r"(?:\?[A-Za-z0-9_~.=&+,:\[\]-]+)?"
)


def lean_url(url: str, token: str) -> str | None:
    """`url` with the token parameter, as requests prepares it; None when `url` is not
    in the canonical form (`prepare_url` then decides)."""
    if _CANONICAL.fullmatch(url) is None:
        return None
    if "[" in url or "]" in url:
        url = url.replace("[", "%5B").replace("]", "%5D")
    return url + ("&" if "?" in url else "?") + urlencode({TOKEN_PARAM: token})


def _lean_session(session: requests.Session) -> bool:
    """Whether `prepare_request` of this session merges nothing but its headers and hooks."""
    return (
        not session.trust_env
        and session.auth is None
        and not session.params
        and not session.cookies
        and None not in session.headers.values()
    )


def prepared(
    session: requests.Session,
    method: str,
    url: str,
    token: str,
    data: bytes | None,
    headers: Mapping[str, str],
) -> requests.PreparedRequest:
    """What `session.request(method, url, params={TOKEN_PARAM: token}, data=data,
    headers=headers)` would send."""
    if not _lean_session(session):
        request = requests.Request(
            method, url, headers=dict(headers), data=data or {}, params={TOKEN_PARAM: token}
        )
        return session.prepare_request(request)
    p = requests.PreparedRequest()
    p.prepare_method(method)
    full = lean_url(url, token)
    if full is None:
        p.prepare_url(url, {TOKEN_PARAM: token})
    else:
        p.url = full
    p.prepare_headers(session.headers)
    for name, value in headers.items():
        p.headers[name] = value
    p.prepare_cookies(RequestsCookieJar())  # the session's, merged: it has none
    p.prepare_body(data or {}, None)
    if "@" in (p.url or ""):
        p.prepare_auth(None, url)  # user info in a URL requests re-parsed
    p.prepare_hooks(session.hooks)
    return p


def send_settings(session: requests.Session, url: str) -> dict[str, Any]:
    """`merge_environment_settings` for a streamed request with none of its own."""
    if session.trust_env:
        return dict(session.merge_environment_settings(url, {}, True, None, None))
    own = session.proxies
    proxies = {k: v for k, v in own.items() if v is not None} if own is not None else {}
    return {"proxies": proxies, "stream": True, "verify": session.verify, "cert": session.cert}


def sent(
    session: requests.Session, request: requests.PreparedRequest, **kwargs: Any
) -> requests.Response:
    """What `session.send(request, allow_redirects=False, **kwargs)` answers (kwargs as
    `send_settings` makes them, and a timeout): the adapter's answer, timed, the
    request's hooks run on it, and its cookies kept in the session's jar when it sets
    any, as `Session.send` keeps them.

    What it leaves out is `Session.send`'s redirect step, which even with redirects off
    reads a 3xx answer's body whole (to free the connection) before returning: without
    the size cap or the total deadline of the transport's own reader, so a redirect
    whose body trickled kept a run waiting as long as the server went on, and one that
    flooded was read into memory. Every answer's body is now the transport's bounded
    read. (It saves about 9 us of CPU a request too: 320 against 329 us for a page GET,
    one thread.) Equivalence with `Session.send` is tested (`tests/test_prepare.py`)."""
    start = time.perf_counter()
    response: requests.Response = session.get_adapter(url=request.url or "").send(request, **kwargs)
    response.elapsed = timedelta(seconds=time.perf_counter() - start)
    hooked: requests.Response = dispatch_hook(  # type: ignore[no-untyped-call]
        "response", request.hooks, response, **kwargs
    )
    headers = hooked.headers
    if "set-cookie" in headers or "set-cookie2" in headers:
        extract_cookies_to_jar(session.cookies, request, hooked.raw)  # type: ignore[no-untyped-call]
    return hooked
