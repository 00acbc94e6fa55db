"""What spreadsheets do to phone columns, named as such: a long number shown in
scientific notation has lost its last digits, and no phone is ever read from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.core.normalize import PhoneError, split_phone

from .conftest import run_cli


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_csv_phone_in_scientific_notation_names_the_slip(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "n.csv").write_text("phone,first_name\n+14155550101,Ann\n1.65E+10,Bob\n")
    (here / "m.yaml").write_text(
        'version: 1\ndefaults:\n  from_number: "+16501231234"\n'
        "campaigns:\n  - name: a\n    numbers_csv: n.csv\n"
    )
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith('n.csv:3:1: phone: "1.65E+10" is a number in scientific notation')
    assert "format the phone column as text" in line


@pytest.mark.parametrize("raw", ["1.65E+10", "4,15555E+11", "1E+10", "6.50123E+10"])
@pytest.mark.parametrize("region", [None, "US", "FR"])
def test_scientific_notation_is_never_read_as_a_phone(raw: str, region: str | None) -> None:
    with pytest.raises(PhoneError, match="scientific notation"):
        split_phone(raw, region)


@pytest.mark.parametrize("raw", ["+1 800 FLOWERS", "1-800-E-CALL-NOW", "+16505550100"])
def test_letters_in_a_vanity_number_are_not_scientific_notation(raw: str) -> None:
    try:
        split_phone(raw, "US")
    except PhoneError as exc:
        assert "scientific notation" not in str(exc)


def test_an_xlsx_formula_without_a_saved_result_is_named_not_called_missing(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """openpyxl (like any script) writes formulas without their results: read for its
    values, such a cell is empty, and "phone: is required" would send the user looking
    for a blank cell that is not there."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "first_name"])
    sheet.append(["+14155550101", "Ann"])
    sheet.append(['="+1415"&"5550102"', "Bob"])  # a formula, no saved result
    sheet.append([None, "Cy"])  # truly blank
    book.save(here / "n.xlsx")
    (here / "m.yaml").write_text(
        'version: 1\ndefaults:\n  from_number: "+16501231234"\n'
        "campaigns:\n  - name: a\n    numbers_csv: n.xlsx\n"
    )
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("n.xlsx:Sheet!A3: phone: is a formula whose result was never saved")
    assert "open the workbook in Excel or LibreOffice and save it" in lines[0]
    assert lines[1] == "n.xlsx:Sheet!A4: phone: is required"
    assert "5550102" not in err  # the formula's text is not quoted


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_excels_sep_line_names_the_delimiter_and_lines_keep_their_numbers(
    here: Path, capsys: pytest.CaptureFixture[str], bom: str
) -> None:
    """Excel reads (and some exports write) a first line `sep=;` naming the delimiter: it
    is not the header, and the file's line numbers still count it."""
    (here / "n.csv").write_text(
        f"{bom}sep=;\r\nFirst Name;Last Name;Phone Number\r\nAnn;Lee;+14155550101\r\n"
        "Bob;Ray;+1 555\r\n",
        newline="",
    )
    (here / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: a\n    numbers_csv: n.csv\n")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1 and out == ""
    assert err.splitlines() == ['n.csv:4:3: phone: "+1 555" is not a valid phone number']
    (here / "n.csv").write_text("sep=,\n")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1 and err.splitlines() == ["n.csv:2:1: CSV is empty: it needs a header row"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excels_unicode_text_is_read_as_saved(
    here: Path, capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    """Excel's "Unicode Text" (.txt: UTF-16 with its byte order mark, tab-separated) and
    older Google Contacts exports are UTF-16: read with their line numbers, not refused."""
    text = (
        "First Name\tLast Name\tPhone Number\r\nJosé\tMüller\t+14155550101\r\nBob\tRay\t+1 555\r\n"
    )
    bom = "\ufeff" if encoding != "utf-16" else ""  # Python's utf-16 writes its own
    (here / "n.txt").write_bytes((bom + text).encode(encoding))
    (here / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: a\n    numbers_csv: n.txt\n")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1 and out == ""
    assert err.splitlines() == ['n.txt:3:3: phone: "+1 555" is not a valid phone number']
    (here / "n.txt").write_bytes((bom + text.replace("+1 555", "+14155550102")).encode(encoding))
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (0, "1 file, 1 campaign, 2 numbers: valid\n"), err
    # UTF-16 without its byte order mark is not guessed at: one line, naming the file
    (here / "n.txt").write_bytes(text.encode("utf-16-le"))
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1 and err.splitlines()[0].startswith("n.txt:1: CSV is not UTF-8 text")
