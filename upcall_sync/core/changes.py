"""What a plan is made of: changes, notices, and the plan value itself.

Changes are small frozen values, one class per kind (octoDNS's Create/Update/
Delete): each has a sort key, a `to_dict()` for JSON, a `from_dict()` for saved
plans, a one-line text form, and its field changes as typed values (datetimes
are datetimes, the unknown live value of the write-only `from_number` is
`UNKNOWN`), so nothing downstream re-parses what a renderer displayed. A Plan
sorts them when built, so every rendering is deterministic, and it owns its
safety (`Plan.raise_if_unsafe`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from upcall_sync.core.dialing import DialList
from upcall_sync.core.model import DATETIME_FIELDS, Contact
from upcall_sync.core.normalize import format_datetime, parse_datetime, quote
from upcall_sync.errors import Location, UnsafePlan


class Unknown:
    """The live value of a write-only field: the API never returns it."""

    _instance: ClassVar[Unknown | None] = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = Unknown()
#: a campaign field's value: text, a UTC datetime, None (cleared) or UNKNOWN (write-only)
Value = str | datetime | None | Unknown


def quoted(name: str) -> str:
    return quote(name)


def campaign_address(name: str) -> str:
    return f"campaign[{quoted(name)}]"


def contact_address(contact: Contact) -> str:
    return f"contact[{quoted(contact.label)}]"


def json_value(value: Value) -> Any:
    """A value as plan JSON shows it: datetimes as UTC text, UNKNOWN as null."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Unknown):
        return None
    return value


def show(value: Any) -> str:
    """A typed value as people read it in plans and explanations: text quoted, UTC
    datetimes, nothing as (empty), the write-only from_number as unknown."""
    if isinstance(value, Unknown):
        return "(unknown: the API never returns it)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, datetime):
        return quoted(format_datetime(value))
    if isinstance(value, str):
        return quoted(value)
    return quote(value)


def _typed(name: str, value: Any) -> Value:
    """A JSON value back as the typed value it was (a saved plan's datetimes)."""
    if name in DATETIME_FIELDS and isinstance(value, str) and value:
        return parse_datetime(value)
    return value if value is None or isinstance(value, str) else str(value)


@dataclass(frozen=True)
class FieldChange:
    """One field of one object: its value now and after the change."""

    name: str
    before: Value
    after: Value


def text_or_none(value: Any, what: str) -> str | None:
    """A saved plan's text field, as written or null: a number or a list there (a
    hand-edited file) is malformed, not an internal error when it is shown."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{what}: {type(value).__name__}, not text")


def _location(text: Any) -> Location | None:
    if not isinstance(text, str) or not text:
        return None
    return Location.parse(text)


SYMBOL = {"create": "+", "add": "+", "update": "~", "archive": "-"}
_KINDS: dict[str, type[Change]] = {}


@dataclass(frozen=True, kw_only=True)
class Change:
    """One write the plan will make. Subclasses are the kinds."""

    kind: ClassVar[str]
    action: ClassVar[str]
    resource_type: ClassVar[str]
    #: where the kind sorts in a plan (and so in every rendering)
    order: ClassVar[int]

    address: str
    source: Location | None = None
    #: the manifest campaign this change belongs to (None: the list and its contacts)
    campaign: str | None = None
    #: the id of the live object changed (for a number: its campaign's id, if it exists)
    live_id: str | None = None
    sources: Mapping[str, Location] = field(default_factory=dict, compare=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    @property
    def symbol(self) -> str:
        return SYMBOL[self.action]

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (self.order, self.campaign or "", self.address)

    def rows(self) -> tuple[FieldChange, ...]:
        """The fields this change writes, typed: (name, before, after)."""
        return ()

    def one_line(self) -> str:
        ident = f" (id {self.live_id})" if self.live_id else ""
        return f"{self.symbol} {self.address}{ident} ({self.action})"

    def to_dict(self) -> dict[str, Any]:
        rows = self.rows()
        before = {r.name: json_value(r.before) for r in rows}
        out: dict[str, Any] = {
            "kind": self.kind,
            "action": self.action,
            "resource_type": self.resource_type,
            "address": self.address,
            "before": before if self.action in ("update", "archive") else None,
            "after": {r.name: json_value(r.after) for r in rows},
            "source": str(self.source) if self.source else None,
            "campaign": self.campaign,
            "live_id": self.live_id,
        }
        unknown = sorted(r.name for r in rows if isinstance(r.before, Unknown))
        if unknown:
            out["unknown_before"] = unknown
        if self.sources:
            out["sources"] = {k: str(v) for k, v in sorted(self.sources.items())}
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Change:
        """A change from its `to_dict()` form (a saved plan)."""
        cls = _KINDS.get(str(data.get("kind")))
        if cls is None:
            raise ValueError(f"unknown change kind {data.get('kind')!r}")
        common: dict[str, Any] = {
            "address": str(data["address"]),
            "source": _location(data.get("source")),
            "campaign": text_or_none(data.get("campaign"), "campaign"),
            "live_id": text_or_none(data.get("live_id"), "live_id"),
            "sources": {
                str(k): loc
                for k, v in (data.get("sources") or {}).items()
                if (loc := _location(v)) is not None
            },
        }
        return cls._load(data, common)

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        return cls(**common)


@dataclass(frozen=True, kw_only=True)
class CreateList(Change):
    kind = "create_list"
    action = "create"
    resource_type = "contact_list"
    order = 0

    name: str

    def rows(self) -> tuple[FieldChange, ...]:
        return (FieldChange("name", None, self.name),)

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        return cls(name=str(data["after"]["name"]), **common)


def _kept_dict(kept: Mapping[str, Value]) -> dict[str, Any]:
    return {k: json_value(v) for k, v in kept.items()}


def _kept_load(data: Mapping[str, Any]) -> dict[str, Value]:
    return {str(k): _typed(str(k), v) for k, v in (data.get("kept") or {}).items()}


@dataclass(frozen=True, kw_only=True)
class _CampaignWrite(Change):
    #: status -> ready waits until the campaign's numbers are in
    ready_after_numbers: bool = False
    #: every other attribute of the campaign, sent along with the change so that a server
    #: whose PATCH replaces the whole campaign loses nothing: managed fields as the
    #: manifests want them, the others as they are live (never shown as changes)
    kept: Mapping[str, Value] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.ready_after_numbers:
            out["ready_after_numbers"] = True
        if self.kept:
            out["kept"] = _kept_dict(self.kept)
        return out

    def written(self) -> dict[str, Value]:
        """Every attribute a PATCH of this change sends: what is kept, then what changes."""
        return {**self.kept, **{r.name: r.after for r in self.rows()}}


@dataclass(frozen=True, kw_only=True)
class CreateCampaign(_CampaignWrite):
    kind = "create_campaign"
    action = "create"
    resource_type = "campaign"
    order = 1

    #: name first, then every managed field, typed
    values: Mapping[str, Value] = field(default_factory=dict)

    def rows(self) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(k, None, v) for k, v in self.values.items())

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        values = {str(k): _typed(str(k), v) for k, v in (data.get("after") or {}).items()}
        return cls(
            values=values, ready_after_numbers=bool(data.get("ready_after_numbers")), **common
        )


@dataclass(frozen=True, kw_only=True)
class UpdateCampaign(_CampaignWrite):
    kind = "update_campaign"
    action = "update"
    resource_type = "campaign"
    order = 2

    fields: tuple[FieldChange, ...] = ()
    #: why the plan sets the status itself (a do-not-call pause), shown on the plan line
    reason: str = ""
    #: the live (start_datetime, end_datetime) before the change, for the timeline (not
    #: saved in plan files: a loaded plan knows only the rows it changes)
    live_window: tuple[datetime | None, datetime | None] = field(
        default=(None, None), compare=False
    )
    #: whether live_window was read (a fresh plan), so a date missing from it is
    #: "no start", not "unchanged" (a loaded plan, which never read it)
    live_window_known: bool = field(default=False, compare=False)

    def rows(self) -> tuple[FieldChange, ...]:
        return self.fields

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.reason:
            out["reason"] = self.reason
        return out

    def values_before(self) -> dict[str, Value]:
        """The changed fields' live values, status aside: what a pause sent alone carries
        back (none where unknown: the write-only from_number)."""
        return {
            r.name: r.before
            for r in self.fields
            if r.name != "status" and r.before is not None and not isinstance(r.before, Unknown)
        }

    @property
    def finishes_create(self) -> bool:
        """Only `status` moves, from `pending`: the tail of upcall-sync's own create ->
        fill -> ready sequence (an interrupted apply), not a content edit."""
        return (
            len(self.fields) == 1
            and self.fields[0].name == "status"
            and (self.fields[0].before == "pending")
        )

    def one_line(self) -> str:
        ident = f" (id {self.live_id})" if self.live_id else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"~ {self.address}{ident}: {', '.join(sorted(r.name for r in self.fields))}{why}"

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        before = data.get("before") or {}
        unknown = set(data.get("unknown_before") or ()) | {"from_number"}
        rows = tuple(
            FieldChange(
                str(k),
                UNKNOWN if k in unknown else _typed(str(k), before.get(k)),
                _typed(str(k), v),
            )
            for k, v in (data.get("after") or {}).items()
        )
        return cls(
            fields=rows,
            ready_after_numbers=bool(data.get("ready_after_numbers")),
            kept=_kept_load(data),
            reason=str(data.get("reason") or ""),
            **common,
        )


@dataclass(frozen=True, kw_only=True)
class ArchiveCampaign(Change):
    kind = "archive_campaign"
    action = "archive"
    resource_type = "campaign"
    order = 6

    status_before: str = ""
    #: the campaign's other attributes as they are live, sent with `status: archived`
    #: (a PATCH that replaces the campaign would clear them)
    kept: Mapping[str, Value] = field(default_factory=dict)

    def rows(self) -> tuple[FieldChange, ...]:
        return (FieldChange("status", self.status_before, "archived"),)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.kept:
            out["kept"] = _kept_dict(self.kept)
        return out

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        status = str((data.get("before") or {}).get("status") or "")
        return cls(status_before=status, kept=_kept_load(data), **common)


@dataclass(frozen=True, kw_only=True)
class _PersonChange(Change):
    """A change about one person: `contact` holds their desired details."""

    contact: Contact

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["contact"] = self.contact.to_dict()
        return out

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        return cls(contact=Contact.of(data["contact"]), **common)


@dataclass(frozen=True, kw_only=True)
class CreateContact(_PersonChange):
    kind = "create_contact"
    action = "create"
    resource_type = "list_contact"
    order = 3

    def rows(self) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(k, None, v) for k, v in self.contact.to_dict().items())


@dataclass(frozen=True, kw_only=True)
class UpdateContact(_PersonChange):
    kind = "update_contact"
    action = "update"
    resource_type = "list_contact"
    order = 4

    #: the live contact's details now
    current: Contact
    #: the campaigns whose numbers show this contact now (the edit reaches them)
    touches: tuple[str, ...] = ()
    #: a list upcall-sync does not own (manage_other_lists): its id and name
    list_id: str | None = None
    list_name: str = ""

    def rows(self) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(k, a, b) for k, (a, b) in self.current.diff(self.contact).items())

    @property
    def renames(self) -> bool:
        """The person's name changes: a rename (or a recycled phone), before -> after."""
        return self.current.person_key != self.contact.person_key

    def one_line(self) -> str:
        what = ", ".join(r.name for r in self.rows())
        if self.renames:
            what = f"rename {self.current.label} -> {self.contact.label}; {what}"
        return f"~ {self.address} (id {self.live_id}): {what}"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["current"] = self.current.to_dict()
        if self.renames:
            out["rename"] = {"before": self.current.label, "after": self.contact.label}
        if self.touches:
            out["touches"] = list(self.touches)
        if self.list_id is not None:
            out["list"] = {"id": self.list_id, "name": self.list_name}
        return out

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        contact = Contact.of(data["contact"])
        if isinstance(data.get("current"), Mapping):
            current = Contact.of(data["current"])
        else:  # older plan files: the current details are the wanted ones but the changed
            changed = {k: v or "" for k, v in (data.get("before") or {}).items()}
            current = contact._replace(**changed)
        touches = tuple(str(t) for t in data.get("touches") or ())
        raw = data.get("list")
        other: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        return cls(
            contact=contact,
            current=current,
            touches=touches,
            list_id=str(other["id"]) if other.get("id") is not None else None,
            list_name=str(other.get("name") or ""),
            **common,
        )


@dataclass(frozen=True, kw_only=True)
class AddNumber(_PersonChange):
    kind = "add_number"
    action = "add"
    resource_type = "campaign_number"
    order = 5

    #: the live list contact the number is made from (None: this plan creates it)
    contact_id: str | None = None

    def rows(self) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(k, None, v) for k, v in self.contact.to_dict().items())

    def one_line(self) -> str:
        return f"+ {self.address}"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.contact_id is not None:
            out["contact_id"] = self.contact_id
        return out

    @classmethod
    def _load(cls, data: Mapping[str, Any], common: dict[str, Any]) -> Change:
        contact_id = data.get("contact_id")
        return cls(
            contact=Contact.of(data["contact"]),
            contact_id=str(contact_id) if contact_id is not None else None,
            **common,
        )


CONTACT_CHANGES = (CreateContact, UpdateContact)
KINDS: tuple[str, ...] = tuple(sorted(_KINDS, key=lambda k: _KINDS[k].order))

NoticeKind = Literal[
    "unmanaged_numbers",
    "unchangeable_numbers",
    "unapplied_rename",
    "held_paused",
    "prune_candidate",
    "renamed",
    "warning",
]


@dataclass(frozen=True)
class Notice:
    """Something a plan wants the reader to know that is not a change."""

    kind: NoticeKind
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
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
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
    #: people whose numbers differ from the manifests in ways the API cannot change
    unapplied_differences: int = 0
    #: per campaign that is or will be ready: who the plan adds to its dial list
    dialing: tuple[DialList, ...] = ()

    @classmethod
    def build(
        cls,
        changes: list[Change],
        notices: list[Notice],
        unsafe: list[str] | None = None,
        *,
        contact_list: str = "upcall-sync",
        contact_list_id: str | None = None,
        unapplied_differences: int = 0,
        dialing: list[DialList] | None = None,
    ) -> Plan:
        return cls(
            tuple(sorted(changes, key=lambda c: c.sort_key)),
            tuple(sorted(notices, key=lambda n: (n.kind, n.campaign or "", n.address))),
            tuple(unsafe or ()),
            contact_list,
            contact_list_id,
            unapplied_differences,
            tuple(sorted(dialing or (), key=lambda x: (x.campaign, x.live_id or ""))),
        )

    @property
    def empty(self) -> bool:
        return not self.changes

    def raise_if_unsafe(self) -> None:
        """octoDNS's Plan.raise_if_unsafe: refuse a plan over the safety thresholds."""
        if self.unsafe:
            more = f" (and {len(self.unsafe) - 1} more)" if len(self.unsafe) > 1 else ""
            raise UnsafePlan(f"unsafe plan: {self.unsafe[0]}{more}")

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
        if self.empty and self.unapplied_differences:
            k = self.unapplied_differences
            differ = f"{k:,} number differs" if k == 1 else f"{k:,} numbers differ"
            return f"No changes that the API can make; {differ} (see notices)"
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

    def by_campaign(self) -> dict[tuple[str, str] | None, list[Change]]:
        """Changes grouped by the campaign they belong to, as (name, live id or ""): live
        names may repeat where manifests pin ids. None: the list and its contacts."""
        groups: dict[tuple[str, str] | None, list[Change]] = {}
        for change in self.changes:
            key = (change.campaign, change.live_id or "") if change.campaign else None
            groups.setdefault(key, []).append(change)
        return groups


def _s(n: int) -> str:
    return "" if n == 1 else "s"
