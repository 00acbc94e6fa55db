"""`validate`, `schema`, `doctor` and `export`."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from upcall_sync import __version__
from upcall_sync.cli.interrupts import stopping
from upcall_sync.errors import (
    UsageError,
    shown_name,
    shown_path,
)

if TYPE_CHECKING:
    from upcall_sync.client import UpcallClient
    from upcall_sync.jobs.export import Export
    from upcall_sync.manifest.fmt import Formatted

from upcall_sync.cli.base import (
    STATE,
    ConnectionOptions,
    Paths,
    Quiet,
    app,
    connection_options,
    gc_paused,
    need_paths,
    print_error,
    reading,
    written_folder,
)

# -- validate / schema ----------------------------------------------------------


class ValidateFormat(StrEnum):
    text = "text"
    github = "github"


@app.command()
def validate(
    paths: Paths = None,
    fmt: Annotated[
        ValidateFormat,
        typer.Option(
            "--format",
            "-f",
            help="text, or github: also each problem as a GitHub workflow command "
            "(::error file=F,line=L,col=C::...) on stdout, shown on the pull request's diff.",
        ),
    ] = ValidateFormat.text,
) -> None:
    """Check manifests offline (no token needed): every problem, with file:line:col."""
    from upcall_sync.core.stopcalls import listed_problems
    from upcall_sync.errors import ManifestError, TokenFileError
    from upcall_sync.manifest import load_what_validates
    from upcall_sync.manifest.tokencheck import token_problems
    from upcall_sync.output import annotations

    github = fmt is ValidateFormat.github
    try:
        with gc_paused():
            state, problems = load_what_validates(need_paths(paths))
        # a listed number is reported beside the other problems, not after they are
        # fixed (plan leaves these out; validate fails, so the PR check does)
        problems = [*problems, *listed_problems(state)]
        if problems:
            raise ManifestError(problems)
        holding = token_problems(state, STATE.redactor)  # as plan refuses them, given a token
        if holding:
            raise ManifestError(holding)
    except ManifestError as exc:
        if github:
            annotations.write_problems("error", exc.problems, sys.stdout)
        raise
    unread = STATE.token[1] if STATE.token is not None else None
    if isinstance(unread, TokenFileError):  # named, but unreadable: nothing to screen for
        print(
            f"warning: {unread.one_line()}; the manifests were not checked for the token",
            file=sys.stderr,
        )
    for skipped in state.skipped:
        name = shown_name(skipped)  # a file name is escaped like any other value
        print(f"note: skipped {name}: not a manifest (no manifest keys)", file=sys.stderr)
    for warning in state.warnings:
        print(f"{warning.location}: warning: {warning.path}: {warning.message}", file=sys.stderr)
    if github:
        annotations.write_problems("warning", state.warnings, sys.stdout)
    numbers = sum(len(c.numbers) for c in state.campaigns)
    files = len(state.files)
    print(
        f"{files:,} file{'s' if files != 1 else ''}, {len(state.campaigns):,} campaign"
        f"{'s' if len(state.campaigns) != 1 else ''}, {numbers:,} number"
        f"{'s' if numbers != 1 else ''}: valid"
    )


@app.command()
def fmt(
    paths: Paths = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 naming each file that would change."),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Show each change as a unified diff (on a GitHub runner, with workflow "
            "commands stopped around it).",
        ),
    ] = False,
) -> None:
    """Rewrite YAML manifests in one layout (like `terraform fmt`): layout only, never
    meaning or key order; comments and line endings kept. Prints the files it changed
    (with --check, would change). Other YAML (a workflow) is left as it is, with a note."""
    from upcall_sync.errors import ManifestError
    from upcall_sync.manifest.fmt import format_file, yaml_files

    changed = 0
    problems = []  # a file that is not YAML: told with the others', the rest still done
    for path in yaml_files(need_paths(paths)):
        try:
            changed += _laid_out(format_file(path, manifests_only=True), check, diff)
        except ManifestError as exc:
            problems.extend(exc.problems)
    if check and changed:
        s = "s" if changed != 1 else ""
        print_error(f"{changed:,} file{s} would be reformatted (run `upcall-sync fmt` on them)")
    if problems:
        raise ManifestError(problems)
    if check and changed:
        raise typer.Exit(1)


def _laid_out(result: Formatted, check: bool, diff: bool) -> bool:
    """One file's part of `fmt`: its note, its name and diff when it changes (written
    unless `check`); whether it changed."""
    import difflib

    from upcall_sync.manifest.fmt import write

    path = str(result.path)
    if result.skipped:  # as validate says it of a file it finds, for fmt's reading
        why = "no campaigns: key, nor a manifest's keys alone"
        print(f"note: skipped {shown_name(path)}: not a manifest ({why})", file=sys.stderr)
        return False
    if result.refused:
        print(f"{shown_path(path)}: left as it is: {result.refused}", file=sys.stderr)
        return False
    if not result.changed:
        return False
    print(shown_path(path))  # a file name may hold a line break or start "::"
    if diff:
        with _no_workflow_commands():
            sys.stdout.writelines(
                _ended(
                    difflib.unified_diff(
                        result.before.splitlines(True),
                        result.after.splitlines(True),
                        f"a/{shown_name(path)}",
                        f"b/{shown_name(path)}",
                    )
                )
            )
    if not check:
        write(result)
    return True


def _ended(lines: Iterable[str]) -> Iterator[str]:
    """A diff's lines, each ending its line: a last line without its line break (a file
    that does not end with one) gets git's `\\ No newline at end of file`, so the next
    line (the next diff line, or the token that resumes workflow commands) starts a
    line of its own instead of being glued to it. A line that `splitlines` ended with
    another break (U+2028, a form feed) gets a `\\n` too: a runner ends lines only at
    `\\n` and `\\r`; so does one ended by a lone `\\r` (a file of old Mac OS endings),
    which a terminal would overwrite with the next line."""
    for line in lines:
        if line.endswith("\n"):
            yield line
        elif line.endswith("\r") or line.splitlines() != [line]:  # ended by another break
            yield f"{line}\n"
        else:
            yield f"{line}\n\\ No newline at end of file\n"


@contextlib.contextmanager
def _no_workflow_commands() -> Iterator[None]:
    """On a GitHub runner, what is printed inside is never read as a workflow command
    (a diff's context line `  ::error::...` from a file in a pull request): the runner's
    `::stop-commands::` with a one-time token, then the token to resume."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        yield
        return
    resume = secrets.token_hex(16)
    sys.stdout.write(f"::stop-commands::{resume}\n")
    try:
        yield
    finally:
        sys.stdout.write(f"::{resume}::\n")


@app.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors and CI linters)."""
    from upcall_sync.manifest.schema import schema_text

    sys.stdout.write(schema_text())


# -- doctor -------------------------------------------------------------------


class DoctorFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
@connection_options(parallelism=False)
def doctor(
    fmt: Annotated[
        DoctorFormat, typer.Option("--format", "-f", help="text or json.")
    ] = DoctorFormat.text,
    write_probe: Annotated[
        bool,
        typer.Option(
            "--write-probe",
            help="Instead of the read checks, find which write-side reading the API plays "
            "(PATCH merge or replace, names normalized, ...) with a few writes in one "
            "throwaway pending campaign, contact list and fictional contact; the campaign "
            "is archived at the end. Asks for 'yes' first.",
        ),
    ] = False,
    auto_approve: Annotated[
        bool,
        typer.Option("--auto-approve", help="With --write-probe: do not ask for 'yes'."),
    ] = False,
    from_number: Annotated[
        str | None,
        typer.Option(
            "--from-number",
            help="With --write-probe: create the probe campaign with this confirmed caller "
            "ID (default: none).",
            metavar="PHONE",
            show_default=False,
        ),
    ] = None,
    quiet: Quiet = False,
    *,
    connection: ConnectionOptions,
) -> None:
    """Check a live API against every assumption the client makes (GET requests only).

    Run it first against a real account. Exits 1 when a required check fails.
    `--write-probe` then tells the write-side readings apart (see docs/api-contract.md).
    """
    from upcall_sync.jobs.doctor import run_doctor
    from upcall_sync.jobs.doctor_report import render_json, render_text

    if (auto_approve or from_number) and not write_probe:
        raise UsageError("--auto-approve and --from-number go with --write-probe")
    client = connection.client()
    if write_probe:
        raise typer.Exit(
            _write_probe(client, fmt, auto_approve=auto_approve, phone=from_number, quiet=quiet)
        )
    with reading(client, "doctor", quiet=quiet, totals=False):  # it probes first pages
        report = run_doctor(client)
    (render_json if fmt is DoctorFormat.json else render_text)(report, sys.stdout)
    if not report.ok:
        raise typer.Exit(1)


def _write_probe(
    client: UpcallClient,
    fmt: DoctorFormat,
    *,
    auto_approve: bool,
    phone: str | None,
    quiet: bool,
) -> int:
    """Say what the probe writes, ask, probe (archiving at the end), report."""
    from upcall_sync.jobs import probe, probe_report

    caller = probe.check_from_number(phone)
    stamp = probe.stamp_now()
    shown = client.redact(client.base_url)
    told = sys.stderr if fmt is DoctorFormat.json else sys.stdout
    probe_report.render_plan(probe.planned_writes(stamp, caller), shown, told)
    if not auto_approve:
        _confirm_probe(told)
    stop = threading.Event()
    # a sign of life on stderr: against a throttled API its 20-odd requests take a while
    with (
        _stop_on_signal(stop) as received,
        reading(client, "write probe", quiet=quiet, paged=False),
    ):
        report = probe.run_probe(client, from_number=caller, stop=stop, stamp=stamp)
    render = probe_report.render_json if fmt is DoctorFormat.json else probe_report.render_text
    render(report, sys.stdout)
    if report.interrupted:
        return 143 if received[:1] == [signal.SIGTERM] else 130
    return 0 if report.ok else 1


def _confirm_probe(out: TextIO) -> None:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to confirm on: pass --auto-approve to run the write probe")
    out.write("\nDo you want to run the write probe? Only 'yes' will be accepted.\n")
    out.write("  Enter a value: ")
    out.flush()
    try:
        answer = input()
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise UsageError("write probe cancelled: nothing was written")


def _stop_on_signal(stop: threading.Event) -> contextlib.AbstractContextManager[list[int]]:
    """SIGINT/SIGTERM: stop probing, but archive the probe campaign first (every signal);
    the list yielded holds the signals received (exit 130 for SIGINT, 143 for SIGTERM)."""

    def react(_signum: int) -> None:
        stop.set()
        print("\nStopping: archiving the probe campaign first.", file=sys.stderr, flush=True)

    return stopping(react)


# -- export -------------------------------------------------------------------------


@app.command()
@connection_options()
def export(
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Write one manifest per campaign into DIR (and a CSV of numbers for large "
            "campaigns); without it, one manifest goes to stdout.",
            show_default=False,
            callback=written_folder,
            metavar="DIR",
        ),
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="Export only campaigns whose name matches this glob (repeatable; like "
            "prune_scope, case-sensitive; an exact name wins over its reading as a glob).",
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
    quiet: Quiet = False,
    *,
    connection: ConnectionOptions,
) -> None:
    """Write the live account as manifests that plan to no changes (read-only)."""
    from upcall_sync.jobs import export as ex

    if out is None and (csv_over is not None or overwrite):
        raise UsageError("--csv-over and --overwrite need --out DIR")
    options = ex.ExportOptions(
        names=tuple(name or ()),
        include_archived=include_archived,
        from_numbers=ex.probe_numbers(from_number or ()),
        csv_over=ex.DEFAULT_CSV_OVER if csv_over is None else csv_over,
    )
    client = connection.client()
    # hundreds of thousands of rows with no cycle: the collector would re-scan them again
    # and again (2,000 x 100: 8.7 s of CPU with it, 5.3 s without); they are freed by
    # reference counting before it is back, so it never scans them at all
    with gc_paused():
        with reading(client, "export", quiet=quiet):
            live = ex.read_live(client, options)
        try:
            result = ex.build(
                live, options, version=__version__, to_dir=out is not None, redact=STATE.redactor
            )
        except ex.ExportError as exc:
            for reason in exc.reasons:
                print_error(reason)
            print_error(f"nothing written: {len(exc.reasons)} value(s) a manifest cannot hold")
            raise typer.Exit(1) from None
        finally:
            requests = live.requests
            del live
        _write_export(result, requests, out, overwrite=overwrite)
        del result


def _write_export(result: Export, requests: int, out: str | None, *, overwrite: bool) -> None:
    """The export's files (or stdout), its warnings and its summary line."""
    from pathlib import Path

    from upcall_sync.jobs import export as ex
    from upcall_sync.manifest.yamlload import MAX_FILE_BYTES

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
        f"({requests:,} GET request{'s' if requests != 1 else ''})"
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
    if any(name.endswith(".csv") for name in result.files) and not (
        directory.resolve().is_relative_to(Path.cwd().resolve())
    ):
        print(
            f"note: {directory} is outside the working directory, and a numbers_csv must lie "
            f"inside it: run validate and plan from {directory} or a directory above it",
            file=sys.stderr,
        )
    files = f"{len(written):,} file{'s' if len(written) != 1 else ''}"
    print(f"Exported {summary}: {files} in {directory}.")
