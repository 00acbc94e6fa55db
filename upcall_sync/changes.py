"""What a plan is made of: changes, notices, and the plan value itself.

Changes are small frozen values (octoDNS's Create/Update/Delete): each has a
sort key, a `to_dict()` for JSON and a one-line text form. A Plan sorts them
when built, so every rendering is deterministic.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from upcall_sync.errors import Location
from upcall_sync.model import Contact

ChangeKind = Literal[
    "create_list",
    "create_campaign",
    "update_campaign",
    "create_contact",
    "update_contact",
    "add_number",
    "archive_campaign",
]
KINDS: tuple[ChangeKind, ...] = (
    "create_list",
    "create_campaign",
    "update_campaign",
    "create_contact",
    "update_contact",
    "add_number",
    "archive_campaign",
)
_ACTION = {
    "create_list": "create",
    "create_campaign": "create",
    "update_campaign": "update",
    "create_contact": "create",
    "update_contact": "update",
    "add_number": "add",
    "archive_campaign": "archive",
}
_RESOURCE = {
    "create_list": "contact_list",
    "create_campaign": "campaign",
    "update_campaign": "campaign",
    "create_contact": "list_contact",
    "update_contact": "list_contact",
    "add_number": "campaign_number",
    "archive_campaign": "campaign",
}
SYMBOL = {"create": "+", "add": "+", "update": "~", "archive": "-"}


def quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def campaign_address(name: str) -> str:
    return f"campaign[{quoted(name)}]"


def contact_address(contact: Contact) -> str:
    return f"contact[{quoted(contact.label)}]"


@dataclass(frozen=True)
class Change:
    """One write the plan will make.

    `before`/`after` hold only what changes (an update) or everything written
    (a create). `campaign` names the campaign a change belongs to; `live_id` is
    the id of the object changed; `contact` is the person a contact or number
    change is about, and `contact_id` the live contact a number is made from
    (None when that contact is created by this plan).
    """

    kind: ChangeKind
    address: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    source: Location | None = None
    campaign: str | None = None
    live_id: str | None = None
    contact: Contact | None = None
    contact_id: str | None = None
    #: a status -> ready that waits until the campaign's numbers are in
    ready_after_numbers: bool = False
    sources: dict[str, Location] = field(default_factory=dict, compare=False)

    @property
    def action(self) -> str:
        return _ACTION[self.kind]

    @property
    def resource_type(self) -> str:
        return _RESOURCE[self.kind]

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (KINDS.index(self.kind), self.campaign or "", self.address)

    def one_line(self) -> str:
        symbol = SYMBOL[self.action]
        ident = f" (id {self.live_id})" if self.live_id else ""
        if self.kind in ("update_campaign", "update_contact"):
            fields = ", ".join(sorted((self.after or {}).keys()))
            return f"{symbol} {self.address}{ident}: {fields}"
        if self.kind == "add_number":
            return f"{symbol} {self.address}"
        return f"{symbol} {self.address}{ident} ({self.action})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "action": self.action,
            "resource_type": self.resource_type,
            "address": self.address,
            "before": self.before,
            "after": self.after,
            "source": str(self.source) if self.source else None,
            "campaign": self.campaign,
            "live_id": self.live_id,
        }
        if self.contact is not None:
            out["contact"] = self.contact.to_dict()
        if self.contact_id is not None:
            out["contact_id"] = self.contact_id
        if self.ready_after_numbers:
            out["ready_after_numbers"] = True
        if self.sources:
            out["sources"] = {k: str(v) for k, v in sorted(self.sources.items())}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        kind = data["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown change kind {kind!r}")
        contact = Contact(**data["contact"]) if data.get("contact") is not None else None
        source = _location(data.get("source"))
        return cls(
            kind=kind,
            address=str(data["address"]),
            before=data.get("before"),
            after=data.get("after"),
            source=source,
            campaign=data.get("campaign"),
            live_id=data.get("live_id"),
            contact=contact,
            contact_id=data.get("contact_id"),
            ready_after_numbers=bool(data.get("ready_after_numbers", False)),
            sources={
                str(k): loc
                for k, v in (data.get("sources") or {}).items()
                if (loc := _location(v)) is not None
            },
        )


def _location(text: Any) -> Location | None:
    if not isinstance(text, str) or not text:
        return None
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return Location(parts[0], int(parts[1]), int(parts[2]))
    parts = text.rsplit(":", 1)
    if len(parts) == 2 and parts[1].isdigit():
        return Location(parts[0], int(parts[1]))
    return Location(text)


@dataclass(frozen=True)
class Notice:
    """Something a plan wants the reader to know that is not a change."""

    kind: Literal["unmanaged_numbers", "prune_candidate"]
    address: str
    message: str
    campaign: str | None = None
    items: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.address,
            "message": self.message,
            "campaign": self.campaign,
            "items": list(self.items),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notice:
        return cls(
            kind=data["kind"],
            address=data["address"],
            message=data["message"],
            campaign=data.get("campaign"),
            items=tuple(data.get("items", ())),
        )


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    notices: tuple[Notice, ...] = ()
    unsafe: tuple[str, ...] = ()
    #: the managed contact list: its name, and its live id (None: the plan creates it)
    contact_list: str = "upcall-sync"
    contact_list_id: str | None = None

    @classmethod
    def build(
        cls,
        changes: list[Change],
        notices: list[Notice],
        unsafe: list[str] | None = None,
        *,
        contact_list: str = "upcall-sync",
        contact_list_id: str | None = None,
    ) -> Plan:
        return cls(
            tuple(sorted(changes, key=lambda c: c.sort_key)),
            tuple(sorted(notices, key=lambda n: (n.kind, n.campaign or "", n.address))),
            tuple(unsafe or ()),
            contact_list,
            contact_list_id,
        )

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> Counter[str]:
        return Counter(c.kind for c in self.changes)

    def summary(self) -> dict[str, dict[str, int]]:
        n = self.counts()
        return {
            "campaigns": {
                "create": n["create_campaign"],
                "update": n["update_campaign"],
                "archive": n["archive_campaign"],
            },
            "numbers": {"add": n["add_number"]},
            "contacts": {"create": n["create_contact"], "update": n["update_contact"]},
            "contact_lists": {"create": n["create_list"]},
        }

    def summary_line(self) -> str:
        if self.empty:
            return "No changes. Live state matches the manifests."
        n = self.counts()
        return (
            f"Plan: {n['create_campaign']:,} campaign{_s(n['create_campaign'])} to create, "
            f"{n['update_campaign']:,} to update, {n['archive_campaign']:,} to archive; "
            f"{n['add_number']:,} number{_s(n['add_number'])} to add, "
            f"{n['create_contact']:,} contact{_s(n['create_contact'])} to create, "
            f"{n['update_contact']:,} to update."
        )

    def by_campaign(self) -> dict[str | None, list[Change]]:
        """Changes grouped by the campaign they belong to (None: the list and its contacts)."""
        groups: dict[str | None, list[Change]] = {}
        for change in self.changes:
            groups.setdefault(change.campaign, []).append(change)
        return groups


def _s(n: int) -> str:
    return "" if n == 1 else "s"
