"""Page URLs: their canonical form (for loop detection) and what their query says."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from upcall_sync.redact import strip_token


def canonical(url: str) -> str:
    parts = urlsplit(strip_token(url))
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def page_facts(url: Any) -> tuple[int | None, int | None]:
    """(`page_number(url)`, `page_size(url)`), reading the query once."""
    if not isinstance(url, str):
        return None, None
    number = size = None
    seen_number = seen_size = False
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page[number]" and not seen_number:
            seen_number = True
            number = _int(value)
        elif key == "page[size]" and not seen_size:
            seen_size = True
            size = _int(value)
            size = size if size is not None and size > 0 else None
    return number, size


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


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
