"""Turning pydantic validation errors into problems a person understands, at file:line:col."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from upcall_sync.core.normalize import quote
from upcall_sync.errors import Problem
from upcall_sync.manifest.spec import (
    AddressSpec,
    CampaignSpec,
    ColumnsSpec,
    DefaultsSpec,
    ManifestSpec,
    NumberSpec,
    SafetySpec,
)
from upcall_sync.manifest.yamlload import LocDict, LocList, Plain

_MODELS: dict[str, type[BaseModel]] = {
    "": ManifestSpec,
    "campaigns[]": CampaignSpec,
    "campaigns[].numbers[]": NumberSpec,
    "campaigns[].numbers_csv_columns": ColumnsSpec,
    "campaigns[].numbers[].address": AddressSpec,
    "defaults": DefaultsSpec,
    "safety": SafetySpec,
}


def problems_of(
    exc: ValidationError, data: LocDict, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        node: Any = data
        where = data.loc
        plain: Plain | None = None
        shape = []
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, LocDict) and isinstance(part, str):
                if part in node:
                    where = (
                        node.where_key(part)
                        if err["type"] == "extra_forbidden"
                        else node.where(part)
                    )
                    plain = node.plain.get(part) if last else None
                    node = node[part]
                    shape.append(part)
                else:
                    where = node.loc
                    shape.append(part)
                    break
            elif isinstance(node, LocList) and isinstance(part, int):
                where = node.where(part)
                plain = node.plain.get(part) if last else None
                node = node[part] if part < len(node) else None
                shape.append("[]")
            else:
                break
        path = path_of(loc)
        if err["type"] == "extra_forbidden":
            parent = ".".join(shape[:-1]).replace(".[]", "[]")
            model = _MODELS.get(parent)
            key = str(loc[-1])
            allowed = tuple(model.model_fields) if model else ()
            out.append(
                Problem(
                    where,
                    path,
                    f"unknown key {quote(key)}{suggest(key, allowed)}",
                )
            )
            continue
        out.append(Problem(where, path, message(err, plain)))
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def path_of(loc: Iterable[Any]) -> str:
    """campaigns[2].numbers[7].phone; odd keys as ["quoted"] so a path is one line."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            text += ("." if text else "") + str(part)
        else:
            text += f"[{quote(str(part))}]"
    return text


def suggest(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    if allowed:
        return f"; expected one of {', '.join(allowed)}"
    return ""


def message(err: Any, plain: Plain | None) -> str:
    """One pydantic error as a sentence a person understands."""
    kind = err["type"]
    value = err.get("input")
    field_name = str(err["loc"][-1]) if err["loc"] else ""
    if kind == "missing":
        if field_name == "version":
            return "is required: add `version: 1` at the top of the file"
        return "is required"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind in _WANTED:
        return _type_message(kind, value, field_name, plain)
    if kind == "literal_error":
        literal = _literal_message(value, field_name)
        if literal:
            return literal
    if kind == "string_pattern_mismatch":
        return _pattern_message(value, field_name)
    if kind == "string_too_short":
        return "must not be empty"
    limit = err.get("ctx") or {}
    if kind == "less_than_equal":
        return f"must be at most {limit.get('le')}, got {_short(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {limit.get('ge')}, got {_short(value)}"
    return str(err["msg"])


_WANTED = {
    "string_type": "text",
    "model_type": "a mapping",
    "dict_type": "a mapping",
    "list_type": "a list",
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
}


def _type_message(kind: str, value: Any, field_name: str, plain: Plain | None) -> str:
    if plain is not None and kind == "string_type" and plain.kind != "null":
        return (
            f"expected text, but YAML reads {plain.text} as a {plain.kind}; "
            f"quote it: {quote(plain.text)}"
        )
    if value is None:
        if field_name in ("status", "from_number"):
            return f"cannot be null; leave {field_name} out to leave it unmanaged"
        return f"expected {_WANTED[kind]}, got nothing (null)"
    return f"expected {_WANTED[kind]}, got {described(value)}"


def _literal_message(value: Any, field_name: str) -> str | None:
    if field_name == "version":
        if isinstance(value, str):
            return f"expected the number 1, got text {_short(value)}: write `version: 1`"
        return f"version {_short(value)} is not supported; this upcall-sync reads version 1"
    if field_name == "status" and value is None:
        return "cannot be null; leave status out to leave it unmanaged"
    if field_name == "status":
        return (
            f"{_short(value)} is not a valid status; use one of pending, ready, paused, "
            "completed, archived"
        )
    if field_name == "phone_region":
        return f"{_short(value)} is not a region code phonenumbers knows (e.g. US, GB, DE)"
    return None


def _pattern_message(value: Any, field_name: str) -> str:
    if field_name == "email":
        return f"{_short(value)} is not a valid email address"
    if field_name == "id":
        return f'{_short(value)} is not a campaign id (digits, e.g. "876")'
    return "must not be empty"


def described(value: Any) -> str:
    """`a list`, `text "abc"`, `the number 5`, `a boolean (true)`."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"text {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(value: Any) -> str:
    if isinstance(value, list | dict):
        return ""
    text = quote(value)
    return text if len(text) <= 60 else text[:57] + '..."'
