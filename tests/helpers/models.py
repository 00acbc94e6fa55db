"""Plain model values for the pure core's tests: desired and live states by hand."""

from __future__ import annotations

from typing import Any

from upcall_sync.core.model import (
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    LiveCampaign,
    LiveContact,
    LiveNumber,
    LiveState,
)
from upcall_sync.errors import Location

HERE = Location("m.yaml", 1, 1)


def desired(*campaigns: DesiredCampaign, **kw: Any) -> DesiredState:
    return DesiredState(campaigns=tuple(campaigns), files=("m.yaml",), **kw)


def camp(name: str, *numbers: Contact, id: str | None = None, **fields: Any) -> DesiredCampaign:
    return DesiredCampaign(
        name=name,
        source=HERE,
        id=id,
        fields=fields,
        numbers=tuple(
            DesiredNumber(c, Location("m.yaml", 10 + i, 9)) for i, c in enumerate(numbers)
        ),
    )


def live(
    *campaigns: LiveCampaign,
    numbers: dict[str, list[Contact]] | None = None,
    contacts: list[tuple[str, Contact]] | None = None,
    list_id: str | None = "1",
    from_numbers: dict[str, set[str]] | None = None,
    complete: bool = True,
) -> LiveState:
    return LiveState(
        campaigns=list(campaigns),
        numbers={
            cid: [LiveNumber(f"{cid}-{i}", c) for i, c in enumerate(cs)]
            for cid, cs in (numbers or {}).items()
        },
        contacts=[LiveContact(cid, c) for cid, c in (contacts or [])],
        contact_list_id=list_id,
        contact_phones_read=None,
        from_numbers=from_numbers or {},
        complete_listing=complete,
    )
