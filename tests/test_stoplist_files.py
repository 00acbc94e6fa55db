"""do_not_call_csv read the way its errors say: the line a two-phone export asks for
(`do_not_call_csv_columns`) and a workbook's sheet (`do_not_call_sheet`) are keys that
exist, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from .conftest import run_cli

_CAMPAIGN = """campaigns:
  - name: a
    numbers:
      - {phone: "+1 312 555 0176", first_name: Marcus}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_two_phone_export_as_do_not_call_csv_takes_the_line_its_error_shows(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "optouts.csv").write_text(
        "First Name,Phone Number,Mobile Phone Number\nMarcus,+1 312 555 0176,\n"
    )
    manifest = here / "m.yaml"
    manifest.write_text("version: 1\ndo_not_call_csv: optouts.csv\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    [line] = err.splitlines()
    fix = line.rsplit("next to do_not_call_csv: ", 1)[1]
    assert fix == 'do_not_call_csv_columns: {phone: "Phone Number"}'
    manifest.write_text(f"version: 1\ndo_not_call_csv: optouts.csv\n{fix}\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:7:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at optouts.csv:2); remove it from the campaign",
    ]


def test_do_not_call_sheet_reads_the_named_sheet(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.append(["notes"])
    book.create_sheet("Opt-outs").append(["phone"])
    book["Opt-outs"].append(["+1 312 555 0176"])
    book.save(here / "optouts.xlsx")
    (here / "m.yaml").write_text(
        "version: 1\ndo_not_call_csv: optouts.xlsx\ndo_not_call_sheet: Opt-outs\n" + _CAMPAIGN
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert "+13125550176 at optouts.xlsx:'Opt-outs'!2:2" in err, err


def test_do_not_call_sheet_needs_do_not_call_csv(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "m.yaml").write_text("version: 1\ndo_not_call_sheet: Opt-outs\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert "do_not_call_sheet needs do_not_call_csv" in err and "Traceback" not in err


def test_a_do_not_call_csv_with_no_phone_is_a_warning(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header alone (an opt-out export cut short) stops no call: it validated silently."""
    (here / "optouts.csv").write_text("phone,extension\n")
    (here / "m.yaml").write_text("version: 1\ndo_not_call_csv: optouts.csv\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 0
    assert err.splitlines() == [
        "m.yaml:2:18: warning: do_not_call_csv: optouts.csv lists no phone: an empty "
        "do-not-call list stops no call"
    ]
    (here / "optouts.csv").write_text("phone,extension\n+1 415 555 0100,\n")
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 0 and "warning" not in err
