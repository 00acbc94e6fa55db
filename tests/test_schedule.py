"""`schedule`: the operations of a plan, what waits on what, and who runs next. Pure:
plans are made by the planner from plain values, operations are run by hand."""

from __future__ import annotations

from upcall_sync.core.changes import Plan
from upcall_sync.core.model import Contact, LiveCampaign
from upcall_sync.core.planner import plan
from upcall_sync.jobs.schedule import ApplyReport, Graph, Op, Scheduler

from .helpers.models import camp, desired, live

JOEY = Contact("+16507991144", first_name="Joey")
JANE = Contact("+16507991145", first_name="Jane")


def _fresh_plan() -> Plan:
    """A new list, a new ready campaign with two numbers, and an archival."""
    return plan(
        desired(camp("acme-new", JOEY, JANE, status="ready"), prune_scope="acme-*"),
        live(LiveCampaign("9", "acme-old", status="ready"), list_id=None),
        prune=True,
    )


def _by_kind(ops: list[Op]) -> dict[str, list[Op]]:
    out: dict[str, list[Op]] = {}
    for op in ops:
        out.setdefault(op.kind, []).append(op)
    return out


def test_the_graph_orders_list_contacts_numbers_ready_and_archives_last() -> None:
    ops = Graph(_fresh_plan()).ops
    kinds = _by_kind(ops)
    assert sorted(kinds) == [
        "add_number",
        "archive_campaign",
        "create_campaign",
        "create_contact",
        "create_list",
        "set_ready",
    ]
    [the_list], [campaign], [ready], [archive] = (
        kinds["create_list"],
        kinds["create_campaign"],
        kinds["set_ready"],
        kinds["archive_campaign"],
    )
    for contact in kinds["create_contact"]:
        assert contact.deps == [the_list.seq]
    for number in kinds["add_number"]:
        assert campaign.seq in number.deps
        assert any(ops[d].kind == "create_contact" for d in number.deps)
    assert sorted(ready.deps) == sorted([campaign.seq, *(n.seq for n in kinds["add_number"])])
    assert sorted(archive.after) == sorted(op.seq for op in ops if op is not archive)
    assert archive.deps == []  # order only: an archival does not need the others to apply


def _run_one_by_one(scheduler: Scheduler, fail: str = "") -> list[str]:
    """One worker: takes, applies (or fails the first `fail` kind), finishes."""
    order: list[str] = []
    while (op := scheduler.take()) is not None:
        order.append(op.kind)
        op.status = "failed" if op.kind == fail else "applied"
        scheduler.finish(op)
    return order


def test_one_worker_runs_by_priority_as_dependencies_allow() -> None:
    ops = Graph(_fresh_plan()).ops
    order = _run_one_by_one(Scheduler(ops))
    assert order == [
        "create_list",
        "create_campaign",
        "create_contact",
        "create_contact",
        "add_number",
        "add_number",
        "set_ready",
        "archive_campaign",
    ]
    assert all(op.status == "applied" for op in ops)


def test_a_failure_skips_exactly_what_needed_it() -> None:
    ops = Graph(_fresh_plan()).ops
    order = _run_one_by_one(Scheduler(ops), fail="create_list")
    kinds = _by_kind(ops)
    assert order == ["create_list", "create_campaign", "archive_campaign"]
    assert {op.status for op in kinds["create_contact"]} == {"skipped"}
    assert {op.status for op in kinds["add_number"]} == {"skipped"}
    assert kinds["set_ready"][0].status == "skipped"
    assert kinds["create_contact"][0].message.startswith("needs create contact list")
    assert kinds["create_contact"][0].message.endswith("which failed")
    report = ApplyReport(ops)
    assert not report.ok
    assert report.summary_line() == (
        "Apply failed: 1 campaign created, 0 updated, 1 archived; 0 numbers added, "
        "0 contacts created, 0 updated. 1 failed, 5 skipped, 0 not attempted."
    )


def test_a_stop_hands_out_nothing_more() -> None:
    ops = Graph(_fresh_plan()).ops
    scheduler = Scheduler(ops)
    first = scheduler.take()
    assert first is not None and first.kind == "create_list"
    first.status = "applied"
    scheduler.finish(first, stop=True)
    assert scheduler.take() is None
    assert [op.status for op in ops].count("pending") == len(ops) - 1


def test_a_complete_report_counts_what_applied() -> None:
    ops = Graph(_fresh_plan()).ops
    _run_one_by_one(Scheduler(ops))
    report = ApplyReport(ops)
    assert report.ok
    assert report.counts()["add_number"] == 2
    assert report.summary_line() == (
        "Apply complete: 1 campaign created, 0 updated, 1 archived; 2 numbers added, "
        "2 contacts created, 0 updated."
    )


def test_a_do_not_call_pause_is_handed_out_before_everything_else() -> None:
    """With --fail-fast, Ctrl-C or a dead API, what has not started never will: the
    pause of a ready campaign holding a listed number must not wait behind the list,
    the creates and the contacts."""
    from upcall_sync.core.model import DoNotCall
    from upcall_sync.errors import Location

    the_plan = plan(
        desired(
            camp("acme-new", JANE, status="ready"),
            camp("acme-held", status="ready"),
            do_not_call=(DoNotCall(JOEY.phone, None, Location("m.yaml", 2, 5)),),
        ),
        live(LiveCampaign("9", "acme-held", status="ready"), numbers={"9": [JOEY]}, list_id=None),
    )
    order = _run_one_by_one(Scheduler(Graph(the_plan).ops), fail="update_campaign")
    assert order[0] == "update_campaign"
    assert "create_list" in order  # the failure skips only what needed it
