"""Numbers from a CSV file next to a manifest (`numbers_csv`), with the CSV's own line numbers."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from upcall_sync.errors import Location, Problem
from upcall_sync.manifest.messages import message, suggest
from upcall_sync.manifest.spec import CSV_COLUMNS, NumberSpec
from upcall_sync.manifest.yamlload import expand_env
from upcall_sync.model import ADDRESS_PARTS, Contact, DesiredNumber
from upcall_sync.normalize import quote

MAX_CSV_BYTES = 200 * 1024 * 1024
_NUMBERS = TypeAdapter(list[NumberSpec])


def read_numbers_csv(
    path: Path,
    display: str,
    context: dict[str, Any],
    env: Mapping[str, str],
    referenced_at: Location,
    ref_path: str,
) -> tuple[list[DesiredNumber], list[Problem], bytes]:
    """Numbers from a CSV with a header row, problems (with the CSV's own line numbers)
    and the bytes read (for the manifests' digest)."""
    try:
        raw = read_regular_file(path, MAX_CSV_BYTES)
    except CsvFileError as exc:
        return [], [Problem(referenced_at, ref_path, f"{quote(display)} {exc}")], b""
    numbers, problems = _parse_csv(raw, display, context, env)
    return numbers, problems, raw


def _parse_csv(
    raw: bytes, display: str, context: dict[str, Any], env: Mapping[str, str]
) -> tuple[list[DesiredNumber], list[Problem]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [], [
            Problem(
                Location(display, line),
                "",
                "CSV is not UTF-8 text (save it as UTF-8; spreadsheet apps call it 'CSV UTF-8')",
            )
        ]
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(Location(display, 1, 1), "", "CSV is empty: it needs a header row")]
    except csv.Error as exc:
        return [], [Problem(Location(display, 1, 1), "", f"CSV error: {exc}")]
    columns = [h.strip() for h in header]
    for col_index, name in enumerate(columns):
        if name not in CSV_COLUMNS:
            problems.append(
                Problem(
                    Location(display, 1, col_index + 1),
                    "",
                    f"unknown column {excerpt(name)}{suggest(name, CSV_COLUMNS)}",
                )
            )
        elif columns.index(name) != col_index:
            problems.append(
                Problem(Location(display, 1, col_index + 1), "", f"column {excerpt(name)} repeats")
            )
    if "phone" not in columns:
        problems.append(Problem(Location(display, 1, 1), "", "CSV has no phone column"))
    if problems:
        return [], problems
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            start = line
            line = reader.line_num + 1
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                problems.append(
                    Problem(
                        Location(display, start),
                        "",
                        f"row has {len(cells)} cells but the header has {len(columns)}",
                    )
                )
                continue
            row: dict[str, Any] = {}
            address: dict[str, Any] = {}
            for name, cell in zip(columns, cells, strict=True):
                value: str | None = cell.strip() or None
                if value is not None and "$" in value:
                    try:
                        value = expand_env(value, env)
                    except KeyError as exc:
                        problems.append(
                            Problem(
                                Location(display, start, columns.index(name) + 1),
                                "",
                                f"environment variable {exc.args[0]} is not set",
                            )
                        )
                    except ValueError as exc:
                        problems.append(
                            Problem(Location(display, start, columns.index(name) + 1), "", str(exc))
                        )
                if name in ADDRESS_PARTS:
                    if value is not None:
                        address[name] = value
                elif value is not None:
                    row[name] = value
            if address:
                row["address"] = address
            if "phone" not in row:
                problems.append(
                    Problem(
                        Location(display, start, columns.index("phone") + 1),
                        "phone",
                        "is required",
                    )
                )
                continue
            rows.append(row)
            lines.append(start)
    except csv.Error as exc:
        problems.append(Problem(Location(display, reader.line_num), "", f"CSV error: {exc}"))
        return [], problems
    try:
        specs = _NUMBERS.validate_python(rows, context=context)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            index = int(loc[0]) if loc and isinstance(loc[0], int) else 0
            col_name = str(loc[-1]) if len(loc) > 1 else "phone"
            column = columns.index(col_name) + 1 if col_name in columns else 0
            problems.append(
                Problem(
                    Location(display, lines[index] if index < len(lines) else 0, column),
                    col_name,
                    message(err, None),
                )
            )
        return [], problems
    numbers = [
        DesiredNumber(contact_of_spec(spec), Location(display, lines[i]))
        for i, spec in enumerate(specs)
    ]
    return numbers, problems


class CsvFileError(Exception):
    """A numbers_csv path that may not or cannot be read (the message shows no content)."""


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


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, or CsvFileError; never blocks on a FIFO or a device."""
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
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > max_bytes:
            raise CsvFileError(
                f"is {info.st_size / 1024 / 1024:.0f} MB, over the "
                f"{max_bytes // 1024 // 1024} MB limit for a numbers_csv"
            )
        try:
            return fh.read(max_bytes + 1)
        except OSError as exc:
            raise CsvFileError(f"cannot be read: {exc.strerror}") from None


def excerpt(cell: str, limit: int = 30) -> str:
    """A header cell as messages quote it: at most `limit` characters, one line."""
    short = cell if len(cell) <= limit else cell[:limit] + "..."
    return quote("".join(ch if ch.isprintable() else "?" for ch in short))


def contact_of_spec(spec: NumberSpec) -> Contact:
    """A manifest number as the normalized Contact plans compare."""
    addr = spec.address
    return Contact(
        phone=spec.phone,
        extension=spec.extension or "",
        first_name=spec.first_name or "",
        last_name=spec.last_name or "",
        title=spec.title or "",
        company=spec.company or "",
        email=spec.email or "",
        recipient=(addr.recipient or "") if addr else "",
        line1=(addr.line1 or "") if addr else "",
        line2=(addr.line2 or "") if addr else "",
        city=(addr.city or "") if addr else "",
        region=(addr.region or "") if addr else "",
        postal_code=(addr.postal_code or "") if addr else "",
        country=(addr.country or "") if addr else "",
    )
