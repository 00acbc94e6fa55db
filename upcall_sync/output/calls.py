"""Who a plan will have called, as text and Markdown: the dial lists a plan grows.

Kept apart from `render` so the dial lists read the same in every format and
the renderer's other sections stay as they are. Formats only: the lists come
from the plan (`Plan.dialing`), never derived here.
"""

from __future__ import annotations

from collections.abc import Callable

from upcall_sync.core.changes import Plan, UpdateContact, quoted
from upcall_sync.core.dialing import DialList

#: how many people of one campaign Markdown lists before "and N more"
SHOWN = 20


def dialing_heading(dial: DialList) -> str:
    ident = f" (id {dial.live_id})" if dial.live_id else ""
    n = len(dial.added)
    text = f"campaign[{quoted(dial.campaign)}]{ident}, ready: {n:,} added"
    if dial.already:
        one = dial.already == 1
        text += (
            f"; the {dial.already:,} number{'' if one else 's'} already in it "
            f"start{'s' if one else ''} to be called"
        )
    return text


def same_line_warning(label: str, others: tuple[str, ...]) -> str:
    return (
        f"{label} is at the same phone and extension as {', '.join(others)} in this "
        "campaign: check it is not one person called twice"
    )


def dialing_text(plan: Plan, show_all: bool, sample: int) -> list[str]:
    """Lines for the text plan (empty when nobody is added to a ready campaign)."""
    if not plan.dialing:
        return []
    lines = ["Who will be called (added to campaigns that are or will be ready):"]
    for dial in plan.dialing:
        lines.append(f"  {dialing_heading(dial)}")
        shown = dial.added if show_all else dial.added[:sample]
        lines.extend(f"      {c.label}" for c in shown)
        if len(dial.added) > len(shown):
            lines.append(
                f"      ... and {len(dial.added) - len(shown):,} more "
                "(--show-all-numbers lists them)"
            )
        lines.extend(f"      ! {warning}" for warning in _shared_lines(dial))
        if dial.not_in_manifests:
            lines.append(f"      ! {outside_heading(dial)}:")
            outside = dial.not_in_manifests
            shown_out = outside if show_all else outside[:sample]
            lines.extend(f"          {c.label}" for c in shown_out)
            if len(outside) > len(shown_out):
                lines.append(
                    f"          ... and {len(outside) - len(shown_out):,} more "
                    "(--show-all-numbers lists them)"
                )
    return [*lines, ""]


def outside_heading(dial: DialList) -> str:
    """The warning over the people a campaign that starts dialing holds and the
    manifests do not list: no reviewer of the manifests has seen them."""
    n = len(dial.not_in_manifests)
    return (
        f"{n:,} of them {'is' if n == 1 else 'are'} not in the manifests "
        "(added outside upcall-sync) and will be called too"
    )


def _shared_lines(dial: DialList) -> list[str]:
    """One warning per phone and extension that several of the campaign's people share
    (each of them is flagged with the others: two people, one warning, not two)."""
    groups: dict[tuple[str, ...], None] = {}
    for label, others in sorted(dict(dial.same_line).items()):
        groups.setdefault(tuple(sorted({label, *others})), None)
    return [
        f"{', '.join(group[:-1])} and {group[-1]} are at the same phone and extension in this "
        "campaign: check they are not one person called twice"
        for group in groups
    ]


def dialing_markdown(plan: Plan, escape: Callable[[str], str], budget: int | None = None) -> str:
    """A section for the PR comment; a person twice at one line stands out.

    Within `budget` characters when given: campaigns come whole, in order, while they
    fit; the rest are counted in one line (with the people flagged among them), so a
    plan that makes hundreds of campaigns dial still fits a comment."""
    if not plan.dialing:
        return ""
    parts = ["#### Who will be called\n\n"]
    used = len(parts[0])
    for i, dial in enumerate(plan.dialing):
        block = _dial_block(dial, escape)
        if budget is not None and used + len(block) > budget - _DIAL_CLOSING:
            rest = plan.dialing[i:]
            flagged = sum(len(d.same_line) for d in rest)
            note = f" ({flagged:,} of them flagged: called twice?)" if flagged else ""
            already = sum(d.already for d in rest)
            if already:
                note += f", {already:,} already in them start to be called"
            outside = sum(len(d.not_in_manifests) for d in rest)
            if outside:  # never cut silently: nobody reviewing the manifests saw them
                note += (
                    f" (:warning: **{outside:,} of them not in the manifests**, added "
                    "outside upcall-sync)"
                )
            s = "s" if len(rest) != 1 else ""
            parts.append(
                f"- ... and {len(rest):,} more campaign{s} that will dial, "
                f"{sum(len(d.added) for d in rest):,} people added{note}: "
                "run `upcall-sync plan`\n"
            )
            break
        parts.append(block)
        used += len(block)
    return "".join(parts) + "\n"


_DIAL_CLOSING = 300  # the line that counts the campaigns left out


def _dial_block(dial: DialList, escape: Callable[[str], str]) -> str:
    parts = [f"- {escape(dialing_heading(dial))}\n"]
    twice = dict(dial.same_line)
    for c in dial.added[:SHOWN]:
        others = twice.get(c.label)
        parts.append(_flagged(escape, c.label, others) if others else f"  - {escape(c.label)}\n")
    if len(dial.added) > SHOWN:
        parts.append(f"  - ... and {len(dial.added) - SHOWN:,} more: run `upcall-sync plan`\n")
    hidden = {c.label for c in dial.added[SHOWN:]}
    parts.extend(_flagged(escape, k, v) for k, v in sorted(twice.items()) if k in hidden)
    if dial.not_in_manifests:
        outside = dial.not_in_manifests
        parts.append(f"  - :warning: **{escape(outside_heading(dial))}:**\n")
        parts.extend(f"    - {escape(c.label)}\n" for c in outside[:SHOWN])
        if len(outside) > SHOWN:
            parts.append(f"    - ... and {len(outside) - SHOWN:,} more: run `upcall-sync plan`\n")
    return "".join(parts)


def _flagged(escape: Callable[[str], str], label: str, others: tuple[str, ...]) -> str:
    return f"  - **{escape(label)}** :warning: {escape(same_line_warning(label, others))}\n"


def contact_update_heading(change: UpdateContact) -> str:
    """A contact update's heading: a rename reads as one, before -> after."""
    if change.renames:
        return (
            f"{change.address} (id {change.live_id}): rename "
            f"{change.current.label} -> {change.contact.label}"
        )
    return f"{change.address} (id {change.live_id})"


def contact_update_notes(change: UpdateContact) -> list[str]:
    notes = []
    if change.touches:
        names = ", ".join(quoted(c) for c in change.touches)
        s = "s" if len(change.touches) != 1 else ""
        notes.append(f"its numbers in campaign{s} {names} show this contact: the edit reaches them")
    if change.list_id is not None:
        notes.append(
            f"list {quoted(change.list_name)} (id {change.list_id}) is not upcall-sync's "
            "(manage_other_lists): campaigns the manifests do not name are not read, and "
            "their numbers made from this contact may change too"
        )
    return notes
