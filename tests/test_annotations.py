"""`validate --format github` and `plan --format github` (issue 24, item 3): GitHub
workflow commands, escaped as GitHub's runner reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from upcall_sync.core.changes import Notice
from upcall_sync.emulator import Emulator
from upcall_sync.errors import Location
from upcall_sync.output.annotations import command, escape_data, escape_property, notice

from .conftest import ROOT, run_cli


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a,b:c%d\ne") == "a%2Cb%3Ac%25d%0Ae"
    line = command("error", "bad\n::warning::x", Location("dir/a,b:c.yaml", 3, 7))
    assert line == (
        "::error file=dir/a%2Cb%3Ac.yaml,line=3,col=7,title=upcall-sync::bad%0A::warning::x"
    )
    assert "\n" not in line
    # a terminal escape in a file name is shown escaped, never sent raw
    assert "\x1b" not in command("warning", "m", Location("x\x1b[2J.yaml", 1))


def test_a_warning_notice_names_its_file_and_line() -> None:
    located = Notice("warning", "a.yaml:4:5", "a.yaml:4:5: warning: pitch: very long")
    assert (
        notice(located) == "::warning file=a.yaml,line=4,col=5,title=upcall-sync::pitch: very long"
    )
    other = Notice("unmanaged_numbers", 'campaign "Q3"', "2 numbers not in the manifest")
    assert notice(other).startswith("::notice title=upcall-sync::campaign")


def test_validate_format_github_prints_one_annotation_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "examples/campaigns.yaml").read_text()
    bad = tmp_path / "campaigns.yaml"
    bad.write_text(
        text.replace("pitch: Be friendly", "pich: Be friendly").replace(
            "status: ready", "status: redy", 1
        )
    )
    (tmp_path / "contacts").symlink_to(ROOT / "examples/contacts")
    code, out, err = run_cli(capsys, "validate", "--format", "github", str(bad))
    assert code == 1
    found = re.findall(
        r"^::error file=([^,]+),line=(\d+),col=(\d+),title=upcall-sync::(.*)$", out, re.M
    )
    assert len(found) == 2, out
    assert all(f == str(bad) for f, *_ in found)
    plain = [line for line in err.splitlines() if line.startswith(str(bad))]
    assert [f"{f}:{ln}:{c}: {m}" for f, ln, c, m in found] == plain  # the same problems
    code, out, _ = run_cli(capsys, "validate", "--format", "github", str(ROOT / "examples"))
    assert code == 0 and "::error" not in out and out.rstrip().endswith(": valid")


def test_plan_format_github_annotates_a_plan_error(
    cli_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("version: 1\ncampaigns:\n  - name: A\n    pich: x\n")
    code, out, _ = run_cli(capsys, "plan", "--format", "github", str(bad))
    assert code == 1
    assert re.search(rf"^::error file={re.escape(str(bad))},line=4,col=5,", out, re.M), out
    code, out, _ = run_cli(capsys, "plan", "--format", "github", str(ROOT / "examples"))
    assert code == 0 and "Plan: 3 campaigns to create" in out
