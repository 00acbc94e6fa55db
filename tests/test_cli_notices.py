"""Notices and large plans through the real CLI: every unmanaged number in JSON, a
sample and "and N more" in text (all with --show-all-numbers), the list in
Markdown, and a Markdown comment of a large plan that GitHub renders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.output.render import MARKDOWN_LIMIT, SAMPLE

from .conftest import TOKEN, run_cli, write_manifest

MANIFEST = """version: 1
campaigns:
  - name: Survey
    pitch: Be friendly
    numbers:
      - {phone: "+16505550100", first_name: Kept}
"""


def _seed_extra_numbers(emulator: Emulator, extra: int) -> list[str]:
    """A live "Survey" with the manifest's number and `extra` numbers no manifest names."""
    account = emulator.store.add_account(TOKEN)
    phones = [f"+1650555{1000 + i:04d}" for i in range(extra)]
    contacts = [{"phone": "+16505550100", "first_name": "Kept"}]
    contacts += [{"phone": p, "first_name": f"Other{i:02d}"} for i, p in enumerate(phones)]
    emulator.store.seed(
        account,
        campaigns=[{"name": "Survey", "pitch": "Be friendly"}],
        list_name="elsewhere",
        contacts=contacts,
        memberships=[(0, k) for k in range(len(contacts))],
    )
    return [f"{p} (Other{i:02d})" for i, p in enumerate(phones)]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "m.yaml", MANIFEST)


def test_every_unmanaged_number_is_in_json_and_text_samples_them(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    labels = _seed_extra_numbers(cli_env, 12)

    code, out, err = run_cli(capsys, "plan", "--format", "json", str(manifest))
    assert code == 0, err
    [notice] = json.loads(out)["notices"]
    assert notice["kind"] == "unmanaged_numbers"
    assert notice["items"] == labels  # all twelve, not five
    assert notice["message"].startswith('12 numbers are in campaign "Survey"')

    code, out, _ = run_cli(capsys, "plan", str(manifest))
    assert code == 0
    for label in labels[:SAMPLE]:
        assert f"      {label}\n" in out
    for label in labels[SAMPLE:]:
        assert label not in out
    assert f"      ... and {12 - SAMPLE} more (--show-all-numbers lists them)\n" in out

    code, out, _ = run_cli(capsys, "plan", "--show-all-numbers", str(manifest))
    assert code == 0
    assert all(f"      {label}\n" in out for label in labels)
    assert "more (--show-all-numbers" not in out


def test_one_unmanaged_number_is_singular(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    [label] = _seed_extra_numbers(cli_env, 1)
    code, out, _ = run_cli(capsys, "plan", str(manifest))
    assert code == 0
    assert '! 1 number is in campaign "Survey"' in out
    assert f"      {label}\n" in out
    assert "and 0 more" not in out


def test_markdown_lists_the_unmanaged_numbers_folded(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    labels = _seed_extra_numbers(cli_env, 12)
    code, out, _ = run_cli(capsys, "plan", "--format", "markdown", str(manifest))
    assert code == 0
    folded = re.search(
        r"<details><summary>Notices \(not changes\)</summary>\n\n(.*?)</details>", out, re.S
    )
    assert folded is not None, out
    assert folded.group(1).startswith('- 12 numbers are in campaign "Survey"')
    assert [f"  - {label}" for label in labels] == re.findall(r"^  - .*$", folded.group(1), re.M)  # fmt: skip


# -- a large plan as a PR comment --------------------------------------------------------


def test_a_large_markdown_plan_lists_the_sections_it_folds(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = ["version: 1", "campaigns:"]
    for c in range(400):
        lines += [
            f"  - name: Campaign {c:03d} of a large plan",
            f"    pitch: {'A long pitch for a PR comment. ' * 6}",
            "    numbers:",
            *(f'      - {{phone: "+1415555{c:03d}{n}", first_name: P{n}}}' for n in range(3)),
        ]
    m = write_manifest(tmp_path / "big.yaml", "\n".join(lines) + "\n")

    code, out, err = run_cli(capsys, "plan", "--format", "markdown", str(m))

    assert code == 0, err
    assert len(out) < MARKDOWN_LIMIT
    whole = out.count("```diff")
    folded = re.search(
        r"<details><summary>([\d,]+) more sections \(summarized to fit a comment\)</summary>\n\n"
        r"((?:- .*\n)+)\n</details>\n",
        out,
    )
    assert folded is not None, out[-3000:]  # a blank line after </summary>: GitHub's list
    omitted = int(folded.group(1).replace(",", ""))
    assert whole > 0 and whole + omitted == 1 + 400 + 1  # the list, campaigns, contacts
    listed = folded.group(2).splitlines()
    named = [x for x in listed if x.startswith("- `+` campaign[")]
    assert len(named) > 50  # as many as the budget allows, not one
    rest = omitted - len(named) - sum(1 for x in listed if "list contacts to create" in x)
    if rest:
        assert listed[-1] == f"- ... and {rest:,} more: run `upcall-sync plan` for them"
    # the first folded campaign follows the last whole one
    assert f"Campaign {whole - 1:03d} of a large plan" in named[0]  # (the list came first)


def test_control_characters_in_a_live_name_are_shown_escaped(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    """A live contact named with a line break or a terminal escape broke the notice's
    list (text and Markdown) and reached the terminal raw (ESC [2J clears the screen)."""
    account = cli_env.store.add_account(TOKEN)
    cli_env.store.seed(
        account,
        campaigns=[{"name": "Survey", "pitch": "Be friendly"}],
        list_name="elsewhere",
        contacts=[
            {"phone": "+16505550100", "first_name": "Kept"},
            {"phone": "+16505550101", "first_name": "Two\nLines\r", "last_name": "\x1b[2J\x9b"},
        ],
        memberships=[(0, 0), (0, 1)],
    )
    shown = "+16505550101 (Two\\nLines \\u001b[2J\\u009b)"
    code, out, _ = run_cli(capsys, "plan", str(manifest))
    assert code == 0
    assert f"      {shown}\n" in out and "\x1b" not in out and "\x9b" not in out
    code, out, _ = run_cli(capsys, "plan", "--format", "markdown", str(manifest))
    assert code == 0 and f"  - {shown}\n" in out and "\r" not in out
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(manifest))
    assert json.loads(out)["notices"][0]["items"] == [shown]


def test_c1_controls_and_bidi_overrides_in_a_campaign_name_are_escaped(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """json.dumps leaves U+009B (CSI) and U+202E (right-to-left override) raw; the plan's
    campaign heading sent them to the terminal."""
    account = cli_env.store.add_account(TOKEN)
    cli_env.store.seed(account, campaigns=[{"name": "C1\x9bX\u202eY"}])
    m = write_manifest(
        tmp_path / "m.yaml",
        'version: 1\ncampaigns:\n  - name: "C1\\x9bX\\u202eY"\n    pitch: new\n',
    )
    code, out, _ = run_cli(capsys, "plan", str(m))
    assert code == 0
    assert '~ campaign["C1\\u009bX\\u202eY"] (id 1)' in out
    assert "\x9b" not in out and "\u202e" not in out
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    [change] = json.loads(out)["changes"]
    assert json.loads(change["address"][len("campaign[") : -1]) == "C1\x9bX\u202eY"


def test_a_zero_width_space_in_a_campaign_name_is_shown(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ "Acme Q3" and "Acme" + U+200B + " Q3" read the same in a plan (and its PR comment),
    though they are two campaigns: the invisible character is shown as its escape, in
    text and Markdown, and the JSON plan keeps the name as it is."""
    m = write_manifest(
        tmp_path / "m.yaml",
        'version: 1\ncampaigns:\n  - name: "Acme Q3"\n  - name: "Acme\\u200b Q3"\n',
    )
    for form in ("text", "markdown"):
        code, out, _ = run_cli(capsys, "plan", "--format", form, str(m))
        assert code == 0
        assert 'campaign["Acme\\u200b Q3"]' in out and "\u200b" not in out, out
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    names = [json.loads(c["address"][len("campaign[") : -1]) for c in json.loads(out)["changes"]]
    assert sorted(names) == ["Acme Q3", "Acme\u200b Q3"]
