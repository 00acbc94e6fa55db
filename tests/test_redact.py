"""`redact`: the token out of every string that leaves the tool (its own unit tests; the
end-to-end leak scans live in conftest.py and tests/reliability/test_secrets.py)."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

from upcall_sync.redact import (
    REDACTED,
    RedactingFormatter,
    RedactingWriter,
    Redactor,
    Secret,
    scrub_exception,
    strip_token,
)

TOKEN = 'tok_\\é"unit_0123456789'


def test_a_secret_never_shows_itself() -> None:
    secret = Secret(TOKEN)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{[secret]}"):
        assert TOKEN not in shown and "********" in shown
    assert secret.reveal() == TOKEN
    assert secret == Secret(TOKEN) and hash(secret) == hash(Secret(TOKEN))
    assert not Secret("")


def test_every_written_form_of_the_token_is_replaced() -> None:
    redact = Redactor(TOKEN)
    for form in (TOKEN, quote(TOKEN, safe=""), json.dumps(TOKEN)[1:-1], repr(TOKEN)[1:-1]):
        assert redact(f"before {form} after") == f"before {REDACTED} after"


def test_any_auth_token_value_is_replaced_even_an_unknown_one() -> None:
    redact = Redactor()
    assert redact("GET /x?auth_token=abc123&page=2") == f"GET /x?auth_token={REDACTED}&page=2"
    assert redact('{"auth_token": "zzz"}') == f'{{"auth_token": "{REDACTED}"}}'


def test_a_redactor_learns_later_and_ignores_tiny_secrets() -> None:
    redact = Redactor()
    redact.add(TOKEN)
    redact.add("ab")  # shorter than 4 characters: replacing it would shred any text
    assert redact(f"x {TOKEN} ab") == f"x {REDACTED} ab"


def test_strip_token_drops_only_the_token_parameter() -> None:
    assert strip_token("https://h/api/v1/c?auth_token=s3cr3t&page[size]=5") == (
        "https://h/api/v1/c?page[size]=5"
    )
    assert strip_token("https://h/api/v1/c") == "https://h/api/v1/c"


def test_exceptions_and_their_causes_are_scrubbed_in_place() -> None:
    inner = ValueError(f"GET https://h/c?auth_token={TOKEN}")
    outer = RuntimeError(f"failed: {TOKEN}")
    outer.__cause__ = inner
    scrub_exception(outer, Redactor(TOKEN))
    assert TOKEN not in str(outer) and TOKEN not in str(inner)


def test_a_writer_redacts_a_token_split_across_writes() -> None:
    out = io.StringIO()
    writer = RedactingWriter(out, Redactor(TOKEN))
    half = len(TOKEN) // 2
    writer.write(f"a {TOKEN[:half]}")
    writer.write(f"{TOKEN[half:]} b\nrest")
    assert out.getvalue() == f"a {REDACTED} b\n"
    writer.flush()
    assert out.getvalue().endswith("rest")


def test_log_records_are_redacted_with_their_arguments() -> None:
    formatter = RedactingFormatter(Redactor(TOKEN), "%(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (TOKEN,), None)
    assert formatter.format(record) == f"sent {REDACTED}"
