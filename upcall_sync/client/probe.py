"""The client's raw side, for `doctor`: a GET-only probe of what the API really does.

Doctor checks the assumptions the client makes (paging links, page caps, filters,
error bodies), so it needs what the typed methods hide: whole documents, single
pages, `links.next` followed by hand, a body read whatever its status, and every
response's headers. It gets them here, through the client's own connection (its
token, timeouts, retries and redaction), never by reaching into the transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from upcall_sync.client.responses import describe
from upcall_sync.client.transport import Page, Transport
from upcall_sync.errors import TransportError
from upcall_sync.redact import TOKEN_PARAM, scrub_exception

#: `hook(response)`: sees every HTTP response the client receives
ResponseHook = Callable[[requests.Response], None]


class Probe:
    """GET-only raw access to one client's API (see the module docstring)."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def redact(self, text: str) -> str:
        return self._http.redact(text)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL of an API path, without the token."""
        return self._http.url(path, params)

    def document(self, path: str, **params: Any) -> Any:
        """The parsed body of `GET path` (retried as any GET; errors raise)."""
        return self._http.request("GET", path, params=params).document

    def first_page(self, path: str, params: Mapping[str, Any], page_size: int) -> Page:
        return self._http.first_page(path, dict(params), page_size=page_size)

    def follow(self, page: Page) -> Iterator[Page]:
        """The pages after `page`, by its `links.next`."""
        return self._http.follow(page)

    def unchecked_get(self, path: str) -> tuple[int, str, bytes]:
        """One GET, no retry, whose status, content type and body come back as they are
        (the typed side turns an error status into an exception)."""
        t = self._http
        try:
            resp = t.session.get(
                t.url(path),
                params={TOKEN_PARAM: t.token_for_redaction()},
                timeout=(t.timeouts.connect, t.timeouts.read),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            scrub_exception(exc, t.redact)
            raise TransportError(f"GET {path}: {describe(exc)}", method="GET", url=path) from exc
        return resp.status_code, resp.headers.get("Content-Type", ""), resp.content

    @contextlib.contextmanager
    def watching(self, hook: ResponseHook) -> Iterator[None]:
        """Call `hook` with every response received while the block runs."""

        def seen(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
            hook(resp)

        hooks = self._http.session.hooks.setdefault("response", [])
        hooks.append(seen)
        try:
            yield
        finally:
            hooks.remove(seen)
