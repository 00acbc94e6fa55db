"""`.xlsx` contacts files as rows, through openpyxl in read-only mode.

Before openpyxl sees the file, its zip directory is read: a workbook that would unzip
to more than MAX_XLSX_UNZIPPED_BYTES (a zip bomb) is refused. Python's zipfile never
inflates an entry past the size its directory declares, so the check holds. Sheet XML
is parsed by the standard library's expat, which limits entity expansion itself.
Cells come out as text; numbers as their digits (`16507991144`, not `1.6507991144E10`)
with their columns marked, so the reader can say where Excel dropped a `+` or a `0`.
Nothing here quotes the file's content.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, BinaryIO, TypeVar

from upcall_sync.core.normalize import quote
from upcall_sync.errors import Location
from upcall_sync.manifest.table import XLS_MAGIC, Row, TableError
from upcall_sync.manifest.xlsxstyle import masked as hidden_by_style
from upcall_sync.manifest.xlsxstyle import masking_styles, plus_prefixes
from upcall_sync.manifest.xlsxunseen import Hidden, hidden_rows_message

_T = TypeVar("_T")

#: a workbook whose parts unzip to more than this is refused before it is opened
MAX_XLSX_UNZIPPED_BYTES = 512 * 1024 * 1024
#: a part that unzips to more than this many times its compressed size is a zip bomb
MAX_INFLATE_RATIO = 100
#: Excel's own limit: a sheet a spreadsheet app saved never has more rows
MAX_ROWS = 1_048_576
#: cells handed over, counting each row up to its last cell (1,048,576 rows of 64 columns)
MAX_CELLS = MAX_ROWS * 64
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
#: a row element numbered 1,000,000 or more (openpyxl would yield every row before it)
_FAR_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\s[^<>]*?\br=[\"']0*([1-9][0-9]{6,})[\"']")
_NOT_A_WORKBOOK = "is not a readable .xlsx workbook (save it again from the spreadsheet app)"
#: how much of a part's XML `_check_row_elements` reads at a time
_CHUNK = 1 << 20
#: Excel's column limit (XFD): a `<col>` range reaching past it hides nothing more
MAX_COLUMNS = 16_384
#: a column narrower than this many characters is as hidden: at Excel's default font it
#: is drawn a pixel wide or less (0.07 and below: no pixel at all)
MIN_WIDTH = 0.1
#: a row lower than this many points is as hidden: drawn less than a pixel high (96 dpi)
MIN_HEIGHT = 0.75


@dataclass
class Layout:
    """What a sheet's XML says it hides, as `sheet_rows` reads it: each hidden column
    (0-based), each range of merged cells (min_col, min_row, max_col, max_row; 1-based)
    and each cell (row, 1-based column) holding a value its number format shows nothing of."""

    columns: set[int] = field(default_factory=set)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    masked: list[tuple[int, int]] = field(default_factory=list)


def check_unzipped_size(fh: BinaryIO, display: str, limit: int) -> None:
    """Refuse a file that is no zip, or whose parts would unzip past `limit` bytes."""
    try:
        with zipfile.ZipFile(fh) as archive:
            total = sum(info.file_size for info in archive.infolist())
            if total > limit:
                raise TableError(
                    f"would unzip to {total / 1024 / 1024:,.0f} MB, over the "
                    f"{limit // 1024 // 1024} MB limit for a workbook (a zip bomb, or a "
                    "workbook to split)"
                )
            for info in archive.infolist():
                _check_ratio(info)
                _check_row_elements(archive, info)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        raise TableError(_not_a_workbook(fh)) from None
    finally:
        fh.seek(0)


def _not_a_workbook(fh: BinaryIO) -> str:
    """Why a file named .xlsx is no zip, when its first bytes tell (quoting none of them):
    an Excel 97-2003 .xls, or text (a CSV saved under a workbook's name)."""
    fh.seek(0)
    head = fh.read(4096)
    if head.startswith(XLS_MAGIC):
        return (
            "is not a readable .xlsx workbook: it is an Excel 97-2003 (.xls) workbook; "
            "save it as .xlsx from the spreadsheet app"
        )
    head = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of what was read
        text = head[: exc.start].decode("utf-8") if exc.start > len(head) - 4 else ""
    if text.strip() and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return (
            "is not a readable .xlsx workbook: it is text (a CSV file named .xlsx?); name it .csv"
        )
    return _NOT_A_WORKBOOK


def _check_ratio(info: zipfile.ZipInfo) -> None:
    """Refuse a part that inflates more than MAX_INFLATE_RATIO times (past 1 MiB): a
    spreadsheet app's XML compresses 5-20 times; 90 KB that unzip to 34 MB of shared
    strings keep openpyxl busy for half a minute (Apache POI's zip-bomb rule, same ratio)."""
    if info.file_size > 1 << 20 and info.file_size > MAX_INFLATE_RATIO * info.compress_size:
        raise TableError(
            f"has a part that would unzip to {info.file_size / max(info.compress_size, 1):,.0f} "
            f"times its size, over the {MAX_INFLATE_RATIO} times a workbook's XML can be "
            "(a zip bomb); the file is not opened"
        )


def _check_row_elements(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a part holding more row elements than Excel allows, before openpyxl sees it:
    opening a workbook parses each sheet whose XML has no <dimension> (to size it), and
    its parser keeps every row element it has seen, so time and memory grow with them."""
    count, tail = 0, b""
    with archive.open(info) as part:
        while chunk := part.read(_CHUNK):
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag split across chunks is counted with the next
            cut = len(data) if cut < 0 else cut
            count += len(_ROW_TAG.findall(data, 0, cut))
            far = [int(r) for r in _FAR_ROW.findall(data, 0, cut)]
            tail = data[cut:]
            if count > MAX_ROWS or max(far, default=0) > MAX_ROWS:
                raise _too_big()
    far = [int(r) for r in _FAR_ROW.findall(tail)]
    if count + len(_ROW_TAG.findall(tail)) > MAX_ROWS or max(far, default=0) > MAX_ROWS:
        raise _too_big()


def open_sheet(
    fh: BinaryIO, display: str, sheet: str | None, sheet_key: str = "numbers_sheet"
) -> tuple[Any, str]:
    """(workbook, sheet name): the named sheet, or the first one. The caller closes it."""
    import openpyxl

    check_unzipped_size(fh, display, MAX_XLSX_UNZIPPED_BYTES)
    try:
        with warnings.catch_warnings():  # "unsupported extension" notes are no user's concern
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception:  # a hostile file can fail anywhere inside openpyxl; quote nothing
        raise TableError(_NOT_A_WORKBOOK) from None
    names = [ws.title for ws in book.worksheets]
    if not names:
        book.close()
        raise TableError("has no worksheet")
    if sheet is not None and sheet not in names:
        book.close()
        count = f"{len(names)} sheet{'s' if len(names) != 1 else ''}"
        raise TableError(
            f"has no sheet named {quote(sheet)} (it has {count}; {sheet_key} must match a "
            "name exactly, case and spaces included)"
        )
    if sheet is None and book.worksheets[0].sheet_state != "visible":
        # The first tab a spreadsheet app shows is another sheet: reading this one would
        # dial people nobody reviewing the workbook sees. Ask, naming no sheet.
        book.close()
        raise TableError(
            f"has a hidden first sheet, so the first sheet a spreadsheet app shows is "
            f"another one: say which sheet to read with {sheet_key}: (its name exactly, "
            "case and spaces included)"
        )
    return book, names[0] if sheet is None else sheet


def xlsx_rows(
    book: Any,
    name: str,
    display: str,
    held: Hidden | None = None,
) -> Iterator[Row]:
    """The sheet's header row, then every row, cells as text (trailing empty ones dropped).

    Bounded whatever the file claims: a tiny sheet can hold one cell at row 1,000,000,000
    (openpyxl fills the rows between) or at column XFD of every row, or millions of empty
    row elements; past Excel's row limit or MAX_CELLS it is refused, quoting nothing.

    With `held` (a list that is dialed), a row that holds anything and that the workbook
    hides (by hand, grouped, filtered out, or at a height of (nearly) 0) is not handed on but
    added to `held.rows`, above the table too (the header is then the first row anyone
    sees); each hidden column (or one of width 0) that holds anything below the header
    goes into `held.columns`, for the caller to refuse the file if it reads that column.
    Nobody reviewing the workbook sees such a cell, so it is never dialed. An opt-out
    list reads them like any other (each is one more person not to call)."""
    ws = book[name]
    width = 0
    number = 0
    seen = 0
    layout = None if held is None else Layout()
    looked: frozenset[int] = frozenset()  # the hidden columns every row was looked at in
    pending: list[int] = []  # those of them under the header not yet seen holding anything
    header = 0
    try:
        for number, values, hidden in _quietly(sheet_rows(ws, layout)):
            seen += len(values)
            if number > MAX_ROWS or seen > MAX_CELLS:
                raise _too_big()
            cells, numeric, dates = _cells(values, width)
            if held is not None and hidden and any(c.strip() for c in cells):
                held.rows.append(number)
                held.above = held.above or not width
                continue
            if not width and not cells:
                continue  # blank rows above the header
            if not width:
                width, header = len(cells), number
                looked = frozenset(layout.columns if layout is not None else ())
                pending = sorted(column for column in looked if column < width)
            elif held is not None and pending:
                pending = _note_columns(held, pending, cells, number)
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            yield Row(number, cells, numeric, dates)
    except TableError:
        raise
    except Exception:  # malformed sheet XML: say where, quote nothing
        raise TableError(_NOT_A_WORKBOOK, Location(display, number + 1)) from None
    if held is None or layout is None:
        return
    _settle(held, layout, looked, header)
    if held.rows and not width:  # every row that holds anything is hidden: no table
        raise TableError(
            hidden_rows_message(held.rows, above=True), Location(display, held.rows[0])
        )


def _settle(held: Hidden, layout: Layout, looked: frozenset[int], header: int) -> None:
    """What the sheet hides from its header's row down, once every row is read."""
    # a column hidden only after the header was read (its `<cols>` written after the
    # rows, as no app writes it): its cells were not all looked at, so it counts as filled
    for column in layout.columns - looked:
        held.columns.setdefault(column, header)
    held.merged = [m for m in layout.merged if m[3] >= header and m[:2] != m[2:]]
    held.masked = [cell for cell in layout.masked if cell[0] >= header]


def _note_columns(held: Hidden, pending: list[int], cells: list[str], number: int) -> list[int]:
    """Each hidden column that holds anything in this row, if none did before; the columns
    still pending. Only those under the header are looked at, each until it holds
    something: hiding every column right of the table (`<col min="4" max="16384">`, as
    tidy workbooks do) costs no 16,381 looks a row."""
    found = [column for column in pending if column < len(cells) and cells[column].strip()]
    for column in found:
        held.columns[column] = number
    return [column for column in pending if column not in held.columns] if found else pending


def sheet_rows(
    ws: Any, layout: Layout | None = None
) -> Iterator[tuple[int, tuple[Any, ...], bool]]:
    """(number, values, hidden) of each row, as `ws.iter_rows(values_only=True)` yields
    them once `ws.reset_dimensions()` (openpyxl's own loop, `_cells_by_row`): rows the
    XML skips come empty, a row numbered at or before one read already is dropped.

    `hidden` is the row element's `hidden` attribute (`<row r="12" hidden="1">`: hidden
    by hand, in a collapsed group, or filtered out), or a height of (nearly) 0, as openpyxl's
    own XML parser read it in the same pass as the row's cells, so a row is numbered
    as its cells are (`r="12.0"`, rows without `r`) and its attribute read as XML reads
    it (entities, `>` in another attribute's value, comments and CDATA that look like
    rows, rows in another namespace), at no cost of a second read.

    With `layout`, the same pass fills it: each column the sheet hides (`<col min="3"
    max="5" hidden="1">`, or a width of 0) as the parser reads the sheet's `<cols>`
    (before the first row in a sheet an app saved, after the rows in a hand-written one);
    each range of merged cells (`<mergeCell ref="B2:C5"/>`, after the rows); and each
    cell holding a value its number format shows nothing of (`;;;`, `xlsxstyle`)."""
    book = ws.parent
    counter = 1
    columns = layout.columns if layout is not None else None
    masking = masking_styles(book) if layout is not None else None
    prefixes = plus_prefixes(book)  # nearly every workbook: none
    if masking is not None and not (masking.numbers or masking.texts):
        masking = None  # nearly every workbook: no per-cell look
    with ws._get_source() as source:
        parser = _parser_class()(
            source,
            ws._shared_strings,
            data_only=book.data_only,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        shown: set[int] = set()  # the columns a `<col>` gives a width one can see
        if columns is not None:
            # each `<col>` as read (openpyxl's own keeps one per first column: the last);
            # `parse` looks the method up on the parser each time it starts
            hide = functools.partial(_hide_columns, columns=columns, shown=shown)
            parser.parse_column_dimensions = hide
        for index, cells in parser.parse():
            if columns is not None and counter == 1:
                _hide_by_default(parser, columns, shown)
            # a row's attributes beyond `r` and `spans`, kept by openpyxl; dropped as read
            attributes = parser.row_dimensions.pop(str(index), None) or {}
            while counter < index:
                yield counter, (), False
                counter += 1
            if counter == index:
                if masking is not None and layout is not None:
                    found = hidden_by_style(cells, masking)
                    layout.masked.extend((index, column) for column in found)
                if prefixes:
                    _show_plus(cells, prefixes)
                values = ws._get_row(cells, values_only=True)
                hidden = _true(attributes.get("hidden")) or _flat(attributes.get("ht"))
                yield index, values, hidden
                counter += 1
    if columns is not None:  # a `<sheetFormatPr>` after the rows, as no app writes it
        _hide_by_default(parser, columns, shown)
    if layout is not None:
        layout.merged.extend(map(_bounds, parser.merges))


def _show_plus(cells: list[dict[str, Any]], prefixes: dict[int, str]) -> None:
    """A number whose format shows a `+` before its digits (`"+"0`: how a sheet keeps a
    phone's `+` on a number) becomes the text it is shown as, `+14155550132`: read as a
    national number of phone_region, it dialed another country's number."""
    for cell in cells:
        value = cell["value"]
        prefix = prefixes.get(cell["style_id"])
        if (
            prefix is not None
            and cell["data_type"] == "n"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and value >= 0
        ):
            cell["value"] = prefix + _number_text(value)


@functools.cache
def _parser_class() -> Any:
    """openpyxl's sheet parser, keeping the ranges of every `<mergeCells>` element: its
    own keeps the last one only, while LibreOffice merges the ranges of each (a second
    element, as no app writes it, hid the first one's ranges: a phone nobody saw was
    dialed)."""
    from openpyxl.worksheet._reader import WorkSheetParser

    class Parser(WorkSheetParser):
        merges: list[Any]

        @property
        def merged_cells(self) -> None:
            return None

        @merged_cells.setter
        def merged_cells(self, value: Any) -> None:
            ranges = self.__dict__.setdefault("merges", [])
            if value is not None:
                ranges.extend(value.mergeCell)

    return Parser


def _bounds(cell: Any) -> tuple[int, int, int, int]:
    """A `<mergeCell>`'s range as (min_col, min_row, max_col, max_row), 1-based; a whole
    column (`B:B`) or row (`2:2`) reaches the sheet's edges."""
    from openpyxl.utils.cell import range_boundaries

    low_col, low_row, high_col, high_row = range_boundaries(cell.ref.strip())
    return (low_col or 1, low_row or 1, high_col or MAX_COLUMNS, high_row or MAX_ROWS)


def _hide_by_default(parser: Any, columns: set[int], shown: set[int]) -> None:
    """Every column no `<col>` gives a width into `columns`, when the sheet's default
    width is (nearly) 0 (`<sheetFormatPr defaultColWidth="0">`: each column is shown at
    a width of 0 unless given another, as Excel saves a sheet whose unused columns are
    hidden)."""
    default = getattr(getattr(parser, "sheet_format", None), "defaultColWidth", None)
    if default is not None and _narrow(default):
        columns.update(column for column in range(MAX_COLUMNS) if column not in shown)


def _hide_columns(col: Any, columns: set[int], shown: set[int]) -> None:
    """A `<col>` element's columns (1-based `min` to `max`), into `columns` when hidden
    (or narrower than MIN_WIDTH), else into `shown` when it gives them a width."""
    attributes = col.attrib
    if not (_true(attributes.get("hidden")) or _narrow(attributes.get("width"))):
        if attributes.get("width") is not None:
            with contextlib.suppress(KeyError, ValueError):  # a column openpyxl reads
                shown.update(_range(attributes))
        return
    columns.update(_range(attributes))


def _range(attributes: Any) -> range:
    """A `<col>` element's columns, 0-based."""
    first = int(attributes["min"].strip())
    last = min(int(attributes.get("max", str(first)).strip()), MAX_COLUMNS)
    if not 1 <= first <= last:
        raise ValueError("a <col> element names no column")
    return range(first - 1, last)


def _true(value: Any) -> bool:
    """An XML Schema boolean that is true: `1` or `true`, around spaces."""
    return isinstance(value, str) and value.strip() in ("1", "true")


def _narrow(value: Any) -> bool:
    """A column width under MIN_WIDTH (`width="0"`, `"0.01"`, or below 0): a spreadsheet app
    shows no more than a pixel of that column, as of a hidden one."""
    try:
        return value is not None and float(value) < MIN_WIDTH
    except (TypeError, ValueError):
        return False


def _flat(value: Any) -> bool:
    """A row height under MIN_HEIGHT (`ht="0"`, as a script writes a row it means to hide,
    `"0.01"`, or below 0): a spreadsheet app shows no pixel of that row, as of a hidden one."""
    try:
        return isinstance(value, str) and float(value) < MIN_HEIGHT
    except ValueError:
        return False


def _quietly(rows: Iterator[_T]) -> Iterator[_T]:
    """The rows, without the warnings openpyxl prints while parsing them ("Cell A2 is
    marked as a date but the serial value ... is outside the limits for dates", with
    its own source path): each row is read with warnings off, and none leaks between."""
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = next(rows, None)
        if values is None:
            return
        yield values


def formula_cells(fh: BinaryIO, name: str, wanted: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (row, 1-based column) cells hold a formula whose result was never
    saved. Read for its values, a workbook shows such a formula (a file written by a
    program that does not calculate, such as a script) as an empty cell; this second
    read, made only for the empty cells an error names, tells that apart from a blank,
    and from a formula whose saved result is an empty text (`=IFERROR(VLOOKUP(...),"")`,
    `t="str"`: saving the workbook again changes nothing)."""
    import openpyxl
    from openpyxl.xml.constants import SHEET_MAIN_NS

    if not wanted:
        return set()
    last = max(row for row, _column in wanted)
    found: set[tuple[int, int]] = set()
    formula = f"{{{SHEET_MAIN_NS}}}f"
    try:
        fh.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        try:
            ws: Any = book[name]
            with ws._get_source() as source:
                parser = _parser_class()(source, ws._shared_strings, data_only=True)
                parse_cell = parser.parse_cell

                def seen(element: Any) -> Any:
                    cell = parse_cell(element)
                    at = (cell["row"], cell["column"])
                    # "str": the saved result is a text (empty, as the cell was read)
                    saved = cell["data_type"] == "str"
                    if at in wanted and not saved and element.find(formula) is not None:
                        found.add(at)
                    return cell

                parser.parse_cell = seen
                for index, _cells in _quietly(parser.parse()):
                    if index >= last:
                        break
        finally:
            book.close()
    except Exception:  # the first read succeeded; this one only refines a message
        return found
    return found


def _too_big() -> TableError:
    return TableError(
        f"has more than {MAX_ROWS:,} rows or {MAX_CELLS:,} cells, past what a spreadsheet "
        "app saves (a workbook to split, or a crafted one); the sheet is not read"
    )


def _cells(
    values: tuple[Any, ...], width: int = 0
) -> tuple[list[str], frozenset[int], frozenset[int]]:
    """A row's cells as text. Past the header's `width`, only how many there are matters
    (such a row is an error that quotes nothing): a row reaching column XFD costs no
    16,384 conversions."""
    if width and len(values) > width:
        extra = values[width:]
        if extra.count(None) == len(extra):
            values = values[:width]
        else:
            end = len(values)
            while end > width and _blank(values[end - 1]):  # stops at the last cell
                end -= 1
            text, kept, dated = _cells(values[:width])
            return text + [""] * (width - len(text)) + ["?"] * (end - width), kept, dated
    cells: list[str] = []
    numeric: set[int] = set()
    dates: set[int] = set()
    for index, value in enumerate(values):
        if isinstance(value, bool):
            cells.append("TRUE" if value else "FALSE")
        elif isinstance(value, int | float):
            numeric.add(index)
            cells.append(_number_text(value))
        elif isinstance(value, datetime | date | time):
            dates.add(index)
            cells.append(value.isoformat())
        else:
            cells.append("" if value is None else str(value))
    while cells and not cells[-1].strip():
        cells.pop()
    count = len(cells)
    return (
        cells,
        frozenset(i for i in numeric if i < count),
        frozenset(i for i in dates if i < count),
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number_text(value: float) -> str:
    """16507991144.0 -> `16507991144`; 1.5 -> `1.5` (never exponent notation)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return format(value, "f").rstrip("0").rstrip(".")
