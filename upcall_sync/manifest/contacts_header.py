"""A contacts file's header: which column fills which field, once the file has proven to
be a contacts file (`HeaderReader`); and what that takes from the manifest that names the
file (`ContactsRef`) and from where a cell is (`Place`). `contacts_file` reads the rows.

Until a phone column is found (by its own name, a known export's alias or the manifest's
mapping), no message quotes the header: the file may be `.env`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from upcall_sync.core.normalize import quote
from upcall_sync.errors import Location, Problem, column_letters
from upcall_sync.manifest.aliases import ALIAS_FIELDS, OWN_NAMES, header_key
from upcall_sync.manifest.csvload import column_key, excerpt
from upcall_sync.manifest.messages import suggest
from upcall_sync.manifest.spec import CSV_COLUMNS

__all__ = ["ContactsRef", "Header", "HeaderReader", "Place", "same_header"]

_SHOWN_IGNORED = 8
#: a do-not-call file's further phone columns, which fill no field of a number: Google
#: Contacts' `Phone 2 - Value` ..., and any header that ends in a phone (Salesforce's
#: `HomePhone`, `OtherPhone`; Outlook's `Business Phone`, `Home Phone 2`, `Primary
#: Phone`; HubSpot's `WhatsApp Phone Number`; Pipedrive's `Person - Phone - Work`), not
#: its type, label or extension. A person who opted out did so on each of their phones.
_MORE_PHONES = re.compile(
    r"phone(?:[2-9]|[1-9][0-9])value"
    r"|.*(?:phone|mobile)(?:number)?(?:work|home|mobile|other|main)?[0-9]*"
)


#: the fields a do-not-call file's rows are read for (their other columns stop nothing)
_LISTED_FIELDS = frozenset({"phone", "extension"})


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
    #: numbers_csv_encoding (a text file's encoding, as written; default UTF-8)
    encoding: str | None = None
    #: the keys as messages name them (another key, e.g. do_not_call_csv, sets its own)
    key: str = "numbers_csv"
    sheet_key: str = "numbers_sheet"
    encoding_key: str = "numbers_csv_encoding"


@dataclass
class Place:
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
class Header:
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
class HeaderReader:
    ref: ContactsRef
    where: Place
    cells: list[str]
    #: the header's line or row (after a `sep=;` line or blank lines, not 1)
    line: int = 1
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def read(self) -> Header | None:
        """The header, or None with problems (which quote the header only once proven)."""
        header = Header(width=len(self.cells))
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
                name, aliased = "phone", True  # an export's header: its other columns are not typos
            if name is not None and (index in mapped or name not in mapped.values()):
                candidates.setdefault(name, []).append(index)
                aliased = aliased or (index not in mapped and key in ALIAS_FIELDS)
        if not candidates.get("phone"):
            self.problems.append(self._no_phone(len(cells), header.width))
            return None
        self.where.shown = True  # a phone column: the file has proven to be a contacts file
        strict = not self.ref.columns and not aliased
        claimed = {i for indexes in candidates.values() for i in indexes}
        if self.ref.key == "do_not_call_csv":
            # an opt-out list stops phones: a name, an email or a second title column of
            # the person who opted out is read as no field, so none of them stops the list
            candidates = {n: i for n, i in candidates.items() if n in _LISTED_FIELDS}
        for name, indexes in candidates.items():
            if len(indexes) > 1 and name == "phone" and self.ref.key == "do_not_call_csv":
                # Every phone of a person who opted out is opted out: dialing their mobile
                # because the list was told to read the office phone is the miss to avoid.
                header.more_phones = indexes[1:]
            elif len(indexes) > 1:
                self.problems.append(self._ambiguous(name, indexes, cells))
            header.fields[indexes[0]] = name
        header.ignored = [i for i in range(len(cells)) if i not in claimed]
        if strict:
            unnamed = [i for i in header.ignored if not cells[i].strip()]
            if unnamed:  # one line, however many: a sheet formatted out to column XFD
                self.problems.append(self._unnamed(unnamed))
            self.problems.extend(
                self._unknown(i, cells[i]) for i in header.ignored if cells[i].strip()
            )
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
                else same_header(cells, index)
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
            else " (a title above the header? The header must be the first row)"
            if count == 1
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

    def _unnamed(self, indexes: list[int]) -> Problem:
        at = self.where(self.line, indexes[0] + 1)
        if len(indexes) == 1:
            return Problem(
                at,
                "",
                f"{self.where.column(indexes[0])} has no name in the header: name it, or "
                "delete the column",
            )
        shown = ", ".join(self.where.column(i).split()[1] for i in indexes[:_SHOWN_IGNORED])
        if len(indexes) > _SHOWN_IGNORED:
            shown += f" and {len(indexes) - _SHOWN_IGNORED:,} more"
        return Problem(
            at,
            "",
            f"{len(indexes):,} columns have no name in the header: {shown}; name them, or "
            "delete those columns",
        )

    def _unknown(self, index: int, cell: str) -> Problem:
        at = self.where(self.line, index + 1)
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


def same_header(cells: list[str], index: int | None) -> list[int]:
    """The columns whose header is the one of column `index` (as a mapping finds it)."""
    if index is None:
        return []
    key = header_key(cells[index])
    return [i for i, cell in enumerate(cells) if header_key(cell) == key]
