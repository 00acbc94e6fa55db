"""File names are values like any other: escaped in text, Markdown and JSON (issue 19).

A manifest's name comes from whoever wrote the pull request. A name holding a line
break and a Markdown fence must not break out of the PR comment's `<sub>`; one holding
terminal escapes (clear screen, colours, an OSC title, BEL) must not reach a terminal
or a CI log raw, through plan text, validate's notes or its errors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import run_cli

FENCE = "x\n\n```\n# Nothing to review\n.yaml"
ESCAPES = "x\x1b[2J\x1b[31mEVIL\x1b]0;pwned\x07.yaml"
TICKS = "y`<img src=x onerror=alert(1)>`<b>bold.yaml"
NAMES = (FENCE, ESCAPES, TICKS)
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # any control character but \t and \n


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "c"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        (folder / name).write_text(f"version: 1\ncampaigns:\n  - name: c{i}\n    pitch: hi\n")
    (folder / "other\x1b[31m.yml").write_text("jobs: {}\n")  # skipped: not a manifest
    return folder


def _clean(text: str) -> None:
    assert not RAW.search(text), repr(text)
    assert "\n# Nothing to review" not in text


def test_plan_text_and_validate_escape_file_names(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], hostile: Path
) -> None:
    code, out, err = run_cli(capsys, "validate", "c")
    assert code == 0, err
    _clean(out + err)
    assert "note: skipped c/other\\u001b[31m.yml" in err
    code, out, err = run_cli(capsys, "plan", "c")
    assert code == 0, err
    _clean(out + err)
    assert "c/x\\u001b[2J\\u001b[31mEVIL\\u001b]0;pwned\\u0007.yaml:3:5" in out
    assert "c/x\\n\\n```\\n# Nothing to review\\n.yaml:3:5" in out


def test_validate_errors_escape_file_names(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], hostile: Path
) -> None:
    for name in NAMES:
        (hostile / name).write_text("version: 1\ncampaigns:\n  - name: c\n    bogus: 1\n")
    code, out, err = run_cli(capsys, "validate", "c")
    assert code == 1
    _clean(out + err)
    assert "c/x\\u001b[2J\\u001b[31mEVIL\\u001b]0;pwned\\u0007.yaml:4:5: campaigns[0].bogus" in err


def test_the_markdown_comment_keeps_each_file_name_inside_its_summary(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], hostile: Path
) -> None:
    code, out, err = run_cli(capsys, "plan", "--format", "markdown", "c")
    assert code == 0, err
    _clean(out)
    summaries = [line for line in out.splitlines() if line.startswith("<details><summary>")]
    assert len(summaries) == 3
    for line in summaries:  # each name inside one <sub> on one line, closed where it opened
        assert line.count("<sub>") == 1 and line.endswith("</sub></summary>"), line
        assert line.count("</sub>") == 1 and "`" not in line.split("<sub>")[1], line
    assert "<b>" not in out and "<img" not in out
    fences = [line for line in out.splitlines() if line.startswith("```")]
    assert fences == ["```diff", "```"] * 3  # only the renderer's own fences


def test_json_sources_are_safe_to_print_raw(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], hostile: Path
) -> None:
    """`jq -r .changes[].source` prints decoded strings: the name's control characters
    must be escaped in the value itself, as in text."""
    code, out, err = run_cli(capsys, "plan", "--format", "json", "c")
    assert code == 0, err
    changes = json.loads(out)["changes"]
    sources = [c["source"] for c in changes] + [v for c in changes for v in c["sources"].values()]
    for source in sources:
        _clean(source)
    assert "c/x\\u001b[2J\\u001b[31mEVIL\\u001b]0;pwned\\u0007.yaml:3:5" in sources
