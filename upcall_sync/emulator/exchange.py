"""One exchange with the emulated API: the request `Api.handle` takes, the `Result` it
answers with, and the 4xx it raises (`HttpError`, `bad`), whose errors a `Result`
carries as a field map or as JSON:API error objects (`error_title`, `error_source`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

#: a campaign listing's datetime filters: the query parameter -> the store's filter
DATETIME_FILTERS = {
    "min_start_datetime": "min_start",
    "max_start_datetime": "max_start",
    "min_created_datetime": "min_created",
    "max_created_datetime": "max_created",
    "min_updated_datetime": "min_updated",
    "max_updated_datetime": "max_updated",
}


class HttpError(Exception):
    """A 4xx answer with field messages."""

    def __init__(self, status: int, errors: dict[str, list[str]]) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors


def bad(field_name: str, message: str, status: int = 400) -> HttpError:
    return HttpError(status, {field_name: [message]})


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes = b""
    content_type: str = ""
    host: str = "127.0.0.1"
    scheme: str = "http"
    #: a misbehaviour the server injects into listings: loop-next, foreign-next, huge-page
    override: str | None = None


@dataclass
class Result:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    account: int | None = None
    wrote: bool = False
    #: the body already serialized (list pages, whose data SQLite writes as JSON)
    raw: bytes | None = None

    def __post_init__(self) -> None:
        """JSON:API error objects carry the status of the response they travel in."""
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, dict) and item.get("status") != str(self.status):
                    item["status"] = str(self.status)
                    item["title"] = error_title(self.status, "base")

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return (
            json.dumps(self.body, separators=(",", ":")).encode() if self.body is not None else b""
        )


def error_title(status: int, name: str) -> str:
    if status == 400 and "pointer" in error_source(name).get("source", {}):
        return "Invalid attribute"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_source(name: str) -> dict[str, Any]:
    """Where a JSON:API error object says the problem is."""
    if name == "base":
        return {}
    if name in ("auth_token", "page", "page[size]") or name in DATETIME_FILTERS:
        return {"source": {"parameter": name}}
    if name in ("data", "id", "type", "attributes"):
        return {"source": {"pointer": "/data" if name == "data" else "/data/" + name}}
    return {"source": {"pointer": "/data/attributes/" + name.replace(".", "/")}}
