"""Typed views of the Upcall v1 API's resources, as the API returns and accepts them.

Read models ignore attributes they do not know (the API may add some); write
models forbid them (a typo must not be sent). Ids are strings, as the API
returns them; numeric ids in requests are accepted and turned into strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from upcall_sync.core.model import ADDRESS_PARTS, CAMPAIGN_STATUSES, CampaignStatus

__all__ = ["CAMPAIGN_STATUSES", "CampaignStatus"]


def _id_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


ResourceId = Annotated[str, BeforeValidator(_id_to_str)]


def format_api_datetime(value: datetime) -> str:
    """UTC with milliseconds, as the API writes datetimes: 2016-07-18T10:49:18.000Z."""
    if value.tzinfo is None:
        raise ValueError("datetime without a UTC offset")
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_utc(value: datetime) -> datetime:
    """A datetime the API sent without an offset is UTC (CONTRACT.md), whatever TZ says."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


ApiDatetime = Annotated[
    datetime, AfterValidator(as_utc), PlainSerializer(format_api_datetime, return_type=str)
]


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    recipient: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


assert tuple(Address.model_fields) == ADDRESS_PARTS


class Campaign(_Read):
    id: ResourceId
    name: str
    pitch: str | None = None
    language: str | None = None
    status: str | None = None
    instructions: str | None = None
    start_datetime: ApiDatetime | None = None
    end_datetime: ApiDatetime | None = None
    created_at: ApiDatetime | None = None
    updated_at: ApiDatetime | None = None


class CampaignAttributes(_Write):
    """What POST and PATCH /campaigns accept; unset fields are not sent."""

    name: str | None = None
    instructions: str | None = None
    pitch: str | None = None
    start_datetime: ApiDatetime | None = None
    end_datetime: ApiDatetime | None = None
    language: str | None = None
    status: CampaignStatus | None = None
    from_number: str | None = None


class _ContactDetails(_Read):
    phone: str
    extension: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    email: str | None = None
    address: Address | None = None


class CampaignNumber(_ContactDetails):
    id: ResourceId
    status: str | None = None


class ContactList(_Read):
    id: ResourceId
    name: str
    created_at: ApiDatetime | None = None
    updated_at: ApiDatetime | None = None


class ListContact(_ContactDetails):
    id: ResourceId
    created_at: ApiDatetime | None = None
    updated_at: ApiDatetime | None = None


class ContactAttributes(_Write):
    """What POST and PATCH /lists/:id/contacts accept; unset fields are not sent."""

    phone: str | None = None
    extension: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    email: str | None = None
    address: dict[str, str | None] | None = None
