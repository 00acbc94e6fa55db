"""Exported CSVs are safe to open, and export's messages read right (issue 19, item 6).

A cell that starts like a spreadsheet formula (`=`, `+`, `-`, `@`, a tab or a carriage
return) or holds a control character (ESC, BEL) is never written to a CSV: its row
stays in the YAML, where every value is escaped, as rows holding `\\r` already did; the
export still validates and plans to no changes.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from upcall_sync.emulator import Emulator
from upcall_sync.emulator.store import CONTACT_COLUMNS

from .conftest import TOKEN, run_cli


def seed(emu: Emulator, campaigns: list[dict[str, Any]], contacts: Any, members: Any) -> int:
    first = emu.store.seed(
        emu.accounts[TOKEN],
        campaigns=campaigns,
        list_name="seeded",
        contacts=[{k: c.get(k) for k in CONTACT_COLUMNS} for c in contacts],
        memberships=list(members),
    )
    return int(first["first_campaign_id"])


def round_trip(capsys: pytest.CaptureFixture[str], emu: Emulator, target: Path) -> None:
    """validate exits 0, plan --detailed-exitcode exits 0: the export is exact."""
    code, _out, err = run_cli(capsys, "validate", str(target))
    assert code == 0, err
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(target))
    assert code == 0, out + err


HOSTILE = [
    {"phone": "+16505550100", "first_name": "=cmd|' /C calc'!A0"},
    {"phone": "+16505550101", "first_name": "Ann", "company": "@SUM(1+1)*cmd|' /C calc'!A0"},
    {"phone": "+16505550102", "first_name": "Bob", "title": "+1+cmd|' /C calc'!A0"},
    {"phone": "+16505550103", "first_name": "Cy", "title": "-2+3+cmd|' /C calc'!A0"},
    {"phone": "+16505550104", "first_name": "Di", "title": "x\x1b[2J\x1b[31mEVIL\x07"},
    {"phone": "+16505550105", "first_name": "Ed", "title": "Manager"},  # plain: stays in CSV
    {"phone": "+16505550106", "first_name": "Flo", "company": "-5"},  # a plain number: fine
]
FORMULA = re.compile(r"^[=+\-@\t\r]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def test_formula_and_control_cells_stay_in_the_yaml_and_round_trip(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(cli_env, [{"name": "A"}], HOSTILE, [(0, i) for i in range(len(HOSTILE))])
    monkeypatch.chdir(tmp_path)
    code, _out, err = run_cli(capsys, "export", "--out", "d", "--csv-over", "0")
    assert code == 0, err
    [csv_file] = list(Path("d").glob("*.csv"))
    raw = csv_file.read_bytes()
    assert not CONTROL.search(raw.decode()), raw
    rows = list(csv.reader(raw.decode().splitlines()))
    for row in rows[1:]:
        for cell in row:
            assert not FORMULA.match(cell) or re.fullmatch(r"[+-][0-9]+", cell), (cell, row)
    in_csv = {row[rows[0].index("phone")] for row in rows[1:]}
    assert in_csv == {"+16505550105", "+16505550106"}
    [manifest] = list(Path("d").glob("*.yaml"))
    doc = yaml.safe_load(manifest.read_text())
    inline = {n["phone"]: n for n in doc["campaigns"][0]["numbers"]}
    assert set(inline) == {f"+1650555010{i}" for i in range(5)}
    assert inline["+16505550104"]["title"] == "x\x1b[2J\x1b[31mEVIL\x07"  # exact, escaped
    assert "\x1b" not in manifest.read_text()
    round_trip(capsys, cli_env, Path("d"))


def test_one_person_with_two_sets_of_details_in_one_campaign_reads_right(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    first = seed(
        cli_env,
        [{"name": "A"}],
        [
            {"phone": "+16507991144", "first_name": "Joey", "title": "Manager"},
            {"phone": "+16507991144", "first_name": "Joey", "title": "Director"},
        ],
        [(0, 0), (0, 1)],
    )
    code, out, err = run_cli(capsys, "export")
    assert code == 1 and out == ""
    assert (
        f'error: +16507991144 (Joey) has two sets of details in campaign "A" (id {first}) '
        '(title "Director" vs "Manager")'
    ) in err
    assert "twice" not in err
