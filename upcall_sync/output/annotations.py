"""GitHub workflow commands (`--format github`): each problem as an annotation that GitHub
shows on the pull request's diff, at the file and line it names.

    ::error file=campaigns/q3.yaml,line=12,col=5::campaigns[0].pitch: unknown key "pich"

Escaped as GitHub's runner reads them: in a message `%`, CR and LF; in a property
(file, title) also `,` and `:`. Control characters of a file name are shown escaped
first (as everywhere else), so a name cannot end the command or start another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Literal

from upcall_sync.core.changes import Notice, Plan
from upcall_sync.errors import Location, Problem

Level = Literal["error", "warning", "notice"]

_DATA = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_PROPERTY = {**_DATA, ":": "%3A", ",": "%2C"}


def _printable(text: str) -> str:
    return "".join(
        ch if ch.isprintable() or ch in "\r\n" else ch.encode("unicode_escape").decode()
        for ch in text
    )


def escape_data(text: str) -> str:
    return "".join(_DATA.get(ch, ch) for ch in _printable(text))


def escape_property(text: str) -> str:
    return "".join(_PROPERTY.get(ch, ch) for ch in _printable(text))


def command(
    level: Level, message: str, where: Location | None = None, *, title: str = "upcall-sync"
) -> str:
    """One workflow command line (no newline)."""
    props: list[str] = []
    if where is not None and where.file:
        props.append(f"file={escape_property(where.file)}")
        if where.line > 0:
            props.append(f"line={where.line}")
            if where.column > 0:
                props.append(f"col={where.column}")
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def problem(level: Level, p: Problem) -> str:
    message = f"{p.path}: {p.message}" if p.path else p.message
    return command(level, message, p.location)


def write_problems(level: Level, problems: Iterable[Problem], out: IO[str]) -> None:
    for p in problems:
        out.write(problem(level, p) + "\n")


#: a warning notice's message: "FILE:LINE[:COL]: warning: TEXT" (hints.warning_notices)
_LOCATED = re.compile(r"(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?: warning: (?P<text>.*)", re.S)


def notice(n: Notice) -> str:
    """A warning notice that names a file:line becomes a warning there; any other notice
    (unmanaged numbers, prune candidates, ...) a notice without a place."""
    m = _LOCATED.fullmatch(n.message) if n.kind == "warning" else None
    if m is not None:
        where = Location(m["file"], int(m["line"]), int(m["col"] or 0))
        return command("warning", m["text"], where)
    return command("notice", f"{n.address}: {n.message}" if n.address else n.message)


def write_plan(plan: Plan, out: IO[str]) -> None:
    """Annotations of a plan: its notices (the changes themselves go in the text plan)."""
    for n in plan.notices:
        out.write(notice(n) + "\n")
