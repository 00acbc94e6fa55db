"""Manifest files (and their CSVs) to one validated, normalized `DesiredState`.

Knows YAML, CSV and line numbers; knows nothing of HTTP. Every problem in
every file is collected and raised at once as a `ManifestError`, each with
its `file:line:col`, a dotted path and a sentence a person understands.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from upcall_sync.errors import Location, ManifestError, Problem
from upcall_sync.manifest.spec import (
    CSV_COLUMNS,
    AddressSpec,
    CampaignFields,
    CampaignSpec,
    DefaultsSpec,
    ManifestSpec,
    NumberSpec,
    SafetySpec,
)
from upcall_sync.manifest.yamlload import (
    LocDict,
    LocList,
    Plain,
    YamlError,
    expand_env,
    read_yaml,
)
from upcall_sync.model import (
    ADDRESS_PARTS,
    CAMPAIGN_FIELDS,
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    Safety,
)
from upcall_sync.normalize import format_datetime, gc_paused, quote

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_CSV_BYTES = 200 * 1024 * 1024
DEFAULT_CONTACT_LIST = "upcall-sync"
_NUMBERS = TypeAdapter(list[NumberSpec])
MANIFEST_KEYS = frozenset(ManifestSpec.model_fields)


@dataclass
class _File:
    path: Path
    display: str
    data: LocDict
    spec: ManifestSpec | None = None
    campaigns: dict[int, CampaignSpec] = field(default_factory=dict)
    csv_numbers: dict[int, list[DesiredNumber]] = field(default_factory=dict)


def find_manifests(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """(file, named directly) for files named directly and every *.yaml / *.yml below
    directories (sorted; hidden directories skipped)."""
    found: list[tuple[Path, bool]] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append(Problem(Location(str(raw)), "", "no such file or directory"))
        elif path.is_dir():
            below = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in MANIFEST_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not below:
                problems.append(
                    Problem(Location(str(raw)), "", "directory holds no *.yaml or *.yml manifests")
                )
            found.extend((p, False) for p in below)
        else:
            found.append((path, True))
    if not paths:
        problems.append(Problem(Location("."), "", "no manifest paths given"))
    if problems:
        raise ManifestError(problems)
    unique: list[tuple[Path, bool]] = []
    seen: set[Path] = set()
    for p, named in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((p, named))
    return unique


def load_manifests(
    paths: Sequence[str | os.PathLike[str]], *, environ: Mapping[str, str] | None = None
) -> DesiredState:
    """Read, validate and merge manifests; raise ManifestError with every problem found."""
    with gc_paused():
        return _load(paths, os.environ if environ is None else environ)


def _load(paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str]) -> DesiredState:
    files = find_manifests(paths)
    problems: list[Problem] = []
    loaded: list[_File] = []
    skipped: list[str] = []
    digest = hashlib.sha256()
    for path, named in files:
        display = _display(path)
        try:
            data, env_problems = read_yaml(str(path), display, environ=env)
        except YamlError as exc:
            problems.append(Problem(exc.location, "", exc.message))
            continue
        if not named and isinstance(data, LocDict) and not set(data) & MANIFEST_KEYS:
            # Found by a directory scan and shares no key with a manifest: some other
            # YAML (a CI workflow, a compose file). Named files are always manifests.
            skipped.append(display)
            continue
        digest.update(display.encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes() + b"\0")
        problems.extend(Problem(p.location, "", p.message) for p in env_problems)
        if not isinstance(data, LocDict):
            what = "empty" if data is None else _described(data)
            problems.append(
                Problem(
                    data.loc if isinstance(data, LocList) else Location(display, 1, 1),
                    "",
                    f"a manifest must be a mapping with version and campaigns, not {what}",
                )
            )
            continue
        loaded.append(_File(path, display, data))
    for f in loaded:
        problems.extend(_validate_file(f, env, digest))
    if not loaded and not problems:
        problems.append(
            Problem(
                Location(str(paths[0])), "", "no manifests found (no YAML file has a version key)"
            )
        )
    state, merge_problems = _merge(loaded, digest.hexdigest(), tuple(skipped))
    problems.extend(merge_problems)
    if problems:
        raise ManifestError(_without_echoes(problems))
    return state


def _without_echoes(problems: list[Problem]) -> list[Problem]:
    """An unset ${VAR} also makes its value invalid: report the cause, not the echo."""
    causes = {p.location for p in problems if p.message.startswith("environment variable")}
    return [
        p
        for p in problems
        if p.location not in causes or p.message.startswith("environment variable")
    ]


def _display(path: Path) -> str:
    """The path as messages show it: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path.resolve()) if rel.startswith("..") else rel


def _validate_file(f: _File, env: Mapping[str, str], digest: Any) -> list[Problem]:
    """Settings and each campaign validated on their own, so one bad entry hides nothing."""
    region = f.data.get("phone_region")
    context = {"phone_region": region if isinstance(region, str) else None}
    problems: list[Problem] = []
    items = f.data.get("campaigns")
    top = {k: v for k, v in f.data.items() if k != "campaigns"}
    if not isinstance(items, list) and "campaigns" in f.data:
        top["campaigns"] = items  # let the model say what is wrong with it
    try:
        f.spec = ManifestSpec.model_validate(top, context=context)
    except ValidationError as exc:
        problems.extend(_problems(exc, f.data))
    if not isinstance(items, LocList):
        return problems
    for index, item in enumerate(items):
        try:
            camp = CampaignSpec.model_validate(item, context=context)
        except ValidationError as exc:
            problems.extend(_problems(exc, f.data, ("campaigns", index)))
            continue
        f.campaigns[index] = camp
        if camp.numbers_csv is None:
            continue
        csv_path = (f.path.parent / camp.numbers_csv).resolve()
        numbers, csv_problems = read_numbers_csv(
            csv_path,
            _display(csv_path),
            context,
            env,
            item.where("numbers_csv"),
            f"campaigns[{index}].numbers_csv",
        )
        problems.extend(csv_problems)
        f.csv_numbers[index] = numbers
        digest.update(_display(csv_path).encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(csv_path.read_bytes() + b"\0")
    return problems


# -- CSV ------------------------------------------------------------------------


def read_numbers_csv(
    path: Path,
    display: str,
    context: dict[str, Any],
    env: Mapping[str, str],
    referenced_at: Location,
    ref_path: str,
) -> tuple[list[DesiredNumber], list[Problem]]:
    """Numbers from a CSV with a header row; problems carry the CSV's own line numbers."""
    try:
        size = path.stat().st_size
    except OSError:
        return [], [Problem(referenced_at, ref_path, f"file {quote(display)} does not exist")]
    if size > MAX_CSV_BYTES:
        return [], [
            Problem(
                Location(display),
                "",
                f"CSV is {size / 1024 / 1024:.0f} MB, over the {MAX_CSV_BYTES // 1024 // 1024} MB "
                "limit",
            )
        ]
    raw = path.read_bytes()
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
                    f"unknown column {quote(name)}{_suggest(name, CSV_COLUMNS)}",
                )
            )
        elif columns.index(name) != col_index:
            problems.append(
                Problem(Location(display, 1, col_index + 1), "", f"column {quote(name)} repeats")
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
                        problems.append(Problem(Location(display, start), "", str(exc)))
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
                    _message(err, None),
                )
            )
        return [], problems
    numbers = [
        DesiredNumber(_contact(spec), Location(display, lines[i])) for i, spec in enumerate(specs)
    ]
    return numbers, problems


# -- Errors ---------------------------------------------------------------------

_MODELS: dict[str, type[BaseModel]] = {
    "": ManifestSpec,
    "campaigns[]": CampaignSpec,
    "campaigns[].numbers[]": NumberSpec,
    "campaigns[].numbers[].address": AddressSpec,
    "defaults": DefaultsSpec,
    "safety": SafetySpec,
}


def _problems(
    exc: ValidationError, data: LocDict, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        node: Any = data
        where = data.loc
        plain: Plain | None = None
        shape = []
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, LocDict) and isinstance(part, str):
                if part in node:
                    where = (
                        node.where_key(part)
                        if err["type"] == "extra_forbidden"
                        else node.where(part)
                    )
                    plain = node.plain.get(part) if last else None
                    node = node[part]
                    shape.append(part)
                else:
                    where = node.loc
                    shape.append(part)
                    break
            elif isinstance(node, LocList) and isinstance(part, int):
                where = node.where(part)
                plain = node.plain.get(part) if last else None
                node = node[part] if part < len(node) else None
                shape.append("[]")
            else:
                break
        path = _path(loc)
        if err["type"] == "extra_forbidden":
            parent = ".".join(shape[:-1]).replace(".[]", "[]")
            model = _MODELS.get(parent)
            key = str(loc[-1])
            allowed = tuple(model.model_fields) if model else ()
            out.append(
                Problem(
                    where,
                    path,
                    f"unknown key {quote(key)}{_suggest(key, allowed)}",
                )
            )
            continue
        out.append(Problem(where, path, _message(err, plain)))
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _path(loc: Iterable[Any]) -> str:
    """campaigns[2].numbers[7].phone; odd keys as ["quoted"] so a path is one line."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            text += ("." if text else "") + str(part)
        else:
            text += f"[{quote(str(part))}]"
    return text


def _suggest(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    if allowed:
        return f"; expected one of {', '.join(allowed)}"
    return ""


def _message(err: Any, plain: Plain | None) -> str:
    kind = err["type"]
    value = err.get("input")
    field_name = str(err["loc"][-1]) if err["loc"] else ""
    if kind == "missing":
        if field_name == "version":
            return "is required: add `version: 1` at the top of the file"
        return "is required"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind in ("string_type", "model_type", "dict_type", "list_type", "float_type", "int_type"):
        want = {
            "string_type": "text",
            "model_type": "a mapping",
            "dict_type": "a mapping",
            "list_type": "a list",
            "float_type": "a number",
            "int_type": "a whole number",
        }[kind]
        if plain is not None and kind == "string_type" and plain.kind != "null":
            return (
                f"expected text, but YAML reads {plain.text} as a {plain.kind}; "
                f"quote it: {quote(plain.text)}"
            )
        if value is None:
            if field_name in ("status", "from_number"):
                return f"cannot be null; leave {field_name} out to leave it unmanaged"
            return f"expected {want}, got nothing (null)"
        return f"expected {want}, got {_described(value)}"
    if kind == "literal_error":
        if field_name == "version":
            if isinstance(value, str):
                return f"expected the number 1, got text {_short(value)}: write `version: 1`"
            return f"version {_short(value)} is not supported; this upcall-sync reads version 1"
        if field_name == "status" and value is None:
            return "cannot be null; leave status out to leave it unmanaged"
        if field_name == "status":
            return (
                f"{_short(value)} is not a valid status; use one of pending, ready, paused, "
                "completed, archived"
            )
        if field_name == "phone_region":
            return f"{_short(value)} is not a region code phonenumbers knows (e.g. US, GB, DE)"
    if kind == "string_pattern_mismatch":
        if field_name == "email":
            return f"{_short(value)} is not a valid email address"
        if field_name == "id":
            return f'{_short(value)} is not a campaign id (digits, e.g. "876")'
        return "must not be empty"
    if kind == "string_too_short":
        return "must not be empty"
    limit = err.get("ctx") or {}
    if kind == "less_than_equal":
        return f"must be at most {limit.get('le')}, got {_short(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {limit.get('ge')}, got {_short(value)}"
    return str(err["msg"])


def _described(value: Any) -> str:
    """`a list`, `text "abc"`, `the number 5`, `a boolean (true)`."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"text {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(value: Any) -> str:
    if isinstance(value, list | dict):
        return ""
    text = quote(value)
    return text if len(text) <= 60 else text[:57] + '..."'


# -- Merging ----------------------------------------------------------------------


def _contact(spec: NumberSpec) -> Contact:
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


def _managed(
    camp: CampaignSpec,
    holder: LocDict,
    defaults: DefaultsSpec | None,
    defaults_at: LocDict | None,
) -> tuple[dict[str, Any], dict[str, Location]]:
    values: dict[str, Any] = {}
    sources: dict[str, Location] = {}
    for name in CAMPAIGN_FIELDS:
        spec: CampaignFields | None = None
        at: LocDict | None = None
        if name in camp.model_fields_set:
            spec, at = camp, holder
        elif defaults is not None and name in defaults.model_fields_set:
            spec, at = defaults, defaults_at
        if spec is None or at is None:
            continue
        value = getattr(spec, name)
        if name in ("instructions", "pitch", "language"):
            value = value or ""
        values[name] = value
        sources[name] = at.where(name)
    return values, sources


def _merge(
    files: list[_File], digest: str, skipped: tuple[str, ...] = ()
) -> tuple[DesiredState, list[Problem]]:
    problems: list[Problem] = []
    campaigns: list[DesiredCampaign] = []
    names: dict[str, Location] = {}
    ids: dict[str, Location] = {}
    settings: dict[str, tuple[Any, Location]] = {}
    persons: dict[tuple[str, str, str, str], tuple[Contact, Location]] = {}
    for f in files:
        spec = f.spec
        for key in ("contact_list", "prune_scope", "safety"):
            value = getattr(spec, key, None)
            if value is None:
                continue
            where = f.data.where(key)
            if key in settings and settings[key][0] != value:
                first, first_at = settings[key]
                shown = quote(value) if key != "safety" else "these settings"
                other = quote(first) if key != "safety" else "those"
                problems.append(
                    Problem(
                        where,
                        key,
                        f"{shown} disagrees with {other} set at {first_at}; files that set "
                        f"{key} must agree",
                    )
                )
            settings.setdefault(key, (value, where))
        raw_defaults = f.data.get("defaults")
        defaults_at = raw_defaults if isinstance(raw_defaults, LocDict) else None
        defaults = spec.defaults if spec is not None else None
        for index, camp in sorted(f.campaigns.items()):
            holder: LocDict = f.data["campaigns"][index]
            path = f"campaigns[{index}]"
            if camp.name in names:
                problems.append(
                    Problem(
                        holder.where("name"),
                        f"{path}.name",
                        f"campaign name {quote(camp.name)} is already used at {names[camp.name]}; "
                        "names must be unique across all manifests",
                    )
                )
            names.setdefault(camp.name, holder.where("name"))
            if camp.id is not None:
                if camp.id in ids:
                    problems.append(
                        Problem(
                            holder.where("id"),
                            f"{path}.id",
                            f"campaign id {camp.id} is already bound at {ids[camp.id]}",
                        )
                    )
                ids.setdefault(camp.id, holder.where("id"))
            values, sources = _managed(camp, holder, defaults, defaults_at)
            start, end = values.get("start_datetime"), values.get("end_datetime")
            if start is not None and end is not None and end <= start:
                problems.append(
                    Problem(
                        sources["end_datetime"],
                        f"{path}.end_datetime",
                        f"{format_datetime(end)} is not after start_datetime "
                        f"{format_datetime(start)}",
                    )
                )
            numbers = _campaign_numbers(camp, holder, f, index)
            seen: dict[tuple[str, str, str, str], Location] = {}
            for number in numbers:
                person = number.contact.person_key
                if person in seen:
                    problems.append(
                        Problem(
                            number.source,
                            f"{path}.numbers",
                            f"{number.contact.label} is already in this campaign at {seen[person]} "
                            "(same phone, extension and name)",
                        )
                    )
                    continue
                seen[person] = number.source
                if person in persons and persons[person][0] != number.contact:
                    earlier, other_at = persons[person]
                    diffs = ", ".join(
                        f"{k} {quote(b)} vs {quote(a)}"
                        for k, (a, b) in earlier.diff(number.contact).items()
                    )
                    problems.append(
                        Problem(
                            number.source,
                            f"{path}.numbers",
                            f"{number.contact.label} has other details than at {other_at} "
                            f"({diffs}); the contact list holds one record per person",
                        )
                    )
                persons.setdefault(person, (number.contact, number.source))
            campaigns.append(
                DesiredCampaign(
                    name=camp.name,
                    source=holder.loc,
                    id=camp.id,
                    fields=values,
                    field_sources=sources,
                    numbers=tuple(numbers),
                )
            )
    safety_spec: SafetySpec | None = settings.get("safety", (None, None))[0]
    safety = (
        Safety(
            max_update_percent=safety_spec.max_update_percent,
            max_archive_percent=safety_spec.max_archive_percent,
            min_existing=safety_spec.min_existing,
        )
        if safety_spec
        else Safety()
    )
    contact_list, list_at = settings.get("contact_list", (DEFAULT_CONTACT_LIST, None))
    state = DesiredState(
        campaigns=tuple(campaigns),
        contact_list=contact_list,
        contact_list_source=list_at,
        prune_scope=settings.get("prune_scope", (None, None))[0],
        safety=safety,
        files=tuple(f.display for f in files),
        skipped=skipped,
        digest=digest,
    )
    return state, problems


def _campaign_numbers(
    camp: CampaignSpec, holder: LocDict, f: _File, index: int
) -> list[DesiredNumber]:
    numbers: list[DesiredNumber] = []
    items = holder.get("numbers")
    for i, spec in enumerate(camp.numbers):
        where = items.where(i) if isinstance(items, LocList) else holder.loc
        numbers.append(DesiredNumber(_contact(spec), where))
    numbers.extend(f.csv_numbers.get(index, []))
    return numbers
