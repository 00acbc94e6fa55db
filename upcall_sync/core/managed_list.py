"""Desired persons matched to the live contacts of the managed list (the planner's
contact index: who is already in the list, by line, then by name where a line holds
several people)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from upcall_sync.core.matching import id_order
from upcall_sync.core.model import Contact, LiveContact
from upcall_sync.core.renames import PersonKey


class ContactIndex:
    """Desired persons matched to live contacts of the managed list.

    Only the lines (phone + extension) of `needed` persons are matched: a plan
    with nothing to add touches no contact, however large the list.
    """

    def __init__(
        self,
        persons: dict[PersonKey, Contact],
        needed: Iterable[Contact],
        live: Sequence[LiveContact],
        phones_read: set[str] | None,
        renames: dict[PersonKey, Contact],
    ) -> None:
        self.matched: dict[PersonKey, LiveContact] = {}
        self.problems: list[str] = []
        #: people the list holds identical copies of (a late POST, two applies at once)
        self.copies: list[str] = []
        self.renames = renames
        lines = {p.line_key for p in needed}
        if phones_read is not None:
            lines = {line for line in lines if line[0] in phones_read}
        if not lines:
            return
        by_line: dict[tuple[str, str], list[LiveContact]] = defaultdict(list)
        for c in live:
            if c.contact.line_key in lines:
                by_line[c.contact.line_key].append(c)
        want_line: dict[tuple[str, str], list[Contact]] = defaultdict(list)
        for p in persons.values():
            if p.line_key in lines:
                want_line[p.line_key].append(p)
        for line, wanted in want_line.items():
            have = sorted(by_line.get(line, []), key=lambda c: id_order(c.id))
            if have:
                self._match_line(wanted, have)

    def _match_line(self, wanted: list[Contact], have: list[LiveContact]) -> None:
        if len(wanted) == 1 and len(have) == 1:
            self.matched[wanted[0].person_key] = have[0]
            return
        for person in wanted:
            same = [c for c in have if c.contact.person_key == person.person_key]
            old = self.renames.get(person.person_key)
            if not same and old is not None:  # renamed: their contact holds the old name
                same = [c for c in have if c.contact.person_key == old.person_key]
            if not same:
                continue
            if len({c.contact for c in same}) > 1:
                ids = ", ".join(c.id for c in same)
                self.problems.append(
                    f"the contact list holds {len(same)} different contacts for "
                    f"{person.label} (ids {ids}); remove the extra ones in Upcall"
                )
                continue
            if len(same) > 1:
                ids = ", ".join(c.id for c in same[1:])
                self.copies.append(
                    f"the contact list holds {len(same)} identical contacts for {person.label} "
                    f"(a write committed after an apply stopped waiting, or two applies at "
                    f"once); plans use id {same[0].id}: remove {ids} in Upcall before their "
                    "details change (different contacts for one person stop every plan)"
                )
            self.matched[person.person_key] = same[0]
