"""The wheelhouse ./scripts/test fills: the Action and pre-commit tests install from it."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def wheelhouse() -> Path:
    path = Path(os.environ.get("UPCALL_SYNC_WHEELHOUSE") or Path(sys.prefix) / "wheelhouse")
    assert (path / ".stamp").exists(), f"no wheelhouse at {path}: run ./scripts/test once"
    return path
