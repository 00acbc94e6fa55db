"""The pure planner: plain model values in, a Plan out. No HTTP here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from upcall_sync.core.model import (
    Contact,
    LiveCampaign,
    Safety,
)
from upcall_sync.core.normalize import parse_datetime
from upcall_sync.core.planner import plan
from upcall_sync.errors import Location, PlanError, UsageError

from .helpers.models import camp, desired, live

HERE = Location("m.yaml", 1, 1)
JOEY = Contact("+16507991144", first_name="Joey", last_name="Smith", title="Manager")
JANIE = Contact("+16507991144", first_name="Janie", last_name="Smith", title="Director")


def kinds(p: Any) -> list[str]:
    return [c.kind for c in p.changes]


def test_empty_account_creates_everything() -> None:
    p = plan(desired(camp("Q3", JOEY, JANIE, status="pending")), live(list_id=None))
    assert sorted(kinds(p)) == sorted(
        [
            "create_list",
            "create_campaign",
            "create_contact",
            "create_contact",
            "add_number",
            "add_number",
        ]
    )
    assert p.summary_line() == (
        "Plan: 1 campaign to create, 0 to update, 0 to archive; 2 numbers to add, "
        "2 contacts to create, 0 to update."
    )


def test_joey_and_janie_on_one_phone_plan_as_two_numbers() -> None:
    p = plan(desired(camp("Q3", JOEY, JANIE)), live(LiveCampaign("876", "Q3"), numbers={"876": []}))
    adds = [c for c in p.changes if c.kind == "add_number"]
    assert sorted(c.contact.first_name for c in adds if c.contact) == ["Janie", "Joey"]
    assert {c.contact.phone for c in adds if c.contact} == {"+16507991144"}


def test_matching_live_state_is_no_change() -> None:
    start = parse_datetime("2016-07-11T00:04:58Z")
    d = desired(
        camp(
            "Q3",
            JOEY,
            JANIE,
            pitch="Be friendly",
            start_datetime=start,
            status="ready",
            from_number="+16501231234",
            instructions="",
        )
    )
    lc = LiveCampaign(
        "876",
        "Q3",
        status="ready",
        pitch="Be friendly",
        start_datetime=datetime(2016, 7, 11, 0, 4, 58, 0, tzinfo=UTC),
        instructions="",
    )
    p = plan(d, live(lc, numbers={"876": [JANIE, JOEY]}, from_numbers={"+16501231234": {"876"}}))
    assert p.empty
    assert p.summary_line() == "No changes. Live state matches the manifests."


def test_milliseconds_and_offsets_are_not_a_change() -> None:
    d = desired(camp("Q3", start_datetime=parse_datetime("2016-07-11T02:04:58+02:00")))
    lc = LiveCampaign("1", "Q3", start_datetime=datetime(2016, 7, 11, 0, 4, 58, 999000, tzinfo=UTC))
    assert plan(d, live(lc)).empty


def test_from_number_changed_is_an_update_unchanged_is_not() -> None:
    d = desired(camp("Q3", from_number="+16501231234"))
    lc = LiveCampaign("1", "Q3")
    changed = plan(d, live(lc, from_numbers={"+16501231234": set()}))
    [update] = changed.changes
    assert update.kind == "update_campaign"
    assert update.to_dict()["before"] == {"from_number": None} and update.to_dict()["after"] == {
        "from_number": "+16501231234"
    }
    same = plan(d, live(lc, from_numbers={"+16501231234": {"1"}}))
    assert same.empty


def test_fields_left_out_are_not_managed() -> None:
    d = desired(camp("Q3", pitch="new pitch"))
    lc = LiveCampaign(
        "1", "Q3", status="paused", language="fr", instructions="keep me", pitch="old"
    )
    [update] = plan(d, live(lc)).changes
    assert update.to_dict()["after"] == {"pitch": "new pitch"}
    assert update.to_dict()["before"] == {"pitch": "old"}


def test_null_absent_and_empty_text_compare_equal() -> None:
    d = desired(camp("Q3", pitch="", instructions="Call people.\n"))
    lc = LiveCampaign("1", "Q3", pitch="", instructions="Call people.")
    assert plan(d, live(lc)).empty


def test_two_live_campaigns_with_a_desired_name_is_an_error_naming_both() -> None:
    d = desired(camp("My Campaign"))
    with pytest.raises(PlanError) as info:
        plan(d, live(LiveCampaign("876", "My Campaign"), LiveCampaign("877", "My Campaign")))
    text = str(info.value)
    assert "876" in text and "877" in text and "pin one with `id:`" in text


def test_an_active_campaign_is_preferred_over_archived_namesakes() -> None:
    d = desired(camp("Q3", pitch="x"))
    p = plan(
        d, live(LiveCampaign("1", "Q3", status="archived"), LiveCampaign("2", "Q3", pitch="y"))
    )
    [update] = p.changes
    assert update.live_id == "2"


def test_pinned_id_renames_and_missing_id_is_an_error() -> None:
    d = desired(camp("New name", id="876"))
    [rename] = plan(
        d, live(LiveCampaign("876", "Old name"), LiveCampaign("877", "New name"))
    ).changes
    assert rename.to_dict()["before"] == {"name": "Old name"} and rename.to_dict()["after"] == {
        "name": "New name"
    }
    with pytest.raises(PlanError, match="no campaign with that id"):
        plan(desired(camp("x", id="999")), live(LiveCampaign("876", "x")))


def test_contact_detail_change_updates_the_contact_not_the_number() -> None:
    promoted = Contact("+16507991144", first_name="Joey", last_name="Smith", title="Director")
    d = desired(camp("Q3", promoted))
    lv = live(LiveCampaign("1", "Q3"), numbers={"1": [JOEY]}, contacts=[("12", JOEY)])
    [update] = plan(d, lv).changes
    assert update.kind == "update_contact"
    assert update.live_id == "12"
    assert update.to_dict()["before"] == {"title": "Manager"} and update.to_dict()["after"] == {
        "title": "Director"
    }


def test_number_missing_from_a_campaign_reuses_the_existing_contact() -> None:
    d = desired(camp("Q3", JOEY), camp("Renewals", JOEY))
    lv = live(
        LiveCampaign("1", "Q3"),
        LiveCampaign("2", "Renewals"),
        numbers={"1": [JOEY], "2": []},
        contacts=[("12", JOEY)],
    )
    [add] = plan(d, lv).changes
    assert add.kind == "add_number"
    assert add.campaign == "Renewals" and add.contact_id == "12"


def test_live_numbers_not_in_the_manifest_are_a_notice_not_a_change() -> None:
    stranger = Contact("+14155550100", first_name="Stranger")
    p = plan(
        desired(camp("Q3", JOEY)), live(LiveCampaign("1", "Q3"), numbers={"1": [JOEY, stranger]})
    )
    assert p.empty
    [notice] = p.notices
    assert notice.kind == "unmanaged_numbers"
    assert notice.items == ("+14155550100 (Stranger)",)


def test_contacts_sharing_a_line_match_by_name() -> None:
    joseph = Contact("+16507991144", first_name="Joseph", last_name="Smith")
    d = desired(camp("Q3", joseph))
    lv = live(LiveCampaign("1", "Q3"), numbers={"1": []}, contacts=[("12", JOEY)])
    # one desired and one live on the line: matched by phone, the name is an update
    assert sorted(kinds(plan(d, lv))) == ["add_number", "update_contact"]
    d2 = desired(camp("Q3", joseph, JANIE))
    lv2 = live(LiveCampaign("1", "Q3"), numbers={"1": []}, contacts=[("12", JOEY), ("13", JANIE)])
    # several on the line: by name, so Janie is reused and Joseph is new
    p = plan(d2, lv2)
    assert sorted(kinds(p)) == ["add_number", "add_number", "create_contact"]
    janie_add = next(c for c in p.changes if c.kind == "add_number" and c.contact == JANIE)
    assert janie_add.contact_id == "13"


def test_ambiguous_live_contacts_are_an_error() -> None:
    other_joey = Contact("+16507991144", first_name="Joey", last_name="Smith", title="CEO")
    d = desired(camp("Q3", JOEY, JANIE))
    lv = live(
        LiveCampaign("1", "Q3"),
        numbers={"1": []},
        contacts=[("12", JOEY), ("14", other_joey), ("13", JANIE)],
    )
    with pytest.raises(PlanError, match="ids 12, 14"):
        plan(d, lv)


def test_new_ready_campaign_waits_for_its_numbers() -> None:
    p = plan(desired(camp("Q3", JOEY, status="ready")), live())
    create = next(c for c in p.changes if c.kind == "create_campaign")
    assert create.ready_after_numbers
    empty = plan(desired(camp("Q3", status="ready")), live())
    assert not next(c for c in empty.changes if c.kind == "create_campaign").ready_after_numbers


def test_prune_archives_only_in_scope_unclaimed_active_campaigns() -> None:
    d = desired(camp("acme-q3"), prune_scope="acme-*")
    lv = live(
        LiveCampaign("1", "acme-q3"),
        LiveCampaign("2", "acme-q2"),
        LiveCampaign("3", "acme-q1", status="archived"),
        LiveCampaign("4", "other"),
    )
    pruned = plan(d, lv, prune=True)
    assert [(c.kind, c.live_id) for c in pruned.changes] == [("archive_campaign", "2")]
    noticed = plan(d, lv)
    assert noticed.empty
    assert [(n.kind, n.campaign) for n in noticed.notices] == [("prune_candidate", "acme-q2")]
    with pytest.raises(UsageError, match="prune_scope"):
        plan(desired(camp("x")), lv, prune=True)


def test_safety_thresholds() -> None:
    campaigns = [camp(f"c{i}", pitch="new") for i in range(10)]
    lives = [LiveCampaign(str(i), f"c{i}", pitch="new" if i >= 4 else "old") for i in range(10)]
    p = plan(desired(*campaigns), live(*lives))
    assert len(p.changes) == 4
    assert p.unsafe and "4 of 10" in p.unsafe[0]
    relaxed = plan(desired(*campaigns, safety=Safety(max_update_percent=50)), live(*lives))
    assert relaxed.unsafe == ()
    few = plan(desired(*campaigns[:4]), live(*lives[:4]))
    assert few.unsafe == ()  # under min_existing
    scoped = [LiveCampaign(str(i), f"acme-{i}") for i in range(10)]
    archive = plan(desired(camp("acme-0"), prune_scope="acme-*"), live(*scoped), prune=True)
    assert len(archive.changes) == 9 and archive.unsafe


def test_target_limits_the_plan() -> None:
    d = desired(camp("a", pitch="x"), camp("b", pitch="y"))
    p = plan(d, live(LiveCampaign("1", "a"), LiveCampaign("2", "b")), targets=["b"])
    assert [c.campaign for c in p.changes] == ["b"]
    with pytest.raises(UsageError, match="no campaign in the manifests matches"):
        plan(d, live(), targets=["nope"])


def test_changes_are_sorted_deterministically() -> None:
    d = desired(camp("b", JOEY), camp("a", JANIE), camp("c", pitch="x"))
    lv = live(LiveCampaign("3", "c"), list_id=None)
    first = plan(d, lv)
    again = plan(desired(*reversed(d.campaigns)), lv)
    assert [c.to_dict() for c in first.changes] == [c.to_dict() for c in again.changes]
    assert kinds(first)[0] == "create_list"


def test_a_name_that_differs_only_by_normalization_is_the_same_campaign_and_no_change() -> None:
    """A server may store names NFC with whitespace collapsed (CONTRACT.md)."""
    stored = LiveCampaign(id="7", name="Café Q3", status="pending", pitch="p")
    p = plan(desired(camp("Cafe\u0301  Q3", pitch="p")), live(stored))
    assert p.empty
    p = plan(desired(camp("Cafe\u0301  Q3", pitch="q")), live(stored))
    assert kinds(p) == ["update_campaign"] and p.changes[0].live_id == "7"


def test_an_update_carries_every_other_attribute_as_planned_or_live() -> None:
    """So a PATCH that replaces the campaign loses nothing: managed fields as the manifest
    wants them (status too), the others as they are live; from_number only when managed."""
    start = datetime(2026, 7, 11, 16, tzinfo=UTC)
    lc = LiveCampaign(
        id="7", name="Q3", status="paused", pitch="old", language="en", start_datetime=start
    )
    p = plan(desired(camp("Q3", pitch="new", status="paused")), live(lc))
    [update] = p.changes
    assert update.to_dict()["after"] == {"pitch": "new"}
    assert update.kept == {
        "name": "Q3",
        "status": "paused",
        "instructions": None,
        "language": "en",
        "start_datetime": start,
        "end_datetime": None,
    }
    with_caller = camp("Q3", pitch="new", from_number="+16501231234")
    p = plan(desired(with_caller), live(lc, from_numbers={"+16501231234": {"7"}}))
    assert p.changes[0].kept["from_number"] == "+16501231234"


def test_patch_replace_requires_from_number_on_campaigns_the_plan_updates() -> None:
    lc = LiveCampaign(id="7", name="Q3", status="pending", pitch="old")
    with pytest.raises(PlanError, match='campaign "Q3" \\(id 7\\) needs from_number'):
        plan(desired(camp("Q3", pitch="new"), patch="replace"), live(lc))
    assert plan(desired(camp("Q3", pitch="old"), patch="replace"), live(lc)).empty
