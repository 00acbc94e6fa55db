"""Manifests: YAML (and CSV) files to a validated, normalized `DesiredState`."""

from upcall_sync.manifest.load import (
    MANIFEST_SUFFIXES,
    find_manifests,
    load_manifests,
    load_what_validates,
)
from upcall_sync.manifest.merge import DEFAULT_CONTACT_LIST
from upcall_sync.manifest.spec import EMAIL_PATTERN, MANIFEST_VERSION, ManifestSpec

__all__ = [
    "DEFAULT_CONTACT_LIST",
    "EMAIL_PATTERN",
    "MANIFEST_SUFFIXES",
    "MANIFEST_VERSION",
    "ManifestSpec",
    "find_manifests",
    "load_manifests",
    "load_what_validates",
]
