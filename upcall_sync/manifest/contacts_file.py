"""Contacts files (`numbers_csv`, and any other key that names one): the one entry point.

`read_contacts_file(ref, root, context, env)` reads a `.csv`, `.tsv`, `.txt` or `.xlsx`
file named by a manifest and returns its numbers, problems, warnings and a digest.

**Nothing of a file's content is quoted until it has proven to be a contacts file**: a
contacts-file name and a phone column found by its own name, by a known export's alias
(`aliases.py`) or by the manifest's explicit mapping (`numbers_csv_columns`). Before that,
a message names the file, row and column number only: a manifest that points
`numbers_csv` at `.env` or a token file must not print it into a PR comment.

Columns (`contacts_header`, which reads the header): a file whose headers are the
project's own names is strict (an unknown column is an error: likely a typo). A file read
through an alias or a mapping ignores the columns that fill no field, with a warning
naming them. Two columns that could fill one field (HubSpot's `Phone Number` and `Mobile
Phone Number`) are an error showing the line to add. This module reads the rows.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from upcall_sync.core.model import ADDRESS_PARTS, Contact, DesiredNumber
from upcall_sync.core.normalize import PhoneError, quote, split_phone
from upcall_sync.errors import Location, Problem
from upcall_sync.manifest import csvload, xlsxload
from upcall_sync.manifest.contacts_header import ContactsRef, Header, HeaderReader, Place
from upcall_sync.manifest.csvload import csv_path, excerpt, open_regular_file
from upcall_sync.manifest.envvars import expand_env
from upcall_sync.manifest.files import TooLarge
from upcall_sync.manifest.messages import message
from upcall_sync.manifest.spec import NumberSpec
from upcall_sync.manifest.table import FileRefused, Row, TableError
from upcall_sync.manifest.xlsxunseen import Hidden, refuse_unseen

CONTACTS_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
_BATCH = 2000
_NUMBERS = TypeAdapter(list[NumberSpec])
#: fields whose leading zeros a spreadsheet drops when it stores them as numbers
_ZERO_LED = ("postal_code", "extension")


@dataclass
class ContactsFile:
    """What a contacts file holds: numbers only when there are no problems."""

    display: str = ""
    numbers: list[DesiredNumber] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: sha256 of the bytes read (for the manifests' digest); empty on problems
    digest: bytes = b""


def read_contacts_file(
    ref: ContactsRef, root: Path, context: dict[str, Any], env: Mapping[str, str]
) -> ContactsFile:
    """Numbers from the contacts file `ref` names, which must lie inside `root`.

    `context` is the manifest's validation context (`{"phone_region": "US"}`), `env` the
    environment `${VAR}` cells read. Never raises for a bad file: see `.problems`.
    """
    result = ContactsFile()
    try:
        path = csv_path(ref.manifest, ref.written, root)
        result.display = display_path(path)
        _check_name(path, ref)
    except FileRefused as exc:
        result.problems.append(Problem(ref.at, ref.ref, f"{excerpt(ref.written, 80)} {exc}"))
        return result
    hasher = hashlib.sha256()
    try:
        if path.suffix.lower() == ".xlsx":
            _read_xlsx(path, ref, result, _Reader(ref, result, context, env))
        else:
            with open_regular_file(path, csvload.MAX_CSV_BYTES, ref.key) as fh:
                encoding = None
                if ref.encoding is not None:  # the spec checked it is one of TEXT_ENCODINGS
                    codec = csvload.text_encoding(ref.encoding) or "utf-8"
                    encoding = csvload.Encoding(codec, ref.encoding, ref.encoding_key)
                rows = csvload.csv_rows(fh, result.display, hasher, encoding, ref.encoding_key)
                _Reader(ref, result, context, env).read(rows, Place(result.display))
    except FileRefused as exc:
        result.problems.append(Problem(ref.at, ref.ref, f"{quote(result.display)} {exc}"))
    except TableError as exc:
        if exc.location is None:  # the file as a whole is refused: that is the one problem
            result.problems.clear()
            result.warnings.clear()
        where = exc.location or ref.at
        shown = "" if exc.location else f"{quote(result.display)} "
        result.problems.append(Problem(where, "" if exc.location else ref.ref, shown + exc.message))
    except TooLarge:  # it was within the limit when opened
        problem = (
            f"{quote(result.display)} grew past the {csvload.MAX_CSV_BYTES // 1024 // 1024} MB "
            f"limit for a {ref.key} while it was read"
        )
        result.problems.append(Problem(ref.at, ref.ref, problem))
    except OSError as exc:
        problem = f"{quote(result.display)} cannot be read: {exc.strerror}"
        result.problems.append(Problem(ref.at, ref.ref, problem))
    if result.problems:
        # A do-not-call file keeps the rows that read: an apply its problems refuse still
        # makes their stops (`load_what_validates`); a problem never refuses a stop.
        result.digest = b""
        if ref.key != "do_not_call_csv":
            result.numbers = []
    elif path.suffix.lower() != ".xlsx":
        result.digest = hasher.digest()
    return result


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path.resolve()) if rel.startswith("..") else rel


def _check_name(path: Path, ref: ContactsRef) -> None:
    suffix = path.suffix.lower()
    if suffix not in CONTACTS_SUFFIXES:
        raise FileRefused(
            f"is not a contacts file: {ref.key} reads .csv, .tsv, .txt or .xlsx files "
            "(the file is not read)"
        )
    if ref.sheet is not None and suffix != ".xlsx":
        raise FileRefused(f"is not a .xlsx workbook, so {ref.sheet_key} cannot apply to it")
    if ref.encoding is not None and suffix == ".xlsx":
        raise FileRefused(
            f"is a .xlsx workbook, which holds Unicode text: {ref.encoding_key} applies to "
            ".csv, .tsv and .txt files only"
        )


def _read_xlsx(path: Path, ref: ContactsRef, result: ContactsFile, reader: _Reader) -> None:
    with open_regular_file(path, csvload.MAX_CSV_BYTES, ref.key) as fh:
        result.digest = hashlib.sha256(fh.read()).digest()
        fh.seek(0)
        book, name = xlsxload.open_sheet(fh, result.display, ref.sheet, ref.sheet_key)
        place = Place(result.display, name, shown=ref.sheet is not None)
        # an opt-out list reads hidden rows and columns: each is one more person not to call
        held = None if ref.key == "do_not_call_csv" else Hidden()
        rows = xlsxload.xlsx_rows(book, name, result.display, held)
        sheets = len(book.worksheets)
        try:
            reader.read(rows, place)
            if held is not None:  # a header refused: its merged cells come after the rows
                collections.deque(rows, maxlen=0)
        except TableError as exc:
            if exc.message.startswith("the sheet is empty"):
                exc.message += _other_sheets(ref, sheets)
            raise
        finally:
            book.close()
        if not reader.header.fields and (hint := _other_sheets(ref, sheets)):
            result.problems[:] = [
                Problem(p.location, p.path, p.message + hint)
                if p.message.startswith("no phone column found")
                else p
                for p in result.problems
            ]
        if reader.no_phone:
            formulas = xlsxload.formula_cells(fh, name, set(reader.no_phone))
            for (row, column), index in reader.no_phone.items():
                if (row, column) in formulas:
                    reader.problems[index] = Problem(
                        reader.problems[index].location, "phone", _FORMULA_WITHOUT_RESULT
                    )
        if held is not None:  # refused with every other problem the sheet has, not alone
            refuse_unseen(result.problems, held, reader, place)


def _other_sheets(ref: ContactsRef, sheets: int) -> str:
    """A hint for a workbook whose first sheet, read by default, holds no table: another
    sheet may (a `Read me` or `Summary` tab first). Names no sheet: they are content."""
    if ref.sheet is not None or sheets < 2:
        return ""
    return (
        f"; the workbook has {sheets} sheets and this is its first: to read another, add "
        f"next to {ref.key}: {ref.sheet_key}: <the sheet's name>"
    )


_FORMULA_WITHOUT_RESULT = (
    "is a formula whose result was never saved (the file was written by a program that "
    "does not calculate formulas); open the workbook in Excel or LibreOffice and save it, "
    "or paste the column as values"
)


# -- the rows ------------------------------------------------------------------------------


@dataclass
class _Reader:
    ref: ContactsRef
    result: ContactsFile
    context: dict[str, Any]
    env: Mapping[str, str]
    where: Place = field(init=False)
    header: Header = field(default_factory=Header)
    #: the header's row (or line)
    top: int = 0
    #: the header's cells, as read
    heading: list[str] = field(default_factory=list)
    #: the rows below the header blank within the table, in order; the last one that is not
    blank: list[int] = field(default_factory=list)
    last: int = 0
    batch: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    #: the 0-based column each batched number's phone came from
    phone_columns: list[int] = field(default_factory=list)
    numeric_phones: list[Location] = field(default_factory=list)
    #: postal codes and extensions a spreadsheet stored as numbers (leading zeros gone)
    numeric_codes: list[Location] = field(default_factory=list)
    #: (row, 1-based column) of each empty phone cell -> the index of its problem
    no_phone: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def problems(self) -> list[Problem]:
        return self.result.problems

    @property
    def warnings(self) -> list[Problem]:
        return self.result.warnings

    def read(self, rows: Iterator[Row], where: Place) -> None:
        self.where = where
        first = next(rows, None)
        if first is None:
            raise TableError("the sheet is empty: it needs a header row", where(1, 1))
        reader = HeaderReader(self.ref, where, first.cells, first.number)
        self.top = first.number
        self.heading = first.cells
        header = reader.read()
        self.problems.extend(reader.problems)
        self.result.warnings.extend(reader.warnings)
        if header is None:
            return
        self.header = header
        for row in rows:
            self._row(row)
            if len(self.batch) >= _BATCH:
                self._validate()
        self._validate()
        self._warn_numeric_phones()

    def blank_between(self, low: int, high: int) -> bool:
        """Whether every row from `low` to `high` was read blank within the table, or lies
        below its last filled row (a row the sheet hides is neither)."""
        high = min(high, self.last)
        if low <= self.top:
            return False
        begin, end = bisect.bisect_left(self.blank, low), bisect.bisect_right(self.blank, high)
        return high < low or end - begin == high - low + 1

    def _shaped(self, row: Row) -> tuple[list[str], bool] | None:
        """The row's cells to read, and whether its width is not the header's (its problem
        noted); None: blank, or not to be read."""
        cells = _within(row.cells, self.header.width)
        if not cells or all(not c.strip() for c in cells):
            self.blank.append(row.number)
            return None
        self.last = row.number
        misshapen = self._misshapen(row.number, cells)
        if (misshapen and self.ref.key != "do_not_call_csv") or (row.dates and self._dated(row)):
            return None
        if misshapen:  # a do-not-call row's phone opts out all the same, if it reads as one:
            # a stop too wide pauses a campaign, a missed one dials the person
            cells = [*cells[: self.header.width], *[""] * (self.header.width - len(cells))]
        return cells, misshapen

    def _row(self, row: Row) -> None:
        shaped = self._shaped(row)
        if shaped is None:
            return
        cells, misshapen = shaped
        row = row._replace(cells=cells)
        values: dict[str, Any] = {}
        address: dict[str, Any] = {}
        for index, name in self.header.fields.items():
            value = self._cell(cells[index], row.number, index)
            if value is not None and name == "phone" and index in row.numeric:
                value = self._numeric_phone(value, row.number, index)
                if value is None:
                    return
            elif value is not None and name in _ZERO_LED and index in row.numeric:
                self.numeric_codes.append(self.where(row.number, index + 1))
            if value is not None:
                (address if name in ADDRESS_PARTS else values)[name] = value
        if address:
            values["address"] = address
        column = self.header.column_of("phone")
        more = self._more_phones(row, values)
        if more is None:
            return
        if misshapen and not self._reads(values):
            return  # not a phone where the header says (the row's problem stands)
        if "phone" not in values and not more:
            self.no_phone[row.number, column] = len(self.problems)
            self.problems.append(Problem(self.where(row.number, column), "phone", "is required"))
            return
        if "phone" in values:
            self.batch.append(values)
            self.lines.append(row.number)
            self.phone_columns.append(column - 1)
        for index, phone in more:  # another phone of the row: every extension of it
            other = {k: v for k, v in values.items() if k != "extension"}
            self.batch.append({**other, "phone": phone})
            self.lines.append(row.number)
            self.phone_columns.append(index)

    def _misshapen(self, line: int, cells: list[str]) -> bool:
        """A row of another width than the header's is a problem (True: it is one)."""
        if self.header.named <= len(cells) <= self.header.width:
            filled = [i for i in range(self.header.named, len(cells)) if cells[i].strip()]
            if not filled:
                return False
            # past the last named header cell, within a header padded with empty cells
            # (`phone,name,,`): read as no field, it was dropped without a word
            self.problems.append(
                Problem(
                    self.where(line, filled[0] + 1),
                    "",
                    f"{self.where.column(filled[0])} has no name in the header, but this row "
                    "holds something there: name the column, or empty the cell",
                )
            )
            return True
        self.problems.append(
            Problem(
                self.where(line),
                "",
                f"row has {len(cells)} cell{'s' if len(cells) != 1 else ''} but the "
                f"header has {self.header.named}"
                + (self._lone_cell_hint(cells[0]) if len(cells) == 1 else ""),
            )
        )
        return True

    def _lone_cell_hint(self, cell: str) -> str:
        """A row of one cell: a line of text (a report's footer), or a phone whose row's
        other cells were left out, which is no line to delete (an opt-out, a contact)."""
        try:
            split_phone(cell, self.context.get("phone_region"))
        except PhoneError:
            return " (a line of text, such as a report's footer: delete it)"
        return " (a phone, the row's other cells left out: add a comma for each empty one)"

    def _dated(self, row: Row) -> bool:
        """Each cell of a field that the workbook stores as a date is a problem: no contact
        field is one, so the app turned what was typed into a date (True: there was one)."""
        dated = [
            (index, name)
            for index, name in self.header.fields.items()
            if index in row.dates and row.cells[index].strip()
        ]
        for index, name in dated:
            self.problems.append(_dated(self.where(row.number, index + 1), name))
        return bool(dated)

    def _more_phones(self, row: Row, values: dict[str, Any]) -> list[tuple[int, str]] | None:
        """A do-not-call row's phones in its other phone columns, and those Google joined
        into one cell (`+1 650 ... ::: +1 415 ...`): each is opted out (None: a problem)."""
        if self.ref.key != "do_not_call_csv":
            return []
        out: list[tuple[int, str]] = []
        phone = values.get("phone")
        if isinstance(phone, str) and _JOINED in phone:
            first, *rest = _joined(phone) or [""]
            values["phone"] = first
            out.extend((self.header.column_of("phone") - 1, p) for p in rest)
        for index in self.header.more_phones:
            value = self._cell(row.cells[index], row.number, index)
            if value is not None and index in row.numeric:
                value = self._numeric_phone(value, row.number, index)
                if value is None:
                    return None
            if value is not None:
                out.extend((index, p) for p in _joined(value) if p != values.get("phone"))
        return out

    def _cell(self, cell: str, line: int, index: int) -> str | None:
        value = cell.strip() or None
        if value is None or "$" not in value:
            return value
        try:
            return expand_env(value, self.env)
        except KeyError as exc:
            problem = f"environment variable {exc.args[0]} is not set"
        except ValueError as exc:
            problem = str(exc)
        self.problems.append(Problem(self.where(line, index + 1), "", problem))
        return value

    def _numeric_phone(self, value: str, line: int, index: int) -> str | None:
        """A phone a spreadsheet stored as a number: read with phone_region, or an error."""
        at = self.where(line, index + 1)
        if self.context.get("phone_region"):
            self.numeric_phones.append(at)
            return value
        self.problems.append(
            Problem(
                at,
                "phone",
                f"{value} is stored as a number, which drops a leading + or 0; format the "
                "column as text, or set phone_region to read it as a national number",
            )
        )
        return None

    def _warn_numeric_phones(self) -> None:
        if self.problems:
            return
        region = self.context.get("phone_region")
        for cells, what, then in (
            (
                self.numeric_phones,
                "phone",
                f"which drops a leading + or 0: read as national numbers of phone_region "
                f"{region}; format the column as text to keep phones as written",
            ),
            (
                self.numeric_codes,
                "postal code or extension",
                "which drops leading zeros (02134 reads 2134): format the column as text and "
                "type them again if any had one",
            ),
        ):
            if cells:
                self.result.warnings.append(_numeric_warning(cells, what, then, self.ref.ref))

    def _validate(self) -> None:
        """Validate the rows read since the last batch; keep numbers only while all is well."""
        batch, lines, columns = self.batch, self.lines, self.phone_columns
        self.batch, self.lines, self.phone_columns = [], [], []
        if not batch:
            return
        listed = self.ref.key == "do_not_call_csv"
        try:
            specs = _NUMBERS.validate_python(batch, context=self.context)
        except ValidationError as exc:
            self.problems.extend(self._validation_problems(exc, lines, columns))
            if not listed:
                return
            kept = [(s, line) for s, line in zip(batch, lines, strict=True) if self._reads(s)]
            batch, lines = [s for s, _ in kept], [line for _, line in kept]
            specs = _NUMBERS.validate_python(batch, context=self.context)
        if not self.problems or listed:
            self.result.numbers.extend(
                DesiredNumber(contact_of_spec(spec), self.where(line))
                for spec, line in zip(specs, lines, strict=True)
            )

    def _reads(self, values: dict[str, Any]) -> bool:
        try:
            _NUMBERS.validate_python([values], context=self.context)
        except ValidationError:
            return False
        return True

    def _validation_problems(
        self, exc: ValidationError, lines: list[int], columns: list[int]
    ) -> list[Problem]:
        out = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            index = int(loc[0]) if loc and isinstance(loc[0], int) else 0
            name = str(loc[-1]) if len(loc) > 1 else "phone"
            line = lines[index] if index < len(lines) else 0
            column = self.header.column_of(name)
            if name == "phone" and index < len(columns):
                column = columns[index] + 1
            where = self.where(line, column)
            out.append(Problem(where, name, _row_message(name, err)))
        return out


#: how Google Contacts joins a contact's several phones (or emails) in one cell
_JOINED = " ::: "


def _joined(value: str) -> list[str]:
    return [part.strip() for part in value.split(_JOINED) if part.strip()]


def _within(cells: list[str], width: int) -> list[str]:
    """A row without the empty cells past the header's width (`+1...,Joey,,,`, as some
    exports pad rows); a row with text out there is kept whole, for its error."""
    if len(cells) > width and not any(c.strip() for c in cells[width:]):
        return cells[:width]
    return cells


def _row_message(name: str, err: Any) -> str:
    """A cell's error; a phone or email that does not even look like one is not quoted
    (a mapping can point at any column of a file whose header its author knows)."""
    looks_like = _LOOKS_LIKE.get(name)
    value = err.get("input")
    if isinstance(value, str) and _JOINED in value:  # quotes nothing of the cell
        return (
            f"the cell holds several values joined by ' ::: ', as Google Contacts exports "
            f"a contact's {name}s; keep one per row (split the row) or map another column"
        )
    if looks_like is not None and isinstance(value, str) and not looks_like.fullmatch(value):
        what = "phone number" if name == "phone" else "email address"
        return f"is not a valid {what} (not quoted: the cell does not look like one)"
    return message(err, None)


#: what a phone or email cell looks like, to be quoted in an error
_LOOKS_LIKE = {
    "phone": re.compile(r"[0-9\s+().\-/#*;=,extEXT]{0,40}"),
    "email": re.compile(r"[^\s@]{1,64}@[^\s@]{1,190}"),
}


def _numeric_warning(cells: list[Location], what: str, then: str, ref: str) -> Problem:
    shown = [str(at).rsplit("!", 1)[-1] for at in cells[:5]]
    more = len(cells) - len(shown)
    listed = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    many = len(cells) != 1
    return Problem(
        cells[0],
        ref,
        f"{len(cells)} {what} cell{'s are' if many else ' is'} stored as "
        f"{'numbers' if many else 'a number'} ({listed}), {then}",
    )


def contact_of_spec(spec: NumberSpec) -> Contact:
    """A manifest number as the normalized Contact plans compare (`Contact.of`)."""
    values = dict(spec.__dict__)
    values["address"] = spec.address.__dict__ if spec.address is not None else None
    return Contact.of(values)


def _dated(at: Location, name: str) -> Problem:
    """A cell the workbook stores as a date or time: no contact field is one, so a
    spreadsheet turned what was typed (`1-2`, `3/4`, `12:30`) into a date."""
    return Problem(
        at,
        name,
        "the workbook stores this cell as a date or time, which no contact field is (a "
        "spreadsheet app turns what was typed, such as 1-2 or 3/4, into a date); format the "
        "column as text, type the value again and save the file",
    )
