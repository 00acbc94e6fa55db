"""Plans as text (people), JSON (machines) and Markdown (pull-request comments).

All three walk the plan the same way (`sections()`); they differ in formatting
only, never diff anything, and write to a file handle.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from upcall_sync import __version__
from upcall_sync.changes import Change, Plan, quoted

JSON_FORMAT_VERSION = "1"
SAMPLE = 5
MARKDOWN_LIMIT = 65_000

GREEN, YELLOW, RED, BOLD, DIM, RESET = (
    "\033[32m",
    "\033[33m",
    "\033[31m",
    "\033[1m",
    "\033[2m",
    "\033[0m",
)
_COLOUR = {"+": GREEN, "~": YELLOW, "-": RED, "!": YELLOW}


@dataclass
class Row:
    symbol: str
    field: str
    before: Any
    after: Any


@dataclass
class Section:
    """One thing a reader looks at: a campaign, the contacts, the contact list."""

    symbol: str
    heading: str
    source: str = ""
    rows: list[Row] = field(default_factory=list)
    items_title: str = ""
    items: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changes: int = 0


def show(value: Any, *, unknown: bool = False) -> str:
    if unknown:
        return "(unknown: the API never returns it)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str):
        return quoted(value)
    return json.dumps(value)


def sections(plan: Plan) -> list[Section]:
    """The plan as reading order: the list, each campaign, then contact updates."""
    out: list[Section] = []
    groups = plan.by_campaign()
    contacts = groups.pop(None, [])
    for change in contacts:
        if change.kind == "create_list":
            name = (change.after or {}).get("name")
            out.append(
                Section(
                    "+", change.address, _src(change), [Row("+", "name", None, name)], changes=1
                )
            )
    for name in sorted(k for k in groups if k is not None):
        out.append(_campaign_section(name, groups[name]))
    created = [c for c in contacts if c.kind == "create_contact"]
    updated = [c for c in contacts if c.kind == "update_contact"]
    if created:
        out.append(
            Section(
                "+",
                f"{len(created):,} list contact{'s' if len(created) != 1 else ''} to create",
                items_title="",
                items=[c.contact.label for c in created if c.contact],
                changes=len(created),
            )
        )
    for change in updated:
        rows = [
            Row("~", k, (change.before or {}).get(k), v)
            for k, v in sorted((change.after or {}).items())
        ]
        ident = f" (id {change.live_id})" if change.live_id else ""
        out.append(Section("~", f"{change.address}{ident}", _src(change), rows, changes=1))
    return out


def _campaign_section(name: str, changes: list[Change]) -> Section:
    main = next((c for c in changes if c.kind != "add_number"), None)
    adds = [c for c in changes if c.kind == "add_number"]
    ident = ""
    live_id = main.live_id if main else (adds[0].live_id if adds else None)
    if live_id:
        ident = f" (id {live_id})"
    heading = f"campaign[{quoted(name)}]{ident}"
    if main is None:
        section = Section("~", heading)
    elif main.kind == "create_campaign":
        section = Section("+", heading, _src(main))
        section.rows = [Row("+", k, None, v) for k, v in (main.after or {}).items()]
    elif main.kind == "archive_campaign":
        section = Section("-", heading, _src(main))
        section.rows = [Row("~", "status", (main.before or {}).get("status"), "archived")]
    else:
        section = Section("~", heading, _src(main))
        section.rows = [
            Row("~", k, (main.before or {}).get(k), v) for k, v in (main.after or {}).items()
        ]
    if main is not None and main.ready_after_numbers:
        if main.kind == "create_campaign":
            section.notes.append(
                'created with status "pending", set to "ready" after its numbers are added'
            )
        else:
            section.notes.append('status set to "ready" after its new numbers are added')
    if adds:
        section.items_title = f"{len(adds):,} number{'s' if len(adds) != 1 else ''} to add"
        section.items = [c.contact.label for c in adds if c.contact]
    section.changes = len(changes)
    return section


def _src(change: Change) -> str:
    return str(change.source) if change.source else ""


# -- text --------------------------------------------------------------------------


def render_text(
    plan: Plan, out: IO[str], *, color: bool = False, show_all_numbers: bool = False
) -> None:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if color else text

    if plan.empty:
        _notices_text(plan, out, paint)
        out.write(paint(plan.summary_line(), BOLD) + "\n")
        return
    out.write("upcall-sync will make these changes:\n\n")
    for section in sections(plan):
        head = f"  {section.symbol} {section.heading}"
        where = f"  {paint(section.source, DIM)}" if section.source else ""
        out.write(paint(head, _COLOUR[section.symbol]) + where + "\n")
        width = max((len(r.field) for r in section.rows), default=0)
        for row in section.rows:
            unknown = row.field == "from_number" and row.before is None and row.symbol == "~"
            if row.symbol == "+":
                line = f"      {row.field.ljust(width)}  {show(row.after)}"
            else:
                line = (
                    f"      {row.field.ljust(width)}  {show(row.before, unknown=unknown)} -> "
                    f"{show(row.after)}"
                )
            out.write(paint(line, _COLOUR[row.symbol]) + "\n")
        for note in section.notes:
            out.write(f"      ({note})\n")
        if section.items:
            title = section.items_title or ""
            if title:
                out.write(paint(f"      + {title}:", GREEN) + "\n")
            shown = section.items if show_all_numbers else section.items[:SAMPLE]
            for item in shown:
                out.write(paint(f"          + {item}", GREEN) + "\n")
            hidden = len(section.items) - len(shown)
            if hidden:
                out.write(f"          ... and {hidden:,} more (--show-all-numbers lists them)\n")
        out.write("\n")
    _notices_text(plan, out, paint)
    for reason in plan.unsafe:
        out.write(paint(f"UNSAFE: {reason}; apply needs --force", RED) + "\n")
    if plan.unsafe:
        out.write("\n")
    out.write(paint(plan.summary_line(), BOLD) + "\n")


def _notices_text(plan: Plan, out: IO[str], paint: Any) -> None:
    if not plan.notices:
        return
    out.write("Notices (not changes):\n")
    for notice in plan.notices:
        out.write(paint(f"  ! {notice.message}", YELLOW) + "\n")
        for item in notice.items:
            out.write(f"      {item}\n")
    out.write("\n")


# -- JSON --------------------------------------------------------------------------


def plan_document(plan: Plan) -> dict[str, Any]:
    """The versioned JSON form (schema/plan.schema.json)."""
    return {
        "format_version": JSON_FORMAT_VERSION,
        "tool": {"name": "upcall-sync", "version": __version__},
        "empty": plan.empty,
        "summary": plan.summary(),
        "summary_line": plan.summary_line(),
        "unsafe": list(plan.unsafe),
        "changes": [c.to_dict() for c in plan.changes],
        "notices": [n.to_dict() for n in plan.notices],
    }


def render_json(plan: Plan, out: IO[str]) -> None:
    json.dump(plan_document(plan), out, indent=2, ensure_ascii=False)
    out.write("\n")


# -- Markdown ----------------------------------------------------------------------


def render_markdown(plan: Plan, out: IO[str], *, limit: int = MARKDOWN_LIMIT) -> None:
    """A PR comment: summary table first, details folded; never cut mid-block."""
    head = _markdown_head(plan)
    all_sections = sections(plan)
    blocks = [_markdown_block(s) for s in all_sections]
    tail = _markdown_tail(plan)
    budget = limit - len(head) - len(tail) - 400
    body: list[str] = []
    used = 0
    omitted: list[Section] = []
    for section, block in zip(all_sections, blocks, strict=True):
        if not omitted and used + len(block) <= budget:
            body.append(block)
            used += len(block)
        else:
            omitted.append(section)
    if omitted:
        lines = [
            f"<details><summary>{len(omitted):,} more section{'s' if len(omitted) != 1 else ''} "
            "(summarized to fit a comment)</summary>\n",
        ]
        for section in omitted:
            line = f"- `{section.symbol}` {_escape(section.heading)}: {section.changes:,} change"
            line += "s\n" if section.changes != 1 else "\n"
            if used + sum(len(x) for x in lines) + len(line) > budget:
                lines.append("- ... run `upcall-sync plan` for the rest\n")
                break
            lines.append(line)
        lines.append("\n</details>\n")
        body.append("".join(lines))
    out.write(head + "".join(body) + tail)


def _markdown_head(plan: Plan) -> str:
    s = plan.summary()
    status = "No changes" if plan.empty else ("Unsafe plan" if plan.unsafe else "Changes")
    rows = [
        "| | create | update | archive | add |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| campaigns | {s['campaigns']['create']:,} | {s['campaigns']['update']:,} "
        f"| {s['campaigns']['archive']:,} | |",
        f"| numbers | | | | {s['numbers']['add']:,} |",
        f"| list contacts | {s['contacts']['create']:,} | {s['contacts']['update']:,} | | |",
    ]
    text = f"### upcall-sync plan: {status}\n\n**{plan.summary_line()}**\n\n"
    if not plan.empty:
        text += "\n".join(rows) + "\n\n"
    for reason in plan.unsafe:
        text += f"> [!WARNING]\n> Unsafe: {reason}; `apply` needs `--force`.\n\n"
    return text


def _markdown_tail(plan: Plan) -> str:
    if not plan.notices:
        return ""
    lines = ["<details><summary>Notices (not changes)</summary>\n\n"]
    for notice in plan.notices[:50]:
        lines.append(f"- {_escape(notice.message)}\n")
    if len(plan.notices) > 50:
        lines.append(f"- ... and {len(plan.notices) - 50} more\n")
    lines.append("\n</details>\n")
    return "".join(lines)


def _markdown_block(section: Section) -> str:
    diff: list[str] = []
    for row in section.rows:
        if row.symbol == "+":
            diff.append(f"+ {row.field}: {show(row.after)}")
        else:
            unknown = row.field == "from_number" and row.before is None
            diff.append(f"- {row.field}: {show(row.before, unknown=unknown)}")
            diff.append(f"+ {row.field}: {show(row.after)}")
    for note in section.notes:
        diff.append(f"# {note}")
    if section.items:
        if section.items_title:
            diff.append(f"# {section.items_title}")
        for item in section.items[:SAMPLE]:
            diff.append(f"+ {item}")
        if len(section.items) > SAMPLE:
            diff.append(f"# ... and {len(section.items) - SAMPLE:,} more")
    where = f" <sub>{_escape(section.source)}</sub>" if section.source else ""
    summary = f"<code>{section.symbol}</code> {_escape(section.heading)}{where}"
    fence = "```"
    body = "\n".join(_fence_safe(line) for line in diff)
    return f"<details><summary>{summary}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fence_safe(line: str) -> str:
    return line.replace("```", "`\u200b``")


def render(plan: Plan, fmt: str, out: IO[str], **options: Any) -> None:
    if fmt == "json":
        render_json(plan, out)
    elif fmt == "markdown":
        render_markdown(plan, out)
    else:
        render_text(plan, out, **options)


# -- apply: progress and report -------------------------------------------------------

_VERB = {
    "applied": "done",
    "failed": "FAILED",
    "skipped": "skipped",
    "not_attempted": "not attempted",
}


#: a zero-argument callable giving the rate limiter's status (`transport.limiter.status`):
#: an object with `throttled`, `rate` and `describe()`
StatusSource = Callable[[], Any]


class LineProgress:
    """One line per finished operation: what CI logs want.

    With `status`, a line also says when the server starts throttling (and at
    what rate requests go), when that rate moves by a fifth, and when it stops.
    """

    def __init__(self, out: IO[str], status: StatusSource | None = None) -> None:
        self.out = out
        self._status = status
        self._shown: tuple[bool, float | None] = (False, None)

    def _throttle_line(self) -> None:
        if self._status is None:
            return
        now = self._status()
        was_throttled, was_rate = self._shown
        moved = (
            now.rate is not None
            and was_rate is not None
            and abs(now.rate - was_rate) > 0.2 * was_rate
        )
        if now.throttled and (not was_throttled or moved):
            self.out.write(f"{'throttled':>13}  {now.describe()}\n")
            self._shown = (True, now.rate)
        elif was_throttled and not now.throttled:
            pace = now.describe()
            self.out.write(f"{'throttled':>13}  no longer{': ' + pace if pace else ''}\n")
            self._shown = (False, now.rate)

    def __call__(self, op: Any) -> None:
        self._throttle_line()
        detail = op.result if op.status == "applied" else op.message
        suffix = (
            f" ({detail})" if detail and op.status == "applied" else f": {detail}" if detail else ""
        )
        self.out.write(f"{_VERB.get(op.status, op.status):>13}  {op.label}{suffix}\n")
        self.out.flush()

    def close(self) -> None:
        return


class BarProgress:
    """A rich progress bar with counts, rate and ETA, for terminals."""

    def __init__(self, total: int, out: IO[str], status: StatusSource | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]applying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[problems]}"),
            TextColumn("[yellow]{task.fields[throttle]}"),
            console=Console(file=out),
            transient=False,
        )
        self._status = status
        self._task = self._progress.add_task(
            "apply", total=total, rate="", problems="", throttle=""
        )
        self._failed = 0
        self._done = 0
        self._started = time.monotonic()
        self._progress.start()

    def __call__(self, op: Any) -> None:
        self._done += 1
        if op.status == "failed":
            self._failed += 1
            self._progress.console.print(
                f"[red]FAILED[/red] {op.label}: {op.message}", markup=True, highlight=False
            )
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self._progress.update(
            self._task,
            advance=1,
            rate=f"{self._done / elapsed:,.1f}/s",
            problems=f"[red]{self._failed} failed[/red]" if self._failed else "",
            throttle=self._status().describe() if self._status is not None else "",
        )

    def close(self) -> None:
        self._progress.stop()


def render_report(report: Any, out: IO[str], *, limit: int = 20) -> None:
    """What failed, what was skipped and what was not attempted, then the summary line."""
    for status, title in (
        ("failed", "Failed"),
        ("skipped", "Skipped (depends on a change that did not happen)"),
        ("not_attempted", "Not attempted"),
    ):
        ops = report.by_status(status)
        if not ops:
            continue
        out.write(f"\n{title} ({len(ops):,}):\n")
        for op in ops[:limit]:
            detail = f": {op.message}" if op.message else ""
            out.write(f"  {op.label}{detail}\n")
        if len(ops) > limit:
            out.write(f"  ... and {len(ops) - limit:,} more\n")
    if report.interrupted:
        out.write("\nInterrupted: in-flight changes finished, nothing new was started.\n")
    out.write("\n" + report.summary_line() + "\n")
    if not report.ok:
        out.write("Run apply again to complete the rest.\n")
