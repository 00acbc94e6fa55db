"""Crafted `.xlsx` files that stay far under the zip-size limits but would make openpyxl
work for minutes or gigabytes: each is refused in seconds, quoting nothing, through the
real CLI (`validate`)."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from .conftest import run_cli

_HEAD = (
    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>phone'
    b"</t></is></c></row>"
)
_TAIL = b"</sheetData></worksheet>"
_REFUSED = (
    'm.yaml:5:18: campaigns[0].numbers_csv: "n.xlsx" has more than 1,048,576 rows or '
    "67,108,864 cells, past what a spreadsheet app saves (a workbook to split, or a crafted "
    "one); the sheet is not read"
)


def _crafted(here: Path, body: Iterator[bytes]) -> Path:
    """A workbook saved by openpyxl whose first sheet's XML is replaced by `body`."""
    book = openpyxl.Workbook()
    book.save(here / "base.xlsx")
    with (
        zipfile.ZipFile(here / "base.xlsx") as base,
        zipfile.ZipFile(here / "n.xlsx", "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in base.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info.filename, base.read(info.filename))
                continue
            with out.open(info.filename, "w", force_zip64=True) as part:
                for chunk in (_HEAD, *body, _TAIL):
                    part.write(chunk)
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: US\ncampaigns:\n  - name: a\n    numbers_csv: n.xlsx\n"
    )
    return here / "m.yaml"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _validate(capsys: pytest.CaptureFixture[str], manifest: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    code, out, err = run_cli(capsys, "validate", str(manifest))
    assert out == ""
    return code, err, time.monotonic() - started


def test_a_row_numbered_past_excels_limit_is_refused_at_once(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3 KB: openpyxl would yield three million empty rows before this one
    far = b'<row r="3000000"><c r="A3000000" t="inlineStr"><is><t>+16507991144</t></is></c></row>'
    code, err, took = _validate(capsys, _crafted(here, iter([far])))
    assert (code, err.splitlines()) == (1, [_REFUSED])
    assert took < 30  # a loaded CI machine; before: minutes to hours


def test_millions_of_empty_row_elements_are_refused_before_openpyxl_parses_them(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a few MB of zip; openpyxl's parser keeps each row element (4 GB for 28 million)
    # (numbered on, so the zip's ratio stays that of a real sheet: this is no zip bomb)
    rows = (b'<row r="%d"/>' % n for n in range(2, 1_100_000))
    code, err, took = _validate(capsys, _crafted(here, rows))
    assert (code, err.splitlines()) == (1, [_REFUSED])
    assert took < 30  # a loaded CI machine; before: minutes to hours


def test_rows_reaching_column_xfd_are_refused_by_the_cell_budget(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 5,000 rows of one cell each at column XFD: 82 million cells as openpyxl hands them
    rows = (
        b'<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>' % (n, n)
        for n in range(2, 5002)
    )
    code, err, took = _validate(capsys, _crafted(here, rows))
    assert (code, err.splitlines()) == (1, [_REFUSED])
    assert took < 30  # a loaded CI machine; before: minutes to hours


def test_a_note_far_right_of_a_row_is_counted_not_converted(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>+16507991144</t></is></c>'
    row += b'<c r="XFD2" t="inlineStr"><is><t>a note</t></is></c></row>'
    code, err, _took = _validate(capsys, _crafted(here, iter([row])))
    assert (code, err.splitlines()) == (
        1,
        ["n.xlsx:Sheet!2:2: row has 16384 cells but the header has 1"],
    )


def test_shared_strings_that_inflate_400_times_are_a_zip_bomb(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _crafted(here, iter([]))
    with zipfile.ZipFile(here / "n.xlsx", "a", zipfile.ZIP_DEFLATED) as book:
        # a 90 KB file whose 2 million strings kept openpyxl busy for 37 s (9 min at 512 MB)
        book.writestr("xl/sharedStrings.xml", b"<sst>" + b"<si><t>a</t></si>" * 2_000_000)
    code, err, took = _validate(capsys, manifest)
    assert code == 1
    [line] = err.splitlines()
    start, ratio, end = re.fullmatch(r"(.*unzip to )(\d+)( times.*)", line).groups()  # type: ignore[union-attr]
    assert (
        start == 'm.yaml:5:18: campaigns[0].numbers_csv: "n.xlsx" has a part that would unzip to '
    )
    assert int(ratio) > 300
    assert end == (
        " times its size, over the 100 times a workbook's XML can be (a zip bomb); the file is "
        "not opened"
    )
    assert took < 30  # a loaded CI machine; before: minutes to hours
