"""A workbook's hidden rows: never dialed unseen, always read from an opt-out list.

A row hidden by hand, in a collapsed group or by a filter is saved with the rest
(`<row r="12" hidden="1">`), and openpyxl reads it like any other. Nobody reviewing
the workbook sees it, so a list that is dialed refuses it; an opt-out list reads it,
since each of its rows is one more person not to call.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.errors import ManifestError
from upcall_sync.manifest import load_manifests, xlsxload

from .conftest import run_cli, writes

PEOPLE = ["Joey", "Ana", "Priya", "Marcus", "Rita", "Kim", "Lee", "Sam", "Tom"]


def _workbook(path: Path, hidden: list[int], blank: tuple[int, ...] = ()) -> Path:
    """Header in row 1, then one person a row (none in the rows `blank`)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(["phone", "first_name"])
    for i, name in enumerate(PEOPLE):
        row = i + 2
        if row not in blank:
            sheet.cell(row, 1, f"+1 650 799 11{40 + i}")
            sheet.cell(row, 2, name)
    for row in hidden:
        sheet.row_dimensions[row].hidden = True
    book.save(path)
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: sheet\n    numbers_csv: n.xlsx\n"
    )
    return tmp_path


def test_hidden_rows_of_a_list_that_is_dialed_are_refused(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    _workbook(here / "n.xlsx", hidden=[3, 5])
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        code, out, err = run_cli(capsys, *command, "m.yaml")
        assert (code, out) == (1, ""), command
        assert err.splitlines() == [
            "n.xlsx:Leads!3:3: rows 3 and 5 are hidden in the workbook (by hand, in a "
            "collapsed group, or by a filter): nobody reviewing the workbook sees these "
            "people, yet upcall-sync reads every row and would dial them; unhide the rows, "
            "or delete them"
        ], command
        assert "Ana" not in err and "Traceback" not in err
    assert writes(cli_env) == 0
    with pytest.raises(ManifestError):  # a library caller is refused the same way
        load_manifests(["m.yaml"])


def test_one_hidden_row_and_many(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _workbook(here / "n.xlsx", hidden=[7])
    _code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert err.startswith("n.xlsx:Leads!7:7: row 7 is hidden in the workbook (")
    assert "sees this person, yet" in err and "unhide the row, or delete it\n" in err
    _workbook(here / "n.xlsx", hidden=list(range(2, 11)))
    _code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert err.startswith("n.xlsx:Leads!2:2: rows 2, 3, 4, 5, 6 and 4 more are hidden"), err


def test_hidden_rows_holding_nothing_and_the_rest_are_read(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a hidden row that holds something is refused: a collapsed blank row (as
    Excel saves a spacer) reads as before, and so does every shown row."""
    _workbook(here / "n.xlsx", hidden=[4, 6], blank=(4, 6))
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out, err) == (0, "1 file, 1 campaign, 7 numbers: valid\n", "")


def test_an_opt_out_list_reads_its_hidden_rows(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ana's row of the opt-out list is hidden: she opted out all the same."""
    _workbook(here / "optouts.xlsx", hidden=[3])
    (here / "m.yaml").write_text(
        "version: 1\ndo_not_call_csv: optouts.xlsx\ncampaigns:\n  - name: a\n    numbers:\n"
        '      - {phone: "+1 650 799 1141", first_name: Ana}\n'
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert "+16507991141 at optouts.xlsx:Leads!3:3" in err, err
    assert "hidden" not in err


class _Sheet:
    """What `hidden_rows` reads of a worksheet: its XML part."""

    def __init__(self, xml: bytes) -> None:
        self.xml = xml

    def _get_source(self) -> Any:
        return io.BytesIO(self.xml)


_XML = (
    b'<?xml version="1.0"?><x:worksheet xmlns:x="urn:x"><x:sheetData>'
    b'<x:row r="1"><x:c><x:v>1</x:v></x:c></x:row>'
    b'<x:row spans="1:2" hidden="true"><x:c/></x:row>'  # no r: row 2
    b'<x:row r="0007" hidden = "1" ht="0"/>'
    b'<x:row hidden="1"/>'  # no r: row 8
    b'<x:row r="9" hidden="0" customHeight="1"/>'
    b'<x:row r="10"><x:c><x:is><x:t>hidden="1" in a cell</x:t></x:is></x:c></x:row>'
    b"<x:rowBreaks/></x:sheetData></x:worksheet>"
)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 16, 64, 1 << 20])
def test_hidden_rows_are_numbered_as_openpyxl_numbers_rows(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Rows without `r` follow the row before; `hidden` is read in a row's tag only (not
    in a cell's text, not `hidden="0"`), however the XML falls across the reads."""
    monkeypatch.setattr(xlsxload, "_CHUNK", chunk)
    assert xlsxload.hidden_rows(_Sheet(_XML)) == {2, 7, 8}
    assert xlsxload.hidden_rows(_Sheet(_XML.replace(b"hidden", b"hideen"))) == set()


def test_a_real_workbook_hidden_row_across_a_megabyte(here: Path) -> None:
    """A sheet bigger than one read: rows hidden on either side of every boundary."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "first_name"])
    for i in range(20_000):
        sheet.append([f"+1 650 555 {i % 10_000:04d}", f"person {i}"])
    hidden = set(range(3, 20_000, 997))
    for row in hidden:
        sheet.row_dimensions[row].hidden = True
    book.save(here / "big.xlsx")
    read = openpyxl.load_workbook(here / "big.xlsx", read_only=True)
    try:
        assert xlsxload.hidden_rows(read.worksheets[0]) == hidden
    finally:
        read.close()
