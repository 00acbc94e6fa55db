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


def test_the_per_process_caches_keep_tokens_apart() -> None:
    """The fingerprint and a token set's forms and fragment regex are cached per process:
    a rotated token gets its own fingerprint, a redactor that learns a second token does
    not teach it to another of the first token's, and the order tokens are learned in
    changes nothing. Tokens of 4, 11, 12 and 13 characters, with `%`, `\\`, quotes and
    non-ASCII."""
    import hashlib

    from upcall_sync import redact

    tokens = ["a%b\\", "q'%\\\"é_1234"[:11], "k%é\\\"'_12345", "z%é\\\"'_123456", TOKEN]
    assert [len(t) for t in tokens[:4]] == [4, 11, 12, 13]
    for token in tokens:  # twice: the second from the cache
        real = hashlib.pbkdf2_hmac(
            "sha256", token.encode(), b"upcall-sync account fingerprint v1", 50_000
        )
        assert redact.account_fingerprint(Secret(token)) == real.hex()[:16]
        assert redact.account_fingerprint(token) == real.hex()[:16]
    assert len({redact.account_fingerprint(t) for t in tokens}) == len(tokens)

    for old, new in zip(tokens, tokens[1:] + tokens[:1], strict=True):
        only_old = Redactor(old)
        both = Redactor(old)
        both.add(new)
        reverse = Redactor(new, old)
        for written in (new, quote(new, safe=""), json.dumps(new)[1:-1], new[:12]):
            assert only_old(f"<{written}>") == f"<{written}>" or len(written) < 4
            for redactor in (both, reverse):
                assert REDACTED in redactor(f"<{written}>") or len(written) < 4
                assert new not in redactor(f"<{new}>") and old not in redactor(f"<{old}>")
