"""A safe YAML reader that remembers where every value came from.

Built on PyYAML's event stream (libyaml's C parser when available), not on its
constructors, so that:

- every mapping and sequence knows its file, line and column, and every value
  inside it knows its own (`LocDict.where(key)`, `LocList.where(index)`);
- only the plain data tags are accepted (str, int, float, bool, null,
  timestamp, map, seq, merge); `!!python/object` and friends are refused;
- aliases are counted as they expand, so an alias bomb ("billion laughs")
  fails at once with a clear error instead of eating memory;
- timestamps stay text (the manifest model parses them), and a plain scalar
  that YAML resolves to a number or a boolean remembers how it was written,
  so an error can say `quote it: "94536"`.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from upcall_sync.core.normalize import quote
from upcall_sync.errors import Location
from upcall_sync.manifest.envvars import expand_env
from upcall_sync.manifest.files import SpecialFile, TooLarge, read_regular

try:  # libyaml is ~10x faster; PyYAML's wheels ship it
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ALIAS_EXPANSION = 1_000_000
#: characters of a scalar that count as one more value against MAX_ALIAS_EXPANSION
TEXT_PER_VALUE = 64

_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {
    f"{_TAG}{t}"
    for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq", "merge", "binary")
}
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class YamlError(Exception):
    """A problem reading YAML, at a location."""

    def __init__(self, location: Location, message: str, *, other_yaml: bool = False) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message
        #: YAML that reads, but as no manifest is written (tags of its own, a second
        #: document): a directory scan asks its keys whether it is another tool's file
        self.other_yaml = other_yaml


@dataclass(frozen=True)
class Plain:
    """How a non-text plain scalar was written (for friendly type errors)."""

    text: str
    kind: str  # "number" | "boolean" | "null"


_SHIFT = 20
_COLUMN = (1 << _SHIFT) - 1


def _at(file: str, pos: int) -> Location:
    return Location(file, pos >> _SHIFT, pos & _COLUMN)


class LocDict(dict[str, Any]):
    """A mapping that knows where it is and where each of its keys and values is.

    Positions are kept as packed integers and turned into Locations only when
    asked: a 100,000-number manifest holds over a million of them.
    """

    __slots__ = ("file", "plain", "pos", "spots")

    def __init__(self, file: str, pos: int) -> None:
        super().__init__()
        self.file = file
        self.pos = pos
        self.spots: dict[str, tuple[int, int]] = {}
        self.plain: dict[str, Plain] = {}

    @property
    def loc(self) -> Location:
        return _at(self.file, self.pos)

    def where(self, key: str) -> Location:
        spot = self.spots.get(key)
        return _at(self.file, spot[1]) if spot else self.loc

    def where_key(self, key: str) -> Location:
        spot = self.spots.get(key)
        return _at(self.file, spot[0]) if spot else self.loc


class LocList(list[Any]):
    """A sequence that knows where it is and where each item is."""

    __slots__ = ("file", "item_pos", "plain", "pos")

    def __init__(self, file: str, pos: int) -> None:
        super().__init__()
        self.file = file
        self.pos = pos
        self.item_pos: list[int] = []
        self.plain: dict[int, Plain] = {}

    @property
    def loc(self) -> Location:
        return _at(self.file, self.pos)

    def where(self, index: int) -> Location:
        if 0 <= index < len(self.item_pos):
            return _at(self.file, self.item_pos[index])
        return self.loc


_NOT_REGULAR = "not a regular file (a FIFO, a socket or a device)"


def read_yaml(
    path: str,
    display: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> tuple[Any, list[YamlError]]:
    """The single document in a YAML file, as LocDict/LocList/scalars.

    `${VAR}` in text values is expanded from `environ` (default: os.environ);
    returns the document and the expansion problems (one per value), or raises
    YamlError for anything that stops reading.
    """
    name = display or path
    data = read_manifest_bytes(path, name, max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlError(Location(name, line), "file is not UTF-8 text") from None
    return parse_yaml(text, name, environ=environ)


def read_manifest_bytes(path: str | os.PathLike[str], name: str, max_bytes: int) -> bytes:
    """A manifest file's bytes; YamlError (at `name`) for anything but a regular file of
    at most `max_bytes` (read and fmt alike: a FIFO would hang, /dev/zero never ends)."""
    limit = f"{max_bytes // 1024 // 1024} MB limit for a manifest (put large contact sets in "
    try:
        return read_regular(path, max_bytes)
    except SpecialFile as exc:
        why = os.strerror(errno.EISDIR) if exc.directory else _NOT_REGULAR
        raise YamlError(Location(name), f"cannot read file: {why}") from None
    except TooLarge as exc:
        if exc.size is None:  # it grew while read
            raise YamlError(Location(name), f"file is over the {limit}numbers_csv)") from None
        size = f"{exc.size / 1024 / 1024:.1f} MB"
        raise YamlError(Location(name), f"file is {size}, over the {limit}numbers_csv)") from None
    except OSError as exc:
        # ENXIO: a socket (or a device with nothing behind it) cannot be opened at all
        gone = _NOT_REGULAR if exc.errno == errno.ENXIO else exc.strerror
        raise YamlError(Location(name), f"cannot read file: {gone}") from None


def parse_yaml(
    text: str, name: str, *, environ: Mapping[str, str] | None = None
) -> tuple[Any, list[YamlError]]:
    builder = _Builder(name, os.environ if environ is None else environ)
    loader = _Loader(text)
    try:
        # the C parser's events, without PyYAML's generator wrapper around them
        return builder.build(iter(loader.get_event, None)), builder.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        problem = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        if mark and _char_at(text, mark.line, mark.column) == "\t":  # libyaml names no character
            problem, context = "found a tab; YAML indents with spaces, never tabs", ""
        raise YamlError(loc, f"YAML syntax error: {problem}{context}") from None
    except yaml.reader.ReaderError as exc:
        raise YamlError(_char_location(text, name, exc), _char_problem(exc.character)) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error is one of the above
        raise YamlError(Location(name), "YAML error: " + " ".join(str(exc).split())) from None
    except RecursionError:
        raise YamlError(Location(name), "YAML nesting is too deep") from None
    finally:
        loader.dispose()


def _char_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based line and column of `text`, or "" past its end."""
    lines = text.split("\n", line + 1)
    return lines[line][column : column + 1] if line < len(lines) else ""


def _char_location(text: str, name: str, exc: yaml.reader.ReaderError) -> Location:
    """Where the character libyaml refused is (its `position` counts UTF-8 bytes)."""
    index = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
    if index < 0:
        return Location(name)
    line = text.count("\n", 0, index) + 1
    return Location(name, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _char_problem(character: int | bytes | None) -> str:
    if isinstance(character, int):
        return (
            f"character U+{character:04X} is not allowed in YAML (control characters and "
            "NUL are refused; is this a text file?)"
        )
    return "file is not readable YAML text"  # pragma: no cover - text input is decoded already


_STR = f"{_TAG}str"
#: first characters that can start a non-text plain scalar (digits, +, -, ., ~, y/n/t/f/o...)
_MAYBE_NOT_TEXT = frozenset(k for k in _RESOLVER.yaml_implicit_resolvers if k)
_WILDCARD = bool(_RESOLVER.yaml_implicit_resolvers.get(None))


def _resolve(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar (int, bool, null, timestamp ...).

    Most plain scalars are names and words: their first character already
    says they are text, without running the resolver's regular expressions.
    """
    if value and value[0] not in _MAYBE_NOT_TEXT and not _WILDCARD:
        return _STR
    return _resolve_slow(value)


@functools.lru_cache(maxsize=4096)
def _resolve_slow(value: str) -> str:
    return str(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]


#: what `key()` returns for YAML's merge key `<<` (a quoted "<<" is plain text)
MERGE_KEY: Any = type("MergeKey", (), {"__repr__": lambda self: "<<"})()
_TIMESTAMP = f"{_TAG}timestamp"
_MERGE = f"{_TAG}merge"
_VALUE = f"{_TAG}value"
#: plain scalars YAML reads as something other than text: (kind for messages, constructor)
_TYPED: dict[str, tuple[str, Any]] = {
    f"{_TAG}null": ("null", lambda node: None),
    f"{_TAG}bool": ("boolean", _CONSTRUCTOR.construct_yaml_bool),
    f"{_TAG}int": ("number", _CONSTRUCTOR.construct_yaml_int),
    f"{_TAG}float": ("number", _CONSTRUCTOR.construct_yaml_float),
}


def _key_text(key: Any) -> Any:
    """A scalar key as text: 1 -> "1", True -> "true"."""
    if key.__class__ is str:
        return key
    return str(key).lower() if isinstance(key, bool) else str(key)


def _special(tag: str, value: str) -> str:
    """Why a scalar YAML gives a special meaning cannot be a manifest value."""
    if tag == f"{_TAG}binary":
        return "binary values are not allowed in a manifest"
    what = "a merge key" if tag == _MERGE else 'its "value" key'  # the only other: `=`
    return f"YAML reads {value} as {what}; quote it: {quote(value)}"


class _Builder:
    def __init__(self, name: str, environ: Mapping[str, str]) -> None:
        self.name = name
        self.environ = environ
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded = 0
        self.problems: list[YamlError] = []

    def loc(self, event: Any) -> Location:
        mark = event.start_mark
        return Location(self.name, mark.line + 1, mark.column + 1)

    @staticmethod
    def pos(event: Any) -> int:
        mark = event.start_mark
        return int(((mark.line + 1) << _SHIFT) | ((mark.column + 1) & _COLUMN))

    def build(self, events: Iterator[Any]) -> Any:
        docs = 0
        result: Any = None
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                docs += 1
                if docs > 1:
                    raise YamlError(
                        self.loc(event),
                        "a manifest file holds one YAML document; found a second",
                        other_yaml=True,
                    )
                result, _size = self.node(next(events), events)
            elif isinstance(event, yaml.StreamEndEvent):
                break
        if docs == 0:
            raise YamlError(Location(self.name, 1, 1), "file is empty")
        return result

    def check_tag(self, event: Any, default: str) -> str:
        tag = event.tag
        if tag in (None, "!"):
            return default
        if tag not in _ALLOWED_TAGS:
            shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
            raise YamlError(
                self.loc(event),
                f"YAML tag {shown} is not allowed in a manifest (only plain data: text, numbers, "
                "booleans, lists and mappings)",
                other_yaml=True,
            )
        return str(tag)

    def node(self, event: Any, events: Iterator[Any]) -> tuple[Any, int]:
        """(value, expanded size) for the node starting with `event`."""
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise YamlError(self.loc(event), f"unknown alias *{event.anchor}")
            value, size = self.anchors[event.anchor]
            self.expanded += size
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise YamlError(
                    self.loc(event),
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} values (a text "
                    f"counting one per {TEXT_PER_VALUE} characters); refusing (a YAML alias "
                    "bomb?)",
                )
            return value, size
        if isinstance(event, yaml.ScalarEvent):
            value, _plain = self.scalar(event)
            # a long text counts by its length: 1 MB aliased 2,000 times is 2,000 values,
            # yet 2 GB to copy and compare (35 s and 7.8 GB to validate, helper b75)
            result: tuple[Any, int] = (value, 1 + len(event.value) // TEXT_PER_VALUE)
        elif isinstance(event, yaml.SequenceStartEvent):
            self.check_tag(event, f"{_TAG}seq")
            result = self.sequence(event, events)
        elif isinstance(event, yaml.MappingStartEvent):
            self.check_tag(event, f"{_TAG}map")
            result = self.mapping(event, events)
        else:  # pragma: no cover - the parser guarantees node events here
            raise YamlError(self.loc(event), f"unexpected YAML event {type(event).__name__}")
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = result
        return result

    def scalar(
        self, event: Any, *, expand: bool = True, key: bool = False
    ) -> tuple[Any, Plain | None]:
        if not event.style and event.tag in (None, "!") and event.implicit[0]:
            tag = _resolve(event.value)
        elif event.tag in (None, "!"):
            tag = _STR
        else:
            tag = self.check_tag(event, _STR)
        value = event.value
        if tag in (_STR, _TIMESTAMP):
            if expand and "$" in value:
                value = self.expand(value, event)
            return value, None
        if key and tag == _MERGE:
            return MERGE_KEY, None
        if key and tag == _VALUE:  # as PyYAML: the value key `=` as a key is the text "="
            return value, None
        typed = _TYPED.get(tag)
        if typed is None:
            raise YamlError(self.loc(event), _special(tag, value))
        kind, construct = typed
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
        try:
            return construct(node), Plain(value, kind)
        except (ValueError, yaml.YAMLError):
            raise YamlError(
                self.loc(event), f"cannot read {value!r} as {tag[len(_TAG) :]}"
            ) from None

    def expand(self, value: str, event: Any) -> str:
        """`${VAR}` expanded; a problem (and the text as written) when it cannot be."""
        try:
            return expand_env(value, self.environ)
        except KeyError as exc:
            problem = f"environment variable {exc.args[0]} is not set"
        except ValueError as exc:
            problem = str(exc)
        self.problems.append(YamlError(self.loc(event), problem))
        return value

    def sequence(self, start: Any, events: Iterator[Any]) -> tuple[LocList, int]:
        out = LocList(self.name, self.pos(start))
        total = 1
        for event in events:
            if isinstance(event, yaml.SequenceEndEvent):
                return out, total
            at = self.pos(event)
            if isinstance(event, yaml.ScalarEvent):
                value, plain = self.text_or_scalar(event)
                size = 1 + len(event.value) // TEXT_PER_VALUE
                if plain is not None:
                    out.plain[len(out)] = plain
                if event.anchor:
                    self.anchors[event.anchor] = (value, size)
            else:
                value, size = self.node(event, events)
            out.append(value)
            out.item_pos.append(at)
            total += size
        raise YamlError(out.loc, "unterminated sequence")  # pragma: no cover

    def text_or_scalar(self, event: Any, *, expand: bool = True) -> tuple[Any, Plain | None]:
        """`scalar()`, with the common case (untagged text, no anchor) handled inline."""
        value = event.value
        if event.tag is None and not event.anchor and "$" not in value:
            if event.style:  # quoted: always text
                return value, None
            if value and value[0] not in _MAYBE_NOT_TEXT:  # plain, but cannot be non-text
                return value, None
        return self.scalar(event, expand=expand)

    def key(self, event: Any) -> Any:
        """A mapping key as text (`MERGE_KEY` for YAML's `<<`); numbers and booleans as written
        by YAML's reading of them (`1`, `true`), null as "null"."""
        value = event.value
        plain_text = event.style or (value and value[0] not in _MAYBE_NOT_TEXT)
        if event.tag is None and not event.anchor and plain_text:
            return value
        key, _plain = self.scalar(event, expand=False, key=True)
        if event.anchor:
            self.anchors[event.anchor] = (key, 1 + len(event.value) // TEXT_PER_VALUE)
        if key is None:
            return "null"
        return key if key is MERGE_KEY else _key_text(key)

    def alias_key(self, event: Any) -> Any:
        """`*name : value`: an alias of a text, number or boolean is a key like it."""
        if isinstance(event, yaml.AliasEvent) and event.anchor in self.anchors:
            value = self.anchors[event.anchor][0]
            if not isinstance(value, dict | list):
                return "null" if value is None else _key_text(value)
        raise YamlError(self.loc(event), "mapping keys must be plain text")

    def value(self, event: Any, events: Iterator[Any]) -> tuple[Any, Plain | None, int]:
        """A mapping value: (value, how a plain non-text scalar was written, expanded size)."""
        if event.__class__ is yaml.ScalarEvent:
            value, plain = self.text_or_scalar(event)
            size = 1 + len(event.value) // TEXT_PER_VALUE
            if event.anchor:
                self.anchors[event.anchor] = (value, size)
            return value, plain, size
        value, size = self.node(event, events)
        return value, None, size

    def mapping(self, start: Any, events: Iterator[Any]) -> tuple[LocDict, int]:
        out = LocDict(self.name, self.pos(start))
        spots, plains = out.spots, out.plain
        total = 1
        merges: list[tuple[Any, int]] = []
        scalar_event, end_event = yaml.ScalarEvent, yaml.MappingEndEvent
        for event in events:
            cls = event.__class__
            if cls is end_event:
                break
            key_at = self.pos(event)
            key = self.key(event) if cls is scalar_event else self.alias_key(event)
            value_event = next(events)
            value_at = self.pos(value_event)
            value, plain, size = self.value(value_event, events)
            total += size
            if key is MERGE_KEY:
                merges.append((value, value_at))
                continue
            if key in spots:
                raise YamlError(
                    _at(self.name, key_at),
                    f'duplicate key "{key}" (first at line {spots[key][0] >> _SHIFT})',
                )
            out[key] = value
            spots[key] = (key_at, value_at)
            if plain is not None:
                plains[key] = plain
        for value, at in merges:
            self.merge(out, value, at)
        return out, total

    def merge(self, out: LocDict, value: Any, at: int) -> None:
        """`<<: *base` (or a list of them): keys the mapping does not set itself."""
        for source in value if isinstance(value, list) else [value]:
            if not isinstance(source, LocDict):
                raise YamlError(
                    _at(self.name, at), "a merge key (<<) takes a mapping or a list of mappings"
                )
            for key, item in source.items():
                if key not in out:
                    out[key] = item
                    out.spots[key] = source.spots.get(key, (at, at))
                    if key in source.plain:
                        out.plain[key] = source.plain[key]
