"""The Action's own Markdown (found by b53): doctor's checks table quoted each check's
evidence as it was, and evidence quotes the API's answers (a 5xx body is quoted as the
server sent it), so an API could put an image, a link, a tag or an `@mention` (a
notification) into the pull-request comment."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from upcall_sync.errors import markdown_text

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = (
    "GET /campaigns: HTTP 500: @octocat #12 ![x](https://evil.example/p.png) "
    "<img src=https://evil.example/i> **bold** _it_ `code` ~~s~~ [l](http://e) "
    "www.evil.example &amp; | pipe"
)


def _publish() -> Any:
    spec = importlib.util.spec_from_file_location("action_run", ROOT / "ci/action/run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["action_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return sys.modules["publish"]


def _table(tmp_path: Path, evidence: str) -> str:
    report = tmp_path / "doctor.json"
    checks = [{"name": "token accepted", "verdict": "FAIL", "evidence": evidence}]
    report.write_text(json.dumps({"ok": False, "checks": checks}))
    table: str = _publish().checks_table(report)
    return table


def test_doctor_evidence_from_the_api_is_text_in_the_comment(tmp_path: Path) -> None:
    [row] = [line for line in _table(tmp_path, HOSTILE).splitlines() if "token accepted" in line]
    for syntax in ("<img", "![", "](", "**", "`", "~~", "_it_", "https://", "www.", "&amp;"):
        assert syntax not in row.replace("&amp;amp;", ""), (syntax, row)
    assert "@octocat" not in row and " #12 " not in row  # no mention, no cross-reference
    assert "@\u2060octocat" in row and "#\u2060" in row
    assert "&lt;img src=https:\u2060//evil.example/i&gt;" in row
    assert "&amp;amp;" in row  # an entity in the text shows as written
    assert row.replace("\\|", "").count("|") == 4 and row.endswith("\\| pipe |")  # 3 cells


def test_the_cell_escapes_as_the_renderer_does_for_what_both_cover() -> None:
    """Where both apply, the Action's cell and the renderer's `markdown_text` agree
    (the Action's scripts import nothing of upcall-sync: an older release may run)."""
    cell = _publish()._cell
    for text in ("@team see #3", "a *b* _c_ `d`", "<b>x</b> & y", "https://x.example/a"):
        assert cell(text) == markdown_text(text), text


def test_long_evidence_is_cut_before_it_is_escaped(tmp_path: Path) -> None:
    """Cut after escaping, a cell could end inside an entity (`&#9`)."""
    [row] = [line for line in _table(tmp_path, "`" * 400).splitlines() if "token" in line]
    assert row.endswith("&#96; |") and row.count("&#96;") == 300
