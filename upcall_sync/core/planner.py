"""`plan(desired, live) -> Plan`: normalization and diffing. No I/O.

Identity lives in `matching`. Contacts in the managed list match by phone +
extension, or, where several desired or live contacts share that line, by
phone + extension + name. In each campaign:

1. a desired number is present when a live number there has the same details;
2. else, when a live number there has the same identity (phone, extension,
   first and last name), it is that person with other details: never added
   again. Their details change through their list contact (a contact update),
   which changes the number where the API shows numbers through their contact;
   where no contact of the managed list mirrors the number (it came from
   another list, or the API copied the details when it was added), the plan
   says so in a notice: the API cannot edit a campaign number;
3. else, when a live number shows the details of the contact it would be made
   from, the contact update brings it along;
4. otherwise the number is added.

Before rule 2, people are paired account-wide (`renames`): a line holding
exactly one live person and one desired person that match nobody else is that
person renamed, and rule 2 takes the renamed person as already there. Numbers
on the do-not-call list are left out first (`stopcalls`), and a ready campaign
holding one is paused. What no change can fix is counted (`drift`); with
`manage_other_lists`, a person's contact in another list is updated (`adopted`).

Live numbers nobody claims are reported, never removed (the API cannot).
Every step keys by identity first (dicts and Counters), so the planner is
linear in the number of numbers.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from upcall_sync.core.adopted import other_list_updates
from upcall_sync.core.changes import (
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
    UpdateCampaign,
    UpdateContact,
    Value,
    campaign_address,
    contact_address,
    quoted,
)
from upcall_sync.core.dialing import DialList, dial_list
from upcall_sync.core.drift import Drift, Showing
from upcall_sync.core.managed_list import ContactIndex
from upcall_sync.core.matching import (
    Matches,
    first_file,
    id_order,
    match_campaigns,
    plan_scope,
    unsatisfied_by_equality,
)
from upcall_sync.core.model import (
    DATETIME_FIELDS,
    TEXT_FIELDS,
    Contact,
    DesiredCampaign,
    DesiredState,
    LiveCampaign,
    LiveContact,
    LiveState,
)
from upcall_sync.core.normalize import name_key, text, utc_second
from upcall_sync.core.notices import hint_notices, past_window_notices
from upcall_sync.core.patches import from_number_needed, kept_attributes, live_attributes
from upcall_sync.core.renames import PersonKey, pair_renames
from upcall_sync.core.stopcalls import (
    DoNotCallList,
    guard_pauses,
    guard_scope,
    guarded,
    held_numbers,
    hold_status,
    leave_out_listed,
    listed,
    recreate_retired,
)
from upcall_sync.errors import Location, PlanError, Problem


def plan(
    desired: DesiredState,
    live: LiveState,
    *,
    prune: bool = False,
    targets: Sequence[str] | None = None,
    now: datetime | None = None,
    guard: bool = True,
) -> Plan:
    """The changes that make `live` match `desired`. Pure: no I/O (the caller's clock
    gives `now`, for the warning about campaign windows already over).

    The campaigns and their matches are the reader's (`live.matches`, made for the
    same targets), so a plan matches once; without them, they are worked out here.
    `guard`: a targeted plan pauses the ready campaigns outside its targets that hold a
    do-not-call number (`stopcalls.guard_scope`; the reader read them with the same)."""
    if live.matches is not None:
        matches = live.matches
        campaigns = [d for d, _lc in matches.pairs]
    else:
        campaigns = plan_scope(desired, targets, prune=prune)
        matches = match_campaigns(campaigns, live.campaigns)
        matches = recreate_retired(desired, matches, live.numbers)
    _check_listing(desired, live, prune=prune)
    matches, left_out = leave_out_listed(desired, matches, live.numbers)
    campaigns = [d for d, _lc in matches.pairs]
    planner = _Planner(desired, live, campaigns, matches)
    planned = {d.name for d in campaigns}
    planner.notices.extend(n for n in left_out if n.campaign in planned)
    planner.numbers_and_campaigns()
    planner.contact_list()
    # outside the targets, a ready campaign that holds a listed number is paused all the same
    if guard:
        guards = guarded(guard_scope(desired, campaigns), live.campaigns, matches.claimed_ids())
        planner.changes.extend(guard_pauses(desired, guards, live.numbers))
    if desired.prune_scope and live.complete_listing and not targets:
        planner.prune(desired.prune_scope, archive=prune)
    planner.notices.extend(hint_notices(desired, live, campaigns, matches))
    if now is not None:
        planner.notices.extend(past_window_notices(planner.changes, live, now))
    return planner.result()


def _check_listing(desired: DesiredState, live: LiveState, *, prune: bool) -> None:
    if prune and not live.complete_listing:
        raise PlanError(
            [Problem(first_file(desired), "", "pruning needs a complete listing of campaigns")]
        )


@dataclass
class _Unchangeable:
    """A person present in a campaign by identity whose details the plan cannot change."""

    person: Contact
    have: Contact
    why: str


@dataclass
class _Planner:
    desired: DesiredState
    live: LiveState
    campaigns: list[DesiredCampaign]
    matches: Matches
    changes: list[Change] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    existing: int = 0
    updated: int = 0
    in_scope: int = 0
    archives: int = 0

    def __post_init__(self) -> None:
        self.missing = [
            unsatisfied_by_equality(d, self.live.numbers.get(lc.id) if lc is not None else None)
            for d, lc in self.matches.pairs
        ]
        self.person_source: dict[PersonKey, Location] = {}
        needed: list[Contact] = []
        for missing, _left in self.missing:
            for n in missing:
                self.person_source.setdefault(n.contact.person_key, n.source)
                needed.append(n.contact)
        persons: dict[PersonKey, Contact] = {}
        lines = {c.line_key for c in needed}
        self.renames = pair_renames(self.matches.pairs, self.live.numbers, lines)
        for d in self.campaigns if lines else ():  # nothing missing: no line to look up
            for number in d.numbers:
                if number.contact.line_key in lines:
                    persons.setdefault(number.contact.person_key, number.contact)
        self.index = ContactIndex(
            persons, needed, self.live.contacts, self.live.contact_phones_read, self.renames
        )
        where = first_file(self.desired)
        if self.index.problems:
            raise PlanError([Problem(where, "contact_list", p) for p in self.index.problems])
        self.notices.extend(
            Notice(
                kind="warning",
                address=f"contact_list[{quoted(self.desired.contact_list)}]",
                message=f"{where}: warning: contact_list: {copy}",
            )
            for copy in self.index.copies
        )
        self.contact_changes: dict[PersonKey, Change] = {}
        self.dnc = DoNotCallList(self.desired.do_not_call)
        self.left_out = {(c.name, n.contact.phone) for c, n, _e in listed(self.desired)}
        self.drift = Drift(self.desired.contact_list)
        self.dialing: list[DialList] = []
        self.other_updates: dict[tuple[str, str], UpdateContact] = {}
        self.showing = Showing(self.matches.pairs, self.live.numbers)

    # -- contacts ----------------------------------------------------------------------

    def contact_for(self, person: Contact, *, create: bool) -> LiveContact | None:
        """The person's live contact in the managed list, planning its create or update."""
        key = person.person_key
        found = self.index.matched.get(key)
        if key in self.contact_changes:
            return found
        if found is None:
            if create:
                self.contact_changes[key] = CreateContact(
                    address=contact_address(person),
                    source=self.person_source.get(key),
                    contact=person,
                )
        elif found.contact != person:
            self.contact_changes[key] = UpdateContact(
                address=contact_address(person),
                source=self.person_source.get(key),
                live_id=found.id,
                contact=person,
                current=found.contact,
                touches=self.showing.campaigns(found.contact),
            )
        return found

    # -- numbers and campaigns ---------------------------------------------------------

    def numbers_and_campaigns(self) -> None:
        lost: list[Problem] = []
        for (d, lc), (missing, leftover) in zip(self.matches.pairs, self.missing, strict=True):
            adds, unchangeable = self._numbers(d, lc, missing, leftover)
            self.changes.extend(adds)
            if lc is None:
                self.changes.append(_create(d, bool(adds)))
                self.dialing.extend(dial_list(d, None, adds, []))
                continue
            update = self._existing(d, lc, adds, leftover)
            replacing = self.desired.patch == "replace"
            if update is not None and replacing and "from_number" not in d.fields:
                lost.append(from_number_needed(d, lc))
            # a number the do-not-call list left out is in the manifests (its warning names it)
            unlisted = Counter(
                {c: k for c, k in leftover.items() if (d.name, c.phone) not in self.left_out}
            )
            self.notices.extend(_number_notices(d, lc, unlisted, unchangeable, self.desired))
        if lost:
            raise PlanError(lost)

    def _existing(
        self, wanted: DesiredCampaign, lc: LiveCampaign, adds: list[AddNumber], leftover: Any
    ) -> UpdateCampaign | None:
        """A matched campaign: its update (paused while it holds a do-not-call number)."""
        self.existing += 1
        live_numbers = self.live.numbers.get(lc.id, [])
        held = held_numbers(self.dnc, live_numbers)
        d, reason, held_notices = hold_status(wanted, lc, held)
        self.notices.extend(held_notices)
        update = _update(d, lc, self.live.from_numbers, bool(adds), reason)
        if update is not None:
            self.changes.append(update)
            self.updated += 0 if update.finishes_create or reason else 1
        self.dialing.extend(dial_list(d, lc, adds, live_numbers, leftover.elements()))
        self.drift.count_extra(leftover)
        return update

    def _numbers(
        self,
        d: DesiredCampaign,
        lc: LiveCampaign | None,
        missing: list[Any],
        leftover: Counter[Contact],
    ) -> tuple[list[AddNumber], list[_Unchangeable]]:
        by_person: dict[PersonKey, list[Contact]] = defaultdict(list)
        for have in sorted(leftover.elements()):
            by_person[have.person_key].append(have)
        adds: list[AddNumber] = []
        unchangeable: list[_Unchangeable] = []
        for number in missing:
            person = number.contact
            old = self.renames.get(person.person_key)
            same = by_person.get(person.person_key) or (
                by_person.get(old.person_key) if old is not None else None
            )
            if same:  # rule 2: this person is already in the campaign, with other details
                found = self.contact_for(person, create=False)
                current = found.contact if found is not None else None
                have = current if current in same else same[0]
                same.remove(have)
                leftover[have] -= 1
                if have == current or (
                    found is None and self._other_lists(person, have, number.source)
                ):
                    continue
                if have.person_key != person.person_key:  # a rename the API cannot apply
                    self.drift.rename_unapplied(person, have, d.name, self._why(found))
                else:
                    self.drift.count(person)
                    unchangeable.append(_Unchangeable(person, have, self._why(found)))
                continue
            found = self.contact_for(person, create=True)
            if found is not None and leftover[found.contact] > 0:  # rule 3
                leftover[found.contact] -= 1
                by_person[found.contact.person_key].remove(found.contact)
                continue
            adds.append(
                AddNumber(
                    address=f"{campaign_address(d.name)}.number[{quoted(person.label)}]",
                    source=number.source,
                    campaign=d.name,
                    live_id=lc.id if lc is not None else None,
                    contact=person,
                    contact_id=found.id if found is not None else None,
                )
            )
        return adds, unchangeable

    def _other_lists(self, person: Contact, have: Contact, source: Location) -> bool:
        """manage_other_lists: update the person's contacts in other lists; True if planned."""
        if not self.desired.manage_other_lists:
            return False
        updates, _already = other_list_updates(
            person, have, self.live.other_contacts, source, self.showing.campaigns
        )
        for u in updates:
            self.other_updates.setdefault((u.list_id or "", u.live_id or ""), u)
        return bool(updates)

    def _why(self, found: LiveContact | None) -> str:
        name = quoted(self.desired.contact_list)
        if found is None and not self.desired.manage_other_lists:
            return (
                f"no contact of list {name} is this person (the number came from another "
                "list; `manage_other_lists: true` updates it there)"
            )
        if found is None:
            return f"no contact of list {name} is this person (the number came from elsewhere)"
        return (
            f"their contact in list {name} (id {found.id}) differs from this number: the "
            "number kept the details it had when it was added"
        )

    # -- the contact list and pruning ------------------------------------------------------

    def contact_list(self) -> None:
        self.changes.extend(self.contact_changes.values())
        self.changes.extend(self.other_updates.values())
        creates = any(isinstance(c, CreateContact) for c in self.contact_changes.values())
        if self.live.contact_list_id is None and creates:
            self.changes.append(
                CreateList(
                    address=f"contact_list[{quoted(self.desired.contact_list)}]",
                    source=self.desired.contact_list_source,
                    name=self.desired.contact_list,
                )
            )

    def prune(self, scope: str, *, archive: bool) -> None:
        """Live campaigns in scope that no manifest claims: archived, or named."""
        claimed = self.matches.claimed_ids()
        in_scope = [
            c
            for c in self.live.campaigns
            if fnmatch.fnmatchcase(c.name, scope) and c.status != "archived"
        ]
        self.in_scope = len(in_scope)
        for c in sorted(in_scope, key=lambda c: (c.name, id_order(c.id))):
            if c.id in claimed:
                continue
            if archive:
                self.archives += 1
                self.changes.append(
                    ArchiveCampaign(
                        address=campaign_address(c.name),
                        campaign=c.name,
                        live_id=c.id,
                        status_before=c.status,
                        kept=live_attributes(c, skip={"status"}),
                    )
                )
                continue
            self.notices.append(
                Notice(
                    kind="prune_candidate",
                    address=campaign_address(c.name),
                    campaign=c.name,
                    message=(
                        f"campaign {quoted(c.name)} (id {c.id}) matches prune_scope "
                        f"{quoted(scope)} but no manifest names it; pruning would archive it"
                    ),
                )
            )

    def result(self) -> Plan:
        unsafe = _safety(self.desired, self.existing, self.updated, self.in_scope, self.archives)
        self.notices.extend(self.drift.notices())
        return Plan.build(
            self.changes,
            self.notices,
            unsafe,
            contact_list=self.desired.contact_list,
            contact_list_id=self.live.contact_list_id,
            unapplied_differences=self.drift.total,
            dialing=self.dialing,
        )


def _number_notices(
    d: DesiredCampaign,
    lc: LiveCampaign,
    leftover: Counter[Contact],
    unchangeable: list[_Unchangeable],
    desired: DesiredState,
) -> list[Notice]:
    notices: list[Notice] = []
    if unchangeable:
        n = len(unchangeable)
        notices.append(
            Notice(
                kind="unchangeable_numbers",
                address=campaign_address(d.name),
                campaign=d.name,
                message=(
                    f"{_numbers_are(n)} in campaign {quoted(d.name)} (id {lc.id}) with "
                    "other details than the manifests; the API cannot edit a campaign number, "
                    "so they stay as they are"
                ),
                items=tuple(_unchangeable_item(u) for u in unchangeable),
            )
        )
    extra = sorted(leftover.elements())
    if extra:
        listed = {n.contact for n in d.numbers}  # only then: a campaign may list 100,000
        n = len(extra)
        notices.append(
            Notice(
                kind="unmanaged_numbers",
                address=campaign_address(d.name),
                campaign=d.name,
                message=(
                    f"{_numbers_are(n)} in campaign {quoted(d.name)} (id {lc.id}) but not "
                    "in the manifests; the API cannot remove numbers from a campaign, so they "
                    "stay"
                ),
                items=tuple(_extra_item(c, listed) for c in extra),
            )
        )
    return notices


def _extra_item(contact: Contact, listed: set[Contact]) -> str:
    """A number the manifests do not list; one that is a person they list (as the API
    holds it: `x204` and `204` are one extension) is that person in the campaign twice."""
    if contact in listed:
        return f"{contact.label}: in the campaign a second time (called twice?)"
    return contact.label


def _numbers_are(n: int) -> str:
    return f"{n:,} number is" if n == 1 else f"{n:,} numbers are"


def _unchangeable_item(u: _Unchangeable) -> str:
    diffs = ", ".join(
        f"{k} {quoted(a) if a else '(empty)'} -> {quoted(b) if b else '(empty)'}"
        for k, (a, b) in u.have.diff(u.person).items()
    )
    return f"{u.person.label}: {diffs}; {u.why}"


def _create(d: DesiredCampaign, has_adds: bool) -> CreateCampaign:
    values: dict[str, Value] = {"name": d.name, **d.fields}
    return CreateCampaign(
        address=campaign_address(d.name),
        source=d.source,
        campaign=d.name,
        values=values,
        ready_after_numbers=values.get("status") == "ready" and has_adds,
        sources=dict(d.field_sources),
    )


def _update(
    d: DesiredCampaign,
    lc: LiveCampaign,
    from_numbers: dict[str, set[str]],
    has_adds: bool,
    reason: str = "",
) -> UpdateCampaign | None:
    rows = _campaign_diff(d, lc, from_numbers)
    if not rows:
        return None
    return UpdateCampaign(
        address=campaign_address(d.name),
        source=d.source,
        campaign=d.name,
        live_id=lc.id,
        fields=tuple(rows),
        live_window=(lc.start_datetime, lc.end_datetime),
        live_window_known=True,
        ready_after_numbers=any(r.name == "status" and r.after == "ready" for r in rows)
        and has_adds,
        sources={r.name: d.where(r.name) for r in rows},
        kept=kept_attributes(d, lc, {r.name for r in rows}),
        reason=reason if any(r.name == "status" for r in rows) else "",
    )


def _campaign_diff(
    d: DesiredCampaign, lc: LiveCampaign, from_numbers: dict[str, set[str]]
) -> list[FieldChange]:
    """The managed fields that differ; from_number's live value is UNKNOWN."""
    rows: list[FieldChange] = []
    if name_key(lc.name) != name_key(d.name):
        rows.append(FieldChange("name", lc.name, d.name))
    for name, want in d.fields.items():
        if name == "from_number":
            if lc.id not in from_numbers.get(want, set()):
                rows.append(FieldChange(name, UNKNOWN, want))
            continue
        have = lc.value(name)
        if name in TEXT_FIELDS:
            differs = text(have) != text(want)
        elif name in DATETIME_FIELDS:
            differs = (utc_second(have) if have else None) != (utc_second(want) if want else None)
        else:
            differs = have != want
        if differs:
            rows.append(FieldChange(name, have, want))
    return rows


def _safety(
    desired: DesiredState, existing: int, updated: int, in_scope: int, archives: int
) -> list[str]:
    """Over the limits? Finishing upcall-sync's own pending -> status step is no update."""
    limits = desired.safety
    reasons = []
    if (
        existing
        and existing >= limits.min_existing
        and updated * 100 / existing > limits.max_update_percent
    ):
        reasons.append(
            f"the plan updates {updated} of {existing} existing campaigns "
            f"({updated * 100 / existing:.0f}%, over the {limits.max_update_percent:g}% limit)"
        )
    if (
        in_scope
        and in_scope >= limits.min_existing
        and archives * 100 / in_scope > limits.max_archive_percent
    ):
        reasons.append(
            f"the plan archives {archives} of {in_scope} campaigns in prune_scope "
            f"({archives * 100 / in_scope:.0f}%, over the {limits.max_archive_percent:g}% limit)"
        )
    return reasons
