"""The entry point: redacted streams, the commands (and plugin commands such as the
emulator's, through the `upcall_sync.commands` entry points), errors to exit codes."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import traceback
from typing import TYPE_CHECKING

import typer

from upcall_sync.cli.messages import lift_debug, usage_message
from upcall_sync.errors import (
    ManifestError,
    PlanError,
    StalePlan,
    UpcallSyncError,
    shown_name,
)
from upcall_sync.redact import RedactingWriter

if TYPE_CHECKING:
    pass

from importlib import metadata

from upcall_sync.cli import run, tools  # noqa: F401  (importing them registers the commands)
from upcall_sync.cli.base import (
    STATE,
    Terminated,
    app,
    learn_token,
    print_error,
    signals_as_interrupt,
    with_hint,
)


@functools.cache
def _command_entry_points() -> tuple[metadata.EntryPoint, ...]:
    """The group's entry points, read once per process: the read parses every installed
    package's metadata (about 7 ms), and `main` may run many times in one process (the
    test suite runs it some 6,000 times)."""
    return tuple(metadata.entry_points(group="upcall_sync.commands"))


def _load_plugins() -> None:
    """Commands other packages add (`upcall-sync emulator`): entry points in the group
    `upcall_sync.commands`, each a `register(app)` callable. The tool never imports them."""
    for entry in _command_entry_points():
        if entry.name not in _LOADED:
            _LOADED.add(entry.name)
            entry.load()(app)


_LOADED: set[str] = set()


def _learn_secrets(args: list[str]) -> None:
    """Read the token before anything runs (`learn_token`: the one read, which also
    teaches the output redactor), so that even an offline command that never uses it
    (`validate`) cannot print it. A command that needs it gets the same value."""
    token_file: str | None = None
    for i, arg in enumerate(args):
        if arg == "--token-file" and i + 1 < len(args):
            token_file = args[i + 1]
        elif arg.startswith("--token-file="):
            token_file = arg.split("=", 1)[1]
    STATE.token = None  # a new run: the environment may have changed
    learn_token(token_file)


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
    _load_plugins()
    try:
        with signals_as_interrupt() as received:
            result = app(args=args, prog_name="upcall-sync", standalone_mode=False)
        if received:  # typer made the interrupt a quiet exit 130: one line says why
            print_error("interrupted")
            return 143 if received[0] == signal.SIGTERM else 130
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print_error("aborted")
        return 130
    except KeyboardInterrupt as exc:
        print_error("interrupted")
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:
        if STATE.debug:
            _print_traceback()
        return _report(exc)


def _report(exc: Exception) -> int:
    """Print what went wrong (one line, or one per problem) and return the exit code."""
    if isinstance(exc, ManifestError):
        for line in exc.lines():
            print(STATE.redactor(line), file=sys.stderr)
        count = len(exc.problems)
        if count > 1:  # one problem is one line; several get a count
            what = (
                "matching the manifests to the live account"
                if isinstance(exc, PlanError)
                else "found in the manifests"
            )
            print_error(f"{count} problems {what}")
        return exc.exit_code
    if isinstance(exc, StalePlan) and exc.details:
        for line in exc.details:  # every difference, then a summary that counts them
            print(STATE.redactor(shown_name(line)), file=sys.stderr)
        print_error(shown_name(" ".join(exc.brief.split())))
        return exc.exit_code
    if isinstance(exc, UpcallSyncError):
        print_error(with_hint(exc))
        return exc.exit_code
    if isinstance(exc, typer.TyperException):
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        print_error(usage_message(exc))
        return 1
    # a bug: still one line, the traceback behind --debug
    print_error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
    return 1


def _print_traceback() -> None:
    print(STATE.redactor(traceback.format_exc()), file=sys.stderr)
