"""A manifest's do-not-call entries as `DoNotCall` values, each with its file:line.

An entry without an extension covers every extension of its phone; a
`do_not_call_csv` row with an empty extension does too.
"""

from __future__ import annotations

from collections.abc import Iterable

from upcall_sync.core.model import DesiredNumber, DoNotCall
from upcall_sync.core.normalize import PhoneError, split_phone
from upcall_sync.manifest.yamlload import LocDict, LocList


def listed_phones(data: LocDict, region: str | None) -> list[DoNotCall]:
    """The file's `do_not_call:` entries that read as phones: all of them once the spec
    has validated the list (which reports any other). Of a file whose settings do not
    validate, those that read still count for the stops an apply makes although it
    refuses the manifests (`load_what_validates`); a manifest with a problem is never
    planned."""
    items = data.get("do_not_call")
    if not isinstance(items, LocList):
        return []
    out = []
    for i, written in enumerate(items):
        if not isinstance(written, str):
            continue
        try:
            phone, extension = split_phone(written, region)
        except PhoneError:
            continue
        out.append(DoNotCall(phone, extension or None, items.where(i)))
    return out


def listed_rows(rows: Iterable[DesiredNumber]) -> list[DoNotCall]:
    """The rows of a `do_not_call_csv`."""
    return [DoNotCall(r.contact.phone, r.contact.extension or None, r.source) for r in rows]
