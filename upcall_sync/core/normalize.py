"""One normalization for both sides of a diff: phones, text, datetimes.

The manifest and the live account go through the same functions, so a
desired `(650) 799-1144` and a live `+16507991144` compare equal, and so do
`...58Z` and `...58.000Z`.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from datetime import UTC, datetime

import phonenumbers


class PhoneError(ValueError):
    """A phone that phonenumbers cannot read as a possible number."""


#: characters that reorder the text around them or hide in it (Unicode's bidirectional
#: controls, the zero-width space, the word joiner, invisible operators, the soft hyphen,
#: the combining grapheme joiner, the Hangul and Khmer fillers that draw as nothing, the
#: Mongolian vowel separator and the tag characters; not the joiners that Persian and
#: emoji sequences need): export writes them escaped (`\u202E`) and messages show them
#: so, where a reviewer would read other text ("Trojan Source")
HIDING = frozenset(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u3164\uffa0\U000e0001"
    + "".join(map(chr, range(0xE0020, 0xE0080)))
)

#: what json.dumps(ensure_ascii=False) leaves raw but a terminal acts on, or a reader
#: cannot see: C1 controls (U+009B is CSI), line separators, HIDING, and the zero-width
#: no-break space U+FEFF (a byte order mark pasted in with a name), as export writes them
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff" + "".join(sorted(HIDING)) + "]")


def quote(value: object) -> str:
    """A value as messages show it: "text" in double quotes (a JSON string, every control
    character escaped), numbers bare."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _UNSAFE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    return _escaped(found.group(0))


def _escaped(ch: str) -> str:
    """A character as JSON escapes it: `\\u00ad`; past U+FFFF its surrogate pair."""
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def api_v1_path(path: str) -> str:
    """`path` cut after its first /api/v1 (an endpoint's URL pasted whole), else with
    /api/v1 in place of a trailing /api or /api/vN, else with /api/v1 added: the base
    path every hint about an API URL suggests."""
    within = re.match(r"(.*?/api/v1)/", path + "/")
    return within.group(1) if within else re.sub(r"/api(/v\d+)?$", "", path) + "/api/v1"


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 for anything phonenumbers parses as a *possible* number.

    Finer validity is left to the API (CONTRACT.md: the reference's own
    +16501231234 is possible but not valid). An extension written inside the
    phone is not part of it (`split_phone` returns both).
    """
    return split_phone(raw, region)[0]


#: characters of a phone written without an extension (anything else may start one:
#: "x7", "ext. 9", ";ext=5", "#9", ", 9")
_PLAIN_PHONE_CHARS = frozenset("+0123456789 ()-./\u00a0")


#: an extension written with a prefix of its own, as CRM exports and people write one in
#: an extension field ("x204", "ext. 5", "Ext: 12", "#9", ";ext=5"): its digits dial it
_PREFIXED_EXTENSION = re.compile(r"(?:x|ext\.?|extn\.?|extension|#|;ext=)\s*:?\s*(\d+)", re.I)


def extension_digits(text: str) -> str:
    """An extension as dialed: `x204`, `ext. 204`, `#204` -> `204`, as `split_phone` reads
    one written inside the phone; digits of another script (Arabic-Indic `١٢`, full-width ones,
    which phonenumbers keeps as written) in ASCII, so that a do-not-call `x12` covers
    them; anything else as given."""
    if not text or (text.isascii() and text.isdigit()):
        return text
    if text.isdecimal():
        return "".join(str(unicodedata.decimal(ch)) for ch in text)
    prefixed = _PREFIXED_EXTENSION.fullmatch(text.strip())
    return extension_digits(prefixed.group(1)) if prefixed else text


def may_have_extension(raw: str) -> bool:
    return not _PLAIN_PHONE_CHARS.issuperset(raw)


@functools.lru_cache(maxsize=65536)
def split_phone(raw: str, region: str | None = None) -> tuple[str, str]:
    """(E.164, extension) of a possible number; the extension is "" when none is written,
    else its digits in ASCII (`extension_digits`).

    phonenumbers reads every usual way of writing one: `;ext=5`, `x7`, `ext. 9`, `#9`.
    """
    text = raw.strip()
    if not text:
        raise PhoneError("is empty")
    if _SCIENTIFIC.fullmatch(text):
        raise PhoneError(
            f"{_short(raw)} is a number in scientific notation, as a spreadsheet shows a long "
            "number: its last digits are lost; format the phone column as text, retype "
            "those numbers and save the file again"
        )
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if region is None and not text.startswith("+"):
                raise PhoneError(
                    f"{_short(raw)} has no country code: write it as +<country code> ... "
                    "or set phone_region"
                ) from None
            raise PhoneError(f"{_short(raw)} has an unknown country code") from None
        raise PhoneError(f"{_short(raw)} is not a valid phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise PhoneError(f"{_short(raw)} is not a valid phone number")
    e164 = str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    # phonenumbers keeps an extension's digits as written (Arabic-Indic, full-width)
    return e164, extension_digits(parsed.extension or "")


#: a spreadsheet's long number in scientific notation ("1.65E+10", "4,15555E+11"): never a
#: phone (a vanity number's letters are never followed by "+")
_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE]\+[0-9]{1,3}")


def _short(raw: str) -> str:
    """A phone as errors quote it: at most 40 characters."""
    return quote(raw if len(raw) <= 40 else raw[:40] + "...")


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
#: a match when a phone is E.164 exactly as `lenient_phone` returns it (a bound C
#: method: the state layer's hot path calls it once per live number)
e164_match = _E164.fullmatch


def national_digits(e164: str) -> str:
    """The national significant number of an E.164 phone (`+16507991144` -> `6507991144`),
    or "" when phonenumbers cannot read it."""
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return ""


def lenient_phone(raw: str | None) -> tuple[str, str]:
    """A live phone in E.164 when it can be read, else as given (never raises), and the
    extension written inside it ("" when none): a phone the API kept as typed
    (`+1 650 799 1145 ext. 3`) dials that extension.

    The API returns E.164 (CONTRACT.md); a value already in that exact shape is
    taken as is, which spares phonenumbers on every live number (a plan reads
    hundreds of thousands). Checked across every region's numbers: normalizing
    a well-formed E.164 string returns it unchanged; only malformed input such
    as "+44 0..." with a trunk prefix would differ, and the API never sends that.
    """
    if not raw or _E164.fullmatch(raw):
        return raw or "", ""
    try:
        return split_phone(raw)
    except PhoneError:
        return raw.strip(), ""


def name_key(value: str) -> str:
    """A campaign or list name as compared: Unicode NFC, whitespace runs collapsed to one
    space and trimmed. A server may store names so (CONTRACT.md); a name that differs
    from another only in this way is the same name."""
    if value.isascii() and " ".join(value.split()) == value:
        return value
    return " ".join(unicodedata.normalize("NFC", value).split())


def name_forms(value: str) -> tuple[str, ...]:
    """The texts to ask a `?name=` filter for (it matches exactly): as written and, when
    that differs, as a normalizing server stores it."""
    key = name_key(value)
    return (value,) if key == value else (value, key)


def nfc(value: str) -> str:
    """Text in Unicode NFC. A decomposed "e\u0301" and a composed "\u00e9" are the same text
    (canonically equivalent: shown alike), and a server may store either as the other; a
    plan that told them apart would show a change nobody can see, for ever."""
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def look_alike(value: str) -> str:
    """A name as people tell names apart: case, runs of whitespace and invisible format
    characters (a zero-width space pasted in with it) ignored. "Joey", "JOEY" and
    "Jo\u200bey" are one name to the eye, three to a plan."""
    if not value.isascii():
        value = "".join(
            ch for ch in nfc(value) if unicodedata.category(ch) != "Cf" and ch not in HIDING
        )
    return " ".join(value.casefold().split())


def visible(text: str) -> str:
    """`text` with its invisible format characters (a zero-width space) as \\u escapes."""
    if text.isascii():
        return text
    return "".join(
        _escaped(c) if unicodedata.category(c) == "Cf" or c in HIDING else c for c in text
    )


#: whether a text is NFC already (at once for ASCII): the live rows' fast path asks it
is_nfc = functools.partial(unicodedata.is_normalized, "NFC")


def text(value: str | None) -> str:
    """Optional text as compared: absent, null and "" are equal; trailing whitespace is
    ignored; Unicode NFC (`nfc`)."""
    return nfc(value.rstrip()) if value else ""


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 datetime that carries Z or an offset, as UTC truncated to the second.

    Raises OverflowError when the UTC time falls outside years 1 to 9999.
    """
    raw = value.strip()
    probe = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        parsed = datetime.fromisoformat(probe)
    except ValueError:
        raise ValueError(f"{quote(value)} is not an ISO 8601 datetime") from None
    if parsed.tzinfo is None or len(raw) <= 10:
        raise ValueError(f"{quote(value)} has no UTC offset: add Z or an offset such as -07:00")
    return utc_second(parsed)


def utc_second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def format_datetime(value: datetime | None) -> str:
    """How plans show a datetime: UTC, to the second, with Z."""
    if value is None:
        return ""
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits
    return utc_second(value).isoformat().replace("+00:00", "Z")
