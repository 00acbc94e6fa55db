"""The contact-list endpoints. **Inferred**: the published reference stops before them.

CONTRACT.md's "Contact lists (inferred)" section is all we know; every guess
about these endpoints lives in this module, so it can be corrected in one place
when the missing reference section turns up.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from upcall_sync.client.listings import Listing
from upcall_sync.client.models import ContactAttributes, ContactList, ListContact
from upcall_sync.client.pager import Page
from upcall_sync.client.resources import (
    contact_row,
    document,
    parse_resource,
    parse_single,
)
from upcall_sync.client.rows import ContactRow, DecodedPage, contact_row_of, decode_rows
from upcall_sync.client.transport import Transport
from upcall_sync.core.model import CONTACT_FIELDS

LIST_TYPES = ("lists",)
CONTACT_TYPES = ("list_contacts",)


class ContactListsApi:
    """`/lists` and `/lists/:id/contacts`."""

    transport: Transport

    def list_lists(self, *, name: str | None = None) -> list[ContactList]:
        path = "/lists"
        return [
            parse_resource(item, ContactList, LIST_TYPES, method="GET", url=path)
            for page in self.transport.pages(path, {"name": name})
            for item in page.items
        ]

    def create_list(self, name: str) -> ContactList:
        resp = self.transport.request("POST", "/lists", body=document("lists", {"name": name}))
        return parse_single(resp.document, ContactList, LIST_TYPES, method="POST", url="/lists")

    def contacts_listing(self, list_id: str, **filters: str | None) -> Listing[ListContact]:
        """`GET /lists/:id/contacts` (filters as for campaign numbers)."""
        return Listing.of(
            f"/lists/{list_id}/contacts", ListContact, CONTACT_TYPES, _filters(filters)
        )

    def contact_rows(self, list_id: str, **filters: str | None) -> Listing[ContactRow]:
        """`contacts_listing` read into fast rows, no model per row (the hot path)."""
        return Listing(
            f"/lists/{list_id}/contacts",
            CONTACT_TYPES,
            list_contact_row,
            _filters(filters),
            decode=_decode_contact_page,
        )

    def contact_pages(
        self, list_id: str, **filters: str | None
    ) -> Generator[tuple[Page, list[ListContact]]]:
        listing = self.contacts_listing(list_id, **filters)
        for page in self.transport.pages(listing.path, listing.params):
            yield page, listing.parse(page.items)

    def list_contacts(self, list_id: str, **filters: str | None) -> list[ListContact]:
        return [c for _page, items in self.contact_pages(list_id, **filters) for c in items]

    def create_contact(self, list_id: str, attributes: ContactAttributes) -> ListContact:
        path = f"/lists/{list_id}/contacts"
        body = document("list_contacts", attributes.model_dump(exclude_unset=True))
        resp = self.transport.request("POST", path, body=body)
        return parse_single(resp.document, ListContact, CONTACT_TYPES, method="POST", url=path)

    def update_contact(
        self, list_id: str, contact_id: str, attributes: ContactAttributes
    ) -> ListContact:
        path = f"/lists/{list_id}/contacts/{contact_id}"
        body = document("list_contacts", attributes.model_dump(exclude_unset=True), contact_id)
        resp = self.transport.request("PATCH", path, body=body)
        return parse_single(resp.document, ListContact, CONTACT_TYPES, method="PATCH", url=path)


def list_contact_row(item: Any) -> ContactRow:
    """A `list_contacts` resource as a fast row."""
    rid, _status, values = contact_row(item, CONTACT_TYPES, method="GET", url="/lists/:id/contacts")
    return ContactRow(rid, values)


def _decode_contact_page(raw: bytes) -> DecodedPage | None:
    """A page of `list_contacts` straight into rows (`rows.decode_rows`)."""
    return decode_rows(raw, CONTACT_TYPES, contact_row_of)


#: the filters of number and contact listings: every contact field but the extension
NUMBER_FILTERS = tuple(f for f in CONTACT_FIELDS if f != "extension")


def _filters(filters: dict[str, str | None]) -> dict[str, str]:
    unknown = set(filters) - set(NUMBER_FILTERS)
    if unknown:
        raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
    return {k: v for k, v in filters.items() if v is not None}


__all__ = ["NUMBER_FILTERS", "ContactListsApi", "Page"]
