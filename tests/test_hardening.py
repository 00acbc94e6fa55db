"""Defects found by trying upcall-sync as a new user (issue 10), each through the real CLI
against the emulator: targeted applies, interrupted applies, a person twice, old years."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from upcall_sync.emulator import Emulator

from .conftest import TOKEN, run_cli, write_manifest
from .helpers.accounts import duplicates

SHARED = """version: 1
contact_list: {list}
campaigns:
  - name: A
    numbers:
      - {{phone: "+16507991144", first_name: Joey, last_name: Smith, company: {company}}}
  - name: B
    numbers:
      - {{phone: "+16507991144", first_name: Joey, last_name: Smith, company: {company}}}
{extra}"""
MARCUS = '      - {phone: "+13125550176", first_name: Marcus, last_name: Bell}\n'


def _shared(path: Path, *, company: str = "Safeway", extra: str = "", lst: str = "L1") -> Path:
    return write_manifest(path, SHARED.format(company=company, extra=extra, list=lst))


def test_apply_target_converges_when_an_untargeted_campaign_shares_a_contact(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`apply --target A` changes Joey's contact, which B shares; B also has a pending
    change of its own. The convergence check re-plans with the apply's targets, so the
    targeted apply goes green (it used to exit 1: "did not converge")."""
    m = _shared(tmp_path / "m.yaml")
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    _shared(m, company="Kroger", extra=MARCUS)  # Marcus joins B: untargeted
    code, out, _err = run_cli(capsys, "apply", "--auto-approve", "--target", "A", str(m))
    assert code == 0, out
    assert "Converged" in out
    assert "Marcus" not in out  # B's own change was left alone
    # the same through a saved plan
    _shared(m, company="Costco", extra=MARCUS)
    plan_file = tmp_path / "a.plan"
    assert run_cli(capsys, "plan", "--target", "A", "--out", str(plan_file), str(m))[0] == 0
    code, out, _err = run_cli(capsys, "apply", str(plan_file))
    assert code == 0, out
    assert "Converged" in out


def _ready_campaigns(n: int, pitch: str = "Be friendly") -> str:
    body = "version: 1\ncampaigns:\n"
    for i in range(n):
        body += (
            f"  - name: c{i:02d}\n    status: ready\n    pitch: {pitch}\n    numbers:\n"
            f'      - {{phone: "+1415555{i:04d}", first_name: P{i}}}\n'
        )
    return body


def test_finishing_an_interrupted_apply_is_not_unsafe(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """30 campaigns, all `ready`: the first apply creates them (pending) but every number
    add fails, so none becomes ready. Running apply again must finish the job without
    --force; a manifest edit that rewrites 30 of 30 campaigns must still be refused."""
    m = write_manifest(tmp_path / "m.yaml", _ready_campaigns(30))
    cli_env.faults.add_rule("500", "POST", r"/campaigns/\d+/numbers", count=-1)
    code, _out, _err = run_cli(
        capsys, "apply", "--auto-approve", "--quiet", "--max-retry-time", "0.2", str(m)
    )
    cli_env.faults.clear()
    assert code == 1
    statuses = cli_env.store.sql("SELECT DISTINCT status FROM campaigns")
    assert statuses == [{"status": "pending"}]
    code, out, err = run_cli(capsys, "plan", str(m))
    assert code == 0 and "UNSAFE" not in out, out
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--quiet", str(m))
    assert code == 0, out + err
    assert cli_env.store.sql("SELECT DISTINCT status FROM campaigns") == [{"status": "ready"}]
    write_manifest(m, _ready_campaigns(30, pitch="Be brief"))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1
    assert "the plan updates 30 of 30 existing campaigns" in err and "--force" in err


def test_a_person_is_never_added_twice_when_details_cannot_change(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """After `contact_list:` changes, Joey's numbers were made from a contact of the old
    list. Editing his company must not add him again: the plan says why it cannot
    change those numbers, and adds nothing."""
    m = _shared(tmp_path / "m.yaml", lst="L1")
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    numbers = cli_env.store.sql("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"]
    _shared(m, lst="L2", company="Kroger")
    code, out, _err = run_cli(capsys, "plan", "--detailed-exitcode", str(m))
    assert code == 0, out  # nothing to change...
    assert "number to add" not in out
    assert "the API cannot edit a campaign number" in out  # ...and it says why
    assert 'company "Safeway" -> "Kroger"' in out
    assert 'no contact of list "L2" is this person' in out
    code, out, _err = run_cli(capsys, "plan", "--format", "json", str(m))
    assert '"kind": "unchangeable_numbers"' in out
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"] == numbers
    assert duplicates(cli_env)["numbers"] == []


def test_the_emulator_writes_four_digit_years(emulator: Emulator) -> None:
    resp = requests.post(
        emulator.base_url + "/campaigns",
        params={"auth_token": TOKEN},
        json={
            "data": {
                "type": "campaigns",
                "attributes": {"name": "old", "start_datetime": "0999-07-11T09:00:00Z"},
            }
        },
        timeout=5,
    )
    assert resp.status_code == 201
    assert resp.json()["data"]["attributes"]["start_datetime"] == "0999-07-11T09:00:00.000Z"
