"""A Google Contacts export joins a contact's phones in one cell (`a ::: b`): the error
says so, at its cell, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli


def test_a_google_multi_value_phone_cell_says_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.csv").write_text(
        "First Name,Phone 1 - Value\nJoey,+1 650-799-1144 ::: +1 415-555-0105\n"
    )
    (tmp_path / "m.yaml").write_text(
        "version: 1\nphone_region: US\ncampaigns:\n  - name: C\n    numbers_csv: g.csv\n"
    )
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "g.csv:2:2: phone: the cell holds several values joined by ' ::: ', as Google "
        "Contacts exports a contact's phones; keep one per row (split the row) or map "
        "another column"
    ]
