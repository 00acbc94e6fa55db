"""The client's fast rows: campaign numbers and list contacts as the API sent them.

A plan reads hundreds of thousands of these, so they are NamedTuples (built
positionally, no per-row dict, no validation object) rather than pydantic
models; a faster JSON decoder may build them straight from a page. Their
`values` are the 14 contact fields in `CONTACT_KEYS` order (phone, extension,
first_name, last_name, title, company, email, then the address's recipient,
line1, line2, city, region, postal_code, country), each the text the API sent,
"" for null: nothing normalized. The state layer (`upcall_sync.state.rows`) turns
them into what a plan compares.
"""

from __future__ import annotations

from typing import NamedTuple

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


__all__ = ["CONTACT_KEYS", "ContactRow", "NumberRow"]
