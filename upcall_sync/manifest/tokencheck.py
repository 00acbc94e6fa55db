"""Manifest values that hold the auth token: plan refuses them, and so does validate when
the run has a token. Light on purpose: offline `validate` loads no HTTP stack for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from upcall_sync.core.model import DesiredState
from upcall_sync.errors import Location, Problem


def token_problems(desired: DesiredState, redact: Callable[[str], str]) -> list[Problem]:
    """Where the manifests hold a value that `redact` hides (the auth token): also what
    offline `validate` reports, when the run has a token, so the PR check agrees with plan."""
    # one pass over all the text first: a plan of 100,000 numbers holds over a million
    # values, and only a manifest that does hold the token needs them one by one
    every = _all_text(desired)
    if redact(every) == every:
        return []
    return [
        Problem(where, path, "holds the auth token; a manifest may not hold it")
        for where, path, value in _manifest_texts(desired)
        if redact(value) != value
    ]


def _all_text(desired: DesiredState) -> str:
    """Every text value of the manifests, without their locations, NUL-separated (the fast
    screen; the numbers' fields joined by str.join in C: half the time of a generator)."""
    parts = [desired.contact_list]
    for c in desired.campaigns:
        parts.append(c.name)
        parts.extend(v for v in c.fields.values() if isinstance(v, str))
        parts.append("\0".join(map("\0".join, (n.contact for n in c.numbers))))
    return "\0".join(parts)


def _manifest_texts(desired: DesiredState) -> Iterator[tuple[Location, str, str]]:
    if desired.contact_list_source is not None:
        yield desired.contact_list_source, "contact_list", desired.contact_list
    for c in desired.campaigns:
        yield c.source, "name", c.name
        for key, value in c.fields.items():
            if isinstance(value, str):
                yield c.where(key), key, value
        for n in c.numbers:
            for key, value in n.contact._asdict().items():
                yield n.source, key, value


def holds_token(data: object, redact: Callable[[str], str]) -> bool:
    """Whether any key or text of a manifest as read (its YAML, valid or not) holds what
    `redact` hides: `load_what_validates` looks where `token_problems`, which sees only
    what validated, cannot."""
    every = "\0".join(_raw_texts(data))
    return redact(every) != every


def _raw_texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _raw_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _raw_texts(item)
