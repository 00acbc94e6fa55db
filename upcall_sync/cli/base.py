"""The command line's shared pieces: the app, its state, shared options, the client,
error hints. Commands live in `run` (plan, apply) and `tools` (validate, schema,
doctor, export); `main` is the entry point."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from upcall_sync import __version__
from upcall_sync.authtoken import read_token
from upcall_sync.cli.interrupts import handling
from upcall_sync.cli.messages import api_url_fix
from upcall_sync.errors import (
    ApiStatusError,
    InsecureTransport,
    ListsUnavailable,
    NoToken,
    TokenFileError,
    UnsafePlan,
    UpcallSyncError,
    UsageError,
    shown_name,
)
from upcall_sync.redact import RedactingFormatter, Redactor, Secret

if TYPE_CHECKING:
    from upcall_sync.client import UpcallClient


app = typer.Typer(
    name="upcall-sync",
    help="Declarative sync for Upcall phone campaigns: YAML manifests in, plan and apply out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    debug = False
    redactor = Redactor()
    #: the API base URL of the client this run made (for the /api/v1 hint on a 404)
    api_url = ""
    #: what "now" is for plans (None: the system clock, `jobs.sync.utc_now`); the test
    #: suite sets a frozen one
    clock: Callable[[], datetime] | None = None
    #: the token read at start (`learn_token`): for which file and environment, and
    #: the token or why it could not be read
    token: tuple[tuple[str | None, str], Secret | UpcallSyncError] | None = None


STATE = _State()


def _version(value: bool) -> None:
    if value:
        print(f"upcall-sync {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks and (redacted) request logs on stderr. Also taken after "
            "the command (`upcall-sync plan --debug ...`).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Declarative sync for Upcall phone campaigns."""
    STATE.debug = debug
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter(STATE.redactor, "%(levelname)s %(name)s: %(message)s")
        if debug
        else _Plain(STATE.redactor, "%(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


class _Plain(RedactingFormatter):
    """Without --debug, a logged warning reads as the tool's own (`warning: ...`), not
    `WARNING upcall_sync.jobs.planfile: ...`: a module path is no user's business."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().format(record)}"


# -- shared options -------------------------------------------------------------

Paths = Annotated[
    list[str] | None,
    typer.Argument(
        help="Manifest files, or directories (every *.yaml / *.yml below them).",
        show_default=False,
        metavar="PATH...",
    ),
]


def written_name(value: str | None) -> str | None:
    """The file or folder an option writes to: a name starting with `-` is an option the
    value went missing before (`plan --out --format json` saved the plan to a file named
    `--format`); refused, and a file of that name is still `./-name`."""
    if value is not None and value.startswith("-") and value != "-":
        raise typer.BadParameter(
            f"{shown_name(value)} looks like an option, not a name (its value missing?); "
            f"for a file of that name write ./{shown_name(value)}"
        )
    return value


def written_folder(value: str | None) -> str | None:
    """`export --out`'s folder, as `written_name`; neither empty (`--out "$DIR"` with DIR
    unset wrote the manifests into the working directory) nor `-` (it made a folder
    named `-`: stdout is export without --out); blank (`--out " "`) is empty, as for
    plan --out (it made a folder named ` `)."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty (an unset variable?): give the folder to write to")
    if value == "-":
        raise typer.BadParameter("- is not a folder: without --out, one manifest goes to stdout")
    return written_name(value)


def need_paths(paths: list[str] | None) -> list[str]:
    if not paths:
        raise UsageError("give at least one manifest file or directory")
    return paths


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    #: workflow commands (`::error file=F,line=L::...`) for GitHub Actions, then the text
    github = "github"


ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="UPCALL_API_URL",
        help="Upcall API base URL (default https://www.upcall.com/api/v1).",
        metavar="URL",
        show_default=False,
    ),
]
TokenFile = Annotated[
    str | None,
    typer.Option(
        "--token-file",
        envvar="UPCALL_AUTH_TOKEN_FILE",
        help="File holding the auth token; without it, UPCALL_AUTH_TOKEN is used.",
        metavar="FILE",
        show_default=False,
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        max=600,
        help="Seconds to wait for each API response.",
        metavar="SECONDS",
    ),
]
RetryTime = Annotated[
    float,
    typer.Option(
        "--max-retry-time",
        min=0,
        max=3600,
        help="Give up retrying a failing request after this many seconds.",
        metavar="SECONDS",
    ),
]
Insecure = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-http",
        help="Allow sending the token over plain http to a non-loopback host.",
    ),
]
#: the client's default (`client.DEFAULT_PARALLELISM`, a test holds them equal), repeated
#: here so that declaring the options loads no HTTP stack
DEFAULT_PARALLELISM = 8

Parallelism = Annotated[
    int,
    typer.Option(
        "--parallelism",
        min=1,
        max=64,
        help="Requests in flight at once, and the pooled connections.",
        metavar="N",
    ),
]


#: below this a run would wait minutes between requests (1e-9 waited forever, silently)
_MIN_RPS = 0.1


def _positive_rate(value: float | None) -> float | None:
    if value is not None and not _MIN_RPS <= value <= 10_000:
        raise typer.BadParameter(
            f"{value:g}: give requests per second, at least {_MIN_RPS:g} "
            "(one every 10 s), at most 10000"
        )
    return value


MaxRps = Annotated[
    float | None,
    typer.Option(
        "--max-rps",
        callback=_positive_rate,
        help="Send at most N requests per second (a known rate limit); without it, the rate "
        "is learned from the server's 429 answers.",
        metavar="N",
        show_default=False,
    ),
]
PageSize = Annotated[
    int | None,
    typer.Option(
        "--page-size",
        min=1,
        max=10_000,
        help="Ask listings for N items a page (default 1000; a server that refuses a size "
        "with HTTP 400 gets half of it, down to 10, for the rest of the run).",
        metavar="N",
        show_default=False,
    ),
]
UnreachableAfter = Annotated[
    float,
    typer.Option(
        "--unreachable-after",
        min=0.5,
        max=3600,
        help="Stop sending when no request has been answered for this long (5 s, or this if "
        "shorter, before the API has answered once).",
        metavar="SECONDS",
    ),
]
Prune = Annotated[
    bool,
    typer.Option("--prune", help="Archive live campaigns in prune_scope that no manifest names."),
]
Target = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help='Limit to the campaign of this name, or those a glob matches ("Acme *"); repeatable.',
        show_default=False,
        metavar="NAME|GLOB",
    ),
]


PlannedWith = Annotated[
    list[str] | None,
    typer.Option(
        "--planned-with",
        help="apply FILE: the account fingerprint of another token of this account the "
        "plan may have been made with (a read-only planning token; the JSON plan's "
        "`account`; 16 hex digits). Repeatable; one value may hold several, split by "
        "commas or spaces.",
        envvar="UPCALL_PLANNED_WITH",
        show_default=False,
        metavar="FINGERPRINT",
    ),
]

_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_SHORT_HEX = re.compile(r"[0-9a-fA-F]{1,15}")


def fingerprints(given: list[str] | None, ctx: typer.Context | None = None) -> tuple[str, ...]:
    """--planned-with's values: each a 16-hex-digit account fingerprint, in any case, and
    a value may hold several, split by commas or spaces (UPCALL_PLANNED_WITH="a,b"). A
    value that is none (cut short, a token pasted instead) is a usage error naming it,
    and where it was given (the flag, or the variable: a CI job's environment sets it):
    it matched no plan, and the refusal said to pass the flag that was passed."""
    found: list[str] = []
    for value in given or ():
        for part in value.replace(",", " ").split():
            if not _FINGERPRINT.fullmatch(part.lower()):
                # a cut-short fingerprint is shown; anything else may be a token pasted
                shown = part if _SHORT_HEX.fullmatch(part) else f"({len(part)} characters)"
                raise UsageError(
                    f"{_planned_with_source(ctx)} {shown}: not an account fingerprint (16 hex "
                    "digits: the `account` of the JSON plan made with the planning token)"
                )
            found.append(part.lower())
    return tuple(found)


def _planned_with_source(ctx: typer.Context | None) -> str:
    """How the bad --planned-with value was given: the flag, or UPCALL_PLANNED_WITH."""
    source = ctx.get_parameter_source("planned_with") if ctx is not None else None
    return (
        "UPCALL_PLANNED_WITH" if getattr(source, "name", "") == "ENVIRONMENT" else "--planned-with"
    )


@dataclass(frozen=True)
class ConnectionOptions:
    """The options of every command that talks to the API, as one declared set: a
    command decorated with `connection_options` gets them as its `connection` argument."""

    api_url: str | None = None
    token_file: str | None = None
    timeout: float = 30.0
    max_retry_time: float = 90.0
    allow_insecure_http: bool = False
    max_rps: float | None = None
    unreachable_after: float = 30.0
    #: threads and pooled connections: one number for both
    parallelism: int = DEFAULT_PARALLELISM
    #: items a listing page asks for (None: the client's default)
    page_size: int | None = None

    def client(self) -> UpcallClient:
        """The run's one client: a `Connection` of these options and the token read at
        start (`learn_token`); remembers the base URL for the /api/v1 hint."""
        from upcall_sync.client import (
            DEFAULT_BASE_URL,
            DEFAULT_PAGE_SIZE,
            Connection,
            RetryPolicy,
            UpcallClient,
            timeouts_for,
        )

        token = learn_token(self.token_file)
        if isinstance(token, UpcallSyncError):
            raise token
        connection = Connection(
            token=token,
            base_url=self.api_url or DEFAULT_BASE_URL,
            parallelism=self.parallelism,
            timeouts=timeouts_for(self.timeout),
            retry=RetryPolicy(max_total_seconds=self.max_retry_time),
            max_rps=self.max_rps,
            unreachable_after=self.unreachable_after,
            allow_insecure_http=self.allow_insecure_http,
            page_size=self.page_size or DEFAULT_PAGE_SIZE,
        )
        client = UpcallClient.open(connection)
        STATE.api_url = client.base_url
        return client


#: each connection option: its typer declaration and its default
_CONNECTION_PARAMETERS: tuple[tuple[str, Any], ...] = (
    ("parallelism", Parallelism),
    ("api_url", ApiUrl),
    ("token_file", TokenFile),
    ("timeout", Timeout),
    ("max_retry_time", RetryTime),
    ("allow_insecure_http", Insecure),
    ("max_rps", MaxRps),
    ("unreachable_after", UnreachableAfter),
    ("page_size", PageSize),
)

C = TypeVar("C", bound=Callable[..., Any])


def connection_options(*, parallelism: bool = True) -> Callable[[C], C]:
    """Give a command the connection options (sqlite-utils' shared decorators): they
    show in its --help after its own, and it receives them as `connection:
    ConnectionOptions`. Without `parallelism`, the command reads with one thread."""
    defaults = ConnectionOptions() if parallelism else ConnectionOptions(parallelism=1)
    declared = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=getattr(defaults, name),
            annotation=annotation,
        )
        for name, annotation in _CONNECTION_PARAMETERS
        if parallelism or name != "parallelism"
    ]
    names = [p.name for p in declared]

    def decorate(command: C) -> C:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "connection"]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names if name in kwargs}
            return command(*args, connection=replace(defaults, **values), **kwargs)

        params = [*own, *declared]
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return cast(C, wrapper)

    return decorate


def learn_token(token_file: str | None) -> Secret | UpcallSyncError:
    """The run's auth token, read once (`authtoken.read_token`, the one place a token
    file is opened) and taught to the output redactor at the same moment; or why it
    cannot be read, which only a command that needs the token reports.

    The entry point calls it before any command runs (offline ones too); a command's
    client gets the same value (read again only for another token file)."""
    path = token_file or os.environ.get("UPCALL_AUTH_TOKEN_FILE") or None
    key = (path, os.environ.get("UPCALL_AUTH_TOKEN", ""))
    if STATE.token is not None and STATE.token[0] == key:
        return STATE.token[1]
    STATE.redactor.add(key[1].strip())  # a token in the environment is secret, used or not
    result: Secret | UpcallSyncError
    try:
        result = read_token(None, path)
    except TokenFileError as exc:
        for word in exc.words:
            if isinstance(word, Secret):
                STATE.redactor.add(word.reveal())
        result = exc
    except UpcallSyncError as exc:
        result = exc
    if isinstance(result, Secret):
        STATE.redactor.add(result.reveal())
    STATE.token = (key, result)
    return result


Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No progress on stderr while the account is read (only results)."
    ),
]


@contextlib.contextmanager
def reading(
    client: UpcallClient,
    what: str,
    *,
    quiet: bool = False,
    totals: bool = True,
    paged: bool = True,
) -> Iterator[None]:
    """Progress on stderr while the block reads the account: a bar on a terminal, else a
    line about every 10 s (none for a shorter read); nothing with `quiet`. `totals`:
    show pages against the total links.last announces (False: a count); `paged` False:
    requests alone (work that reads no listings, as the write probe)."""
    if quiet:
        yield
        return
    from upcall_sync.output.progress import read_display

    display = read_display(
        sys.stderr,
        what,
        bar=use_color(sys.stderr),
        requests=client.requests_sent,
        status=client.limiter_status,
        totals=totals,
        paged=paged,
    )
    client.observe_pages(display)
    try:
        yield
    finally:
        client.observe_pages(None)
        display.close()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for an allocation-heavy phase.

    Loading 100,000 numbers or planning against as many builds millions of
    plain values with no reference cycles; the collector would re-scan them
    again and again (a cost that grows with everything alive, so the phase
    turns superlinear). Reference counting still frees everything at once;
    the collector is restored afterwards, unless it was off already.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def use_color(stream: object) -> bool:
    """Colour (and a live progress bar) only on a terminal that can show them."""
    return (
        bool(getattr(stream, "isatty", lambda: False)())
        and not os.environ.get("NO_COLOR")  # set and not empty (no-color.org)
        and os.environ.get("TERM") != "dumb"
    )


#: what the command line adds to a library error: the flag that changes the outcome
HINTS: dict[type[UpcallSyncError], str] = {
    UnsafePlan: "review the plan and pass --force to apply it",
    NoToken: "or pass --token-file",
    InsecureTransport: "--allow-insecure-http allows it",
    ListsUnavailable: "`upcall-sync doctor` checks what the API offers",
}


def with_hint(exc: UpcallSyncError) -> str:
    line = exc.one_line()
    for cls, hint in HINTS.items():
        if isinstance(exc, cls):
            return f"{line}; {hint}"
    if isinstance(exc, ApiStatusError) and exc.status == 404:
        better = api_url_fix(STATE.api_url)
        if better:
            return f"{line}; the Upcall API lives under /api/v1: try --api-url {better}"
    return line


def print_error(message: str) -> None:
    print(STATE.redactor(f"error: {message}"), file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner cancelling the job, `kill`), raised where Ctrl-C's
    KeyboardInterrupt would be: handled the same way, exit code 143."""


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[list[int]]:
    """While a command runs, SIGINT and SIGTERM interrupt it as Ctrl-C does (apply's own
    handlers take over while it writes), instead of SIGTERM ending the process on the
    spot: so apply's JSON report is printed on every exit, and export's all-or-none
    writes hold. The list yielded holds each signal that reached the command this way
    (typer turns the interrupt into a quiet exit code of 130: `main` then says so, and
    makes it 143 for SIGTERM). A signal the process was started ignoring (a background
    job without job control ignores SIGINT) stays ignored."""
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    ours = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    with handling(handler, replacing=lambda sig, current: current is ours.get(sig)):
        yield received
