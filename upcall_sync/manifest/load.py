"""Manifest files (and their CSVs) to one validated, normalized `DesiredState`.

Knows YAML, CSV and line numbers; knows nothing of HTTP. Every problem in
every file is collected and raised at once as a `ManifestError`, each with
its `file:line:col`, a dotted path and a sentence a person understands.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from upcall_sync.core.model import (
    CAMPAIGN_FIELDS,
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    DoNotCall,
    Safety,
)
from upcall_sync.core.normalize import format_datetime, look_alike, name_key, quote, visible
from upcall_sync.errors import Location, ManifestError, Problem
from upcall_sync.manifest.contacts_file import (
    ContactsRef,
    contact_of_spec,
    display_path,
    read_contacts_file,
)
from upcall_sync.manifest.messages import problems_of
from upcall_sync.manifest.spec import (
    CampaignFields,
    CampaignSpec,
    DefaultsSpec,
    ManifestSpec,
    SafetySpec,
)
from upcall_sync.manifest.stoplist import listed_phones, listed_rows
from upcall_sync.manifest.yamlload import LocDict, LocList, YamlError, read_yaml

MANIFEST_SUFFIXES = (".yaml", ".yml")
DEFAULT_CONTACT_LIST = "upcall-sync"
MANIFEST_KEYS = frozenset(ManifestSpec.model_fields)


def _manifest_like(keys: Iterable[Any]) -> bool:
    """Whether a YAML mapping's keys are a manifest's: one of them is a manifest key
    written any way (`Campaigns:`, `prune-scope:`) or a slip of `campaigns:`
    (`campains:`), or every one is a slip of one. Such a file is read as a manifest, so
    its slip is an error with a suggestion, not a file skipped (and its campaigns left
    out of the plan, or archived by --prune) with a note, even beside a key of no
    manifest (`owner:`). Other YAML may share a slip-like key (GitLab CI's `default:`)
    among keys of its own (`stages:`, its jobs): it is still skipped."""
    names = [key for key in keys if isinstance(key, str)]
    if any(_folded(name) in MANIFEST_KEYS for name in names):
        return True
    # a slip of `campaigns:` (`campains:`, `Campaign:`), not a key that merely starts
    # like it (`campaign_id:`, `campaign_ids:`: other YAML's own keys)
    if any(difflib.get_close_matches(_folded(n), ["campaigns"], cutoff=0.88) for n in names):
        return True
    return bool(names) and all(map(_slip_of_a_manifest_key, names))


def _folded(key: str) -> str:
    return key.strip().lower().replace("-", "_").replace(" ", "_")


def _slip_of_a_manifest_key(key: str) -> bool:
    return _folded(key) in MANIFEST_KEYS or bool(
        difflib.get_close_matches(key, MANIFEST_KEYS, cutoff=0.8)
    )


@dataclass
class _File:
    path: Path
    display: str
    data: LocDict
    spec: ManifestSpec | None = None
    campaigns: dict[int, CampaignSpec] = field(default_factory=dict)
    csv_numbers: dict[int, list[DesiredNumber]] = field(default_factory=dict)
    do_not_call: list[DoNotCall] = field(default_factory=list)
    #: warnings about its contacts files (columns ignored, phones stored as numbers)
    warnings: list[Problem] = field(default_factory=list)


def find_manifests(
    paths: Sequence[str | os.PathLike[str]], root: str | os.PathLike[str] | None = None
) -> list[tuple[Path, bool]]:
    """(file, named directly) for files named directly and every *.yaml / *.yml below
    directories (sorted; hidden directories skipped).

    A directory or file named inside `root` (the checkout; default the working
    directory) that a symlink leads out of it is refused: a committed `campaigns ->
    /elsewhere` or `main.yaml -> /proc/self/environ` must not make plan read (and
    quote) files outside the checkout. A path named outside the checkout is the
    user's own choice and is read."""
    found: list[tuple[Path, bool]] = []
    problems: list[Problem] = []
    checkout = Path(os.getcwd() if root is None else root).resolve()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append(Problem(Location(str(raw)), "", "no such file or directory"))
        elif path.is_dir() and _leaves(path, checkout):
            problems.append(
                Problem(
                    Location(str(raw)),
                    "",
                    "is a directory reached through a symlink out of the checkout "
                    f"({checkout}); manifests must lie inside the checkout upcall-sync runs in",
                )
            )
        elif path.is_dir():
            _directory(path, str(raw), found, problems)
        elif _leaves(path, checkout):  # a committed `main.yaml -> /proc/self/environ`
            problems.append(
                Problem(
                    Location(str(raw)),
                    "",
                    "is a file reached through a symlink out of the checkout "
                    f"({checkout}); manifests must lie inside the checkout upcall-sync runs "
                    "in (name the file it leads to, to read that on purpose)",
                )
            )
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


def _directory(
    path: Path, raw: str, found: list[tuple[Path, bool]], problems: list[Problem]
) -> None:
    """Every manifest below a directory, each inside it after symlinks."""
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
    inside = path.resolve()
    for p in below:
        if p.resolve().is_relative_to(inside):
            found.append((p, False))
        else:  # a planted symlink must not make plan read (and quote) other files
            problems.append(
                Problem(
                    Location(str(p)),
                    "",
                    f"is a symlink out of {raw}; a manifest found in a directory must "
                    "lie inside it (name the file it leads to, to read that on purpose)",
                )
            )


def _leaves(path: Path, checkout: Path) -> bool:
    """Named inside the checkout, but a symlink on the way leads out of it."""
    named = Path(os.path.abspath(path))
    return named.is_relative_to(checkout) and not path.resolve().is_relative_to(checkout)


def load_manifests(
    paths: Sequence[str | os.PathLike[str]],
    *,
    environ: Mapping[str, str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> DesiredState:
    """Read, validate and merge manifests; raise ManifestError with every problem found.

    A `numbers_csv` must lie inside `root` (default: the working directory).
    """
    return _load(
        paths,
        os.environ if environ is None else environ,
        Path(os.getcwd() if root is None else root),
    )


def _load(
    paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str], root: Path
) -> DesiredState:
    files = find_manifests(paths, root)
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
        if not named and isinstance(data, LocDict) and not _manifest_like(data):
            # Found by a directory scan and shares no key with a manifest: some other
            # YAML (a CI workflow, a compose file). Named files are always manifests.
            skipped.append(display)
            continue
        digest.update(display.encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes() + b"\0")
        problems.extend(Problem(p.location, "", p.message) for p in env_problems)
        if not isinstance(data, LocDict):
            # named by its type only: a file that is not a manifest (a plan file's list,
            # a path mistyped) may be a secret, and nothing of it is quoted
            what = "empty" if data is None else _kind(data)
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
        problems.extend(_validate_file(f, env, digest, root))
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


def _kind(data: object) -> str:
    """A YAML document's type, none of its content: `text`, `a list`, `a single value`."""
    if isinstance(data, str):
        return "text (not quoted: the file is not a manifest)"
    return "a list" if isinstance(data, list) else "a single value"


def _without_echoes(problems: list[Problem]) -> list[Problem]:
    """An unset ${VAR} also makes its value invalid: report the cause, not the echo."""
    causes = {p.location for p in problems if p.message.startswith(_ENV_CAUSES)}
    return [p for p in problems if p.location not in causes or p.message.startswith(_ENV_CAUSES)]


_ENV_CAUSES = ("environment variable", "${")


_display = display_path


def _validate_file(f: _File, env: Mapping[str, str], digest: Any, root: Path) -> list[Problem]:
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
        problems.extend(problems_of(exc, f.data))
    if f.spec is not None:
        f.do_not_call = listed_phones(f.spec, f.data, context["phone_region"])
    written = f.data.get("do_not_call_csv")  # read even when other settings are wrong
    how = _stoplist_file_keys(f)
    if isinstance(written, str) and written and how is not None:
        ref = ContactsRef(
            manifest=f.path,
            written=written,
            at=f.data.where("do_not_call_csv"),
            ref="do_not_call_csv",
            key="do_not_call_csv",
            columns=how[0],
            columns_at=how[1],
            sheet=how[2],
            sheet_key="do_not_call_sheet",
        )
        read = read_contacts_file(ref, root, context, env)
        problems.extend(read.problems)
        f.warnings.extend(read.warnings)
        digest.update(read.display.encode() + b"\0" + read.digest + b"\0")
        f.do_not_call.extend(listed_rows(read.numbers))
        if not read.numbers and not read.problems:  # a header alone: an export cut short?
            f.warnings.append(
                Problem(
                    ref.at,
                    "do_not_call_csv",
                    f"{read.display} lists no phone: an empty do-not-call list stops no call",
                )
            )
    if not isinstance(items, LocList):
        return problems
    for index, item in enumerate(items):
        try:
            camp = CampaignSpec.model_validate(item, context=context)
        except ValidationError as exc:
            problems.extend(problems_of(exc, f.data, ("campaigns", index)))
            continue
        f.campaigns[index] = camp
        if camp.numbers_csv is not None:
            problems.extend(_read_contacts(f, index, camp, item, (root, context, env), digest))
    return problems


def _stoplist_file_keys(
    f: _File,
) -> tuple[dict[str, str], dict[str, Location], str | None] | None:
    """do_not_call_csv_columns and do_not_call_sheet; None when the spec refused them
    (the file would be read the wrong way: the spec's problem says what is wrong)."""
    if f.spec is None:
        keys = ("do_not_call_csv_columns", "do_not_call_sheet")
        return None if any(k in f.data for k in keys) else ({}, {}, None)
    columns = f.spec.do_not_call_csv_columns
    mapping = {k: v for k, v in columns.__dict__.items() if v is not None} if columns else {}
    written = f.data.get("do_not_call_csv_columns")
    at = {k: written.where(k) for k in mapping} if isinstance(written, LocDict) else {}
    return mapping, at, f.spec.do_not_call_sheet


def _read_contacts(
    f: _File,
    index: int,
    camp: CampaignSpec,
    item: LocDict,
    how: tuple[Path, dict[str, Any], Mapping[str, str]],
    digest: Any,
) -> list[Problem]:
    """A campaign's numbers_csv (with numbers_csv_columns and numbers_sheet)."""
    assert camp.numbers_csv is not None
    columns = camp.numbers_csv_columns
    mapping = {k: v for k, v in columns.__dict__.items() if v is not None} if columns else {}
    written = item.get("numbers_csv_columns")
    at = {k: written.where(k) for k in mapping} if isinstance(written, LocDict) else {}
    ref = ContactsRef(
        manifest=f.path,
        written=camp.numbers_csv,
        at=item.where("numbers_csv"),
        ref=f"campaigns[{index}].numbers_csv",
        columns=mapping,
        columns_at=at,
        sheet=camp.numbers_sheet,
    )
    root, context, env = how
    read = read_contacts_file(ref, root, context, env)
    f.csv_numbers[index] = read.numbers
    f.warnings.extend(read.warnings)
    digest.update(read.display.encode() + b"\0" + read.digest + b"\0")
    return read.problems


# -- Merging ----------------------------------------------------------------------


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
    merger = _Merger()
    for f in files:
        merger.add_settings(f)
        merger.warnings.extend(f.warnings)
        raw_defaults = f.data.get("defaults")
        defaults_at = raw_defaults if isinstance(raw_defaults, LocDict) else None
        defaults = f.spec.defaults if f.spec is not None else None
        for index, camp in sorted(f.campaigns.items()):
            merger.add_campaign(f, index, camp, defaults, defaults_at)
    return merger.state(files, digest, skipped), merger.problems


_Person = tuple[str, str, str, str]


@dataclass
class _Merger:
    """Campaigns of every file into one state, checking what spans files."""

    problems: list[Problem] = field(default_factory=list)
    campaigns: list[DesiredCampaign] = field(default_factory=list)
    names: dict[str, tuple[str, Location]] = field(default_factory=dict)
    #: whether every entry of a name so far pins an id
    pinned: dict[str, bool] = field(default_factory=dict)
    ids: dict[str, Location] = field(default_factory=dict)
    settings: dict[str, tuple[Any, Location]] = field(default_factory=dict)
    persons: dict[_Person, tuple[Contact, Location]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def add_settings(self, f: _File) -> None:
        """contact_list, prune_scope, safety, manage_other_lists and patch: files that set
        them must agree."""
        for key in ("contact_list", "prune_scope", "safety", "manage_other_lists", "patch"):
            value = getattr(f.spec, key, None)
            if value is None:
                continue
            where = f.data.where(key)
            if key in self.settings and self.settings[key][0] != value:
                first, first_at = self.settings[key]
                shown = quote(value) if key != "safety" else "these settings"
                other = quote(first) if key != "safety" else "those"
                self.problems.append(
                    Problem(
                        where,
                        key,
                        f"{shown} disagrees with {other} set at {first_at}; files that set "
                        f"{key} must agree",
                    )
                )
            self.settings.setdefault(key, (value, where))

    def add_campaign(
        self,
        f: _File,
        index: int,
        camp: CampaignSpec,
        defaults: DefaultsSpec | None,
        defaults_at: LocDict | None,
    ) -> None:
        holder: LocDict = f.data["campaigns"][index]
        path = f"campaigns[{index}]"
        self._check_unique(camp, holder, path)
        values, sources = _managed(camp, holder, defaults, defaults_at)
        self._check_dates(values, sources, path)
        numbers = _campaign_numbers(camp, holder, f, index)
        self._check_numbers(numbers, path)
        if values.get("status") == "ready" and not numbers:
            self.warnings.append(
                Problem(
                    holder.where("status") if "status" in holder else holder.loc,
                    f"{path}.status",
                    "is ready, but the manifests give this campaign no numbers (none listed, "
                    "no numbers_csv rows): it cannot dial",
                )
            )
        self.campaigns.append(
            DesiredCampaign(
                name=camp.name,
                source=holder.loc,
                id=camp.id,
                fields=values,
                field_sources=sources,
                numbers=tuple(numbers),
            )
        )

    def _check_unique(self, camp: CampaignSpec, holder: LocDict, path: str) -> None:
        # A name may repeat only where every entry of that name pins its live campaign
        # (live names are not unique: the reference lists two "My Campaign"s). Names are
        # compared as the planner matches them (`name_key`: NFC, whitespace runs as one).
        key = name_key(camp.name)
        repeat_ok = camp.id is not None and self.pinned.get(key, False)
        self.pinned[key] = self.pinned.get(key, True) and camp.id is not None
        if key in self.names and not repeat_ok:
            first, at = self.names[key]
            same = (
                ""
                if first == camp.name
                else f" (as {quote(first)}: names are matched to live campaigns in Unicode "
                "NFC, whitespace runs as one, as a server may store them)"
            )
            self.problems.append(
                Problem(
                    holder.where("name"),
                    f"{path}.name",
                    f"campaign name {quote(camp.name)} is already used at "
                    f"{at}{same}; names must be unique across all manifests",
                )
            )
        self.names.setdefault(key, (camp.name, holder.where("name")))
        if camp.id is None:
            return
        if camp.id in self.ids:
            self.problems.append(
                Problem(
                    holder.where("id"),
                    f"{path}.id",
                    f"campaign id {camp.id} is already bound at {self.ids[camp.id]}",
                )
            )
        self.ids.setdefault(camp.id, holder.where("id"))

    def _check_dates(self, values: dict[str, Any], sources: dict[str, Location], path: str) -> None:
        start, end = values.get("start_datetime"), values.get("end_datetime")
        if start is not None and end is not None and end <= start:
            self.problems.append(
                Problem(
                    sources["end_datetime"],
                    f"{path}.end_datetime",
                    f"{format_datetime(end)} is not after start_datetime {format_datetime(start)}",
                )
            )

    def _check_numbers(self, numbers: list[DesiredNumber], path: str) -> None:
        """Nobody twice in a campaign; one set of details per person across campaigns."""
        seen: dict[_Person, Location] = {}
        alike: dict[_Person, Location] = {}  # a line and names as people read them
        for number in numbers:
            person = number.contact.person_key
            looks = (*person[:2], look_alike(person[2]), look_alike(person[3]))
            if person not in seen and looks in alike:
                self.warnings.append(
                    Problem(
                        number.source,
                        f"{path}.numbers",
                        f"{visible(number.contact.label)} looks like the person at "
                        f"{alike[looks]} (same line; the names differ only in case, spacing or "
                        "invisible characters): both would be added and the line called twice; "
                        "keep one",
                    )
                )
            alike.setdefault(looks, number.source)
            if person in seen:
                self.problems.append(
                    Problem(
                        number.source,
                        f"{path}.numbers",
                        f"{number.contact.label} is already in this campaign at {seen[person]} "
                        "(same phone, extension and name)",
                    )
                )
                continue
            seen[person] = number.source
            earlier = self.persons.setdefault(person, (number.contact, number.source))
            if earlier[0] != number.contact:
                diffs = ", ".join(
                    f"{k} {quote(b)} vs {quote(a)}"
                    for k, (a, b) in earlier[0].diff(number.contact).items()
                )
                self.problems.append(
                    Problem(
                        number.source,
                        f"{path}.numbers",
                        f"{number.contact.label} has other details than at {earlier[1]} "
                        f"({diffs}); the contact list holds one record per person",
                    )
                )

    def state(self, files: list[_File], digest: str, skipped: tuple[str, ...]) -> DesiredState:
        safety_spec: SafetySpec | None = self.settings.get("safety", (None, None))[0]
        safety = (
            Safety(
                max_update_percent=safety_spec.max_update_percent,
                max_archive_percent=safety_spec.max_archive_percent,
                min_existing=safety_spec.min_existing,
            )
            if safety_spec
            else Safety()
        )
        contact_list, list_at = self.settings.get("contact_list", (DEFAULT_CONTACT_LIST, None))
        return DesiredState(
            campaigns=tuple(self.campaigns),
            contact_list=contact_list,
            contact_list_source=list_at,
            prune_scope=self.settings.get("prune_scope", (None, None))[0],
            patch=self.settings.get("patch", (None, None))[0],
            safety=safety,
            files=tuple(f.display for f in files),
            skipped=skipped,
            digest=digest,
            warnings=tuple(sorted(self.warnings)),
            do_not_call=tuple(entry for f in files for entry in f.do_not_call),
            manage_other_lists=bool(self.settings.get("manage_other_lists", (False, None))[0]),
        )


def _campaign_numbers(
    camp: CampaignSpec, holder: LocDict, f: _File, index: int
) -> list[DesiredNumber]:
    numbers: list[DesiredNumber] = []
    items = holder.get("numbers")
    for i, spec in enumerate(camp.numbers):
        where = items.where(i) if isinstance(items, LocList) else holder.loc
        numbers.append(DesiredNumber(contact_of_spec(spec), where))
    numbers.extend(f.csv_numbers.get(index, []))
    return numbers
