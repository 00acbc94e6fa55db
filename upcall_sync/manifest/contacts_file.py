"""Contacts files (`numbers_csv`, and any other key that names one): the one entry point.

`read_contacts_file(ref, root, context, env)` reads a `.csv`, `.tsv`, `.txt` or `.xlsx`
file named by a manifest and returns its numbers, problems, warnings and a digest.

**Nothing of a file's content is quoted until it has proven to be a contacts file**: a
contacts-file name and a phone column found by its own name, by a known export's alias
(`aliases.py`) or by the manifest's explicit mapping (`numbers_csv_columns`). Before that,
a message names the file, row and column number only: a manifest that points
`numbers_csv` at `.env` or a token file must not print it into a PR comment.

Columns: a file whose headers are the project's own names is strict (an unknown column is
an error: likely a typo). A file read through an alias or a mapping ignores the columns
that fill no field, with a warning naming them. Two columns that could fill one field
(HubSpot's `Phone Number` and `Mobile Phone Number`) are an error showing the line to add.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from upcall_sync.core.model import ADDRESS_PARTS, Contact, DesiredNumber
from upcall_sync.core.normalize import quote
from upcall_sync.errors import Location, Problem, column_letters
from upcall_sync.manifest import csvload, xlsxload
from upcall_sync.manifest.aliases import ALIAS_FIELDS, OWN_NAMES, header_key
from upcall_sync.manifest.csvload import column_key, csv_path, excerpt, open_regular_file
from upcall_sync.manifest.messages import message, suggest
from upcall_sync.manifest.spec import CSV_COLUMNS, NumberSpec
from upcall_sync.manifest.table import FileRefused, Row, TableError
from upcall_sync.manifest.yamlload import expand_env

CONTACTS_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
_BATCH = 2000
_NUMBERS = TypeAdapter(list[NumberSpec])
_SHOWN_IGNORED = 8
#: a do-not-call file's further phone columns, which fill no field of a number: Google
#: Contacts' `Phone 2 - Value` ..., Salesforce's `HomePhone`, `OtherPhone` (API names or
#: labels). A person who opted out did so on each of their phones.
_MORE_PHONES = re.compile(r"phone(?:[2-9]|[1-9][0-9])value|homephone|otherphone")
#: fields whose leading zeros a spreadsheet drops when it stores them as numbers
_ZERO_LED = ("postal_code", "extension")


@dataclass(frozen=True)
class ContactsRef:
    """A contacts file as a manifest names it (`numbers_csv: ../data/q3.csv`)."""

    manifest: Path
    written: str
    #: where the path is written, and its dotted path (`campaigns[0].numbers_csv`)
    at: Location
    ref: str
    #: numbers_csv_columns: contact field -> header, and where each entry is written
    columns: Mapping[str, str] = field(default_factory=dict)
    columns_at: Mapping[str, Location] = field(default_factory=dict)
    #: numbers_sheet (a .xlsx file's sheet; default the first)
    sheet: str | None = None
    #: the keys as messages name them (another key, e.g. do_not_call_csv, sets its own)
    key: str = "numbers_csv"
    sheet_key: str = "numbers_sheet"


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
            with open_regular_file(path, csvload.MAX_CSV_BYTES) as fh:
                _Reader(ref, result, context, env).read(
                    csvload.csv_rows(fh, result.display, hasher), _Place(result.display)
                )
    except FileRefused as exc:
        result.problems.append(Problem(ref.at, ref.ref, f"{quote(result.display)} {exc}"))
    except TableError as exc:
        if exc.location is None:  # the file as a whole is refused: that is the one problem
            result.problems.clear()
            result.warnings.clear()
        where = exc.location or ref.at
        shown = "" if exc.location else f"{quote(result.display)} "
        result.problems.append(Problem(where, "" if exc.location else ref.ref, shown + exc.message))
    except OSError as exc:
        problem = f"{quote(result.display)} cannot be read: {exc.strerror}"
        result.problems.append(Problem(ref.at, ref.ref, problem))
    if result.problems:
        result.numbers, result.digest = [], b""
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


def _read_xlsx(path: Path, ref: ContactsRef, result: ContactsFile, reader: _Reader) -> None:
    with open_regular_file(path, csvload.MAX_CSV_BYTES) as fh:
        result.digest = hashlib.sha256(fh.read()).digest()
        fh.seek(0)
        book, name = xlsxload.open_sheet(fh, result.display, ref.sheet, ref.sheet_key)
        place = _Place(result.display, name, shown=ref.sheet is not None)
        # an opt-out list reads hidden rows: each is one more person not to call
        held: list[int] | None = None if ref.key == "do_not_call_csv" else []
        try:
            reader.read(xlsxload.xlsx_rows(book, name, result.display, held), place)
        finally:
            book.close()
        if held:  # refused with every other problem the sheet has, not alone
            result.problems.append(Problem(place(held[0]), "", xlsxload.hidden_rows_message(held)))
        if reader.no_phone:
            formulas = xlsxload.formula_cells(fh, name, set(reader.no_phone))
            for (row, column), index in reader.no_phone.items():
                if (row, column) in formulas:
                    reader.problems[index] = Problem(
                        reader.problems[index].location, "phone", _FORMULA_WITHOUT_RESULT
                    )


_FORMULA_WITHOUT_RESULT = (
    "is a formula whose result was never saved (the file was written by a program that "
    "does not calculate formulas); open the workbook in Excel or LibreOffice and save it, "
    "or paste the column as values"
)


@dataclass
class _Place:
    """Where a cell is: `place(row, column)`. A sheet's name is content too: it is shown
    once the file has proven to be a contacts file, or when the manifest named it."""

    display: str
    sheet: str = ""
    shown: bool = False

    def __call__(self, row: int, column: int = 0) -> Location:
        return Location(self.display, row, column, self.sheet if self.shown else "")

    def column(self, index: int) -> str:
        """A 0-based column as messages name it: `column 5` (CSV), `column E` (sheet)."""
        return f"column {column_letters(index + 1) if self.sheet else index + 1}"


# -- the header ----------------------------------------------------------------------------


@dataclass
class _Header:
    """Which column fills which field, once the file has proven to be a contacts file."""

    fields: dict[int, str] = field(default_factory=dict)
    ignored: list[int] = field(default_factory=list)
    width: int = 0
    named: int = 0  #: columns up to the last named one
    #: a do-not-call file's other phone columns (`Mobile Phone Number`): each is read too
    more_phones: list[int] = field(default_factory=list)

    def column_of(self, name: str) -> int:
        """The 1-based column of a field (0 when the file has none)."""
        for index, f in self.fields.items():
            if f == name:
                return index + 1
        return 0


@dataclass
class _HeaderReader:
    ref: ContactsRef
    where: _Place
    cells: list[str]
    #: the header's line or row (after a `sep=;` line or blank lines, not 1)
    line: int = 1
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def read(self) -> _Header | None:
        """The header, or None with problems (which quote the header only once proven)."""
        header = _Header(width=len(self.cells))
        cells = list(self.cells)
        while cells and not cells[-1].strip():
            cells.pop()
        header.named = len(cells)
        mapped = self._mapped(cells)
        candidates: dict[str, list[int]] = {}
        aliased = False
        for index, cell in enumerate(cells):
            key = header_key(cell)
            name = mapped.get(index) or OWN_NAMES.get(key) or ALIAS_FIELDS.get(key)
            if name is None and self.ref.key == "do_not_call_csv" and _MORE_PHONES.fullmatch(key):
                name = "phone"
            if name is not None and (index in mapped or name not in mapped.values()):
                candidates.setdefault(name, []).append(index)
                aliased = aliased or (index not in mapped and key in ALIAS_FIELDS)
        if not candidates.get("phone"):
            self.problems.append(self._no_phone(len(cells), header.width))
            return None
        self.where.shown = True  # a phone column: the file has proven to be a contacts file
        strict = not self.ref.columns and not aliased
        for name, indexes in candidates.items():
            if len(indexes) > 1 and name == "phone" and self.ref.key == "do_not_call_csv":
                # Every phone of a person who opted out is opted out: dialing their mobile
                # because the list was told to read the office phone is the miss to avoid.
                header.more_phones = indexes[1:]
            elif len(indexes) > 1:
                self.problems.append(self._ambiguous(name, indexes, cells))
            header.fields[indexes[0]] = name
        claimed = {i for indexes in candidates.values() for i in indexes}
        header.ignored = [i for i in range(len(cells)) if i not in claimed]
        if strict:
            self.problems.extend(self._unknown(i, cells[i]) for i in header.ignored)
        elif header.ignored:
            self.warnings.append(self._ignored(header.ignored, cells))
        return None if self.problems else header

    def _mapped(self, cells: list[str]) -> dict[int, str]:
        """numbers_csv_columns: the column each mapped field names (problems otherwise)."""
        exact = {cell.strip(): i for i, cell in reversed(list(enumerate(cells)))}
        keyed = {header_key(cell): i for i, cell in reversed(list(enumerate(cells)))}
        out: dict[int, str] = {}
        for name, wanted in self.ref.columns.items():
            index = exact.get(wanted.strip(), keyed.get(header_key(wanted)))
            at = self.ref.columns_at.get(name, self.ref.at)
            path = f"{self.ref.ref}_columns.{name}"
            same = (
                [i for i, cell in enumerate(cells) if cell.strip() == wanted.strip()]
                if wanted.strip() in exact
                else _same_header(cells, index)
            )
            if index is None:
                problem = f"{quote(wanted)} is not a column of {quote(self.where(1).file)}"
                self.problems.append(Problem(at, path, problem))
            elif len(same) > 1:  # the first is not what a mapping can be said to choose
                problem = (
                    f"{quote(wanted)} names {len(same)} columns of {quote(self.where(1).file)} "
                    f"({' and '.join(self.where.column(i) for i in same)}): rename one in "
                    "the file, so that the mapping says which to read"
                )
                self.problems.append(Problem(at, path, problem))
                out[index] = name  # one problem: not also "2 columns could be the phone"
            elif index in out:
                problem = f"{quote(wanted)} is already mapped to {out[index]}"
                self.problems.append(Problem(at, path, problem))
            else:
                out[index] = name
        return out

    def _no_phone(self, count: int, width: int) -> Problem:
        # Not proven to be a contacts file: name nothing of what the header holds.
        columns = f"{count} column{'s' if count != 1 else ''}"
        title = (
            " (one cell, then empty ones: a title above the header, or a merged cell? The "
            "header must be the first row)"
            if count == 1 and width > 1
            else ""
        )
        return Problem(
            self.where(self.line),
            "",
            f"no phone column found among the header's {columns}{title}: name it phone, use "
            f"a known export's header, or map it next to {self.ref.key}: "
            f'{self.ref.key}_columns: {{phone: "<header of the phone column>"}}',
        )

    def _ambiguous(self, name: str, indexes: list[int], cells: list[str]) -> Problem:
        shown = " and ".join(
            f"{excerpt(cells[i].strip())} ({self.where.column(i)})" for i in indexes
        )
        first = cells[indexes[0]].strip()
        if sum(cell.strip() == first for cell in cells) > 1:  # a mapping cannot name one
            return Problem(
                self.where(self.line),
                "",
                f"{len(indexes)} columns could be the {name}: {shown}; rename the one to "
                f"read (or the others) in the file, then map it next to {self.ref.key}: "
                f"{self.ref.key}_columns: {{{name}: <its new header>}}",
            )
        return Problem(
            self.where(self.line),
            "",
            f"{len(indexes)} columns could be the {name}: {shown}; say which by adding, "
            f"next to {self.ref.key}: {self.ref.key}_columns: {{{name}: {json.dumps(first)}}}",
        )

    def _unknown(self, index: int, cell: str) -> Problem:
        at = self.where(self.line, index + 1)
        if not cell.strip():
            return Problem(at, "", f"column {index + 1} has no name in the header")
        hint = suggest(column_key(cell), CSV_COLUMNS)
        return Problem(at, "", f"unknown column {excerpt(cell.strip())}{hint}")

    def _ignored(self, indexes: list[int], cells: list[str]) -> Problem:
        shown = ", ".join(
            excerpt(cells[i].strip()) if cells[i].strip() else f"({self.where.column(i)})"
            for i in indexes[:_SHOWN_IGNORED]
        )
        more = len(indexes) - _SHOWN_IGNORED
        if more > 0:
            shown += f" and {more} more"
        count = f"{len(indexes)} column{'s' if len(indexes) != 1 else ''}"
        fill = "fills" if len(indexes) == 1 else "fill"
        return Problem(
            self.where(self.line), self.ref.ref, f"ignores {count} that {fill} no field: {shown}"
        )


# -- the rows ------------------------------------------------------------------------------


@dataclass
class _Reader:
    ref: ContactsRef
    result: ContactsFile
    context: dict[str, Any]
    env: Mapping[str, str]
    where: _Place = field(init=False)
    header: _Header = field(default_factory=_Header)
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

    def read(self, rows: Iterator[Row], where: _Place) -> None:
        self.where = where
        first = next(rows, None)
        if first is None:
            raise TableError("the sheet is empty: it needs a header row", where(1, 1))
        reader = _HeaderReader(self.ref, where, first.cells, first.number)
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

    def _row(self, row: Row) -> None:
        cells = _within(row.cells, self.header.width)
        if not cells or all(not c.strip() for c in cells):
            return
        if not self.header.named <= len(cells) <= self.header.width:
            self.problems.append(
                Problem(
                    self.where(row.number),
                    "",
                    f"row has {len(cells)} cells but the header has {self.header.named}",
                )
            )
            return
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
        try:
            specs = _NUMBERS.validate_python(batch, context=self.context)
        except ValidationError as exc:
            self.problems.extend(self._validation_problems(exc, lines, columns))
            return
        if not self.problems:
            self.result.numbers.extend(
                DesiredNumber(contact_of_spec(spec), self.where(line))
                for spec, line in zip(specs, lines, strict=True)
            )

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


def _same_header(cells: list[str], index: int | None) -> list[int]:
    """The columns whose header is the one of column `index` (as a mapping finds it)."""
    if index is None:
        return []
    key = header_key(cells[index])
    return [i for i, cell in enumerate(cells) if header_key(cell) == key]


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
