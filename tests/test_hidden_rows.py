"""A workbook's hidden rows: never dialed unseen, always read from an opt-out list.

A row hidden by hand, in a collapsed group or by a filter is saved with the rest
(`<row r="12" hidden="1">`), and openpyxl reads it like any other. Nobody reviewing
the workbook sees it, so a list that is dialed refuses it; an opt-out list reads it,
since each of its rows is one more person not to call.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.errors import ManifestError
from upcall_sync.manifest import load_manifests, xlsxload

from .conftest import run_cli, writes
from .helpers.sheets import crafted, dialing, leads, sheet_row

PEOPLE = ["Joey", "Ana", "Priya", "Marcus", "Rita", "Kim", "Lee", "Sam", "Tom"]


def _workbook(path: Path, hidden: list[int], blank: tuple[int, ...] = ()) -> Path:
    """Header in row 1, then one person a row (none in the rows `blank`)."""
    table: list[list[str | None]] = [["phone", "first_name"]]
    for i, name in enumerate(PEOPLE):
        filled = i + 2 not in blank
        table.append([f"+1 650 799 11{40 + i}", name] if filled else [None, None])
    return leads(path, table, hidden)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return dialing(tmp_path, monkeypatch)


def test_hidden_rows_of_a_list_that_is_dialed_are_refused(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    _workbook(here / "n.xlsx", hidden=[3, 5])
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        code, out, err = run_cli(capsys, *command, "m.yaml")
        assert (code, out) == (1, ""), command
        assert err.splitlines() == [
            "n.xlsx:Leads!3:3: rows 3 and 5 are hidden in the workbook (by hand, in a "
            "collapsed group, by a filter, or at a height of 0): nobody reviewing the "
            "workbook sees these "
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


def test_hidden_rows_are_refused_with_every_other_problem(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal comes with the sheet's other problems, as `validate` lists every one:
    it stopped the read once, and a fix of the hidden rows only led to the next error."""
    _workbook(here / "n.xlsx", hidden=[3])
    book = openpyxl.load_workbook(here / "n.xlsx")
    book["Leads"]["A5"] = "+1 555"
    book.save(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("n.xlsx:Leads!3:3: row 3 is hidden in the workbook"), err
    assert lines[1] == 'n.xlsx:Leads!A5: phone: "+1 555" is not a valid phone number', err
    assert lines[2:] == ["error: 2 problems found in the manifests"], err


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


HEADER = sheet_row(' r="1"', "phone", "first_name")
SHOWN = sheet_row(' r="2"', "+1 650 799 1140", "Joey")
HIDDEN = ("+1 650 799 1145", "Rita")


def _hidden_numbers(path: Path) -> set[int]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {n for n, _values, hidden in xlsxload.sheet_rows(book.worksheets[0]) if hidden}
    finally:
        book.close()


@pytest.mark.parametrize(
    ("rows", "refused"),
    [
        # numbered as openpyxl numbers its cells: int(), else a whole float
        (HEADER + SHOWN + sheet_row(' r="5.0" hidden="1"', *HIDDEN), 5),
        (HEADER + SHOWN + sheet_row(' r=" 5" hidden="1"', *HIDDEN), 5),
        (HEADER + SHOWN + sheet_row(' r="+5" hidden="1"', *HIDDEN), 5),
        # the attribute as XML reads it
        (HEADER + SHOWN + sheet_row(' r="5" hidden="&#49;"', *HIDDEN), 5),
        (HEADER + SHOWN + sheet_row(' r="5" hidden=" true "', *HIDDEN), 5),
        (HEADER + SHOWN + sheet_row(' r="5" o:note="a>b" hidden="1"', *HIDDEN), 5),
        # a row of height 0 shows nothing either (a script's way of hiding it)
        (HEADER + SHOWN + sheet_row(' r="5" ht="0" customHeight="1"', *HIDDEN), 5),
        (HEADER + SHOWN + sheet_row(' r="5" ht=" 0.0 "', *HIDDEN), 5),
        # lower than a pixel, or below 0: no app shows any of it
        (HEADER + SHOWN + sheet_row(' r="5" ht="0.01" customHeight="1"', *HIDDEN), 5),
        (HEADER + SHOWN + sheet_row(' r="5" ht="-1"', *HIDDEN), 5),
        # rows without `r` follow the row before; a comment or a row of another
        # namespace is no row
        (HEADER + "<!-- <x:row> -->" + sheet_row(' hidden="1"', *HIDDEN), 2),
        (HEADER + "<o:row/>" + sheet_row(' hidden="1"', *HIDDEN), 2),
        (HEADER + sheet_row(' spans="1:2" hidden="true"', *HIDDEN), 2),
    ],
)
def test_a_hidden_row_is_found_however_its_xml_is_written(
    here: Path, capsys: pytest.CaptureFixture[str], rows: str, refused: int
) -> None:
    """The hidden flag is read with the row's cells, by the same XML parser: no way of
    writing the row element lets a hidden row through, or names the wrong row."""
    crafted(here / "n.xlsx", rows)
    assert _hidden_numbers(here / "n.xlsx") == {refused}
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, "")
    assert err.startswith(f"n.xlsx:Leads!{refused}:{refused}: row {refused} is hidden"), err
    assert "Rita" not in err


def test_a_zero_height_row_is_refused_naming_its_height(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row of height 0 has no `hidden` flag: the message names the height among the
    ways a row is hidden, or its reader looks for a hide, group or filter that is not there."""
    crafted(here / "n.xlsx", HEADER + SHOWN + sheet_row(' r="3" ht="0" customHeight="1"', *HIDDEN))
    _code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert "row 3 is hidden in the workbook (" in err and "or at a height of 0)" in err, err


@pytest.mark.parametrize(
    "rows",
    [
        HEADER + SHOWN + '<!-- <x:row r="3" hidden="1"> -->' + sheet_row(' r="3"', "+16507991143"),
        HEADER
        + sheet_row(' r="2"', "+1 650 799 1140", '<![CDATA[Jo <x:row r="3" hidden="1">]]>')
        + sheet_row(' r="3"', "+16507991143"),
        HEADER + SHOWN + sheet_row(' r="3" hidden="0" o:hidden="1"', "+16507991143"),
        HEADER + SHOWN + sheet_row(' r="3"', "+16507991143", 'hidden="1"'),
        HEADER + SHOWN + sheet_row(' r="3" ht="0.75" customHeight="1"', "+16507991143"),
        HEADER + SHOWN + sheet_row(' r="3" ht="zero"', "+16507991143"),
    ],
)
def test_hidden_in_text_comments_or_another_namespace_hides_nothing(
    here: Path, capsys: pytest.CaptureFixture[str], rows: str
) -> None:
    crafted(here / "n.xlsx", rows)
    assert _hidden_numbers(here / "n.xlsx") == set()
    assert run_cli(capsys, "validate", "m.yaml") == (
        0,
        "1 file, 1 campaign, 2 numbers: valid\n",
        "",
    )


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
    assert _hidden_numbers(here / "big.xlsx") == hidden


def test_the_hidden_check_reads_the_sheet_once(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A LibreOffice sheet says `hidden="false"` on every row: the check costs nothing
    beyond reading the rows (a second pass over the XML had cost ~15% of the read)."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    _workbook(here / "n.xlsx", hidden=[])
    opened: list[str] = []
    source = ReadOnlyWorksheet._get_source

    def counted(ws: ReadOnlyWorksheet) -> object:
        opened.append(ws.title)
        return source(ws)

    with (here / "n.xlsx").open("rb") as fh:
        book, name = xlsxload.open_sheet(fh, "n.xlsx", None)
        monkeypatch.setattr(ReadOnlyWorksheet, "_get_source", counted)
        try:
            rows = list(xlsxload.xlsx_rows(book, name, "n.xlsx", xlsxload.Hidden()))
        finally:
            book.close()
    assert len(rows) == 1 + len(PEOPLE)
    assert opened == ["Leads"]
