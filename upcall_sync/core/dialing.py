"""Who a plan will have called: per campaign that is or will be `ready`, the people
newly added to its dial list. Pure, like `plan`; renderers show it, never derive it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from upcall_sync.core.model import Contact, DesiredCampaign, LiveCampaign, LiveNumber


@dataclass(frozen=True)
class DialList:
    """The people a plan puts on one ready campaign's dial list."""

    campaign: str
    live_id: str | None
    status: str
    #: the people added, in plan order
    added: tuple[Contact, ...] = ()
    #: numbers already in the campaign that become dialable (it becomes ready)
    already: int = 0
    #: added person label -> the others at the same phone and extension in this campaign
    same_line: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: of `already`, the people the manifests do not list (added outside upcall-sync):
    #: nobody reviewing the manifests sees them, so the plan names them
    not_in_manifests: tuple[Contact, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "live_id": self.live_id,
            "status": self.status,
            "added": [c.to_dict() for c in self.added],
            "already_in_campaign": self.already,
            "not_in_manifests": [c.to_dict() for c in self.not_in_manifests],
            "same_line": {k: list(v) for k, v in dict(self.same_line).items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DialList:
        return cls(
            campaign=str(data["campaign"]),
            live_id=data.get("live_id"),
            status=str(data.get("status") or ""),
            added=tuple(Contact.of(c) for c in data.get("added") or ()),
            already=int(data.get("already_in_campaign") or 0),
            same_line={
                str(k): tuple(_text(x, "same_line") for x in v)
                for k, v in (data.get("same_line") or {}).items()
            },
            not_in_manifests=tuple(Contact.of(c) for c in data.get("not_in_manifests") or ()),
        )


def dial_list(
    d: DesiredCampaign,
    lc: LiveCampaign | None,
    adds: Sequence[Any],
    live_numbers: Sequence[LiveNumber],
    unlisted: Iterable[Contact] = (),
) -> list[DialList]:
    """The campaign's dial list entry, if it is or will be ready and gains someone;
    `unlisted`: the campaign's live numbers left over by the manifests' (a person they
    list there a second time among them: not named as not in the manifests)."""
    before = lc.status if lc is not None else ""
    status = d.fields.get("status", before if lc is not None else "pending")
    if status != "ready":
        return []
    already = len(live_numbers) if before != "ready" else 0
    if not adds and not already:
        return []
    added = tuple(a.contact for a in adds)
    everyone = [*(n.contact for n in live_numbers), *added]
    count = Counter(c.line_key for c in everyone)
    shared = {c.line_key for c in added if count[c.line_key] > 1}
    same: dict[str, tuple[str, ...]] = {}
    if shared:  # labels only for the few at a shared line
        at_line: dict[tuple[str, str], list[str]] = {}
        for c in everyone:
            if c.line_key in shared:
                at_line.setdefault(c.line_key, []).append(c.label)
        for c in added:
            if c.line_key in shared:
                same[c.label] = tuple(x for x in at_line[c.line_key] if x != c.label)
    outside: tuple[Contact, ...] = ()
    if already and (extra := sorted(unlisted)):
        # one the manifests list is there a second time (x204 and 204), not "not in them"
        listed = {n.contact for n in d.numbers}
        outside = tuple(c for c in extra if c not in listed)
    return [DialList(d.name, lc.id if lc else None, status, added, already, same, outside)]


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"{what}: {type(value).__name__}, not text")
