"""Export's fast paths give what the careful ones give (issue 26).

`read_live` checks each number and renders its manifest line in the reader thread
(`export_numbers.number_reader`), and the emitter answers most values with one C-level scan: the
files (and every refusal, in its order) must be byte for byte those of the careful
path, which these tests keep as their reference.
"""

from __future__ import annotations

import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from upcall_sync.client import Campaign, NumberRow
from upcall_sync.errors import ExportError
from upcall_sync.jobs import export_yaml as ey
from upcall_sync.jobs.export import ExportOptions, LiveRead, build
from upcall_sync.jobs.export_numbers import (
    _ADDRESS,
    _AS_COMPARED,
    _PERSON,
    Number,
    PhoneCheck,
    number_reader,
)
from upcall_sync.state.rows import live_contact

# text that stresses the emitter: YAML words, escapes, line breaks, surrogates, ${
WORDS = st.sampled_from(("", "", "", "Joey", "Zoë", "日本", "Safeway", "94536", "x"))
TRICKY = st.one_of(
    WORDS,
    WORDS,
    st.sampled_from(("", " ", "NO", "yes", "Null", "~", "1e3", "02134", "a: b", "${X}", "x ")),
    st.sampled_from(("a\u2028b", "bom\ufeff", "nul\x00", "tab\tx", '"q"', "b\\s", "é\n")),
    st.text(max_size=6),
)
UNWRITABLE = st.sampled_from(("",) * 30 + ("\ud800",))  # a lone surrogate
VALID = st.sampled_from(("+16505550100", "+16505550101", "+447911123456", "+33123456789"))
OTHER_PHONES = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.sampled_from(("+1650555", "", " +1 650", "+16505550100 ", "650")),
)
# most accounts' phones pass (a refusal anywhere refuses the whole export)
PHONES = st.integers(0, 9).flatmap(lambda k: VALID if k < 9 else OTHER_PHONES)
EMAILS = st.integers(0, 9).flatmap(
    lambda k: st.sampled_from(("", "a@b.co", "Joey@Example.com") if k < 9 else ("bad", "a@b.co "))
)


@st.composite
def rows(draw: st.DrawFn) -> NumberRow:
    values = [draw(PHONES), draw(st.sampled_from(("", "12", " 7")))]
    values += [draw(TRICKY) for _ in range(4)]
    values.append(draw(EMAILS))
    values += [draw(TRICKY) for _ in range(6)]
    values.append(draw(UNWRITABLE))
    return NumberRow(str(draw(st.integers(1, 30))), "pending", tuple(values))


def _careful_flow(n: Number) -> str:
    """The flow mapping as export wrote it before issue 26, field by field."""
    contact, raw = n.contact, n.raw
    parts = [
        f"{name}: {ey.scalar(contact[i] if i in _AS_COMPARED else raw[i])}"
        for i, name in _PERSON
        if contact[i]
    ]
    address = [f"{name}: {ey.scalar(raw[i])}" for i, name in _ADDRESS if contact[i]]
    if address:
        parts.append("address: {" + ", ".join(address) + "}")
    return "{" + ", ".join(parts) + "}"


def _outcome(live: LiveRead, to_dir: bool) -> tuple[str, object]:
    try:
        result = build(live, ExportOptions(csv_over=3), version="t", to_dir=to_dir)
    except ExportError as exc:
        return "refused", exc.reasons
    return "written", (result.files, result.warnings, result.numbers)


def _campaign(i: int, name: str) -> Campaign:
    return Campaign.model_validate({"id": str(i), "name": name, "status": "ready"})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(rows(), max_size=6), min_size=1, max_size=3),
    st.sampled_from(("Acme", "NO", "Acme")),
    st.booleans(),
)
def test_numbers_read_in_the_reader_threads_export_as_the_careful_path(
    per_campaign: list[list[NumberRow]], name: str, to_dir: bool
) -> None:
    """Same files, warnings and refusals (in order) whether each number was checked and
    rendered as read or by `build` from the bare number."""
    reader = number_reader(PhoneCheck())
    camps = [_campaign(i + 1, f"{name} {i % 2}") for i in range(len(per_campaign))]
    fast = {c.id: [reader(r) for r in rs] for c, rs in zip(camps, per_campaign, strict=True)}
    bare = {
        c.id: [Number(r.id, live_contact(r.values), r.values) for r in rs]
        for c, rs in zip(camps, per_campaign, strict=True)
    }
    outcome = _outcome(LiveRead(camps, camps, fast, {}), to_dir)
    event(outcome[0])
    assert outcome == _outcome(LiveRead(camps, camps, bare, {}), to_dir)
    for n in (n for ns in fast.values() for n in ns):
        if n.flow is not None:
            assert n.flow == _careful_flow(n)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_double_quoting_and_raw_checks_agree_with_the_character_loop(value: str) -> None:
    try:
        expected = '"' + "".join(ch if ey._printable(ch) else ey._escape(ch) for ch in value) + '"'
    except ey.Unwritable:
        expected = "Unwritable"
    try:
        got = ey.double_quoted(value)
    except ey.Unwritable:
        got = "Unwritable"
    assert got == expected
    try:
        raw_all: object = all(ey._raw_ok(ch) for ch in value)
    except ey.Unwritable:
        raw_all = "Unwritable"
    try:
        fast_all: object = ey._all_raw_ok(value)
    except ey.Unwritable:
        fast_all = "Unwritable"
    assert fast_all == raw_all


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=8),
        st.sampled_from(("yes", "No", "NULL", "~", "", "1e3", "0x1F", "2016-07-11", "<<", "=")),
    )
)
def test_the_resolver_table_reads_as_pyyaml_resolves(value: str) -> None:
    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    assert ey._resolves_to_text(value) == (tag == "tag:yaml.org,2002:str")


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_a_phone_the_check_accepts_is_written_double_quoted_as_it_is(phone: str) -> None:
    """What `_flow` relies on to skip `scalar` for a checked phone."""
    if PhoneCheck()(phone):
        assert ey.scalar(phone) == f'"{phone}"'
