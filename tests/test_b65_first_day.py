"""Break-it b65: a team's first day (export, edit, plan, apply) against the emulator.

The Markdown timeline of a fresh plan listed a campaign it sets ready, which has
no window at all, as "start unchanged to end unchanged" (as if it had one the plan
did not know: only a saved plan shown again does not know it), so a reviewer could
not see that the campaign about to dial has no window. And the dial list said
"the 1 number already in it start to be called". And validate named a number on
the do-not-call list only once every other problem was fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import run_cli

MANIFEST = """\
version: 1
campaigns:
  - name: Acme win-back
    status: {status}
    pitch: Win them back
    numbers:
      - {{phone: "+17075550104", first_name: Dana, last_name: Kim}}
"""


def _pending_then_ready(capsys: pytest.CaptureFixture[str], workdir: Path) -> Path:
    manifest = workdir / "winback.yaml"
    manifest.write_text(MANIFEST.format(status="pending"))
    assert run_cli(capsys, "apply", "--auto-approve", "-q", ".")[0] == 0
    manifest.write_text(MANIFEST.format(status="ready"))
    return manifest


def test_a_fresh_plan_lists_a_campaign_without_a_window_as_having_none(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    _pending_then_ready(capsys, workdir)

    code, out, err = run_cli(capsys, "plan", "-q", "--format", "markdown", ".")

    assert code == 0, err
    timeline = out.split("**Timeline**", 1)[1].split("<details>", 1)[0]
    assert '- "Acme win-back" (set ready): no start to no end' in timeline, timeline
    assert "unchanged" not in timeline.split("):", 1)[1], timeline


def test_a_saved_plan_shown_again_still_says_unchanged(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    _pending_then_ready(capsys, workdir)
    saved = workdir / "ready.plan"
    assert run_cli(capsys, "plan", "-q", "--out", str(saved), ".")[0] == 0

    code, out, err = run_cli(capsys, "show", "--format", "markdown", str(saved))

    assert code == 0, err
    assert '- "Acme win-back" (set ready): start unchanged to end unchanged' in out, out


def test_one_number_already_in_a_campaign_starts_to_be_called(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    manifest = _pending_then_ready(capsys, workdir)
    manifest.write_text(
        manifest.read_text() + '      - {phone: "+16505550200", first_name: Hub, last_name: Spot}\n'
    )

    code, out, err = run_cli(capsys, "plan", "-q", ".")

    assert code == 0, err
    assert "1 added; the 1 number already in it starts to be called" in out, out


def test_validate_names_a_listed_number_beside_the_other_problems(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    (workdir / "m.yaml").write_text(
        "version: 1\n"
        'do_not_call: ["+14155550101"]\n'
        "campaigns:\n"
        "  - name: A\n"
        "    numbers:\n"
        '      - {phone: "+14155550101", first_name: Ana, last_name: Lopez}\n'
        "  - name: B\n"
        "    numbers:\n"
        '      - {phone: "(707) 555-0104", first_name: Dana, last_name: Kim}\n'
    )

    code, _out, err = run_cli(capsys, "validate", "m.yaml")

    assert code == 1
    assert "m.yaml:6:9: numbers: +14155550101 (Ana Lopez)" in err, err
    assert "is on the do-not-call list (+14155550101 at m.yaml:2:15)" in err, err
    assert 'm.yaml:9:17: campaigns[1].numbers[0].phone: "(707) 555-0104"' in err, err
    assert "2 problems found" in err, err
