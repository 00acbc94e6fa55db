"""`plan(desired, live) -> Plan`: identity matching, normalization and diffing. No I/O.

Campaigns match by pinned `id`, else by exact name (an active campaign is
preferred over archived ones of the same name; two active ones is an error).
Contacts in the managed list match by phone + extension, or, where several
desired or live contacts share that line, by phone + extension + name.
A desired number is present in a campaign when a live number there has the
same details, or has the details of the contact it will be updated from;
otherwise it is added. Live numbers nobody claims are reported, never removed
(the API cannot).

Every step keys by identity first (dicts and Counters), so the planner is
linear in the number of numbers.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from upcall_sync.changes import Change, Notice, Plan, campaign_address, contact_address, quoted
from upcall_sync.errors import Location, PlanError, Problem, UsageError
from upcall_sync.model import (
    CAMPAIGN_FIELDS,
    DATETIME_FIELDS,
    TEXT_FIELDS,
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    LiveCampaign,
    LiveContact,
    LiveNumber,
    LiveState,
)
from upcall_sync.normalize import format_datetime, gc_paused, text, utc_second

NOTICE_SAMPLE = 5


@dataclass
class Matches:
    """Which live campaign each desired campaign is (None: to be created)."""

    pairs: list[tuple[DesiredCampaign, LiveCampaign | None]] = field(default_factory=list)

    def matched(self) -> list[tuple[DesiredCampaign, LiveCampaign]]:
        return [(d, lc) for d, lc in self.pairs if lc is not None]

    def claimed_ids(self) -> set[str]:
        return {lc.id for _d, lc in self.pairs if lc is not None}


def select_targets(desired: DesiredState, targets: Sequence[str] | None) -> list[DesiredCampaign]:
    if not targets:
        return list(desired.campaigns)
    by_name = desired.by_name()
    unknown = [t for t in targets if t not in by_name]
    if unknown:
        names = ", ".join(quoted(t) for t in unknown)
        raise UsageError(f"--target {names}: no campaign of that name in the manifests")
    wanted = set(targets)
    return [c for c in desired.campaigns if c.name in wanted]


def match_campaigns(campaigns: Sequence[DesiredCampaign], live: Iterable[LiveCampaign]) -> Matches:
    """Match by id, else by name; raise PlanError naming every ambiguity at once."""
    by_id: dict[str, LiveCampaign] = {}
    by_name: dict[str, list[LiveCampaign]] = defaultdict(list)
    for lc in live:
        by_id[lc.id] = lc
        by_name[lc.name].append(lc)
    problems: list[Problem] = []
    matches = Matches()
    claimed: dict[str, DesiredCampaign] = {}
    for d in campaigns:
        found: LiveCampaign | None = None
        if d.id is not None:
            found = by_id.get(d.id)
            if found is None:
                problems.append(
                    Problem(
                        d.where("id") if "id" in d.field_sources else d.source,
                        "id",
                        f"campaign {quoted(d.name)} is bound to id {d.id}, but this account has "
                        "no campaign with that id",
                    )
                )
                continue
        else:
            candidates = sorted(by_name.get(d.name, []), key=lambda c: _id_order(c.id))
            active = [c for c in candidates if c.status != "archived"]
            pool = active if active else candidates
            if len(pool) > 1:
                ids = ", ".join(c.id for c in pool)
                state = "active " if active else "archived "
                problems.append(
                    Problem(
                        d.source,
                        "name",
                        f"{len(pool)} {state}live campaigns are named {quoted(d.name)} "
                        f"(ids {ids}); pin one with `id:` in the manifest",
                    )
                )
                continue
            found = pool[0] if pool else None
        if found is not None:
            if found.id in claimed:
                other = claimed[found.id]
                problems.append(
                    Problem(
                        d.source,
                        "",
                        f"campaign {quoted(d.name)} and campaign {quoted(other.name)} "
                        f"({other.source}) both match live campaign {found.id}",
                    )
                )
                continue
            claimed[found.id] = d
        matches.pairs.append((d, found))
    if problems:
        raise PlanError(problems)
    return matches


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1 << 62, value)


# -- numbers and contacts ----------------------------------------------------------


def unsatisfied_by_equality(
    campaign: DesiredCampaign, live_numbers: Sequence[LiveNumber] | None
) -> tuple[list[DesiredNumber], Counter[Contact]]:
    """Desired numbers of a campaign with no live number of identical details, and the
    live numbers left over (as a multiset of details)."""
    remaining: Counter[Contact] = Counter(n.contact for n in live_numbers or ())
    missing: list[DesiredNumber] = []
    for number in campaign.numbers:
        if remaining[number.contact] > 0:
            remaining[number.contact] -= 1
        else:
            missing.append(number)
    return missing, remaining


def phones_needing_contacts(matches: Matches, numbers: dict[str, list[LiveNumber]]) -> set[str]:
    """The phones whose list contacts a plan must read: those of numbers not already
    present with identical details (what `live` asks the API for)."""
    phones: set[str] = set()
    for d, lc in matches.pairs:
        live_numbers = numbers.get(lc.id) if lc is not None else None
        missing, _left = unsatisfied_by_equality(d, live_numbers)
        phones.update(n.contact.phone for n in missing)
    return phones


class _ContactIndex:
    """Desired persons matched to live contacts of the managed list.

    Only the lines (phone + extension) of `needed` persons are matched: a plan
    with nothing to add touches no contact, however large the list.
    """

    def __init__(
        self,
        persons: dict[tuple[str, str, str, str], Contact],
        needed: Iterable[Contact],
        live: Sequence[LiveContact],
        phones_read: set[str] | None,
    ) -> None:
        self.matched: dict[tuple[str, str, str, str], LiveContact] = {}
        self.problems: list[str] = []
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
            have = sorted(by_line.get(line, []), key=lambda c: _id_order(c.id))
            if not have:
                continue
            if len(wanted) == 1 and len(have) == 1:
                self.matched[wanted[0].person_key] = have[0]
                continue
            for person in wanted:
                same = [c for c in have if c.contact.person_key == person.person_key]
                if not same:
                    continue
                if len({c.contact for c in same}) > 1:
                    ids = ", ".join(c.id for c in same)
                    self.problems.append(
                        f"the contact list holds {len(same)} different contacts for "
                        f"{person.label} (ids {ids}); remove the extra ones in Upcall"
                    )
                    continue
                self.matched[person.person_key] = same[0]


def plan(
    desired: DesiredState,
    live: LiveState,
    *,
    prune: bool = False,
    targets: Sequence[str] | None = None,
) -> Plan:
    """The changes that make `live` match `desired`. Pure: no I/O."""
    with gc_paused():
        return _plan(desired, live, prune=prune, targets=targets)


def _plan(
    desired: DesiredState,
    live: LiveState,
    *,
    prune: bool,
    targets: Sequence[str] | None,
) -> Plan:
    campaigns = select_targets(desired, targets)
    if prune and targets:
        raise UsageError("--prune cannot be combined with --target")
    if prune and not desired.prune_scope:
        raise UsageError("--prune needs prune_scope in the manifests (a glob on campaign names)")
    if prune and not live.complete_listing:
        raise PlanError(
            [
                Problem(
                    desired.contact_list_source or first_file(desired),
                    "",
                    "--prune needs a complete listing of live campaigns",
                )
            ]
        )
    matches = match_campaigns(campaigns, live.campaigns)
    changes: list[Change] = []
    notices: list[Notice] = []

    missing_by_pair = []
    for d, lc in matches.pairs:
        live_numbers = live.numbers.get(lc.id) if lc is not None else None
        missing_by_pair.append(unsatisfied_by_equality(d, live_numbers))
    # Contacts: only people whose numbers are missing somewhere need one; where they
    # share a line with others, everyone on that line counts for the matching rule.
    person_source: dict[tuple[str, str, str, str], Location] = {}
    for missing, _left in missing_by_pair:
        for n in missing:
            person_source.setdefault(n.contact.person_key, n.source)
    needed = [n.contact for missing, _left in missing_by_pair for n in missing]
    persons: dict[tuple[str, str, str, str], Contact] = {}
    if needed:
        lines = {c.line_key for c in needed}
        for d in campaigns:
            for number in d.numbers:
                if number.contact.line_key in lines:
                    persons.setdefault(number.contact.person_key, number.contact)
    index = _ContactIndex(persons, needed, live.contacts, live.contact_phones_read)
    if index.problems:
        raise PlanError(
            [
                Problem(desired.contact_list_source or first_file(desired), "contact_list", p)
                for p in index.problems
            ]
        )
    contact_changes: dict[tuple[str, str, str, str], Change] = {}

    def contact_for(person: Contact) -> tuple[str | None, Contact | None]:
        """(live contact id or None, the live details numbers made from it show now)."""
        key = person.person_key
        found = index.matched.get(key)
        if found is None:
            if key not in contact_changes:
                contact_changes[key] = Change(
                    kind="create_contact",
                    address=contact_address(person),
                    after=person.to_dict(),
                    source=person_source.get(key),
                    contact=person,
                )
            return None, None
        if found.contact != person and key not in contact_changes:
            diff = found.contact.diff(person)
            contact_changes[key] = Change(
                kind="update_contact",
                address=contact_address(person),
                before={k: a for k, (a, _b) in diff.items()},
                after={k: b for k, (_a, b) in diff.items()},
                source=person_source.get(key),
                live_id=found.id,
                contact=person,
            )
        return found.id, found.contact

    existing = 0
    updated = 0
    for (d, lc), (missing, leftover) in zip(matches.pairs, missing_by_pair, strict=True):
        adds: list[Change] = []
        for number in missing:
            person = number.contact
            contact_id, current = contact_for(person)
            if current is not None and leftover[current] > 0:
                leftover[current] -= 1  # the contact update brings this number along
                continue
            adds.append(
                Change(
                    kind="add_number",
                    address=f"{campaign_address(d.name)}.number[{quoted(person.label)}]",
                    after=person.to_dict(),
                    source=number.source,
                    campaign=d.name,
                    live_id=lc.id if lc is not None else None,
                    contact=person,
                    contact_id=contact_id,
                )
            )
        changes.extend(adds)
        if lc is None:
            after = _create_attributes(d)
            defer = after.get("status") == "ready" and bool(adds)
            changes.append(
                Change(
                    kind="create_campaign",
                    address=campaign_address(d.name),
                    after=after,
                    source=d.source,
                    campaign=d.name,
                    ready_after_numbers=defer,
                    sources=dict(d.field_sources),
                )
            )
        else:
            existing += 1
            before, after = _campaign_diff(d, lc, live.from_numbers)
            if after:
                updated += 1
                defer = after.get("status") == "ready" and bool(adds)
                changes.append(
                    Change(
                        kind="update_campaign",
                        address=campaign_address(d.name),
                        before=before,
                        after=after,
                        source=d.source,
                        campaign=d.name,
                        live_id=lc.id,
                        ready_after_numbers=defer,
                        sources={k: d.where(k) for k in after},
                    )
                )
            extra = sorted(leftover.elements())
            if extra:
                notices.append(
                    Notice(
                        kind="unmanaged_numbers",
                        address=campaign_address(d.name),
                        campaign=d.name,
                        message=(
                            f"{len(extra)} number{'s' if len(extra) != 1 else ''} in campaign "
                            f"{quoted(d.name)} (id {lc.id}) are not in the manifests; the API "
                            "cannot remove numbers from a campaign, so they stay"
                        ),
                        items=tuple(c.label for c in extra[:NOTICE_SAMPLE]),
                    )
                )
    changes.extend(contact_changes.values())
    if live.contact_list_id is None and any(c.kind == "create_contact" for c in changes):
        changes.append(
            Change(
                kind="create_list",
                address=f"contact_list[{quoted(desired.contact_list)}]",
                after={"name": desired.contact_list},
                source=desired.contact_list_source,
            )
        )

    # Pruning: live campaigns in scope that no manifest claims.
    in_scope: list[LiveCampaign] = []
    archives = 0
    if desired.prune_scope and live.complete_listing and not targets:
        claimed = matches.claimed_ids()
        scope = desired.prune_scope
        in_scope = [
            c
            for c in live.campaigns
            if fnmatch.fnmatchcase(c.name, scope) and c.status != "archived"
        ]
        for c in sorted(in_scope, key=lambda c: (c.name, _id_order(c.id))):
            if c.id in claimed:
                continue
            if prune:
                archives += 1
                changes.append(
                    Change(
                        kind="archive_campaign",
                        address=campaign_address(c.name),
                        before={"status": c.status},
                        after={"status": "archived"},
                        campaign=c.name,
                        live_id=c.id,
                    )
                )
            else:
                notices.append(
                    Notice(
                        kind="prune_candidate",
                        address=campaign_address(c.name),
                        campaign=c.name,
                        message=(
                            f"campaign {quoted(c.name)} (id {c.id}) matches prune_scope "
                            f"{quoted(scope)} but no manifest names it; --prune would archive it"
                        ),
                    )
                )

    unsafe = _safety(desired, existing, updated, len(in_scope), archives)
    return Plan.build(
        changes,
        notices,
        unsafe,
        contact_list=desired.contact_list,
        contact_list_id=live.contact_list_id,
    )


def first_file(desired: DesiredState) -> Location:
    return Location(desired.files[0] if desired.files else "manifests")


def _create_attributes(d: DesiredCampaign) -> dict[str, Any]:
    after: dict[str, Any] = {"name": d.name}
    for name in CAMPAIGN_FIELDS:
        if name in d.fields:
            after[name] = _show(name, d.fields[name])
    return after


def _show(name: str, value: Any) -> Any:
    if name in DATETIME_FIELDS:
        return format_datetime(value) if value is not None else None
    return value


def _campaign_diff(
    d: DesiredCampaign, lc: LiveCampaign, from_numbers: dict[str, set[str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) for the managed fields that differ; from_number's before is unknown."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if lc.name != d.name:
        before["name"], after["name"] = lc.name, d.name
    for name, want in d.fields.items():
        if name == "from_number":
            if lc.id not in from_numbers.get(want, set()):
                before[name], after[name] = None, want
            continue
        have = lc.value(name)
        if name in TEXT_FIELDS:
            if text(have) != text(want):
                before[name], after[name] = have, want
        elif name in DATETIME_FIELDS:
            have_n = utc_second(have) if have is not None else None
            want_n = utc_second(want) if want is not None else None
            if have_n != want_n:
                before[name], after[name] = _show(name, have), _show(name, want)
        elif have != want:
            before[name], after[name] = have, want
    return before, after


def _safety(
    desired: DesiredState, existing: int, updated: int, in_scope: int, archives: int
) -> list[str]:
    limits = desired.safety
    reasons = []
    if (
        existing >= limits.min_existing
        and existing
        and updated * 100 / existing > limits.max_update_percent
    ):
        reasons.append(
            f"the plan updates {updated} of {existing} existing campaigns "
            f"({updated * 100 / existing:.0f}%, over the {limits.max_update_percent:g}% limit)"
        )
    if (
        in_scope >= limits.min_existing
        and in_scope
        and archives * 100 / in_scope > limits.max_archive_percent
    ):
        reasons.append(
            f"the plan archives {archives} of {in_scope} campaigns in prune_scope "
            f"({archives * 100 / in_scope:.0f}%, over the {limits.max_archive_percent:g}% limit)"
        )
    return reasons
