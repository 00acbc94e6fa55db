"""Renderers: text, JSON (against the committed schema) and Markdown (size-bounded)."""

from __future__ import annotations

import io
import json
import re

import jsonschema

from upcall_sync.core.changes import AddNumber, Change, CreateCampaign, Notice, Plan
from upcall_sync.core.model import Contact
from upcall_sync.errors import Location
from upcall_sync.output.render import MARKDOWN_LIMIT, render_json, render_markdown, render_text

from .conftest import ROOT

SCHEMA = json.loads((ROOT / "schema" / "plan.schema.json").read_text())


def big_plan(campaigns: int = 100, numbers: int = 50) -> Plan:
    changes: list[Change] = []
    for c in range(campaigns):
        name = f"Campaign {c:03d} with a reasonably long name"
        changes.append(
            CreateCampaign(
                address=f'campaign["{name}"]',
                values={"name": name, "pitch": "x" * 80},
                source=Location("m.yaml", c + 1, 5),
                campaign=name,
            )
        )
        for n in range(numbers):
            person = Contact(f"+1650{c:03d}{n:04d}", first_name=f"First{n}", last_name="Lastname")
            changes.append(
                AddNumber(
                    address=f'campaign["{name}"].number["{person.label}"]',
                    campaign=name,
                    contact=person,
                )
            )
    return Plan.build(
        changes, [Notice("unmanaged_numbers", 'campaign["x"]', "1 number stays", "x", ("+1",))]
    )


def test_json_output_validates_against_the_committed_schema() -> None:
    out = io.StringIO()
    plan = big_plan(3, 3)
    render_json(plan, out)
    doc = json.loads(out.getvalue())
    jsonschema.validate(doc, SCHEMA)
    assert doc["format_version"] == "1"
    assert doc["summary"]["campaigns"]["create"] == 3
    assert [c["kind"] for c in doc["changes"]][:3] == ["create_campaign"] * 3


def test_empty_plan_json_validates_too() -> None:
    out = io.StringIO()
    render_json(Plan(), out)
    doc = json.loads(out.getvalue())
    jsonschema.validate(doc, SCHEMA)
    assert doc["empty"] is True


def test_markdown_of_a_5000_change_plan_fits_a_comment_and_keeps_its_summary() -> None:
    plan = big_plan(100, 50)
    assert len(plan.changes) == 5100
    out = io.StringIO()
    render_markdown(plan, out)
    text = out.getvalue()
    print(f"markdown: {len(text):,} characters for {len(plan.changes):,} changes")
    assert len(text) < MARKDOWN_LIMIT
    assert plan.summary_line() in text
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0


def test_markdown_summarizes_per_campaign_when_blocks_do_not_fit() -> None:
    plan = big_plan(1000, 5)
    out = io.StringIO()
    render_markdown(plan, out)
    text = out.getvalue()
    print(f"markdown: {len(text):,} characters for {len(plan.changes):,} changes")
    assert len(text) < MARKDOWN_LIMIT
    assert text.startswith("### upcall-sync plan: Changes\n\n**" + plan.summary_line())
    assert "summarized to fit a comment" in text
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0
    # every block shown is whole: each opened diff fence closes before its </details>
    for block in re.findall(r"<details><summary><code>.*?</details>", text, re.S):
        assert block.count("```") == 2


def test_markdown_of_a_small_plan_shows_every_block() -> None:
    out = io.StringIO()
    render_markdown(big_plan(2, 2), out)
    text = out.getvalue()
    assert text.count("```diff") == 2
    assert "summarized" not in text
    assert "| campaigns | 2 | 0 | 0 | |" in text


def test_text_colour_only_when_asked() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    render_text(big_plan(1, 1), plain)
    render_text(big_plan(1, 1), coloured, color=True)
    assert "\033[" not in plain.getvalue()
    assert "\033[32m" in coloured.getvalue()
    assert re.sub(r"\033\[[0-9;]*m", "", coloured.getvalue()) == plain.getvalue()


def test_text_lists_a_few_numbers_unless_asked_for_all() -> None:
    few, every = io.StringIO(), io.StringIO()
    render_text(big_plan(1, 12), few)
    render_text(big_plan(1, 12), every, show_all_numbers=True)
    assert "... and 7 more (--show-all-numbers lists them)" in few.getvalue()
    assert every.getvalue().count("(First") == 12


def test_markdown_notice_items_fit_the_budget_with_the_count_of_the_rest() -> None:
    items = tuple(f"+1650{i:07d} (Person {i})" for i in range(100_000))
    notices = [
        Notice("unmanaged_numbers", 'campaign["a"]', "100,000 numbers are in a", "a", items),
        Notice("unmanaged_numbers", 'campaign["b"]', "2 numbers are in b", "b", items[:2]),
        Notice("warning", 'campaign["c"]', "m.yaml:3:5: campaigns[0].status: cannot dial", "c"),
    ]
    out = io.StringIO()
    render_markdown(Plan.build(list(big_plan(300, 5).changes), notices), out)
    text = out.getvalue()
    assert len(text) < MARKDOWN_LIMIT
    # a warning is shown in the open, before the changes
    assert text.index("> [!WARNING]\n> m.yaml:3:5: campaigns[0].status: cannot dial") < text.index(
        "<details>"
    )
    folded = text[text.index("<details><summary>Notices (not changes)</summary>\n\n") :]
    listed = re.findall(r"^  - \+1650.*$", folded, re.M)
    more = re.search(
        r"^  - \.\.\. and ([\d,]+) more \(`upcall-sync plan --show-all-numbers`", folded, re.M
    )
    assert more is not None
    assert len(listed) > 500
    assert len(listed) + int(more.group(1).replace(",", "")) == 100_000 + 2
    assert "cannot dial" not in folded
    # the big list does not starve the small one
    assert (
        "- 2 numbers are in b\n  - +16500000000 (Person 0)\n  - +16500000001 (Person 1)\n" in folded
    )
    assert text.count("<details>") == text.count("</details>")


def test_text_notices_sample_and_show_all() -> None:
    items = tuple(f"+1650555{i:04d}" for i in range(8))
    plan = Plan.build(
        [], [Notice("unmanaged_numbers", 'campaign["a"]', "8 numbers are in a", "a", items)]
    )
    short, full = io.StringIO(), io.StringIO()
    render_text(plan, short)
    render_text(plan, full, show_all_numbers=True)
    assert short.getvalue().count("      +1650555") == 5
    assert "      ... and 3 more (--show-all-numbers lists them)\n" in short.getvalue()
    assert full.getvalue().count("      +1650555") == 8
    assert "more" not in full.getvalue()


def _markdown(plan: Plan) -> str:
    out = io.StringIO()
    render_markdown(plan, out)
    return out.getvalue()


def test_markdown_heading_says_no_changes_only_when_nothing_differs() -> None:
    text = _markdown(Plan(unapplied_differences=2))
    assert text.startswith("### upcall-sync plan: No changes the API can make\n\n**")
    assert "**No changes that the API can make; 2 numbers differ (see notices)**" in text
    assert _markdown(Plan()).startswith("### upcall-sync plan: No changes\n\n**")


HOSTILE_NAME = (
    "@github/security-team [Approve here](https://evil.example/a) ![x](https://evil.example/t.png)"
    " *urgent* _now_ __bold__ ~~old~~ `code` [esc](https://evil.example/b) org/repo#1 group/project!2"
    " log in at https://evil.example/login or www.evil.example"
)


def _markdown_tokens(text: str) -> list[object]:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("strikethrough")
    flat: list[object] = []
    for token in md.parse(text):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def test_markdown_names_cannot_link_mention_or_format() -> None:
    """A campaign name (from a pull request's manifest) in the PR comment: no link, image,
    emphasis or code span, no @mention nor cross-reference; it still reads as written."""
    when = Location("m.yaml", 3, 5)
    person = Contact("+16507991144", first_name="[a](https://evil.example/c)", last_name="@octocat")
    changes: list[Change] = [
        CreateCampaign(
            address=f'campaign["{HOSTILE_NAME}"]',
            values={"name": HOSTILE_NAME, "status": "pending"},
            source=when,
            campaign=HOSTILE_NAME,
        ),
        AddNumber(
            address=f'campaign["{HOSTILE_NAME}"].number["x"]', campaign=HOSTILE_NAME, contact=person
        ),
    ]
    notices = [
        Notice(
            "warning", f'campaign["{HOSTILE_NAME}"]', f"m.yaml:3:5: warning: {HOSTILE_NAME}", "c"
        ),
        Notice("unmanaged_numbers", 'campaign["b"]', HOSTILE_NAME, "b", (HOSTILE_NAME,)),
    ]
    for limit in (MARKDOWN_LIMIT, 1_500):  # whole blocks, and sections listed one a line
        out = io.StringIO()
        render_markdown(Plan.build(changes, notices), out, limit=limit)
        tokens = _markdown_tokens(out.getvalue())
        kinds = {t.type for t in tokens}  # type: ignore[attr-defined]
        assert not kinds & {"link_open", "image", "s_open"}, kinds
        # the renderer's own bold (the summary line, headings) is all the emphasis there is
        emphasised = [
            tokens[i + 1].content  # type: ignore[attr-defined]
            for i, t in enumerate(tokens)
            if t.type in ("em_open", "strong_open")  # type: ignore[attr-defined]
        ]
        assert not [e for e in emphasised if re.search("urgent|now|bold", e)], emphasised
        strong = [t for t in tokens if t.type == "text" and "urgent" in t.content]  # type: ignore[attr-defined]
        assert all("*urgent*" in t.content.replace("&#42;", "*") for t in strong)  # type: ignore[attr-defined]
        assert all("_now_ __bold__" in t.content.replace("&#95;", "_") for t in strong)  # type: ignore[attr-defined]
        codes = [t.content for t in tokens if t.type == "code_inline"]  # type: ignore[attr-defined]
        assert "code" not in codes, codes
        texts = [t.content for t in tokens if t.type in ("text", "html_inline", "html_block")]  # type: ignore[attr-defined]
        shown = "".join(texts)
        assert not re.search(r"(?<!\w)@\w|#\w|!\d", shown.replace("&#", "")), shown
        # no bare URL nor www. name that GitHub's autolinks would make a link
        assert not re.search(r"://|(?<![^\W_])www\.", shown, re.IGNORECASE), shown
        # what a reader sees is still the name (word joiners are invisible)
        seen = shown.replace("&#93;", "]").replace("\u2060", "")
        assert "[Approve here](https://evil.example/a)" in seen
        assert "log in at https://evil.example/login or www.evil.example" in seen


def test_text_plan_lines_never_start_a_workflow_command() -> None:
    """A GitHub runner reads a log line whose first non-blank characters are `::` as a
    workflow command; campaign names listed under a notice start their lines."""
    name = "::error title=Security::Upcall token leaked, rotate it"
    notices = [
        Notice(
            "unapplied_rename",
            'contact["x"]',
            f'campaign "{name}" keeps the old name',
            "",
            (name, " ::stop-commands::x", "a\nb"),
        ),
    ]
    out = io.StringIO()
    render_text(Plan.build([], notices), out, show_all_numbers=True)
    text = out.getvalue()
    assert not re.search(r"^\s*::", text, re.M), text
    assert f'      "{name}"\n' in text and "      a\\nb\n" in text


def test_markdown_of_hundreds_of_campaigns_set_to_dial_fits_a_comment() -> None:
    """Who will be called was outside the budget: 400 new ready campaigns of 5 people
    made a 257,000-character comment, which GitHub refuses."""
    from upcall_sync.core.model import DesiredCampaign, DesiredNumber, DesiredState, LiveState
    from upcall_sync.core.planner import plan as make_plan

    campaigns = tuple(
        DesiredCampaign(
            name=f"Campaign {c:03d} " + "ü" * 200,
            source=Location("m.yaml", c * 10 + 1, 5),
            fields={"status": "ready", "pitch": "p" * 300},
            numbers=tuple(
                DesiredNumber(
                    Contact(f"+1650{c:03d}{n:04d}", first_name=f"F{n} " + "x" * 40),
                    Location("m.yaml", c * 10 + 2 + n, 9),
                )
                for n in range(5)
            ),
        )
        for c in range(400)
    )
    plan = make_plan(
        DesiredState(campaigns=campaigns, files=("m.yaml",)),
        LiveState(contact_list_id="1", contact_phones_read=None, complete_listing=True),
    )
    assert len(plan.dialing) == 400
    out = io.StringIO()
    render_markdown(plan, out)
    text = out.getvalue()
    assert len(text) < MARKDOWN_LIMIT
    assert plan.summary_line() in text
    assert re.search(r"- \.\.\. and \d+ more campaigns that will dial, [\d,]+ people added", text)
    assert "Campaign 000" in text.split("#### Who will be called", 1)[1]


def test_markdown_text_keeps_an_email_address_from_being_autolinked() -> None:
    """GitHub makes `name@host.tld` (and `mailto:`/`xmpp:` ones) a `mailto:` link, as it
    does a bare URL: a word joiner after the `@` keeps it text, still read as written."""
    from upcall_sync.errors import markdown_text

    for text in (
        "write to ops@evil.example",
        "mailto:ops@evil.example",
        "xmpp:a@evil.example",
        # cmark-gfm's domain may start with `-` or `.`: both are linked as `mailto:` too
        "ops@-evil.example",
        "ops@.evil.example",
    ):
        shown = markdown_text(text)
        assert not re.search(r"[\w.+-]@[\w.-]", shown), shown
        assert shown.replace("\u2060", "") == text


def test_a_created_campaign_that_sets_no_status_says_it_is_created_pending() -> None:
    """apply sends such a campaign `pending` (a server whose default dials would call it
    while its numbers went in): the plan says so, as it does for one made ready later."""
    import io

    from upcall_sync.core.changes import CreateCampaign, Plan
    from upcall_sync.output.render import render_text

    create = CreateCampaign(address='campaign["N"]', campaign="N", values={"name": "N"})
    out = io.StringIO()
    render_text(Plan.build([create], []), out)
    assert '(created with status "pending": the entry sets no status)' in out.getvalue()
    with_status = CreateCampaign(
        address='campaign["P"]', campaign="P", values={"name": "P", "status": "paused"}
    )
    out = io.StringIO()
    render_text(Plan.build([with_status], []), out)
    assert "the entry sets no status" not in out.getvalue()
