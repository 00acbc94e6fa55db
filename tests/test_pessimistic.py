"""plan and apply under every plausible reading of what the API reference leaves open.

The emulator plays each reading (`upcall_sync.emulator.PESSIMISTIC_MODES`); no
decision of the tool may rest on the emulator agreeing with the client. Each
test runs the real CLI (in-process) against an emulator in that mode.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.emulator import PESSIMISTIC_MODES, Emulator, Faults

from . import figures
from .conftest import CONFIRMED, OTHER_TOKEN, ROOT, TOKEN, run_cli
from .helpers.accounts import duplicates

MODES = sorted(PESSIMISTIC_MODES)


@contextlib.contextmanager
def _serving(monkeypatch: pytest.MonkeyPatch, **modes: Any) -> Iterator[Emulator]:
    """An emulator in the given reading, with the in-process CLI pointed at it."""
    emu = Emulator(
        tokens=[TOKEN, OTHER_TOKEN],
        confirmed_numbers=list(CONFIRMED),
        faults=Faults(retry_after=0, stall_seconds=1.5),
        **modes,
    )
    monkeypatch.chdir(os.getcwd())  # restored after the test; _examples moves into tmp_path
    monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    with emu:
        yield emu
    emu.store.close()


@pytest.fixture(params=MODES)
def mode_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with _serving(monkeypatch, **PESSIMISTIC_MODES[request.param]) as emu:
        yield emu


def _examples(tmp_path: Path) -> Path:
    """A copy of examples/ in the working directory (numbers_csv must stay inside it)."""
    os.chdir(tmp_path)
    copy = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", copy, ignore=shutil.ignore_patterns("ci"))
    return copy


def _numbers(emu: Emulator) -> int:
    return int(emu.store.sql("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"])


def test_apply_converges_and_a_detail_edit_never_adds_a_person_twice(
    mode_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Apply, plan empty; edit Joey's details (in both his campaigns); apply twice.

    Whether numbers show their contact live or kept a copy, the edit adds no number,
    both applies converge, and the second plan is empty (with a notice where the API
    kept the old details)."""
    examples = _examples(tmp_path)
    code, out, _err = run_cli(capsys, "apply", "--auto-approve", str(examples))
    assert code == 0, out
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(examples))[0] == 0
    before = _numbers(mode_env)
    manifest = examples / "campaigns.yaml"
    manifest.write_text(manifest.read_text().replace("title: Manager", "title: Head of Stores"))
    for _ in range(2):
        code, out, _err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 0, out
        assert "Converged" in out or "No changes" in out
    assert _numbers(mode_env) == before
    code, out, _err = run_cli(capsys, "plan", "--detailed-exitcode", str(examples))
    assert code == 0, out
    if mode_env.api.modes.numbers_copy_contacts:
        assert "the API cannot edit a campaign number" in out
        assert 'title "Manager" -> "Head of Stores"' in out
    assert duplicates(mode_env) == {"campaigns": [], "lists": [], "contacts": [], "numbers": []}


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.usefixtures("fast_cli_backoff")
def test_faults_converge_without_duplicates_in_every_mode(
    mode_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, seed: int
) -> None:
    """20% injected faults (429, 500, resets, lost writes): re-running apply converges,
    and nothing exists twice, under every reading."""
    examples = _examples(tmp_path)
    mode_env.faults = Faults(
        rate=0.2, kinds=("429", "500", "reset", "lost-write"), seed=seed, retry_after=0
    )
    for _ in range(4):
        code, _out, _err = run_cli(
            capsys, "apply", "--auto-approve", "--quiet", "--max-retry-time", "5", str(examples)
        )
        if code == 0:
            break
    mode_env.faults = Faults()
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(examples))[0] == 0
    assert duplicates(mode_env) == {"campaigns": [], "lists": [], "contacts": [], "numbers": []}
    figures.add("mode_fault_runs")


def test_lost_number_adds_with_another_duplicate_message_converge_in_one_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every number add commits and loses its answer once; the retry's 400 says
    "Number taken", a wording the client has never seen. One apply run converges."""
    with _serving(monkeypatch, duplicate_number_message="Number taken") as emu:
        emu.faults.add_rule("lost-write", "POST", r"/campaigns/\d+/numbers", count=-1)
        examples = _examples(tmp_path)
        code, out, _err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        emu.faults.clear()
        assert code == 0, out
        assert "Converged" in out
        lost = [r for r in emu.requests if r.fault == "lost-write"]
        assert lost and all(r.wrote for r in lost)
        assert duplicates(emu)["numbers"] == []
        assert run_cli(capsys, "plan", "--detailed-exitcode", str(examples))[0] == 0


def test_a_refused_number_add_is_looked_up_whatever_the_api_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone adds the number after `apply PLANFILE` checked the plan and before its
    POST; the API refuses the add with a message the client has never seen. The apply
    looks the number up instead of reading the message, finds it, and converges."""
    import upcall_sync.jobs.sync as sync

    with _serving(monkeypatch, duplicate_number_message="Number taken") as emu:
        examples = _examples(tmp_path)
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        manifest = examples / "campaigns.yaml"
        marcus = '      - {phone: "+1 312 555 0176", first_name: Marcus, last_name: Bell, company: Bell Hardware}\n'
        text = manifest.read_text()
        manifest.write_text(text.replace("    numbers_csv:", marcus + "    numbers_csv:", 1))
        plan_file = tmp_path / "add-marcus.plan"
        assert run_cli(capsys, "plan", "--out", str(plan_file), str(examples))[0] == 0
        db = emu.store.sql
        survey = db("SELECT id FROM campaigns WHERE name = 'Acme Q3 satisfaction survey'")[0]["id"]
        contact = db("SELECT id FROM list_contacts WHERE first_name = 'Marcus'")[0]["id"]
        real_apply = sync.apply_plan

        def add_out_of_band_first(*args: Any, **kwargs: Any) -> Any:
            emu.store.add_number(emu.accounts[TOKEN], survey, contact)
            return real_apply(*args, **kwargs)

        monkeypatch.setattr(sync, "apply_plan", add_out_of_band_first)
        code, out, _err = run_cli(capsys, "apply", str(plan_file))
        assert code == 0, out
        assert "Converged" in out
        refused = [r for r in emu.requests if r.method == "POST" and r.status == 400]
        assert len(refused) == 1
        assert duplicates(emu)["numbers"] == []


def test_without_contact_lists_plan_works_until_it_needs_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--no-lists`: campaigns alone still plan and apply; numbers to add fail in one
    line that says why (the inferred /lists endpoints are missing) and points at doctor."""
    with _serving(monkeypatch, no_lists=True):
        bare = tmp_path / "bare.yaml"
        bare.write_text("version: 1\ncampaigns:\n  - name: solo\n    pitch: hi\n")
        assert run_cli(capsys, "apply", "--auto-approve", str(bare))[0] == 0
        assert run_cli(capsys, "plan", "--detailed-exitcode", str(bare))[0] == 0
        code, out, err = run_cli(capsys, "plan", str(_examples(tmp_path)))
        assert code == 1 and out == ""
        assert err.count("\n") == 1
        assert "this API has no contact lists" in err and "upcall-sync doctor" in err
