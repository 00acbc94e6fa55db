"""Helpful warnings in plans, through the real CLI: the manifests' warnings (a ready
campaign with no numbers) and a live campaign that looks renamed out of band."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from upcall_sync.core.model import DesiredState
from upcall_sync.emulator import Emulator
from upcall_sync.errors import Problem
from upcall_sync.jobs import sync

from .conftest import ROOT, TOKEN, run_cli, write_manifest

SCHEMA = json.loads((ROOT / "schema" / "plan.schema.json").read_text())

WARNING = "is ready, but the manifests give this campaign no numbers: it cannot dial"


def _with_warning_on(monkeypatch: pytest.MonkeyPatch, campaign: str) -> None:
    """Manifests whose loader warns about `campaign` (the manifest layer's part)."""
    real = sync.load_manifests

    def load(paths: Any) -> DesiredState:
        state = real(paths)
        [d] = [c for c in state.campaigns if c.name == campaign]
        warnings = (Problem(d.source, "campaigns[1].status", WARNING),)
        object.__setattr__(state, "warnings", warnings)
        return state

    monkeypatch.setattr(sync, "load_manifests", load)


TWO = """version: 1
campaigns:
  - name: Listed
    status: ready
    numbers: [{phone: "+16505550100", first_name: Ann}]
  - name: Empty
    status: ready
"""


def test_plan_shows_the_manifests_warnings_in_every_format(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = write_manifest(tmp_path / "m.yaml", TWO)
    _with_warning_on(monkeypatch, "Empty")
    expected = f"{m}:6:5: warning: campaigns[1].status: {WARNING}"

    code, out, err = run_cli(capsys, "plan", str(m))
    assert code == 0, err
    assert f"  ! {expected}\n" in out

    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    jsonschema.validate(json.loads(out), SCHEMA)
    [notice] = json.loads(out)["notices"]
    assert notice == {
        "kind": "warning",
        "address": 'campaign["Empty"]',
        "message": expected,
        "campaign": "Empty",
        "items": [],
    }

    code, out, _ = run_cli(capsys, "plan", "--format", "markdown", str(m))
    assert f"> [!WARNING]\n> {expected}\n" in out

    # a plan of the other campaign only does not warn about this one
    code, out, _ = run_cli(capsys, "plan", "--target", "Listed", str(m))
    assert code == 0 and "warning" not in out


def test_no_warning_when_the_live_campaign_has_numbers(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It can dial the numbers it has (the plan reports them as unmanaged)."""
    account = cli_env.store.add_account(TOKEN)
    cli_env.store.seed(
        account,
        campaigns=[{"name": "Empty", "status": "ready"}],
        list_name="elsewhere",
        contacts=[{"phone": "+16505550199"}],
        memberships=[(0, 0)],
    )
    m = write_manifest(tmp_path / "m.yaml", TWO)
    _with_warning_on(monkeypatch, "Empty")
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    assert code == 0
    assert [n["kind"] for n in json.loads(out)["notices"]] == ["unmanaged_numbers"]


def test_a_ready_campaign_without_numbers_is_warned_about_by_plan(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", TWO)
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    assert code == 0
    [notice] = json.loads(out)["notices"]
    assert notice["kind"] == "warning" and notice["campaign"] == "Empty"
    assert notice["message"].startswith(f"{m}:")
    assert "cannot dial" in notice["message"]


# -- renamed out of band ------------------------------------------------------------------

RENAMED = """version: 1
campaigns:
  - name: Spring survey
    pitch: Ask about the spring range
    language: en
    start_datetime: 2026-04-01T09:00:00-07:00
  - name: Other
    pitch: Something else
"""


def _seed(emulator: Emulator, *campaigns: dict[str, Any]) -> int:
    account = emulator.store.add_account(TOKEN)
    return int(emulator.store.seed(account, campaigns=list(campaigns))["first_campaign_id"])


LOOKALIKE = {
    "name": "Spring survey (old)",
    "pitch": "Ask about the spring range ",
    "language": "en",
    "start_datetime": "2026-04-01T16:00:00.000Z",
}


def test_a_campaign_renamed_in_upcall_gets_a_hint(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = _seed(cli_env, LOOKALIKE, {"name": "Unrelated", "pitch": "Unrelated pitch"})
    m = write_manifest(tmp_path / "m.yaml", RENAMED)

    code, out, err = run_cli(capsys, "plan", str(m))

    assert code == 0, err
    hint = (
        f'campaign "Spring survey" looks renamed from or to "Spring survey (old)" (id {first}), '
        'in the manifest or in Upcall: no live campaign is named "Spring survey", and '
        f'"Spring survey (old)" has its details but no manifest names it; pin `id: "{first}"` '
        "to rename it in place (as is, the plan creates a second campaign, and "
        '"Spring survey (old)" keeps calling its people)'
    )
    assert f"  ! {hint}\n" in out
    assert '+ campaign["Spring survey"]' in out  # the plan itself is unchanged
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    jsonschema.validate(json.loads(out), SCHEMA)
    kinds = [(n["kind"], n["campaign"]) for n in json.loads(out)["notices"]]
    assert kinds == [("renamed", "Spring survey")]  # "Unrelated" is not like "Other"

    # pinned, it is a rename back, and no hint
    pinned = RENAMED.replace(
        "  - name: Spring survey\n", f'  - name: Spring survey\n    id: "{first}"\n'
    )
    write_manifest(m, pinned)
    code, out, _ = run_cli(capsys, "plan", str(m))
    assert code == 0
    assert "looks renamed" not in out
    assert f'~ campaign["Spring survey"] (id {first})' in out
    assert 'name  "Spring survey (old)" -> "Spring survey"' in out


@pytest.mark.parametrize(
    "live",
    [
        [{**LOOKALIKE, "pitch": "Another pitch"}],  # other details
        [LOOKALIKE, {**LOOKALIKE, "name": "Spring survey (copy)"}],  # two lookalikes: no guess
        [{**LOOKALIKE, "status": "archived"}],  # archived: left behind on purpose
        [{**LOOKALIKE, "name": "Other"}],  # a manifest names it
    ],
)
def test_no_rename_hint_without_exactly_one_unclaimed_lookalike(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    live: list[dict[str, Any]],
) -> None:
    _seed(cli_env, *live)
    m = write_manifest(tmp_path / "m.yaml", RENAMED)
    code, out, _ = run_cli(capsys, "plan", str(m))
    assert code == 0
    assert "looks renamed" not in out


def test_no_rename_hint_and_no_extra_request_without_the_complete_listing(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One desired campaign is read by name: the hint would need the whole listing."""
    _seed(cli_env, LOOKALIKE)
    one = RENAMED.split("  - name: Other", maxsplit=1)[0]
    m = write_manifest(tmp_path / "m.yaml", one)
    before = len(cli_env.requests)
    code, out, _ = run_cli(capsys, "plan", str(m))
    assert code == 0
    assert "looks renamed" not in out
    campaigns = [r for r in cli_env.requests[before:] if r.api_path == "/campaigns"]
    assert [dict(r.query).get("name") for r in campaigns] == ["Spring survey"]  # by name only
