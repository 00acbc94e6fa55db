"""`plan` and `apply`: a few lines of options around `sync`."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from upcall_sync.cli.interrupts import stopping
from upcall_sync.errors import (
    ManifestError,
    PlanError,
    StalePlan,
    UpcallSyncError,
    UsageError,
)
from upcall_sync.output.render import render_report

if TYPE_CHECKING:
    from upcall_sync.client import UpcallClient
    from upcall_sync.core.changes import Plan
    from upcall_sync.jobs.sync import ApplyJob, ApplyOutcome, PlanOptions, Stops

from upcall_sync.cli.base import (
    STATE,
    ConnectionOptions,
    Format,
    Paths,
    PlannedWith,
    Prune,
    Quiet,
    Target,
    Terminated,
    app,
    connection_options,
    fingerprints,
    gc_paused,
    need_paths,
    print_error,
    reading,
    use_color,
    written_name,
)

# -- plan -----------------------------------------------------------------------


@app.command()
@connection_options()
def plan(
    paths: Paths = None,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="text, json, markdown, or github: the text plan plus GitHub workflow "
            "commands for plan errors and notices (shown on the pull request's diff).",
        ),
    ] = Format.text,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Also save the plan to FILE, for `apply FILE`.",
            show_default=False,
            callback=written_name,
            metavar="FILE",
        ),
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when there are no changes, 2 when there are. Numbers that differ "
            "in ways the API cannot change are not changes (the JSON plan counts them in "
            "unapplied_differences).",
        ),
    ] = False,
    prune: Prune = False,
    target: Target = None,
    show_all_numbers: Annotated[
        bool,
        typer.Option(
            "--show-all-numbers",
            help="List every number (to add, or named by a notice), not the first five.",
        ),
    ] = False,
    no_timeline: Annotated[
        bool,
        typer.Option(
            "--no-timeline",
            help="Markdown: leave out the timeline (a Mermaid gantt of the campaign windows "
            "the plan creates, moves or sets ready).",
        ),
    ] = False,
    quiet: Quiet = False,
    *,
    connection: ConnectionOptions,
) -> None:
    """Show what apply would change: text for people, JSON for machines, Markdown for PRs.

    While the account is read, progress goes to stderr (a bar on a terminal, a line
    about every 10 s otherwise); stdout carries the plan alone.
    """
    from upcall_sync.jobs.sync import plan_paths

    if out is not None:
        from upcall_sync.jobs.planfile import refuse_plan_path

        refuse_plan_path(out, need_paths(paths))
    client = connection.client()
    with gc_paused(), reading(client, "plan", quiet=quiet), _annotated(fmt is Format.github):
        planned = plan_paths(need_paths(paths), client, plan_options(prune, target))
    if out is not None:
        from upcall_sync.jobs.planfile import save_plan

        save_plan(out, planned, client.base_url, redact=STATE.redactor)
    show_plan(
        planned.plan,
        fmt,
        show_all_numbers=show_all_numbers,
        timeline=not no_timeline,
        account=planned.account,
    )
    if detailed_exitcode and not planned.plan.empty:
        raise typer.Exit(2)


@contextlib.contextmanager
def _annotated(github: bool) -> Iterator[None]:
    """With --format github, a manifest or matching error is also printed as workflow
    commands on stdout (the usual lines still go to stderr)."""
    try:
        yield
    except ManifestError as exc:
        if github:
            from upcall_sync.output import annotations

            annotations.write_problems("error", exc.problems, sys.stdout)
        raise


def show_plan(
    plan: Plan,
    fmt: Format,
    *,
    show_all_numbers: bool = False,
    markdown_limit: int = 0,
    timeline: bool = True,
    account: str | None = None,
) -> None:
    from upcall_sync.output.render import render, render_markdown

    if fmt is Format.markdown:
        limit = {"limit": markdown_limit} if markdown_limit else {}
        render_markdown(plan, sys.stdout, timeline=timeline, **limit)
        return
    if fmt is Format.github:
        from upcall_sync.output import annotations

        annotations.write_plan(plan, sys.stdout)
    text_options = {"color": use_color(sys.stdout), "show_all_numbers": show_all_numbers}
    as_text = fmt in (Format.text, Format.github)
    if as_text:
        render(plan, "text", sys.stdout, **text_options)
    else:
        render(plan, fmt.value, sys.stdout, account=account)


@app.command()
def show(
    planfile: Annotated[
        str, typer.Argument(help="A plan file saved by `plan --out`.", metavar="PLANFILE")
    ],
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="text, json, markdown or github.")
    ] = Format.text,
    markdown_limit: Annotated[
        int,
        typer.Option(
            "--markdown-limit",
            min=0,
            metavar="N",
            help="Characters the Markdown may take (default, or 0: 65,000, a PR comment's room; "
            "CI job summaries hold 1,000,000). The summary and who will be called always show "
            "(at least 1,000 characters of it): a limit under about 1,500 is exceeded.",
            show_default=False,
        ),
    ] = 0,
    show_all_numbers: Annotated[
        bool, typer.Option("--show-all-numbers", help="List every number, not the first five.")
    ] = False,
) -> None:
    """Print a saved plan again, offline (no token, no API call), like `terraform show`."""
    from upcall_sync.jobs.planfile import load_plan

    saved = load_plan(planfile)
    show_plan(
        saved.plan,
        fmt,
        show_all_numbers=show_all_numbers,
        markdown_limit=markdown_limit,
        account=saved.account.get("fingerprint"),
    )


def plan_options(prune: bool, target: list[str] | None) -> PlanOptions:
    from upcall_sync.jobs.sync import PlanOptions, utc_now

    return PlanOptions(prune=prune, targets=tuple(target or ()), clock=STATE.clock or utc_now)


# -- apply ----------------------------------------------------------------------


class ApplyFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
@connection_options()
def apply(
    ctx: typer.Context,
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
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only the plan summary and the result (no progress)."
        ),
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
    planned_with: PlannedWith = None,
    *,
    connection: ConnectionOptions,
) -> None:
    """Make the live account match: plan, confirm, apply in a safe order, then check convergence.

    Convergence includes a look for duplicates of what the run created (a POST the API
    committed after --timeout): any found fail the run, with their ids. A saved plan
    (apply FILE) applies only with the token it was made with (or one --planned-with
    names), and only if a fresh plan of its manifests has the same changes.

    With --format json, stdout carries one JSON report (schema/apply-report.schema.json),
    on every exit, errors included; the plan, prompt, progress and summary go to stderr.
    """
    run = _ApplyRun(json_report=fmt is ApplyFormat.json)
    try:
        client = connection.client()
        options = replace(plan_options(prune, target), planned_with=fingerprints(planned_with, ctx))
        run.job = _prepare(run, client, need_paths(paths), options, quiet)
        code = _apply_job(
            run, client, force=force, auto_approve=auto_approve, fail_fast=fail_fast, quiet=quiet
        )
    except BaseException as exc:
        run.document(_exit_code(exc), exc)
        raise
    run.document(code)
    if code:
        raise typer.Exit(code)


def _prepare(
    run: _ApplyRun, client: UpcallClient, paths: list[str], options: PlanOptions, quiet: bool
) -> ApplyJob:
    """Apply's plan (fresh, or a saved one checked); when it cannot be had (a stale saved
    plan, no plan possible, manifests that do not validate), the do-not-call stops are
    made all the same, then the error."""
    from upcall_sync.jobs.sync import prepare_apply, stops_for_plan_error

    try:
        with gc_paused(), reading(client, "plan", quiet=quiet):
            return prepare_apply(paths, client, options)
    except StalePlan as exc:
        _stop_calls_anyway(run, client, exc.stops, exc)
        raise
    except (PlanError, ManifestError) as exc:
        try:
            stops = stops_for_plan_error(paths, client, options.planned_with)  # reads it
        except KeyboardInterrupt:  # a signal while it reads: the refusal is kept too
            _keep_refusal(run, exc)
            raise
        _stop_calls_anyway(run, client, stops, exc)
        raise


class _ApplyRun:
    """One apply command's output: text on stdout; or, with --format json, the report
    document on stdout and everything text would show on stderr."""

    def __init__(self, *, json_report: bool) -> None:
        self.json = json_report
        self.out = sys.stderr if json_report else sys.stdout
        self.job: ApplyJob | None = None
        self.outcome: ApplyOutcome | None = None
        #: the do-not-call stops made although the plan was refused, and their report
        self.stops: Stops | None = None
        #: why the plan was refused, when a signal during its stops ended the run: the
        #: report's error stays the refusal, with `interrupted` set
        self.refused: UpcallSyncError | None = None
        self._written = False

    def document(
        self, exit_code: int, error: BaseException | None = None, *, interrupted: bool = False
    ) -> None:
        """The JSON report, once (nothing with --format text). `interrupted`: a signal
        cut apply's convergence check short."""
        if not self.json or self._written:
            return
        self._written = True
        from upcall_sync.jobs.report import render_report_json, report_document

        interrupted = interrupted or (
            self.refused is not None and isinstance(error, KeyboardInterrupt)
        )
        doc = report_document(
            self.job,
            self.outcome,
            error=self.refused if interrupted else error,
            exit_code=exit_code,
            stops=self.stops,
            interrupted=interrupted,
        )
        render_report_json(doc, sys.stdout)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, UpcallSyncError):
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, Terminated):
        return 143
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
    from upcall_sync.jobs.sync import run_apply
    from upcall_sync.output.render import render_text

    assert run.job is not None
    job, out = run.job, run.out
    if quiet:
        print(job.plan.summary_line(), file=out)
    else:
        render_text(job.plan, out, color=use_color(out))
    if job.plan.empty:
        return 0
    if not force and job.plan.unsafe:
        from upcall_sync.jobs.sync import stops_only

        try:
            job.plan.raise_if_unsafe()
        except UpcallSyncError as refusal:
            _stop_calls_anyway(run, client, stops_only(job.plan, job.desired), refusal)
            raise
    if not job.saved and not auto_approve:
        _confirm(out)
    progress = _progress(quiet, job.plan, out, client.limiter_status)
    cancel = threading.Event()
    # The handlers stay until the command ends: a second signal while the
    # report prints must still exit at once.
    checking = contextlib.ExitStack()
    reads = _ReadsAfterWrites(client, cancel)

    def check_starts() -> None:  # the convergence check reads
        progress.close()
        checking.enter_context(reading(client, "checking convergence", quiet=quiet))

    with _signals(cancel, reads.signalled) as received:
        try:
            run.outcome = outcome = run_apply(
                client,
                job,
                force=force,
                fail_fast=fail_fast,
                listener=progress,
                cancel=cancel,
                on_check=check_starts,
                on_written=reads.written,
            )
        finally:
            checking.close()
            progress.close()
        code = _outcome_code(outcome, received, out)
        # the check cut short: "interrupted", not "not_converged" (nothing was found)
        run.document(code, interrupted=bool(received) and outcome.check_error is not None)
    return code


class _ReadsAfterWrites:
    """Once apply's writes are done, applied or failed, only reads follow (the look for
    duplicates, the convergence check): a first signal then ends them and their waits
    (`client.interrupt()`: every Retry-After of a throttled API was waited out, 80 s).
    During the writes it only stops new changes (`cancel`), and after an apply it
    interrupted the look for duplicates still runs. `written` (run_apply's hook after the
    writes) and `signalled` (the first signal's) each set their flag before reading the
    other's, so a signal between the two is not missed."""

    def __init__(self, client: UpcallClient, cancel: threading.Event) -> None:
        self._client = client
        self._cancel = cancel  # set by the first signal, before `signalled` runs
        self._reads_only = threading.Event()

    def written(self, interrupted: bool) -> None:
        if interrupted:
            return
        self._reads_only.set()
        if self._cancel.is_set():
            self._client.interrupt()

    def signalled(self) -> None:
        if self._reads_only.is_set():
            self._client.interrupt()


def _stop_calls_anyway(
    run: _ApplyRun, client: UpcallClient, stops: Plan | None, refusal: UpcallSyncError
) -> None:
    """Apply refuses the plan (`refusal`: unsafe, a stale saved plan, no plan possible),
    but the do-not-call stops a fresh plan makes go all the same: a refusal must not keep
    a listed person dialed. `run.stops`: the stops and their report (None: the API failed
    before any was made), for the JSON report; left None when there were none to make. A
    first Ctrl-C (or SIGTERM) during them starts no more, as in apply, and is raised once
    those made are kept, so the JSON report lists them too: through the handler outside
    (the command line's), as if it had come now, so that `main` says "interrupted" and
    exits 130, or 143 for SIGTERM (raised past it, typer made either a quiet 130). The
    refusal is said first (it would not be raised), and stays the JSON report's error,
    with `interrupted: true`."""
    if stops is None or stops.empty:
        return
    from upcall_sync.jobs.sync import stop_calls
    from upcall_sync.output.progress import outcome_word

    out = run.out
    print("\nNo plan is applied, but the do-not-call stops go all the same:", file=out)
    cancel = threading.Event()
    try:
        with _signals(cancel) as received:
            report = stop_calls(client, stops, cancel)
    except UpcallSyncError as exc:
        print_error(f"could not stop the calls: {exc.one_line()}")
        run.stops = stops, None
        return
    run.stops = stops, report
    for op in report.ops:
        why = getattr(op.change, "reason", "")
        detail = f": {op.message}" if op.message else ""
        print(f"{outcome_word(op.status)}  {op.label} ({why}){detail}", file=out)
    if received:
        _keep_refusal(run, refusal)
        outside = signal.getsignal(received[0])
        if callable(outside):
            outside(received[0], None)
        raise Terminated() if received[0] == signal.SIGTERM else KeyboardInterrupt()


def _keep_refusal(run: _ApplyRun, refusal: UpcallSyncError) -> None:
    """A signal ends a refused apply during its stops (or the reads they need): the
    refusal is said first, as it would have been without the signal (its details, every
    problem, the hint), and stays the JSON report's error."""
    from upcall_sync.cli.main import _report

    _report(refusal)
    run.refused = refusal


def _outcome_code(outcome: ApplyOutcome, received: list[int], out: TextIO) -> int:
    """Report what apply did and what the convergence check found; the exit code."""
    from upcall_sync.output.render import render_duplicates, render_remaining

    render_report(outcome.report, out)
    render_duplicates(outcome.duplicates, out)
    if outcome.report.stop_reason:
        print_error(outcome.report.stop_reason)
    if outcome.report.interrupted or received:
        if received and outcome.check_error is not None:  # the signal cut the check short
            print_error(
                "interrupted during the convergence check, which was not finished (nor, "
                "if it came first, the look for duplicates): run plan to see what is left"
            )
        return 143 if received and received[0] == signal.SIGTERM else 130
    if outcome.check_error is not None:
        raise UpcallSyncError(
            f"could not check convergence: {outcome.check_error.one_line()}"
        ) from outcome.check_error
    if not outcome.converged:  # a change did not apply, or a fresh plan is not empty
        if outcome.remaining is not None and not outcome.remaining.empty:
            render_remaining(outcome.remaining, outcome.explanation, out)
        return 1
    print("Converged: a fresh plan of what was touched is empty.", file=out)
    return 0


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
    from upcall_sync.output.progress import BarProgress, LineProgress, operation_count

    class _Silent:
        def __call__(self, op: Any) -> None:
            return

        def close(self) -> None:
            return

    if quiet:
        return _Silent()
    if use_color(out):
        return BarProgress(operation_count(plan), out, status)
    return LineProgress(out, status)


def _signals(
    cancel: threading.Event, also: Callable[[], None] | None = None
) -> contextlib.AbstractContextManager[list[int]]:
    """First SIGINT/SIGTERM: stop starting changes (and call `also`). Second: exit at once."""

    def stop(_signum: int) -> None:
        print(
            "\nStopping: letting in-flight changes finish; press Ctrl-C again to quit at once.",
            file=sys.stderr,
            flush=True,
        )
        cancel.set()
        if also is not None:
            also()

    return stopping(stop, second_exits=True)
