"""Stale saved plans and non-convergence, explained field by field (deepdiff)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from upcall_sync.client import CampaignAttributes, ContactAttributes, UpcallClient
from upcall_sync.emulator import Emulator
from upcall_sync.output.explain import contact_shape, differences

from .conftest import FAST_RETRY, ROOT, TOKEN, run_cli, write_manifest

V1 = """version: 1
contact_list: stale
defaults:
  from_number: "+16501231234"
campaigns:
  - name: st-one
    pitch: Be brief
    status: pending
    numbers:
      - {phone: "+16507991144", first_name: Joey, last_name: Smith, address: {city: Fremont}}
  - name: st-two
    pitch: Call after nine
    language: en
    status: pending
"""
# the plan of V2 updates both campaigns and Joey's list contact, and creates a campaign
V2 = (
    V1.replace("Be brief", "Be briefer")
    .replace("Call after nine", "Call after ten")
    .replace("last_name: Smith,", "last_name: Smith, title: Manager,")
    + "  - name: st-three\n    status: pending\n"
)


def writes(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method in ("POST", "PATCH"))


def ids(emulator: Emulator) -> tuple[str, str, str, str]:
    sql = emulator.store.sql
    one = sql("SELECT id FROM campaigns WHERE name = 'st-one'")[0]["id"]
    two = sql("SELECT id FROM campaigns WHERE name = 'st-two'")[0]["id"]
    contact = sql("SELECT id, list_id FROM list_contacts")[0]
    return str(one), str(two), str(contact["id"]), str(contact["list_id"])


@pytest.fixture
def saved_plan(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> tuple[Path, UpcallClient]:
    m = write_manifest(tmp_path / "m.yaml", V1)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, V2)
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(plan_file), str(m))[0] == 0
    return plan_file, UpcallClient.connect(cli_env.base_url, TOKEN, retry=FAST_RETRY)


def test_a_stale_plan_names_every_changed_field_with_before_and_after(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], saved_plan: tuple[Path, UpcallClient]
) -> None:
    plan_file, client = saved_plan
    one, two, contact, list_id = ids(cli_env)
    # out of band, after the plan: two campaigns and a list contact change
    client.update_campaign(one, CampaignAttributes(pitch="Out of band"))
    client.update_campaign(two, CampaignAttributes(language="fr", instructions="Ask for Sam"))
    client.update_contact(
        list_id,
        contact,
        ContactAttributes(email="joey@example.com", address={"city": "Berkeley"}),
    )
    before = writes(cli_env)
    code, out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 1
    assert out == ""  # refused before showing or applying anything
    assert writes(cli_env) == before
    lines = err.splitlines()
    by_campaign = {
        one: [f'campaign {one}: pitch "Be brief" -> "Out of band"'],
        two: [
            f'campaign {two}: instructions (empty) -> "Ask for Sam"',
            f'campaign {two}: language "en" -> "fr"',
        ],
    }
    expected = [line for cid in sorted(by_campaign, key=int) for line in by_campaign[cid]] + [
        f'list contact {contact}: address.city "Fremont" -> "Berkeley"',
        f'list contact {contact}: email (empty) -> "joey@example.com"',
    ]
    assert lines[:-1] == expected  # every difference on its own line, nothing else
    # updated_at moved too, but only with fields that say more
    assert "updated_at" not in err
    # every difference once, above a summary that counts them without naming them again
    assert lines[-1] == (
        "error: the live account changed since the plan was made: the 5 differences above; "
        "run plan again"
    )
    assert all(err.count(e) == 1 for e in expected)
    assert "Traceback" not in err
    assert (
        cli_env.store.sql("SELECT pitch FROM campaigns WHERE id = ?", (one,))[0]["pitch"]
        == "Out of band"
    )


def test_an_edit_the_plan_does_not_record_still_shows_by_its_updated_at(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], saved_plan: tuple[Path, UpcallClient]
) -> None:
    plan_file, client = saved_plan
    one, _two, _contact, _list = ids(cli_env)
    client.update_campaign(one, CampaignAttributes(from_number="+14155550100"))  # write-only
    code, _out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 1
    details = err.splitlines()[:-1]
    assert len(details) == 1 and details[0].startswith(f'campaign {one}: updated_at "')
    assert err.splitlines()[-1].endswith(": the 1 difference above; run plan again")


def test_a_campaign_the_plan_would_create_existing_now_is_named(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], saved_plan: tuple[Path, UpcallClient]
) -> None:
    plan_file, client = saved_plan
    client.create_campaign(CampaignAttributes(name="st-three", status="pending"))
    code, _out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 1
    assert err.splitlines()[0] == 'a campaign named "st-three" now exists'


def test_a_contact_whose_phone_changed_is_named(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], saved_plan: tuple[Path, UpcallClient]
) -> None:
    plan_file, client = saved_plan
    _one, _two, contact, list_id = ids(cli_env)
    client.update_contact(list_id, contact, ContactAttributes(phone="+14155550132"))
    code, _out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 1
    assert err.splitlines()[0] == (
        f'list contact {contact}: not found by its phone "+16507991144" '
        "(deleted, or its phone changed)"
    )


def test_differences_are_paths_with_before_and_after() -> None:
    before = contact_shape({"phone": "+16507991144", "city": "Fremont", "title": "Boss"})
    after = contact_shape({"phone": "+16507991144", "city": "Berkeley", "country": "US"})
    assert [str(d) for d in differences(before, after)] == [
        'address.city "Fremont" -> "Berkeley"',
        'address.country (empty) -> "US"',
        'title "Boss" -> (empty)',
    ]
    assert differences(before, before) == []


def test_deepdiff_stays_off_the_planning_path() -> None:
    """plan and apply import it only when a saved plan is stale or apply did not converge."""
    code = (
        "import sys, upcall_sync.cli, upcall_sync.jobs.sync, upcall_sync.core.planner, upcall_sync.jobs.planfile\n"
        "assert 'deepdiff' not in sys.modules, 'deepdiff imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "deepdiff" not in (ROOT / "upcall_sync" / "core" / "planner.py").read_text()
