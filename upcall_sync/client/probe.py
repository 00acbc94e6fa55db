"""The client's raw side, for `doctor`: a probe of what the API really does.

Doctor checks the assumptions the client makes (paging links, page caps, filters,
error bodies), so it needs what the typed methods hide: whole documents, single
pages, `links.next` followed by hand, a body read whatever its status, and every
response's headers. It gets them here, through the client's own connection (its
token, timeouts, retries and redaction), never by reaching into the transport.
The read checks only GET; `doctor --write-probe` writes through `write`, in the
throwaway objects it creates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from upcall_sync.client.pager import Page
from upcall_sync.client.transport import Transport

#: `hook(response)`: sees every HTTP response the client receives
ResponseHook = Callable[[requests.Response], None]


class Probe:
    """Raw access to one client's API (see the module docstring)."""

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
        """One GET whose status, content type and body come back as they are, whatever
        the status (the typed side turns an error status into an exception). It goes
        through the rate limiter and the retry policy like every request: a 429 or a
        5xx is retried first, not reported."""
        answer = self._http.raw_get(path)
        return answer.status, answer.content_type, answer.body

    def redirect_target(self, path: str) -> str:
        """Where the redirect answering `GET path` points, without the token ("" when
        the answer is no redirect)."""
        return self._http.raw_get(path).location

    def display(self, url: str) -> str:
        """A URL as messages show it: no token, relative to the base URL when it can be."""
        return self._http.display(url)

    def write(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str = "application/vnd.api+json",
    ) -> Any:
        """The parsed answer of one write with a JSON body of this content type, retried
        when that is safe (`doctor --write-probe` alone writes through here)."""
        return self._http.request(method, path, body=body, content_type=content_type).document

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
