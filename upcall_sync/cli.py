"""The `upcall-sync` command. The only module that imports typer; nothing imports it.

Each command parses its options, calls the library, renders, and maps errors
to exit codes: 0 success, 1 any error, 2 "changes present" (plan
--detailed-exitcode), 130/143 interrupted.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Annotated

import typer

from upcall_sync import __version__
from upcall_sync.client.redact import RedactingFormatter, Redactor
from upcall_sync.errors import ManifestError, UpcallSyncError, UsageError

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
    ),
]


def _paths(paths: list[str] | None) -> list[str]:
    if not paths:
        raise UsageError("give at least one manifest file or directory")
    return paths


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
        _print_error(f"{count} problem{'s' if count != 1 else ''} found in the manifests")
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
