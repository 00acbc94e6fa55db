"""`report`: the `apply --format json` document, built from plain values (a plan from
the pure planner, operations ended by hand), checked against its JSON Schema."""

from __future__ import annotations

import io
import json

import jsonschema
from referencing import Registry, Resource

from upcall_sync.core.changes import Plan
from upcall_sync.core.model import Contact
from upcall_sync.core.planner import plan
from upcall_sync.errors import ApiStatusError, FieldMessage, Location, ManifestError, Problem
from upcall_sync.jobs.report import render_report_json, report_document
from upcall_sync.jobs.schedule import ApplyReport, Graph, Scheduler
from upcall_sync.jobs.sync import ApplyJob, ApplyOutcome, PlanOptions

from .conftest import ROOT
from .helpers.models import camp, desired, live

SCHEMA = json.loads((ROOT / "schema" / "apply-report.schema.json").read_text())
PLAN_SCHEMA = json.loads((ROOT / "schema" / "plan.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA,
    registry=Registry().with_resource(PLAN_SCHEMA["$id"], Resource.from_contents(PLAN_SCHEMA)),
)
JOEY = Contact("+16507991144", first_name="Joey")


def _job() -> ApplyJob:
    d = desired(camp("Q3", JOEY, status="ready"))
    return ApplyJob(plan(d, live(list_id=None)), d, PlanOptions())


def _run(job: ApplyJob, fail: str = "") -> ApplyReport:
    """Every operation by hand, in schedule order; the first of kind `fail` fails."""
    ops = Graph(job.plan).ops
    scheduler = Scheduler(ops)
    while (op := scheduler.take()) is not None:
        if op.kind == fail:
            op.status = "failed"
            op.error = ApiStatusError(
                method="POST", url="/x", status=422, fields=(FieldMessage("phone", "is bad"),)
            )
            op.message = op.error.one_line()
        else:
            op.status, op.live_id = "applied", f"id-{op.seq}"
        scheduler.finish(op)
    return ApplyReport(ops)


def _document(*args: object, **kwargs: object) -> dict[str, object]:
    doc = report_document(*args, **kwargs)  # type: ignore[arg-type]
    VALIDATOR.validate(doc)
    out = io.StringIO()
    render_report_json(doc, out)
    assert json.loads(out.getvalue()) == doc
    return doc


def test_a_converged_apply() -> None:
    job = _job()
    doc = _document(job, ApplyOutcome(_run(job), Plan()))
    assert doc["result"] == "converged"
    assert doc["convergence"] == {
        "converged": True,
        "remaining": [],
        "summary_line": Plan().summary_line(),
        "duplicates": [],
    }
    changes = doc["changes"]
    assert isinstance(changes, list)
    campaign = next(c for c in changes if c["kind"] == "create_campaign")
    assert campaign["status"] == "applied"
    assert campaign["set_ready"]["status"] == "applied"  # the second step sits inside
    assert len(changes) == len(job.plan.changes)


def test_a_failed_change_carries_the_apis_field_messages_and_skips_its_dependents() -> None:
    job = _job()
    doc = _document(job, ApplyOutcome(_run(job, fail="create_contact"), None), exit_code=1)
    assert doc["result"] == "failed" and doc["exit_code"] == 1
    by_kind = {c["kind"]: c for c in doc["changes"]}  # type: ignore[union-attr]
    failed = by_kind["create_contact"]
    assert failed["status"] == "failed"
    assert failed["error"]["http_status"] == 422
    [field] = failed["error"]["fields"]
    assert field["field"] == "phone" and field["message"] == "is bad"
    assert field["source"] == "m.yaml:10:9"  # the manifest line of the number
    assert by_kind["add_number"]["status"] == "skipped"
    assert doc["counts"] == {
        "operations": 5,
        "applied": {
            "create_list": 1,
            "create_campaign": 1,
            "update_campaign": 0,
            "create_contact": 0,
            "update_contact": 0,
            "add_number": 0,
            "set_ready": 0,
            "archive_campaign": 0,
        },
        "failed": 1,
        "skipped": 2,
        "not_attempted": 0,
    }


def test_a_run_that_stopped_before_it_had_a_plan() -> None:
    error = ManifestError([Problem(Location("m.yaml", 3, 5), "name", "must be text")])
    doc = _document(None, error=error, exit_code=1)
    assert doc["result"] == "error"
    assert doc["plan"] is None and doc["changes"] == []
    assert doc["error"] == {
        "type": "ManifestError",
        "message": error.one_line(),
        "details": error.lines(),
    }


def test_nothing_to_do_is_no_changes() -> None:
    d = desired()
    doc = _document(ApplyJob(plan(d, live()), d, PlanOptions()))
    assert doc["result"] == "no_changes"
    assert doc["convergence"]["converged"] is True  # type: ignore[index]
