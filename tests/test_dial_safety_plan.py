"""The pure planner's side of issue 23: renames, the do-not-call list, drift counted,
and who will be called. Plain model values in, a Plan out."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest

from upcall_sync.core.changes import AddNumber, UpdateCampaign, UpdateContact
from upcall_sync.core.dialing import DialList
from upcall_sync.core.model import (
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    DoNotCall,
    LiveCampaign,
    LiveContact,
    LiveNumber,
    LiveState,
)
from upcall_sync.core.planner import plan
from upcall_sync.errors import Location, PlanError
from upcall_sync.output.render import render_markdown, render_text

JOEY = Contact("+16507991144", first_name="Joey", last_name="Smith", title="Manager")
JOSEPH = JOEY._replace(first_name="Joseph")
JANIE = Contact("+16507991144", first_name="Janie", last_name="Smith", title="Director")
JANE = JANIE._replace(first_name="Jane")
PRIYA = Contact("+14155550132", "204", "Priya", "Raman")


def camp(name: str, *numbers: Contact, line: int = 10, **fields: Any) -> DesiredCampaign:
    return DesiredCampaign(
        name=name,
        source=Location("m.yaml", line - 1, 5),
        fields=fields,
        numbers=tuple(
            DesiredNumber(c, Location("m.yaml", line + i, 9)) for i, c in enumerate(numbers)
        ),
    )


def state(*campaigns: DesiredCampaign, **kw: Any) -> DesiredState:
    return DesiredState(campaigns=tuple(campaigns), files=("m.yaml",), **kw)


def live(
    numbers: dict[str, list[Contact]],
    contacts: list[Contact],
    status: str = "pending",
) -> LiveState:
    names = {"1": "A", "2": "B"}
    return LiveState(
        campaigns=[LiveCampaign(cid, names[cid], status=status) for cid in numbers],
        numbers={
            cid: [LiveNumber(f"{cid}-{i}", c) for i, c in enumerate(cs)]
            for cid, cs in numbers.items()
        },
        contacts=[LiveContact(str(10 + i), c) for i, c in enumerate(contacts)],
        contact_list_id="1",
        contact_phones_read=None,
        complete_listing=True,
    )


def text(p: Any) -> str:
    out = io.StringIO()
    render_text(p, out)
    return out.getvalue()


def test_a_rename_on_a_shared_phone_is_one_contact_update_that_reaches_every_campaign() -> None:
    p = plan(
        state(camp("A", JOSEPH, JANIE), camp("B", JOSEPH, line=20)),
        live({"1": [JOEY, JANIE], "2": [JOEY]}, [JOEY, JANIE]),
    )
    [update] = p.changes
    assert isinstance(update, UpdateContact) and update.renames
    assert (update.live_id, update.current, update.contact) == ("10", JOEY, JOSEPH)
    assert update.touches == ("A", "B")
    assert "rename +16507991144 (Joey Smith) -> +16507991144 (Joseph Smith)" in text(p)
    assert update.to_dict()["rename"] == {
        "before": "+16507991144 (Joey Smith)",
        "after": "+16507991144 (Joseph Smith)",
    }


def test_under_the_copy_reading_an_applied_rename_is_one_notice_and_one_difference() -> None:
    """The contact already says Joseph; both campaigns kept Joey's copy."""
    p = plan(
        state(camp("A", JOSEPH, JANIE), camp("B", JOSEPH, line=20)),
        live({"1": [JOEY, JANIE], "2": [JOEY]}, [JOSEPH, JANIE]),
    )
    assert p.changes == ()
    [notice] = [n for n in p.notices if n.kind == "unapplied_rename"]
    assert notice.items == ("A", "B")
    assert p.unapplied_differences == 1
    assert p.summary_line() == "No changes that the API can make; 1 number differs (see notices)"


def test_under_the_copy_reading_a_renamed_unique_phone_is_never_added_again() -> None:
    """Issue 23's item 4: it planned "1 number to add" forever."""
    p = plan(
        state(camp("A", PRIYA._replace(first_name="Pria"))),
        live({"1": [PRIYA]}, [PRIYA._replace(first_name="Pria")]),
    )
    assert not any(isinstance(c, AddNumber) for c in p.changes)
    assert p.unapplied_differences == 1


def test_two_names_for_one_person_stop_the_plan_naming_each_entry() -> None:
    joe = JOEY._replace(first_name="Joe")
    with pytest.raises(PlanError) as info:
        plan(
            state(camp("A", JOSEPH, JANIE), camp("B", joe, line=20)),
            live({"1": [JOEY, JANIE], "2": [JOEY]}, [JOEY, JANIE]),
        )
    message = str(info.value)
    assert "cannot tell who was renamed" in message
    assert '"Joseph Smith" in "A" at m.yaml:10:9' in message
    assert '"Joe Smith" in "B" at m.yaml:20:9' in message
    assert '"Joey Smith" in "A", "B"' in message
    assert "one name in every campaign" in message


def test_two_people_renamed_at_once_on_one_phone_is_ambiguous() -> None:
    with pytest.raises(PlanError, match="rename one person at this phone per apply"):
        plan(state(camp("A", JOSEPH, JANE)), live({"1": [JOEY, JANIE]}, [JOEY, JANIE]))


def test_an_adopted_person_whose_details_changed_is_counted_drift() -> None:
    """The number came from a list upcall-sync does not own: never "No changes"."""
    changed = JOEY._replace(title="Head of Stores")
    p = plan(state(camp("A", changed)), live({"1": [JOEY]}, []))
    assert p.changes == ()
    assert p.unapplied_differences == 1
    assert "Live state matches" not in p.summary_line()
    assert any("manage_other_lists: true" in i for n in p.notices for i in n.items)


def test_a_listed_number_is_left_out_and_a_ready_campaign_holding_one_is_paused() -> None:
    dnc = (DoNotCall(PRIYA.phone, None, Location("m.yaml", 3, 5)),)
    p = plan(
        state(camp("A", JANIE, PRIYA, status="ready"), camp("B", PRIYA, line=20), do_not_call=dnc),
        live({"1": [JANIE, PRIYA]}, [JANIE, PRIYA], status="ready"),
    )
    assert not any(isinstance(c, AddNumber) for c in p.changes)  # not into B either
    [pause] = [c for c in p.changes if isinstance(c, UpdateCampaign)]
    assert pause.campaign == "A"
    assert [(r.name, r.before, r.after) for r in pause.fields] == [("status", "ready", "paused")]
    assert "do-not-call" in pause.reason and "do-not-call" in pause.one_line()
    warnings = [n.message for n in p.notices if n.kind == "warning"]
    assert len(warnings) == 2 and all("m.yaml:3:5" in w for w in warnings)
    assert not p.unsafe


@pytest.mark.parametrize("want", ["archived", "completed", "pending", "paused"])
def test_a_ready_campaign_the_manifest_stops_gets_that_status_not_a_pause(want: str) -> None:
    """It was paused instead, and the next apply moved it on: two applies for one edit."""
    dnc = (DoNotCall(PRIYA.phone, None, Location("m.yaml", 3, 5)),)
    p = plan(
        state(camp("A", JANIE, status=want), do_not_call=dnc),
        live({"1": [JANIE, PRIYA]}, [JANIE], status="ready"),
    )
    [stop] = [c for c in p.changes if isinstance(c, UpdateCampaign)]
    assert [(r.name, r.before, r.after) for r in stop.fields] == [("status", "ready", want)]
    assert stop.reason.startswith(f"{want}: it holds") and "do-not-call" in stop.reason


@pytest.mark.parametrize("status", ["Ready", "running", ""])
def test_a_campaign_in_a_status_not_known_to_stop_calls_is_paused(status: str) -> None:
    """Only `ready` was paused: a server's `Ready`, a status added later or none at all
    (a lenient server's campaign created without one) kept dialing a listed person."""
    dnc = (DoNotCall(PRIYA.phone, None, Location("m.yaml", 3, 5)),)
    p = plan(
        state(camp("A", JANIE), do_not_call=dnc),
        live({"1": [JANIE, PRIYA]}, [JANIE], status=status),
    )
    [pause] = [c for c in p.changes if isinstance(c, UpdateCampaign)]
    assert [(r.name, r.after) for r in pause.fields] == [("status", "paused")]


def test_a_paused_campaign_holding_a_listed_number_is_not_set_back_to_ready() -> None:
    dnc = (DoNotCall(PRIYA.phone, "204", Location("m.yaml", 3, 5)),)
    p = plan(
        state(camp("A", JANIE, PRIYA, status="ready"), do_not_call=dnc),
        live({"1": [JANIE, PRIYA]}, [JANIE, PRIYA], status="paused"),
    )
    assert p.changes == ()
    [held] = [n for n in p.notices if n.kind == "held_paused"]
    assert "stays paused" in held.message and "recreate it without the number" in held.message


def test_a_targeted_plan_pauses_ready_campaigns_outside_its_targets_and_nothing_else() -> None:
    """--target narrows a plan, but a ready campaign it leaves out that holds a listed
    number is paused (status alone, its live attributes kept); one not ready, or
    holding no listed number, is not touched, and without a list nothing is."""
    dnc = (DoNotCall(PRIYA.phone, None, Location("m.yaml", 3, 5)),)
    desired = state(
        camp("A", JANIE, status="ready", pitch="new pitch"),  # Priya removed from the manifest
        camp("B", JOEY, line=20, status="ready"),
        camp("C", JOEY, line=30, status="ready"),
        do_not_call=dnc,
    )
    live_state = LiveState(
        campaigns=[
            LiveCampaign("1", "A", status="ready", pitch="old"),
            LiveCampaign("4", "A", status="ready"),  # a twin: it may dial too
            LiveCampaign("2", "B", status="ready"),
            LiveCampaign("3", "C", status="paused"),
        ],
        numbers={
            "1": [LiveNumber("n1", PRIYA)],
            "4": [LiveNumber("n4", PRIYA)],
            "2": [LiveNumber("n2", JOEY)],
            "3": [LiveNumber("n3", PRIYA)],
        },
        contact_list_id="1",
        complete_listing=True,
    )
    p = plan(desired, live_state, targets=["B"])
    pauses = sorted(
        (c for c in p.changes if isinstance(c, UpdateCampaign)), key=lambda c: c.live_id or ""
    )
    assert [(c.campaign, c.live_id) for c in pauses] == [("A", "1"), ("A", "4")]
    for pause in pauses:
        assert [(r.name, r.after) for r in pause.fields] == [("status", "paused")]
        assert "outside --target, paused all the same" in pause.reason
    assert pauses[0].written()["pitch"] == "old"  # its other fields are outside the targets
    assert not p.unsafe
    assert plan(dataclasses.replace(desired, do_not_call=()), live_state, targets=["B"]).empty


def test_another_extension_is_not_listed() -> None:
    dnc = (DoNotCall(PRIYA.phone, "999", Location("m.yaml", 3, 5)),)
    p = plan(state(camp("A", PRIYA), do_not_call=dnc), live({"1": []}, [PRIYA]))
    assert [c.kind for c in p.changes] == ["add_number"]


def test_who_will_be_called_flags_a_second_entry_at_one_line() -> None:
    p = plan(state(camp("A", JANIE, JOEY, status="ready")), live({"1": [JANIE]}, [JANIE]))
    [dial] = p.dialing
    assert (dial.campaign, dial.status, dial.added) == ("A", "ready", (JOEY,))
    assert dial.same_line == {JOEY.label: (JANIE.label,)}
    out = io.StringIO()
    render_markdown(p, out)
    assert "#### Who will be called" in out.getvalue()
    assert f"**{JOEY.label}** :warning:" in out.getvalue()
    shown = text(p)
    assert "Who will be called" in shown
    [warning] = [line for line in shown.splitlines() if "called twice" in line]
    assert warning.strip() == (
        f"! {JANIE.label} and {JOEY.label} are at the same phone and extension in this "
        "campaign: check they are not one person called twice"
    )


def test_two_people_added_at_one_line_are_one_warning_not_two() -> None:
    p = plan(state(camp("A", JANIE, JOEY, status="ready")), live({"1": []}, []))
    [dial] = p.dialing
    assert dial.same_line == {JOEY.label: (JANIE.label,), JANIE.label: (JOEY.label,)}
    assert sum("called twice" in line for line in text(p).splitlines()) == 1


def test_a_campaign_that_will_not_be_ready_lists_nobody() -> None:
    p = plan(state(camp("A", JANIE, status="paused")), live({"1": []}, [JANIE]))
    assert p.dialing == ()


def test_a_saved_plan_keeps_the_pause_reason_the_rename_and_the_other_list() -> None:
    from upcall_sync.core.changes import Change, FieldChange

    pause = UpdateCampaign(
        address='campaign["A"]',
        campaign="A",
        live_id="1",
        fields=(FieldChange("status", "ready", "paused"),),
        reason="paused: it holds +14155550132 x204 (Priya Raman), on the do-not-call list",
    )
    rename = UpdateContact(
        address='contact_list["dashboard"].contact["+16507991144 (Joseph Smith)"]',
        live_id="7",
        contact=JOSEPH,
        current=JOEY,
        touches=("A", "B"),
        list_id="3",
        list_name="dashboard",
    )
    for change in (pause, rename):
        assert Change.from_dict(change.to_dict()) == change


def test_one_person_named_two_ways_in_two_campaigns_stops_the_plan() -> None:
    """Campaign A says Joseph, B still says Joey; both hold Joey: adding Joseph to A
    would call Joey twice there."""
    with pytest.raises(PlanError) as info:
        plan(
            state(camp("A", JOSEPH, JANIE), camp("B", JOEY, line=20)),
            live({"1": [JOEY, JANIE], "2": [JOEY]}, [JOEY, JANIE]),
        )
    message = str(info.value)
    assert "m.yaml:10:9" in message and '+16507991144 (Joseph Smith) in campaign "A"' in message
    assert "Give each person one name in every campaign" in message


def test_a_new_person_at_a_shared_phone_with_other_details_is_added_and_flagged() -> None:
    """Joey left campaign A's manifest but stays named in B; Jim (other details) joins A
    at the same phone: added, and the dial list flags the shared line."""
    jim = Contact("+16507991144", first_name="Jim", last_name="Smith", title="Clerk")
    p = plan(
        state(camp("A", JANIE, jim, status="ready"), camp("B", JOEY, line=20)),
        live({"1": [JOEY, JANIE], "2": [JOEY]}, [JOEY, JANIE], status="ready"),
    )
    assert [c.kind for c in p.changes] == ["create_contact", "add_number"]
    [dial] = p.dialing
    assert dial.same_line[jim.label] == (JOEY.label, JANIE.label)


@pytest.mark.parametrize(
    ("live_contact", "entry"),
    [
        # a live phone kept as typed, which no region reads: matched by its digits
        (Contact("650-799-1144", first_name="X"), DoNotCall(JOEY.phone, None, Location("m", 3, 5))),
        (
            Contact("1 650 799 1144", first_name="X"),
            DoNotCall(JOEY.phone, None, Location("m", 3, 5)),
        ),
        # an extension with whitespace around it, an "x", a zero-width space
        (PRIYA._replace(extension=" 204"), DoNotCall(PRIYA.phone, "204", Location("m", 3, 5))),
        (PRIYA._replace(extension="x204"), DoNotCall(PRIYA.phone, "204", Location("m", 3, 5))),
        (PRIYA._replace(extension="204\u200b"), DoNotCall(PRIYA.phone, "204", Location("m", 3, 5))),
        (PRIYA, DoNotCall(PRIYA.phone, "ext 204", Location("m", 3, 5))),  # a CSV's column
        # a phone kept as typed with its extension inside, as a manifest may write one
        (
            Contact("650.799.1144 ext. 3", first_name="X"),
            DoNotCall(JOEY.phone, None, Location("m", 3, 5)),
        ),
        (
            Contact("650-799-1144x3", first_name="X"),
            DoNotCall(JOEY.phone, None, Location("m", 3, 5)),
        ),
        (
            Contact("(650) 799-1144;ext=204", first_name="X"),
            DoNotCall(JOEY.phone, "204", Location("m", 3, 5)),
        ),
    ],
)
def test_a_ready_campaign_holding_a_listed_number_in_another_form_is_paused(
    live_contact: Contact, entry: DoNotCall
) -> None:
    """A miss here dials a person who asked not to be called: a live number is matched
    as leniently as the API may have stored it."""
    p = plan(
        state(camp("A", status="ready"), do_not_call=(entry,)),
        live({"1": [live_contact]}, [], status="ready"),
    )
    [pause] = [c for c in p.changes if isinstance(c, UpdateCampaign)]
    assert [(r.name, r.before, r.after) for r in pause.fields] == [("status", "ready", "paused")]


def test_another_extension_written_inside_a_typed_phone_is_not_listed() -> None:
    """The extension cut off a typed phone still counts: x205 is not the listed 204."""
    dnc = (DoNotCall(JOEY.phone, "204", Location("m", 3, 5)),)
    other = Contact("650-799-1144 x205", first_name="X")
    p = plan(
        state(camp("A", status="ready"), do_not_call=dnc), live({"1": [other]}, [], status="ready")
    )
    assert not [c for c in p.changes if isinstance(c, UpdateCampaign)]


def test_a_live_phone_with_an_extension_inside_keeps_it() -> None:
    """An API that keeps a phone as typed (`+1 650 799 1144 ext. 204`) dials extension
    204: the live number reads phone and extension apart, so a list entry for x204
    finds it and a manifest's x204 is that number, not one to add again."""
    from upcall_sync.state.rows import live_contact

    values = ("+1 650 799 1144 ext. 204", "", "Priya", *[""] * 11)
    assert live_contact(values)[:3] == ("+16507991144", "204", "Priya")
    kept = ("+1 650 799 1144 ext. 204", "7", "Priya", *[""] * 11)  # a stated one wins
    assert live_contact(kept)[:2] == ("+16507991144", "7")


def test_a_phone_that_only_shares_digits_in_another_country_is_not_listed() -> None:
    """E.164 phones still compare exactly: +44 6507991144 is not +1 650 799 1144."""
    dnc = (DoNotCall(JOEY.phone, None, Location("m", 3, 5)),)
    other = Contact("+446507991144", first_name="X")
    p = plan(
        state(camp("A", status="ready"), do_not_call=dnc), live({"1": [other]}, [], status="ready")
    )
    assert not [c for c in p.changes if isinstance(c, UpdateCampaign)]


def test_validate_finds_a_listed_extension_written_with_an_x_in_the_extension_field() -> None:
    """`extension: x204` in a manifest is the extension 204 the list names: never added."""
    from upcall_sync.core.stopcalls import listed

    dnc = (DoNotCall(PRIYA.phone, "204", Location("m.yaml", 3, 5)),)
    written = PRIYA._replace(extension="x204")
    assert len(listed(state(camp("A", written), do_not_call=dnc))) == 1
    other = PRIYA._replace(extension="0204")  # another extension
    assert listed(state(camp("A", other), do_not_call=dnc)) == []


@pytest.mark.parametrize("status", ["archived", "completed"])
def test_a_campaign_retired_in_the_manifest_too_is_not_created_anew(status: str) -> None:
    """The resume path (an archived campaign holding a listed number is created anew)
    is for an entry that wants the campaign to dial again: one whose manifest says
    `status: archived` (finished, and the listed person opted out during it) was
    created anew as a second, archived campaign, its numbers added to it."""
    dnc = (DoNotCall(JOEY.phone, None, Location("m", 3, 5)),)
    p = plan(
        state(camp("A", PRIYA, status=status), do_not_call=dnc),
        live({"1": [JOEY, PRIYA]}, [JOEY, PRIYA], status="archived"),
    )
    assert not [c for c in p.changes if c.kind in ("create_campaign", "add_number")]


@pytest.mark.parametrize(
    "typed",
    [
        "07911 123456",
        "0044 7911 123456",
        "011 44 7911 123456",
        "+44 (0)7911 123456",  # a trunk 0 in parentheses, not dialed from abroad
        "0044 (0) 7911 123456",
    ],
)
def test_a_live_phone_typed_with_a_dialing_prefix_is_still_the_listed_number(
    typed: str,
) -> None:
    """A phone kept as typed is compared by its digits: one typed with a trunk `0`
    (`07911 123456`, how most of the world writes a national number) or an
    international prefix (`00`, `011`) was missed, and the ready campaign kept dialing
    the listed person."""
    dnc = (DoNotCall("+447911123456", None, Location("m", 3, 5)),)
    p = plan(
        state(camp("A", status="ready"), do_not_call=dnc),
        live({"1": [Contact(typed, first_name="X")]}, [], status="ready"),
    )
    [pause] = [c for c in p.changes if isinstance(c, UpdateCampaign)]
    assert [(r.name, r.before, r.after) for r in pause.fields] == [("status", "ready", "paused")]


def test_people_a_campaign_going_ready_holds_outside_the_manifests_are_named() -> None:
    """Joey was added in the dashboard: setting A ready calls him too, and no reviewer of
    the manifests has seen him, so the dial list names him (text, Markdown, JSON)."""
    p = plan(state(camp("A", JANIE, status="ready")), live({"1": [JANIE, JOEY]}, [JANIE, JOEY]))
    [dial] = p.dialing
    assert (dial.added, dial.already, dial.not_in_manifests) == ((), 2, (JOEY,))
    shown = text(p).splitlines()
    at = shown.index(
        "      ! 1 of them is not in the manifests (added outside upcall-sync) and will be "
        "called too:"
    )
    assert shown[at + 1] == f"          {JOEY.label}"
    out = io.StringIO()
    render_markdown(p, out)
    assert f"    - {JOEY.label}\n" in out.getvalue()
    assert dial.to_dict()["not_in_manifests"] == [JOEY.to_dict()]
    assert type(dial).from_dict(dial.to_dict()) == dial


def test_a_campaign_already_ready_names_nobody_outside_the_manifests() -> None:
    """Joey is already being called: the plan starts nothing for him."""
    p = plan(
        state(camp("A", JANIE, PRIYA, status="ready")),
        live({"1": [JANIE, JOEY]}, [JANIE, JOEY], status="ready"),
    )
    [dial] = p.dialing
    assert (dial.added, dial.already, dial.not_in_manifests) == ((PRIYA,), 0, ())
    assert "not in the manifests (added outside" not in text(p)


def test_a_comment_cut_to_fit_still_counts_the_people_outside_the_manifests() -> None:
    """The comment's dial list is cut to its budget: the campaigns left out were summed
    up as "0 people added", and the one holding a number added in the dashboard, which
    setting it ready calls, was no longer named, nor counted (found by helper b69)."""
    p = plan(state(camp("A", JANIE, status="ready")), live({"1": [JANIE, JOEY]}, [JANIE, JOEY]))
    [outside] = p.dialing
    fill = tuple(DialList(f"Fill {i:02d}", str(100 + i), "ready", (), 6) for i in range(12))
    cut = dataclasses.replace(p, dialing=(*fill, outside))
    out = io.StringIO()
    render_markdown(cut, out, limit=1500)
    shown = out.getvalue().split("#### Who will be called", 1)[1]
    assert JOEY.label not in shown  # left out to fit, so the closing line must say so
    assert "already in them start to be called" in shown
    assert "**1 of them not in the manifests**" in shown


def test_a_plan_file_s_dial_lists_are_compared_campaign_by_campaign_not_by_name() -> None:
    """Two live campaigns named "Dup" (each pinned by `id:`) go ready. The plan file
    showed Joey in 4 only; since then he was added by hand to 5 too. Compared by name,
    5's fresh dial list met 4's saved one (the last of that name) and matched it: the
    plan applied, calling Joey from a campaign nobody reviewed him in. The other way
    round, it named a person the plan file did show (found by helper b69)."""
    from upcall_sync.core.changes import Plan
    from upcall_sync.output.explain import dialing_differences

    def dup(cid: str, *outside: Contact) -> DialList:
        return DialList("Dup", cid, "ready", (), 1 + len(outside), {}, outside)

    saved = Plan(dialing=(dup("5"), dup("4", JOEY)))
    fresh = Plan(dialing=(dup("4", JOEY), dup("5", JOEY)))
    assert dialing_differences(saved, fresh) == [
        'campaign "Dup" (id 5) starts calling the 2 numbers already in it, '
        "not 1 as in the plan file",
        f'campaign "Dup" (id 5) starts calling {JOEY.label}: not in the manifests, '
        "nor in the plan file",
    ]
    assert dialing_differences(saved, Plan(dialing=(dup("4", JOEY), dup("5")))) == []


def test_a_person_in_a_campaign_twice_is_named_as_such_not_as_someone_else() -> None:
    """Priya was added as "x204" by an earlier version and again as "204": both read as
    204 now, one matches the manifest, and the other was listed as a number "not in the
    manifests" under Priya's own label (helper b70)."""
    priya = PRIYA._replace(extension="204")
    p = plan(
        state(camp("A", priya, status="ready")),
        live({"1": [priya, priya]}, [priya], status="ready"),
    )
    [notice] = [n for n in p.notices if n.kind == "unmanaged_numbers"]
    assert notice.items == (f"{priya.label}: in the campaign a second time (called twice?)",)
    other = plan(state(camp("A", priya, status="ready")), live({"1": [priya, JOEY]}, [priya]))
    [notice] = [n for n in other.notices if n.kind == "unmanaged_numbers"]
    assert notice.items == (JOEY.label,)


def test_a_person_in_a_campaign_twice_is_not_named_as_not_in_the_manifests_when_it_dials() -> None:
    """The same person twice (x204 and 204 by two versions) in a campaign the manifests set
    ready: ffb3995's notice said "in the campaign a second time", while the dial list
    named them among the people "not in the manifests (added outside upcall-sync)"."""
    priya = PRIYA._replace(extension="204")
    p = plan(
        state(camp("A", priya, status="ready")),
        live({"1": [priya, priya, JOEY]}, [priya, JOEY], status="pending"),
    )
    [dial] = p.dialing
    assert dial.already == 3
    assert dial.not_in_manifests == (JOEY,)
