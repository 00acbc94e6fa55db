"""CSV, TSV and TXT contacts files as rows, with the file's own line numbers.

The file is streamed: rows are handed on one by one, so memory never holds the
file. Spreadsheet exports are taken as they come: `,`, `;` or tab delimiters (the
header line's most frequent one, or Excel's first line `sep=;`), a UTF-8 byte order
mark, old Mac line ends.
Nothing here quotes the file's content: `contacts_file` decides when it may.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from upcall_sync.core.normalize import quote
from upcall_sync.errors import Location
from upcall_sync.manifest.files import SpecialFile, TooLarge, open_regular
from upcall_sync.manifest.table import XLS_MAGIC, FileRefused, Row, TableError

#: a contacts file over this is refused (about 1.2 million rows of a typical export)
MAX_CSV_BYTES = 100 * 1024 * 1024
DELIMITERS = (",", ";", "\t")
#: the first line Excel writes (and reads) to name a CSV's delimiter: `sep=;`
_SEP_HINT = re.compile(r'"?sep=([,;\t|])"?[,;\t|]*\r?\n?', re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"
_SEPARATORS = re.compile(r"[\s_-]+")
_NOT_UTF8 = "CSV is not UTF-8 text (save it as UTF-8; spreadsheet apps call it 'CSV UTF-8')"
#: what `_NOT_UTF8` adds: the key that names another encoding
_NAME_IT = "; or name its encoding: {key}: windows-1252 (or the one it was saved in)"
_NOT_TEXT = (
    "CSV is not UTF-8 text, nor UTF-16 (save it as UTF-8; spreadsheet apps call it 'CSV UTF-8')"
)
#: where a text whose lines end in \r alone is cut into lines (after each \r not before \n)
_MAC_LINE_END = re.compile(rb"(?<=\r)(?!\n)")
#: a line end as the UTF-16 reader counts them (universal newlines)
_LINE_END = re.compile(r"\r\n|\r|\n")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: how a workbook's bytes start (a .xlsx is a zip file; a .xls an OLE2 compound file)
_WORKBOOKS = (
    (b"PK\x03\x04", "a zip file, as a .xlsx workbook is"),
    (XLS_MAGIC, "an Excel 97-2003 (.xls) workbook"),
)


# -- opening: inside the checkout, a regular file ------------------------------------------


def csv_path(manifest: Path, written: str, root: Path) -> Path:
    """Where `numbers_csv: written` points: relative to its manifest, and, after
    symlinks, inside `root` (the working directory: the checkout)."""
    if Path(written).is_absolute():
        raise FileRefused("is an absolute path; write it relative to this manifest")
    resolved = (manifest.parent / written).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise FileRefused(
            "is outside the working directory (after symlinks); a contacts file must lie "
            "inside the checkout that upcall-sync runs in"
        )
    return resolved


def open_regular_file(path: Path, max_bytes: int, key: str = "numbers_csv") -> BinaryIO:
    """A regular file opened for reading, or FileRefused naming the manifest's `key`
    (numbers_csv, do_not_call_csv); never blocks on a FIFO or device."""
    try:
        return open_regular(path, max_bytes)
    except SpecialFile as exc:
        kind = "a directory" if exc.directory else "not a regular file"
        raise FileRefused(f"is {kind}; a {key} must be a CSV file") from None
    except TooLarge as exc:
        size = exc.size or 0
        # opt-out lists of all manifest files add up; numbers go to one campaign each
        split = "manifest files" if key == "do_not_call_csv" else "campaigns or files"
        raise FileRefused(
            f"is {size / 1024 / 1024:.1f} MB, over the {max_bytes // 1024 // 1024} MB "
            f"limit for a {key} (split it across {split})"
        ) from None
    except FileNotFoundError:
        raise FileRefused("does not exist") from None
    except OSError as exc:
        raise FileRefused(f"cannot be read: {exc.strerror}") from None


# -- reading -------------------------------------------------------------------------------


def csv_rows(
    fh: BinaryIO,
    display: str,
    hasher: Any,
    encoding: Encoding | None = None,
    encoding_key: str = "numbers_csv_encoding",
) -> Iterator[Row]:
    """The header row, then every row; TableError (quoting no content) where the file is
    not UTF-8 (or the `encoding` the manifest names, with `encoding_key`) or not CSV.
    Hashes the bytes as they pass."""
    lines = (
        _text_lines(fh, hasher, display, encoding_key)
        if encoding is None
        else _declared_lines(fh, hasher, display, encoding)
    )
    first = next(lines, None)
    delimiter, skipped = None, 0
    if first is not None and (hint := _SEP_HINT.fullmatch(first)) is not None:
        # Excel's `sep=;` line names the delimiter; the header follows it
        delimiter, skipped, first = hint[1], 1, next(lines, None)
    empty_at = Location(display, 1 + skipped, 1)
    while first is not None and not first.strip():  # blank lines above the header
        skipped, first = skipped + 1, next(lines, None)
    if first is None:
        raise TableError("CSV is empty: it needs a header row", empty_at)
    recorded: list[str] = []
    reader = csv.reader(
        _recorded(chain([first], lines), recorded),
        delimiter=delimiter or sniff_delimiter(first),
        strict=True,
    )
    start = 1 + skipped
    try:
        for cells in reader:
            yield Row(start, cells)
            start = reader.line_num + 1 + skipped
            recorded.clear()
    except csv.Error as exc:
        raise _csv_error(exc, reader.line_num + skipped, recorded, display) from None


def _text_lines(
    fh: BinaryIO, hasher: Any, display: str, encoding_key: str = "numbers_csv_encoding"
) -> Iterator[str]:
    """The file's lines as text (BOM dropped), hashing the bytes as they pass."""
    peek = getattr(fh, "peek", None)
    if peek is not None and peek(2)[:2] in _UTF16_BOMS:
        return _utf16_lines(fh, hasher, display)
    return _decoded_lines(
        fh,
        hasher,
        display,
        "utf-8",
        not_it=_NOT_UTF8[:-1] + _NAME_IT.format(key=encoding_key) + ")",
        # UTF-16 without its byte order mark decodes as UTF-8, NULs between
        nul=_NOT_UTF8.replace("text", "text: it holds NUL bytes, as UTF-16 does", 1),
    )


def _decoded_lines(
    fh: BinaryIO,
    hasher: Any,
    display: str,
    codec: str,
    *,
    not_it: str,
    nul: str,
    bom: str | None = None,
) -> Iterator[str]:
    """The file's lines decoded with `codec` (a UTF-8 byte order mark dropped), hashing
    the bytes as they pass. TableError at the line: `not_it` where a line does not
    decode, `nul` where it holds NUL bytes, `bom` (when given) where the first line
    starts with a Unicode byte order mark."""
    line = 0  # lines as the CSV reader counts them: old-Mac line ends (\r alone) too
    for number, raw in enumerate(fh, 1):
        hasher.update(raw)
        if number == 1:
            _refuse_workbook(raw, display)
            if bom is not None and raw.startswith((_BOM, *_UTF16_BOMS)):
                raise TableError(bom, Location(display, number))
        # cut at \r before decoding, so that an error names the line it is on (a \r
        # byte is a carriage return in every encoding a manifest may name)
        for piece in _lines(raw.removeprefix(_BOM) if number == 1 else raw):
            line += 1
            try:
                text = piece.decode(codec)
            except UnicodeDecodeError:
                raise TableError(not_it, Location(display, line)) from None
            if "\x00" in text:
                raise TableError(nul, Location(display, line))
            yield text


class Encoding(NamedTuple):
    """A text encoding a manifest names for a CSV (`numbers_csv_encoding`): its codec's
    name, as written, and the key that names it."""

    codec: str
    written: str
    key: str


#: the encodings a manifest may name: ASCII-compatible, so that a line ends at a
#: newline byte whatever precedes it (Excel's "CSV (Comma delimited)" writes the
#: system's ANSI code page; Salesforce Classic exports ISO-8859-1 unless told otherwise)
TEXT_ENCODINGS = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8",
        *(f"cp{n}" for n in range(1250, 1259)),
        *(f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)),
        "mac-roman",
        "cp437",
        "cp850",
        "koi8-r",
        "koi8-u",
        "shift_jis",
        "cp932",
        "euc-jp",
        "gb18030",
        "gbk",
        "big5",
        "euc-kr",
        "cp949",
    )
)


def text_encoding(written: str) -> str | None:
    """The codec name of an encoding a manifest may name, or None."""
    try:
        name = codecs.lookup(written).name
    except LookupError:
        return None
    return name if name in TEXT_ENCODINGS else None


def _declared_lines(fh: BinaryIO, hasher: Any, display: str, encoding: Encoding) -> Iterator[str]:
    """The file's lines in the encoding the manifest names. A byte order mark says the
    file is Unicode, whatever the manifest says: that is an error, not a guess."""
    not_it = f"CSV is not {encoding.written} text ({encoding.key})"
    return _decoded_lines(
        fh,
        hasher,
        display,
        encoding.codec,
        not_it=f"{not_it}: a byte on this line is not a character of it",
        nul=f"{not_it}: it holds NUL bytes, as UTF-16 does",
        bom=None
        if encoding.codec == "utf-8"
        else f"CSV starts with a Unicode byte order mark, but {encoding.key} says it is "
        f"{encoding.written}: remove {encoding.key}, or save the file in that encoding",
    )


def _lines(raw: bytes) -> Iterator[bytes]:
    """A line read up to its newline byte, cut again at old Mac line ends (\r alone; not
    str.splitlines, which also ends a line at U+2028, \x0b, \x1c-\x1e, \x85: in a cell)."""
    if b"\r" in raw.rstrip(b"\r\n"):
        yield from filter(None, _MAC_LINE_END.split(raw))
    else:
        yield raw


def _refuse_workbook(first: bytes, display: str) -> None:
    """A workbook saved under a text file's name is told so, whatever its first line
    decodes to (a zip's first bytes up to a newline byte may be valid UTF-8, NULs and
    all, depending on the timestamps it holds)."""
    kind = next((k for magic, k in _WORKBOOKS if first.startswith(magic)), None)
    if kind is not None:
        raise TableError(
            f"CSV is not UTF-8 text: it is {kind}; open it in the spreadsheet app "
            "and save it as 'CSV UTF-8', or name a .xlsx workbook .xlsx",
            Location(display, 1),
        )


class _Hashed(io.RawIOBase):
    """A binary file whose bytes pass through `hasher` as they are read."""

    def __init__(self, fh: BinaryIO, hasher: Any) -> None:
        super().__init__()
        self._fh, self._hasher = fh, hasher

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        self._hasher.update(data)
        buffer[: len(data)] = data
        return len(data)


def _utf16_lines(fh: BinaryIO, hasher: Any, display: str) -> Iterator[str]:
    """The lines of UTF-16 text that starts with its byte order mark: Excel's "Unicode
    Text" (.txt, tab-separated) and older Google Contacts exports."""
    text = io.TextIOWrapper(io.BufferedReader(_Hashed(fh, hasher)), encoding="utf-16", newline="")
    number = 0
    try:
        for number, line in enumerate(text, 1):
            # a header holds ASCII (a delimiter, a Latin letter): bytes that only decode
            # to other scripts are a binary file that starts like UTF-16, not an export
            if "\x00" in line or (number == 1 and not any(ch < "\x80" for ch in line)):
                raise TableError(_NOT_TEXT, Location(display, number))
            yield line
    except UnicodeDecodeError:
        at = _utf16_error_line(fh, number + 1)
        raise TableError(_NOT_TEXT, Location(display, at)) from None


def _utf16_error_line(fh: BinaryIO, fallback: int) -> int:
    """The line of the first bytes that are not UTF-16: the decoder reads thousands of
    bytes ahead of the line being read, so the line reached is not the one (helper b61)."""
    try:
        fh.seek(0)
        data = fh.read(MAX_CSV_BYTES)
        data.decode("utf-16")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-16", errors="replace")
        return 1 + len(_LINE_END.findall(before))
    except (OSError, ValueError):  # not seekable
        pass
    return fallback


def _recorded(lines: Iterable[str], into: list[str]) -> Iterator[str]:
    """The lines, remembering those of the row being read (for quote errors)."""
    for line in lines:
        into.append(line)
        yield line


def _csv_error(exc: csv.Error, line_num: int, row_text: list[str], display: str) -> TableError:
    text = str(exc)
    if text == "unexpected end of data":
        line = line_num - len(row_text) + 1 + _open_quote_line(row_text)
        return TableError(
            'unterminated quoted field: the " opened on this line is never closed',
            Location(display, line),
        )
    return TableError(f"CSV error: {text}", Location(display, line_num))


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


def sniff_delimiter(header_line: str) -> str:
    """The header line's most frequent of `,` `;` tab (`,` on a tie or when none is there)."""
    counts = [(header_line.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    return max(counts)[2]


def column_key(header: str) -> str:
    """`First Name`, `first-name` and `FIRST_NAME` all read first_name (for suggestions)."""
    return _SEPARATORS.sub("_", header.strip().lower()).strip("_")


def excerpt(cell: str, limit: int = 30) -> str:
    """A cell as messages quote it: at most `limit` characters, one line."""
    short = cell if len(cell) <= limit else cell[:limit] + "..."
    return quote("".join(ch if ch.isprintable() else "?" for ch in short))
