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

import csv
import functools
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from upcall_sync.errors import UsageError
from upcall_sync.manifest.yamlload import expand_env

try:  # the loader's own parser, so the block-scalar check reads as `validate` will
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(10)}
_STEM_BYTES = 180  # file names are limited to 255 bytes
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_PLAIN = re.compile(r"\w(?:[\w .@()/+'&-]*[\w.)'])?")
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


def _raw_ok(ch: str) -> bool:
    """Characters YAML 1.1 allows raw on one line of a scalar (no line breaks)."""
    code = ord(ch)
    if 0x20 <= code <= 0x7E:
        return True
    if code < 0xA0:
        return False
    if 0xD800 <= code <= 0xDFFF:
        raise Unwritable("text holds a lone surrogate (not valid Unicode)")
    return code not in (0xFEFF, 0xFFFE, 0xFFFF, 0x2028, 0x2029)


#: a character `_raw_ok` refuses (or raises on: a surrogate)
_NOT_RAW = re.compile(
    "[^ -~\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


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
_NOT_PRINTABLE = re.compile(
    "[^ !#-\\[\\]-~\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


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
    if value[:1].isalpha() and _PLAIN.fullmatch(value) and _resolves_to_text(value):
        return value
    return double_quoted(value)


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
_CSV_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


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
    leaves the directory as it was.
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
    try:
        for path in targets:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=out_dir)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(files[path.name])
            os.chmod(tmp, 0o644)
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or out_dir}: {exc.strerror}") from None
    finally:
        for tmp, _path in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return targets


def strangers(out_dir: Path, files: dict[str, str]) -> list[str]:
    """Manifests already in `out_dir` that this export did not write (plan reads them too)."""
    if not out_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in out_dir.iterdir()
        if p.suffix in (".yaml", ".yml") and p.name not in files and not p.name.startswith(".")
    )
