"""Review b58 of e383b2c: doctor's checks table wrote `!` as `&#33;`, and GitLab reads an
entity as its character before it looks for references, so evidence quoting `!12` (an
API's 5xx body) made a cross-reference to merge request 12 from the MR comment; the
renderer's `markdown_text` keeps GitLab's `!123` text with a word joiner, as `#123`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _publish() -> Any:
    spec = importlib.util.spec_from_file_location("action_run", ROOT / "ci/action/run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["action_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return sys.modules["publish"]


def test_a_gitlab_merge_request_reference_in_evidence_stays_text() -> None:
    cell: Any = _publish()._cell
    text = cell("HTTP 502: see !12 and group/project!7, or #3")
    assert "&#33;\u206012" in text and "&#33;\u20607" in text and "#\u20603" in text
    assert cell("Done! 5 left") == "Done&#33; 5 left"  # `!` not before a digit: as before
