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


def test_a_two_phone_export_as_do_not_call_csv_lists_every_phone_of_a_row(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person who opted out did so for each phone their row holds: a HubSpot export's
    office and mobile columns are both read (asking to pick one dialed the other), and
    do_not_call_csv_columns still narrows it to the column it names."""
    (here / "optouts.csv").write_text(
        "First Name,Phone Number,Mobile Phone Number\n"
        "Marcus,+1 415 555 0100,+1 312 555 0176\n"
        "Ana,,+1 415 555 0101\n"
        "Bo,+1 415 555 0102,+1 555\n"
    )
    manifest = here / "m.yaml"
    manifest.write_text("version: 1\ndo_not_call_csv: optouts.csv\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.splitlines() == [  # the rows that read are listed all the same
        'm.yaml:6:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at optouts.csv:2); remove it from the campaign",
        'optouts.csv:4:3: phone: "+1 555" is not a valid phone number',
        "error: 2 problems found in the manifests",
    ]
    (here / "optouts.csv").write_text(
        "First Name,Phone Number,Mobile Phone Number\n"
        "Marcus,+1 415 555 0100,+1 312 555 0176\n"
        "Ana,,+1 415 555 0101\n"
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:6:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at optouts.csv:2); remove it from the campaign",
    ]
    (here / "optouts.csv").write_text(
        "First Name,Phone Number,Mobile Phone Number\nMarcus,+1 415 555 0100,+1 312 555 0176\n"
    )
    fix = 'do_not_call_csv_columns: {phone: "Phone Number"}'
    manifest.write_text(f"version: 1\ndo_not_call_csv: optouts.csv\n{fix}\n" + _CAMPAIGN)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 0, err  # mapped: the mobile column is not read, and the file says so
    assert err.splitlines() == [
        "optouts.csv:1: warning: do_not_call_csv: ignores 1 column that fills no field: "
        '"Mobile Phone Number"'
    ]
    assert out == "1 file, 1 campaign, 1 number: valid\n"


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


@pytest.mark.parametrize(
    "header",
    [
        "Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value",  # Google
        "Name,Phone,Mobile Phone,Home Phone,Other Phone",  # Salesforce, field labels
        "Name,Phone,MobilePhone,HomePhone,OtherPhone",  # Salesforce, API names
    ],
)
def test_a_crm_export_as_do_not_call_csv_lists_its_further_phone_columns(
    here: Path, capsys: pytest.CaptureFixture[str], header: str
) -> None:
    """Google's `Phone 2 - Value` and Salesforce's other phones fill no field of a number,
    but an opt-out's second phone must not be dialed: a do-not-call file reads them."""
    last = header.rsplit(",", 1)[1]
    row = "Marcus,Work,+1 415 555 0100,Mobile,+1 312 555 0176\n"
    if "Google" not in header and "Type" not in header:
        row = "Marcus,+1 415 555 0100,,,+1 312 555 0176\n"
    (here / "optouts.csv").write_text(f"{header}\n{row}")
    err = _marcus_is_listed(here, capsys)
    assert f'"{last}"' not in err  # read, not ignored


def _marcus_is_listed(here: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """validate of a manifest reading optouts.csv fails on Marcus's second phone, listed
    at its line 2; its stderr."""
    (here / "m.yaml").write_text("version: 1\ndo_not_call_csv: optouts.csv\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert (
        'm.yaml:6:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at optouts.csv:2); remove it from the campaign"
    ) in err.splitlines(), err
    return err


def test_phones_google_joined_in_one_cell_are_each_listed(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Google Contacts writes a contact's phones as `+1 ... ::: +1 ...` in one cell: in a
    numbers_csv that is an error (which to dial?), in a do-not-call file each is listed."""
    (here / "optouts.csv").write_text(
        "Name,Phone 1 - Type,Phone 1 - Value\n"
        "Marcus,Work ::: Mobile,+1 415 555 0100 ::: +1 312 555 0176\n"
    )
    assert ":::" not in _marcus_is_listed(here, capsys)
