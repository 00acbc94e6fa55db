"""One sticky comment per marker, for any forge (GitHub PR comments, GitLab MR notes).

A comment is ours when its first line is the marker AND it was written by the login the
token acts as. Anyone can post the marker: a comment that carries it but was written by
someone else (a lookalike) is never adopted, edited or closed; it is named in the log.

A thread is anything with `whoami()`, `items()` (the comments, each a dict with `id`,
`body` and `user.login` or GitLab's `author.username`), `edit(id, text)`, `post(text)`,
`log(line)` and `delay` (seconds between tries).
"""

from __future__ import annotations

import json
import time
import urllib.error
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

COMMENT_LIMIT = 65_000  # GitHub refuses bodies over 65,536 characters; GitLab 1,000,000
TRIES = 3


class Thread(Protocol):
    delay: float

    def log(self, line: str) -> None: ...
    def whoami(self) -> str: ...
    def items(self) -> Iterable[dict[str, Any]]: ...
    def edit(self, ident: int, text: str) -> None: ...
    def post(self, text: str) -> int: ...


class Transient(Protocol):
    transient: bool


def author(item: dict[str, Any]) -> str:
    for key, name in (("user", "login"), ("author", "username")):
        who = item.get(key)
        login = who.get(name) if isinstance(who, dict) else None
        if isinstance(login, str):
            return login
    return "(unknown)"


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


@dataclass(frozen=True)
class Found:
    """What carries a marker: ours (written by the token's login) and lookalikes."""

    ours: list[dict[str, Any]]
    lookalikes: list[dict[str, Any]]


class _Me(Protocol):
    def whoami(self) -> str: ...


def find_marked(who: _Me, items: Iterable[dict[str, Any]], match: Callable[[str], bool]) -> Found:
    me = who.whoami()
    ours: list[dict[str, Any]] = []
    lookalikes: list[dict[str, Any]] = []
    for item in items:
        if match(item.get("body") or item.get("description") or ""):
            (ours if author(item) == me else lookalikes).append(item)
    return Found(ours, lookalikes)


def name_lookalikes(who: Any, found: Found, what: str) -> int:
    """Say in the log which lookalikes were ignored; returns how many."""
    for item in found.lookalikes:
        ident = item.get("id") if what == "comment" else f"#{item.get('number')}"
        who.log(
            f"::warning title=upcall-sync::ignored {what} {ident} by @{author(item)}: it carries "
            f"upcall-sync's marker but was not written by @{who.whoami()} (a lookalike)"
        )
    return len(found.lookalikes)


def with_marker(marker: str, body: str, *, cut_note: str = "") -> str:
    text = f"{marker}\n{body}"
    if len(text) > COMMENT_LIMIT:
        cut = text.rfind("\n", 0, COMMENT_LIMIT - 400)
        note = cut_note or "_(cut to fit a GitHub comment)_"
        text = text[: max(cut, len(marker))] + f"\n\n{note}\n"
    return text


def post_once(thread: Thread, text: str, again: Callable[[], int | None]) -> int:
    """POST; after a 5xx or a lost answer, look again (`again`) before re-sending, so a
    comment that landed anyway is edited instead of posted twice."""
    for attempt in range(1, TRIES + 1):
        try:
            return thread.post(text)
        except Exception as exc:
            if not getattr(exc, "transient", False) or attempt == TRIES:
                raise
            thread.log(f"{exc}: looking for the comment before posting again")
            time.sleep(thread.delay * attempt)
            landed = again()
            if landed is not None:
                thread.edit(landed, text)
                return landed
    raise AssertionError("unreachable")


def upsert(
    thread: Thread,
    marker: str,
    body: str,
    *,
    adopt: Callable[[str], bool] | None = None,
    spread: Callable[[str], bool] | None = None,
    create: bool = True,
    cut_note: str = "",
) -> tuple[str, list[int]]:
    """Edit our comment whose first line is `marker`, or create it (unless `create` is
    false: then "skipped").

    Without one with `marker`: `spread` edits every one of ours whose marker line it
    accepts (each keeps its own marker line); `adopt` takes over the first one it
    accepts (with `marker` from now on).
    """

    def exact(line: str) -> bool:
        return line == marker

    wide = [m for m in (exact, adopt, spread) if m is not None]
    found = find_marked(thread, thread.items(), lambda b: any(m(first_line(b)) for m in wide))
    name_lookalikes(thread, found, "comment")

    def ours(match: Callable[[str], bool]) -> list[dict[str, Any]]:
        return [c for c in found.ours if match(first_line(c.get("body") or ""))]

    if same := ours(exact):
        cid = int(same[0]["id"])
        thread.edit(cid, with_marker(marker, body, cut_note=cut_note))
        return "updated", [cid]
    if spread is not None and (many := ours(spread)):
        for c in many:
            own = first_line(c.get("body") or "")
            thread.edit(int(c["id"]), with_marker(own, body, cut_note=cut_note))
        return "updated", [int(c["id"]) for c in many]
    if adopt is not None and (taken := ours(adopt)):
        cid = int(taken[0]["id"])
        thread.edit(cid, with_marker(marker, body, cut_note=cut_note))
        return "updated", [cid]
    if not create:
        return "skipped", []
    text = with_marker(marker, body, cut_note=cut_note)

    def again() -> int | None:
        mine = find_marked(thread, thread.items(), lambda b: first_line(b) == marker).ours
        return int(mine[0]["id"]) if mine else None

    return "created", [post_once(thread, text, again)]


# -- what both forges' REST clients share ---------------------------------------------


def with_retries(
    once: Callable[[], Any],
    *,
    tries: int,
    delay: float,
    log: Callable[[str], None],
    error: type[Exception],
) -> Any:
    """`once()`, tried again (after delay x attempt seconds) while it raises a transient
    `error` (one whose `transient` is true), up to `tries` times in all."""
    for attempt in range(1, tries + 1):
        try:
            return once()
        except error as exc:
            if not getattr(exc, "transient", False) or attempt == tries:
                raise
            log(f"{exc}: trying again ({attempt + 1} of {tries})")
            time.sleep(delay * attempt)
    raise AssertionError("unreachable")


def error_message(exc: urllib.error.HTTPError) -> str:
    """The forge's own words for a refused request: its JSON `message` (GitLab also says
    `error`), else the HTTP reason."""
    try:
        doc = json.loads(exc.read() or b"{}")
    except ValueError:
        return exc.reason or "error"
    if isinstance(doc, dict):
        return str(doc.get("message") or doc.get("error") or exc.reason or "error")
    return "error"
