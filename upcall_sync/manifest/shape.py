"""Which YAML files are manifests: the readings of a file's top keys that a directory
scan (validate, plan) and `fmt` decide on. A slip of a manifest key must stay an error
(a skipped manifest's campaigns would be left out, or archived by --prune), while other
tools' YAML (a CI workflow, compose, mkdocs, a Kubernetes bundle) is left alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from upcall_sync.manifest.spec import ManifestSpec
from upcall_sync.manifest.yamlload import MAX_FILE_BYTES, YamlError, read_manifest_bytes

MANIFEST_KEYS = frozenset(ManifestSpec.model_fields)


def manifest_like(keys: Iterable[Any]) -> bool:
    """Whether a YAML mapping's keys are a manifest's: one of them is a manifest key
    written any way (`Campaigns:`, `prune-scope:`) or a slip of `campaigns:`
    (`campains:`), or every one is a slip of one. Such a file is read as a manifest, so
    its slip is an error with a suggestion, not a file skipped (and its campaigns left
    out of the plan, or archived by --prune) with a note, even beside a key of no
    manifest (`owner:`). Other YAML may share a slip-like key (GitLab CI's `default:`)
    among keys of its own (`stages:`, its jobs): it is still skipped."""
    names = [key for key in keys if isinstance(key, str)]
    if any(_folded(name) in MANIFEST_KEYS for name in names) or _names_campaigns(names):
        return True
    return bool(names) and all(map(_slip_of_a_manifest_key, names))


def manifest_shaped(keys: Iterable[Any]) -> bool:
    """`fmt`'s reading, stricter than `manifest_like` (validate's): a `campaigns:` key (or
    a slip of it), or a manifest's keys alone (written any way: `prune-scope:`). validate
    takes YAML with any one manifest key for a manifest, so that a slip is an error rather
    than a file skipped (and its campaigns archived by --prune); fmt only lays files out,
    and other tools' YAML shares `version:` or `defaults:` (compose, CircleCI, Read the
    Docs, dependabot, a workflow's `defaults:`), or has keys alone that are near a
    manifest's (an issue template's `contact_links:`, Kustomize's `patches:`, OpenAPI's
    `paths:`): such a file is not fmt's to rewrite."""
    names = [key for key in keys if isinstance(key, str)]
    if _names_campaigns(names):
        return True
    return bool(names) and all(_folded(name) in MANIFEST_KEYS for name in names)


def _names_campaigns(names: list[str]) -> bool:
    """Whether a key is `campaigns:` or a slip of it (`campains:`, `Campaign:`), not a key
    that merely starts like it (`campaign_id:`, `campaign_ids:`: other YAML's own keys)."""
    return any(difflib.get_close_matches(_folded(n), ["campaigns"], cutoff=0.88) for n in names)


def _folded(key: str) -> str:
    return key.strip().lower().replace("-", "_").replace(" ", "_")


def _slip_of_a_manifest_key(key: str) -> bool:
    return _folded(key) in MANIFEST_KEYS or bool(
        difflib.get_close_matches(key, MANIFEST_KEYS, cutoff=0.8)
    )


def another_tools_yaml(path: Path, display: str) -> bool:
    """True when every document of a file the manifest reader refused for a tag or a
    second document is a mapping sharing no key with a manifest (`manifest_like`, as for
    plain YAML): parsed only (event by event, no tag constructed, no alias expanded, no
    node kept: a 20 MB Kubernetes bundle took 14 s and 1.6 GB composed), and only its
    top keys are asked, once for each set of them. A manifest with a stray tag stays an
    error, as does a document merging keys in at its top (`<<: {campaigns: ...}`)."""
    try:
        text = read_manifest_bytes(path, display, MAX_FILE_BYTES).decode("utf-8-sig")
        asked: dict[tuple[str, ...], bool] = {}
        documents = 0
        for keys in top_keys(text):
            documents += 1
            if keys is None or "<<" in keys:
                return False  # not a mapping, or keys merged in, which may be a manifest's
            if keys not in asked:
                asked[keys] = manifest_like(keys)
            if asked[keys]:
                return False
        return documents > 0
    except (YamlError, UnicodeDecodeError, yaml.YAMLError):
        return False


def top_keys(text: str) -> Iterator[tuple[str, ...] | None]:
    """Each document's top keys written as scalars (an alias of one read as the scalar
    it names), none for an empty document, or None for one that is not a mapping."""
    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    depth, at_key, root_is_mapping = 0, False, False
    keys: list[str] = []
    anchors: dict[str, str] = {}
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.DocumentEndEvent):
            yield tuple(keys) if root_is_mapping else None
            depth, at_key, root_is_mapping, keys, anchors = 0, False, False, [], {}
            continue
        if not isinstance(event, yaml.NodeEvent):
            if isinstance(event, ends):
                depth -= 1
                at_key = not at_key if depth == 1 else at_key
            continue
        if isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
            anchors[event.anchor] = event.value
        if depth == 0:  # the document's root
            root_is_mapping = isinstance(event, yaml.MappingStartEvent)
            if _empty(event):  # `---` and nothing (Helm's template that renders empty)
                root_is_mapping, keys = True, []
            at_key = True
        elif depth == 1 and at_key and root_is_mapping:
            if isinstance(event, yaml.ScalarEvent):
                keys.append(event.value)
            elif isinstance(event, yaml.AliasEvent) and event.anchor in anchors:
                keys.append(anchors[str(event.anchor)])
        if isinstance(event, starts):
            depth += 1
        elif depth == 1:
            at_key = not at_key


def _empty(event: yaml.Event) -> bool:
    """An empty document's root: a plain null scalar with no tag (nothing written)."""
    return (
        isinstance(event, yaml.ScalarEvent)
        and event.tag is None
        and event.implicit[0]  # plain: not a quoted ""
        and event.value in ("", "~", "null", "Null", "NULL")
    )
