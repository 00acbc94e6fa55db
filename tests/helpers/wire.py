"""Plain HTTP against the emulator: what goes over the wire, exactly."""

from __future__ import annotations

import json
from typing import Any

import requests

from upcall_sync.emulator import Emulator

from ..conftest import TOKEN


class Raw:
    """Plain requests against the emulator, so tests see exactly what goes over the wire."""

    def __init__(self, emu: Emulator, token: str | None = TOKEN) -> None:
        self.base = emu.base_url
        self.token = token

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/vnd.api+json",
    ) -> requests.Response:
        query = dict(params or {})
        if self.token is not None:
            query["auth_token"] = self.token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": content_type} if data is not None else {}
        return requests.request(
            method, self.base + path, params=query, data=data, headers=headers, timeout=5
        )


def campaign(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "campaigns", "attributes": attrs}}
