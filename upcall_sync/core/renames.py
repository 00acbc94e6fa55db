"""Renamed people: the same person at the same phone under another name. Pure, like `plan`.

Contacts are shared by campaigns, so pairing is account-wide. After exact
identity matching (phone, extension, first and last name), a line (phone and
extension) that holds exactly one person in the live numbers of the managed
campaigns that no manifest names, and exactly one person in the manifests that
no live number shows, is that person renamed: their contact is updated, never a
second number added. A recycled phone (a new person at an old number) looks the
same, and shows the same way in the plan: as a rename, before -> after.

Any other mix of unmatched people at one line is ambiguous: the plan stops and
names each entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from upcall_sync.core.changes import quoted
from upcall_sync.core.model import Contact, DesiredCampaign, LiveCampaign, LiveNumber
from upcall_sync.errors import Location, PlanError, Problem

PersonKey = tuple[str, str, str, str]
Line = tuple[str, str]


def pair_renames(
    pairs: Sequence[tuple[DesiredCampaign, LiveCampaign | None]],
    numbers: dict[str, list[LiveNumber]],
    lines: Iterable[Line],
) -> dict[PersonKey, Contact]:
    """Desired person -> the live person (as a campaign number shows them) they rename.

    Only `lines` are looked at (those with a desired number not present as written).
    Raises PlanError naming every ambiguous line at once.
    """
    odd = _differing_lines(pairs, numbers, set(lines))
    if not odd:  # every line holds the people the manifests name: nothing to pair
        return {}
    live = _live_people(pairs, numbers, odd)
    desired = _desired_people(pairs, live)
    renames: dict[PersonKey, Contact] = {}
    problems: list[Problem] = []
    ambiguous: set[Line] = set()
    for line in sorted(live):
        new = {k: v for k, v in desired[line].items() if k not in live[line]}
        old = {k: v for k, v in live[line].items() if k not in desired[line]}
        if not new or not old:
            continue
        if len(new) == 1 and len(old) == 1:
            [key] = new
            [(contact, _names)] = old.values()
            renames[key] = contact
            continue
        problems.append(_ambiguous(new, old))
        ambiguous.add(line)
    clear = {line: people for line, people in live.items() if line not in ambiguous}
    problems.extend(_two_names(pairs, numbers, clear, renames))
    if problems:
        raise PlanError(problems)
    return renames


def _two_names(
    pairs: Sequence[tuple[DesiredCampaign, LiveCampaign | None]],
    numbers: dict[str, list[LiveNumber]],
    live: _Live,
    renames: dict[PersonKey, Contact],
) -> list[Problem]:
    """One person named two ways: a campaign holds Q at a line where its manifest entry
    names P instead, P and Q differ only by name, and Q keeps that name in another
    campaign's manifest (so no account-wide pair was made). Adding P would call Q twice."""
    problems: list[Problem] = []
    if not live:
        return problems
    for d, lc in pairs:
        if lc is None:
            continue
        held = {
            n.contact.person_key: n.contact
            for n in numbers.get(lc.id, ())
            if n.contact.line_key in live
        }
        if not held:
            continue
        by_line: dict[Line, list[Contact]] = defaultdict(list)
        for c in held.values():
            by_line[c.line_key].append(c)
        named = {n.contact.person_key: n for n in d.numbers if n.contact.line_key in by_line}
        claimed = {renames[k].person_key for k in named if k in renames}
        for key, number in sorted(named.items()):
            if key in held or key in renames:
                continue
            for q in by_line[number.contact.line_key]:
                if q.person_key in named or q.person_key in claimed:
                    continue
                if set(q.diff(number.contact)) <= {"first_name", "last_name"}:
                    problems.append(
                        Problem(
                            number.source,
                            "numbers",
                            f"{number.contact.label} in campaign {quoted(d.name)}: the campaign "
                            f"holds {q.label}, the same details under another name, and the "
                            "other campaigns keep both names, so it cannot be paired as a "
                            "rename. Give each person one name in every campaign (or, if "
                            "they are two people, make their details differ)",
                        )
                    )
    return problems


_Live = dict[Line, dict[PersonKey, tuple[Contact, list[str]]]]


def _differing_lines(
    pairs: Sequence[tuple[DesiredCampaign, LiveCampaign | None]],
    numbers: dict[str, list[LiveNumber]],
    wanted: set[Line],
) -> set[Line]:
    """The wanted lines where the people live differ from the people named: the only
    ones worth a closer look (a detail edit leaves the people as they are). Contacts
    are sliced directly (`[:2]` is the line, `[:4]` the person): this runs per number."""
    live: dict[Line, set[PersonKey]] = {}
    for _d, lc in pairs:
        for number in numbers.get(lc.id, ()) if lc is not None else ():
            line = number.contact[:2]
            if line in wanted:
                live.setdefault(line, set()).add(number.contact[:4])
    if not live:
        return set()
    named: dict[Line, set[PersonKey]] = {}
    for d, _lc in pairs:
        for n in d.numbers:
            line = n.contact[:2]
            if line in live:
                named.setdefault(line, set()).add(n.contact[:4])
    return {line for line, people in live.items() if named.get(line) != people}


def _live_people(
    pairs: Sequence[tuple[DesiredCampaign, LiveCampaign | None]],
    numbers: dict[str, list[LiveNumber]],
    wanted: set[Line],
) -> _Live:
    """At each wanted line: each person the live numbers show, and the campaigns."""
    live: _Live = defaultdict(dict)
    for d, lc in pairs:
        for number in numbers.get(lc.id, ()) if lc is not None else ():
            contact = number.contact
            if contact.line_key in wanted:
                held = live[contact.line_key].setdefault(contact.person_key, (contact, []))
                if d.name not in held[1]:
                    held[1].append(d.name)
    return live


def _desired_people(
    pairs: Sequence[tuple[DesiredCampaign, LiveCampaign | None]], live: _Live
) -> dict[Line, dict[PersonKey, list[tuple[str, Location]]]]:
    """At each line held live: each person the manifests name, and where."""
    desired: dict[Line, dict[PersonKey, list[tuple[str, Location]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for d, _lc in pairs:
        for n in d.numbers:
            if n.contact.line_key in live:
                desired[n.contact.line_key][n.contact.person_key].append((d.name, n.source))
    return desired


def _ambiguous(
    new: dict[PersonKey, list[tuple[str, Location]]],
    old: dict[PersonKey, tuple[Contact, list[str]]],
) -> Problem:
    entries = sorted(
        (where, _name(key), campaign) for key, seen in new.items() for campaign, where in seen
    )
    named = "; ".join(
        f"{name} in {quoted(campaign)} at {where}" for where, name, campaign in entries
    )
    held = "; ".join(
        f"{_name(key)} in {', '.join(quoted(c) for c in sorted(names))}"
        for key, (_contact, names) in sorted(old.items())
    )
    phone = next(iter(old.values()))[0]
    line = phone.phone + (f" x{phone.extension}" if phone.extension else "")
    return Problem(
        entries[0][0],
        "numbers",
        f"{line}: cannot tell who was renamed: the manifests name {named}, while the live "
        f"campaigns hold {held}. Give each person one name in every campaign, and rename "
        "one person at this phone per apply",
    )


def _name(key: PersonKey) -> str:
    name = " ".join(p for p in key[2:] if p)
    return quoted(name) if name else "(no name)"
