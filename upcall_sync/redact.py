"""Keeping the auth token out of every string that leaves the client.

The token travels as the `auth_token` query parameter, so it is inside every
URL requests and urllib3 build, inside their exception texts, and inside the
`links.*` URLs the API returns. Two layers keep it out of sight:

- `Secret` holds the token; its `repr` and `str` never show it.
- `Redactor` scrubs any text: the literal token (raw and percent-encoded), any
  run of FRAGMENT or more consecutive characters of it (a message that quotes a
  file cut at 30 characters must not print the token's first 30), and any
  `auth_token=...` query value, whatever its value.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import io
import json
import logging
import re
import threading
from typing import IO, Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
TOKEN_PARAM = "auth_token"
#: the shortest run of a token's characters that is redacted on its own: shorter runs
#: would hit phone numbers and ids (tokens may hold long runs of digits)
FRAGMENT = 12

_PARAM_RE = re.compile(r"(auth_token(?:=|%3D|%3d|\"\s*:\s*\"|'\s*:\s*'))([^&\s\"'<>#]+)")


class Secret:
    """A string that never shows itself in repr, str or format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


#: fixed, public: the fingerprint only has to be the same on every machine, and slow
#: enough (PBKDF2) that trying guessed tokens against a plan file costs something
_FINGERPRINT_SALT = b"upcall-sync account fingerprint v1"
_FINGERPRINT_ROUNDS = 50_000


def account_fingerprint(secret: Secret | str) -> str:
    """A short, stable, one-way name for the account a token acts for (16 hex digits).

    Saved plans record it (never the token) so that `apply PLANFILE` refuses another
    account's token, or a rotated one; the JSON plan's `account` field carries it."""
    return _fingerprint(secret.reveal() if isinstance(secret, Secret) else secret)


@functools.lru_cache(maxsize=8)
def _fingerprint(raw: str) -> str:
    """Computed once per token and process (16 ms of PBKDF2 each time: a process that
    runs the CLI many times, as the test suite does, asks for it thousands of times)."""
    digest = hashlib.pbkdf2_hmac("sha256", raw.encode(), _FINGERPRINT_SALT, _FINGERPRINT_ROUNDS)
    return digest.hex()[:16]


def _written_forms(secret: str) -> set[str]:
    """The ways an output can spell `secret`: as is, percent-encoded, and escaped the way
    JSON, YAML's double quotes, Python's repr and HTML write a backslash, a quote or
    non-ASCII text (a token holding `\\` or `é` is printed `\\\\`, `\\u00e9`)."""
    if not secret or len(secret) < 4:
        return set()
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
    }


def fragments(secret: str, size: int = FRAGMENT) -> set[str]:
    """Every run of `size` consecutive characters of each written form of `secret`
    (the whole form when it is shorter)."""
    out: set[str] = set()
    for form in _written_forms(secret):
        if len(form) <= size:
            out.add(form)
        else:
            out.update(form[i : i + size] for i in range(len(form) - size + 1))
    return out


def _trie_pattern(words: set[str]) -> str:
    """One regex matching any of `words`, shaped as a trie: each position of a long
    text costs a character or two, not one try per word."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def walk(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + walk(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            branches.append("")
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return walk(trie)


@functools.lru_cache(maxsize=8)
def _matchers(secrets: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """The written forms of `secrets` (longest first, so an escaped form is replaced
    before a prefix of it) and the regex of their fragments. Built once per set of
    secrets and process: about 1 ms each time, and a run makes several redactors for its
    token (the test suite's thousands of runs in one process, thousands)."""
    forms = {f for s in secrets for f in _written_forms(s)}
    grams = {g for s in secrets if len(s) > FRAGMENT for g in fragments(s)}
    pattern = re.compile(_trie_pattern(grams)) if grams else None
    return tuple(sorted(forms, key=len, reverse=True)), pattern


class Redactor:
    """Replaces known secrets, any run of FRAGMENT or more of their characters, and any
    `auth_token` value in text."""

    def __init__(self, *secrets: str) -> None:
        self._secrets: list[str] = []
        self._forms: tuple[str, ...] = ()
        self._fragment_re: re.Pattern[str] | None = None
        for s in secrets:
            self.add(s)

    def add(self, secret: str) -> None:
        if not secret or len(secret) < 4 or secret in self._secrets:
            return
        self._secrets.append(secret)
        self._forms, self._fragment_re = _matchers(tuple(self._secrets))

    def __call__(self, text: str) -> str:
        text = _PARAM_RE.sub(lambda m: m.group(1) + REDACTED, text)
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        if self._fragment_re is not None and self._fragment_re.search(text):
            text = self._redact_fragments(text)
        return text

    def _redact_fragments(self, text: str) -> str:
        """Each run of the text that holds a fragment, widened to the longest run of the
        same written form around it, replaced."""
        assert self._fragment_re is not None
        out: list[str] = []
        at = 0
        while (m := self._fragment_re.search(text, at)) is not None:
            start, end = m.start(), m.end()
            for form in self._forms:
                if m.group() not in form:
                    continue
                while start > at and text[start - 1 : end] in form:
                    start -= 1
                while end < len(text) and text[start : end + 1] in form:
                    end += 1
            out.append(text[at:start] + REDACTED)
            at = end
        out.append(text[at:])
        return "".join(out)


def strip_token(url: str) -> str:
    """The URL without any `auth_token` query parameter (for logs, errors and plan files)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TOKEN_PARAM]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))


class RedactingFormatter(logging.Formatter):
    """A log formatter that scrubs secrets from the final line, tracebacks included."""

    def __init__(self, redactor: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class ScrubbingFilter(logging.Filter):
    """Redacts records at their source, before any handler (ours or a user's) sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redactor(message)
        if clean != message:
            record.msg = clean
            record.args = ()
        return True


#: urllib3 logs every request line, full URL and token included, at DEBUG.
THIRD_PARTY_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.util.retry",
)
_FILTER = ScrubbingFilter()


def scrub_third_party_logs(secret: str) -> None:
    """Make sure the loggers of the HTTP stack never emit `secret`."""
    _FILTER.redactor.add(secret)
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def scrub_exception(exc: BaseException, redactor: Redactor, _depth: int = 0) -> None:
    """Redact the args of an exception and of the exceptions chained to it, in place.

    urllib3 and requests put the full URL, token included, into their exception
    texts; we chain them with `raise ... from`, so they are scrubbed too.
    """
    if _depth > 8:
        return
    with contextlib.suppress(AttributeError, TypeError):
        exc.args = tuple(redactor(a) if isinstance(a, str) else a for a in exc.args)
    for arg in exc.args:
        if isinstance(arg, BaseException):
            scrub_exception(arg, redactor, _depth + 1)
    for attr in ("url", "reason"):
        val = getattr(exc, attr, None)
        if isinstance(val, str):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, attr, redactor(val))
        elif isinstance(val, BaseException):
            scrub_exception(val, redactor, _depth + 1)
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            scrub_exception(linked, redactor, _depth + 1)


class RedactingWriter(io.TextIOBase):
    """A text stream that passes everything through a Redactor before the real stream.

    The CLI wraps stdout and stderr in one, so that whatever route a value took
    (a manifest that interpolates a variable holding the token, a CSV that
    echoes a file, a third-party message), the token never reaches the
    terminal, a CI log or a PR comment. Text is redacted a whole line at a
    time (or at a flush), so a secret split across two writes is still caught.
    """

    def __init__(self, stream: IO[str], redactor: Redactor) -> None:
        super().__init__()
        self._stream = stream
        self._redact = redactor
        self._pending = ""
        self._lock = threading.Lock()

    @property
    def wrapped(self) -> IO[str]:
        return self._stream

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            cut = self._pending.rfind("\n") + 1
            if cut:
                ready, self._pending = self._pending[:cut], self._pending[cut:]
                self._stream.write(self._redact(ready))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._stream.write(self._redact(self._pending))
                self._pending = ""
            self._stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream, "encoding", "utf-8") or "utf-8")
