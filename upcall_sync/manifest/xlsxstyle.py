"""What a workbook's cell styles hide: a number format that shows nothing.

A number format has up to four sections, `positive;negative;zero;text`. A section with
nothing to show (empty, only `[Red]`-style brackets, spacing or an empty literal `""`)
shows an empty cell, and
`;;;` is the spreadsheet apps' own way to hide a cell's content while keeping it:
the cell looks blank, yet it is saved, and read, as it is. `xlsxload` asks which of
a row's cells such a style hides, as it reads the row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

#: a bracketed part of a section (`[Red]`, `[<100]`, `[$-409]`): shows nothing itself
_BRACKETS = re.compile(r"\[[^\]]*\]")
#: `_x` (a space as wide as x) and `* ` (a space repeated to fill the cell)
_SPACING = re.compile(r"_.|\* ")
#: the cell types a format's number sections apply to (a date is a number)
_NUMBER_TYPES = frozenset({"n", "d"})
#: the cell types its text section applies to (shared, inline and formula strings)
_TEXT_TYPES = frozenset({"s", "str", "inlineStr"})


class Masking(NamedTuple):
    """The cell style ids whose number format shows no number, and those showing no text."""

    numbers: frozenset[int]
    texts: frozenset[int]


def masking_styles(book: Any) -> Masking:
    """Which of the workbook's cell styles show nothing of a number, or of a text."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

    custom = list(getattr(book, "_number_formats", ()))
    numbers: set[int] = set()
    texts: set[int] = set()
    for index, style in enumerate(getattr(book, "_cell_styles", ())):
        code = int(getattr(style, "numFmtId", 0) or 0)
        if code < BUILTIN_FORMATS_MAX_SIZE:
            fmt = BUILTIN_FORMATS.get(code, "General")
        else:
            at = code - BUILTIN_FORMATS_MAX_SIZE
            fmt = custom[at] if at < len(custom) else ""
        sections = _sections(str(fmt))
        if len(sections) >= 2 and all(map(_shows_nothing, sections[:3])):
            numbers.add(index)
        if len(sections) >= 4 and _shows_nothing(sections[3]):
            texts.add(index)
    return Masking(frozenset(numbers), frozenset(texts))


def masked(cells: Iterable[dict[str, Any]], masking: Masking) -> list[int]:
    """The 1-based columns of a row's cells (openpyxl's parsed cells) that hold a value
    their style shows nothing of."""
    out: list[int] = []
    for cell in cells:
        value = cell["value"]
        if value is None or value == "":
            continue
        style, kind = cell["style_id"], cell["data_type"]
        if (style in masking.numbers and kind in _NUMBER_TYPES) or (
            style in masking.texts and kind in _TEXT_TYPES
        ):
            out.append(cell["column"])
    return out


def _sections(fmt: str) -> list[str]:
    """A format code's sections, split at each `;` outside quotes and escapes."""
    sections: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in fmt:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            sections.append("".join(current))
            current = []
            continue
        current.append(ch)
    sections.append("".join(current))
    return sections


def _shows_nothing(section: str) -> bool:
    """Whether a section shows nothing one can see: brackets, `_x` (a space the width of
    x) and `*x` (x repeated to fill: a space here) aside, and quotes and backslashes
    taken off what they quote, nothing but whitespace is left."""
    bare = _SPACING.sub("", _BRACKETS.sub("", section))
    return not bare.replace('"', "").replace("\\", "").strip()


__all__ = ["Masking", "masked", "masking_styles"]
