"""Export's work on each number, done as its page arrives (in the reader thread).

A number becomes a `Number`: the contact as plans compare it, the values as the
API sent them, whether its phone and email pass the manifest's checks, and its
manifest line (a YAML flow mapping). The line is one %-template per set of
non-empty fields, filled with each value's exact scalar (`export_yaml.scalar`);
a checked phone is E.164, which `scalar` writes double-quoted as it is.

A page is done at once where it can be (`number_pages`): when every row is clean
as sent (`state.rows.clean_contacts`), each field's values across the page are
proven plain, or double-quoted as they are, by one C-level scan
(`export_yaml.column_scalars`), the phones are matched against the shapes found
good (`PhoneCheck.all_ok`), and each line is `template % values`, all in C; any
other page goes row by row (`number_reader`), which stays the reference.
`jobs.export` groups, orders and joins what this prepared; a Number made
elsewhere (without `flow` or `ok`) is checked and rendered there by the same
functions. Equivalence with the field-by-field path is property-tested.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from itertools import compress, repeat
from operator import itemgetter
from typing import NamedTuple

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, region_code_for_country_code
from phonenumbers.phonemetadata import PhoneMetadata

from upcall_sync.client import NumberRow
from upcall_sync.core.model import ADDRESS_PARTS, CONTACT_FIELDS, Contact
from upcall_sync.core.normalize import PhoneError, normalize_phone
from upcall_sync.jobs.export_yaml import QUOTED_SLOT, Unwritable, column_scalars, scalar
from upcall_sync.manifest import EMAIL_PATTERN
from upcall_sync.state.rows import clean_contacts, live_contact

_EMAIL = re.compile(EMAIL_PATTERN)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_COUNTRY_CODES = frozenset(str(cc) for cc in COUNTRY_CODE_TO_REGION_CODE)


class Number(NamedTuple):
    """A live number: as plans compare it, and its values as the API sent them.

    `read_live` also checks it and renders its manifest line as its page arrives, in
    the reader thread (`flow`: the line's flow mapping, None where not rendered;
    `ok`: its phone and email pass the manifest's checks, None where not checked);
    `build` does what was not done.
    """

    id: str
    contact: Contact
    raw: tuple[str, ...]
    flow: str | None = None
    ok: bool | None = None


_new_number = tuple.__new__  # a Number from its five fields, without a Python-level call


def number_reader(phone_ok: PhoneCheck) -> Callable[[NumberRow], Number]:
    """The `with_rows` hook: each row as a Number, checked, its line rendered."""

    def number(row: NumberRow) -> Number:
        raw = row.values
        contact = live_contact(raw)
        if not (phone_ok(contact[0]) and email_ok(contact[6])):
            return _new_number(Number, (row.id, contact, raw, None, False))
        try:
            flow = _flow(contact, raw, phone_ok=True)
        except Unwritable:  # raised again, in order, if the line is ever written
            flow = None
        return _new_number(Number, (row.id, contact, raw, flow, True))

    return number


def number_pages(phone_ok: PhoneCheck) -> Callable[[list[NumberRow]], list[Number]]:
    """The `with_pages` hook: a page of rows as the Numbers `number_reader` makes, the
    whole page at once where it can be (`_page_numbers`), else row by row."""
    number = number_reader(phone_ok)

    def numbers(rows: list[NumberRow]) -> list[Number]:
        try:
            page = _page_numbers(rows, phone_ok)
        except Unwritable:  # row by row: the row that holds it gets no line
            page = None
        return page if page is not None else [number(row) for row in rows]

    return numbers


_values_of = itemgetter(2)
_id_of = itemgetter(0)


def _page_numbers(rows: list[NumberRow], phone_ok: PhoneCheck) -> list[Number] | None:
    """A page of numbers as `number_reader` makes each, field by field rather than row by
    row, when every row is clean as sent (its Contact is its values); else None.

    Each field's values across the page become one slot of the line's %-template and
    what fills it (`column_scalars`: most often the values themselves, proven plain or
    double-quoted as they are by one C-level scan); with every field filled or empty
    on every row, each line is one `template % values`, all in C.
    """
    values = list(map(_values_of, rows))
    contacts = clean_contacts(values)
    if not contacts:
        return None if contacts is None else []
    columns = list(zip(*values, strict=True))
    if phone_ok.all_ok(columns[0]) and all(map(_EMAIL.fullmatch, filter(None, columns[6]))):
        ok = [True] * len(rows)
    else:
        ok = [phone_ok(p) and email_ok(e) for p, e in zip(columns[0], columns[6], strict=True)]
    on = tuple(map(any, columns))
    slots = [QUOTED_SLOT] * len(columns)  # the phone's slot takes an E.164 phone
    fills: list[Sequence[str]] = list(columns)
    for i in range(1, len(columns)):
        if on[i]:
            slots[i], fills[i] = column_scalars(columns[i])
    if all(map(all, compress(columns, on))):  # every field filled on all rows or on none
        template = _template(on, tuple(slots))
        flows: list[str | None] = list(
            map(template.__mod__, zip(*compress(fills, on), strict=True))
        )
    else:
        flows = _shaped_flows(contacts, fills, tuple(slots))
    if not all(ok):
        flows = [flow if good else None for flow, good in zip(flows, ok, strict=True)]
    return list(
        map(
            _new_number,
            repeat(Number),
            zip(map(_id_of, rows), contacts, values, flows, ok, strict=True),
        )
    )


def _shaped_flows(
    contacts: list[Contact], fills: list[Sequence[str]], slots: tuple[str, ...]
) -> list[str | None]:
    """Each row's line from its own template (the fields it has)."""
    templates: dict[tuple[bool, ...], str] = {}
    flows: list[str | None] = []
    for contact, fill in zip(contacts, zip(*fills, strict=True), strict=True):
        on = tuple(map(bool, contact))
        template = templates.get(on) or templates.setdefault(on, _template(on, slots))
        flows.append(template % tuple(compress(fill, on)))
    return flows


@functools.lru_cache(maxsize=1024)
def _template(on: tuple[bool, ...], slots: tuple[str, ...]) -> str:
    """The flow mapping of a number with the fields `on` non-empty, each field's slot
    as `slots` says (`_shape`'s template, slot by slot)."""
    person = [f"{name}: {slots[i]}" for i, name in _PERSON if on[i]]
    address = [f"{name}: {slots[i]}" for i, name in _ADDRESS if on[i]]
    if address:
        person.append("address: {" + ", ".join(address) + "}")
    return "{" + ", ".join(person) + "}"


def slow_phone_ok(phone: str) -> bool:
    """Whether a manifest reads `phone` as exactly `phone` (what `validate` will do)."""
    try:
        return normalize_phone(phone) == phone
    except PhoneError:
        return False


class PhoneCheck:
    """`slow_phone_ok` for many phones, without parsing each one.

    phonenumbers' parse costs ~25 us a phone (seconds for an account). For an
    E.164 string whose national number does not start with its country's
    national prefix, parsing changes nothing, and whether the number is
    *possible* depends only on the country code and the national number's
    length (and leading zeros): one real check per such shape answers for all
    of that shape. Anything else takes the real check. Equivalence is
    property-tested against `normalize_phone`.
    """

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, int, int], bool] = {}
        # an E.164 phone's first three digits -> its country code (the shortest of the
        # first 1 to 3 digits that is one; "" for none) and what its country's national
        # prefix matches (None: it has none)
        self._leads: dict[str, tuple[str, _Match | None]] = {}
        self._rules: dict[str, str | None] = {}  # country code -> its national prefix
        self._known: re.Pattern[str] | None = None  # the good shapes, as one pattern
        self._known_from = 0  # how many shapes `_known` was made from

    def __call__(self, phone: str) -> bool:
        if _E164.fullmatch(phone) is None:
            return slow_phone_ok(phone)
        lead = phone[1:4]  # E.164 has at least 7 digits, the first not 0
        cc, prefix = self._leads[lead] if lead in self._leads else self._lead(lead)
        if not cc:
            return False  # no country code: normalize_phone refuses it too
        national = phone[1 + len(cc) :]
        if prefix is not None and prefix(national):
            return slow_phone_ok(phone)
        shape = (cc, len(national), len(national) - len(national.lstrip("0")))
        known = self._shapes.get(shape)
        if known is None:
            known = self._shapes[shape] = slow_phone_ok(phone)
        return known

    def all_ok(self, phones: Sequence[str]) -> bool:
        """`all(map(self, phones))`, with one C-level match a phone where its shape is
        one this check has found good (`_known_pattern`)."""
        known = self._known
        if known is not None and all(map(known.fullmatch, phones)):
            return True
        result = all(map(self, phones))
        if len(self._shapes) != self._known_from:
            self._known_from = len(self._shapes)
            self._known = self._known_pattern()
        return result

    def _known_pattern(self) -> re.Pattern[str] | None:
        """The phones `__call__` answers True by shape, as one pattern: `+`, a country
        code, a national number that does not start with the national prefix (as a
        negative lookahead, where the prefix's rule reads the same there) and of a shape
        found good (length, leading zeros). Country codes are prefix-free, so a phone
        meets at most one branch (checked by a test)."""
        by_code: dict[str, list[str]] = {}
        for (cc, length, zeros), good in list(self._shapes.items()):
            rule = self._rules[cc]
            if good and (rule is None or _NOT_EMBEDDABLE.search(rule) is None):
                digits = f"0{{{zeros}}}" + (
                    f"[1-9][0-9]{{{length - zeros - 1}}}" if zeros < length else ""
                )
                by_code.setdefault(cc, []).append(digits)
        if not by_code:
            return None
        branches = [
            cc + (f"(?!(?:{rule}))" if (rule := self._rules[cc]) else "") + f"(?:{'|'.join(ds)})"
            for cc, ds in by_code.items()
        ]
        return re.compile(r"\+(?:" + "|".join(branches) + ")")

    def _lead(self, lead: str) -> tuple[str, _Match | None]:
        cc = next((lead[:i] for i in (1, 2, 3) if lead[:i] in _COUNTRY_CODES), "")
        prefix = None
        if cc:
            meta = PhoneMetadata.metadata_for_region_or_calling_code(
                int(cc), region_code_for_country_code(int(cc))
            )
            rule = meta.national_prefix_for_parsing if meta is not None else None
            prefix = re.compile(rule).match if rule else None
            self._rules[cc] = rule or None
        self._leads[lead] = found = (cc, prefix)
        return found


_Match = Callable[[str], "re.Match[str] | None"]
#: a national prefix rule that might read differently inside a larger pattern than
#: matched alone at the start of the national number (anchors, boundaries, group
#: references, lookarounds, flags): its phones are never matched by `_known_pattern`
_NOT_EMBEDDABLE = re.compile(r"[\^$]|\\[AZbBg0-9]|\(\?[^:]")


def email_ok(email: str) -> bool:
    return not email or _EMAIL.fullmatch(email) is not None


# (index, field) of a contact's values; phone and email are written as compared
# (E.164; trimmed, since the manifest's email pattern refuses trailing spaces)
_AS_COMPARED = frozenset((0, 6))
_FIELDS = tuple(enumerate(CONTACT_FIELDS))
_PERSON = tuple((i, name) for i, name in _FIELDS if name not in ADDRESS_PARTS)
_ADDRESS = tuple((i, name) for i, name in _FIELDS if name in ADDRESS_PARTS)


def number_values(n: Number) -> list[tuple[str, str]]:
    """(field, value) as written: text as the API sent it, phone in E.164, email trimmed."""
    contact, raw = n.contact, n.raw
    return [
        (name, contact[i] if i in _AS_COMPARED else raw[i]) for i, name in _FIELDS if contact[i]
    ]


def flow_number(n: Number) -> str:
    return n.flow if n.flow is not None else _flow(n.contact, n.raw, phone_ok=False)


def _flow(contact: Contact, raw: tuple[str, ...], *, phone_ok: bool) -> str:
    """A number's flow mapping: its non-empty fields (in `CONTACT_FIELDS` order, the
    address's in a mapping of their own), text as the API sent it, phone and email as
    compared. One template per set of non-empty fields (`_Shape`)."""
    shape = _SHAPES.get(tuple(map(bool, contact))) or _shape(contact)
    if contact != raw:
        raw = (contact[0], *raw[1:6], contact[6], *raw[7:])
    if phone_ok:  # E.164, which `scalar` writes double-quoted as it is (tested)
        return shape.phone_quoted % (raw[0], *map(scalar, shape.rest(raw)))
    return shape.template % tuple(map(scalar, shape.every(raw)))


class _Shape(NamedTuple):
    """The flow mapping of a number with these fields non-empty, as a %-template."""

    template: str  # every value's slot takes its scalar
    phone_quoted: str  # the phone's slot takes an E.164 phone, the others' their scalar
    every: Callable[[Sequence[str]], Sequence[str]]  # the non-empty values
    rest: Callable[[Sequence[str]], Sequence[str]]  # the same but the phone


_SHAPES: dict[tuple[bool, ...], _Shape] = {}


def _shape(contact: Contact) -> _Shape:
    on = tuple(map(bool, contact))
    person = [f"{name}: %s" for i, name in _PERSON if on[i]]
    address = [f"{name}: %s" for i, name in _ADDRESS if on[i]]
    if address:
        person.append("address: {" + ", ".join(address) + "}")
    template = "{" + ", ".join(person) + "}"
    indices = [i for i in range(len(on)) if on[i]]
    phone_quoted = template.replace("phone: %s", 'phone: "%s"', 1) if on[0] else template
    rest = indices[1:] if on[0] else indices
    _SHAPES[on] = shape = _Shape(template, phone_quoted, _picker(indices), _picker(rest))
    return shape


def _picker(indices: Sequence[int]) -> Callable[[Sequence[str]], Sequence[str]]:
    if len(indices) > 1:
        pick: Callable[[Sequence[str]], Sequence[str]] = itemgetter(*indices)
        return pick
    if indices:
        only = indices[0]
        return lambda values: (values[only],)
    return lambda values: ()


__all__ = [
    "Number",
    "PhoneCheck",
    "email_ok",
    "flow_number",
    "number_pages",
    "number_reader",
    "number_values",
    "slow_phone_ok",
]
