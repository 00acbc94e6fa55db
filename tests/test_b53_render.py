"""The Markdown plan stays under its limit whatever the notices quote (found by b53):
the 20 callouts and the 50 folded notices were written whole, and a message quotes
manifest values (a campaign name of any length), so 30 ready campaigns with long names
made a 204,028-character "PR comment" (README: under 65,000), which GitHub refuses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from upcall_sync.core.changes import Notice, Plan
from upcall_sync.emulator import Emulator
from upcall_sync.output.render import MARKDOWN_LIMIT, render_markdown

from .conftest import run_cli


def _markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    out = io.StringIO()
    render_markdown(plan, out, limit=limit)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["warning", "unmanaged_numbers"])  # a callout, folded
def test_long_notices_fit_the_comment_and_the_rest_are_counted(kind: str) -> None:
    notices = tuple(
        Notice(kind, f"campaign[{i}]", f"campaign {'N' * 20_000}{i} is odd", items=("+1555",))  # type: ignore[arg-type]
        for i in range(60)
    )
    text = _markdown(Plan(notices=notices))
    assert len(text) < MARKDOWN_LIMIT
    shown = text.count("campaign NNN")
    assert 0 < shown < 60
    counted = text.split("... and ", 1)[1].split(" more", 1)[0]
    assert int(counted) == 60 - shown
    assert "N" * 2_000 not in text and "N" * 1_980 + "..." in text  # each message cut
    if kind != "warning":
        assert text.rstrip().endswith("</details>")
        # the items shown belong to the notices shown, never to the count line
        assert text.count("  - +1555") == shown


def test_short_notices_are_shown_as_before() -> None:
    notices = tuple(
        Notice("warning" if i % 2 else "prune_candidate", f"c[{i}]", f"note {i}", items=("x",))
        for i in range(10)
    )
    text = _markdown(Plan(notices=notices))
    assert all(f"note {i}" in text for i in range(10))
    assert "more warnings" not in text and "more notices" not in text


def test_the_plan_of_long_named_ready_campaigns_is_a_comment_github_takes(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = ["version: 1", "contact_list: l", "campaigns:"]
    for i in range(30):  # each: "ready but no numbers" and "window already over"
        lines += [f'  - name: "{"N" * 20_000}{i}"', "    status: ready"]
        lines += ["    end_datetime: 2020-01-01T00:00:00Z"]
    (tmp_path / "m.yaml").write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, "plan", "--format", "markdown", "m.yaml")
    assert code == 0, err
    assert len(out) < MARKDOWN_LIMIT, len(out)
    assert "more warnings: run `upcall-sync plan`" in out
