"""Turning JSON:API resource objects into typed models, with one-line errors."""

from __future__ import annotations

from operator import itemgetter
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from upcall_sync.core.model import ADDRESS_PARTS, TOP_FIELDS
from upcall_sync.errors import ApiResponseError

M = TypeVar("M", bound=BaseModel)


def parse_resource(
    item: Any, model: type[M], types: tuple[str, ...], *, method: str, url: str, where: str = "data"
) -> M:
    """One resource object (`{"id", "type", "attributes"}`) as `model`."""
    if not isinstance(item, dict):
        raise ApiResponseError(
            f"{method} {url}: {where} is not a resource object", method=method, url=url
        )
    rtype = item.get("type")
    if types and rtype not in types:
        raise ApiResponseError(
            f"{method} {url}: {where}.type is {rtype!r}, expected {' or '.join(types)}",
            method=method,
            url=url,
        )
    attrs = item.get("attributes")
    if not isinstance(attrs, dict):
        raise ApiResponseError(
            f"{method} {url}: {where}.attributes is missing or not an object",
            method=method,
            url=url,
        )
    try:
        return model.model_validate({**attrs, "id": item.get("id")})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        part = "id" if loc == "id" else f"attributes.{loc}"
        raise ApiResponseError(
            f"{method} {url}: unexpected response: {where}.{part}: {first['msg']}",
            method=method,
            url=url,
        ) from exc


def parse_single(doc: Any, model: type[M], types: tuple[str, ...], *, method: str, url: str) -> M:
    if not isinstance(doc, dict) or "data" not in doc:
        raise ApiResponseError(
            f"{method} {url}: expected a JSON:API document with data", method=method, url=url
        )
    return parse_resource(doc["data"], model, types, method=method, url=url)


def document(rtype: str, attributes: dict[str, Any], rid: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": rtype, "attributes": attributes}
    if rid is not None:
        data["id"] = rid
    return {"data": data}


TOP_KEYS = TOP_FIELDS
ADDRESS_KEYS = ADDRESS_PARTS
_NO_ADDRESS: dict[str, Any] = {}


_GET_CONTACT = itemgetter(*TOP_KEYS)
_GET_ADDRESS = itemgetter(*ADDRESS_KEYS)


class _NotText(Exception):
    pass


def _not_text(value: object) -> str:
    raise _NotText(value)


def contact_row(
    item: Any, types: tuple[str, ...], *, method: str, url: str
) -> tuple[str, str, tuple[str, ...]]:
    """(id, status, 14 contact values) of a campaign number or list contact, fast.

    The hot path of a plan reads hundreds of thousands of these; this checks
    the same things the pydantic models do (object shapes, text or null
    values), in one pass, without building a model per row. Values are the
    text the API sent, null as "" (`rows.CONTACT_KEYS` order); nothing else
    is normalized here.
    """
    try:
        if item["type"] not in types:
            raise _NotText(item["type"])
        attrs = item["attributes"]
        rid = item["id"]
        address = attrs["address"] or _NO_ADDRESS
        raw = _GET_CONTACT(attrs) + _GET_ADDRESS(address)
        values = tuple(
            [v if v.__class__ is str else ("" if v is None else _not_text(v)) for v in raw]
        )
        if not values[0].strip() or rid.__class__ not in (str, int):
            raise _NotText(rid)
        status = attrs.get("status")
        return str(rid), status if status.__class__ is str else "", values
    except (KeyError, TypeError, AttributeError, _NotText):
        # a missing key, a wrong shape or a non-text value: the careful path says which
        return _careful_contact_row(item, types, method=method, url=url)


def _careful_contact_row(
    item: Any, types: tuple[str, ...], *, method: str, url: str
) -> tuple[str, str, tuple[str, ...]]:
    if not isinstance(item, dict) or item.get("type") not in types:
        return _slow_contact_row(item, types, method=method, url=url)
    attrs = item.get("attributes")
    rid = item.get("id")
    if not isinstance(attrs, dict) or not isinstance(rid, str | int) or isinstance(rid, bool):
        return _slow_contact_row(item, types, method=method, url=url)
    address = attrs.get("address") or _NO_ADDRESS
    if not isinstance(address, dict):
        raise ApiResponseError(
            f"{method} {url}: unexpected response: data.attributes.address: not an object",
            method=method,
            url=url,
        )
    values = []
    for source, keys in ((attrs, TOP_KEYS), (address, ADDRESS_KEYS)):
        for key in keys:
            value = source.get(key)
            if value is None:
                values.append("")
            elif isinstance(value, str):
                values.append(value)
            else:
                where = key if source is attrs else f"address.{key}"
                raise ApiResponseError(
                    f"{method} {url}: unexpected response: data.attributes.{where}: "
                    "Input should be a valid string",
                    method=method,
                    url=url,
                )
    if not values[0].strip():
        raise ApiResponseError(
            f"{method} {url}: unexpected response: data.attributes.phone: Field required",
            method=method,
            url=url,
        )
    status = attrs.get("status")
    return str(rid), status if isinstance(status, str) else "", tuple(values)


def _slow_contact_row(
    item: Any, types: tuple[str, ...], *, method: str, url: str
) -> tuple[str, str, tuple[str, ...]]:
    """Only to produce the model's own error message for a malformed row."""
    from upcall_sync.client.models import CampaignNumber

    parse_resource(item, CampaignNumber, types, method=method, url=url)
    raise ApiResponseError(f"{method} {url}: unexpected response", method=method, url=url)
