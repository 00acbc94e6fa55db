"""The auth token, read once: the one place a token file is opened.

Beside `redact` (not in `client/`): the command line reads the token at start, for
offline commands too, and teaches its output redactor before anything runs, without
loading the HTTP stack. The client's `Connection` gets the same value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from upcall_sync.errors import NoToken, TokenFileError
from upcall_sync.redact import Secret

__all__ = ["read_token"]

#: a token file is a few dozen bytes; anything past this is not a token file
_MAX_TOKEN_FILE = 64 * 1024


def read_token(
    token: str | Secret | None = None,
    token_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Secret:
    """The auth token: given, else from a token file, else UPCALL_AUTH_TOKEN_FILE, else
    UPCALL_AUTH_TOKEN.

    The one function that opens a token file. A UTF-8 byte-order mark (Notepad writes
    one) and whitespace around the token are dropped, and UTF-16 with a byte-order mark
    (Windows PowerShell's `>`) is read; whitespace inside the token is refused.
    """
    env = os.environ if environ is None else environ
    if isinstance(token, Secret):
        return token
    if token:
        return Secret(token.strip())
    path = token_file or env.get("UPCALL_AUTH_TOKEN_FILE")
    if path:
        return Secret(_read_token_file(str(path)))
    value = env.get("UPCALL_AUTH_TOKEN", "").strip()
    if value:
        return Secret(value)
    raise NoToken("no auth token: set UPCALL_AUTH_TOKEN or UPCALL_AUTH_TOKEN_FILE")


def _read_token_file(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_TOKEN_FILE + 1)
    except OSError as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc.strerror}") from None
    # -sig drops Notepad's byte-order mark; Windows PowerShell 5 (`>`, Out-File) writes
    # UTF-16 with a mark, which tells the byte order
    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    try:
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError:
        raise TokenFileError(
            f"token file {path} is not UTF-8 text (nor UTF-16 with a byte-order mark)"
        ) from None
    value = text.strip().lstrip("\ufeff").strip()  # a mark after leading blank lines too
    if not value:
        raise TokenFileError(f"token file {path} is empty")
    if len(raw) > _MAX_TOKEN_FILE or any(ch.isspace() for ch in value):
        raise TokenFileError(
            f"token file {path} holds more than the token (whitespace inside it); "
            "it must hold the token alone",
            tuple(Secret(word) for word in value.split()),
        )
    return value
