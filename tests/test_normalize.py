"""One normalization for both sides of a diff: phones, text and datetimes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from upcall_sync.core.normalize import (
    HIDING,
    PhoneError,
    extension_digits,
    format_datetime,
    lenient_phone,
    look_alike,
    normalize_phone,
    parse_datetime,
    quote,
    text,
    utc_second,
    visible,
)

# -- phones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+16501231234", None, "+16501231234"),  # the reference's own: possible, not valid
        ("+1 650 123 1234", None, "+16501231234"),
        ("+1 (650) 799-1144", None, "+16507991144"),
        ("(650) 799-1144", "US", "+16507991144"),
        ("650.799.1144", "US", "+16507991144"),
        ("  +16507991144  ", None, "+16507991144"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+52 55 5555 0148", None, "+525555550148"),
        ("+16507991144", "GB", "+16507991144"),  # a + number ignores the region
    ],
)
def test_phones_normalize_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "message"),
    [
        ("", None, "is empty"),
        ("   ", None, "is empty"),
        ("(650) 799-1144", None, "has no country code"),
        ("+999 123 4567", None, "has an unknown country code"),
        ("+1 555", None, "is not a valid phone number"),
        ("call me", "US", "is not a valid phone number"),
        ("+1 650 123 1234 5678 9999", None, "is not a valid phone number"),
    ],
)
def test_bad_phones_say_why(raw: str, region: str | None, message: str) -> None:
    with pytest.raises(PhoneError, match=message):
        normalize_phone(raw, region)


def test_the_no_country_code_message_says_how_to_fix_it() -> None:
    with pytest.raises(PhoneError) as caught:
        normalize_phone("650 799 1144")
    assert str(caught.value) == (
        '"650 799 1144" has no country code: write it as +<country code> ... or set phone_region'
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+16501231234", ("+16501231234", "")),  # E.164 already: taken as is
        ("+1 650 799 1144", ("+16507991144", "")),  # readable: normalized
        ("+1 650 799 1144 ext. 3", ("+16507991144", "3")),  # the extension typed inside
        ("+16507991144;ext=042", ("+16507991144", "042")),
        ("650.799.1145 ext. 3", ("650.799.1145 ext. 3", "")),  # unreadable: as given
        ("not a phone ", ("not a phone", "")),  # stripped, never raises
        ("+1 555", ("+1 555", "")),
        ("", ("", "")),
        (None, ("", "")),
    ],
)
def test_lenient_phone_never_raises(raw: str | None, expected: tuple[str, str]) -> None:
    assert lenient_phone(raw) == expected


def test_lenient_and_strict_agree_on_every_well_formed_number() -> None:
    for raw in ("+16501231234", "+442079460958", "+525555550148", "+4791234567"):
        assert lenient_phone(raw) == (normalize_phone(raw), "") == (raw, "")


# -- text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), ("", ""), ("Be friendly  \n", "Be friendly"), ("  lead", "  lead")],
)
def test_text_treats_absent_null_and_empty_alike_and_drops_trailing_space(
    value: str | None, expected: str
) -> None:
    assert text(value) == expected


def test_quote_shows_text_quoted_and_numbers_bare() -> None:
    assert quote("Lucía") == '"Lucía"'
    assert quote(2134) == "2134"
    assert quote(datetime(2026, 1, 1, tzinfo=UTC)) == '"2026-01-01 00:00:00+00:00"'


@pytest.mark.parametrize("hidden", [*sorted(HIDING), "\ufeff", "\ufffe", "\uffff"])
def test_quote_shows_what_export_escapes_as_escapes(hidden: str) -> None:
    """A message or plan showed "Acme" + U+FEFF + " Q3" as "Acme Q3" (a byte order mark
    pasted in with a name is invisible), while export wrote it escaped and validate's
    look-alike warning took it for one: each such character is shown as its escape."""
    assert quote(f"Acme{hidden} Q3") == f'"Acme{json.dumps(hidden)[1:-1]} Q3"'


@pytest.mark.parametrize(
    "hidden",
    ["\u00ad", "\u034f", "\u3164", "\u115f", "\u180e", "\U000e0041"],
)
def test_a_character_that_draws_as_nothing_is_escaped_and_looks_alike(hidden: str) -> None:
    """A soft hyphen, the combining grapheme joiner, a Hangul
    filler or a tag character in a name read as nothing in a plan (b51): each is shown as
    JSON escapes it (a tag character as its surrogate pair, not a `\\ue0041` that reads
    as U+E004 and a 1), and the name looks like the one without it."""
    name = f"Acme{hidden} Q3"
    assert quote(name) == f'"Acme{json.dumps(hidden)[1:-1]} Q3"'
    assert json.loads(quote(name)) == name
    assert look_alike(name) == look_alike("Acme Q3")
    assert visible(name) == f"Acme{json.dumps(hidden)[1:-1]} Q3"


# -- datetimes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2016-07-11T00:04:58Z",
        "2016-07-11T00:04:58.000Z",
        "2016-07-11T00:04:58.999z",
        "2016-07-10T17:04:58-07:00",
        "2016-07-11T02:04:58+02:00",
        " 2016-07-11T00:04:58+00:00 ",
    ],
)
def test_datetimes_parse_to_utc_truncated_to_the_second(raw: str) -> None:
    parsed = parse_datetime(raw)
    assert parsed == datetime(2016, 7, 11, 0, 4, 58, tzinfo=UTC)
    assert parsed.tzinfo is UTC and parsed.microsecond == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2016-07-11T00:04:58", "has no UTC offset"),
        ("2016-07-11", "has no UTC offset"),
        ("yesterday", "is not an ISO 8601 datetime"),
        ("2016-13-11T00:04:58Z", "is not an ISO 8601 datetime"),
        ("", "is not an ISO 8601 datetime"),
    ],
)
def test_bad_datetimes_say_why(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_datetime(raw)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(2016, 7, 11, 0, 4, 58, 999_000, tzinfo=UTC), "2016-07-11T00:04:58Z"),
        (datetime(2026, 7, 11, 9, 0, tzinfo=timezone(timedelta(hours=-7))), "2026-07-11T16:00:00Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
        (None, ""),
    ],
)
def test_format_datetime_is_utc_with_z_and_four_digit_years(
    value: datetime | None, shown: str
) -> None:
    assert format_datetime(value) == shown


@pytest.mark.parametrize(
    "value",
    [
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2016, 7, 11, 0, 4, 58, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_format_and_parse_round_trip(value: datetime) -> None:
    assert parse_datetime(format_datetime(value)) == value


def test_utc_second() -> None:
    local = datetime(2026, 1, 1, 1, 2, 3, 456_789, tzinfo=timezone(timedelta(hours=2)))
    assert utc_second(local) == datetime(2025, 12, 31, 23, 2, 3, tzinfo=UTC)


def test_visible_escapes_every_invisible_format_character() -> None:
    """The look-alike warnings show names through `visible`: a zero-width joiner or
    non-joiner (format characters, kept raw by `quote` for Persian and emoji) was shown
    raw there once `visible` escaped only what `quote` escapes."""

    assert visible("Jo\u200dey") == "Jo\\u200dey"
    assert visible("Jo\u200cey") == "Jo\\u200cey"
    assert visible("Jo\u200bey") == "Jo\\u200bey"
    assert visible("x\U000e0041") == "x\\udb40\\udc41"
    assert visible("Zoë") == "Zoë"


@pytest.mark.parametrize(
    ("typed", "dialed"),
    [
        ("204", "204"),
        ("x204", "204"),
        ("X 204", "204"),
        ("ext. 204", "204"),
        ("Ext: 204", "204"),
        ("extn 204", "204"),
        ("extension 204", "204"),
        ("#204", "204"),
        (";ext=204", "204"),
        ("0204", "0204"),  # a leading zero dials
        ("", ""),
        ("x", "x"),  # no digits: as typed
        ("front desk", "front desk"),
        ("204 or 205", "204 or 205"),
    ],
)
def test_an_extension_field_reads_a_prefix_as_split_phone_does(typed: str, dialed: str) -> None:
    assert extension_digits(typed) == dialed
