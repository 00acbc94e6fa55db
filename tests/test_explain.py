"""`explain`: what differs, field by field, when a fresh plan is not empty."""

from __future__ import annotations

from upcall_sync.core.changes import ArchiveCampaign, CreateList, Plan
from upcall_sync.core.model import Contact, LiveCampaign
from upcall_sync.core.planner import plan
from upcall_sync.output.explain import Difference, contact_shape, differences, explain_plan

from .helpers.models import camp, desired, live

JOEY = Contact("+16507991144", first_name="Joey", city="Fremont")


def test_differences_are_every_path_that_differs_sorted() -> None:
    found = differences({"a": 1, "b": {"c": 2}, "z": 0}, {"a": 1, "b": {"c": 3}, "d": "x"})
    assert found == [
        Difference("b.c", 2, 3),
        Difference("d", None, "x"),
        Difference("z", 0, None),
    ]
    assert [str(d) for d in found][:1] == ["b.c 2 -> 3"]
    assert found[1].to_dict() == {"path": "d", "before": None, "after": "x"}
    assert differences({"a": 1}, {"a": 1}) == []


def test_a_contact_takes_the_apis_shape_absent_and_empty_alike() -> None:
    assert contact_shape(JOEY.to_dict()) == {
        "phone": "+16507991144",
        "first_name": "Joey",
        "address": {"city": "Fremont"},
    }
    assert contact_shape(Contact("+16507991144").to_dict()) == {
        "phone": "+16507991144",
        "address": {},
    }


def test_each_change_a_fresh_plan_still_shows_is_explained() -> None:
    paris = Contact("+16507991144", first_name="Joey", city="Paris")
    remaining = plan(
        desired(camp("Q3", JOEY, pitch="new"), camp("Q4")),
        live(LiveCampaign("1", "Q3", pitch="old"), numbers={"1": []}, contacts=[("7", paris)]),
    )
    explained = {c.kind: lines for c, lines in explain_plan(remaining)}
    assert explained == {
        "create_campaign": ('no live campaign is named "Q4"',),
        "update_campaign": ('pitch "old" -> "new"',),
        "update_contact": ('address.city "Paris" -> "Fremont"',),
        "add_number": (
            'no number in campaign 1 is this person; looked for phone "+16507991144", '
            'first_name "Joey"',
        ),
    }


def test_lists_and_archivals_say_what_was_looked_for() -> None:
    lst = CreateList(address="contact_list", name="upcall-sync")
    archive = ArchiveCampaign(
        address='campaign "old"', campaign="old", live_id="9", status_before="ready"
    )
    explained = [lines for _c, lines in explain_plan(Plan(changes=(lst, archive)))]
    assert explained == [
        ('no contact list is named "upcall-sync"',),
        ('campaign 9 was read back and its status is not "archived"',),
    ]


def test_a_dial_list_difference_of_one_number_is_singular() -> None:
    from upcall_sync.core.changes import Plan
    from upcall_sync.core.dialing import DialList
    from upcall_sync.output.explain import dialing_differences

    def with_already(n: int) -> Plan:
        return Plan.build([], [], dialing=[DialList("A", "1", "ready", already=n)])

    [line] = dialing_differences(with_already(0), with_already(1))
    assert (
        line
        == 'campaign "A" (id 1) starts calling the 1 number already in it, not 0 as in the plan file'
    )


def test_a_dial_list_difference_names_five_people_then_counts() -> None:
    from upcall_sync.core.changes import Plan
    from upcall_sync.core.dialing import DialList
    from upcall_sync.core.model import Contact

    people = tuple(Contact(f"+1415555{i:04d}", first_name=f"P{i}") for i in range(1200))
    before = Plan.build([], [], dialing=[DialList("A", "1", "ready", already=3)])
    after = Plan.build(
        [], [], dialing=[DialList("A", "1", "ready", already=3, not_in_manifests=people)]
    )
    from upcall_sync.output.explain import dialing_differences

    [line] = dialing_differences(before, after)
    assert line.endswith(
        "+14155550004 (P4) and 1,195 more: not in the manifests, nor in the plan file"
    )
    assert "P5)" not in line
