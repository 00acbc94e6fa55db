"""The two states a plan compares: what the manifests want and what the account holds.

Both are plain frozen values, normalized the same way (`upcall_sync.core.normalize`),
so the planner compares them with `==` and never has to know where they came
from. The numerous ones (`Contact`, `DesiredNumber`, the live numbers and
contacts) are NamedTuples or slotted dataclasses: a plan of 100,000 numbers
holds 200,000 of them.

This module is the project's one vocabulary: campaign statuses and fields, and
a contact's fields, are declared here once; the manifest, client and plan
layers import them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from upcall_sync.core.normalize import nfc
from upcall_sync.errors import Location, Problem, shown_name

#: the statuses the API knows, in its reference's order
CampaignStatus = Literal["pending", "ready", "paused", "completed", "archived"]
CAMPAIGN_STATUSES: tuple[CampaignStatus, ...] = (
    "pending",
    "ready",
    "paused",
    "completed",
    "archived",
)
#: the campaign fields a manifest may manage (besides name)
CAMPAIGN_FIELDS = (
    "instructions",
    "pitch",
    "language",
    "status",
    "from_number",
    "start_datetime",
    "end_datetime",
)
TEXT_FIELDS = ("instructions", "pitch", "language")
DATETIME_FIELDS = ("start_datetime", "end_datetime")
#: a contact's own fields, in the order of `Contact` (an address's parts follow)
PERSON_FIELDS = ("phone", "extension", "first_name", "last_name")
TOP_FIELDS = (*PERSON_FIELDS, "title", "company", "email")
ADDRESS_PARTS = ("recipient", "line1", "line2", "city", "region", "postal_code", "country")
DETAIL_FIELDS = ("title", "company", "email", *ADDRESS_PARTS)


def _shown(text: str) -> str:
    """`text` with its control characters as escapes (\\n, \\u001b), for one line of output."""
    return shown_name(text)


class Contact(NamedTuple):
    """A person's details, normalized: E.164 phone, "" for anything absent.

    A NamedTuple, not a dataclass: plans hash and compare hundreds of thousands
    of these, and tuple hashing and equality run in C.
    """

    phone: str
    extension: str = ""
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    company: str = ""
    email: str = ""
    recipient: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    @property
    def line_key(self) -> tuple[str, str]:
        """Phone and extension: how a number is first matched."""
        return self[:2]  # the first two fields, sliced in C

    @property
    def person_key(self) -> tuple[str, str, str, str]:
        """Phone, extension and name: how numbers sharing a line are told apart."""
        return self[:4]  # the first four fields

    @property
    def label(self) -> str:
        """Phone, extension and name on one line: control characters (a line break, a
        terminal escape) are shown escaped, never written raw."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        ext = f" x{self.extension}" if self.extension else ""
        return _shown(f"{self.phone}{ext}" + (f" ({name})" if name else ""))

    def diff(self, other: Contact) -> dict[str, tuple[str, str]]:
        """Field -> (self's value, other's value), for fields that differ."""
        return {
            name: (a, b) for name, a, b in zip(self._fields, self, other, strict=True) if a != b
        }

    def to_dict(self) -> dict[str, str]:
        return {name: value for name, value in zip(self._fields, self, strict=True) if value}

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Contact:
        """The one way to build a Contact from named values: flat fields, and an
        `address` mapping holding the address parts (the API's shape) if present.
        None and absent are "", text loses trailing whitespace and is NFC; the phone is taken as
        given (callers normalize it: the manifest strictly, live values leniently)."""
        address = values.get("address")
        parts: Mapping[str, Any] = address if isinstance(address, Mapping) else values
        return cls._make(
            [_text(values.get(k)) for k in TOP_FIELDS]
            + [_text(parts.get(k)) for k in ADDRESS_PARTS]
        )

    def api_attributes(self) -> dict[str, Any]:
        """What POST /lists/:id/contacts takes for this contact."""
        out: dict[str, Any] = {k: getattr(self, k) or None for k in TOP_FIELDS}
        out["address"] = {k: getattr(self, k) or None for k in ADDRESS_PARTS}
        return out


def _text(value: Any) -> str:
    return nfc(value.rstrip()) if isinstance(value, str) else ""


def id_order(value: str) -> tuple[int, str]:
    """How ids sort: numeric ids in numeric order, then the rest."""
    return (int(value), value) if value.isdigit() else (1 << 62, value)


CONTACT_FIELDS: tuple[str, ...] = Contact._fields
assert (*TOP_FIELDS, *ADDRESS_PARTS) == CONTACT_FIELDS


@dataclass(frozen=True, slots=True)
class DesiredNumber:
    contact: Contact
    source: Location


@dataclass(frozen=True, slots=True)
class DoNotCall:
    """One entry of a do-not-call list: a phone, and an extension or None (every one)."""

    phone: str
    extension: str | None
    source: Location

    @property
    def label(self) -> str:
        return _shown(self.phone + (f" x{self.extension}" if self.extension else ""))


@dataclass(frozen=True)
class DesiredCampaign:
    """A campaign as the manifests want it. Only fields in `fields` are managed."""

    name: str
    source: Location
    id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    field_sources: dict[str, Location] = field(default_factory=dict)
    numbers: tuple[DesiredNumber, ...] = ()

    def where(self, name: str) -> Location:
        return self.field_sources.get(name, self.source)


@dataclass(frozen=True)
class Safety:
    """octoDNS-style limits: more than this share changed is an unsafe plan."""

    max_update_percent: float = 30.0
    max_archive_percent: float = 30.0
    min_existing: int = 10


@dataclass(frozen=True)
class DesiredState:
    campaigns: tuple[DesiredCampaign, ...]
    contact_list: str = "upcall-sync"
    contact_list_source: Location | None = None
    prune_scope: str | None = None
    #: what the API's campaign PATCH does, when known: "merge", "replace" (None: unknown)
    patch: str | None = None
    safety: Safety = field(default_factory=Safety)
    files: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    digest: str = ""
    #: what is valid but likely wrong (a ready campaign with no numbers), file:line each
    warnings: tuple[Problem, ...] = ()
    #: phones never to call: `do_not_call` and `do_not_call_csv` of every file, added up
    do_not_call: tuple[DoNotCall, ...] = ()
    #: update contacts in lists upcall-sync does not own (found by phone and name)
    manage_other_lists: bool = False

    def by_name(self) -> dict[str, DesiredCampaign]:
        return {c.name: c for c in self.campaigns}


@dataclass(frozen=True, slots=True)
class LiveNumber:
    id: str
    contact: Contact
    status: str = ""


@dataclass(frozen=True, slots=True)
class LiveContact:
    id: str
    contact: Contact


@dataclass(frozen=True, slots=True)
class OtherContact:
    """A contact in a list upcall-sync does not own (read only with manage_other_lists)."""

    id: str
    contact: Contact
    list_id: str
    list_name: str


@dataclass(frozen=True)
class LiveCampaign:
    """A campaign as the API returns it, normalized. `from_number` is never returned."""

    id: str
    name: str
    status: str = ""
    instructions: str = ""
    pitch: str = ""
    language: str = ""
    start_datetime: datetime | None = None
    end_datetime: datetime | None = None
    updated_at: datetime | None = None

    def value(self, name: str) -> Any:
        return getattr(self, name)


@dataclass
class Matches:
    """Which live campaign each desired campaign is (None: to be created)."""

    pairs: list[tuple[DesiredCampaign, LiveCampaign | None]] = field(default_factory=list)

    def matched(self) -> list[tuple[DesiredCampaign, LiveCampaign]]:
        return [(d, lc) for d, lc in self.pairs if lc is not None]

    def claimed_ids(self) -> set[str]:
        return {lc.id for _d, lc in self.pairs if lc is not None}


@dataclass
class LiveState:
    """What `live` read: exactly what the plan needs, no more.

    `numbers` holds the numbers of matched campaigns only; `from_numbers` maps
    each desired from_number to the ids of campaigns that have it (the API
    returns from_number only as a filter); `contacts` holds the contacts of the
    managed list read for the phones the plan needed (None: the list does not
    exist yet). `complete_listing` says whether `campaigns` is every campaign
    in the account (needed for --prune). `matches` pairs each campaign the plan
    covers with the live campaign it is, as the reader matched them to know what
    to read (None: state built without a reader; the planner matches then).
    """

    campaigns: list[LiveCampaign] = field(default_factory=list)
    numbers: dict[str, list[LiveNumber]] = field(default_factory=dict)
    from_numbers: dict[str, set[str]] = field(default_factory=dict)
    contact_list_id: str | None = None
    contacts: list[LiveContact] = field(default_factory=list)
    contact_phones_read: set[str] | None = None
    complete_listing: bool = False
    #: contacts of the account's other lists at the phones the plan needed
    #: (read only when the manifests set manage_other_lists)
    other_contacts: list[OtherContact] = field(default_factory=list)
    matches: Matches | None = None
