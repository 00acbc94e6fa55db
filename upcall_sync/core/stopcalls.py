"""The do-not-call list: which numbers must never be added, and which campaigns to pause.

Pure, like `plan`. A list entry without an extension covers every extension of
its phone. `validate` turns every campaign number on the list into an error
(`listed_problems`); `plan` leaves those numbers out with a warning
(`without_listed`) and pauses a managed `ready` campaign that holds a listed
number (`hold_status`): the API cannot remove a number from a campaign, so
pausing is the one thing that stops the call. A targeted plan pauses such a campaign
outside its targets too (`guard_scope`, `guard_pauses`): an opt-out is a legal stop.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from upcall_sync.core.changes import (
    FieldChange,
    Notice,
    UpdateCampaign,
    Value,
    campaign_address,
    quoted,
)
from upcall_sync.core.model import (
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    DoNotCall,
    LiveCampaign,
    LiveNumber,
    Matches,
)
from upcall_sync.core.normalize import e164_match, name_key, national_digits
from upcall_sync.core.patches import live_attributes
from upcall_sync.errors import Problem

#: how many listed numbers a pause reason names before "and N more"
SHOWN = 3


class DoNotCallList:
    """The entries of every manifest, looked up by phone.

    A live number is matched as leniently as it may be written: the API is meant to
    return E.164, but one that keeps a phone as typed (`650-799-1144`, which no
    region reads) or an extension with spaces around it (` 204`) must still be
    found, since a miss here is a call to a person who asked not to be called. A
    phone that is not E.164 is compared by its digits (also without a dialing prefix:
    `_digit_forms`), against each entry's full number and its national number; an
    extension, as it is dialed (`dialed`).
    """

    def __init__(self, entries: Iterable[DoNotCall]) -> None:
        self.by_phone: dict[str, list[DoNotCall]] = defaultdict(list)
        for entry in entries:
            self.by_phone[entry.phone].append(entry)

    @functools.cached_property
    def by_digits(self) -> dict[str, list[DoNotCall]]:
        """The entries by their number's digits and by their national number's: made the
        first time a live phone is not E.164 (a phonenumbers parse per entry, which a
        list built several times a plan should not pay where the API keeps to E.164)."""
        found: dict[str, list[DoNotCall]] = defaultdict(list)
        for entries in self.by_phone.values():
            for entry in entries:
                digits = entry.phone.lstrip("+")
                found[digits].append(entry)
                national = national_digits(entry.phone)
                if national and national != digits:
                    found[national].append(entry)
        return found

    def __bool__(self) -> bool:
        return bool(self.by_phone)

    def entry_for(self, contact: Contact) -> DoNotCall | None:
        extensions = {dialed(contact.extension)}
        candidates = self.by_phone.get(contact.phone, ())
        if not e164_match(contact.phone):
            phone, written = _written_extension(contact.phone)
            if written:  # `650.799.1145 ext. 3`: the phone dials 6507991145, then 3
                extensions.add(dialed(written))
            for digits in dict.fromkeys((*_digit_forms(contact.phone), *_digit_forms(phone))):
                candidates = (*candidates, *self.by_digits.get(digits, ()))
        for entry in candidates:
            if entry.extension is None or dialed(entry.extension) in extensions:
                return entry
        return None


#: an extension written at the end of a phone the API kept as typed, in the ways
#: phonenumbers reads one in a manifest: `x7`, `ext. 9`, `extension 9`, `;ext=5`, `#9`, `, 9`
_WRITTEN_EXTENSION = re.compile(
    r"\s*(?:;\s*ext\s*=|(?<![a-z])(?:ext(?:ension)?\.?|x)|#|,)\s*([0-9]+)\s*#?\s*$", re.IGNORECASE
)


def _written_extension(phone: str) -> tuple[str, str]:
    """(the phone without it, the extension) of a phone with an extension written at its
    end, else (phone, "")."""
    found = _WRITTEN_EXTENSION.search(phone)
    if found is None or not any(ch.isdigit() for ch in phone[: found.start()]):
        return phone, ""
    return phone[: found.start()], found.group(1)


#: what a phone written as dialed from somewhere may start with before the number: an
#: international prefix (`00` in most of the world, `011` from North America) before
#: the full number, or a trunk `0` before the national one (`07911 123456` in the UK)
_DIAL_PREFIXES = ("011", "00", "0")


def _digit_forms(phone: str) -> list[str]:
    """The digits of a phone that is not E.164, and those digits without each dialing
    prefix they may start with: `0044 7911 123456` and `07911 123456` are both
    +44 7911 123456 (a wider match only pauses a campaign; a miss dials the person). A
    trunk `0` written in parentheses after the country code (`+44 (0)7911 123456`) is
    not dialed from abroad: those digits are tried without it too."""
    forms: list[str] = []
    for written in dict.fromkeys((phone, _TRUNK_IN_PARENS.sub("", phone))):
        digits = "".join(ch for ch in written if ch.isdigit())
        forms.append(digits)
        for prefix in _DIAL_PREFIXES:
            if digits.startswith(prefix) and len(digits) > len(prefix) + 3:
                forms.append(digits[len(prefix) :])
    return forms


#: `(0)`, how a trunk prefix is written beside an international one: `+44 (0)20 ...`
_TRUNK_IN_PARENS = re.compile(r"\(\s*0\s*\)")


def dialed(extension: str) -> str:
    """An extension as a phone dials it: its digits, `*` and `#`, nothing else (` 204`,
    `x204`, `204` followed by a zero-width space are all 204; `0204` is not)."""
    if extension.isdigit():
        return extension
    return "".join(ch for ch in extension if ch.isdigit() or ch in "*#")


def listed(
    desired: DesiredState, dnc: DoNotCallList | None = None
) -> list[tuple[DesiredCampaign, DesiredNumber, DoNotCall]]:
    """Every campaign number of the manifests that the do-not-call list (`dnc`, made from
    the manifests' when not given) covers."""
    dnc = DoNotCallList(desired.do_not_call) if dnc is None else dnc
    if not dnc:
        return []
    found = []
    for campaign in desired.campaigns:
        for number in campaign.numbers:
            entry = dnc.entry_for(number.contact)
            if entry is not None:
                found.append((campaign, number, entry))
    return found


def listed_problems(desired: DesiredState) -> list[Problem]:
    """validate's errors: each campaign number on the list, with the list entry."""
    return [
        Problem(
            number.source,
            "numbers",
            f"{number.contact.label} in campaign {quoted(campaign.name)} is on the "
            f"do-not-call list ({entry.label} at {entry.source}); remove it from the campaign",
        )
        for campaign, number, entry in listed(desired)
    ]


def leave_out_listed(
    desired: DesiredState,
    matches: Matches,
    numbers: Mapping[str, Sequence[LiveNumber]] | None = None,
) -> tuple[Matches, list[Notice]]:
    """The matched campaigns without the numbers on the list, and a warning for each
    (which says so when the live campaign already holds the listed line: `numbers`)."""
    if not desired.do_not_call:
        return matches, []
    planned = [d for d, _lc in matches.pairs]
    scoped = dataclasses.replace(desired, campaigns=tuple(planned))
    live = {id(d): (numbers or {}).get(lc.id, ()) for d, lc in matches.pairs if lc is not None}
    kept, notices = without_listed(scoped, live)
    if not notices:
        return matches, []
    pairs = [(d, lc) for d, (_d, lc) in zip(kept.campaigns, matches.pairs, strict=True)]
    return Matches(pairs), notices


def without_listed(
    desired: DesiredState, live: Mapping[int, Sequence[LiveNumber]] | None = None
) -> tuple[DesiredState, list[Notice]]:
    """The manifests without the numbers on the list, and a warning for each one left out.
    `live`: the live numbers of each campaign (by `id()` of its entry), so that a warning
    never says "never added" of a line the campaign already holds."""
    dnc = DoNotCallList(desired.do_not_call)
    found = listed(desired, dnc)
    if not found:
        return desired, []
    dropped: dict[int, set[int]] = defaultdict(set)  # by campaign: names may repeat
    holds: dict[int, dict[int, list[str]]] = {}  # by campaign: list entry -> live lines
    notices: list[Notice] = []
    for campaign, number, entry in found:
        dropped[id(campaign)].add(id(number))
        if id(campaign) not in holds:  # each campaign's live numbers are read once
            by_entry = holds[id(campaign)] = defaultdict(list)
            for n, hit in held_numbers(dnc, (live or {}).get(id(campaign))):
                by_entry[id(hit)].append(n.contact.label)
        held = holds[id(campaign)].get(id(entry), [])
        fate = (
            f"it is not added to campaign {quoted(campaign.name)} again, but the campaign "
            f"already holds {_shown(sorted(held))}, which the API cannot remove: it is kept "
            "from dialing while it does"
            if held
            else f"it is left out of campaign {quoted(campaign.name)}, never added"
        )
        notices.append(
            Notice(
                kind="warning",
                address=campaign_address(campaign.name),
                campaign=campaign.name,
                message=(
                    f"{number.source}: warning: {number.contact.label} is on the do-not-call "
                    f"list ({entry.label} at {entry.source}): {fate}"
                ),
            )
        )
    campaigns = tuple(
        dataclasses.replace(c, numbers=tuple(n for n in c.numbers if id(n) not in dropped[id(c)]))
        if id(c) in dropped
        else c
        for c in desired.campaigns
    )
    return dataclasses.replace(desired, campaigns=campaigns), notices


#: a manifest status that retires a campaign: never a reason to create it anew
RETIRED = frozenset({"archived", "completed"})
#: the statuses a campaign does not dial in
STOPPED = frozenset({"pending", "paused", *RETIRED})


def may_dial(lc: LiveCampaign) -> bool:
    """`ready`, or a status this version does not know (another case, a new one, none):
    a campaign holding a listed number is paused unless it is known not to dial."""
    return lc.status not in STOPPED


def _shown(labels: Sequence[str]) -> str:
    """The first few listed people a campaign holds, then "and N more"."""
    more = f" and {len(labels) - SHOWN:,} more" if len(labels) > SHOWN else ""
    return ", ".join(labels[:SHOWN]) + more


def recreate_retired(
    desired: DesiredState, matches: Matches, numbers: Mapping[str, Sequence[LiveNumber]]
) -> Matches:
    """The matches without an archived campaign that holds a listed number, for an entry
    that pins no `id:`: the plan then creates the campaign anew, without the number.

    That is how a campaign paused for the list is resumed (archive it, drop the `id:`,
    apply): matched again, it would stay archived forever, its notice saying to archive
    it. Only the manifest entry's name ties it to the archived one, and an archived
    campaign is matched only when no active one has the name. An entry that wants the
    campaign `archived` or `completed` (retired in the manifest too) is not resumed:
    it stays matched to the archived one, never created anew beside it."""
    dnc = DoNotCallList(desired.do_not_call)
    if not dnc:
        return matches
    pairs: list[tuple[DesiredCampaign, LiveCampaign | None]] = [
        (d, None)
        if lc is not None
        and d.id is None
        and lc.status == "archived"
        and d.fields.get("status") not in RETIRED
        and held_numbers(dnc, numbers.get(lc.id))
        else (d, lc)
        for d, lc in matches.pairs
    ]
    return Matches(pairs)


def held_numbers(
    dnc: DoNotCallList, numbers: Sequence[LiveNumber] | None
) -> list[tuple[LiveNumber, DoNotCall]]:
    """A live campaign's numbers that the list covers."""
    if not dnc or not numbers:
        return []
    out = []
    for number in numbers:
        entry = dnc.entry_for(number.contact)
        if entry is not None:
            out.append((number, entry))
    return out


def hold_status(
    d: DesiredCampaign,
    lc: LiveCampaign,
    held: list[tuple[LiveNumber, DoNotCall]],
) -> tuple[DesiredCampaign, str, list[Notice]]:
    """The campaign as the plan must want it while it holds listed numbers.

    A live campaign that may dial (`ready`, or a status this version does not know) is
    paused (the reason goes on the plan line); any other is never set back to `ready`,
    and a notice says how to resume. Returns the campaign, the pause reason ("" if none)
    and the notices.
    """
    if not held:
        return d, "", []
    labels = sorted({n.contact.label for n, _e in held})
    shown = _shown(labels)
    if may_dial(lc):
        # a manifest that retires it (archived, completed) or holds it (pending, paused)
        # stops the calls too: that status, not a pause a second apply would undo
        want = d.fields.get("status")
        stop = want if isinstance(want, str) and want in STOPPED else "paused"
        reason = f"{stop}: it holds {shown}, on the do-not-call list"
        fields = {**d.fields, "status": stop}
        return dataclasses.replace(d, fields=fields), reason, []
    if d.fields.get("status") != "ready":
        return d, "", []
    fields = {k: v for k, v in d.fields.items() if k != "status"}
    notice = Notice(
        kind="held_paused",
        address=campaign_address(d.name),
        campaign=d.name,
        message=(
            f"campaign {quoted(d.name)} (id {lc.id}) stays {lc.status or 'as it is'}, not "
            f"ready: it holds {shown}, on the do-not-call list, and the API cannot remove a "
            "number from a campaign. To resume calling, recreate it without the number: "
            "archive it in Upcall (and drop the entry's `id:` if it pins one), then apply: "
            "upcall-sync creates it anew, without the listed numbers"
        ),
        items=tuple(labels),
    )
    return dataclasses.replace(d, fields=fields), "", [notice]


# -- a targeted plan still stops every call ----------------------------------------------


def guard_scope(desired: DesiredState, planned: Sequence[DesiredCampaign]) -> list[DesiredCampaign]:
    """The manifest campaigns a targeted plan leaves out, when the manifests have a
    do-not-call list: `--target` narrows what a plan changes, but an opt-out is a legal
    stop, so a ready campaign outside the targets that holds a listed number is paused
    all the same (`guard_pauses`), and nothing else of it is planned."""
    if not desired.do_not_call or len(planned) == len(desired.campaigns):
        return []
    inside = {(c.name, c.id) for c in planned}
    return [c for c in desired.campaigns if (c.name, c.id) not in inside]


def guarded(
    guards: Sequence[DesiredCampaign],
    live: Iterable[LiveCampaign],
    claimed: set[str],
) -> list[tuple[DesiredCampaign, LiveCampaign]]:
    """Each guard campaign with the live `ready` campaigns it may be: its pinned id, else
    every active one of its name (two of one name are an error for a plan that manages
    them; here each is a campaign that may dial), leaving out those the plan matched."""
    if not guards:
        return []
    ready = [lc for lc in live if may_dial(lc) and lc.id not in claimed]
    by_id = {lc.id: lc for lc in ready}
    by_name: dict[str, list[LiveCampaign]] = defaultdict(list)
    for lc in ready:
        by_name[name_key(lc.name)].append(lc)
    out: list[tuple[DesiredCampaign, LiveCampaign]] = []
    seen: set[str] = set()
    for d in guards:
        found = [by_id[d.id]] if d.id in by_id else [] if d.id else by_name[name_key(d.name)]
        for lc in found:
            if lc.id not in seen:
                seen.add(lc.id)
                out.append((d, lc))
    return out


#: what a pause without from_number does under `patch: replace`
CLEARS_CALLER_ID = (
    "under `patch: replace` this PATCH clears its caller ID (the manifests set no "
    "from_number, and the API never returns it): add from_number and apply to set it again"
)


def sets_caller_id(caller: Value) -> str:
    """What the stop of a refused plan does under `patch: replace` when the plan changes
    the caller ID: it carries the manifest's from_number (one without it would clear the
    caller ID, which the API never returns), so the caller ID changes though the plan
    was not applied, and later plans no longer show that change."""
    return (
        f"under `patch: replace` it carries the manifests' from_number {quoted(str(caller))}, "
        "which the plan sets (a PATCH without it clears the caller ID): taken, it is the "
        "campaign's caller ID from now on"
    )


def carries_caller_id(caller: Value) -> str:
    """What a guard pause under `patch: replace` sends of the caller ID: the manifests'
    (the API never returns the live one, and a PATCH without it clears it). Said on the
    pause's line: it sets that caller ID, if the campaign had another, though no plan
    of the campaign is applied."""
    return (
        f"under `patch: replace` it carries the manifests' from_number {quoted(str(caller))} "
        "(a PATCH without it clears the caller ID, which the API never returns)"
    )


#: why a guard pause goes: outside a targeted plan's targets, or no plan could be made
OUTSIDE_TARGETS = "outside --target, paused all the same"
NO_PLAN = "paused all the same: no plan could be made"


def guard_pauses(
    desired: DesiredState,
    pairs: Sequence[tuple[DesiredCampaign, LiveCampaign]],
    numbers: Mapping[str, Sequence[LiveNumber]],
    aside: str = OUTSIDE_TARGETS,
) -> list[UpdateCampaign]:
    """The pause of each guarded campaign that holds a listed number: its status alone
    (its other attributes as they are live, so a replacing PATCH keeps them; the
    manifest's from_number too under `patch: replace`). Under `patch: replace` with no
    from_number in the manifests, the pause still goes (a listed person must not be
    called) and its reason says it clears the caller ID, which cannot be read back."""
    dnc = DoNotCallList(desired.do_not_call)
    pauses: list[UpdateCampaign] = []
    for d, lc in pairs:
        held = held_numbers(dnc, numbers.get(lc.id))
        if not held:
            continue
        shown = _shown(sorted({n.contact.label for n, _e in held}))
        reason = f"paused: it holds {shown}, on the do-not-call list"
        kept: dict[str, Value] = live_attributes(lc, skip={"status"})
        aside_now = aside
        if desired.patch == "replace" and d.fields.get("from_number"):
            kept["from_number"] = d.fields["from_number"]
            aside_now = f"{aside}; {carries_caller_id(d.fields['from_number'])}"
        elif desired.patch == "replace":
            aside_now = f"{aside}; {CLEARS_CALLER_ID}"
        pauses.append(
            UpdateCampaign(
                address=campaign_address(d.name),
                source=d.source,
                campaign=d.name,
                live_id=lc.id,
                fields=(FieldChange("status", lc.status, "paused"),),
                live_window=(lc.start_datetime, lc.end_datetime),
                live_window_known=True,
                sources={"status": d.where("status")},
                kept=kept,
                reason=f"{reason}; {aside_now}",
            )
        )
    return pauses
