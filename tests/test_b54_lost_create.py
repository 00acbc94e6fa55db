"""Break-it b54: a create whose answer is lost is looked up by name before it is sent
again; the look-up must never take a campaign that was there before the run (an
archived one of the same name: the do-not-call resume flow) for the one it made. It
did: apply then filled the archived campaign and set it `ready`, calling the person
who had opted out."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator, Faults

from .conftest import CONFIRMED, ROOT, TOKEN, point_cli_at, run_cli

SURVEY = "Acme Q3 satisfaction survey"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    server = Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults(retry_after=0)
    )
    point_cli_at(server, monkeypatch)
    with server:
        yield server
    server.store.close()


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", copy, ignore=shutil.ignore_patterns("ci"))
    return copy


def _survey(emu: Emulator) -> list[tuple[int, str]]:
    rows = emu.store.sql("SELECT id, status FROM campaigns WHERE name = ? ORDER BY id", (SURVEY,))
    return [(int(r["id"]), str(r["status"])) for r in rows]


def test_a_lost_create_never_takes_the_archived_campaign_of_its_name_for_its_own(
    emu: Emulator, examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    with (examples / "campaigns.yaml").open("a") as f:
        f.write('do_not_call:\n  - "+1 415 555 0132"\n')  # Priya opts out
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    [(old, status)] = _survey(emu)
    assert status == "paused"
    # the README's resume: archive it in Upcall, then apply (it is created anew)
    emu.store.sql("UPDATE campaigns SET status = 'archived' WHERE id = ?", (old,))
    emu.faults.add_rule("500", "POST", r"/campaigns$")  # the create's answer is lost
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
    survey = dict(_survey(emu))
    assert survey[old] == "archived", out + err  # never set ready: it holds Priya
    new = [cid for cid in survey if cid != old]
    assert len(new) == 1 and survey[new[0]] == "ready", out + err
    assert code == 0, out + err
