"""The client's fast rows: campaign numbers and list contacts as the API sent them.

A plan reads hundreds of thousands of these, so they are NamedTuples (built
positionally, no per-row dict, no validation object) rather than pydantic
models. Their `values` are the 14 contact fields in `CONTACT_KEYS` order (phone,
extension, first_name, last_name, title, company, email, then the address's
recipient, line1, line2, city, region, postal_code, country), each the text the
API sent, "" for null: nothing normalized. The state layer (`upcall_sync.state.rows`)
turns them into what a plan compares.

A page of them is decoded straight from the body (`decode_rows`): msgspec parses the
JSON into typed structs, so the shape and "text or null" checks of every value run
in C, and each row comes out of a few tuple operations. Whenever that decoder is
not sure to agree with the careful path (`resources.contact_row` over the decoded
JSON), it answers None and the page takes the careful path, which then reports a
malformed row with the same one-line error naming the field as always.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from upcall_sync.core.model import ADDRESS_PARTS, TOP_FIELDS

#: the order of a row's `values`: the API's contact attributes, then its address
CONTACT_KEYS: tuple[str, ...] = (*TOP_FIELDS, *ADDRESS_PARTS)


class NumberRow(NamedTuple):
    """One `campaign_numbers` resource: id, status ("" when absent), contact values."""

    id: str
    status: str
    values: tuple[str, ...]


class ContactRow(NamedTuple):
    """One `list_contacts` resource: id and contact values."""

    id: str
    values: tuple[str, ...]


class DecodedPage(NamedTuple):
    """A listing page decoded straight into rows: the rows, the resources' ids as sent
    (what a listing de-duplicates on) and the document's `links` (any JSON value)."""

    rows: list[Any]
    ids: list[Any]
    links: Any


# The API's resource, typed: every contact attribute text or null (absent: null), the
# address an object or null, `status` anything (a row's status is "" unless it is
# text), the id text or an integer. Unknown members are skipped, as before. Decoded
# JSON holds no reference cycles, so the structs are not tracked by the cyclic
# garbage collector (decoding a page does not wake it).
class _Address(msgspec.Struct, gc=False):
    recipient: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class _Attributes(msgspec.Struct, gc=False):
    phone: str | None = None
    extension: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    email: str | None = None
    address: _Address | None = None
    status: Any = None


class _Resource(msgspec.Struct, gc=False):
    id: str | int
    type: str
    attributes: _Attributes


class _Document(msgspec.Struct, gc=False):
    data: list[_Resource]
    links: Any = None


# the rows' values come out of the structs in field order: it must be CONTACT_KEYS'
assert _Address.__struct_fields__ == ADDRESS_PARTS
assert _Attributes.__struct_fields__ == (*TOP_FIELDS, "address", "status")

_decode_document = msgspec.json.Decoder(_Document).decode
_astuple = msgspec.structs.astuple
_TOP = len(TOP_FIELDS)
_NO_ADDRESS = ("",) * len(ADDRESS_PARTS)
#: the integers orjson (the careful path's decoder) reads as integers; beyond, floats
_INT_RANGE = range(-(2**63), 2**64)
#: RecursionError: msgspec's nesting limit is below orjson's (a member nobody reads, nested
#: a thousand deep, is orjson's to accept or refuse)
_DECODE_ERRORS = (
    msgspec.DecodeError,
    msgspec.ValidationError,
    UnicodeDecodeError,
    RecursionError,
)
#: A number a double cannot hold (a 3-digit exponent, or 309+ digits): msgspec skips it
#: in a member nobody reads, where orjson refuses the whole body; such a page (or one
#: whose text merely looks so) is left to the careful path. One C-level translate
#: (digits and "." to "0", "e"/"E" to "e", signs deleted, the rest to " ") and two
#: substring searches: about 37 µs for a 30 kB page, where a regex took 870. Deleting
#: the signs turns `1e+300` and `1e-300` into the `1e300` shape, so one search finds all
#: three; it can only join characters, so it adds look-alikes, never hides a number.
_SHAPE = bytes(
    ord("0") if chr(c) in "0123456789." else ord("e") if chr(c) in "eE" else ord(" ")
    for c in range(256)
)
_SIGNS = b"+-"
_MANY_DIGITS = b"0" * 309


def _maybe_huge(raw: bytes) -> bool:
    shape = raw.translate(_SHAPE, _SIGNS)
    return b"0e000" in shape or _MANY_DIGITS in shape


def decode_rows(
    raw: bytes, types: tuple[str, ...], make: Callable[[str, str, tuple[str, ...]], Any]
) -> DecodedPage | None:
    """A listing page of contact resources (`types`) as rows `make(id, status, values)`;
    None when the careful path must decide (a malformed row, or JSON that orjson and
    msgspec might read differently)."""
    # orjson refuses invalid UTF-8 anywhere in a body; msgspec only where it reads.
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError:
            return None
    if _maybe_huge(raw):
        return None
    try:
        doc = _decode_document(raw)
    except _DECODE_ERRORS:
        return None
    rows: list[Any] = []
    ids: list[Any] = []
    astuple = _astuple
    for res in doc.data:
        rid = res.id
        if res.type not in types or (rid.__class__ is int and rid not in _INT_RANGE):
            return None
        attrs = res.attributes
        address = attrs.address
        values = astuple(attrs)[:_TOP] + (_NO_ADDRESS if address is None else astuple(address))
        if None in values:
            values = tuple(["" if v is None else v for v in values])
        if not values[0].strip():
            return None  # no phone: the careful path names it
        status = attrs.status
        rows.append(make(str(rid), status if status.__class__ is str else "", values))
        ids.append(rid)
    return DecodedPage(rows, ids, doc.links)


def contact_row_of(rid: str, _status: str, values: tuple[str, ...]) -> ContactRow:
    return ContactRow(rid, values)


__all__ = ["CONTACT_KEYS", "ContactRow", "DecodedPage", "NumberRow", "decode_rows"]
