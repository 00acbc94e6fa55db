"""Plans as text (people), JSON (machines) and Markdown (pull-request comments).

All three walk the plan the same way (`sections()`); they differ in formatting
only, never diff anything, and write to a file handle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from upcall_sync import __version__
from upcall_sync.core.changes import (
    AddNumber,
    Change,
    CreateCampaign,
    CreateContact,
    CreateList,
    Plan,
    UpdateCampaign,
    UpdateContact,
    quoted,
    show,
)
from upcall_sync.core.model import id_order
from upcall_sync.errors import ApiStatusError, markdown_text, shown_name, workflow_command_like
from upcall_sync.output.calls import (
    contact_update_heading,
    contact_update_notes,
    dialing_markdown,
    dialing_text,
)

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


def _rows(change: Change) -> list[Row]:
    symbol = "+" if change.action in ("create", "add") else "~"
    return [Row(symbol, r.name, r.before, r.after) for r in change.rows()]


def sections(plan: Plan) -> list[Section]:
    """The plan as reading order: the list, each campaign, then contact changes."""
    out: list[Section] = []
    groups = plan.by_campaign()
    contacts = groups.pop(None, [])
    for change in contacts:
        if isinstance(change, CreateList):
            out.append(Section("+", change.address, _src(change), _rows(change), changes=1))
    for key in sorted((k for k in groups if k is not None), key=lambda k: (k[0], id_order(k[1]))):
        out.append(_campaign_section(key[0], groups[key]))
    created = [c for c in contacts if isinstance(c, CreateContact)]
    if created:
        out.append(
            Section(
                "+",
                f"{len(created):,} list contact{'s' if len(created) != 1 else ''} to create",
                items=[c.contact.label for c in created],
                changes=len(created),
            )
        )
    for change in contacts:
        if isinstance(change, UpdateContact):
            heading = contact_update_heading(change)
            section = Section("~", heading, _src(change), _rows(change), changes=1)
            section.notes.extend(contact_update_notes(change))
            out.append(section)
    return out


def _campaign_section(name: str, changes: list[Change]) -> Section:
    main = next((c for c in changes if not isinstance(c, AddNumber)), None)
    adds = [c for c in changes if isinstance(c, AddNumber)]
    live_id = main.live_id if main else (adds[0].live_id if adds else None)
    ident = f" (id {live_id})" if live_id else ""
    heading = f"campaign[{quoted(name)}]{ident}"
    if main is None:
        section = Section("~", heading)
    else:
        section = Section(main.symbol, heading, _src(main), _rows(main))
    if isinstance(main, CreateCampaign) and main.ready_after_numbers:
        section.notes.append(
            'created with status "pending", set to "ready" after its numbers are added'
        )
    elif isinstance(main, CreateCampaign) and "status" not in main.values:
        section.notes.append('created with status "pending": the entry sets no status')
    elif isinstance(main, UpdateCampaign) and main.ready_after_numbers:
        section.notes.append('status set to "ready" after its new numbers are added')
    if isinstance(main, UpdateCampaign) and main.reason:
        section.notes.append(main.reason)
    if adds:
        section.items_title = f"{len(adds):,} number{'s' if len(adds) != 1 else ''} to add"
        section.items = [c.contact.label for c in adds]
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
        _notices_text(plan, out, paint, show_all_numbers)
        out.write(paint(plan.summary_line(), BOLD) + "\n")
        return
    out.write("upcall-sync will make these changes:\n\n")
    for section in sections(plan):
        head = f"  {section.symbol} {section.heading}"
        where = f"  {paint(section.source, DIM)}" if section.source else ""
        out.write(paint(head, _COLOUR[section.symbol]) + where + "\n")
        width = max((len(r.field) for r in section.rows), default=0)
        for row in section.rows:
            if row.symbol == "+":
                line = f"      {row.field.ljust(width)}  {show(row.after)}"
            else:
                line = f"      {row.field.ljust(width)}  {show(row.before)} -> {show(row.after)}"
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
    out.write("".join(f"{line}\n" for line in dialing_text(plan, show_all_numbers, SAMPLE)))
    _notices_text(plan, out, paint, show_all_numbers)
    for reason in plan.unsafe:
        out.write(paint(f"UNSAFE: {reason}; apply needs --force", RED) + "\n")
    if plan.unsafe:
        out.write("\n")
    out.write(paint(plan.summary_line(), BOLD) + "\n")


def _notices_text(plan: Plan, out: IO[str], paint: Any, show_all: bool) -> None:
    if not plan.notices:
        return
    out.write("Notices (not changes):\n")
    for notice in plan.notices:
        out.write(paint(f"  ! {notice.message}", YELLOW) + "\n")
        shown = notice.items if show_all else notice.items[:SAMPLE]
        for item in shown:
            out.write(f"      {_item_text(item)}\n")
        hidden = len(notice.items) - len(shown)
        if hidden:
            out.write(f"      ... and {hidden:,} more (--show-all-numbers lists them)\n")
    out.write("\n")


def _item_text(item: str) -> str:
    """A notice's item (a number's label, a campaign's name) alone on its line: quoted when
    it would start with `::`, which a GitHub runner reads as a workflow command."""
    shown = shown_name(item)
    return quoted(item) if workflow_command_like(shown) else shown


# -- JSON --------------------------------------------------------------------------


def plan_document(plan: Plan, account: str | None = None) -> dict[str, Any]:
    """The versioned JSON form (schema/plan.schema.json); `account` is the fingerprint of
    the account the plan was made for (`redact.account_fingerprint`; None: unknown)."""
    return {
        "format_version": JSON_FORMAT_VERSION,
        "tool": {"name": "upcall-sync", "version": __version__},
        "account": account,
        "empty": plan.empty,
        "summary": plan.summary(),
        "summary_line": plan.summary_line(),
        "unsafe": list(plan.unsafe),
        "unapplied_differences": plan.unapplied_differences,
        "changes": [c.to_dict() for c in plan.changes],
        "notices": [n.to_dict() for n in plan.notices],
        "dialing": [d.to_dict() for d in plan.dialing],
    }


def render_json(plan: Plan, out: IO[str], *, account: str | None = None) -> None:
    json.dump(plan_document(plan, account), out, indent=2, ensure_ascii=False)
    out.write("\n")


# -- Markdown ----------------------------------------------------------------------


def render_markdown(
    plan: Plan, out: IO[str], *, limit: int = MARKDOWN_LIMIT, timeline: bool = True
) -> None:
    """A PR comment: summary table first, then the timeline (a Mermaid gantt of the
    campaign windows the plan creates, moves or sets ready; `timeline_markdown`),
    details folded; never cut mid-block.

    Under `limit` characters in all, but for a floor: the summary and who will be called
    (at least 1,000 characters of it) always show, so a limit under about 1,500 is
    exceeded (a dial-safety summary is never cut to fit). The timeline is shown when it
    takes at most a
    quarter of them; notices get what they need up to a quarter of the rest (more
    when the changes need less); campaign blocks come whole, in order, while they
    fit, and the sections left over are listed one line each, as many as fit, with
    the count of the rest.
    """
    head = _markdown_head(plan, limit // 4)
    # who will be called: as much as a third of the comment holds, the rest counted
    head += dialing_markdown(plan, _escape, max((limit - len(head)) // 3, 1_000))
    if timeline:
        head += _timeline(plan, (limit - len(head) - _SLACK) // 4)
    all_sections = sections(plan)
    blocks = [_markdown_block(s) for s in all_sections]
    room = limit - len(head) - _SLACK
    tail = _markdown_tail(plan, max(room // 4, room - sum(len(b) for b in blocks)))
    body = _markdown_body(all_sections, blocks, room - len(tail))
    out.write(head + body + tail)


_SLACK = 400  # what the closing lines of a folded list may add


def _timeline(plan: Plan, budget: int) -> str:
    from upcall_sync.output.timeline import timeline_markdown

    text = timeline_markdown(plan)
    if len(text) <= budget:
        return text
    note = "_Timeline left out: it would not fit this comment; `upcall-sync plan` lists the "
    return note + "windows._\n\n" if budget > len(note) + 20 else ""


def _markdown_body(all_sections: list[Section], blocks: list[str], budget: int) -> str:
    if sum(len(b) for b in blocks) <= budget:
        return "".join(blocks)
    lines = [_section_line(s) for s in all_sections]
    # what listing every section from i on costs, one line each
    rest = [0] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        rest[i] = rest[i + 1] + len(lines[i])
    shown: list[str] = []
    used = 0
    for i, block in enumerate(blocks):
        after = used + len(block)
        # a whole block while the one-line list of the rest still fits, or while
        # blocks take at most half the budget (the list then gets the other half)
        if after > budget or (after + rest[i + 1] > budget and after > budget // 2):
            break
        shown.append(block)
        used = after
    omitted = lines[len(shown) :]
    count = len(omitted)
    listed: list[str] = []
    for line in omitted:
        if used + len(line) > budget:
            break
        listed.append(line)
        used += len(line)
    if len(listed) < count:
        listed.append(f"- ... and {count - len(listed):,} more: run `upcall-sync plan` for them\n")
    summary = f"{count:,} more section{'s' if count != 1 else ''} (summarized to fit a comment)"
    # the blank line after </summary> makes GitHub render the list as Markdown
    return "".join(
        [*shown, f"<details><summary>{summary}</summary>\n\n", *listed, "\n</details>\n"]
    )


def _section_line(section: Section) -> str:
    s = "s" if section.changes != 1 else ""
    return f"- `{section.symbol}` {_escape(section.heading)}: {section.changes:,} change{s}\n"


def _markdown_head(plan: Plan, budget: int) -> str:
    s = plan.summary()
    status = "Unsafe plan" if plan.unsafe else "Changes"
    if plan.empty:
        status = "No changes the API can make" if plan.unapplied_differences else "No changes"
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
    return text + _markdown_callouts(plan, budget)


#: notices shown in the open, before the changes: they may change what a reviewer does
_CALLOUT = {
    "warning": "WARNING",
    "renamed": "NOTE",
    "held_paused": "WARNING",
    "unapplied_rename": "NOTE",
}


#: characters of a notice's message the Markdown plan shows at most (a message quotes
#: manifest values, a name of any length: the text plan shows it whole)
_MESSAGE_CHARS = 2_000


def _message(text: str) -> str:
    if len(text) > _MESSAGE_CHARS:
        text = text[: _MESSAGE_CHARS - 3] + "..."
    return _escape(text)


def _markdown_callouts(plan: Plan, budget: int) -> str:
    """At most 20 callouts, within `budget` characters; the rest counted."""
    shown = [n for n in plan.notices if n.kind in _CALLOUT]
    parts: list[str] = []
    used = 0
    for notice in shown[:20]:
        block = f"> [!{_CALLOUT[notice.kind]}]\n> {_message(notice.message)}\n\n"
        used += len(block)
        if used > budget:
            break
        parts.append(block)
    if len(shown) > len(parts):
        more = len(shown) - len(parts)
        parts.append(f"> [!WARNING]\n> ... and {more:,} more warnings: run `upcall-sync plan`\n\n")
    return "".join(parts)


def _markdown_tail(plan: Plan, budget: int) -> str:
    """The other notices, folded, each with its items (as many as `budget` allows)."""
    notices = [n for n in plan.notices if n.kind not in _CALLOUT]
    if not notices:
        return ""
    start, end = "<details><summary>Notices (not changes)</summary>\n\n", "\n</details>\n"
    more = "  - ... and {:,} more (`upcall-sync plan --show-all-numbers` lists them)\n"
    # each notice's "and N more" line is paid for up front, and the line counting the
    # notices left out (a message quotes names of any length: as many as fit)
    used = len(start) + len(end) + 80
    heads: list[str] = []
    for notice in notices[:50]:
        line = f"- {_message(notice.message)}\n"
        if used + len(line) + len(more) + 8 > budget:
            break
        heads.append(line)
        used += len(line) + len(more) + 8
    shown = len(heads)
    if len(notices) > shown:
        left = len(notices) - shown
        heads.append(f"- ... and {left:,} more notices: run `upcall-sync plan`\n")
    items = [[f"  - {_escape(item)}\n" for item in n.items] for n in notices[:shown]]
    allowance = _share(budget - used, [sum(len(x) for x in lines) for lines in items])
    parts = [start]
    for notice_head, lines, room in zip(heads[:shown], items, allowance, strict=True):
        parts.append(notice_head)
        spent = 0
        for k, line in enumerate(lines):
            spent += len(line)
            if spent > room:
                parts.append(more.format(len(lines) - k))
                break
            parts.append(line)
    parts.extend(heads[shown:])
    parts.append(end)
    return "".join(parts)


def _share(total: int, needs: list[int]) -> list[int]:
    """Split `total` among `needs` fairly: the smallest needs are met in full, the
    largest share what is left equally (water-filling)."""
    given = [0] * len(needs)
    left = max(total, 0)
    order = sorted(range(len(needs)), key=lambda i: needs[i])
    for rank, i in enumerate(order):
        given[i] = min(needs[i], left // (len(needs) - rank))
        left -= given[i]
    return given


def _markdown_block(section: Section) -> str:
    diff: list[str] = []
    for row in section.rows:
        if row.symbol == "+":
            diff.append(f"+ {row.field}: {show(row.after)}")
        else:
            diff.append(f"- {row.field}: {show(row.before)}")
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
    """Text for Markdown and the HTML GitHub allows in it (`errors.markdown_text`)."""
    return markdown_text(text)


def _fence_safe(line: str) -> str:
    return line.replace("```", "`\u200b``")


def render(plan: Plan, fmt: str, out: IO[str], **options: Any) -> None:
    account = options.pop("account", None)
    if fmt == "json":
        render_json(plan, out, account=account)
    elif fmt == "markdown":
        render_markdown(plan, out, **options)
    else:
        render_text(plan, out, **options)


# -- apply: progress and report -------------------------------------------------------


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
    if report.ok:
        return
    failed = report.by_status("failed")
    permanent = [op for op in failed if _permanent(op.error)]
    if report.interrupted or report.by_status("not_attempted") or len(permanent) < len(failed):
        out.write("Run apply again to complete the rest.\n")
    if permanent:
        n = len(permanent)
        statuses = ", ".join(sorted({f"HTTP {op.error.status}" for op in permanent}))
        out.write(
            f"{n:,} change{'s' if n != 1 else ''} failed for a reason running apply again "
            f"will not fix ({statuses}): correct what is named above (a manifest value, "
            "the token's permissions, a caller ID to confirm in Upcall), then apply again.\n"
        )


#: 4xx answers that a later attempt may not get (a timeout, a conflict, throttling)
_TRANSIENT_4XX = frozenset({408, 409, 423, 425, 429})


def _permanent(error: Any) -> bool:
    """The API refused the change itself: the same request will be refused again."""
    status = getattr(error, "status", None)
    return (
        isinstance(error, ApiStatusError)
        and isinstance(status, int)
        and 400 <= status < 500
        and status not in _TRANSIENT_4XX
    )


def render_duplicates(duplicates: Sequence[Any], out: IO[str]) -> None:
    """Copies of what this run created (a POST the server committed after the client had
    given up waiting): each with its ids, and what to do about them."""
    if not duplicates:
        return
    n = len(duplicates)
    out.write(
        f"\nDuplicates: {n:,} object{'s' if n != 1 else ''} this run created "
        f"{'exist' if n != 1 else 'exists'} more than once (a write the API committed "
        "after upcall-sync stopped waiting for it, or another apply running at once):\n"
    )
    for dup in duplicates:
        out.write(f"  {dup.one_line()}\n")
    out.write(
        "Archive each duplicate campaign, rename each duplicate contact list and remove "
        "each duplicate contact or number in Upcall (keep the id named), then run plan: "
        "it must show no changes. "
        "See README, 'Duplicates after a timeout'.\n"
    )


def render_remaining(
    remaining: Plan, explanation: Sequence[tuple[Change, Sequence[str]]], out: IO[str]
) -> None:
    """Apply did not converge: each change a fresh plan still shows, and what differs."""
    n = len(remaining.changes)
    out.write(
        f"\nThe account did not converge: a fresh plan of what was touched still shows "
        f"{n:,} change{'s' if n != 1 else ''}:\n"
    )
    for change, lines in explanation:
        where = f"  {change.source}" if change.source else ""
        out.write(f"  {change.one_line()}{where}\n")
        for line in lines:
            out.write(f"      {line}\n")
    out.write("\n" + remaining.summary_line() + "\n")
