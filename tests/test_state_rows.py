"""The state layer's live contact mapping: its fast path for rows the API sent clean
gives exactly what the value-by-value mapping gives, for any values (issue 26)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from upcall_sync.client import ContactRow, NumberRow
from upcall_sync.core.model import Contact
from upcall_sync.core.normalize import extension_digits, lenient_phone
from upcall_sync.state.rows import (
    clean_contacts,
    known_contacts,
    live_contact,
    live_list_contacts,
    live_numbers,
)

# every character str.rstrip() strips, the separator the fast path joins with, and text
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
# "e" and a combining acute accent spell a decomposed "é" (NFC composes them)
_ALPHABET = st.sampled_from(
    [*_SPACES, "\x00", "a", "Z", "0", "9", "+", "-", "é", "e", "\u0301", "\u200b", "x", "#"]
)
_VALUE = st.text(_ALPHABET, max_size=6)
_PHONE = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.builds(lambda p, s: p + s, st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), _VALUE),
    st.sampled_from(
        [
            "+1 650 555 0100",
            "(650) 555-0100",
            "+4402079460000",
            "x",
            " +16505550100",
            "+1 650 555 0100 ext. 7",  # an extension typed inside the phone
            "+16505550100 x012",
            "650.555.0100 ext. 3",
        ]
    ),
    _VALUE,
)


def careful(values: tuple[str, ...]) -> Contact:
    """The mapping as specified, value by value."""
    clean = [unicodedata.normalize("NFC", v.rstrip()) for v in values]
    clean[0], typed = lenient_phone(clean[0])
    # an extension typed inside the phone, unless one is set; one set as "x204" is 204
    clean[1] = extension_digits(clean[1]) or typed
    return Contact(*clean)


@given(_PHONE, st.lists(_VALUE, min_size=13, max_size=13))
def test_fast_path_maps_like_the_careful_one(phone: str, rest: list[str]) -> None:
    values = (phone, *rest)
    got = live_contact(values)
    assert got == careful(values)
    assert type(got) is Contact
    assert all(type(v) is str for v in got)


def test_a_clean_row_becomes_its_contact_as_sent() -> None:
    values = ("+16505550100", "", "Joey", "Smith", *[""] * 10)
    assert live_contact(values) == Contact("+16505550100", first_name="Joey", last_name="Smith")


def test_trailing_whitespace_anywhere_is_dropped() -> None:
    for i in range(14):
        values = ["+16505550100", *[""] * 13]
        values[i] = values[i] + "x\u00a0" if i else "+16505550100\u2029"
        got = live_contact(tuple(values))
        assert got[i] == ("x" if i else "+16505550100")


@given(_PHONE, st.lists(_VALUE, min_size=13, max_size=13), st.booleans())
def test_a_row_equal_to_a_wanted_contact_holds_that_contact(
    phone: str, rest: list[str], wanted: bool
) -> None:
    """`live_numbers` lends the manifests' Contact to a row equal to it (the same object,
    issue 26's collector saving) and maps every row exactly as without it."""
    values = (phone, *rest)
    row = NumberRow("7", "ready", values)
    plain = live_numbers([row])
    desired = Contact(*values)
    other = Contact("+16505550199", first_name="Someone else")
    known = known_contacts([other, desired] if wanted else [other])
    lent = live_numbers([row], known)
    assert lent == plain
    assert type(lent[0].contact) is Contact
    if wanted and plain[0].contact == desired:
        assert lent[0].contact is desired
    else:
        assert lent[0].contact is not desired and lent[0].contact is not other


def test_a_row_with_trailing_space_is_never_lent_the_contact_it_spells() -> None:
    """A wanted contact that ends in a space (quoted in YAML) is not what a row with that
    space maps to (its space is dropped): the row gets its own, stripped Contact."""
    values = ("+16505550100", "", "Joey ", *[""] * 11)
    desired = Contact(*values)
    (live,) = live_numbers([NumberRow("1", "", values)], known_contacts([desired]))
    assert live.contact is not desired and live.contact.first_name == "Joey"


def test_a_decomposed_value_reads_as_its_composed_twin() -> None:
    """A server may store "e" + U+0301 as "\u00e9" or keep either as sent: both are one
    text, shown alike. A plan that told them apart showed a change nobody could see
    ('first_name "José" -> "José"'), and applied it at every run."""
    decomposed = ("+16505550100", "", "Jose\u0301", "Nu\u0301n\u0303ez", *[""] * 10)
    composed = Contact("+16505550100", first_name="Jos\u00e9", last_name="N\u00fa\u00f1ez")
    assert live_contact(decomposed) == composed
    (number,) = live_numbers([NumberRow("1", "", decomposed)])
    assert number.contact == composed
    (contact,) = live_list_contacts([ContactRow("2", decomposed)])
    assert contact.contact == composed
    assert clean_contacts([decomposed]) is None
    assert Contact.of({"phone": "+16505550100", "first_name": "Jose\u0301"}).first_name == (
        "Jos\u00e9"
    )


# characters where NFC is subtle: combining marks of several classes (reordered), Hangul
# jamo (composed by rule), composition exclusions and singletons (U+212B, U+2000, U+0F73),
# a starter that composes with a following vowel sign (U+0B47 U+0B3E), and what
# str.rstrip() strips; any text besides
_SUBTLE = st.text(
    st.sampled_from(
        [
            *"\x00 \xa0\x1c\x85\u3000aAe+09",
            *"\u0300\u0301\u0323\u0327\u0345\u05bc\u05c1\u0f71\u0f72\u0f73\u1100\u1161",
            *"\u11a8\uac00\u0b47\u0b3e\u0b57\u1e0a\u2000\u2001\u212b\ufb2c\U0001d15e",
        ]
    ),
    max_size=6,
)
_ANY_VALUE = st.one_of(_SUBTLE, st.text(st.characters(exclude_categories=("Cs",)), max_size=6))


@given(
    st.lists(
        st.tuples(st.one_of(_PHONE, _ANY_VALUE), st.lists(_ANY_VALUE, min_size=13, max_size=13)),
        min_size=1,
        max_size=3,
    )
)
def test_every_fast_path_maps_a_page_like_the_careful_one(
    page: list[tuple[str, list[str]]],
) -> None:
    """`clean_contacts` (a whole page joined: one scan, one NFC check) and the per-row fast
    paths of `live_numbers` and `live_list_contacts` agree with the careful mapping on any
    text, the NFC check over joined values included."""
    rows = [(phone, *rest) for phone, rest in page]
    want = [careful(values) for values in rows]
    numbered = live_numbers([NumberRow(str(i), "", v) for i, v in enumerate(rows)])
    assert [n.contact for n in numbered] == want
    listed = live_list_contacts([ContactRow(str(i), v) for i, v in enumerate(rows)])
    assert [c.contact for c in listed] == want
    assert clean_contacts(rows) in (None, want)


def test_an_extension_typed_with_a_prefix_reads_as_its_digits() -> None:
    """Earlier versions sent an extension column's "x204" as typed, and the API keeps
    it: read as 204, it is the number a manifest now spells 204 (or x204), not another
    line to add and call again."""
    for typed in ("x204", "ext. 204", "#204", "Ext: 204"):
        values = ("+16505550100", typed, "Joey", *[""] * 11)
        assert live_contact(values).extension == "204"
        assert clean_contacts([values]) is None  # the page takes the careful path
        [number] = live_numbers([NumberRow("1", "", values)])
        [contact] = live_list_contacts([ContactRow("1", values)])
        assert number.contact.extension == contact.contact.extension == "204"
    assert live_contact(("+16505550100", "front desk", *[""] * 12)).extension == "front desk"
