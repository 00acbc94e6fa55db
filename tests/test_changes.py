"""Changes and the Plan value: round trips, ordering, text forms, counts and safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from upcall_sync.core.changes import (
    KINDS,
    UNKNOWN,
    AddNumber,
    ArchiveCampaign,
    Change,
    CreateCampaign,
    CreateContact,
    CreateList,
    FieldChange,
    Notice,
    Plan,
    Unknown,
    UpdateCampaign,
    UpdateContact,
    campaign_address,
    contact_address,
)
from upcall_sync.core.model import Contact
from upcall_sync.errors import Location, UnsafePlan

JOEY = Contact("+16507991144", first_name="Joey", last_name="Smith", title="Manager")
JOEY_NOW = JOEY._replace(title="Director", city="Oslo")
MARCUS = Contact("+13125550176", extension="204", first_name="Marcus")
HERE = Location("m.yaml", 12, 5)
START = datetime(2026, 7, 11, 16, 0, tzinfo=UTC)
EARLY = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)  # before year 1000: the old crash


def one_of_each() -> list[Change]:
    """Every kind, with every optional part filled in."""
    return [
        CreateList(address='contact_list["acme"]', name="acme"),
        CreateCampaign(
            address=campaign_address("Q3"),
            source=HERE,
            campaign="Q3",
            values={
                "name": "Q3",
                "pitch": "Be friendly",
                "start_datetime": START,
                "end_datetime": EARLY,
                "from_number": "+16501231234",
            },
            sources={"pitch": Location("m.yaml", 14, 12)},
            ready_after_numbers=True,
        ),
        UpdateCampaign(
            address=campaign_address("Renewals"),
            source=Location("m.yaml", 30),
            campaign="Renewals",
            live_id="877",
            fields=(
                FieldChange("from_number", UNKNOWN, "+14155550100"),
                FieldChange("pitch", "old", ""),
                FieldChange("start_datetime", None, START),
                FieldChange("end_datetime", EARLY, START),
                FieldChange("status", "pending", "ready"),
            ),
            ready_after_numbers=True,
        ),
        ArchiveCampaign(
            address=campaign_address("Old"),
            source=Location("m.yaml"),
            campaign="Old",
            live_id="12",
            status_before="paused",
        ),
        CreateContact(address=contact_address(MARCUS), contact=MARCUS),
        UpdateContact(address=contact_address(JOEY), live_id="55", contact=JOEY, current=JOEY_NOW),
        AddNumber(
            address=f"{campaign_address('Renewals')}.number[{MARCUS.label}]",
            campaign="Renewals",
            live_id="877",
            contact=MARCUS,
        ),
        AddNumber(
            address=f"{campaign_address('Q3')}.number[{JOEY.label}]",
            campaign="Q3",
            contact=JOEY,
            contact_id="55",
        ),
    ]


def test_every_kind_is_covered_here() -> None:
    assert {c.kind for c in one_of_each()} == set(KINDS)


@pytest.mark.parametrize("change", one_of_each(), ids=lambda c: f"{c.kind}-{c.address}")
def test_to_dict_and_from_dict_round_trip_through_json(change: Change) -> None:
    data = json.loads(json.dumps(change.to_dict()))
    back = Change.from_dict(data)
    assert type(back) is type(change)
    assert back == change
    assert back.sources == change.sources  # not part of ==, so checked on its own
    assert back.rows() == change.rows()
    assert back.to_dict() == change.to_dict()


def test_datetimes_come_back_as_datetimes_even_before_year_1000() -> None:
    create, update = one_of_each()[1:3]
    assert create.to_dict()["after"]["end_datetime"] == "0999-01-02T03:04:05Z"
    back = Change.from_dict(json.loads(json.dumps(create.to_dict())))
    assert isinstance(back, CreateCampaign)
    assert back.values["end_datetime"] == EARLY
    assert back.values["start_datetime"] == START
    rows = {r.name: r for r in Change.from_dict(update.to_dict()).rows()}
    assert rows["end_datetime"].before == EARLY and rows["end_datetime"].after == START
    assert rows["start_datetime"].before is None


def test_the_unknown_from_number_is_a_marker_in_memory_and_null_in_json() -> None:
    update = one_of_each()[2]
    data = update.to_dict()
    assert data["before"]["from_number"] is None
    assert data["unknown_before"] == ["from_number"]
    [row] = [r for r in Change.from_dict(data).rows() if r.name == "from_number"]
    assert row.before is UNKNOWN
    assert Unknown() is UNKNOWN and not UNKNOWN and repr(UNKNOWN) == "UNKNOWN"


def test_a_from_number_before_is_unknown_even_in_files_without_the_marker() -> None:
    data = one_of_each()[2].to_dict()
    del data["unknown_before"]
    [row] = [r for r in Change.from_dict(data).rows() if r.name == "from_number"]
    assert row.before is UNKNOWN


def test_json_shape_of_a_change() -> None:
    create = one_of_each()[1].to_dict()
    assert create["kind"] == "create_campaign" and create["action"] == "create"
    assert create["before"] is None  # creates have no before
    assert create["source"] == "m.yaml:12:5"
    assert create["sources"] == {"pitch": "m.yaml:14:12"}
    assert create["ready_after_numbers"] is True
    archive = one_of_each()[3].to_dict()
    assert archive["before"] == {"status": "paused"} and archive["after"] == {"status": "archived"}
    assert archive["source"] == "m.yaml"
    update_contact = one_of_each()[5].to_dict()
    assert update_contact["before"] == {"title": "Director", "city": "Oslo"}
    assert update_contact["after"] == {"title": "Manager", "city": ""}
    assert update_contact["current"] == JOEY_NOW.to_dict()
    assert "contact_id" not in one_of_each()[6].to_dict()
    assert one_of_each()[7].to_dict()["contact_id"] == "55"


def test_an_older_update_contact_without_current_details_is_rebuilt() -> None:
    data = one_of_each()[5].to_dict()
    del data["current"]
    back = Change.from_dict(data)
    assert isinstance(back, UpdateContact)
    assert back.current == JOEY_NOW
    assert [r.name for r in back.rows()] == ["title", "city"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m.yaml:12:5", Location("m.yaml", 12, 5)),
        ("m.yaml:12", Location("m.yaml", 12)),
        ("m.yaml", Location("m.yaml")),
        ("C:/odd:name.yaml:3:4", Location("C:/odd:name.yaml", 3, 4)),
    ],
)
def test_locations_round_trip(text: str, expected: Location) -> None:
    change = CreateList(address="x", name="x", source=expected)
    assert str(expected) == text
    assert Change.from_dict(change.to_dict()).source == expected


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown change kind 'delete_everything'"):
        Change.from_dict({"kind": "delete_everything", "address": "x"})


def test_one_line_forms() -> None:
    lines = [c.one_line() for c in one_of_each()]
    assert lines == [
        '+ contact_list["acme"] (create)',
        '+ campaign["Q3"] (create)',
        '~ campaign["Renewals"] (id 877): end_datetime, from_number, pitch, start_datetime, status',
        '- campaign["Old"] (id 12) (archive)',
        '+ contact["+13125550176 x204 (Marcus)"] (create)',
        '~ contact["+16507991144 (Joey Smith)"] (id 55): title, city',
        '+ campaign["Renewals"].number[+13125550176 x204 (Marcus)]',
        '+ campaign["Q3"].number[+16507991144 (Joey Smith)]',
    ]


def test_finishes_create_is_only_a_status_move_from_pending() -> None:
    def status(before: Any) -> UpdateCampaign:
        return UpdateCampaign(address="a", fields=(FieldChange("status", before, "ready"),))

    assert status("pending").finishes_create
    assert not status("paused").finishes_create
    assert not one_of_each()[2].finishes_create  # more than the status moves


# -- the Plan ----------------------------------------------------------------------------


def test_build_sorts_by_kind_then_campaign_then_address() -> None:
    changes = one_of_each()
    plan = Plan.build(list(reversed(changes)), [])
    assert [c.kind for c in plan.changes] == [
        "create_list",
        "create_campaign",
        "update_campaign",
        "create_contact",
        "update_contact",
        "add_number",
        "add_number",
        "archive_campaign",
    ]
    adds = [c for c in plan.changes if isinstance(c, AddNumber)]
    assert [a.campaign for a in adds] == ["Q3", "Renewals"]
    assert Plan.build(changes, []) == plan  # the input order does not matter
    assert list(KINDS) == [
        "create_list",
        "create_campaign",
        "update_campaign",
        "create_contact",
        "update_contact",
        "add_number",
        "archive_campaign",
    ]


def test_notices_are_sorted_too() -> None:
    notices = [
        Notice("warning", "b", "m"),
        Notice("prune_candidate", "z", "m", campaign="B"),
        Notice("prune_candidate", "a", "m", campaign="B"),
        Notice("prune_candidate", "q", "m", campaign="A"),
    ]
    plan = Plan.build([], notices)
    assert [(n.kind, n.campaign, n.address) for n in plan.notices] == [
        ("prune_candidate", "A", "q"),
        ("prune_candidate", "B", "a"),
        ("prune_candidate", "B", "z"),
        ("warning", None, "b"),
    ]
    for n in notices:
        assert Notice.from_dict(json.loads(json.dumps(n.to_dict()))) == n


def test_counts_summary_and_summary_line() -> None:
    plan = Plan.build(one_of_each(), [])
    assert plan.counts() == {
        "create_list": 1,
        "create_campaign": 1,
        "update_campaign": 1,
        "archive_campaign": 1,
        "create_contact": 1,
        "update_contact": 1,
        "add_number": 2,
    }
    assert plan.summary() == {
        "campaigns": {"create": 1, "update": 1, "archive": 1},
        "numbers": {"add": 2},
        "contacts": {"create": 1, "update": 1},
        "contact_lists": {"create": 1},
    }
    assert plan.summary_line() == (
        "Plan: 1 campaign to create, 1 to update, 1 to archive; "
        "2 numbers to add, 1 contact to create, 1 to update."
    )
    assert not plan.empty
    empty = Plan.build([], [])
    assert empty.empty
    assert empty.summary_line() == "No changes. Live state matches the manifests."
    assert sum(empty.summary()["campaigns"].values()) == 0


def test_summary_line_groups_thousands() -> None:
    adds = [
        AddNumber(address=f"n{i}", campaign="Q3", contact=JOEY._replace(extension=str(i)))
        for i in range(1234)
    ]
    assert "1,234 numbers to add, 0 contacts to create" in Plan.build(adds, []).summary_line()


def test_by_campaign_groups_in_plan_order() -> None:
    groups = Plan.build(one_of_each(), []).by_campaign()
    # keyed by (name, live id): pinned campaigns may share a live name
    assert set(groups) == {None, ("Q3", ""), ("Renewals", "877"), ("Old", "12")}
    assert [c.kind for c in groups[None]] == ["create_list", "create_contact", "update_contact"]
    assert [c.kind for c in groups[("Q3", "")]] == ["create_campaign", "add_number"]


def test_raise_if_unsafe() -> None:
    Plan.build(one_of_each(), []).raise_if_unsafe()  # safe: no error
    one = Plan.build([], [], ["updates 4 of 10 campaigns (40% > 30%)"])
    with pytest.raises(UnsafePlan) as caught:
        one.raise_if_unsafe()
    assert str(caught.value) == "unsafe plan: updates 4 of 10 campaigns (40% > 30%)"
    assert "--force" not in str(caught.value)  # the library names no flag
    two = Plan.build([], [], ["first reason", "second reason", "third reason"])
    with pytest.raises(UnsafePlan, match=r"^unsafe plan: first reason \(and 2 more\)$"):
        two.raise_if_unsafe()
