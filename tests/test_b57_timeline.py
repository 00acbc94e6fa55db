"""Break-it b57: the timeline of a saved plan shown again (`upcall-sync show`).

A plan file keeps only the rows a change makes, not the live window, so `show
--format markdown` (the Action's job summary) listed a campaign whose end moves
as having "no start": false, the start is there and stays as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import ROOT, run_cli


def test_show_of_a_saved_plan_never_says_no_start_for_a_start_it_keeps(
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
    manifest.write_text(text.replace("2031-07-12T17:00:00-07:00", "2031-07-19T17:00:00-07:00"))
    saved = tmp_path / "moved.plan"
    assert run_cli(capsys, "plan", "-q", "--out", str(saved), ".")[0] == 0

    code, out, err = run_cli(capsys, "show", "--format", "markdown", str(saved))

    assert code == 0, err
    timeline = out.split("**Timeline**", 1)[1].split("<details>", 1)[0]
    listed = [line for line in timeline.splitlines() if line.startswith("- ")]
    assert listed and not [line for line in listed if "no start" in line], timeline
    assert (
        '- "Acme Q3 satisfaction survey" (window moved): start unchanged to 2031-07-13 00:00 '
        "-> start unchanged to 2031-07-20 00:00"
    ) in timeline
