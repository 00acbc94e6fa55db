"""Turning JSON:API resource objects into typed models, with one-line errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
