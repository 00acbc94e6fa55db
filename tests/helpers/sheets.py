"""Workbooks written as no spreadsheet app writes them, but a hand or a script can."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import openpyxl
import pytest

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def crafted(path: Path, rows: str, before: str = "", after: str = "") -> Path:
    """A workbook whose one sheet, `Leads`, holds these rows (XML, its elements prefixed
    `x:`; `o:` is another namespace), with `before` and `after` the sheet's XML around
    its `<x:sheetData>` (a `<x:cols>` before it, as apps write it, or after it)."""
    buffer = io.BytesIO()
    book = openpyxl.Workbook()
    assert book.active is not None
    book.active.title = "Leads"
    book.save(buffer)
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{MAIN}" '
        f'xmlns:o="urn:other">{before}<x:sheetData>{rows}</x:sheetData>{after}</x:worksheet>'
    )
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet.encode()
            out.writestr(info.filename, data)
    return path


def sheet_row(attributes: str, *cells: str) -> str:
    """A `<x:row>` of inline-string cells."""
    inline = "".join(f'<x:c t="inlineStr"><x:is><x:t>{c}</x:t></x:is></x:c>' for c in cells)
    return f"<x:row{attributes}>{inline}</x:row>"


def leads(
    path: Path, table: list[list[str | None]], rows: Iterable[int] = (), columns: Iterable[str] = ()
) -> Path:
    """A workbook whose sheet `Leads` holds `table` from row 1, with `rows` (numbers) and
    `columns` (letters) hidden as a spreadsheet app hides them."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    for values in table:
        sheet.append(values)
    for number in rows:
        sheet.row_dimensions[number].hidden = True
    for letter in columns:
        sheet.column_dimensions[letter].hidden = True
    book.save(path)
    return path


def dialing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sheet: str = "n.xlsx") -> Path:
    """`tmp_path` as the working directory, with `m.yaml` dialing the workbook `sheet`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(
        f"version: 1\ncampaigns:\n  - name: sheet\n    numbers_csv: {sheet}\n"
    )
    return tmp_path
