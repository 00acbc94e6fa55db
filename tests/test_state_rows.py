"""The state layer's live contact mapping: its fast path for rows the API sent clean
gives exactly what the value-by-value mapping gives, for any values (issue 26)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from upcall_sync.core.model import Contact
from upcall_sync.core.normalize import lenient_phone
from upcall_sync.state.rows import live_contact

# every character str.rstrip() strips, the separator the fast path joins with, and text
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_ALPHABET = st.sampled_from([*_SPACES, "\x00", "a", "Z", "0", "9", "+", "-", "é", "\u200b"])
_VALUE = st.text(_ALPHABET, max_size=6)
_PHONE = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.builds(lambda p, s: p + s, st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), _VALUE),
    st.sampled_from(["+1 650 555 0100", "(650) 555-0100", "+4402079460000", "x", " +16505550100"]),
    _VALUE,
)


def careful(values: tuple[str, ...]) -> Contact:
    """The mapping as specified, value by value."""
    clean = [v.rstrip() for v in values]
    clean[0] = lenient_phone(clean[0])
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
