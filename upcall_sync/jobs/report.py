"""`apply --format json`: one JSON document with the plan, each change's outcome, the
counts and the convergence check (schema/apply-report.schema.json).

Like the renderers in `render`, it formats what the library computed and never
diffs: the explanation of what a fresh plan still shows comes from `sync`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from upcall_sync import __version__
from upcall_sync.core.changes import Plan
from upcall_sync.errors import ApiError, ManifestError, StalePlan, UpcallSyncError
from upcall_sync.jobs.apply import PRIORITY, ApplyReport, Op
from upcall_sync.output.render import JSON_FORMAT_VERSION, plan_document

if TYPE_CHECKING:
    from upcall_sync.jobs.sync import ApplyJob, ApplyOutcome

REPORT_KIND = "upcall-sync-apply-report"
#: what happened to one change (or its set_ready step)
OUTCOMES = ("applied", "failed", "skipped", "not_attempted")
#: what the report says about the run as a whole
RESULTS = ("converged", "no_changes", "not_converged", "failed", "interrupted", "error")


def report_document(
    job: ApplyJob | None,
    outcome: ApplyOutcome | None = None,
    *,
    error: BaseException | None = None,
    exit_code: int = 0,
    stops: tuple[Plan, ApplyReport | None] | None = None,
    interrupted: bool = False,
) -> dict[str, Any]:
    """`apply --format json` (schema/apply-report.schema.json): the plan, each change's
    outcome, the counts, the convergence check, and the error that stopped the run.

    `job` is None when the run stopped before it had a plan (a bad manifest, a stale
    saved plan); `outcome` is None when it stopped before applying (refused). `stops`:
    the do-not-call stops made although the plan was refused, and their report (None:
    none was made). `interrupted`: a signal ended the run where no apply report says so
    (during a refused plan's stops; `error` is then the refusal)."""
    plan = job.plan if job is not None else None
    report = outcome.report if outcome is not None else None
    remaining = outcome.remaining if outcome is not None else None
    empty = plan is not None and plan.empty and error is None
    converged = True if empty else (remaining.empty if remaining is not None else None)
    if outcome is not None and outcome.duplicates:
        converged = False
    ops = report.ops if report is not None else []
    explanation = outcome.explanation if outcome is not None else ()
    return {
        "format_version": JSON_FORMAT_VERSION,
        "kind": REPORT_KIND,
        "tool": {"name": "upcall-sync", "version": __version__},
        "result": "interrupted"
        if interrupted
        else _result(plan, report, remaining, error, converged is False),
        "exit_code": exit_code,
        "error": _error_entry(error) if error is not None else None,
        "saved_plan": job is not None and job.saved,
        "plan": plan_document(job.plan, job.account or None) if job is not None else None,
        "changes": _change_entries(plan, ops),
        "stops": _change_entries(stops[0], stops[1].ops if stops[1] else []) if stops else [],
        "counts": _counts(report),
        "summary_line": report.summary_line() if report is not None else None,
        "interrupted": interrupted or bool(report and report.interrupted),
        "stopped_early": bool(report and report.stopped_early),
        "stop_reason": (report.stop_reason or None) if report is not None else None,
        "convergence": {
            "converged": converged,
            "remaining": [
                {"change": c.to_dict(), "explanation": list(lines)} for c, lines in explanation
            ],
            "summary_line": remaining.summary_line() if remaining is not None else None,
            "duplicates": [
                {"kind": d.kind, "what": d.what, "ids": list(d.ids), "keep": d.kept}
                for d in (outcome.duplicates if outcome is not None else ())
            ],
        },
    }


def render_report_json(document: dict[str, Any], out: IO[str]) -> None:
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")
    out.flush()


def _result(
    plan: Plan | None,
    report: ApplyReport | None,
    remaining: Plan | None,
    error: BaseException | None,
    duplicates: bool = False,
) -> str:
    if report is not None and report.interrupted:
        return "interrupted"
    if error is not None:
        return "error"
    if plan is not None and plan.empty:
        return "no_changes"
    if report is None or not report.ok:
        return "failed"
    if duplicates:
        return "not_converged"
    return "converged" if remaining is not None and remaining.empty else "not_converged"


def _error_entry(error: BaseException) -> dict[str, Any]:
    if isinstance(error, UpcallSyncError):
        message = error.one_line()
    elif isinstance(error, KeyboardInterrupt):
        message = "interrupted"
    else:
        message = f"internal error: {type(error).__name__}: {error}"
    details: list[str] = []
    if isinstance(error, ManifestError):
        details = error.lines()
    elif isinstance(error, StalePlan):
        details = list(error.details)
    return {"type": type(error).__name__, "message": message, "details": details}


def _change_entries(plan: Plan | None, ops: Sequence[Op]) -> list[dict[str, Any]]:
    """One entry per plan change, in plan order; a campaign made ready after its
    numbers has its second step, `set_ready`, inside its entry."""
    if plan is None:
        return []
    main: dict[int, Op] = {}
    ready: dict[int, Op] = {}
    for op in ops:
        (ready if op.kind == "set_ready" else main)[id(op.change)] = op
    entries = []
    for index, change in enumerate(plan.changes):
        step = ready.get(id(change))
        entries.append(
            {
                "index": index,
                "kind": change.kind,
                "address": change.address,
                "campaign": change.campaign,
                "source": str(change.source) if change.source else None,
                **_op_entry(main.get(id(change))),
                "set_ready": _op_entry(step) if step is not None else None,
            }
        )
    return entries


def _op_entry(op: Op | None) -> dict[str, Any]:
    """An operation's outcome; no operation (the run never started) is not attempted."""
    if op is None:
        return {
            "status": "not_attempted",
            "live_id": None,
            "result": None,
            "message": None,
            "error": None,
        }
    status = op.status if op.status in OUTCOMES else "not_attempted"
    entry: dict[str, Any] = {
        "status": status,
        "live_id": op.live_id,
        "result": op.result or None,
        "message": op.message or None,
        "error": _api_error(op) if status == "failed" else None,
    }
    return entry


def _api_error(op: Op) -> dict[str, Any]:
    """The API's answer to a failed operation: its status and field messages, each with
    the manifest line that set the field."""
    exc = op.error
    if not isinstance(exc, ApiError):
        return {"http_status": None, "fields": []}
    change = op.change
    return {
        "http_status": exc.status,
        "fields": [
            {
                "field": f.field,
                "message": f.message,
                "source": str(at) if (at := change.sources.get(f.field) or change.source) else None,
            }
            for f in exc.fields
        ],
    }


def _counts(report: ApplyReport | None) -> dict[str, Any]:
    """Operations by outcome; those applied by kind (as the summary line counts them)."""
    ops = report.ops if report is not None else []
    return {
        "operations": len(ops),
        "applied": report.counts() if report is not None else dict.fromkeys(PRIORITY, 0),
        **{s: sum(1 for op in ops if op.status == s) for s in ("failed", "skipped")},
        "not_attempted": sum(1 for op in ops if op.status not in ("applied", "failed", "skipped")),
    }
