"""Adopted people: numbers that came from a contact list upcall-sync does not own.

The API does not say which contact a campaign number was made from. Where no
contact of the managed list is the person, a change to their details cannot be
made there: it is drift, counted and said (see `drift`). With
`manage_other_lists: true` the plan looks in the account's other lists for a
contact with the number's phone and name and updates it there; the plan names
every campaign whose numbers show that contact. Pure, like `plan`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from upcall_sync.core.changes import UpdateContact, contact_address, quoted
from upcall_sync.core.model import Contact, OtherContact
from upcall_sync.errors import Location


def other_list_updates(
    person: Contact,
    have: Contact,
    others: Sequence[OtherContact],
    source: Location | None,
    showing: Callable[[Contact], tuple[str, ...]],
) -> tuple[list[UpdateContact], bool]:
    """The updates that bring `have`'s contacts in other lists to `person`, and whether
    such a contact already holds `person`'s details (then nothing is left to update)."""
    same = [o for o in others if o.contact.person_key in (have.person_key, person.person_key)]
    if any(o.contact == person for o in same):
        return [], True
    updates = [
        UpdateContact(
            address=f"contact_list[{quoted(o.list_name)}].{contact_address(person)}",
            source=source,
            live_id=o.id,
            contact=person,
            current=o.contact,
            list_id=o.list_id,
            list_name=o.list_name,
            touches=showing(o.contact),
        )
        for o in sorted(same, key=lambda o: (o.list_name, o.list_id, o.id))
        if o.contact.person_key == have.person_key
    ]
    return updates, False
