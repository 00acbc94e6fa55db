"""The Markdown plan's timeline: a Mermaid gantt of the campaign windows a plan touches.

Every block is checked twice: structurally (each line one of the few forms the
timeline writes, no name able to end a line, open a comment or directive, or
close the fence), and, where node is installed, by Mermaid's own parser
(`tests/mermaid/parse.mjs`, the parser GitHub runs), which must read back each
bar with its campaign name, its label and its dates.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.core.changes import (
    CreateCampaign,
    FieldChange,
    Plan,
    UpdateCampaign,
    campaign_address,
)
from upcall_sync.emulator import Emulator
from upcall_sync.output.render import render_markdown
from upcall_sync.output.timeline import MAX_CAMPAIGNS, mermaid_text, timeline_markdown

from .conftest import ROOT, run_cli

MERMAID = ROOT / "tests" / "mermaid"
T0 = datetime(2031, 7, 11, 16, 0, tzinfo=UTC)

HOSTILE = [
    "Acme: spring; #1 %% not a comment",
    "```\n</details><script>alert(1)</script>",
    "%%{init: {'theme': 'dark'}}%%",
    "section evil\n    x :done, 2020-01-01, 2020-01-02",
    "dateFormat YYYY",
    "a\u202eb\u0000c\u200bd",  # RTL override, NUL, zero-width space
    '<img src=x onerror=alert(1)> & "quotes" `tick`',
    "Café Lucía — 100% ✓ #35;",
    "   ",
    "x" * 300,
]


def create(name: str, start: datetime | None, end: datetime | None, **more: Any) -> CreateCampaign:
    values: dict[str, Any] = {"name": name, **more}
    if start is not None:
        values["start_datetime"] = start
    if end is not None:
        values["end_datetime"] = end
    return CreateCampaign(address=campaign_address(name), campaign=name, values=values)


def move(name: str, before: tuple[datetime, datetime], end: datetime) -> UpdateCampaign:
    return UpdateCampaign(
        address=campaign_address(name),
        campaign=name,
        live_id="7",
        fields=(FieldChange("end_datetime", before[1], end),),
        live_window=before,
    )


def blocks(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```\n", markdown, re.S)


LINE = re.compile(
    r"gantt|    dateFormat YYYY-MM-DD HH:mm|    axisFormat %Y-%m-%d"
    r"|    section (?:[^:;#%`<>\n]|#\d+;)+"
    r"|    (before|after|after, ready|new|new, ready|ready) :(done|active), "
    r"\d{4}-\d\d-\d\d \d\d:\d\d, \d{4}-\d\d-\d\d \d\d:\d\d"
)


def check_structure(block: str) -> None:
    """Each line is one of the forms the timeline writes; names only in `section` lines,
    as plain text and #NNN; entities."""
    for line in block.split("\n"):
        assert LINE.fullmatch(line), line


def mermaid_parse(sources: list[str]) -> list[dict[str, Any]] | None:
    """Mermaid's own reading of each diagram (None: node is not installed here)."""
    node = shutil.which("node")
    if node is None:
        return None
    assert (MERMAID / "node_modules" / "mermaid").is_dir(), (
        "node is installed but Mermaid's parser is not: run scripts/test "
        "(it runs npm ci --prefix tests/mermaid)"
    )
    done = subprocess.run(
        [node, str(MERMAID / "parse.mjs")],
        input=json.dumps(sources),
        capture_output=True,
        text=True,
        timeout=120,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:00.000Z")


# -- what is drawn ---------------------------------------------------------------------


def test_created_moved_and_ready_campaigns_are_drawn_and_parsed_back() -> None:
    end = T0 + timedelta(days=2)
    plan = Plan.build(
        [
            create("New one", T0, T0 + timedelta(days=1), status="ready"),
            move("Moved", (T0, T0 + timedelta(days=1)), end),
            UpdateCampaign(
                address=campaign_address("Readied"),
                campaign="Readied",
                live_id="8",
                fields=(FieldChange("status", "paused", "ready"),),
                live_window=(T0, end),
            ),
        ],
        [],
    )
    text = timeline_markdown(plan)
    (block,) = blocks(text)
    check_structure(block)
    assert block.count("section ") == 3
    assert "    before :done, 2031-07-11 16:00, 2031-07-12 16:00" in block
    assert "    after :active, 2031-07-11 16:00, 2031-07-13 16:00" in block
    parsed = mermaid_parse([block])
    if parsed is None:
        return
    assert parsed[0]["ok"] and parsed[0]["type"] == "gantt", parsed
    bars = [(t["section"], t["text"], t["start"], t["end"]) for t in parsed[0]["tasks"]]
    assert bars == [
        ("New one", "new, ready", when(T0), when(T0 + timedelta(days=1))),
        ("Moved", "before", when(T0), when(T0 + timedelta(days=1))),
        ("Moved", "after", when(T0), when(end)),
        ("Readied", "ready", when(T0), when(end)),
    ]


def test_hostile_names_cannot_break_the_diagram_or_the_comment() -> None:
    changes = [create(name, T0, T0 + timedelta(hours=i + 1)) for i, name in enumerate(HOSTILE)]
    plan = Plan.build(changes, [])
    out = io.StringIO()
    render_markdown(plan, out)
    markdown = out.getvalue()
    (block,) = blocks(markdown)
    check_structure(block)
    # one fence opened and closed per diagram: no name closed it or opened another
    assert markdown.count("```mermaid") == 1
    # the diagram's fence closes right after its last bar, and nothing of a name opened
    # another (the folded diff blocks are the renderer's, tested in test_render)
    timeline = markdown.split("**Timeline**", 1)[1].split("<details>", 1)[0]
    assert timeline.count("```") == 2
    assert "<" not in timeline and "&" not in timeline.replace("#38;", "")
    sections = [line[len("    section ") :] for line in block.split("\n") if "section " in line]
    assert len(sections) == min(len(HOSTILE), MAX_CAMPAIGNS)
    parsed = mermaid_parse([block])
    if parsed is None:
        return
    assert parsed[0]["ok"], parsed
    shown = [t["section"] for t in parsed[0]["tasks"]]
    assert shown == [displayed(name) for name in sorted(HOSTILE)]  # plans sort by campaign


def displayed(name: str) -> str:
    """What the diagram should show: whitespace runs as one space, invisible control and
    format characters gone, long names shortened."""
    invisible = {"\u202e", "\u0000", "\u200b"}
    clean = " ".join("".join(ch for ch in name if ch not in invisible).split())
    if len(clean) > 60:
        clean = clean[:57] + "..."
    return clean or "(no name)"


def test_mermaid_text_keeps_plain_names_readable_and_encodes_the_rest() -> None:
    assert mermaid_text("Acme Q3 satisfaction survey") == "Acme Q3 satisfaction survey"
    assert mermaid_text("Acme win-back (Spanish)") == "Acme win-back (Spanish)"
    assert mermaid_text("a: b; #c") == "a#58; b#59; #35;c"
    assert mermaid_text("Café") == "Café"
    assert mermaid_text("\n\t") == "(no name)"


def test_windows_without_dates_are_listed_not_drawn() -> None:
    plan = Plan.build(
        [
            create("No dates", None, None),
            create("Start only", T0, None),
            create("Backwards", T0, T0 - timedelta(hours=1)),
            create("Drawn", T0, T0 + timedelta(hours=1)),
        ],
        [],
    )
    text = timeline_markdown(plan)
    (block,) = blocks(text)
    assert block.count("section ") == 1 and "section Drawn" in block
    listed = text.split("Not drawn", 1)[1]
    assert '- "No dates" (created): no start to no end' in listed
    assert '- "Start only" (created): 2031-07-11 16:00 to no end' in listed
    assert '"Backwards" (created)' in listed


def test_only_dates_listed_gives_no_diagram() -> None:
    text = timeline_markdown(Plan.build([create("No dates", None, None)], []))
    assert "```mermaid" not in text and '"No dates"' in text


def test_the_timeline_is_capped_with_the_count_of_the_rest() -> None:
    n = MAX_CAMPAIGNS + 5
    plan = Plan.build([create(f"c{i:02d}", T0, T0 + timedelta(days=1)) for i in range(n)], [])
    text = timeline_markdown(plan)
    (block,) = blocks(text)
    assert block.count("section ") == MAX_CAMPAIGNS
    assert "... and 5 more campaigns on the timeline" in text


def test_no_timeline_for_plans_that_touch_no_window() -> None:
    assert timeline_markdown(Plan.build([], [])) == ""
    rename = UpdateCampaign(
        address=campaign_address("x"),
        campaign="x",
        live_id="1",
        fields=(FieldChange("pitch", "a", "b"),),
    )
    assert timeline_markdown(Plan.build([rename], [])) == ""


def test_the_comment_budget_counts_the_diagram() -> None:
    plan = Plan.build(
        [create(f"campaign {i:03d} " + "y" * 40, T0, T0 + timedelta(days=1)) for i in range(12)],
        [],
    )
    diagram = len(timeline_markdown(plan))
    roomy, tight = io.StringIO(), io.StringIO()
    render_markdown(plan, roomy, limit=20_000)
    render_markdown(plan, tight, limit=4 * diagram)  # a quarter is less than the diagram
    assert "```mermaid" in roomy.getvalue() and len(roomy.getvalue()) <= 20_000
    assert "```mermaid" not in tight.getvalue()
    assert "Timeline left out" in tight.getvalue()
    assert len(tight.getvalue()) <= 4 * diagram


# -- end to end ------------------------------------------------------------------------


def test_markdown_plan_of_the_examples_with_a_window_moved_shows_before_and_after(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path / "examples")
    assert run_cli(capsys, "apply", "--auto-approve", "-q", ".")[0] == 0
    manifest = tmp_path / "examples" / "campaigns.yaml"
    text = manifest.read_text()
    assert "end_datetime: 2031-07-12T17:00:00-07:00" in text
    manifest.write_text(text.replace("2031-07-12T17:00:00-07:00", "2031-07-19T17:00:00-07:00"))

    code, out, err = run_cli(capsys, "plan", "--format", "markdown", ".")

    assert code == 0, err
    (block,) = blocks(out)
    check_structure(block)
    assert block.split("\n") == [
        "gantt",
        "    dateFormat YYYY-MM-DD HH:mm",
        "    axisFormat %Y-%m-%d",
        "    section Acme Q3 satisfaction survey",
        "    before :done, 2031-07-11 16:00, 2031-07-13 00:00",
        "    after :active, 2031-07-11 16:00, 2031-07-20 00:00",
    ]
    parsed = mermaid_parse([block])
    if parsed is not None:
        assert [(t["text"], t["end"]) for t in parsed[0]["tasks"]] == [
            ("before", "2031-07-13T00:00:00.000Z"),
            ("after", "2031-07-20T00:00:00.000Z"),
        ]
    code, out, _err = run_cli(capsys, "plan", "--format", "markdown", "--no-timeline", ".")
    assert code == 0 and "mermaid" not in out and "end_datetime" in out


def test_the_readme_plan_example_shows_the_timeline() -> None:
    readme = (ROOT / "README.md").read_text()
    (block,) = blocks(readme)
    check_structure(block)
    assert " :done, " in block and " :active, " in block
