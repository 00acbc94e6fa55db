"""Drift the API cannot apply: counted, and said in notices. Pure, like `plan`.

A campaign number cannot be edited or removed through the API. Where a live
number differs from the manifests and no change can fix it (details the number
copied when it was added, a number that came from a list upcall-sync does not
own, a number the manifests no longer name), the plan says so in a notice and
counts it: `Plan.unapplied_differences` is the number of people (phone,
extension and name) whose numbers differ, so a plan with no changes never
claims that live matches the manifests while they differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from upcall_sync.core.changes import Notice, contact_address, quoted
from upcall_sync.core.model import Contact, DesiredCampaign, LiveCampaign, LiveNumber

PersonKey = tuple[str, str, str, str]


@dataclass
class _Rename:
    person: Contact
    have: Contact
    why: str
    campaigns: list[str] = field(default_factory=list)


@dataclass
class Drift:
    """What differs that the plan cannot change, by person."""

    contact_list: str
    people: set[tuple[str, PersonKey]] = field(default_factory=set)
    renames: dict[PersonKey, _Rename] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.people)

    def count(self, person: Contact) -> None:
        """A person whose number shows other details than the manifests."""
        self.people.add(("wanted", person.person_key))

    def count_extra(self, leftover: Counter[Contact]) -> None:
        """Numbers in a campaign that the manifests do not name."""
        self.people.update(("extra", c.person_key) for c, n in leftover.items() if n > 0)

    def rename_unapplied(self, person: Contact, have: Contact, campaign: str, why: str) -> None:
        """A renamed person whose number still shows the old name: one notice, once."""
        self.count(person)
        entry = self.renames.setdefault(person.person_key, _Rename(person, have, why))
        if campaign not in entry.campaigns:
            entry.campaigns.append(campaign)

    def notices(self) -> list[Notice]:
        out = []
        for r in self.renames.values():
            names = ", ".join(quoted(c) for c in sorted(r.campaigns))
            s = "s" if len(r.campaigns) != 1 else ""
            out.append(
                Notice(
                    kind="unapplied_rename",
                    address=contact_address(r.person),
                    message=(
                        f"{r.have.label} is renamed {r.person.label} in the manifests, but "
                        f"campaign{s} {names} still show{'' if s else 's'} the old name: "
                        f"{r.why}. The API cannot edit a campaign number; to call them "
                        "under the new name, recreate the campaign"
                    ),
                    items=tuple(sorted(r.campaigns)),
                )
            )
        return out


class Showing:
    """Which managed campaigns' numbers show a given contact's details (built once, on
    first use): the campaigns a contact edit reaches."""

    def __init__(
        self,
        pairs: Sequence[tuple[DesiredCampaign, LiveCampaign | None]],
        numbers: dict[str, list[LiveNumber]],
    ) -> None:
        self._pairs = pairs
        self._numbers = numbers
        self._index: dict[Contact, set[str]] | None = None

    def campaigns(self, contact: Contact) -> tuple[str, ...]:
        if self._index is None:
            self._index = {}
            for d, lc in self._pairs:
                for number in self._numbers.get(lc.id, ()) if lc is not None else ():
                    self._index.setdefault(number.contact, set()).add(d.name)
        return tuple(sorted(self._index.get(contact, ())))
