"""What nobody reviewing a workbook sees, and the refusals that say so: a dialed sheet's
hidden rows and columns, merged cells over what it reads, and cells whose number format
shows nothing (`;;;`). `xlsxload` finds them (`Hidden`); `contacts_file` refuses the file
with every other problem it has (`refuse_unseen`), dropping the problems of the cells
refused (they would quote what nobody sees). Nothing here quotes the file's content.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Protocol

from upcall_sync.errors import Problem, column_letters
from upcall_sync.manifest.contacts_header import Header, Place


class SheetRead(Protocol):
    """What the reader of the sheet's rows knows when the refusals are made."""

    @property
    def header(self) -> Header: ...
    @property
    def top(self) -> int: ...
    @property
    def heading(self) -> list[str]: ...
    @property
    def warnings(self) -> list[Problem]: ...
    def blank_between(self, low: int, high: int) -> bool: ...


#: hidden rows an error lists by number, before "and N more"
_SHOWN_HIDDEN = 5


@dataclass
class Hidden:
    """What a dialed sheet hides that holds something (`xlsx_rows`): nobody reviewing the
    workbook sees it, so the caller refuses the file, with every other problem it found."""

    #: the hidden rows that hold anything, in order (none of them handed on)
    rows: list[int] = field(default_factory=list)
    #: whether one of them lies above the table (read, it would have been its header)
    above: bool = False
    #: each hidden column (0-based) that holds anything below the header -> the first row
    #: where it does (the header's row for a column hidden only after the rows were read,
    #: whose cells were not looked at)
    columns: dict[int, int] = field(default_factory=dict)
    #: each range of merged cells (min_col, min_row, max_col, max_row; 1-based) that covers
    #: a cell of the header's row or below: an app shows the range's first cell across
    #: it, while every cell it covers is read as saved (most often empty; or what a
    #: hand or a script put there, which nobody sees)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: each cell (row, 1-based column) at the header's row or below that holds a value its
    #: number format shows nothing of (`;;;`): it looks blank, and is read as saved
    masked: list[tuple[int, int]] = field(default_factory=list)


def refuse_unseen(problems: list[Problem], held: Hidden, reader: SheetRead, place: Place) -> None:
    """A dialed sheet's hidden rows (said at the first), and each hidden column it reads,
    in one line each: the problems of that column's cells below the header go (they
    would quote what nobody reviewing the workbook sees; unhidden, it is read again)."""
    if held.rows:
        message = hidden_rows_message(held.rows, above=held.above)
        problems.append(Problem(place(held.rows[0]), "", message))
    refused: list[Problem] = []
    for column, row in sorted(held.columns.items()):
        name = reader.header.fields.get(column)
        if name is not None:
            message = hidden_column_message(place.column(column), name)
            refused.append(Problem(place(row, column + 1), "", message))
    if refused:
        columns = {problem.location.column for problem in refused}
        problems[:] = [
            problem
            for problem in problems
            if problem.location.file != place.display
            or problem.location.column not in columns
            or problem.location.line <= reader.top
        ]
        problems.extend(refused)
    _refuse_merged(problems, held.merged, reader, place)
    _refuse_masked(problems, held.masked, reader, place)


def _refuse_masked(
    problems: list[Problem], masked: list[tuple[int, int]], reader: SheetRead, place: Place
) -> None:
    """The cells of each column the sheet reads as a field whose number format shows
    nothing of what they hold (`;;;`), in one line a column: their own problems go (they
    would quote what nobody reviewing the workbook sees)."""
    by_column: dict[int, list[int]] = {}
    for row, column in masked:
        if column - 1 in reader.header.fields:
            by_column.setdefault(column, []).append(row)
    if not by_column:
        return
    cells = {(row, column) for column, rows in by_column.items() for row in rows}
    problems[:] = [
        p
        for p in problems
        if p.location.file != place.display or (p.location.line, p.location.column) not in cells
    ]
    for column, rows in sorted(by_column.items()):
        name = reader.header.fields[column - 1]
        message = masked_message(column_letters(column), rows, name)
        problems.append(Problem(place(rows[0], column), "", message))


def _refuse_merged(
    problems: list[Problem],
    merged: list[tuple[int, int, int, int]],
    reader: SheetRead,
    place: Place,
) -> None:
    """Each range of merged cells that covers a cell the sheet reads as a field (at the
    header's row or below), or a header cell that names a column, in one line: the
    problems of the cells they cover go (they would quote what nobody reviewing the
    workbook sees; the header's all go, as one can name several columns), in one pass
    over the problems (one pass a range took 109 s for 30,000 ranges)."""
    refused: list[Problem] = []
    heading = False  # whether a range covers a header cell that names a column
    spans: dict[int, list[tuple[int, int]]] = {}  # 1-based column -> rows it covers
    columns = {p.location.column for p in problems if p.location.file == place.display}
    for low_col, low_row, high_col, high_row in merged:
        names = [
            name
            for column, name in sorted(reader.header.fields.items())
            if low_col <= column + 1 <= high_col
            # the cells it covers in that column: all but the first cell of the range
            and high_row >= max(low_row + (column + 1 == low_col), reader.top)
        ]
        named = low_row <= reader.top <= high_row and any(
            cell.strip()
            for column, cell in enumerate(reader.heading[low_col - 1 : high_col], low_col)
            if (reader.top, column) != (low_row, low_col)
            and column - 1 not in reader.header.fields  # else said as its field
        )
        if (not names and not named) or reader.blank_between(low_row, high_row):
            continue  # nothing read under it, or nothing at all: shown as read
        heading = heading or named
        for column in columns:
            if low_col <= column <= high_col:
                spans.setdefault(column, []).append((low_row + (column == low_col), high_row))
        first = f"{column_letters(low_col)}{low_row}"
        last = f"{column_letters(high_col)}{high_row}"
        message = merged_message(first, last, names, header=named)
        refused.append(Problem(place(low_row, low_col), "", message))
    covered = {column: _union(rows) for column, rows in spans.items()}
    problems[:] = [
        problem
        for problem in problems
        if problem.location.file != place.display
        or not (
            _within_rows(covered.get(problem.location.column), problem.location.line)
            or (heading and problem.location.line == reader.top)
        )
    ]
    problems.extend(refused)
    if heading:  # a warning naming the columns it ignores would quote a covered one
        reader.warnings.clear()


def _union(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Row spans (first, last) as the starts and ends of disjoint ones, in order."""
    starts: list[int] = []
    ends: list[int] = []
    for low, high in sorted(spans):
        if ends and low <= ends[-1] + 1:
            ends[-1] = max(ends[-1], high)
        elif low <= high:
            starts.append(low)
            ends.append(high)
    return starts, ends


def _within_rows(spans: tuple[list[int], list[int]] | None, line: int) -> bool:
    if spans is None:
        return False
    at = bisect.bisect_right(spans[0], line) - 1
    return at >= 0 and line <= spans[1][at]


def hidden_rows_message(rows: list[int], *, above: bool = False) -> str:
    """The refusal of a dialed list whose sheet hides these rows (said at the first);
    `above`: one of them lies above the table, where it would have been read as its header."""
    shown = _listing([str(row) for row in rows])
    one = len(rows) == 1
    what = (
        f"what {'it holds' if one else 'they hold'}, yet upcall-sync reads every row (a "
        "hidden row above the table would be read as its header)"
        if above
        else f"{'this person' if one else 'these people'}, yet upcall-sync reads every row "
        "and would dial them"
    )
    return (
        f"{'row' if one else 'rows'} {shown} {'is' if one else 'are'} hidden in the workbook "
        f"(by hand, in a collapsed group, by a filter, or at a height of 0): nobody reviewing "
        f"the workbook sees {what}; unhide the {'row' if one else 'rows'}, or delete "
        f"{'it' if one else 'them'}"
    )


def _listing(items: list[str]) -> str:
    """`3`, `3 and 5`, `2, 3, 4, 5, 6 and 4 more`: the first _SHOWN_HIDDEN, then a count."""
    listed = items[:_SHOWN_HIDDEN]
    if len(items) > _SHOWN_HIDDEN:
        listed.append(f"{len(items) - _SHOWN_HIDDEN:,} more")
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def merged_message(first: str, last: str, names: list[str], *, header: bool = False) -> str:
    """The refusal of a dialed list whose sheet merges cells it reads (`B2` to `B5`) as
    these fields, or (`header`) as the name of a column."""
    read = [f"each number's {' and '.join(names)}"] if names else []
    if header:
        read.append("a column's name in the header")
    return (
        f"cells {first}:{last} are merged: a spreadsheet app shows {first}'s value across "
        f"them, yet upcall-sync reads each cell's own value as {' and as '.join(read)} (an "
        "empty one, or one nobody reviewing the workbook sees); unmerge the cells and fill "
        "each one"
    )


def masked_message(letters: str, rows: list[int], name: str) -> str:
    """The refusal of a dialed list whose sheet's number format hides cells it reads."""
    shown = _listing([f"{letters}{row}" for row in rows])
    one = len(rows) == 1
    return (
        f"{'cell' if one else 'cells'} {shown} {'shows' if one else 'show'} nothing: "
        f"{'its' if one else 'their'} number format (such as ;;;) hides what "
        f"{'it holds' if one else 'they hold'}, yet upcall-sync reads "
        f"{'it' if one else 'them'} as each number's {name}; give the cells a format that "
        "shows them (General), or clear them"
    )


def hidden_column_message(column: str, name: str) -> str:
    """The refusal of a dialed list whose sheet hides a column it reads (`column C`)."""
    return (
        f"{column} is hidden in the workbook (by hand, in a collapsed group, or at a width "
        f"of 0), yet it is read as each number's {name}: nobody reviewing the workbook sees "
        "what it holds; unhide the column, or delete it"
    )
