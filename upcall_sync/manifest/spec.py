"""The manifest format, version 1, as pydantic models: validation and JSON Schema in one place.

These models are what people write. They are strict about types (text must
be text: YAML's `NO` or `02134` are not silently turned into strings) so that
the JSON Schema they publish accepts exactly what `validate` accepts, give or
take the checks a schema cannot express (phone possibility, end after start,
uniqueness across files), which `load` adds.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from upcall_sync.core.model import CAMPAIGN_STATUSES, CONTACT_FIELDS, CampaignStatus
from upcall_sync.core.normalize import (
    PhoneError,
    extension_digits,
    format_datetime,
    may_have_extension,
    normalize_phone,
    parse_datetime,
    quote,
    split_phone,
)
from upcall_sync.manifest.csvload import text_encoding

MANIFEST_VERSION = 1
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
#: the API writes datetimes as YYYY-MM-DDTHH:MM:SS.mmmZ: four-digit years, in UTC
MIN_YEAR, MAX_YEAR = 1000, 9999
DATETIME_PATTERN = (
    r"^[1-9]\d{3}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"
)
REGIONS = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))


def _rstrip(value: str) -> str:
    return value.rstrip()


def _phone(value: str, info: ValidationInfo) -> str:
    region = (info.context or {}).get("phone_region")
    try:
        return normalize_phone(value, region)
    except PhoneError as exc:
        raise ValueError(str(exc)) from None


def _caller_id(value: str, info: ValidationInfo) -> str:
    region = (info.context or {}).get("phone_region")
    try:
        phone, extension = split_phone(value, region)
    except PhoneError as exc:
        raise ValueError(str(exc)) from None
    if extension:
        raise ValueError(f"{quote(value)} has an extension; a caller ID cannot have one")
    return phone


def _extension_of_phone(data: Any, info: ValidationInfo) -> Any:
    """An extension written inside the phone (`x7`, `;ext=5`, `ext. 9`) moves to `extension`.

    An explicit `extension` that says otherwise is an error.
    """
    if not isinstance(data, dict):
        return data
    phone = data.get("phone")
    if not isinstance(phone, str) or not may_have_extension(phone):
        return data
    try:
        _e164, extension = split_phone(phone, (info.context or {}).get("phone_region"))
    except PhoneError:
        return data  # the phone field says what is wrong
    if not extension:
        return data
    explicit = data.get("extension")
    if explicit is None or explicit == "":
        return {**data, "extension": extension}
    if isinstance(explicit, str) and extension_digits(explicit.strip()) != extension:
        raise ValueError(
            f"phone {quote(phone)} has extension {quote(extension)}, but extension is "
            f"{quote(explicit)}; write the extension once"
        )
    return data


def _listed_phone(value: str, info: ValidationInfo) -> str:
    """A do-not-call entry: any phone form a number accepts, an extension optional."""
    try:
        split_phone(value, (info.context or {}).get("phone_region"))
    except PhoneError as exc:
        raise ValueError(str(exc)) from None
    return value


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime has no UTC offset: add Z or an offset such as -07:00")
        return value
    if not isinstance(value, str):
        raise ValueError("expected a datetime as text, e.g. 2026-07-11T09:00:00-07:00")
    text = value.strip()
    if re.fullmatch(r"0\d{3}-.*", text):
        raise ValueError(_out_of_range(value))
    if not re.fullmatch(DATETIME_PATTERN, text):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?", text):
            raise ValueError(f"{quote(value)} has no UTC offset: add Z or an offset such as -07:00")
        raise ValueError(
            f"{quote(value)} is not an ISO 8601 datetime such as 2026-07-11T09:00:00-07:00"
        )
    try:
        parsed = parse_datetime(value)
    except OverflowError:
        raise ValueError(_out_of_range(value)) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(_out_of_range(value))
    return parsed


def _out_of_range(value: str) -> str:
    return (
        f"{quote(value)} is outside the years the API can represent "
        f"({MIN_YEAR} to {MAX_YEAR}, in UTC)"
    )


def _json_int(value: Any) -> Any:
    """Integers as JSON Schema sees them: 5 and 5.0 yes, true no."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _id(value: Any) -> Any:
    """Ids as JSON Schema's `integer` sees them too: 876 and 876.0 alike."""
    if isinstance(value, float) and value.is_integer() and value >= 0:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, Field(strict=True), AfterValidator(_rstrip)]
#: an extension field: "x204" or "ext. 204" (a CRM export's Ext column) is 204, as one
#: written inside the phone is
Extension = Annotated[
    str, Field(strict=True), AfterValidator(lambda v: extension_digits(_rstrip(v)))
]
Name = Annotated[
    str,
    Field(strict=True),
    StringConstraints(min_length=1, pattern=r"\S"),
    AfterValidator(_rstrip),
]
Phone = Annotated[
    str,
    Field(
        strict=True,
        json_schema_extra={"examples": ["+16507991144", "+1 (650) 799-1144"]},
    ),
    AfterValidator(_phone),
]
CallerId = Annotated[
    str,
    Field(strict=True, json_schema_extra={"examples": ["+16501231234"]}),
    AfterValidator(_caller_id),
]
ListedPhone = Annotated[
    str,
    Field(strict=True, json_schema_extra={"examples": ["+16507991144", "+1 415 555 0132 x204"]}),
    AfterValidator(_listed_phone),
]
Email = Annotated[str, Field(strict=True), StringConstraints(pattern=EMAIL_PATTERN)]


def _encoding(value: str) -> str:
    if text_encoding(value) is None:
        raise ValueError(
            f"{quote(value)} is not an encoding a contacts file may name: use utf-8 (the "
            "default), windows-1252 (Excel's 'CSV (Comma delimited)' in western Europe and "
            "the Americas), iso-8859-1, mac-roman, shift_jis, gb18030 ...; UTF-16 is read "
            "from its byte order mark"
        )
    return value


FileEncoding = Annotated[
    str,
    Field(strict=True, json_schema_extra={"examples": ["windows-1252", "iso-8859-1"]}),
    AfterValidator(_encoding),
]
UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_datetime),
    PlainSerializer(format_datetime, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}),
]


def _blank_is_none(value: Any) -> Any:
    """`""` means what null means (README: null, absent and "" are alike)."""
    return None if value == "" else value


def _or_blank(schema: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema({"anyOf": [schema, {"const": ""}, {"type": "null"}]})


OptionalDatetime = Annotated[
    UtcDatetime | None,
    BeforeValidator(_blank_is_none),
    _or_blank({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}),
]
OptionalEmail = Annotated[
    Email | None,
    BeforeValidator(_blank_is_none),
    _or_blank({"type": "string", "pattern": EMAIL_PATTERN}),
]
CampaignId = Annotated[
    str,
    BeforeValidator(_id),
    Field(strict=True),
    StringConstraints(pattern=r"^[0-9]+$"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]+$"},
                {"type": "integer", "minimum": 0},
            ]
        }
    ),
]
WholeNumber = Annotated[int, BeforeValidator(_json_int), Field(strict=True)]
Version = Annotated[
    Literal[1],
    BeforeValidator(_json_int),
    WithJsonSchema({"const": 1, "type": "integer", "description": "Manifest format version: 1."}),
]
Status = CampaignStatus
assert tuple(Status.__args__) == CAMPAIGN_STATUSES  # type: ignore[attr-defined]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)


class AddressSpec(_Spec):
    """A postal address; every part optional."""

    recipient: Text | None = None
    line1: Text | None = None
    line2: Text | None = None
    city: Text | None = None
    region: Text | None = Field(None, description="State, province or region.")
    postal_code: Text | None = Field(None, description="Quote it: 02134 unquoted is a number.")
    country: Text | None = None


class NumberSpec(_Spec):
    """One person to call in a campaign."""

    phone: Phone = Field(
        description="Any form the phonenumbers library parses as a possible number; "
        "national forms need phone_region. Kept as E.164. An extension written in it "
        '("+1 415 555 0105 x7", ";ext=5", "ext. 9") goes to extension.'
    )
    extension: Extension | None = Field(
        None,
        description='Digits; "x204", "ext. 204" or "#204" is read as 204, and digits of '
        "another script (Arabic-Indic, full-width) as ASCII ones.",
    )
    first_name: Text | None = None
    last_name: Text | None = None
    title: Text | None = None
    company: Text | None = None
    email: OptionalEmail = None
    address: AddressSpec | None = None

    _extension = model_validator(mode="before")(_extension_of_phone)


class ColumnsSpec(_Spec):
    """numbers_csv_columns: contact field -> the numbers_csv header that fills it."""

    phone: Name | None = None
    extension: Name | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    title: Name | None = None
    company: Name | None = None
    email: Name | None = None
    recipient: Name | None = None
    line1: Name | None = None
    line2: Name | None = None
    city: Name | None = None
    region: Name | None = None
    postal_code: Name | None = None
    country: Name | None = None


class CampaignFields(_Spec):
    """Campaign fields a manifest may manage. A field left out is not managed."""

    instructions: Text | None = Field(None, description="Instructions for the caller.")
    pitch: Text | None = Field(None, description="Pitch for the campaign.")
    language: Text | None = Field(None, description="Language of the campaign, e.g. en.")
    status: Status = Field(
        None,  # type: ignore[arg-type]  # absent means unmanaged; null is refused
        description="pending | ready | paused | completed | archived. A new campaign that "
        "should be ready is created pending and made ready once its numbers are in.",
    )
    from_number: CallerId = Field(  # type: ignore[assignment]  # absent: unmanaged; null refused
        None,
        description="Caller ID; must be confirmed on the account. The API never returns it: "
        "upcall-sync reads it back through the from_number filter.",
    )
    start_datetime: OptionalDatetime = Field(
        None, description='Start time, with Z or an offset. null or "" clears it.'
    )
    end_datetime: OptionalDatetime = Field(
        None,
        description='End time, with Z or an offset; after start_datetime. null or "" clears it.',
    )


class DefaultsSpec(CampaignFields):
    """Campaign fields applied to every campaign of this file that does not set them."""


class CampaignSpec(CampaignFields):
    """One campaign."""

    model_config = ConfigDict(
        json_schema_extra={
            "dependentRequired": {
                "numbers_csv_columns": ["numbers_csv"],
                "numbers_sheet": ["numbers_csv"],
                "numbers_csv_encoding": ["numbers_csv"],
            }
        }
    )

    name: Name = Field(
        description="Required, unique across all manifest files (a name may repeat only where "
        "every entry of that name pins an id). Names that differ only in case, spacing or "
        "invisible characters are a warning."
    )
    id: CampaignId | None = Field(
        None,
        description="Binds this entry to that live campaign (for renames, or when live names "
        "repeat).",
    )
    numbers: list[NumberSpec] = Field(default_factory=list, description="People to call.")
    numbers_csv: Annotated[str, Field(strict=True, min_length=1)] | None = Field(
        None,
        description="A contacts file of more numbers, relative to this file: .csv, .tsv, .txt "
        "or .xlsx, with a header row of NumberSpec field names (address parts by bare name) "
        "or a known CRM export's headers, as saved. See the numbers_csv section below.",
    )
    numbers_csv_columns: ColumnsSpec | None = Field(
        None,
        description="Which header of numbers_csv fills which contact field, e.g. "
        '{phone: "Mobile Phone Number", company: Account}. Wins over own names and aliases; '
        "columns that fill no field are then ignored, with a warning.",
    )
    numbers_sheet: Name | None = Field(
        None,
        description="The sheet of a .xlsx numbers_csv to read (its exact name); default the "
        "first sheet (a hidden first sheet must be named).",
    )
    numbers_csv_encoding: FileEncoding | None = Field(
        None,
        description="The text encoding of a .csv/.tsv/.txt numbers_csv saved in another "
        "than UTF-8, e.g. windows-1252 (Excel's 'CSV (Comma delimited)') or iso-8859-1 "
        "(Salesforce Classic's exports); default UTF-8, and UTF-16 by its byte order mark.",
    )

    @model_validator(mode="after")
    def _contacts_file_keys(self) -> CampaignSpec:
        # as the schema's dependentRequired says: the keys need numbers_csv beside them
        if "numbers_csv" not in self.model_fields_set:
            for key in ("numbers_csv_columns", "numbers_sheet", "numbers_csv_encoding"):
                if key in self.model_fields_set:
                    raise ValueError(f"{key} needs numbers_csv (it says how to read that file)")
        return self


class SafetySpec(_Spec):
    """When a plan is unsafe (apply then needs --force)."""

    max_update_percent: Annotated[
        float,
        Field(
            ge=0,
            le=100,
            strict=True,
            description="A plan that updates more than this share of the existing "
            "campaigns is unsafe (when there are min_existing or more).",
        ),
    ] = 30.0
    max_archive_percent: Annotated[
        float,
        Field(
            ge=0,
            le=100,
            strict=True,
            description="A plan that archives more than this share of the live campaigns "
            "in prune_scope is unsafe (when there are min_existing or more).",
        ),
    ] = 30.0
    min_existing: Annotated[
        WholeNumber,
        Field(
            ge=0,
            description="Below this many existing campaigns (for updates) or campaigns in "
            "prune_scope (for archives), no share is unsafe.",
        ),
    ] = 10


class ManifestSpec(_Spec):
    """An upcall-sync manifest file (format version 1)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="upcall-sync manifest",
        json_schema_extra={
            "$id": "https://upcall-sync.dev/schema/manifest-v1.json",
            "dependentRequired": {
                "do_not_call_csv_columns": ["do_not_call_csv"],
                "do_not_call_sheet": ["do_not_call_csv"],
                "do_not_call_csv_encoding": ["do_not_call_csv"],
            },
        },
    )

    version: Version
    contact_list: Name | None = Field(
        None,
        description="The contact list that stages numbers, found or created by name; default "
        '"upcall-sync". Must agree across files.',
    )
    phone_region: Literal[REGIONS] | None = Field(  # type: ignore[valid-type]
        None,
        description="ISO country code (e.g. US) that lets phones be written in national form.",
    )
    prune_scope: Name | None = Field(
        None,
        description="Glob on campaign names that --prune may archive. Must agree across files.",
    )
    safety: SafetySpec | None = Field(
        None, description="Limits past which a plan is unsafe. Must agree across files."
    )
    patch: Literal["merge", "replace"] | None = Field(
        None,
        description="What the API's campaign PATCH does, as `upcall-sync doctor --write-probe` "
        "found: merge (updates what it is sent) or replace (clears what it is not sent). "
        "upcall-sync sends every attribute either way; with replace, plan requires "
        "from_number on every campaign it updates (the API never returns it, so it cannot "
        "be sent back unless the manifest manages it). Must agree across files.",
    )
    defaults: DefaultsSpec | None = Field(
        None, description="Campaign fields for every campaign of this file that leaves them out."
    )
    do_not_call: list[ListedPhone] | None = Field(
        None,
        description="Phones never to call, in any form a number accepts; an entry without an "
        "extension covers every extension. Lists of all files add up. validate fails on a "
        "campaign number on the list; plan leaves it out and pauses a ready campaign that "
        "holds one.",
    )
    manage_other_lists: Annotated[bool, Field(strict=True)] | None = Field(
        None,
        description="true: a changed detail of a person whose campaign number came from "
        "another contact list is updated in that list (found by phone and name); the plan "
        "names every campaign the edit touches. Default false: such changes are reported as "
        "drift. Must agree across files.",
    )
    do_not_call_csv: Annotated[str, Field(strict=True, min_length=1)] | None = Field(
        None,
        description="A contacts file of more do-not-call phones (same rules as numbers_csv; "
        "an empty extension covers every extension; only its phone and extension columns are "
        "read), relative to this file.",
    )
    do_not_call_csv_columns: ColumnsSpec | None = Field(
        None,
        description="Which header of do_not_call_csv is the phone (and extension), as "
        'numbers_csv_columns: e.g. {phone: "Mobile Phone Number"}; without it, every '
        "phone column of an export is read.",
    )
    do_not_call_sheet: Name | None = Field(
        None,
        description="The sheet of a .xlsx do_not_call_csv to read (its exact name); default "
        "the first sheet (a hidden first sheet must be named).",
    )
    do_not_call_csv_encoding: FileEncoding | None = Field(
        None,
        description="The text encoding of a .csv/.tsv/.txt do_not_call_csv, as "
        "numbers_csv_encoding.",
    )
    campaigns: list[CampaignSpec] = Field(
        default_factory=list, description="The campaigns this file manages."
    )

    @model_validator(mode="after")
    def _stoplist_file_keys(self) -> ManifestSpec:
        if "do_not_call_csv" not in self.model_fields_set:
            for key in ("do_not_call_csv_columns", "do_not_call_sheet", "do_not_call_csv_encoding"):
                if key in self.model_fields_set:
                    raise ValueError(f"{key} needs do_not_call_csv (it says how to read that file)")
        return self


#: the columns a numbers_csv may have: a contact's fields, address parts by bare name
CSV_COLUMNS = CONTACT_FIELDS
assert tuple(ColumnsSpec.model_fields) == CSV_COLUMNS
