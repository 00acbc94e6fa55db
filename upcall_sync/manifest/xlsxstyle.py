"""What a workbook's cell styles hide: a number format that shows nothing of a value.

A number format has up to four sections, `positive;negative;zero;text`, and a value is
shown by the one section that applies to it (a `[>100]`-style condition can choose it).
A section with no placeholder for the value (`0`, `#`, `?`, `General`, a date or time
code; `@` for a text) shows none of it: nothing at all when it is empty, only `[Red]`-style
brackets, spacing or an empty literal `""`, or only its literal (`"-"`, a zero-width
space) in place of the value. `;;;` is the spreadsheet apps' own way to hide a cell's
content while keeping it: the cell looks blank, yet it is saved, and read, as it is; and
`;0` hides every positive number (a phone stored as a number) as surely. `xlsxload`
asks which of a row's cells such a style hides, as it reads the row.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

#: a bracketed part of a section (`[Red]`, `[<100]`, `[$-409]`): shows nothing of the value
_BRACKETS = re.compile(r"\[[^\]]*\]")
#: the brackets that do show it: elapsed hours, minutes or seconds (`[h]`, `[mm]`)
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.IGNORECASE)
#: a quoted literal, or an escaped character: shows itself, never the value
_LITERALS = re.compile(r'"[^"]*"?|\\.', re.DOTALL)
#: `_x` (a space as wide as x) and `*x` (x repeated to fill the cell)
_SPACING = re.compile(r"_.|\*.", re.DOTALL)
#: a section's condition, `[>100]` or `[<=-1.5]`
_CONDITION = re.compile(r"\[(<=|>=|<>|<|>|=)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*\]")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<>": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}
#: the cell types a format's number sections apply to (a date is a number)
_NUMBER_TYPES = frozenset({"n", "d"})
#: the cell types its text section applies to (shared, inline and formula strings)
_TEXT_TYPES = frozenset({"s", "str", "inlineStr"})

#: a number section's condition (None: the section's place decides) and whether it
#: shows the number
Section = tuple[Callable[[float], bool] | None, bool]


class Masking(NamedTuple):
    """The cell style ids whose number format hides some number (with its number
    sections), and those hiding every text."""

    numbers: Mapping[int, tuple[Section, ...]]
    texts: frozenset[int]


def masking_styles(book: Any) -> Masking:
    """Which of the workbook's cell styles show nothing of some number, or of a text."""
    numbers: dict[int, tuple[Section, ...]] = {}
    texts: set[int] = set()
    for index, fmt in enumerate(_formats(book)):
        sections = _sections(fmt)
        parts = tuple((_condition(s), _shows(s, text=False)) for s in sections[:3])
        if not all(shown for _cond, shown in parts):
            numbers[index] = parts
        if len(sections) >= 4 and not _shows(sections[3], text=True):
            texts.add(index)
    return Masking(numbers, frozenset(texts))


def plus_prefixes(book: Any) -> dict[int, str]:
    """The cell styles whose number format shows a `+` before a number's digits
    (`"+"0`, `+0`, `"+1 "000-000-0000`): style id -> what the format writes before them.
    A phone stored as a number under such a format is shown international (`+1 415
    555-0132`), and is read as shown, not as a national number of phone_region."""
    out: dict[int, str] = {}
    for index, fmt in enumerate(_formats(book)):
        prefix = _prefix(_sections(fmt)[0])
        if prefix is not None and "+" in prefix:
            out[index] = prefix
    return out


def _prefix(section: str) -> str | None:
    """What a number section writes before its first digit placeholder (None: it has
    none, or a condition or a fraction that makes it no plain integer's display)."""
    if _CONDITION.search(section) or "/" in _LITERALS.sub("", section):
        return None
    shown: list[str] = []
    at = 0
    while at < len(section):
        ch = section[at]
        if ch in "0#?":
            return "".join(shown)
        if ch == '"':
            end = section.find('"', at + 1)
            end = len(section) if end < 0 else end
            shown.append(section[at + 1 : end])
            at = end + 1
        elif ch == "\\" and at + 1 < len(section):
            shown.append(section[at + 1])
            at += 2
        elif ch in "_*" and at + 1 < len(section):
            at += 2
        elif ch == "[":
            end = section.find("]", at)
            at = len(section) if end < 0 else end + 1
        elif ch.isascii() and ch.isalpha():  # General, a date code: no digits of ours
            return None
        else:
            shown.append(ch)
            at += 1
    return None


def _formats(book: Any) -> list[str]:
    """Each cell style's number format code, by style id."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

    custom = list(getattr(book, "_number_formats", ()))
    out: list[str] = []
    for style in getattr(book, "_cell_styles", ()):
        code = int(getattr(style, "numFmtId", 0) or 0)
        if code < BUILTIN_FORMATS_MAX_SIZE:
            out.append(str(BUILTIN_FORMATS.get(code, "General")))
        else:
            at = code - BUILTIN_FORMATS_MAX_SIZE
            out.append(str(custom[at]) if at < len(custom) else "")
    return out


def masked(cells: Iterable[dict[str, Any]], masking: Masking) -> list[int]:
    """The 1-based columns of a row's cells (openpyxl's parsed cells) that hold a value
    their style shows nothing of."""
    out: list[int] = []
    for cell in cells:
        value = cell["value"]
        if value is None or value == "":
            continue
        style, kind = cell["style_id"], cell["data_type"]
        if kind in _NUMBER_TYPES:
            parts = masking.numbers.get(style)
            if parts is not None and _hidden(parts, value):
                out.append(cell["column"])
        elif style in masking.texts and kind in _TEXT_TYPES:
            out.append(cell["column"])
    return out


def _hidden(parts: tuple[Section, ...], value: Any) -> bool:
    """Whether the section that shows `value` (a date: a positive number) shows none of
    it. Without conditions a positive number takes the first, a negative the second and
    0 the third (each the first when there is no such section); a condition of the first
    two takes the numbers it holds for, the third section the rest."""
    number = value if isinstance(value, int | float) else 1.0
    count = len(parts)
    if count == 1:
        return not parts[0][1]
    first = parts[0][0] or ((lambda v: v > 0) if count >= 3 else (lambda v: v >= 0))
    second = parts[1][0] or ((lambda v: v < 0) if count >= 3 else (lambda v: True))
    if first(number):
        return not parts[0][1]
    if second(number):
        return not parts[1][1]
    return count >= 3 and not parts[2][1]


def _condition(section: str) -> Callable[[float], bool] | None:
    """A section's `[>100]`-style condition, as a test of a number."""
    found = _CONDITION.search(_LITERALS.sub("", section))
    if found is None:
        return None
    compare, bound = _COMPARE[found.group(1)], float(found.group(2))
    return lambda v: compare(v, bound)


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


def _shows(section: str, *, text: bool) -> bool:
    """Whether a section shows the value (`@` for a text; a digit placeholder, `General`,
    a date or time code or an elapsed `[h]` for a number) once literals (quoted,
    escaped), spacing (`_x`, `*x`) and brackets are taken off: what is left is only
    what it writes in the value's place. A letter left over is taken to show it."""
    bare = _SPACING.sub("", _LITERALS.sub("", section))
    if text:
        return "@" in bare or "general" in bare.lower()
    if _ELAPSED.search(bare):
        return True
    bare = _BRACKETS.sub("", bare)
    return any(ch in "0#?" or (ch.isascii() and ch.isalpha()) for ch in bare)


__all__ = ["Masking", "masked", "masking_styles", "plus_prefixes"]
