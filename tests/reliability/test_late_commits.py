"""Writes the API commits after the client stopped waiting (issue 19, item 3).

The emulator holds every Nth POST (`late_commit_every`) for `commit_delay` seconds
before handling it; with a shorter `--timeout` the client gives up, looks, finds
nothing, and would POST again. apply must watch for the late write within its
window; past the window, the convergence check must find the duplicate and fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.jobs import posting as posting_module

from .. import figures
from ..conftest import CONFIRMED, TOKEN, run_cli, write_manifest

#: the look-up window after a timed-out POST is `--timeout` plus a margin (5 s); the
#: tests of a write landing past it shorten the margin, and land the write 0.5 s past
#: the window's end, as they did at 5 s (7.5 s after a 1 s timeout)
SHORT_MARGIN = 1.5
PAST_THE_WINDOW = 1 + 1 + SHORT_MARGIN + 0.5

MANIFEST = """version: 1
contact_list: late
defaults:
  from_number: "+16501231234"
campaigns:
  - name: SP D
    numbers:
      - {phone: "+16507991144", first_name: Joey}
      - {phone: "+14155550132", first_name: Priya}
      - {phone: "+13125550176", first_name: Marcus}
"""


def _copies(emulator: Emulator) -> dict[str, int]:
    db = emulator.store.sql
    return {
        "campaigns": db("SELECT COUNT(*) n FROM campaigns WHERE name = 'SP D'")[0]["n"],
        "lists": db("SELECT COUNT(*) n FROM lists WHERE name = 'late'")[0]["n"],
        "contacts": db("SELECT COUNT(*) n FROM list_contacts")[0]["n"],
        "numbers": db("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"],
    }


def test_a_post_committed_after_the_timeout_is_found_not_sent_again(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every 2nd POST lands 2.5 s late, after a 1 s timeout: apply looks again within
    its window (timeout + 5 s), finds each one, and sends nothing twice."""
    cli_env.faults.late_commit_every = 2
    cli_env.faults.commit_delay = 2.5
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--timeout", "1", str(m))
    late = [r for r in cli_env.requests if r.fault == "late-commit"]
    figures.add("late_commits", len(late))
    copies = _copies(cli_env)
    if copies != {"campaigns": 1, "lists": 1, "contacts": 3, "numbers": 3}:
        figures.add("late_commits_let_through")
    assert len(late) >= 3, "the emulator held too few POSTs for the test to mean anything"
    assert copies == {"campaigns": 1, "lists": 1, "contacts": 3, "numbers": 3}, out + err
    assert code == 0, out + err
    assert "Converged" in out
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(m))[0] == 0


def test_a_write_that_lands_after_the_window_is_named_as_a_duplicate(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The campaign POST lands 4 s late, after the 1 s timeout and the 2.5 s window
    (the margin cut from 5 s to 1.5 s, for the suite's time): apply sends it again (it
    cannot know), and the convergence check finds two campaigns named "SP D", names
    both ids and the procedure, and exits 1."""
    monkeypatch.setattr(posting_module, "LATE_COMMIT_MARGIN", SHORT_MARGIN)
    cli_env.faults.add_rule("late-commit", "POST", r"/campaigns", count=1)
    cli_env.faults.commit_delay = PAST_THE_WINDOW
    m = write_manifest(
        tmp_path / "m.yaml", 'version: 1\ncampaigns:\n  - name: SP D\n    pitch: "hi"\n'
    )
    code, out, err = run_cli(
        capsys, "apply", "--auto-approve", "--timeout", "1", "--format", "json", str(m)
    )
    ids = [str(r["id"]) for r in cli_env.store.sql("SELECT id FROM campaigns ORDER BY id")]
    assert len(ids) == 2  # the late write and the second POST: the duplicate happened
    figures.add("late_commits")
    if code != 1 or "Duplicates:" not in err:
        figures.add("late_commits_let_through")  # a duplicate, and apply said nothing
    assert code == 1, err
    assert "Converged" not in err
    assert "Duplicates: 1 object this run created exists more than once" in err
    assert f'campaign "SP D": ids {ids[0]}, {ids[1]}' in err
    assert "README, 'Duplicates after a timeout'" in err
    doc = json.loads(out)
    assert doc["result"] == "not_converged", doc["error"]
    assert doc["convergence"]["converged"] is False
    (dup,) = doc["convergence"]["duplicates"]
    assert dup["kind"] == "campaign" and dup["ids"] == ids and dup["keep"] in ids


def test_a_late_write_under_a_name_the_server_normalizes_is_named_as_a_duplicate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stores "SP  D" as "SP D" (CONTRACT.md's normalized names): the look for
    duplicates asked `?name=SP  D` and compared names exactly, found nothing, and apply
    said 'Converged' beside two campaigns that a plan then refused."""
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), normalize_names=True) as emu:
        monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        monkeypatch.setattr(posting_module, "LATE_COMMIT_MARGIN", SHORT_MARGIN)
        emu.faults.add_rule("late-commit", "POST", r"/campaigns", count=1)
        emu.faults.commit_delay = PAST_THE_WINDOW
        m = write_manifest(
            tmp_path / "m.yaml", 'version: 1\ncampaigns:\n  - name: "SP  D"\n    pitch: "hi"\n'
        )
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "--timeout", "1", str(m))
        ids = [str(r["id"]) for r in emu.store.sql("SELECT id FROM campaigns ORDER BY id")]
        assert len(ids) == 2  # the late write and the second POST
        assert code == 1, out + err
        assert "Converged" not in out + err
        assert f'campaign "SP  D": ids {ids[0]}, {ids[1]}' in out + err
        emu.store.close()
