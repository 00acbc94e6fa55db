"""Page URLs: their canonical form (for loop detection) and what their query says."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from upcall_sync.redact import strip_token


def canonical(url: str) -> str:
    parts = urlsplit(strip_token(url))
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def page_number(url: Any) -> int | None:
    if not isinstance(url, str):
        return None
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page[number]":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def page_size(url: Any) -> int | None:
    if not isinstance(url, str):
        return None
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page[size]":
            try:
                size = int(value)
            except ValueError:
                return None
            return size if size > 0 else None
    return None
