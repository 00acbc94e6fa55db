"""The Markdown plan's timeline: a Mermaid `gantt` of the campaign windows a plan touches.

GitHub and GitLab draw a ```` ```mermaid ```` block in a comment as a diagram,
so a reviewer sees where windows fall instead of comparing timestamps. Drawn:
campaigns the plan creates (one bar), campaigns whose start or end moves (the
window before and after, two bars) and campaigns it sets ready (their window).
At most `MAX_CAMPAIGNS` are drawn, then "and N more"; a window without both
dates (or ending before it starts) is listed under the diagram, not drawn. A
date the plan leaves as it is and does not know (a saved plan shown again
knows only the rows it changes) is listed as "unchanged", not as missing.

Names come from manifests and the live account, so they are written in a form
Mermaid cannot read as syntax: letters, digits, spaces and a few harmless
marks as they are; everything else as Mermaid's `#NNN;` entity (never `:`,
`;`, `#`, `%`, a backtick or `<` as such, so a name cannot end its line, open
a directive or comment, or close the code fence); control characters dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from upcall_sync.core.changes import Change, CreateCampaign, Plan, UpdateCampaign, Value, quoted
from upcall_sync.errors import markdown_text

#: campaigns drawn at most (each one or two bars); the rest are counted
MAX_CAMPAIGNS = 12
#: characters of a name drawn at most (the rest shortened to "...")
MAX_NAME = 60
#: punctuation kept as it is in names (everything else outside letters and digits
#: becomes an entity)
_PLAIN = frozenset(" -_.,()'/+!?@")
_DATE = "%Y-%m-%d %H:%M"
_MERMAID_DATE = "YYYY-MM-DD HH:mm"  # the same, as Mermaid (dayjs) spells it
_AXIS = "%Y-%m-%d"


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None

    @property
    def drawable(self) -> bool:
        return self.start is not None and self.end is not None and self.end > self.start

    def bar(self, label: str, tag: str) -> str:
        assert self.start is not None and self.end is not None
        return f"    {label} :{tag}, {_when(self.start)}, {_when(self.end)}"


@dataclass(frozen=True)
class Entry:
    """One campaign on the timeline: its window before (None: created) and after."""

    name: str
    before: Window | None
    after: Window
    ready: bool
    why: str  # "created", "window moved", "set ready"
    #: the dates ("start", "end") the plan leaves as they are: one missing from the
    #: window may exist live all the same (a saved plan shown again knows only the
    #: rows it changes), so it is "unchanged", never "no start"
    kept: frozenset[str] = frozenset()


def entries(plan: Plan) -> list[Entry]:
    """The plan's campaigns that belong on the timeline, in plan order."""
    out: list[Entry] = []
    for change in plan.changes:
        entry = _entry(change)
        if entry is not None:
            out.append(entry)
    return out


def _entry(change: Change) -> Entry | None:
    name = change.campaign or ""
    if isinstance(change, CreateCampaign):
        v = change.values
        after = Window(_dt(v.get("start_datetime")), _dt(v.get("end_datetime")))
        return Entry(name, None, after, v.get("status") == "ready", "created")
    if not isinstance(change, UpdateCampaign):
        return None
    rows = {r.name: r for r in change.fields}
    live_start, live_end = change.live_window
    start, end = rows.get("start_datetime"), rows.get("end_datetime")
    before = Window(
        _dt(start.before) if start else live_start, _dt(end.before) if end else live_end
    )
    after = Window(
        _dt(start.after) if start else before.start, _dt(end.after) if end else before.end
    )
    status = rows.get("status")
    ready = status is not None and status.after == "ready"
    kept = frozenset(
        side
        for side, row in (("start", start), ("end", end))
        if row is None and not change.live_window_known
    )
    if start or end:
        return Entry(name, before, after, ready, "window moved", kept)
    if ready:
        return Entry(name, None, after, True, "set ready", kept)
    return None


def _dt(value: Value) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_DATE)


def mermaid_text(name: str) -> str:
    """A name as Mermaid text that cannot be read as syntax (see the module doc)."""
    visible = (
        " " if ch.isspace() else ch
        for ch in name
        if ch.isspace() or not unicodedata.category(ch).startswith("C")
    )
    clean = " ".join("".join(visible).split())
    if len(clean) > MAX_NAME:
        clean = clean[: MAX_NAME - 3].rstrip() + "..."
    if not clean:
        return "(no name)"
    return "".join(ch if ch.isalnum() or ch in _PLAIN else f"#{ord(ch)};" for ch in clean)


def _bars(entry: Entry) -> list[str]:
    lines = [f"    section {mermaid_text(entry.name)}"]
    if entry.before is not None:
        lines.append(entry.before.bar("before", "done"))
        lines.append(entry.after.bar("after, ready" if entry.ready else "after", "active"))
    else:
        label = "new" if entry.why == "created" else "ready"
        if entry.why == "created" and entry.ready:
            label = "new, ready"
        lines.append(entry.after.bar(label, "active"))
    return lines


def _drawable(entry: Entry) -> bool:
    return entry.after.drawable and (entry.before is None or entry.before.drawable)


def _listed(entry: Entry) -> str:
    def side(value: datetime | None, which: str) -> str:
        if value is not None:
            return _when(value)
        return f"{which} unchanged" if which in entry.kept else f"no {which}"

    def show(w: Window | None) -> str:
        if w is None:
            return ""
        return f"{side(w.start, 'start')} to {side(w.end, 'end')}"

    window = show(entry.after)
    if entry.before is not None:
        window = f"{show(entry.before)} -> {window}"
    return f"- {markdown_text(quoted(entry.name))} ({entry.why}): {window}\n"


def timeline_markdown(plan: Plan, *, max_campaigns: int = MAX_CAMPAIGNS) -> str:
    """The timeline section of the Markdown plan ("" when no campaign belongs on it)."""
    found = entries(plan)
    if not found:
        return ""
    drawn = [e for e in found if _drawable(e)]
    listed = [e for e in found if not _drawable(e)]
    parts = ["**Timeline** (campaign windows, UTC)\n\n"]
    if drawn:
        shown = drawn[:max_campaigns]
        lines = [
            "```mermaid",
            "gantt",
            "    dateFormat YYYY-MM-DD HH:mm",
            "    axisFormat %Y-%m-%d",
        ]
        for entry in shown:
            lines.extend(_bars(entry))
        lines.append("```")
        parts.append("\n".join(lines) + "\n\n")
        if len(drawn) > len(shown):
            more = len(drawn) - len(shown)
            parts.append(
                f"... and {more:,} more campaign{'s' if more != 1 else ''} on the timeline: "
                "run `upcall-sync plan` for them\n\n"
            )
    if listed:
        parts.append(
            "Not drawn (no start or no end, one the plan leaves unchanged and does not "
            "know, or an end before the start):\n\n"
        )
        parts.extend(_listed(e) for e in listed[:max_campaigns])
        if len(listed) > max_campaigns:
            parts.append(f"- ... and {len(listed) - max_campaigns:,} more\n")
        parts.append("\n")
    return "".join(parts)
