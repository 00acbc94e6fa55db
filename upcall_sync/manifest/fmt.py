"""`upcall-sync fmt`: rewrite YAML files in one layout, like `terraform fmt`.

Layout only, through ruamel.yaml's round trip: indentation (mappings 2, sequences 4 with
the dash at 2), spacing, trailing whitespace, one final newline. Line endings stay as the file's
first one is (LF, or CRLF for every line; CR in a file with no LF). Quotes, key order,
comments, flow or block style, a null's spelling (`null`, `~`), anchors (but an
anchored null, written out at each use) and a leading `---` are kept (a long line is not
re-wrapped; `...` document end markers are dropped, but after a document that is a bare
scalar, where ruamel writes one).
Every result is checked before it is used:

- the meaning is unchanged: every document loads (YAML's safe loader) to the same
  values, keys in the same order;
- every comment is still there, in order;
- formatting the result again changes nothing.

A file that fails a check is left as it is and named (`fmt` never guesses); a file that
is not YAML is an error naming its file:line.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from upcall_sync.errors import Location, ManifestError, Problem
from upcall_sync.manifest.yamlload import (
    MAX_ALIAS_EXPANSION,
    MAX_FILE_BYTES,
    TEXT_PER_VALUE,
    YamlError,
    parse_yaml,
    read_manifest_bytes,
)

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Formatted:
    path: Path
    before: str
    after: str
    #: why the file was left as it is ("" when it was formatted)
    refused: str = ""
    #: YAML that is not a manifest (a workflow, a playbook): not upcall-sync's to lay out
    skipped: bool = False

    @property
    def changed(self) -> bool:
        return not self.refused and self.after != self.before


class _Null:
    """A null as written (`null`, `~`, `NULL` or nothing): ruamel's round trip would
    write every null in a block as nothing (`start_datetime: null` -> `start_datetime:`,
    `- null` -> `-`), rewording what the file says."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


@functools.cache
def _null_keeping() -> tuple[type, type]:
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.representer import RoundTripRepresenter

    class Constructor(RoundTripConstructor):
        pass

    class Representer(RoundTripRepresenter):
        def ignore_aliases(self, data: Any) -> bool:
            # an anchored null is written out at each use, as before (no `&id001`)
            return isinstance(data, _Null) or bool(super().ignore_aliases(data))

    def construct(self: Any, node: Any) -> _Null:
        return _Null(node.value)

    def represent(self: Any, data: _Null) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", data.text)

    Constructor.add_constructor("tag:yaml.org,2002:null", construct)
    Representer.add_representer(_Null, represent)
    return Constructor, Representer


def _ruamel() -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.Constructor, rt.Representer = _null_keeping()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 1_000_000  # never re-wrap a long line
    rt.allow_duplicate_keys = False
    return rt


def layout(text: str) -> str:
    """One round trip through ruamel.yaml, then trailing whitespace and final newline."""
    rt = _ruamel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a reused anchor: the checks judge the result
        docs = list(rt.load_all(text))
    rt.explicit_start = text.lstrip("\ufeff").startswith("---")
    out = io.StringIO()
    rt.dump_all(docs, out)
    lines = [line.rstrip() for line in out.getvalue().split("\n")]
    return "\n".join(lines).rstrip("\n") + "\n"


class AliasBomb(Exception):
    """The values a YAML text's aliases expand to are too many to compare."""


_ALIAS_BOMB = (
    f"its aliases expand to more than {MAX_ALIAS_EXPANSION:,} values (a text counting one "
    f"per {TEXT_PER_VALUE} characters; a YAML alias bomb?)"
)


def _canonical(value: Any, budget: list[int], seen: set[int], shared: bool = False) -> Any:
    """Values as comparable data: mappings as ordered pairs, NaN equal to itself. Each
    value an alias writes out again (under a mapping or list met before: the loader
    shares what an alias names) counts against `budget`: written out here, a "billion
    laughs" file of 1 KB took 7 GB and more (the manifest reader's limit). A value met
    once does not: a manifest of 250,000 numbers is no bomb."""
    if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) > 1):
        # a text too: `*s` of a long one (not a one-character text, which CPython shares)
        shared = shared or id(value) in seen
        seen.add(id(value))
    if shared:
        budget[0] -= 1 + (len(value) // TEXT_PER_VALUE if isinstance(value, str) else 0)
        if budget[0] < 0:
            raise AliasBomb(_ALIAS_BOMB)
    if isinstance(value, dict):
        return (
            "map",
            [
                (_canonical(k, budget, seen, shared), _canonical(v, budget, seen, shared))
                for k, v in value.items()
            ],
        )
    if isinstance(value, list):
        return ("seq", [_canonical(v, budget, seen, shared) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


def meaning(text: str) -> Any:
    budget = [MAX_ALIAS_EXPANSION]
    # kept while they are compared: an id is then one value's only
    documents = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    seen: set[int] = set()
    return [_canonical(d, budget, seen) for d in documents]


def comments(text: str) -> list[str]:
    """Every comment of a YAML text, in order (ruamel's scanner keeps them on tokens)."""
    from ruamel.yaml.tokens import CommentToken

    found: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, CommentToken):
            found.extend(
                line.strip() for line in obj.value.split("\n") if line.strip().startswith("#")
            )
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for token in _ruamel().scan(text):
            walk(getattr(token, "_comment", None))
    return found


#: the meaning of a text the safe loader cannot read (never equal to another's)
_UNREADABLE = object()


def format_text(text: str) -> tuple[str, str]:
    """(the formatted text, "") or (the text as it was, why it was left). An empty file
    stays empty (the layout would give it a line break)."""
    if not text:
        return text, ""
    before: Any = None
    if "&" in text:  # anchors: a bomb's thousands of aliases take ruamel minutes to lay out
        try:
            before = meaning(text)
        except AliasBomb as exc:
            return text, str(exc)
        except yaml.YAMLError:
            before = _UNREADABLE
    after = layout(text)
    if after == text:
        return text, ""
    try:
        if before is None:
            before = meaning(text)
        same = before is not _UNREADABLE and meaning(after) == before
    except AliasBomb as exc:
        return text, str(exc)
    except yaml.YAMLError:
        same = False
    if not same:
        return text, "formatting would change what it means"
    if comments(after) != comments(text):
        return text, "formatting would lose or move a comment"
    if layout(after) != after:
        return text, "formatting it is not stable (a second run would change it again)"
    return after, ""


def yaml_files(paths: Iterable[str]) -> Iterator[Path]:
    """The YAML files named, and every *.yaml / *.yml below the folders named (hidden
    folders skipped), each once, in order: the files every other command reads
    (`load.find_manifests`), so a symlink out of a folder or the checkout is an error
    here too, not a file whose content `--diff` prints or `fmt` copies into the checkout."""
    from upcall_sync.manifest.load import find_manifests

    for path, _named in find_manifests(list(paths)):
        yield path


def format_file(path: Path, *, manifests_only: bool = False) -> Formatted:
    """`path` laid out; `manifests_only`: YAML that is not a manifest is skipped."""
    try:  # a regular file within the manifest limit (a FIFO hung, /dev/zero never ended)
        raw = read_manifest_bytes(path, str(path), MAX_FILE_BYTES)
    except YamlError as exc:
        raise ManifestError([Problem(exc.location, "", exc.message)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError([Problem(Location(str(path)), "", "not UTF-8 text")]) from None
    if manifests_only and not_a_manifest(text):
        return Formatted(path, text, text, skipped=True)
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    original = text[len(bom) :]
    # line endings as the file has them, by its first (as ruff and Black do): a
    # checkout with CRLF endings is not rewritten line by line
    newline = _first_line_break(original)
    # every break, lone CRs too (YAML reads a lone CR as a line break): replacing
    # only CRLF would make one of CR CR LF, and the text checked would not be the file
    body = original if newline == "\n" else _BREAKS.sub("\n", original)
    try:
        after, refused = format_text(body)
        if newline != "\n" and not refused:
            after = after.replace("\n", newline)
            if after != original and meaning(after) != meaning(original):
                after, refused = text, "formatting would change what it means"
    except Exception as exc:  # ruamel's errors share no base class
        _refuse_invalid(path, text)
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        return Formatted(path, text, text, f"the formatter cannot read it{at}")
    return Formatted(path, text, bom + after if not refused else text, refused)


_BREAKS = re.compile(r"\r\n?")


def not_a_manifest(text: str) -> bool:
    """YAML with content, none of it a manifest's: no document is a mapping with a
    `campaigns:` key or a manifest's keys alone (`shape.manifest_shaped`: stricter than
    validate's reading, since other tools' YAML shares `version:` and `defaults:`). A CI
    workflow, a compose file or a playbook is then left as it is, also when named (the
    pre-commit hook names every staged YAML file), and so is one of tags of its own
    (GitLab CI's `!reference`, CloudFormation's `!Ref`: a manifest has none). YAML that
    does not load is left to the formatter, which names where."""
    from upcall_sync.manifest.shape import manifest_shaped

    try:
        documents = [d for d in yaml.load_all(text, Loader=_any_tag_loader()) if d is not None]
    except (yaml.YAMLError, ValueError, TypeError, AttributeError):
        return False  # `!!int abc`, `!!timestamp x`: PyYAML's constructors raise these too
    return bool(documents) and not any(
        isinstance(d, dict) and manifest_shaped(d.keys()) for d in documents
    )


@functools.cache
def _any_tag_loader() -> type:
    """The safe loader, reading a value of a local tag (`!Ref x`) as the untagged value:
    only which keys a document has is asked of it."""

    class Loader(yaml.CSafeLoader):
        pass

    def untagged(loader: Any, _suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    # a global tag the safe loader has no constructor for: mkdocs.yml's
    # `!!python/name:pymdownx.superfences.fence_code_format`
    Loader.add_constructor(None, lambda loader, node: untagged(loader, "", node))
    return Loader


def _first_line_break(text: str) -> str:
    """The file's line break, by its first line's: CRLF, or LF (also for a file of one
    line); a lone CR in a file with no LF at all (old Mac OS)."""
    first = text.find("\n")
    if first < 0:
        return "\r" if "\r" in text else "\n"
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _refuse_invalid(path: Path, text: str) -> None:
    """Not YAML at all (the manifest loader's reading): an error naming file:line:col."""
    try:
        for _ in yaml.load_all(text, Loader=yaml.CSafeLoader):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(str(path), mark.line + 1, mark.column + 1) if mark else Location(str(path))
        raise ManifestError([Problem(where, "", f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([Problem(Location(str(path)), "", f"not valid YAML: {exc}")]) from None
    except (ValueError, TypeError, AttributeError):  # `!!int abc`: a value no type reads
        from upcall_sync.manifest.shape import manifest_shaped, top_keys

        try:
            shaped = any(keys and manifest_shaped(keys) for keys in top_keys(text))
        except yaml.YAMLError:
            return
        if not shaped:
            return  # another tool's file: left as it is, named
        try:  # a manifest: the error validate gives, file:line:col
            parse_yaml(text, str(path), environ={})
        except YamlError as exc:
            raise ManifestError([Problem(exc.location, "", exc.message)]) from None


def write(result: Formatted) -> None:
    """Replace the file in one step (a temporary file beside it, renamed over it); through
    a symlink, the file it leads to (the link stays a link)."""
    target = result.path.resolve()
    mode = target.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(result.after)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
