"""The `upcall-sync` command. The only module that imports typer; nothing imports it.

Each command parses its options, calls the library, renders, and maps errors
to exit codes: 0 success, 1 any error, 2 "changes present" (plan
--detailed-exitcode), 130/143 interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from enum import StrEnum
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from upcall_sync import __version__
from upcall_sync.cli_messages import api_url_fix, lift_debug, usage_message
from upcall_sync.client.redact import RedactingFormatter, RedactingWriter, Redactor
from upcall_sync.errors import (
    ApiStatusError,
    InsecureTransport,
    ListsUnavailable,
    ManifestError,
    NoToken,
    PlanError,
    StalePlan,
    UnsafePlan,
    UpcallSyncError,
    UsageError,
)
from upcall_sync.render import render_report

if TYPE_CHECKING:
    from upcall_sync.changes import Plan
    from upcall_sync.client import UpcallClient
    from upcall_sync.sync import ApplyJob, ApplyOutcome, PlanOptions

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
    handler.setFormatter(RedactingFormatter(STATE.redactor, "%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


# -- shared options -------------------------------------------------------------

Paths = Annotated[
    list[str] | None,
    typer.Argument(
        help="Manifest files, or directories (every *.yaml / *.yml below them).",
        show_default=False,
        metavar="PATH...",
    ),
]


def _paths(paths: list[str] | None) -> list[str]:
    if not paths:
        raise UsageError("give at least one manifest file or directory")
    return paths


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


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
Parallelism = Annotated[
    int,
    typer.Option("--parallelism", min=1, max=64, help="Requests in flight at once.", metavar="N"),
]


def _positive_rate(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 10_000:
        raise typer.BadParameter(f"{value:g}: give requests per second, more than 0, at most 10000")
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


def _client(
    api_url: str | None,
    token_file: str | None,
    timeout: float,
    insecure: bool,
    parallelism: int,
    retry_time: float = 90.0,
    max_rps: float | None = None,
    unreachable_after: float = 30.0,
) -> UpcallClient:
    from upcall_sync.client import RetryPolicy, Timeouts, UpcallClient

    client = UpcallClient.connect(
        api_url,
        token_file=token_file,
        parallelism=parallelism,
        timeouts=Timeouts(connect=min(timeout, 10.0), read=timeout, total=timeout * 4),
        retry=RetryPolicy(max_total_seconds=retry_time),
        allow_insecure_http=insecure,
        max_rps=max_rps,
        unreachable_after=unreachable_after,
    )
    STATE.redactor.add(client.transport.token_for_redaction())
    STATE.api_url = client.transport.base_url
    return client


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


def _color(stream: object) -> bool:
    """Colour (and a live progress bar) only on a terminal that can show them."""
    return (
        bool(getattr(stream, "isatty", lambda: False)())
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
    )


# -- plan -----------------------------------------------------------------------


@app.command()
def plan(
    paths: Paths = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = Format.text,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Also save the plan to FILE, for `apply FILE`.",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 0 when there are no changes, 2 when there are."
        ),
    ] = False,
    prune: Prune = False,
    target: Target = None,
    parallelism: Parallelism = 8,
    show_all_numbers: Annotated[
        bool,
        typer.Option(
            "--show-all-numbers",
            help="List every number (to add, or named by a notice), not the first five.",
        ),
    ] = False,
    api_url: ApiUrl = None,
    token_file: TokenFile = None,
    timeout: Timeout = 30.0,
    max_retry_time: RetryTime = 90.0,
    allow_insecure_http: Insecure = False,
    max_rps: MaxRps = None,
    unreachable_after: UnreachableAfter = 30.0,
) -> None:
    """Show what apply would change: text for people, JSON for machines, Markdown for PRs."""
    from upcall_sync.render import render
    from upcall_sync.sync import plan_paths

    client = _client(
        api_url,
        token_file,
        timeout,
        allow_insecure_http,
        parallelism,
        max_retry_time,
        max_rps,
        unreachable_after,
    )
    with gc_paused():
        planned = plan_paths(_paths(paths), client, _options(prune, target, parallelism))
    if out:
        from upcall_sync.planfile import save_plan

        save_plan(out, planned, client.transport.base_url, redact=STATE.redactor)
    text_options = {"color": _color(sys.stdout), "show_all_numbers": show_all_numbers}
    render(planned.plan, fmt.value, sys.stdout, **(text_options if fmt is Format.text else {}))
    if detailed_exitcode and not planned.plan.empty:
        raise typer.Exit(2)


def _options(prune: bool, target: list[str] | None, parallelism: int) -> PlanOptions:
    from upcall_sync.sync import PlanOptions

    if prune and target:
        raise UsageError("--prune cannot be combined with --target")
    return PlanOptions(prune=prune, targets=tuple(target or ()), parallelism=parallelism)


# -- apply ----------------------------------------------------------------------


class ApplyFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def apply(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Manifest files or directories; or one plan file saved by `plan --out`.",
            show_default=False,
            metavar="PATH...|PLANFILE",
        ),
    ] = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (CI).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply a plan over the safety thresholds.")
    ] = False,
    fail_fast: Annotated[
        bool,
        typer.Option(
            "--fail-fast", help="Start nothing new after the first failure (default: go on)."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the plan summary and the result.")
    ] = False,
    fmt: Annotated[
        ApplyFormat,
        typer.Option(
            "--format",
            "-f",
            help="text, or json: one report on stdout (plan, outcomes, convergence), "
            "the rest on stderr.",
        ),
    ] = ApplyFormat.text,
    prune: Prune = False,
    target: Target = None,
    parallelism: Parallelism = 8,
    api_url: ApiUrl = None,
    token_file: TokenFile = None,
    timeout: Timeout = 30.0,
    max_retry_time: RetryTime = 90.0,
    allow_insecure_http: Insecure = False,
    max_rps: MaxRps = None,
    unreachable_after: UnreachableAfter = 30.0,
) -> None:
    """Make the live account match: plan, confirm, apply in a safe order, then check convergence.

    With --format json, stdout carries one JSON report (schema/apply-report.schema.json),
    on every exit, errors included; the plan, prompt, progress and summary go to stderr.
    """
    from upcall_sync.sync import prepare_apply

    run = _ApplyRun(json_report=fmt is ApplyFormat.json)
    try:
        client = _client(
            api_url,
            token_file,
            timeout,
            allow_insecure_http,
            parallelism,
            max_retry_time,
            max_rps,
            unreachable_after,
        )
        with gc_paused():
            run.job = prepare_apply(_paths(paths), client, _options(prune, target, parallelism))
        code = _apply_job(
            run, client, force=force, auto_approve=auto_approve, fail_fast=fail_fast, quiet=quiet
        )
    except BaseException as exc:
        run.document(_exit_code(exc), exc)
        raise
    run.document(code)
    if code:
        raise typer.Exit(code)


class _ApplyRun:
    """One apply command's output: text on stdout; or, with --format json, the report
    document on stdout and everything text would show on stderr."""

    def __init__(self, *, json_report: bool) -> None:
        self.json = json_report
        self.out = sys.stderr if json_report else sys.stdout
        self.job: ApplyJob | None = None
        self.outcome: ApplyOutcome | None = None
        self._written = False

    def document(self, exit_code: int, error: BaseException | None = None) -> None:
        """The JSON report, once (nothing with --format text)."""
        if not self.json or self._written:
            return
        self._written = True
        from upcall_sync.report import render_report_json, report_document

        doc = report_document(self.job, self.outcome, error=error, exit_code=exit_code)
        render_report_json(doc, sys.stdout)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, UpcallSyncError):
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt | typer.Abort):
        return 130
    return 1


def _apply_job(
    run: _ApplyRun,
    client: UpcallClient,
    *,
    force: bool,
    auto_approve: bool,
    fail_fast: bool,
    quiet: bool,
) -> int:
    """Show the plan, confirm, apply, report; returns the exit code."""
    from upcall_sync.render import render_remaining, render_text
    from upcall_sync.sync import run_apply

    assert run.job is not None
    job, out = run.job, run.out
    if quiet:
        print(job.plan.summary_line(), file=out)
    else:
        render_text(job.plan, out, color=_color(out))
    if job.plan.empty:
        return 0
    if not force:
        job.plan.raise_if_unsafe()
    if not job.saved and not auto_approve:
        _confirm(out)
    progress = _progress(quiet, job.plan, out, client.transport.limiter.status)
    cancel = threading.Event()
    # The handlers stay until the command ends: a second signal while the
    # report prints must still exit at once.
    with _signals(cancel) as received:
        try:
            run.outcome = outcome = run_apply(
                client, job, force=force, fail_fast=fail_fast, listener=progress, cancel=cancel
            )
        finally:
            progress.close()
        render_report(outcome.report, out)
        if outcome.report.stop_reason:
            _print_error(outcome.report.stop_reason)
        if outcome.report.interrupted or received:
            code = 143 if received and received[0] == signal.SIGTERM else 130
        elif outcome.check_error is not None:
            raise UpcallSyncError(
                f"could not check convergence: {outcome.check_error.one_line()}"
            ) from outcome.check_error
        elif not outcome.converged:  # a change did not apply, or a fresh plan is not empty
            if outcome.remaining is not None:
                render_remaining(outcome.remaining, outcome.explanation, out)
            code = 1
        else:
            print("Converged: a fresh plan of what was touched is empty.", file=out)
            code = 0
        run.document(code)
    return code


def _confirm(out: TextIO) -> None:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to confirm on: pass --auto-approve to apply without asking")
    print("\nDo you want to apply these changes? Only 'yes' will be accepted.", file=out)
    out.write("  Enter a value: ")
    out.flush()
    try:
        answer = input()
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise UsageError("apply cancelled: nothing was changed")


def _progress(quiet: bool, plan: Plan, out: TextIO, status: Any = None) -> Any:
    """A bar on a terminal, lines otherwise; `status` says when the server throttles."""
    from upcall_sync.render import BarProgress, LineProgress, operation_count

    class _Silent:
        def __call__(self, op: Any) -> None:
            return

        def close(self) -> None:
            return

    if quiet:
        return _Silent()
    if _color(out):
        return BarProgress(operation_count(plan), out, status)
    return LineProgress(out, status)


@contextlib.contextmanager
def _signals(cancel: threading.Event) -> Iterator[list[int]]:
    """First SIGINT/SIGTERM: stop starting changes. Second: exit at once."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            os._exit(143 if signum == signal.SIGTERM else 130)
        print(
            "\nStopping: letting in-flight changes finish; press Ctrl-C again to quit at once.",
            file=sys.stderr,
            flush=True,
        )
        cancel.set()

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- validate / schema ----------------------------------------------------------


@app.command()
def validate(paths: Paths = None) -> None:
    """Check manifests offline (no token needed): every problem, with file:line:col."""
    from upcall_sync.manifest import load_manifests

    with gc_paused():
        state = load_manifests(_paths(paths))
    for skipped in state.skipped:
        print(f"note: skipped {skipped}: not a manifest (no manifest keys)", file=sys.stderr)
    for warning in state.warnings:
        print(f"{warning.location}: warning: {warning.path}: {warning.message}", file=sys.stderr)
    numbers = sum(len(c.numbers) for c in state.campaigns)
    files = len(state.files)
    print(
        f"{files:,} file{'s' if files != 1 else ''}, {len(state.campaigns):,} campaign"
        f"{'s' if len(state.campaigns) != 1 else ''}, {numbers:,} number"
        f"{'s' if numbers != 1 else ''}: valid"
    )


@app.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors and CI linters)."""
    from upcall_sync.manifest.schema import schema_text

    sys.stdout.write(schema_text())


# -- emulator -----------------------------------------------------------------


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
    db: Annotated[
        str, typer.Option(help="SQLite database file; :memory: for a throwaway one.")
    ] = ":memory:",
    token: Annotated[
        list[str] | None,
        typer.Option(help="An accepted auth token (repeatable; each token is its own account)."),
    ] = None,
    confirmed_number: Annotated[
        list[str] | None,
        typer.Option(help="A confirmed caller-ID number for every account (repeatable)."),
    ] = None,
    max_page_size: Annotated[int, typer.Option(min=1, help="Cap on page[size].")] = 100,
    latency_ms: Annotated[float, typer.Option(min=0, help="Added latency per request.")] = 0.0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests that get a fault.")
    ] = 0.0,
    faults: Annotated[
        str,
        typer.Option(
            help="Comma-separated fault kinds: 429, 500, 502, 503, reset, lost-write, timeout."
        ),
    ] = "429,500,reset,lost-write",
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible faults.")] = None,
    retry_after: Annotated[int, typer.Option(min=0, help="Retry-After seconds on a 429.")] = 1,
    stall_seconds: Annotated[
        float, typer.Option(min=0, help="How long a 'timeout' fault holds the answer.")
    ] = 30.0,
    error_style: Annotated[
        str, typer.Option(help="Error bodies: 'fields' (the reference's) or 'jsonapi'.")
    ] = "fields",
    quiet: Annotated[bool, typer.Option(help="Do not log each request.")] = False,
    numbers_copy_contacts: Annotated[
        bool, typer.Option(help="Numbers copy their contact's details when added.")
    ] = False,
    duplicate_number_message: Annotated[
        str | None,
        typer.Option(
            help="Message of the 400 for a contact already in the campaign.", metavar="TEXT"
        ),
    ] = None,
    exact_filters: Annotated[
        bool, typer.Option(help="No normalising of phone / from_number filter values.")
    ] = False,
    no_last_link: Annotated[bool, typer.Option(help="List pages carry no links.last.")] = False,
    no_lists: Annotated[
        bool, typer.Option(help="The inferred /lists endpoints answer 404.")
    ] = False,
    validation: Annotated[
        str,
        typer.Option(help="'strict' or 'lenient': enforce the rules the contract never states?"),
    ] = "strict",
    read_only_token: Annotated[
        list[str] | None,
        typer.Option(help="A token that reads the first --token's account; its writes get 403."),
    ] = None,
    rate_limit: Annotated[
        float,
        typer.Option(
            min=0,
            max=100_000,
            help="Requests per second each token may make (burst the same); 0: no limit. "
            "The excess gets 429 with Retry-After.",
            metavar="R",
        ),
    ] = 0.0,
    rate_limit_headers: Annotated[
        bool, typer.Option(help="With --rate-limit: send RateLimit-* headers too.")
    ] = False,
) -> None:
    """Run a local Upcall v1 API backed by SQLite (prints its base URL first)."""
    from upcall_sync.emulator.cli import EmulatorOptions, serve

    if not token:
        raise UsageError("--token: give at least one token (each token is an account)")
    try:
        opts = EmulatorOptions(
            host=host,
            port=port,
            db=db,
            tokens=list(token),
            confirmed_numbers=list(confirmed_number or []),
            max_page_size=max_page_size,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            faults=[k.strip() for k in faults.split(",") if k.strip()],
            seed=seed,
            retry_after=retry_after,
            stall_seconds=stall_seconds,
            error_style=error_style,
            quiet=quiet,
            numbers_copy_contacts=numbers_copy_contacts,
            exact_filters=exact_filters,
            no_last_link=no_last_link,
            no_lists=no_lists,
            validation=validation,
            read_only_tokens=list(read_only_token or []),
            duplicate_number_message=duplicate_number_message,
            rate_limit=rate_limit,
            rate_limit_headers=rate_limit_headers,
        )
        raise typer.Exit(serve(opts))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}") from exc


# -- doctor -------------------------------------------------------------------


class DoctorFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def doctor(
    fmt: Annotated[
        DoctorFormat, typer.Option("--format", "-f", help="text or json.")
    ] = DoctorFormat.text,
    api_url: ApiUrl = None,
    token_file: TokenFile = None,
    timeout: Timeout = 30.0,
    max_retry_time: RetryTime = 90.0,
    allow_insecure_http: Insecure = False,
    max_rps: MaxRps = None,
    unreachable_after: UnreachableAfter = 30.0,
) -> None:
    """Check a live API against every assumption the client makes (GET requests only).

    Run it first against a real account. Exits 1 when a required check fails.
    """
    from upcall_sync.doctor import render_json, render_text, run_doctor

    client = _client(
        api_url,
        token_file,
        timeout,
        allow_insecure_http,
        1,
        max_retry_time,
        max_rps,
        unreachable_after,
    )
    report = run_doctor(client)
    (render_json if fmt is DoctorFormat.json else render_text)(report, sys.stdout)
    if not report.ok:
        raise typer.Exit(1)


# -- export -------------------------------------------------------------------------


@app.command()
def export(
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Write one manifest per campaign into DIR (and a CSV of numbers for large "
            "campaigns); without it, one manifest goes to stdout.",
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="Export only campaigns whose name matches this glob (repeatable; like "
            "prune_scope, case-sensitive).",
            show_default=False,
            metavar="GLOB",
        ),
    ] = None,
    include_archived: Annotated[
        bool, typer.Option("--include-archived", help="Export archived campaigns too.")
    ] = False,
    from_number: Annotated[
        list[str] | None,
        typer.Option(
            "--from-number",
            help="Probe this caller ID (repeatable) through the API's from_number filter and "
            "write it for the campaigns that have it.",
            show_default=False,
            metavar="E164",
        ),
    ] = None,
    csv_over: Annotated[
        int | None,
        typer.Option(
            "--csv-over",
            min=0,
            help="With --out: a campaign with more than N numbers gets them in a CSV beside "
            "its manifest (numbers_csv). Default 100.",
            show_default=False,
            metavar="N",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="With --out: replace files that exist.")
    ] = False,
    parallelism: Parallelism = 8,
    api_url: ApiUrl = None,
    token_file: TokenFile = None,
    timeout: Timeout = 30.0,
    max_retry_time: RetryTime = 90.0,
    allow_insecure_http: Insecure = False,
    max_rps: MaxRps = None,
    unreachable_after: UnreachableAfter = 30.0,
) -> None:
    """Write the live account as manifests that plan to no changes (read-only)."""
    from pathlib import Path

    from upcall_sync import export as ex
    from upcall_sync.manifest.yamlload import MAX_FILE_BYTES

    if out is None and (csv_over is not None or overwrite):
        raise UsageError("--csv-over and --overwrite need --out DIR")
    options = ex.ExportOptions(
        names=tuple(name or ()),
        include_archived=include_archived,
        from_numbers=ex.probe_numbers(from_number or ()),
        csv_over=ex.DEFAULT_CSV_OVER if csv_over is None else csv_over,
        parallelism=parallelism,
    )
    client = _client(
        api_url,
        token_file,
        timeout,
        allow_insecure_http,
        parallelism,
        max_retry_time,
        max_rps,
        unreachable_after,
    )
    live = ex.read_live(client, options)
    try:
        result = ex.build(
            live, options, version=__version__, to_dir=out is not None, redact=STATE.redactor
        )
    except ex.ExportError as exc:
        for reason in exc.reasons:
            _print_error(reason)
        _print_error(f"nothing written: {len(exc.reasons)} value(s) a manifest cannot hold")
        raise typer.Exit(1) from None
    for name_, text in result.files.items():
        if len(text.encode()) > MAX_FILE_BYTES:
            where = "stdout" if name_ == "-" else name_
            raise UsageError(
                f"{where} would be over the {MAX_FILE_BYTES // 1024 // 1024} MB manifest limit: "
                + ("use --out DIR" if name_ == "-" else "lower --csv-over")
            )
    for warning in result.warnings:
        print(STATE.redactor(f"warning: {warning}"), file=sys.stderr)
    summary = (
        f"{result.campaigns:,} campaign{'s' if result.campaigns != 1 else ''}, "
        f"{result.numbers:,} number{'s' if result.numbers != 1 else ''} "
        f"({live.requests:,} GET requests)"
    )
    if out is None:
        sys.stdout.write(result.files["-"])
        print(f"Exported {summary}.", file=sys.stderr)
        return
    directory = Path(out)
    if not result.files:
        print(f"Nothing to export: no campaign matched; nothing written to {directory}.")
        return
    for stranger in ex.strangers(directory, result.files):
        print(
            f"note: {directory / stranger} was not written by this export; validate and plan "
            "read it too",
            file=sys.stderr,
        )
    written = ex.write_files(result.files, directory, overwrite=overwrite)
    print(f"Exported {summary}: {len(written):,} files in {directory}.")


# -- entry point --------------------------------------------------------------


#: what the command line adds to a library error: the flag that changes the outcome
HINTS: dict[type[UpcallSyncError], str] = {
    UnsafePlan: "review the plan and pass --force to apply it",
    NoToken: "or pass --token-file",
    InsecureTransport: "--allow-insecure-http allows it",
    ListsUnavailable: "`upcall-sync doctor` checks what the API offers",
}


def _with_hint(exc: UpcallSyncError) -> str:
    line = exc.one_line()
    for cls, hint in HINTS.items():
        if isinstance(exc, cls):
            return f"{line}; {hint}"
    if isinstance(exc, ApiStatusError) and exc.status == 404:
        better = api_url_fix(STATE.api_url)
        if better:
            return f"{line}; the Upcall API lives under /api/v1: try --api-url {better}"
    return line


def _print_error(message: str) -> None:
    print(STATE.redactor(f"error: {message}"), file=sys.stderr)


def _learn_secrets(args: list[str]) -> None:
    """Teach the output redactor the token before anything runs, from wherever it may
    come (environment, token file), so that even an offline command that never uses
    it (`validate`) cannot print it."""
    STATE.redactor.add(os.environ.get("UPCALL_AUTH_TOKEN", "").strip())
    files = [os.environ.get("UPCALL_AUTH_TOKEN_FILE", "")]
    for i, arg in enumerate(args):
        if arg == "--token-file" and i + 1 < len(args):
            files.append(args[i + 1])
        elif arg.startswith("--token-file="):
            files.append(arg.split("=", 1)[1])
    for name in files:
        if name:
            with (
                contextlib.suppress(OSError, UnicodeDecodeError, ValueError),
                open(name, encoding="utf-8") as fh,
            ):
                STATE.redactor.add(fh.read(64 * 1024).strip())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it).

    stdout and stderr pass through the redactor last, whatever wrote to them.
    """
    args = sys.argv[1:] if argv is None else argv
    _learn_secrets(args)
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout = RedactingWriter(real_out, STATE.redactor)
    sys.stderr = RedactingWriter(real_err, STATE.redactor)
    try:
        return _main(args)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = real_out, real_err


def _main(args: list[str]) -> int:
    args = lift_debug(args)
    STATE.debug = args[:1] == ["--debug"]
    STATE.api_url = ""
    try:
        result = app(args=args, prog_name="upcall-sync", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except ManifestError as exc:
        if STATE.debug:
            _print_traceback()
        for line in exc.lines():
            print(STATE.redactor(line), file=sys.stderr)
        count = len(exc.problems)
        if count > 1:  # one problem is one line; several get a count
            what = (
                "matching the manifests to the live account"
                if isinstance(exc, PlanError)
                else "found in the manifests"
            )
            _print_error(f"{count} problems {what}")
        return exc.exit_code
    except UpcallSyncError as exc:
        if STATE.debug:
            _print_traceback()
        for line in exc.details if isinstance(exc, StalePlan) else ():
            print(STATE.redactor(line), file=sys.stderr)  # every difference, then the summary
        _print_error(_with_hint(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _print_error("aborted")
        return 130
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        if STATE.debug:
            _print_traceback()
        _print_error(usage_message(exc))
        return 1
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except Exception as exc:  # a bug: still one line, the traceback behind --debug
        if STATE.debug:
            _print_traceback()
        _print_error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return 1


def _print_traceback() -> None:
    print(STATE.redactor(traceback.format_exc()), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
