"""What a contacts file's reader (CSV or XLSX) hands on: rows of text cells, and where."""

from __future__ import annotations

from typing import NamedTuple

from upcall_sync.errors import Location

#: how an Excel 97-2003 (.xls) workbook's bytes start (an OLE2 compound file): told apart
#: when one is named as a text file or as a .xlsx
XLS_MAGIC = b"\xd0\xcf\x11\xe0"


class Row(NamedTuple):
    """One row of a contacts file: its number (the CSV line or the sheet row) and cells."""

    number: int
    cells: list[str]
    #: 0-based columns whose cell a spreadsheet stored as a number (not text)
    numeric: frozenset[int] = frozenset()
    #: 0-based columns whose cell a spreadsheet stored as a date or time (no contact field is)
    dates: frozenset[int] = frozenset()


class TableError(Exception):
    """A file that cannot be read as a table. The message quotes none of its content."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: where in the file, or None: then the manifest line naming the file
        self.location = location


class FileRefused(Exception):
    """A contacts file that may not or cannot be opened (the message shows no content)."""
