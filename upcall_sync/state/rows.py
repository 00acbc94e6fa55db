"""The client's rows as live values: the one place API data becomes the planner's.

The client speaks the API (`NumberRow`, `ContactRow`, its `Campaign` model); plan
and export alike turn those into `LiveNumber`, `LiveContact`, `LiveCampaign` and
`Contact` here, through the listings' `with_rows` hook: page by page, in the
thread that read the page, so a long listing is mapped while the next pages are
still on the wire (and export could stream).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import chain, repeat
from operator import itemgetter

from upcall_sync.client import Campaign, CampaignNumber, ContactRow, ListContact, NumberRow
from upcall_sync.core.model import Contact, LiveCampaign, LiveContact, LiveNumber
from upcall_sync.core.normalize import (
    e164_match,
    extension_digits,
    is_nfc,
    lenient_phone,
    nfc,
    text,
    utc_second,
)

__all__ = [
    "campaign_from_api",
    "clean_contacts",
    "contact_of",
    "known_contacts",
    "live_contact",
    "live_list_contact",
    "live_list_contacts",
    "live_number",
    "live_numbers",
]


#: a whitespace character at the end of a value, in `_SEP.join(values)`: `\\s` is
#: `str.isspace` (both are `Py_UNICODE_ISSPACE`), what `str.rstrip()` strips. A
#: separator inside a value can only make a clean row look dirty (the careful
#: path then does the work), never the other way round.
_SEP = "\x00"
_TRAILING_SPACE = re.compile(r"\s(?:\x00|\Z)")
_join = _SEP.join
_new_contact = tuple.__new__
_first = itemgetter(0)
_second = itemgetter(1)


def live_contact(values: tuple[str, ...]) -> Contact:
    """A row's contact values (`CONTACT_KEYS` order, as the API sent them) as the Contact a
    plan compares: trailing whitespace dropped, Unicode NFC, the phone read leniently.

    The one hot place (hundreds of thousands per plan). Nearly every row is clean
    as sent (no value ends in whitespace, all NFC, the phone in E.164): one C-level scan
    of the joined values, one NFC check (at once for ASCII) and one match of the phone
    tell so, and the row's own tuple becomes the Contact as is. Anything else takes the
    careful path, value by value.
    """
    joined = _join(values)
    if (
        _TRAILING_SPACE.search(joined) is None
        and is_nfc(joined)
        and e164_match(values[0])
        and (not values[1] or (values[1].isascii() and values[1].isdigit()))
    ):
        return _new_contact(Contact, values)
    clean = [nfc(v.rstrip()) for v in values]
    clean[0], written = lenient_phone(clean[0])
    # the extension the phone was typed with is dialed; one typed "x204" is 204, as a
    # manifest reads it (the API keeps extensions as sent: earlier versions sent "x204")
    clean[1] = extension_digits(clean[1]) or written
    return Contact._make(clean)


def live_number(row: NumberRow) -> LiveNumber:
    return LiveNumber(row.id, live_contact(row.values), row.status)


def live_list_contact(row: ContactRow) -> LiveContact:
    return LiveContact(row.id, live_contact(row.values))


def live_numbers(
    rows: list[NumberRow], known: Mapping[tuple[str, ...], Contact] | None = None
) -> list[LiveNumber]:
    """A page of rows as `live_number` makes each (its clean-row test inlined: a plan
    maps tens of thousands of rows, one call per page instead of three per row; an
    extension other than digits, "x204" as earlier versions sent it, takes the careful
    path).

    `known` (`known_contacts`: the contacts the manifests want in this campaign) lends
    its Contact to a clean row equal to one: the live number then holds the desired
    Contact itself, not an equal copy. Nothing compares differently; a plan with
    nothing to change then allocates half the long-lived objects, so the cyclic
    collector (which every tuple subclass keeps tracked) has half as much to scan
    (issue 26), and `unsatisfied_by_equality` compares by identity first.
    """
    clean, join, composed, phone, new, careful, lend = (
        _TRAILING_SPACE.search,
        _join,
        is_nfc,
        e164_match,
        _new_contact,
        live_contact,
        (known or _NOTHING_KNOWN).get,
    )
    return [
        LiveNumber(
            rid,
            (lend(values) or new(Contact, values))
            if clean(joined := join(values)) is None
            and composed(joined)
            and phone(values[0])
            and (not (ext := values[1]) or (ext.isascii() and ext.isdigit()))
            else careful(values),
            status,
        )
        for rid, status, values in rows
    ]


_NOTHING_KNOWN: Mapping[tuple[str, ...], Contact] = {}


def known_contacts(contacts: Iterable[Contact]) -> dict[tuple[str, ...], Contact]:
    """Contacts by themselves, for `live_numbers` to lend (an equal tuple finds one)."""
    return {c: c for c in contacts}


def live_list_contacts(rows: list[ContactRow]) -> list[LiveContact]:
    """A page of rows as `live_list_contact` makes each (see `live_numbers`)."""
    clean, join, composed, phone, new, careful = (
        _TRAILING_SPACE.search,
        _join,
        is_nfc,
        e164_match,
        _new_contact,
        live_contact,
    )
    return [
        LiveContact(
            rid,
            new(Contact, values)
            if clean(joined := join(values)) is None
            and composed(joined)
            and phone(values[0])
            and (not (ext := values[1]) or (ext.isascii() and ext.isdigit()))
            else careful(values),
        )
        for rid, values in rows
    ]


def clean_contacts(rows: list[tuple[str, ...]]) -> list[Contact] | None:
    """A page of rows' values (`CONTACT_KEYS` order) as the Contacts `live_contact` makes,
    when every row is clean as sent (no value ends in whitespace, all NFC, every phone in
    E.164): then each Contact is its row's values as they are. None when some row is not:
    the caller takes `live_contact` row by row. One C-level scan of the page's joined
    values and one NFC check, one match per phone."""
    joined = _join(chain.from_iterable(rows))
    if _TRAILING_SPACE.search(joined) is not None or not is_nfc(joined):
        return None
    if not all(map(e164_match, map(_first, rows))):
        return None
    extensions = "".join(map(_second, rows))
    if extensions and not (extensions.isascii() and extensions.isdigit()):
        return None
    return list(map(_new_contact, repeat(Contact), rows))


def contact_of(item: CampaignNumber | ListContact) -> Contact:
    """A campaign number or list contact the client parsed into its model (apply's
    look-ups, a saved plan's check) as the Contact plans compare."""
    contact = Contact.of(item.model_dump())
    phone, written = lenient_phone(contact.phone)
    return contact._replace(phone=phone, extension=extension_digits(contact.extension) or written)


def campaign_from_api(c: Campaign) -> LiveCampaign:
    return LiveCampaign(
        id=c.id,
        name=c.name,
        status=c.status or "",
        instructions=text(c.instructions),
        pitch=text(c.pitch),
        language=text(c.language),
        start_datetime=utc_second(c.start_datetime) if c.start_datetime else None,
        end_datetime=utc_second(c.end_datetime) if c.end_datetime else None,
        updated_at=c.updated_at,
    )
