"""Extensions written inside the phone (issue 10, item 4): parsed, not dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import run_cli

NUMBERS = """\
version: 1
campaigns:
  - name: ext
    from_number: "+16501231234"
    numbers:
      - {phone: "+14155550104;ext=5", first_name: A}
      - {phone: "+1 415 555 0105 x7", first_name: B}
      - {phone: "+1 415 555 0106 ext. 9", first_name: C, extension: "9"}
      - {phone: "+1 415 555 0107", first_name: D, extension: "12"}
    numbers_csv: n.csv
"""
CSV = "phone,first_name,extension\n+1 415 555 0108 #44,E,\n+14155550109,F,3\n"


def test_extensions_inside_phones_reach_the_api(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(NUMBERS)
    (tmp_path / "n.csv").write_text(CSV)
    assert run_cli(capsys, "validate", "m.yaml")[0] == 0

    code, _out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")

    assert code == 0, err
    rows = cli_env.store.sql("SELECT phone, extension FROM list_contacts ORDER BY phone")
    assert [(r["phone"], r["extension"]) for r in rows] == [
        ("+14155550104", "5"),
        ("+14155550105", "7"),
        ("+14155550106", "9"),
        ("+14155550107", "12"),
        ("+14155550108", "44"),
        ("+14155550109", "3"),
    ]
    assert run_cli(capsys, "plan", "--detailed-exitcode", "m.yaml")[0] == 0


def test_an_extension_that_disagrees_with_the_phone_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: a\n    numbers:\n"
        '      - {phone: "+1 415 555 0106 ext. 9", extension: "3"}\n'
        "  - name: b\n    numbers_csv: n.csv\n"
    )
    (tmp_path / "n.csv").write_text("phone,extension\n+1 415 555 0105 x7,8\n")

    code, out, err = run_cli(capsys, "validate", "m.yaml")

    assert code == 1 and out == ""
    assert err.splitlines()[:2] == [
        'm.yaml:5:9: campaigns[0].numbers[0]: phone "+1 415 555 0106 ext. 9" has extension "9", '
        'but extension is "3"; write the extension once',
        'n.csv:2:1: phone: phone "+1 415 555 0105 x7" has extension "7", but extension is "8"; '
        "write the extension once",
    ]


def test_a_caller_id_with_an_extension_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text('version: 1\ncampaigns:\n  - name: a\n    from_number: "+1 650 123 1234 x5"\n')
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert (
        'campaigns[0].from_number: "+1 650 123 1234 x5" has an extension; a caller ID cannot '
        "have one" in err
    )
