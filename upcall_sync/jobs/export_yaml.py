"""Writing exported manifests: YAML scalars that read back as exactly the text written,
CSV cells, file names, and the files themselves (atomically).

A small emitter of its own rather than `yaml.dump`: the output needs comments,
one line per number, block scalars only where they are exact, and speed (an
account holds hundreds of thousands of numbers). Every choice is conservative:

- a scalar is written plain only when it starts with a letter, is made of word
  characters and a few safe marks, has no trailing space, and PyYAML's
  resolver (the one the manifest loader uses) reads it back as text; `NO`,
  `yes`, `null`, `~`, `02134`, `1e3`, `0x1F`, `+1650...` and timestamps are
  therefore double-quoted (also for YAML 1.2 readers, which take `1e3` as a
  number);
- everything else is double-quoted, escaping what YAML would fold or refuse
  (line breaks, control characters, non-characters, a byte-order mark);
- multi-line text is written as a literal block (`|`, `|-`, `|+`) only when it
  has no carriage return, no unusual line break, no trailing space on a line
  and no leading space, and reading the block back gives the same text;
- `${` that the manifest loader would expand is written `$${`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from upcall_sync.core.normalize import HIDING
from upcall_sync.errors import UsageError
from upcall_sync.manifest.envvars import expand_env

log = logging.getLogger(__name__)

try:  # the loader's own parser, so the block-scalar check reads as `validate` will
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(10)}
_STEM_BYTES = 180  # file names are limited to 255 bytes
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_PLAIN = re.compile(r"\w(?:[\w .@()/+'&-]*[\w.)'])?")
#: the members of HIDING that `\w` matches (Hangul fillers, letters that draw as nothing):
#: a plain scalar or column holding one is written double-quoted, with it escaped
_HIDING_WORD = re.compile("[" + "".join(c for c in sorted(HIDING) if c.isalnum()) + "]")
_ENV_REF = re.compile(r"\$\{[^}]*\}")
_NAMED_ESCAPES = {
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


class Unwritable(ValueError):
    """Text no YAML or CSV file can hold (a lone surrogate)."""


def escape_env(value: str) -> str:
    """`value` such that the manifest loader's `${VAR}` expansion gives it back.

    The loader replaces each `${...}` (up to the first `}`) with a variable, and
    `$${...}` with a literal `${...}`; escaping every match it would make, left
    to right, is exact (checked by a property test against `expand_env`).
    """
    if "${" not in value:
        return value
    return _ENV_REF.sub(lambda m: "$" + m.group(0), value)


_Resolvers = tuple[tuple[str, "re.Pattern[str]"], ...]


def _implicit_resolvers() -> tuple[dict[str, _Resolvers], _Resolvers]:
    """PyYAML's implicit resolvers by first character, with the wildcard ones after
    them, in the order `Resolver.resolve` tries them on a plain scalar; and the wildcard
    ones alone (for any other first character). A fresh resolver has no path resolvers,
    so nothing else decides."""
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = _RESOLVER.yaml_implicit_resolvers
    wildcard = tuple(table.get(None, []))
    return {k: (*v, *wildcard) for k, v in table.items() if k is not None}, wildcard


_IMPLICIT, _WILDCARD = _implicit_resolvers()


def _resolves_to_text(value: str) -> bool:
    """Whether PyYAML's resolver reads the plain scalar `value` as text: the first
    implicit resolver (for its first character, then the wildcard ones) that matches
    decides, as in `Resolver.resolve`; none matching means text (property-tested
    against `resolve`)."""
    for tag, regexp in _IMPLICIT.get(value[:1], _WILDCARD):
        if regexp.match(value):
            return tag == _STR
    return True


#: the code points above U+009F that YAML 1.1 refuses raw (a BOM, the non-characters) or
#: reads as line breaks (U+2028, U+2029)
_NOT_RAW_CODES = frozenset({0xFEFF, 0xFFFE, 0xFFFF, 0x2028, 0x2029})


def _raw_ok(ch: str) -> bool:
    """Characters YAML 1.1 allows raw on one line of a scalar (no line breaks), and a
    reviewer sees as they are (none of HIDING)."""
    code = ord(ch)
    if 0x20 <= code <= 0x7E:
        return True
    if code < 0xA0:
        return False
    if 0xD800 <= code <= 0xDFFF:
        raise Unwritable("text holds a lone surrogate (not valid Unicode)")
    return code not in _NOT_RAW_CODES and ch not in HIDING


def _ranges_without(refused: set[int]) -> str:
    """The code points from U+00A0 up but `refused`, as a character class's ranges."""
    ranges: list[str] = []
    start = 0xA0
    for code in sorted(refused):
        if code > start:
            ranges.append(f"{chr(start)}-{chr(code - 1)}")
        start = max(start, code + 1)
    ranges.append(f"{chr(start)}-{chr(0x10FFFF)}")
    return "".join(ranges)


#: what `_raw_ok` lets through above U+009F, as a character class's ranges (HIDING's
#: every member left out, as it grows)
_RAW_RANGES = _ranges_without({*_NOT_RAW_CODES, *range(0xD800, 0xE000), *map(ord, HIDING)})
#: a character `_raw_ok` refuses (or raises on: a surrogate)
_NOT_RAW = re.compile(f"[^ -~{_RAW_RANGES}]")


def _all_raw_ok(text: str) -> bool:
    """`all(_raw_ok(ch) for ch in text)`, one C-level scan for nearly every text."""
    return _NOT_RAW.search(text) is None or all(_raw_ok(ch) for ch in text)


def _printable(ch: str) -> bool:
    """Characters written raw inside a double-quoted scalar."""
    return ch not in '"\\' and _raw_ok(ch)


def _escape(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


#: a character `_printable` refuses (or `_raw_ok` raises on: a surrogate); text without
#: one is written between the quotes as it is
_NOT_PRINTABLE = re.compile(f"[^ !#-\\[\\]-~{_RAW_RANGES}]")


def double_quoted(value: str) -> str:
    if _NOT_PRINTABLE.search(value) is None:  # nearly every value: one C-level scan
        return '"' + value + '"'
    return '"' + "".join(ch if _printable(ch) else _escape(ch) for ch in value) + '"'


@functools.lru_cache(maxsize=65536)
def scalar(value: str) -> str:
    """One text value as a YAML scalar that reads back as exactly `value` (after `${` escaping).

    Safe in block and flow context alike.
    """
    value = escape_env(value)
    if (
        value[:1].isalpha()
        and _PLAIN.fullmatch(value)
        and (value.isascii() or not _HIDING_WORD.search(value))
        and _resolves_to_text(value)
    ):
        return value
    return double_quoted(value)


#: a column's slot for values written as they are, and for values written double-quoted
PLAIN_SLOT, QUOTED_SLOT = "%s", '"%s"'
#: the plain scalars PyYAML's resolver reads as something other than text, among those
#: that `_PLAIN_COLUMN` lets through (an ASCII letter first): its bool and null words
_LETTER_WORDS = frozenset(
    spelled
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for spelled in (word, word.capitalize(), word.upper())
)
#: the resolvers `_LETTER_WORDS` stands for (a PyYAML whose resolvers for a first ASCII
#: letter differ turns the plain column off: every value then takes `scalar`)
_LETTER_RESOLVERS = {
    "tag:yaml.org,2002:bool": r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$""",
    "tag:yaml.org,2002:null": r"""^(?: ~
                    |null|Null|NULL
                    | )$""",
}
_PLAIN_VALUE = r"[A-Za-z][\w .@()/+'&-]*+(?<=[\w.)'])"
#: a non-empty value that `scalar` writes as `'"' + value + '"'`: every character printable
#: in double quotes, and provably not plain (a first character that is not a letter, or
#: one that `_PLAIN` refuses anywhere)
_QUOTED_VALUE = (
    r"(?:[ !#-@\[\]-`{-~]|(?=[^\x00]*[^\w .@()/+'&\x00-]))"
    + _NOT_PRINTABLE.pattern.replace("[^", "[", 1)
    + "*+"
)
_PLAIN_COLUMN = re.compile(f"(?:{_PLAIN_VALUE})?(?:\x00(?:{_PLAIN_VALUE})?)*+")
_QUOTED_COLUMN = re.compile(f"(?:{_QUOTED_VALUE})?(?:\x00(?:{_QUOTED_VALUE})?)*+")


def _letter_words_hold() -> bool:
    """Whether PyYAML reads a plain scalar starting with an ASCII letter as text unless it
    is one of `_LETTER_WORDS` (its bool and null resolvers, as `_LETTER_RESOLVERS`)."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return all(
        _LETTER_RESOLVERS.get(tag) == regexp.pattern and regexp.flags & re.VERBOSE
        for letter in letters
        for tag, regexp in _IMPLICIT.get(letter, _WILDCARD)
    )


_PLAIN_COLUMNS = _letter_words_hold()


def column_scalars(values: Sequence[str]) -> tuple[str, Sequence[str]]:
    """One field's values across a page as (slot, fills): `slot % fill` is `scalar(value)`
    for every non-empty value.

    One value throughout (a company, a city): its scalar, once. Else, when one C-level
    scan of the joined column proves every value plain (and none a YAML word), the
    values themselves fill a plain slot; when it proves every value written
    double-quoted as it is (and none holds `${`), a quoted slot; otherwise each value's
    `scalar` fills a plain slot (Unwritable as `scalar` raises it).
    """
    if values and values.count(values[0]) == len(values):
        return PLAIN_SLOT, [scalar(values[0])] * len(values)
    joined = "\x00".join(values)
    if joined.count("\x00") == len(values) - 1:  # no value holds the separator
        if (
            _PLAIN_COLUMNS
            and _PLAIN_COLUMN.fullmatch(joined)
            and (joined.isascii() or not _HIDING_WORD.search(joined))
            and _LETTER_WORDS.isdisjoint(values)
        ):
            return PLAIN_SLOT, values
        if "${" not in joined and _QUOTED_COLUMN.fullmatch(joined):
            return QUOTED_SLOT, values
    return PLAIN_SLOT, list(map(scalar, values))


@functools.lru_cache(maxsize=4096)  # campaigns often share their texts
def block_or_scalar(value: str, indent: str) -> str:
    """A literal block scalar for multi-line text where that is exact; else `scalar()`.

    Returns what follows `key:` (with its leading space), lines indented by `indent`.
    """
    escaped = escape_env(value)
    lines = escaped.split("\n")
    body = escaped.rstrip("\n")
    if (
        "\n" not in body
        or not body
        or body[0] in " \t\n"
        or any(line != line.rstrip(" \t") for line in lines)
        or not _all_raw_ok(body.replace("\n", "").replace("\t", ""))
        or "\r" in escaped
    ):
        return " " + scalar(value)
    trailing = len(escaped) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    block_lines = [f"{indent}{line}" if line else "" for line in lines]
    if trailing:
        block_lines = block_lines[:-1]  # the final line break closes the last line
    text = f" |{chomp}\n" + "\n".join(block_lines)
    return text if _reads_back(text, escaped) else " " + scalar(value)


def _reads_back(block: str, expected: str) -> bool:
    """Whether `k:<block>` followed by another key reads back as `expected`."""
    try:
        loaded = yaml.load(f"k:{block}\nz: 1\n", Loader=_Loader)
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k") == expected


def unescaped(value: str) -> str:
    """What the manifest loader makes of an escaped text (for the self-checks)."""
    return expand_env(value, {})


# -- CSV ------------------------------------------------------------------------------


#: characters a spreadsheet reads as the start of a formula (OWASP's CSV injection list)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a plain number (an E.164 phone, a negative count) is safe to open as it is
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+")
#: control characters other than a line break (which the writer quotes)
_CSV_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029" + "".join(sorted(HIDING)) + "]"
)


def csv_cell_ok(value: str) -> bool:
    """Whether a CSV cell gives `value` back, and can be opened safely: the loader strips
    cells, so leading whitespace would be lost (trailing whitespace is ignored when
    compared); a carriage return is not quoted by the writer; a cell starting like a
    formula (`=cmd|' /C calc'!A0`, `@SUM(...)`) would run in a spreadsheet, and a
    control character (ESC, BEL) would reach a terminal that shows the file. Rows with
    any such cell stay in the YAML, where every value is escaped."""
    if value != value.lstrip() or _CSV_CONTROL.search(value):
        return False
    return not value.startswith(_FORMULA_START) or bool(_PLAIN_NUMBER.fullmatch(value))


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([escape_env(cell) for cell in row])
    return out.getvalue()


# -- files ------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A file name stem from a campaign name: lowercase words joined by '-', at most 60
    characters and 180 UTF-8 bytes."""
    text = unicodedata.normalize("NFKC", name).casefold()
    words = re.findall(r"[^\W_]+", text)
    stem = "-".join(words)[:60]
    while len(stem.encode()) > _STEM_BYTES:  # room for "-<id>", ".yaml" and the temp name
        stem = stem[:-1]
    stem = stem.strip("-") or "campaign"
    return f"{stem}-campaign" if stem in _RESERVED else stem


def write_files(files: dict[str, str], out_dir: Path, *, overwrite: bool) -> list[Path]:
    """Write every file atomically (temp file, then rename); refuse to overwrite unless asked.

    Every existing file is checked before anything is written, so a refusal
    leaves the directory as it was; so does a failure (or Ctrl-C) while the files
    are written or moved into place (`_place` puts back what was there).
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out_dir}: cannot create the directory: {exc.strerror}") from None
    targets = [out_dir / name for name in sorted(files)]
    # a rename onto a directory fails after earlier files were replaced: refuse first
    odd = [p for p in targets if p.exists() and not p.is_file()]
    if odd:
        raise UsageError(f"{odd[0]} exists and is not a regular file; nothing was written")
    if not overwrite:
        existing = [p for p in targets if p.exists()]
        if existing:
            raise UsageError(
                f"{existing[0]} already exists (and {len(existing) - 1} more); "
                "pass --overwrite to replace"
                if len(existing) > 1
                else f"{existing[0]} already exists; pass --overwrite to replace it"
            )
    staged: list[tuple[str, Path]] = []
    placing = False  # from then on `_place` answers for every temp file
    current = out_dir  # the file being written: what an error names (not its temp file)
    try:
        for current in targets:
            fd, tmp = tempfile.mkstemp(prefix=f".{current.name}.", suffix=".tmp", dir=out_dir)
            staged.append((tmp, current))
            try:
                if _fchmod is not None:  # os.fchmod: POSIX, and Windows from Python 3.13
                    _fchmod(fd, 0o644)
                _write_all(fd, files[current.name].encode("utf-8"))
            finally:
                os.close(fd)
        placing = True
        _place(staged, overwrite=overwrite)
    except _PlaceFailed as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {current}: {exc.strerror}") from None
    finally:
        for tmp, _path in [] if placing else staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return targets


class _PlaceFailed(OSError):
    """A failure while the files were moved into place: its message names the file, and
    any file already placed that could not be put back as it was (and where a replaced
    file's old content is)."""


def _place(staged: list[tuple[str, Path]], *, overwrite: bool) -> None:
    """Rename each staged temp file onto its target, all or none: on a failure or an
    interrupt part-way, each target already placed is put back as it was (a new one
    removed, a replaced one restored from a hard link of its old file, kept until the
    end), and every temp file left is removed."""
    done: list[tuple[Path, str | None]] = []  # placed, and where its old file is kept
    try:
        for tmp, target in staged:
            kept = _keep(target) if overwrite and os.path.lexists(target) else None
            try:
                os.replace(tmp, target)
            except BaseException:
                if kept is not None:  # the target is as it was: its old file stays
                    with contextlib.suppress(OSError):
                        os.unlink(kept)
                raise
            done.append((target, kept))
    except BaseException as exc:
        lost = _put_back(done)
        for tmp, _target in staged[len(done) :]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if not isinstance(exc, OSError):
            if lost:  # the interrupt's own line cannot say it: warn before it
                log.warning("interrupted while writing the files%s", _not_put_back(lost))
            raise
        message = f"cannot write {staged[len(done)][1]}: {exc.strerror}"
        raise _PlaceFailed(message + _not_put_back(lost)) from None
    for _target, kept in done:
        if kept is not None:
            with contextlib.suppress(OSError):
                os.unlink(kept)


def _not_put_back(lost: list[tuple[Path, str | None]]) -> str:
    """What to add to a message about the files `_put_back` could not put back."""
    if not lost:
        return ""
    target, kept = lost[0]
    where = f" (its old content is in {kept})" if kept is not None else ""
    return (
        f"; {len(lost)} file(s) already written could not be put back as they were: {target}{where}"
    )


def _keep(target: Path) -> str:
    """A hard link to `target`'s file beside it (a copy where links are refused), so that
    it can be put back; its path."""
    for _ in range(100):
        kept = str(target.with_name(f".{target.name}.{os.urandom(4).hex()}.old"))
        try:
            os.link(target, kept)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            fd, kept = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            os.close(fd)
            try:
                shutil.copy2(target, kept)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(kept)
                raise
        return kept
    raise FileExistsError(f"no free name to keep {target} under")


def _put_back(done: list[tuple[Path, str | None]]) -> list[tuple[Path, str | None]]:
    """Undo `_place`'s renames, last first; the files that could not be put back as they
    were (and where a replaced one's old content is kept)."""
    lost: list[tuple[Path, str | None]] = []
    for target, kept in reversed(done):
        try:
            if kept is None:
                os.unlink(target)
            else:
                os.replace(kept, target)
        except OSError:
            lost.append((target, kept))
    return lost[::-1]


#: mkstemp's 0o600 opened to 0o644 (a manifest is not a secret); where the platform has
#: no `os.fchmod` (Windows before Python 3.13) mode bits say nothing there anyway
_fchmod = getattr(os, "fchmod", None)


def _write_all(fd: int, data: bytes) -> None:
    """All of `data` to the file `fd`: a short write (as on a full disk) goes on where it
    stopped, until the write that fails says why."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def strangers(out_dir: Path, files: dict[str, str]) -> list[str]:
    """Manifests already in `out_dir` that this export did not write (plan reads them too)."""
    if not out_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in out_dir.iterdir()
        if p.suffix in (".yaml", ".yml") and p.name not in files and not p.name.startswith(".")
    )
