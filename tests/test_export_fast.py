"""Export's fast paths give what the careful ones give (issue 26).

`read_live` checks each number and renders its manifest line in the reader thread, a
whole page at once where it can (`export_numbers.number_pages`: one C-level scan a
field proves a page's values plain or double-quoted as they are), else row by row
(`number_reader`), and the emitter answers most values with one C-level scan: the
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
    number_pages,
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
    by_page = number_pages(PhoneCheck())
    paged = {c.id: by_page(rs) for c, rs in zip(camps, per_campaign, strict=True)}
    outcome = _outcome(LiveRead(camps, camps, fast, {}), to_dir)
    event(outcome[0])
    assert outcome == _outcome(LiveRead(camps, camps, bare, {}), to_dir)
    assert outcome == _outcome(LiveRead(camps, camps, paged, {}), to_dir)
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


# -- whole pages at once (`number_pages`, `column_scalars`, `PhoneCheck.all_ok`) -----------

# values that stress a page-wide proof: YAML words, leading symbols, `${`, line separators,
# a NUL (the column separator), lone surrogates, trailing spaces, empty values
HOSTILE = st.sampled_from(
    (
        "",
        "NO",
        "yes",
        "Off",
        "null",
        "~",
        "1e3",
        "0x1F",
        "-x",
        "@home",
        "#1",
        "!",
        "&a",
        "*b",
        "${HOME}",
        "a${X}b",
        "$${X}",
        "a\u2028b",
        "x\u2029",
        "a\x00b",
        "\x00",
        "\ud800",
        "x ",
        " x",
        "a\tb",
        'say "hi"',
        "back\\slash",
        "Zoë",
        "Élodie",
        "日本",
        "O'Brien",
        "Acme, Inc.",
        "AT&T",
        "a: b",
        "x/",
        "x-",
        "a.b",
        "(c)",
        "2016-07-11",
        "94536",
        "+16505550100",
        "\ufeffbom",
        "½",
        "Ⅻ",
        "²x",
    )
)
PLAINISH = st.from_regex(r"[A-Za-z][A-Za-z0-9 .@()/+'&-]{0,8}", fullmatch=True)
QUOTEDISH = st.from_regex(r"[0-9 !#-@\[\]-`{-~][ -~]{0,8}", fullmatch=True)
#: one column of a page: all of one kind (what a page-wide proof answers), or mixed
COLUMN_KINDS = st.sampled_from(("plain", "quoted", "same", "hostile", "mixed", "empty"))


def _column_values(kind: str) -> st.SearchStrategy[str]:
    if kind == "plain":
        return PLAINISH
    if kind == "quoted":
        return QUOTEDISH
    if kind == "hostile":
        return HOSTILE
    if kind == "empty":
        return st.just("")
    return st.one_of(PLAINISH, QUOTEDISH, HOSTILE, st.text(max_size=5), st.just(""))


@st.composite
def pages(draw: st.DrawFn) -> list[NumberRow]:
    """A page of rows, each field's values of one kind down the page (or one value
    throughout, or mixed), most phones and emails good, some rows sparse."""
    size = draw(st.integers(1, 12))
    kinds = [draw(COLUMN_KINDS) for _ in range(13)]
    same = [draw(PLAINISH | QUOTEDISH | HOSTILE) for _ in range(13)]
    sparse = draw(st.booleans())
    out = []
    for i in range(size):
        values = [draw(st.sampled_from(VALID_PAGE_PHONES) if draw(st.integers(0, 20)) else PHONES)]
        for k, kind in enumerate(kinds):
            if k == 5:  # the email
                value = draw(EMAILS) if kind != "empty" else ""
            elif kind == "same":
                value = same[k]
            else:
                value = draw(_column_values(kind))
            if sparse and draw(st.integers(0, 3)) == 0:
                value = ""
            values.append(value)
        out.append(NumberRow(str(i), "pending", tuple(values)))
    return out


VALID_PAGE_PHONES = (
    "+16505550100",
    "+16505550199",
    "+14155550100",
    "+447911123456",
    "+33123456789",
    "+4930123456",
    "+61412345678",
    "+819012345678",
    "+5491123456789",
    "+26120123456",
)


# two pages at most (the second checks the phone check's learning): drawing a page of
# 13 columns is most of this test's cost, 10 s of the suite at 200 examples of 3
@settings(max_examples=150, deadline=None)
@given(st.lists(pages(), min_size=1, max_size=2))
def test_a_page_at_once_gives_the_numbers_row_by_row_gives(
    page_list: list[list[NumberRow]],
) -> None:
    """`number_pages` (the hook `read_live` reads with) makes exactly the Numbers that
    `number_reader` makes one row at a time: contact, values, line and checks, page
    after page with the phone check learning as it goes."""
    from upcall_sync.jobs import export_numbers as en

    by_page, by_row = en.number_pages(PhoneCheck()), number_reader(PhoneCheck())
    for page in page_list:
        fast = by_page(page)
        try:
            event("page at once" if en._page_numbers(page, PhoneCheck()) else "row by row")
        except ey.Unwritable:
            event("row by row (a lone surrogate)")
        assert fast == [by_row(r) for r in page]
        for n in fast:
            assert type(n) is Number and type(n.contact) is type(live_contact(n.raw))
            if n.flow is not None:
                assert n.flow == _careful_flow(n)


def test_a_clean_page_is_taken_at_once() -> None:
    """The bench's page shape (every field filled or empty on every row, unique first
    names, a shared company, quoted postal codes) takes the page-wide path."""
    from upcall_sync.jobs import export_numbers as en

    rest = ("Bench", "", "Safeway", "", "", "", "", "Fremont", "", "94536", "")
    page = [NumberRow(str(k), "active", (f"+1650{k:07d}", "", f"F{k}", *rest)) for k in range(100)]
    fast = en._page_numbers(page, PhoneCheck())
    assert fast is not None and fast == [number_reader(PhoneCheck())(r) for r in page]
    assert fast[7].flow == (
        '{phone: "+16500000007", first_name: F7, last_name: Bench, company: Safeway, '
        'address: {city: Fremont, postal_code: "94536"}}'
    )


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.one_of(HOSTILE, PLAINISH, QUOTEDISH, st.text(max_size=6)), max_size=8), COLUMN_KINDS
)
def test_a_column_at_once_writes_each_value_as_scalar_does(values: list[str], kind: str) -> None:
    column = values if kind == "mixed" else [v for v in values if kind != "same" or v == values[0]]
    try:
        slot, fills = ey.column_scalars(tuple(column))
    except ey.Unwritable:
        assert any("\ud800" <= ch <= "\udfff" for v in column for ch in v)
        return
    event(f"slot {slot}, {'the values' if list(fills) == list(column) else 'scalars'}")
    assert len(fills) == len(column)
    for value, fill in zip(column, fills, strict=True):
        if value:
            assert slot % fill == ey.scalar(value), value


def test_the_yaml_words_of_a_plain_column_are_pyyamls() -> None:
    """The page-wide plain proof is on with this PyYAML, and every word it stands out is
    one PyYAML's resolver reads as something other than text."""
    assert ey._PLAIN_COLUMNS
    for word in ey._LETTER_WORDS:
        assert not ey._resolves_to_text(word), word
        assert ey.scalar(word) == f'"{word}"'


def test_country_codes_are_prefix_free() -> None:
    """What `PhoneCheck._known_pattern` relies on: a phone meets one branch at most."""
    codes = [str(cc) for cc in __import__("phonenumbers").COUNTRY_CODE_TO_REGION_CODE]
    assert not [(a, b) for a in codes for b in codes if a != b and b.startswith(a)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), min_size=1, max_size=30),
    st.lists(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), min_size=1, max_size=30),
)
def test_a_page_of_phones_is_checked_as_one_by_one(learn: list[str], page: list[str]) -> None:
    """`all_ok` answers `all(map(check, phones))`; its pattern of the shapes learned
    never lets a phone through that the manifest refuses."""
    from upcall_sync.jobs.export_numbers import slow_phone_ok

    check = PhoneCheck()
    for phones in (learn, learn + page, page, page[::-1]):
        assert check.all_ok(phones) == all(map(slow_phone_ok, phones))
    known = check._known
    for phone in learn + page:
        if known is not None and known.fullmatch(phone):
            assert slow_phone_ok(phone), phone
