"""Manifest files (and their CSVs) to one validated, normalized `DesiredState`.

Knows YAML, CSV and line numbers; knows nothing of HTTP. Every problem in
every file is collected and raised at once as a `ManifestError`, each with
its `file:line:col`, a dotted path and a sentence a person understands.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from upcall_sync.core.model import (
    DesiredState,
)
from upcall_sync.errors import Location, ManifestError, Problem
from upcall_sync.manifest.contacts_file import display_path, read_contacts_file
from upcall_sync.manifest.contacts_header import ContactsRef
from upcall_sync.manifest.merge import ManifestFile, merge
from upcall_sync.manifest.messages import problems_of
from upcall_sync.manifest.shape import another_tools_yaml, manifest_like
from upcall_sync.manifest.spec import (
    MANIFEST_VERSION,
    CampaignSpec,
    ManifestSpec,
)
from upcall_sync.manifest.stoplist import listed_phones, listed_rows
from upcall_sync.manifest.tokencheck import holds_token
from upcall_sync.manifest.yamlload import LocDict, LocList, YamlError, read_yaml

MANIFEST_SUFFIXES = (".yaml", ".yml")


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
    given = [Path(raw).resolve() for raw in paths if Path(raw).is_dir()]
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
            _directory(path, str(raw), found, problems, given)
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
    path: Path,
    raw: str,
    found: list[tuple[Path, bool]],
    problems: list[Problem],
    given: Sequence[Path] = (),
) -> None:
    """Every manifest below a directory, each inside it after symlinks; a symlinked
    directory below it holding manifests that no directory `given` covers is refused."""
    unlisted: list[OSError] = []  # a directory it cannot list: an error, never a skip
    named: list[Path] = []
    linked: list[Path] = []  # directories reached through a symlink: not followed
    for top, dirs, files in os.walk(path, onerror=unlisted.append):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden directories: skipped
        linked.extend(Path(top, d) for d in dirs if os.path.islink(os.path.join(top, d)))
        named.extend(Path(top, f) for f in files if _is_manifest(f))
    named.sort()
    problems.extend(_linked_problems(linked, given))
    for exc in unlisted:
        problems.append(
            Problem(
                Location(str(Path(exc.filename or raw))),
                "",
                f"cannot read directory: {exc.strerror}; its manifests would not be read",
            )
        )
    below = [p for p in named if p.is_file()]
    dangling = [p for p in named if p.is_symlink() and not p.exists()]
    for p in dangling:  # the manifest it led to was renamed or deleted: not a silent skip
        problems.append(
            Problem(
                Location(str(p)),
                "",
                "is a symlink to a file that does not exist, so no manifest is read "
                "from it; point it at the manifest, or remove it",
            )
        )
    if not below and not dangling and not unlisted:
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


def _is_manifest(name: str) -> bool:
    """A file name a directory scan reads as a manifest (`*.yaml`, `*.yml`, not hidden)."""
    return not name.startswith(".") and os.path.splitext(name)[1] in MANIFEST_SUFFIXES


def _linked_problems(linked: list[Path], given: Sequence[Path]) -> list[Problem]:
    """Each symlinked folder a scan met (and did not follow) that holds manifests no
    directory `given` covers: they would drop out of the plan unseen."""
    problems: list[Problem] = []
    for link in sorted(linked):
        target = link.resolve()
        if not any(target.is_relative_to(d) for d in given) and _holds_manifests(target, given):
            problems.append(
                Problem(
                    Location(str(link)),
                    "",
                    "is a symlink to a directory holding manifests (or too big to search "
                    "for them), which upcall-sync does not follow (they would not be read, "
                    "and --prune could archive their campaigns): name that directory too, "
                    "or move the manifests here",
                )
            )
    return problems


#: how many entries a symlinked folder's search for manifests looks at: past it (a link to
#: `/` or a home folder) the folder counts as holding some, and is refused unsearched
MAX_LINKED_ENTRIES = 20_000


def _holds_manifests(directory: Path, given: Sequence[Path] = ()) -> bool:
    """Whether a directory holds a *.yaml or *.yml manifest (symlinks in it not followed,
    so a loop of links ends) outside the directories `given`, which are read anyway (a
    link up to `..` over them all); a folder of CSV files is no concern. A folder too big
    to search (MAX_LINKED_ENTRIES) counts as holding some: a committed link to `/` must
    not make every run walk the whole disk."""
    inner = [d for d in given if d.is_relative_to(directory)]  # most often none
    seen = 0
    for top, dirs, files in os.walk(directory):
        seen += len(dirs) + len(files)
        if seen > MAX_LINKED_ENTRIES:
            return True
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".") and not any(Path(top, d).is_relative_to(g) for g in inner)
        ]
        if any(map(_is_manifest, files)):
            return True
    return False


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
    state, problems, _files = _load(
        paths,
        os.environ if environ is None else environ,
        Path(os.getcwd() if root is None else root),
    )
    if problems:
        raise ManifestError(problems)
    return state


def load_what_validates(
    paths: Sequence[str | os.PathLike[str]],
    *,
    redact: Callable[[str], str] | None = None,
    environ: Mapping[str, str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> tuple[DesiredState, list[Problem]]:
    """`load_manifests` for the do-not-call stops of an apply whose manifests do not all
    validate: the state merged from what does (each setting of a file and each campaign
    entry that validate on their own, every do-not-call list read), and every problem.
    Raises ManifestError when the paths cannot be read (`find_manifests`), or when
    `redact` (the auth token's) changes any text of a file read, in a part that
    validates or not: a manifest holding the token refuses everything, stops too.
    Nothing but stops may be made of the state."""
    state, problems, files = _load(
        paths,
        os.environ if environ is None else environ,
        Path(os.getcwd() if root is None else root),
    )
    if redact is not None:
        holding = [f for f in files if holds_token(f.data, redact)]
        if holding:
            raise ManifestError(
                [
                    Problem(Location(f.display), "", "holds the auth token; a manifest may not")
                    for f in holding
                ]
            )
    return state, problems


def _load(
    paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str], root: Path
) -> tuple[DesiredState, list[Problem], list[ManifestFile]]:
    files = find_manifests(paths, root)
    problems: list[Problem] = []
    loaded: list[ManifestFile] = []
    skipped: list[str] = []
    digest = hashlib.sha256()
    for path, named in files:
        display = _display(path)
        try:
            data, env_problems = read_yaml(str(path), display, environ=env)
        except YamlError as exc:
            if not named and exc.other_yaml and another_tools_yaml(path, display):
                skipped.append(display)  # mkdocs.yml's !!python/name, a Kubernetes bundle
                continue
            problems.append(Problem(exc.location, "", exc.message))
            continue
        if not named and isinstance(data, LocDict) and not manifest_like(data):
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
        loaded.append(ManifestFile(path, display, data))
    for f in loaded:
        problems.extend(_validate_file(f, env, digest, root))
    if not loaded and not problems:
        problems.append(
            Problem(
                Location(str(paths[0])), "", "no manifests found (no YAML file has a version key)"
            )
        )
    state, merge_problems = merge(loaded, digest.hexdigest(), tuple(skipped))
    problems.extend(merge_problems)
    return state, _without_echoes(problems), loaded


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


def _validate_file(
    f: ManifestFile, env: Mapping[str, str], digest: Any, root: Path
) -> list[Problem]:
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
    # what reads of the lists counts even when other settings are wrong (a refused
    # apply's stops)
    f.do_not_call = listed_phones(f.data, context["phone_region"])
    problems.extend(_read_stoplist_file(f, root, context, env, digest))
    if f.spec is None:  # each setting that validates alone counts for a refused apply's
        f.spec = _settings_that_validate(top, context)  # stops (`patch`, `defaults`)
    if not isinstance(items, LocList):
        return problems
    for index, item in enumerate(items):
        try:
            camp = CampaignSpec.model_validate(item, context=context)
        except ValidationError as exc:
            problems.extend(problems_of(exc, f.data, ("campaigns", index)))
            guard = _entry_that_validates(item, context)
            if guard is not None:  # it still guards its campaign (`load_what_validates`)
                f.campaigns[index] = guard
            # its numbers_csv's own problems too, in the same run (its numbers are not
            # kept: the entry is refused)
            source = _numbers_source(item, context)
            if source is not None and source.numbers_csv is not None:
                how = (root, context, env)
                problems.extend(_read_contacts(f, index, source, item, how, digest, keep=False))
            continue
        f.campaigns[index] = camp
        if camp.numbers_csv is not None:
            problems.extend(_read_contacts(f, index, camp, item, (root, context, env), digest))
    return problems


def _read_stoplist_file(
    f: ManifestFile, root: Path, context: dict[str, Any], env: Mapping[str, str], digest: Any
) -> list[Problem]:
    """The file's `do_not_call_csv`, its phones added to `f.do_not_call`; its problems."""
    written = f.data.get("do_not_call_csv")
    how = _stoplist_file_keys(f)
    if not (isinstance(written, str) and written and how is not None):
        return []
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
        encoding=how[3],
        encoding_key="do_not_call_csv_encoding",
    )
    read = read_contacts_file(ref, root, context, env)
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
    return read.problems


def _settings_that_validate(top: dict[str, Any], context: dict[str, Any]) -> ManifestSpec | None:
    """Of a file whose settings do not validate, those that do on their own: its
    `patch: replace` and `defaults.from_number` still shape the pause of a refused apply
    (without them, a replacing PATCH clears the caller ID). Only what
    `load_what_validates` returns is made of it: the file's problems refuse the rest."""
    base: dict[str, Any] = {"version": MANIFEST_VERSION}
    kept: dict[str, Any] = {}
    for key, written in top.items():
        if key in ("version", "campaigns"):
            continue
        value = written
        if key == "defaults" and isinstance(written, LocDict):  # field by field, too
            value = {k: v for k, v in written.items() if _valid({**base, key: {k: v}}, context)}
        if _valid({**base, key: value}, context):
            kept[key] = value
    try:
        return ManifestSpec.model_validate({**base, **kept}, context=context)
    except ValidationError:
        return None


#: what a campaign entry with a mistake must get right to still guard its campaign: the
#: campaign it names (its name, its pinned id), and the caller ID a replacing pause sends
_GUARD_KEYS = ("name", "id", "from_number")
#: a numbers_csv and the keys that say how to read it
_CSV_KEYS = ("numbers_csv", "numbers_csv_columns", "numbers_sheet", "numbers_csv_encoding")
#: never kept of an entry with a mistake: its numbers (a pause reads the live ones)
_NUMBER_KEYS = ("numbers", *_CSV_KEYS)


def _valid(settings: dict[str, Any], context: dict[str, Any]) -> bool:
    try:
        ManifestSpec.model_validate(settings, context=context)
    except ValidationError:
        return False
    return True


def _entry_that_validates(item: object, context: dict[str, Any]) -> CampaignSpec | None:
    """Of a campaign entry that does not validate, its fields that do on their own, so
    that it still guards the campaign it names for a refused apply's stops (it may hold
    the person who just opted out); None when its name, `id:` or from_number is what is
    wrong (another campaign would be paused, or a replacing PATCH would carry the wrong
    caller ID). Only what `load_what_validates` returns is made of it."""
    if not isinstance(item, LocDict) or "name" not in item:
        return None
    kept: dict[str, Any] = {"name": item["name"]}
    for key, value in item.items():
        if key in _NUMBER_KEYS:
            continue
        try:
            CampaignSpec.model_validate({**kept, key: value}, context=context)
        except ValidationError:
            if key in _GUARD_KEYS:
                return None
            continue
        kept[key] = value
    try:
        return CampaignSpec.model_validate(kept, context=context)
    except ValidationError:
        return None


def _numbers_source(item: object, context: dict[str, Any]) -> CampaignSpec | None:
    """Of a campaign entry that does not validate, its numbers_csv and the keys that say
    how to read it, when they validate on their own (so the file's problems are told
    with the entry's: the mistakes of one validate run, not one after the other)."""
    if not isinstance(item, LocDict):
        return None
    source = {k: item[k] for k in _CSV_KEYS if k in item}
    try:
        return CampaignSpec.model_validate({"name": "numbers", **source}, context=context)
    except ValidationError:
        return None


def _stoplist_file_keys(
    f: ManifestFile,
) -> tuple[dict[str, str], dict[str, Location], str | None, str | None] | None:
    """do_not_call_csv_columns, do_not_call_sheet and do_not_call_csv_encoding; None when
    the spec refused them (the file would be read the wrong way: the spec's problem says
    what is wrong)."""
    if f.spec is None:
        keys = ("do_not_call_csv_columns", "do_not_call_sheet", "do_not_call_csv_encoding")
        return None if any(k in f.data for k in keys) else ({}, {}, None, None)
    columns = f.spec.do_not_call_csv_columns
    mapping = {k: v for k, v in columns.__dict__.items() if v is not None} if columns else {}
    written = f.data.get("do_not_call_csv_columns")
    at = {k: written.where(k) for k in mapping} if isinstance(written, LocDict) else {}
    return mapping, at, f.spec.do_not_call_sheet, f.spec.do_not_call_csv_encoding


def _read_contacts(
    f: ManifestFile,
    index: int,
    camp: CampaignSpec,
    item: LocDict,
    how: tuple[Path, dict[str, Any], Mapping[str, str]],
    digest: Any,
    *,
    keep: bool = True,
) -> list[Problem]:
    """A campaign's numbers_csv (with numbers_csv_columns and numbers_sheet); its numbers
    kept for the campaign unless `keep` is false."""
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
        encoding=camp.numbers_csv_encoding,
    )
    root, context, env = how
    read = read_contacts_file(ref, root, context, env)
    if keep:
        f.csv_numbers[index] = read.numbers
    f.warnings.extend(read.warnings)
    digest.update(read.display.encode() + b"\0" + read.digest + b"\0")
    return read.problems
