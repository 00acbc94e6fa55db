"""A workbook's hidden columns, and hidden rows above its table: never read unseen.

A column hidden by hand, in a collapsed group or at a width of 0 is saved with the
rest (`<col min="3" max="3" hidden="1"/>`), and openpyxl reads its cells like any
other. A list that is dialed refuses a hidden column it reads (as a field of each
number) that holds anything: a reviewer sees one column of phones while another is
dialed. A hidden row above the table would have been read as its header: it is
refused like any hidden row, and the header is the first row anyone sees. An opt-out
list reads every cell, hidden or not: each is one more person not to call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.manifest import xlsxload
from upcall_sync.manifest.table import Row

from .conftest import run_cli, writes
from .helpers.sheets import crafted, dialing, leads, sheet_row

#: HubSpot's headers: an export's other columns are ignored (with a warning), not refused
HEADERS = ("Display Phone", "First Name", "Phone Number")
ROWS = (
    ("+1 650 799 1140", "Joey", "+1 650 799 9999"),
    ("+1 650 799 1141", "Ana", "+1 650 799 9998"),
)


def _workbook(
    path: Path,
    columns: tuple[str, ...] = (),
    rows: tuple[int, ...] = (),
    above: tuple[str, ...] = (),
    blank: str = "",
) -> Path:
    """HubSpot's columns over two people (in `blank` nothing below the header), with
    `above` a row over the table; `columns` and `rows` hidden."""
    table: list[list[str | None]] = [list(above)] if above else []
    table.append(list(HEADERS))
    table += [[v if chr(65 + i) != blank else None for i, v in enumerate(r)] for r in ROWS]
    return leads(path, table, rows, columns)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return dialing(tmp_path, monkeypatch)


def _stopped(here: Path, capsys: pytest.CaptureFixture[str], phone: str) -> str:
    """`validate` of a campaign dialing Ana at `phone` beside the opt-out list
    optouts.xlsx: refused (she is on it), its error returned."""
    (here / "m.yaml").write_text(
        "version: 1\ndo_not_call_csv: optouts.xlsx\ncampaigns:\n  - name: a\n    numbers:\n"
        f'      - {{phone: "{phone}", first_name: Ana}}\n'
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1, err
    return err


def test_a_hidden_column_read_as_the_phone_is_refused(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """The reviewer sees `Display Phone`; `Phone Number`, hidden, is what is dialed."""
    _workbook(here / "n.xlsx", columns=("C",))
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        code, out, err = run_cli(capsys, *command, "m.yaml")
        assert (code, out) == (1, ""), command
        assert err.splitlines()[-1] == (
            "n.xlsx:Leads!C2: column C is hidden in the workbook (by hand, in a collapsed "
            "group, or at a width of 0), yet it is read as each number's phone: nobody "
            "reviewing the workbook sees what it holds; unhide the column, or delete it"
        ), (command, err)
        assert "9999" not in err and "Traceback" not in err
    assert writes(cli_env) == 0


def test_each_hidden_column_read_is_named_with_the_other_problems(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _workbook(here / "n.xlsx", columns=("B", "C"), rows=(3,))
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    lines = err.splitlines()
    assert code == 1
    assert lines[0].startswith("n.xlsx:Leads!B2: column B is hidden"), err
    assert "read as each number's first_name" in lines[0], err
    assert lines[1].startswith("n.xlsx:Leads!C2: column C is hidden"), err
    assert lines[2].startswith("n.xlsx:Leads!3:3: row 3 is hidden in the workbook"), err
    assert lines[3:] == ["error: 3 problems found in the manifests"], err


@pytest.mark.parametrize(
    ("columns", "blank"),
    [
        (("A",), ""),  # hidden, but a column the reader ignores
        (("B",), "B"),  # read, hidden, but holding nothing below its header
        ((), ""),
    ],
)
def test_hidden_columns_not_read_or_empty_are_fine(
    here: Path, capsys: pytest.CaptureFixture[str], columns: tuple[str, ...], blank: str
) -> None:
    _workbook(here / "n.xlsx", columns=columns, blank=blank)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (0, "1 file, 1 campaign, 2 numbers: valid\n"), err
    assert "hidden" not in err


def test_a_hidden_row_above_the_table_is_not_its_header(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Row 1, hidden, would name column A the phone: the table anyone sees starts at row
    2, whose header reads the phone from C. Refused, the header is the one shown."""
    _workbook(here / "n.xlsx", above=("phone", "first_name"), rows=(1,))
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "n.xlsx:Leads!1:1: row 1 is hidden in the workbook (by hand, in a collapsed group, "
        "by a filter, or at a height of 0): nobody reviewing the workbook sees what it "
        "holds, yet upcall-sync reads every row (a hidden row above the table would be read "
        "as its header); unhide the row, or delete it",
    ], err
    # read past the refusal, the header was row 2's: its phone column C, never A
    rows = _rows(here / "n.xlsx", xlsxload.Hidden())
    assert [row.number for row in rows] == [2, 3, 4]


def _rows(path: Path, held: xlsxload.Hidden | None) -> list[Row]:
    with path.open("rb") as fh:
        book, name = xlsxload.open_sheet(fh, path.name, None)
        try:
            return list(xlsxload.xlsx_rows(book, name, path.name, held))
        finally:
            book.close()


def test_a_sheet_whose_every_row_is_hidden_says_so(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "the sheet is empty": it holds three rows, none shown."""
    _workbook(here / "n.xlsx", rows=(1, 2, 3))
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, "")
    assert err.startswith("n.xlsx:1: rows 1, 2 and 3 are hidden in the workbook ("), err
    assert "above the table" in err and "empty" not in err


def test_an_opt_out_list_reads_its_hidden_columns(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The opt-out list's phone column is hidden: Ana opted out all the same."""
    _workbook(here / "optouts.xlsx", columns=("A", "C"))
    err = _stopped(here, capsys, "+1 650 799 9998")
    assert "+16507999998 at optouts.xlsx:Leads!3:3" in err, err
    assert "hidden" not in err


# -- how a column's hiding is written ------------------------------------------------------


def _crafted(path: Path, cols: str, after: str = "") -> Path:
    """HubSpot's table, with `cols` (XML) before its rows and `after` after them."""
    rows = "".join(sheet_row(f' r="{n}"', *values) for n, values in enumerate([HEADERS, *ROWS], 1))
    return crafted(path, rows, cols, after)


def _hidden_columns(path: Path) -> set[int]:
    book = openpyxl.load_workbook(path, read_only=True)
    layout = xlsxload.Layout()
    try:
        list(xlsxload.sheet_rows(book.worksheets[0], layout))
    finally:
        book.close()
    return layout.columns


@pytest.mark.parametrize(
    ("cols", "after", "hidden", "refused"),
    [
        ('<x:cols><x:col min="3" max="3" hidden="1"/></x:cols>', "", {2}, "C2"),
        ('<x:cols><x:col min="2" max="5" hidden=" true "/></x:cols>', "", {1, 2, 3, 4}, "B2"),
        ('<x:cols><x:col min="3" max="3" width="0" customWidth="1"/></x:cols>', "", {2}, "C2"),
        ('<x:cols><x:col min="3" max="3" hidden="&#49;"/></x:cols>', "", {2}, "C2"),
        # drawn no wider than a pixel: as hidden as at 0
        ('<x:cols><x:col min="3" max="3" width="0.01" customWidth="1"/></x:cols>', "", {2}, "C2"),
        ('<x:cols><x:col min="3" max="3" width="-1" customWidth="1"/></x:cols>', "", {2}, "C2"),
        # two ranges from one first column: openpyxl keeps the last, the check each
        (
            '<x:cols><x:col min="3" max="3" hidden="1"/><x:col min="3" max="3"/></x:cols>',
            "",
            {2},
            "C2",
        ),
        # `<cols>` after the rows: their cells went by unlooked at, so it counts as filled
        ("", '<x:cols><x:col min="3" max="3" hidden="1"/></x:cols>', {2}, "C1"),
    ],
)
def test_a_hidden_column_is_found_however_its_xml_is_written(
    here: Path,
    capsys: pytest.CaptureFixture[str],
    cols: str,
    after: str,
    hidden: set[int],
    refused: str,
) -> None:
    _crafted(here / "n.xlsx", cols, after)
    assert _hidden_columns(here / "n.xlsx") == hidden
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, ""), err
    assert f"n.xlsx:Leads!{refused}: column {refused[0]} is hidden" in err, err


@pytest.mark.parametrize(
    "cols",
    [
        '<x:cols><x:col min="3" max="3" hidden="0" width="12"/></x:cols>',
        '<x:cols><x:col min="3" max="3" width="0.5" customWidth="1"/></x:cols>',
        '<x:cols><x:col min="4" max="16384" hidden="1"/></x:cols>',  # past the table
    ],
)
def test_columns_shown_are_read(here: Path, capsys: pytest.CaptureFixture[str], cols: str) -> None:
    _crafted(here / "n.xlsx", cols)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (0, "1 file, 1 campaign, 2 numbers: valid\n"), err


def test_a_col_element_naming_no_column_is_unreadable(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _crafted(here / "n.xlsx", '<x:cols><x:col min="5" max="2" hidden="1"/></x:cols>')
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, "")
    assert "is not a readable .xlsx workbook" in err, err


# -- what reading a hidden column costs ----------------------------------------------------


def test_columns_hidden_right_of_the_table_cost_nothing_a_row(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tidy workbook hides every column right of its table (`D:XFD`, 16,381 columns):
    each row looks at the hidden columns under the header only (a 100,000-row sheet took
    46 s to read instead of 6.5 s, looking at each of them in each row)."""
    _crafted(here / "n.xlsx", '<x:cols><x:col min="4" max="16384" hidden="1"/></x:cols>')
    looked: list[int] = []
    note = xlsxload._note_columns

    def counting(held: xlsxload.Hidden, columns: Any, cells: list[str], number: int) -> Any:
        looked.append(len(columns))
        return note(held, columns, cells, number)

    monkeypatch.setattr(xlsxload, "_note_columns", counting)
    held = xlsxload.Hidden()
    assert [row.number for row in _rows(here / "n.xlsx", held)] == [1, 2, 3]
    assert held.columns == {} and max(looked, default=0) <= len(HEADERS), looked


def test_a_hidden_column_is_one_line_quoting_none_of_its_cells(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its phones stored as numbers (no phone_region), one not even a phone: the column is
    refused in one line, and none of its cells' own errors quotes what nobody sees."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(list(HEADERS))
    sheet.append(["+1 650 799 1140", "Joey", 16507999999])
    sheet.append(["+1 650 799 1141", "Ana", "12"])
    sheet.column_dimensions["C"].hidden = True
    book.save(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, ""), err
    assert err.splitlines() == [
        "n.xlsx:Leads!C2: column C is hidden in the workbook (by hand, in a collapsed "
        "group, or at a width of 0), yet it is read as each number's phone: nobody "
        "reviewing the workbook sees what it holds; unhide the column, or delete it"
    ], err


@pytest.mark.parametrize(
    ("cols", "after", "refused"),
    [
        # every column at a width of 0 but A and B (Excel, its unused columns hidden)
        (
            '<x:sheetFormatPr defaultColWidth="0" zeroHeight="0"/>'
            '<x:cols><x:col min="1" max="2" width="12" customWidth="1"/></x:cols>',
            "",
            "C2",
        ),
        # a `<col>` giving C no width of its own: the default's, 0
        (
            '<x:sheetFormatPr defaultColWidth="0.0"/><x:cols><x:col min="1" max="2" '
            'width="12"/><x:col min="3" max="3" hidden="0"/></x:cols>',
            "",
            "C2",
        ),
        # after the rows, as no app writes it: counted as filled, at the header
        ("", '<x:sheetFormatPr defaultColWidth="0"/>', "C1"),
    ],
)
def test_columns_at_a_default_width_of_0_are_hidden(
    here: Path, capsys: pytest.CaptureFixture[str], cols: str, after: str, refused: str
) -> None:
    _crafted(here / "n.xlsx", cols, after)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, ""), err
    assert f"n.xlsx:Leads!{refused}: column C is hidden" in err, err


def test_a_default_width_one_can_see_hides_nothing(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _crafted(
        here / "n.xlsx",
        '<x:sheetFormatPr defaultColWidth="8.5390625"/>'
        '<x:cols><x:col min="1" max="2" width="0.5"/></x:cols>',
    )
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (0, "1 file, 1 campaign, 2 numbers: valid\n"), err


# -- merged cells: one value shown across them, each cell read as saved ---------------------

#: a header naming the phone in B, then three people
TABLE = (
    ("Display Phone", "Phone Number", "First Name", "Company"),
    ("+1 650 799 1140", "+1 650 799 1140", "Joey", "Acme"),
    ("+1 650 799 1141", "+1 650 799 1141", "Ana"),
    ("+1 650 799 1142", "+1 650 799 1142", "Priya"),
)


def _merged(path: Path, *refs: str, **cells: str) -> Path:
    """TABLE with these ranges merged, and `cells` (`B3="..."`) overwritten."""
    table = [list(values) for values in TABLE]
    for ref, value in cells.items():
        row, column = int(ref[1:]) - 1, ord(ref[0]) - 65
        table[row] += [""] * (column + 1 - len(table[row]))
        table[row][column] = value
    rows = "".join(sheet_row(f' r="{n}"', *values) for n, values in enumerate(table, 1))
    merges = "".join(f'<x:mergeCell ref="{ref}"/>' for ref in refs)
    return crafted(path, rows, after=f"<x:mergeCells>{merges}</x:mergeCells>")


def test_a_merged_cell_hiding_the_phone_read_is_refused(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """A2:B2 merged shows A2's phone across both; B2, covered, holds another, and B is
    the column read as the phone: the number dialed is one nobody sees."""
    _merged(here / "n.xlsx", "A2:B2", B2="+1 900 555 0100")
    for command in (["validate"], ["plan"]):
        code, out, err = run_cli(capsys, *command, "m.yaml")
        assert (code, out) == (1, ""), command
        assert err.splitlines() == [
            "n.xlsx:Leads!A2: cells A2:B2 are merged: a spreadsheet app shows A2's value "
            "across them, yet upcall-sync reads each cell's own value as each number's phone "
            "(an empty one, or one nobody reviewing the workbook sees); unmerge the cells "
            "and fill each one"
        ], (command, err)
    assert writes(cli_env) == 0


def test_cells_merged_down_a_column_read_are_refused_quoting_none(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """D2:D4 shows Acme on every row, yet Ana's and Priya's company read empty; a covered
    cell's own error (B3 is no phone) is not said: it would quote what nobody sees."""
    _merged(here / "n.xlsx", "D2:D4", "A3:C3", B3="12", C3="secret")
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith("n.xlsx:Leads!D2: cells D2:D4 are merged"), err
    assert "as each number's company (" in lines[0], err
    assert lines[1].startswith("n.xlsx:Leads!A3: cells A3:C3 are merged"), err
    assert "as each number's phone and first_name (" in lines[1], err
    assert lines[2:] == ["error: 2 problems found in the manifests"], err
    assert "12" not in err and "secret" not in err


def test_a_header_merged_over_a_column_it_reads_is_refused(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """C1:D1 shows `First Name` over two columns; D1, covered, names D the company."""
    _merged(here / "n.xlsx", "C1:D1")
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.startswith("n.xlsx:Leads!C1: cells C1:D1 are merged: "), err
    assert "as each number's company (" in err, err


def test_the_ranges_of_every_merge_cells_element_are_read(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `<mergeCells>` (as no app writes them): LibreOffice merges the ranges of both,
    while openpyxl keeps the last; A2:B2, in the first, hid the phone read from B2."""
    table = [list(values) for values in TABLE]
    table[1][1] = "+1 900 555 0100"
    rows = "".join(sheet_row(f' r="{n}"', *values) for n, values in enumerate(table, 1))
    merges = '<x:mergeCells><x:mergeCell ref="A2:B2"/></x:mergeCells>'
    crafted(here / "n.xlsx", rows, after=merges + merges.replace("A2:B2", "F9:G9"))
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.startswith("n.xlsx:Leads!A2: cells A2:B2 are merged: "), err
    assert "900" not in err


def test_many_merged_ranges_are_refused_in_one_pass_over_the_problems() -> None:
    """30,000 ranges merged over the phone column took 109 s to refuse: the problems were
    filtered once a range. Each range is one line; a covered cell's problem goes, once."""
    from types import SimpleNamespace

    from upcall_sync.errors import Problem
    from upcall_sync.manifest.contacts_header import Header, Place
    from upcall_sync.manifest.xlsxunseen import _refuse_merged

    class Counted(list[Problem]):
        passes = 0

        def __iter__(self) -> Any:
            Counted.passes += 1
            return super().__iter__()

    place = Place("n.xlsx", "Leads", shown=True)
    problems = Counted(
        [Problem(place(3, 2), "phone", "is not valid: 12"), Problem(place(4, 1), "", "x")]
    )
    reader = SimpleNamespace(
        header=Header(fields={1: "phone"}), top=1, blank_between=lambda _low, _high: False
    )
    ranges = [(1, row, 2, row) for row in range(2, 2_002)]
    _refuse_merged(problems, ranges, reader, place)  # type: ignore[arg-type]
    assert Counted.passes <= 2
    assert len(problems) == 2_001
    assert problems[0].message == "x"
    assert [str(p.location) for p in problems[1:3]] == ["n.xlsx:Leads!A2", "n.xlsx:Leads!A3"]


@pytest.mark.parametrize(
    "header",
    [
        ("phone", "first_name", "Secret 900"),  # own names: C1 an unknown column
        ("Phone Number", "First Name", "Secret 900"),  # an export's: C1 ignored, warned of
        ("Phone Number", "Mobile Phone Number"),  # two phone columns, one covered
    ],
)
def test_a_header_cell_merged_over_is_refused_quoting_none(
    here: Path, capsys: pytest.CaptureFixture[str], header: tuple[str, ...]
) -> None:
    """A1:C1 shows A1's name across the header; B1 and C1, covered, named columns in
    the errors and warnings about the header, quoting what nobody sees. The header's
    problems wait until the cells are unmerged (found even when the header is refused:
    the merged cells come after the rows)."""
    table = [header, ("+1 650 799 1140", "Joey"), ("+1 650 799 1141", "Ana")]
    rows = "".join(sheet_row(f' r="{n}"', *values) for n, values in enumerate(table, 1))
    end = "C1" if len(header) == 3 else "B1"
    crafted(
        here / "n.xlsx", rows, after=f'<x:mergeCells><x:mergeCell ref="A1:{end}"/></x:mergeCells>'
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"n.xlsx:Leads!A1: cells A1:{end} are merged: "), err
    assert "a column's name in the header (" in lines[0], err
    assert lines[1:] in ([], ["error: 1 problem found in the manifests"]), err
    assert "Secret" not in err and "Mobile" not in err


@pytest.mark.parametrize(
    "refs",
    [
        ("A2:A4",),  # a column the sheet ignores
        ("E2:F4",),  # right of the table
        ("A1:A4",),  # the ignored column, its header too
    ],
)
def test_merged_cells_the_sheet_does_not_read_are_fine(
    here: Path, capsys: pytest.CaptureFixture[str], refs: tuple[str, ...]
) -> None:
    _merged(here / "n.xlsx", *refs)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (0, "1 file, 1 campaign, 3 numbers: valid\n"), err


def test_an_opt_out_list_reads_its_merged_cells_as_saved(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _merged(here / "optouts.xlsx", "A3:B3", B3="+1 650 799 9998")
    err = _stopped(here, capsys, "+1 650 799 9998")
    assert "+16507999998 at optouts.xlsx:Leads!3:3" in err, err
    assert "merged" not in err


@pytest.mark.parametrize(
    ("refs", "refused"),
    [
        (("B5:C7",), ""),  # below the table, every cell blank: shown as read
        (("B4:C6",), "B4"),  # from Priya's row down: her first_name shown across C4
        (("B6:B7", "C9:C12"), ""),
    ],
)
def test_merged_cells_over_blank_rows_below_the_table_are_fine(
    here: Path, capsys: pytest.CaptureFixture[str], refs: tuple[str, ...], refused: str
) -> None:
    """A template's blank merged block under the table shows nothing and reads nothing."""
    _merged(here / "n.xlsx", *refs)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    if refused:
        assert (code, out) == (1, ""), err
        assert err.startswith(f"n.xlsx:Leads!{refused}: cells {refused}:"), err
    else:
        assert (code, out) == (0, "1 file, 1 campaign, 3 numbers: valid\n"), err


# -- a number format that shows nothing: `;;;` ---------------------------------------------


def _formatted(path: Path, formats: dict[str, str], **cells: str) -> Path:
    """Two people (phone, first_name), with `formats` set on cells, `cells` overwritten."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    for values in (
        ["phone", "first_name"],
        ["+1 650 799 1140", "Joey"],
        ["+1 650 799 1141", "Ana"],
    ):
        sheet.append(values)
    for ref, value in cells.items():
        sheet[ref] = value
    for ref, fmt in formats.items():
        sheet[ref].number_format = fmt
    book.save(path)
    return path


def test_cells_a_number_format_hides_are_refused_quoting_none(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """`;;;` is the spreadsheet apps' own way to hide what a cell holds: A3 looks blank,
    yet its phone was dialed. A3's own error (no phone) is not said: it quotes it."""
    _formatted(here / "n.xlsx", {"A3": ";;;", "B2": ";;;"}, A3="12")
    for command in (["validate"], ["plan"]):
        code, out, err = run_cli(capsys, *command, "m.yaml")
        assert (code, out) == (1, ""), (command, err)
        assert err.splitlines() == [
            "n.xlsx:Leads!B2: cell B2 shows nothing: its number format (such as ;;;) hides "
            "what it holds, yet upcall-sync reads it as each number's first_name; give the "
            "cells a format that shows them (General), or clear them",
            "n.xlsx:Leads!A3: cell A3 shows nothing: its number format (such as ;;;) hides "
            "what it holds, yet upcall-sync reads it as each number's phone; give the cells "
            "a format that shows them (General), or clear them",
            "error: 2 problems found in the manifests",
        ], (command, err)
    assert writes(cli_env) == 0


@pytest.mark.parametrize(
    ("fmt", "refused"),
    [
        (";;;", True),
        ('[Red];[Blue];"";', True),  # the 4th section, for text, is empty
        ("[Red];[Blue];[Green];[White]", True),  # brackets show nothing
        ('0;0;0;" "', True),  # a space, quoted
        ("0;0;0;_)* ", True),  # padding and fill
        (";;", False),  # numbers hidden, text (a phone written as text) shown
        ('0;-0;0;"x"@', False),
        ("@", False),
        ('"Tel: "@', False),  # text shown with a prefix
        ('0;0;0;"a;b"@', False),  # a quoted `;` does not split
        ('0;0;0;"-"', True),  # the text's section writes "-" in its place
        ('0;0;0;"\u200b"', True),  # or a zero-width space
        ("0;0;0;\\-", True),  # or an escaped "-"
    ],
)
def test_only_a_format_showing_nothing_of_the_text_refuses_it(
    here: Path, capsys: pytest.CaptureFixture[str], fmt: str, refused: bool
) -> None:
    _formatted(here / "n.xlsx", {"A2": fmt})
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code == 1) is refused, err
    assert ("cell A2 shows nothing" in err) is refused, err


def test_a_phone_stored_as_a_number_under_a_format_hiding_numbers_is_refused(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`;;` shows no number: a phone stored as a number (read with phone_region) hides."""
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: US\ncampaigns:\n  - name: sheet\n    numbers_csv: n.xlsx\n"
    )
    book = openpyxl.load_workbook(_formatted(here / "n.xlsx", {}))
    book["Leads"]["A3"] = 6507991141
    book["Leads"]["A3"].number_format = ";;"
    book.save(here / "n.xlsx")
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1 and err.startswith("n.xlsx:Leads!A3: cell A3 shows nothing"), err
    assert "6507991141" not in err


@pytest.mark.parametrize(
    ("fmt", "refused"),
    [
        (";0", True),  # the positive section is empty: a phone is a positive number
        (";General", True),
        (";;General", True),
        ('"-";"-";"-"', True),  # a literal in the number's place
        ('[>100]"";0', True),  # a condition sends a phone to the empty section
        ('[<100]"";0', False),  # and to a shown one
        ("[>0];;;", True),
        ("0;;", False),  # negatives and 0 hidden: a phone is neither
        ('#,##0;(#,##0);"-"', False),
        ("[h]:mm", False),  # elapsed hours show the number
        ("[Red]0", False),
        ('_(* #,##0_);_(* (#,##0);_(* "-"??_);_(@_)', False),
    ],
)
def test_a_number_is_refused_when_the_section_that_shows_it_hides_it(
    here: Path, capsys: pytest.CaptureFixture[str], fmt: str, refused: bool
) -> None:
    """Each number takes one section: `;0` shows a negative number, yet hides a phone
    stored as a number as surely as `;;;` (b51 found it dialed unseen)."""
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: US\ncampaigns:\n  - name: sheet\n    numbers_csv: n.xlsx\n"
    )
    book = openpyxl.load_workbook(_formatted(here / "n.xlsx", {}))
    book["Leads"]["A3"] = 6507991141
    book["Leads"]["A3"].number_format = fmt
    book.save(here / "n.xlsx")
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert ("cell A3 shows nothing" in err) is refused, err
    assert (code == 1) is refused or "[h]" in fmt, err
    assert "6507991141" not in err.replace("(A3)", "")


def test_an_opt_out_list_reads_cells_its_format_hides(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _formatted(here / "optouts.xlsx", {"A3": ";;;"})
    err = _stopped(here, capsys, "+1 650 799 1141")
    assert "+16507991141 at optouts.xlsx:Leads!3:3" in err, err
    assert "shows nothing" not in err
