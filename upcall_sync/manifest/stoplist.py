"""A manifest's do-not-call entries as `DoNotCall` values, each with its file:line.

An entry without an extension covers every extension of its phone; a
`do_not_call_csv` row with an empty extension does too.
"""

from __future__ import annotations

from collections.abc import Iterable

from upcall_sync.core.model import DesiredNumber, DoNotCall
from upcall_sync.core.normalize import PhoneError, split_phone
from upcall_sync.manifest.spec import ManifestSpec
from upcall_sync.manifest.yamlload import LocDict, LocList


def listed_phones(spec: ManifestSpec, data: LocDict, region: str | None) -> list[DoNotCall]:
    """The file's `do_not_call:` entries (already checked by the spec)."""
    if not spec.do_not_call:
        return []
    items = data.get("do_not_call")
    out = []
    for i, written in enumerate(spec.do_not_call):
        phone, extension = split_phone(written, region)
        where = items.where(i) if isinstance(items, LocList) else data.where("do_not_call")
        out.append(DoNotCall(phone, extension or None, where))
    return out


def readable_phones(data: LocDict, region: str | None) -> list[DoNotCall]:
    """The `do_not_call:` entries that read as phones, of a file whose settings do not
    validate (the list, or another setting, holds a mistake): each entry that does
    still counts for the stops an apply makes although it refuses the manifests
    (`load_what_validates`); a manifest with a problem is never planned."""
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
