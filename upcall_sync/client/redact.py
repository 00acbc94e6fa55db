"""The client's view of the redactor, which lives in `upcall_sync.redact`: the command
line wraps its streams in it without loading the HTTP stack (offline `validate`)."""

from upcall_sync.redact import (
    REDACTED,
    TOKEN_PARAM,
    RedactingFormatter,
    RedactingWriter,
    Redactor,
    ScrubbingFilter,
    Secret,
    scrub_exception,
    scrub_third_party_logs,
    strip_token,
)

__all__ = [
    "REDACTED",
    "TOKEN_PARAM",
    "RedactingFormatter",
    "RedactingWriter",
    "Redactor",
    "ScrubbingFilter",
    "Secret",
    "scrub_exception",
    "scrub_third_party_logs",
    "strip_token",
]
