"""Break-it b54: the do-not-call warning never says "never added" of a line the live
campaign already holds (the API cannot remove it: the person is still in it)."""

from __future__ import annotations

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
from upcall_sync.errors import Location

JOEY = Contact("+16507991144", first_name="Joey", last_name="Smith")
ANA = Contact("+14085550101", first_name="Ana", last_name="Lopez")


def _campaign(name: str, line: int, *people: Contact, status: str) -> DesiredCampaign:
    return DesiredCampaign(
        name=name,
        source=Location("m.yaml", line, 5),
        fields={"status": status},
        numbers=tuple(
            DesiredNumber(c, Location("m.yaml", line + 1 + i, 9)) for i, c in enumerate(people)
        ),
    )


def test_a_listed_person_already_in_a_pending_campaign_is_not_said_to_be_left_out() -> None:
    """Joey opted out; "Acme renewal reminders" (pending) already holds him, "Acme Q3"
    does not. The warning for the renewal campaign said "it is left out of campaign ...,
    never added": a reader took him to be out of it, and set it ready in Upcall."""
    dnc = (DoNotCall("+16507991144", None, Location("dnc.yaml", 3, 5)),)
    desired = DesiredState(
        campaigns=(
            _campaign("Q3", 10, JOEY, ANA, status="pending"),
            _campaign("Renewal", 30, JOEY, status="pending"),
        ),
        files=("m.yaml", "dnc.yaml"),
        do_not_call=dnc,
    )
    live = LiveState(
        campaigns=[
            LiveCampaign("1", "Q3", status="pending"),
            LiveCampaign("2", "Renewal", status="pending"),
        ],
        numbers={"1": [LiveNumber("1-0", ANA)], "2": [LiveNumber("2-0", JOEY)]},
        contacts=[LiveContact("10", JOEY), LiveContact("11", ANA)],
        contact_list_id="1",
        contact_phones_read=None,
        complete_listing=True,
    )
    p = plan(desired, live)
    assert p.changes == ()
    warnings = {n.campaign: n.message for n in p.notices if n.kind == "warning"}
    assert 'left out of campaign "Q3", never added' in warnings["Q3"]
    held = warnings["Renewal"]
    assert "never added" not in held
    assert "already holds +16507991144 (Joey Smith)" in held and "dnc.yaml:3:5" in held
