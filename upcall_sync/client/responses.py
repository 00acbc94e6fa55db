"""Reading what the server sent back: an answer, error bodies, Retry-After, failures in words."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import requests

from upcall_sync.errors import FieldMessage


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


def parse_error_document(doc: Any) -> list[FieldMessage]:
    """Both error shapes the API uses: a field map, and JSON:API error objects."""
    out: list[FieldMessage] = []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, dict):
        for name, msgs in errors.items():
            if isinstance(msgs, list):
                out.extend(FieldMessage(str(name), str(m)) for m in msgs)
            else:
                out.append(FieldMessage(str(name), str(msgs)))
    elif isinstance(errors, list):
        for item in errors:
            if not isinstance(item, dict):
                out.append(FieldMessage("base", str(item)))
                continue
            pointer = ""
            source = item.get("source")
            if isinstance(source, dict):
                pointer = str(source.get("pointer") or source.get("parameter") or "")
            name = pointer.rsplit("/", 1)[-1] if pointer else "base"
            message = item.get("detail") or item.get("title") or item.get("code") or "error"
            out.append(FieldMessage(name or "base", str(message)))
    elif isinstance(doc, dict) and isinstance(doc.get("error"), str):
        out.append(FieldMessage("base", doc["error"]))
    return out


#: Retry-After's delay-seconds (RFC 9110: digits; a decimal fraction is taken too)
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
#: a delay-seconds past this is read as this (float() of 400 digits is `inf`): a wait
#: longer than any cap either way, which fails the request at once, saying so
_LONGEST_DELAY = 1e12


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None
    when it is neither (`inf`, `nan`, `-5`, `1e-300` are no delay: Python's float() took
    `inf` for a wait longer than any cap, and the request failed at once)."""
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return min(float(value), _LONGEST_DELAY)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def excerpt(raw: bytes, limit: int = 80, redact: Callable[[str], str] | None = None) -> str:
    """The body's first `limit` characters, whitespace collapsed; redacted (`redact`)
    before it is cut, so that a secret the cut goes through is still whole when
    redacted (cut first, its first characters passed as too short to be one)."""
    text = raw.decode("utf-8", errors="replace")
    text = " ".join(text.split())
    if redact is not None:
        text = redact(text[: limit + 1024]) + text[limit + 1024 :][:1]
    return text[:limit] + ("..." if len(text) > limit else "")


def is_connect_failure(exc: BaseException) -> bool:
    """True when the connection was never established (nothing was sent)."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        name = type(cur).__name__
        if name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"):
            return True
        if isinstance(cur, ConnectionRefusedError):
            return True
        nested = [a for a in cur.args if isinstance(a, BaseException)]
        reason = getattr(cur, "reason", None)
        cur = (
            nested[0]
            if nested
            else reason
            if isinstance(reason, BaseException)
            else cur.__cause__ or cur.__context__
        )
        seen += 1
    return False


def tls_problem(exc: BaseException) -> str | None:
    """What is wrong, in words, when `exc` is a TLS failure; None for any other failure.

    TLS failures are not transient (a wrong scheme, an untrusted or mismatched
    certificate), so they are never retried.
    """
    if not isinstance(exc, requests.exceptions.SSLError):
        return None
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        detail = text.split("certificate verify failed:", 1)[-1]
        detail = detail.split("(_ssl.c", 1)[0].strip(" )'\"") if detail != text else ""
        return "TLS certificate not trusted" + (f": {detail}" if detail else "")
    for needle in (
        "WRONG_VERSION_NUMBER",
        "wrong version number",
        "record layer failure",
        "packet length too long",
        "unknown protocol",
        "http request",
    ):
        if needle in text:
            return "TLS handshake failed: the server does not speak https? (check the URL's scheme)"
    found = re.search(r"\[SSL(?:: [A-Z0-9_]+)?\] ([^(\"']+)", text)
    reason = found.group(1).strip() if found else "no details from the TLS library"
    return f"TLS handshake failed: {reason[:120]}"


def describe(exc: BaseException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.ReadTimeout):
        return "timed out waiting for the response"
    text = str(exc)
    for needle, words in (
        ("Connection refused", "connection refused"),
        ("Connection reset", "connection reset by the server"),
        ("RemoteDisconnected", "the server closed the connection without answering"),
        ("closed connection without response", "the server closed the connection"),
        ("IncompleteRead", "the response was cut off"),
        ("InvalidChunkLength", "the response was cut off"),
        ("Name or service not known", "host not found"),
        ("timed out", "timed out"),
    ):
        if needle in text:
            return words
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__
