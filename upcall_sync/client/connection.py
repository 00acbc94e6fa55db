"""One connection to one Upcall account: every setting a run talks to the API with.

A `Connection` is built once (by the command line from its options, or by a library
caller) and every part of a run takes its settings from it:

- the auth token, read once by `authtoken.read_token` (the one place a token file is
  opened);
  the command line hands the same value to its output redactor;
- the base URL, the timeouts, the retry policy and the rate limit;
- `parallelism`: ONE number for the requests in flight, the pooled HTTP connections
  and the reader's and export's worker threads. Apply runs twice as many workers
  (`slots.WORKERS_PER_SLOT`): a worker waiting out a `Retry-After` holds no slot,
  so the others still send `parallelism` requests at a time; no more ever are.

    connection = Connection.resolve(token_file="token.secret", parallelism=16)
    client = UpcallClient.open(connection)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from upcall_sync.authtoken import read_token
from upcall_sync.client.breaker import UNREACHABLE_AFTER
from upcall_sync.client.pager import DEFAULT_PAGE_SIZE
from upcall_sync.client.retry import RetryPolicy
from upcall_sync.client.transport import DEFAULT_BASE_URL, Timeouts
from upcall_sync.errors import UsageError
from upcall_sync.redact import Secret

__all__ = ["DEFAULT_PARALLELISM", "Connection", "read_token", "timeouts_for"]

#: threads and pooled connections when nothing says otherwise
DEFAULT_PARALLELISM = 8


def timeouts_for(seconds: float) -> Timeouts:
    """The timeouts of one `--timeout SECONDS`: connect (at most 10 s), read, whole body."""
    return Timeouts(connect=min(seconds, 10.0), read=seconds, total=seconds * 4)


@dataclass(frozen=True)
class Connection:
    """How to reach one account, and how hard: built once, handed to the client."""

    token: Secret
    base_url: str = DEFAULT_BASE_URL
    #: pooled HTTP connections and worker threads: one number for both
    parallelism: int = DEFAULT_PARALLELISM
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: requests per second at most (a known limit); None: learned from 429 answers
    max_rps: float | None = None
    #: seconds with no answer before every request fails at once (ApiUnreachable)
    unreachable_after: float = UNREACHABLE_AFTER
    allow_insecure_http: bool = False
    #: items a listing page asks for; a server that refuses it with 400 gets half of it
    #: (down to MIN_PAGE_SIZE), kept for the run
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.parallelism < 1:
            raise UsageError(f"parallelism must be at least 1, not {self.parallelism}")
        if self.page_size < 1:
            raise UsageError(f"page size must be at least 1, not {self.page_size}")

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        token: str | Secret | None = None,
        *,
        token_file: str | Path | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_rps: float | None = None,
        unreachable_after: float = UNREACHABLE_AFTER,
        allow_insecure_http: bool = False,
        page_size: int | None = None,
    ) -> Connection:
        """A connection from explicit values, falling back to UPCALL_API_URL and the
        token's environment variables (`read_token`)."""
        return cls(
            token=read_token(token, token_file),
            base_url=base_url or os.environ.get("UPCALL_API_URL") or DEFAULT_BASE_URL,
            parallelism=parallelism,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            max_rps=max_rps,
            unreachable_after=unreachable_after,
            allow_insecure_http=allow_insecure_http,
            page_size=page_size or DEFAULT_PAGE_SIZE,
        )
