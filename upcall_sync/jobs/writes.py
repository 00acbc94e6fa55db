"""What apply's writes send, and the look-ups that find what a write made when its
answer was lost (a timeout, a reset, a 5xx after the write): the API's typed write
models built from plan values, and each look-up the way the planner matches (a
campaign or list by every form of its name, a person by phone and name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from upcall_sync.client import (
    Campaign,
    CampaignAttributes,
    CampaignNumber,
    ContactAttributes,
    ContactList,
    ListContact,
    UpcallClient,
)
from upcall_sync.core.changes import UpdateContact, Value
from upcall_sync.core.matching import id_order
from upcall_sync.core.model import TEXT_FIELDS, Contact
from upcall_sync.core.normalize import name_forms, name_key
from upcall_sync.state.rows import contact_of


def campaigns_named(
    client: UpcallClient, name: str, from_number: str | None = None
) -> list[Campaign]:
    """The live campaigns the planner takes for `name` (`name_key`), asked by each of the
    forms a server may store it in (`name_forms`)."""
    key = name_key(name)
    return [
        c
        for form in name_forms(name)
        for c in client.list_campaigns(name=form, from_number=from_number)
        if name_key(c.name) == key
    ]


def lists_named(client: UpcallClient, name: str) -> list[ContactList]:
    """The contact lists the planner takes for `name`, asked as `campaigns_named` asks."""
    key = name_key(name)
    return [
        x
        for form in name_forms(name)
        for x in client.list_lists(name=form)
        if name_key(x.name) == key
    ]


def filters_for(person: Contact) -> dict[str, str | None]:
    """The API filters that find a person: phone and name (extension is not a filter)."""
    return {
        "phone": person.phone,
        "first_name": person.first_name or None,
        "last_name": person.last_name or None,
    }


def first_of(person: Contact, found: Sequence[ListContact | CampaignNumber]) -> str | None:
    """The lowest id among what was found that is this person.

    A contact must have every detail (it is what numbers are made from); a campaign
    number need only be the same person (phone, extension, name): the API may show a
    number with the details it had when it was added."""
    if found and isinstance(found[0], CampaignNumber):
        same = [i.id for i in found if contact_of(i).person_key == person.person_key]
    else:
        same = [i.id for i in found if contact_of(i) == person]
    ids = sorted(same, key=id_order)
    return ids[0] if ids else None


def campaign_attributes(values: dict[str, Value]) -> CampaignAttributes:
    """Typed plan values as the API's write model: "" text is sent as null."""
    data: dict[str, Any] = {
        key: None if key in TEXT_FIELDS and value == "" else value for key, value in values.items()
    }
    return CampaignAttributes(**data)


#: a pause sent alone (`apply.Applier._pause_alone`) where the refused update carried a caller ID
PAUSED_WITHOUT_CALLER_ID = (
    "it was paused without from_number (under `patch: replace` that PATCH clears its "
    "caller ID, which the API never returns: fix from_number and apply to set it again)"
)


def contact_attributes(person: Contact) -> ContactAttributes:
    """What POST and PATCH /lists/:id/contacts send for a person: every attribute, empty
    ones as null, the whole address."""
    return ContactAttributes(**person.api_attributes())


def contact_update(change: UpdateContact) -> ContactAttributes:
    """Every attribute of the contact as the manifest has it, changed or not (empty as
    null, the whole address).

    Whether the (inferred) contact PATCH merges what it is sent or replaces the whole
    contact (or its address object) is not documented. A manifest states every field
    of a person, so sending them all is right either way: a PATCH of the changed
    fields alone would, under a replacing server, clear the phone and the rest.
    """
    return contact_attributes(change.contact)


__all__ = [
    "PAUSED_WITHOUT_CALLER_ID",
    "campaign_attributes",
    "campaigns_named",
    "contact_attributes",
    "contact_update",
    "filters_for",
    "first_of",
    "lists_named",
]
