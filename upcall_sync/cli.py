"""The `upcall-sync` command. The only module that imports typer; nothing imports it.

Each command parses its options, calls the library, renders, and maps errors
to exit codes: 0 success, 1 any error, 2 "changes present" (plan
--detailed-exitcode), 130/143 interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from enum import StrEnum
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from upcall_sync import __version__
from upcall_sync.client.redact import RedactingFormatter, Redactor
from upcall_sync.errors import ManifestError, PlanError, UnsafePlan, UpcallSyncError, UsageError
from upcall_sync.render import render_report

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


STATE = _State()


def _version(value: bool) -> None:
    if value:
        print(f"upcall-sync {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks and (redacted) request logs on stderr."),
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
        help="Limit to the campaign of this name (repeatable).",
        show_default=False,
        metavar="NAME",
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
    return client


def _color(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


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
        bool, typer.Option("--show-all-numbers", help="List every number, not the first few.")
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
    from upcall_sync.sync import PlanOptions, plan_paths

    manifests = _paths(paths)
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
    options = PlanOptions(prune=prune, targets=tuple(target or ()), parallelism=parallelism)
    planned = plan_paths(manifests, client, options)
    if out:
        from upcall_sync.planfile import save_plan

        save_plan(out, planned, client.transport.base_url)
    render(
        planned.plan,
        fmt.value,
        sys.stdout,
        **(
            {"color": _color(sys.stdout), "show_all_numbers": show_all_numbers}
            if fmt is Format.text
            else {}
        ),
    )
    if detailed_exitcode and not planned.plan.empty:
        raise typer.Exit(2)


# -- apply ----------------------------------------------------------------------


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
    """Make the live account match: plan, confirm, apply in a safe order, then check convergence."""
    from upcall_sync.apply import apply_plan
    from upcall_sync.manifest import load_manifests
    from upcall_sync.planfile import check_fresh, load_plan
    from upcall_sync.render import render_text
    from upcall_sync.sync import PlanOptions, converge, plan_for

    args = _paths(paths)
    saved_file = (
        len(args) == 1 and os.path.isfile(args[0]) and not args[0].endswith((".yaml", ".yml"))
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
    if saved_file:
        if prune or target:
            raise UsageError(
                "--prune and --target are fixed when the plan is saved; run plan again"
            )
        saved = load_plan(args[0])
        check_fresh(saved, client)
        the_plan = saved.plan
        desired = load_manifests(list(saved.files))
        options = PlanOptions(
            prune=bool(saved.options.get("prune")),
            targets=tuple(saved.options.get("targets") or ()),
            parallelism=parallelism,
        )
    else:
        options = PlanOptions(prune=prune, targets=tuple(target or ()), parallelism=parallelism)
        planned = plan_for(load_manifests(args), client, options)
        the_plan, desired = planned.plan, planned.desired
    if quiet:
        print(the_plan.summary_line())
    else:
        render_text(the_plan, sys.stdout, color=_color(sys.stdout))
    if the_plan.empty:
        return
    if the_plan.unsafe and not force:
        raise UnsafePlan(f"unsafe plan: {the_plan.unsafe[0]}; review it and pass --force to apply")
    if not saved_file and not auto_approve:
        _confirm()

    progress = _progress(quiet, len(the_plan.changes), client.transport.limiter.status)
    cancel = threading.Event()
    # The handlers stay until the command ends: a second signal while the
    # report prints must still exit at once.
    with _signals(cancel) as received:
        try:
            report = apply_plan(
                client,
                the_plan,
                parallelism=parallelism,
                fail_fast=fail_fast,
                listener=progress,
                cancel=cancel,
            )
        finally:
            progress.close()
        render_report(report, sys.stdout)
        if report.stop_reason:
            _print_error(report.stop_reason)
        if report.interrupted or received:
            raise typer.Exit(143 if received and received[0] == signal.SIGTERM else 130)
        if not report.ok:
            raise typer.Exit(1)
        remaining = converge(client, desired, the_plan, options)
    if not remaining.empty:
        print("\nThe account did not converge; a fresh plan still shows:\n")
        render_text(remaining, sys.stdout, color=_color(sys.stdout))
        raise typer.Exit(1)
    print("Converged: a fresh plan of what was touched is empty.")


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to confirm on: pass --auto-approve to apply without asking")
    print("\nDo you want to apply these changes? Only 'yes' will be accepted.")
    try:
        answer = input("  Enter a value: ")
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise UsageError("apply cancelled: nothing was changed")


def _progress(quiet: bool, total: int, status: Any = None) -> Any:
    from upcall_sync.render import BarProgress, LineProgress

    class _Silent:
        def __call__(self, op: Any) -> None:
            return

        def close(self) -> None:
            return

    if quiet:
        return _Silent()
    if sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb":
        return BarProgress(total, sys.stdout, status)
    return LineProgress(sys.stdout, status)


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

    state = load_manifests(_paths(paths))
    for skipped in state.skipped:
        print(f"note: skipped {skipped}: not a manifest (no manifest keys)", file=sys.stderr)
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
    from upcall_sync.emulator.server import RANDOM_FAULTS

    kinds = [k.strip() for k in faults.split(",") if k.strip()]
    bad = [k for k in kinds if k not in RANDOM_FAULTS]
    if bad:
        raise UsageError(
            f"--faults: unknown fault kind(s) {', '.join(bad)}; "
            f"choose from {', '.join(RANDOM_FAULTS)}"
        )
    if error_style not in ("fields", "jsonapi"):
        raise UsageError("--error-style must be 'fields' or 'jsonapi'")
    if not token:
        raise UsageError("--token: give at least one token (each token is an account)")
    opts = EmulatorOptions(
        host=host,
        port=port,
        db=db,
        tokens=list(token),
        confirmed_numbers=list(confirmed_number or []),
        max_page_size=max_page_size,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        faults=kinds,
        seed=seed,
        retry_after=retry_after,
        stall_seconds=stall_seconds,
        error_style=error_style,
        quiet=quiet,
        rate_limit=rate_limit,
        rate_limit_headers=rate_limit_headers,
    )
    try:
        raise typer.Exit(serve(opts))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}") from exc


# -- entry point --------------------------------------------------------------


def _print_error(message: str) -> None:
    print(STATE.redactor(f"error: {message}"), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    args = sys.argv[1:] if argv is None else argv
    STATE.debug = "--debug" in args
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
        _print_error(exc.one_line())
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
        _print_error(" ".join(exc.format_message().split()))
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
