"""Notices that help a reader without changing the plan. Pure, like `plan`.

- **warning**: what the manifests hold that is valid but likely wrong
  (`DesiredState.warnings`, e.g. a ready campaign given no numbers), for the
  campaigns planned; dropped when the live campaign has numbers after all.
- **renamed**: a manifest campaign (no `id:`) that no live campaign is named
  like, while exactly one live campaign that no manifest names has the same
  details (pitch, instructions, language, start and end): it looks renamed, in
  the manifest (a typo fixed) or in Upcall, and the plan would create a second
  one, both calling the same people. This needs every campaign of
  the account, so it is given only when the plan read the complete listing;
  it never costs a request of its own.
- **warning** (past window): a campaign the plan creates, or that is `ready`
  after it, whose `end_datetime` has passed (at the caller's `now`): it can
  never dial. Named at the manifest's `end_datetime` line (or `status`, or the
  campaign, when the end is the live one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any

from upcall_sync.core.changes import (
    Change,
    CreateCampaign,
    Notice,
    UpdateCampaign,
    campaign_address,
    quoted,
)
from upcall_sync.core.matching import Matches
from upcall_sync.core.model import (
    DATETIME_FIELDS,
    DesiredCampaign,
    DesiredState,
    LiveCampaign,
    LiveState,
)
from upcall_sync.core.normalize import format_datetime, name_key, text, utc_second

#: the details compared to tell a renamed campaign (status and from_number are not:
#: status moves on its own, and from_number is never returned)
DETAILS = ("pitch", "instructions", "language", "start_datetime", "end_datetime")
#: at least one of these must be set: a language alone matches too much
DISTINCTIVE = ("pitch", "instructions", "start_datetime", "end_datetime")


def hint_notices(
    desired: DesiredState,
    live: LiveState,
    campaigns: Sequence[DesiredCampaign],
    matches: Matches,
) -> list[Notice]:
    return [
        *warning_notices(desired, live, campaigns, matches),
        *rename_notices(desired, live, matches),
    ]


def warning_notices(
    desired: DesiredState,
    live: LiveState,
    campaigns: Sequence[DesiredCampaign],
    matches: Matches,
) -> list[Notice]:
    """The manifests' warnings about the planned campaigns (or about no campaign)."""
    if not desired.warnings:
        return []
    owner = _campaign_at(desired)
    planned = {d.name for d in campaigns}
    dialable = {d.name for d, lc in matches.matched() if live.numbers.get(lc.id)}
    notices: list[Notice] = []
    for warning in desired.warnings:
        name = owner.get(warning.location)
        if name is not None and (name not in planned or name in dialable):
            continue
        where = warning.location
        notices.append(
            Notice(
                kind="warning",
                address=campaign_address(name) if name else str(where),
                message=f"{where}: warning: {warning.path}: {warning.message}"
                if warning.path
                else str(warning),
                campaign=name,
            )
        )
    return notices


def _campaign_at(desired: DesiredState) -> dict[Hashable, str]:
    """The campaign each manifest location belongs to (a shared one, like a
    `defaults:` line, belongs to none)."""
    names: dict[Hashable, set[str]] = defaultdict(set)
    for d in desired.campaigns:
        names[d.source].add(d.name)
        for loc in d.field_sources.values():
            names[loc].add(d.name)
    return {loc: next(iter(n)) for loc, n in names.items() if len(n) == 1}


def rename_notices(desired: DesiredState, live: LiveState, matches: Matches) -> list[Notice]:
    """New campaigns that look like a live campaign renamed out of band."""
    if not live.complete_listing:
        return []
    names = {name_key(d.name) for d in desired.campaigns}
    pinned = {d.id for d in desired.campaigns if d.id is not None}
    unclaimed = [
        lc
        for lc in live.campaigns
        if name_key(lc.name) not in names and lc.id not in pinned and lc.status != "archived"
    ]
    new = [d for d, lc in matches.pairs if lc is None and d.id is None]
    if not unclaimed or not new:
        return []
    by_fields: dict[tuple[str, ...], list[DesiredCampaign]] = defaultdict(list)
    for d in new:
        fields = tuple(f for f in DETAILS if f in d.fields)
        if any(d.fields.get(f) for f in DISTINCTIVE if f in fields):
            by_fields[fields].append(d)
    looks_like: dict[str, tuple[DesiredCampaign, LiveCampaign]] = {}
    for fields, group in by_fields.items():
        index: dict[tuple[Any, ...], list[LiveCampaign]] = defaultdict(list)
        for lc in unclaimed:
            index[tuple(_same(f, lc.value(f)) for f in fields)].append(lc)
        for d in group:
            found = index.get(tuple(_same(f, d.fields.get(f)) for f in fields), [])
            if len(found) == 1:
                looks_like[d.name] = (d, found[0])
    taken = Counter(lc.id for _d, lc in looks_like.values())
    return [
        _renamed(d, lc)
        for d, lc in sorted(looks_like.values(), key=lambda p: p[0].name)
        if taken[lc.id] == 1  # two new campaigns look like one live one: no guess
    ]


def _same(name: str, value: Any) -> Any:
    """A detail as compared: text without trailing whitespace, datetimes in UTC."""
    if name in DATETIME_FIELDS:
        return utc_second(value) if isinstance(value, datetime) else None
    return text(value if isinstance(value, str) else None)


def _renamed(d: DesiredCampaign, lc: LiveCampaign) -> Notice:
    return Notice(
        kind="renamed",
        address=campaign_address(d.name),
        campaign=d.name,
        message=(
            f"campaign {quoted(d.name)} looks renamed from or to {quoted(lc.name)} (id {lc.id}), "
            f"in the manifest or in Upcall: no live campaign is named {quoted(d.name)}, and "
            f"{quoted(lc.name)} has its details but no manifest names it; pin "
            f'`id: "{lc.id}"` to rename it in place (as is, the plan creates a second campaign, '
            f"and {quoted(lc.name)} keeps calling its people)"
        ),
    )


def past_window_notices(changes: Sequence[Change], live: LiveState, now: datetime) -> list[Notice]:
    """Campaigns created, or ready after the plan, whose end_datetime is before `now`."""
    by_id = {lc.id: lc for lc in live.campaigns}
    notices: list[Notice] = []
    for change in changes:
        if isinstance(change, CreateCampaign):
            end, status = change.values.get("end_datetime"), change.values.get("status")
            verb = "creates"
        elif isinstance(change, UpdateCampaign):
            rows = {r.name: r.after for r in change.fields}
            if "status" not in rows and "end_datetime" not in rows:
                continue  # the plan neither makes it ready nor moves its end
            lc = by_id.get(change.live_id or "")
            end = rows["end_datetime"] if "end_datetime" in rows else change.live_window[1]
            status = rows.get("status", lc.status if lc else None)
            if status != "ready":
                continue
            verb = "sets ready" if "status" in rows else "moves the end of ready"
        else:
            continue
        if not isinstance(end, datetime) or end >= now:
            continue
        name = change.campaign or ""
        field_ = "end_datetime" if "end_datetime" in change.sources else "status"
        where = change.sources.get(field_) or change.source
        live_end = "" if field_ == "end_datetime" else " (its live end)"
        notices.append(
            Notice(
                kind="warning",
                address=campaign_address(name),
                campaign=name,
                message=(
                    f"{where}: warning: {field_}: the plan {verb} campaign {quoted(name)}, "
                    f"whose window ended {format_datetime(end)}{live_end}: it can never dial; "
                    "move its end_datetime into the future"
                ),
            )
        )
    return notices
