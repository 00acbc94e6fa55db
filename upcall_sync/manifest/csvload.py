"""Numbers from a CSV file next to a manifest (`numbers_csv`), with the CSV's own line numbers.

The file is streamed: rows are read, checked and validated in batches, so
memory holds the numbers it yields, never the file or every row at once.
Spreadsheet exports are taken as they come: `,`, `;` or tab delimiters (the
header line's most frequent one), headers in any case with spaces, hyphens or
underscores (`First Name` = `first_name`), and empty trailing columns ignored.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import TypeAdapter, ValidationError

from upcall_sync.core.model import ADDRESS_PARTS, Contact, DesiredNumber
from upcall_sync.core.normalize import quote
from upcall_sync.errors import Location, Problem
from upcall_sync.manifest.messages import message, suggest
from upcall_sync.manifest.spec import CSV_COLUMNS, NumberSpec
from upcall_sync.manifest.yamlload import expand_env

#: a numbers_csv over this is refused (about 1.2 million rows of a typical export)
MAX_CSV_BYTES = 100 * 1024 * 1024
DELIMITERS = (",", ";", "\t")
_BATCH = 2000
_NUMBERS = TypeAdapter(list[NumberSpec])
_BOM = b"\xef\xbb\xbf"
_SEPARATORS = re.compile(r"[\s_-]+")


class CsvFileError(Exception):
    """A numbers_csv path that may not or cannot be read (the message shows no content)."""


class _NotUtf8(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def read_numbers_csv(
    path: Path,
    display: str,
    context: dict[str, Any],
    env: Mapping[str, str],
    referenced_at: Location,
    ref_path: str,
) -> tuple[list[DesiredNumber], list[Problem], bytes]:
    """Numbers from a CSV with a header row, problems (with the CSV's own line numbers)
    and a digest of the bytes read (for the manifests' digest)."""
    hasher = hashlib.sha256()
    try:
        with open_regular_file(path, MAX_CSV_BYTES) as fh:
            reader = _CsvReader(display, context, env)
            reader.read(_text_lines(fh, hasher))
    except CsvFileError as exc:
        return [], [Problem(referenced_at, ref_path, f"{quote(display)} {exc}")], b""
    except _NotUtf8 as exc:
        problem = "CSV is not UTF-8 text (save it as UTF-8; spreadsheet apps call it 'CSV UTF-8')"
        return [], [Problem(Location(display, exc.line), "", problem)], b""
    except OSError as exc:
        problem = f"{quote(display)} cannot be read: {exc.strerror}"
        return [], [Problem(referenced_at, ref_path, problem)], b""
    if reader.problems:
        return [], reader.problems, b""
    return reader.numbers, [], hasher.digest()


# -- opening: inside the checkout, a regular file ------------------------------------------


def csv_path(manifest: Path, written: str, root: Path) -> Path:
    """Where `numbers_csv: written` points: relative to its manifest, and, after
    symlinks, inside `root` (the working directory: the checkout)."""
    if Path(written).is_absolute():
        raise CsvFileError("is an absolute path; write it relative to this manifest")
    resolved = (manifest.parent / written).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise CsvFileError(
            "is outside the working directory (after symlinks); a numbers_csv must lie inside "
            "the checkout that upcall-sync runs in"
        )
    return resolved


def open_regular_file(path: Path, max_bytes: int) -> BinaryIO:
    """A regular file opened for reading, or CsvFileError; never blocks on a FIFO or device."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CsvFileError("does not exist") from None
    except OSError as exc:
        raise CsvFileError(f"cannot be read: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise CsvFileError(f"is {kind}; a numbers_csv must be a CSV file")
    if info.st_size > max_bytes:
        os.close(fd)
        raise CsvFileError(
            f"is {info.st_size / 1024 / 1024:.1f} MB, over the {max_bytes // 1024 // 1024} MB "
            "limit for a numbers_csv (split it across campaigns or files)"
        )
    return os.fdopen(fd, "rb")


def _text_lines(fh: BinaryIO, hasher: Any) -> Iterator[str]:
    """The file's lines as text (BOM dropped), hashing the bytes as they pass."""
    for number, raw in enumerate(fh, 1):
        hasher.update(raw)
        try:
            text = (raw.removeprefix(_BOM) if number == 1 else raw).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8(number) from None
        if "\r" in text.rstrip("\r\n"):  # old Mac line ends: \r alone
            yield from text.splitlines(keepends=True)
        else:
            yield text


# -- the header ----------------------------------------------------------------------------


def sniff_delimiter(header_line: str) -> str:
    """The header line's most frequent of `,` `;` tab (`,` on a tie or when none is there)."""
    counts = [(header_line.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    return max(counts)[2]


def column_key(header: str) -> str:
    """`First Name`, `first-name` and `FIRST_NAME` all name first_name."""
    return _SEPARATORS.sub("_", header.strip().lower()).strip("_")


def excerpt(cell: str, limit: int = 30) -> str:
    """A header cell as messages quote it: at most `limit` characters, one line."""
    short = cell if len(cell) <= limit else cell[:limit] + "..."
    return quote("".join(ch if ch.isprintable() else "?" for ch in short))


def header_problems(header: list[str], display: str) -> tuple[list[str], list[Problem]]:
    """The columns (trailing empty ones dropped) and what is wrong with them."""
    cells = list(header)
    while cells and not cells[-1].strip():
        cells.pop()
    columns = [column_key(h) for h in cells]
    problems = []
    for index, (raw, name) in enumerate(zip(cells, columns, strict=True)):
        at = Location(display, 1, index + 1)
        if not name:
            problems.append(Problem(at, "", f"column {index + 1} has no name in the header"))
        elif name not in CSV_COLUMNS:
            shown = excerpt(raw.strip())
            problems.append(Problem(at, "", f"unknown column {shown}{suggest(name, CSV_COLUMNS)}"))
        elif columns.index(name) != index:
            problems.append(Problem(at, "", f"column {excerpt(raw.strip())} repeats"))
    if "phone" not in columns:
        problems.append(Problem(Location(display, 1, 1), "", "CSV has no phone column"))
    return columns, problems


# -- the rows ------------------------------------------------------------------------------


@dataclass
class _CsvReader:
    display: str
    context: dict[str, Any]
    env: Mapping[str, str]
    columns: list[str] = field(default_factory=list)
    width: int = 0
    problems: list[Problem] = field(default_factory=list)
    numbers: list[DesiredNumber] = field(default_factory=list)
    batch: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    row_text: list[str] = field(default_factory=list)

    def read(self, lines: Iterator[str]) -> None:
        first = next(lines, None)
        if first is None or not first.strip():
            self.problems.append(
                Problem(Location(self.display, 1, 1), "", "CSV is empty: it needs a header row")
            )
            return
        reader = csv.reader(
            self._recorded(chain([first], lines)), delimiter=sniff_delimiter(first), strict=True
        )
        try:
            header = next(reader)
            self.columns, problems = header_problems(header, self.display)
            self.width = len(header)
            if problems:
                self.problems.extend(problems)
                return
            self._rows(reader)
        except csv.Error as exc:
            self.problems.append(self._csv_error(exc, reader.line_num))

    def _recorded(self, lines: Iterable[str]) -> Iterator[str]:
        """The lines, remembering those of the row being read (for quote errors)."""
        for line in lines:
            self.row_text.append(line)
            yield line

    def _rows(self, reader: Any) -> None:
        start = reader.line_num + 1
        self.row_text.clear()
        for cells in reader:
            self._row(cells, start)
            start = reader.line_num + 1
            self.row_text.clear()
            if len(self.batch) >= _BATCH:
                self._validate()
        self._validate()

    def _row(self, cells: list[str], line: int) -> None:
        if not cells or all(not c.strip() for c in cells):
            return
        if not len(self.columns) <= len(cells) <= self.width:
            self.problems.append(
                Problem(
                    Location(self.display, line),
                    "",
                    f"row has {len(cells)} cells but the header has {len(self.columns)}",
                )
            )
            return
        row: dict[str, Any] = {}
        address: dict[str, Any] = {}
        for index, (name, cell) in enumerate(zip(self.columns, cells, strict=False)):
            value = self._cell(cell, line, index)
            if value is not None:
                (address if name in ADDRESS_PARTS else row)[name] = value
        if address:
            row["address"] = address
        if "phone" not in row:
            where = Location(self.display, line, self.columns.index("phone") + 1)
            self.problems.append(Problem(where, "phone", "is required"))
            return
        self.batch.append(row)
        self.lines.append(line)

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
        self.problems.append(Problem(Location(self.display, line, index + 1), "", problem))
        return value

    def _validate(self) -> None:
        """Validate the rows read since the last batch; keep numbers only while all is well."""
        batch, lines = self.batch, self.lines
        self.batch, self.lines = [], []
        if not batch:
            return
        try:
            specs = _NUMBERS.validate_python(batch, context=self.context)
        except ValidationError as exc:
            self.problems.extend(self._validation_problems(exc, lines))
            return
        if not self.problems:
            self.numbers.extend(
                DesiredNumber(contact_of_spec(spec), Location(self.display, line))
                for spec, line in zip(specs, lines, strict=True)
            )

    def _validation_problems(self, exc: ValidationError, lines: list[int]) -> list[Problem]:
        out = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            index = int(loc[0]) if loc and isinstance(loc[0], int) else 0
            name = str(loc[-1]) if len(loc) > 1 else "phone"
            column = self.columns.index(name) + 1 if name in self.columns else 0
            where = Location(self.display, lines[index] if index < len(lines) else 0, column)
            out.append(Problem(where, name, message(err, None)))
        return out

    def _csv_error(self, exc: csv.Error, line_num: int) -> Problem:
        text = str(exc)
        if text == "unexpected end of data":
            opened = _open_quote_line(self.row_text)
            line = line_num - len(self.row_text) + 1 + opened
            return Problem(
                Location(self.display, line),
                "",
                'unterminated quoted field: the " opened on this line is never closed',
            )
        return Problem(Location(self.display, line_num), "", f"CSV error: {text}")


def _open_quote_line(lines: list[str]) -> int:
    """Index (within `lines`) of the line holding the last quote that opens a field."""
    opened, inside, previous = 0, False, "\n"
    for index, text in enumerate(lines):
        for ch in text:
            if ch == '"':
                if not inside and previous in ",;\t\n\r":
                    opened = index
                inside = not inside
            previous = ch
    return opened


def contact_of_spec(spec: NumberSpec) -> Contact:
    """A manifest number as the normalized Contact plans compare (`Contact.of`)."""
    values = dict(spec.__dict__)
    values["address"] = spec.address.__dict__ if spec.address is not None else None
    return Contact.of(values)
