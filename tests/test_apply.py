"""`upcall-sync apply` end to end against the emulator."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator, Faults
from upcall_sync.jobs.apply import Applier
from upcall_sync.jobs.sync import PlanOptions, plan_for
from upcall_sync.manifest import load_manifests

from . import figures
from .conftest import ROOT, TOKEN, connect, run_cli, write_manifest
from .helpers.accounts import duplicates, no_duplicates

EXAMPLES = str(ROOT / "examples")

V1 = """version: 1
contact_list: matrix
prune_scope: "mx-*"
defaults:
  from_number: "+16501231234"
campaigns:
  - name: mx-survey
    pitch: Be friendly
    status: ready
    numbers:
      - {phone: "+16507991144", first_name: Joey, last_name: Smith, title: Manager}
      - {phone: "+16507991144", first_name: Janie, last_name: Smith}
  - name: mx-renewals
    status: pending
    numbers:
      - {phone: "+16507991144", first_name: Joey, last_name: Smith, title: Manager}
  - name: mx-old
    status: paused
"""
# V2 touches every change kind: updates a campaign, renames one by id, changes a
# contact's details, adds numbers and a campaign, drops mx-old (archived with --prune).
V2 = """version: 1
contact_list: matrix
prune_scope: "mx-*"
defaults:
  from_number: "+16501231234"
campaigns:
  - name: mx-survey
    pitch: Be brief
    status: ready
    numbers:
      - {phone: "+16507991144", first_name: Joey, last_name: Smith, title: Director}
      - {phone: "+16507991144", first_name: Janie, last_name: Smith}
      - {phone: "+14155550132", extension: "204", first_name: Priya}
  - name: mx-renewals-2026
    id: "{renewals_id}"
    status: ready
    from_number: "+14155550100"
    numbers:
      - {phone: "+16507991144", first_name: Joey, last_name: Smith, title: Director}
      - {phone: "+13125550176", first_name: Marcus}
  - name: mx-winback
    numbers:
      - {phone: "+525555550148", first_name: Lucía}
"""


def test_examples_from_an_empty_account(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "apply", "--auto-approve", EXAMPLES)
    assert code == 0, err
    assert (
        "Apply complete: 3 campaigns created, 0 updated, 0 archived; 10 numbers added, 9 contacts created, 0 updated."
        in out
    )
    assert run_cli(capsys, "plan", "--detailed-exitcode", EXAMPLES)[0] == 0
    assert no_duplicates(cli_env)
    statuses = {
        r["name"]: r["status"] for r in cli_env.store.sql("SELECT name, status FROM campaigns")
    }
    assert statuses["Acme Q3 satisfaction survey"] == "ready"


def test_every_change_kind_converges(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", V1)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(m))[0] == 0
    renewals = cli_env.store.sql("SELECT id FROM campaigns WHERE name = 'mx-renewals'")[0]["id"]

    write_manifest(m, V2.replace("{renewals_id}", str(renewals)))
    code, out, _ = run_cli(capsys, "plan", "--prune", "--format", "json", str(m))
    assert code == 0
    kinds = {c["kind"] for c in json.loads(out)["changes"]}
    assert kinds == {
        "create_campaign",
        "update_campaign",
        "create_contact",
        "update_contact",
        "add_number",
        "archive_campaign",
    }
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--prune", str(m))
    assert code == 0, out + err
    assert run_cli(capsys, "plan", "--prune", "--detailed-exitcode", str(m))[0] == 0
    rows = {r["name"]: r for r in cli_env.store.sql("SELECT * FROM campaigns")}
    assert rows["mx-old"]["status"] == "archived"
    assert (
        rows["mx-renewals-2026"]["id"] == renewals
        and rows["mx-renewals-2026"]["from_number"] == "+14155550100"
    )
    assert rows["mx-survey"]["pitch"] == "Be brief"
    titles = {
        r["title"]
        for r in cli_env.store.sql("SELECT title FROM list_contacts WHERE first_name = 'Joey'")
    }
    assert titles == {"Director"}
    assert no_duplicates(cli_env)


def test_a_new_ready_campaign_gets_every_number_before_it_is_made_ready(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", "--auto-approve", EXAMPLES)[0] == 0
    cid = cli_env.store.sql("SELECT id FROM campaigns WHERE name = 'Acme Q3 satisfaction survey'")[
        0
    ]["id"]
    log = cli_env.requests
    posts = [
        r.seq
        for r in log
        if r.method == "POST" and r.api_path == f"/campaigns/{cid}/numbers" and r.status == 201
    ]
    created = [
        r for r in log if r.method == "POST" and r.api_path == "/campaigns" and r.status == 201
    ]
    ready = [r.seq for r in log if r.method == "PATCH" and r.api_path == f"/campaigns/{cid}"]
    assert len(posts) == 7 and len(ready) == 1
    assert max(posts) < ready[0]
    assert len(created) == 3  # and every campaign was created pending (checked via the store below)
    assert (
        cli_env.store.sql("SELECT status FROM campaigns WHERE id = ?", (cid,))[0]["status"]
        == "ready"
    )


def test_a_failing_change_reports_the_manifest_line_and_the_rest_applies(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = (
        "version: 1\ncampaigns:\n"
        '  - name: good\n    numbers: [{phone: "+16507991144", first_name: Joey}]\n'
        '  - name: bad\n    from_number: "+16509999999"\n'
        '    numbers: [{phone: "+14155550132", first_name: Priya}]\n'
    )
    m = write_manifest(tmp_path / "m.yaml", body)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1
    assert "Traceback" not in err
    assert f"{m.resolve()}:6:18: from_number: Couldn't find that number (HTTP 400)" in out
    assert "Skipped (depends on a change that did not happen) (1):" in out
    assert (
        'add campaign["bad"].number["+14155550132 (Priya)"]: needs create campaign["bad"], which failed'
        in out
    )
    assert "Apply failed: 1 campaign created" in out
    assert [r["name"] for r in cli_env.store.sql("SELECT name FROM campaigns")] == ["good"]
    # fixing the manifest and applying again completes the rest
    write_manifest(m, body.replace("+16509999999", "+16501231234"))
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(m))[0] == 0


def test_fail_fast_starts_nothing_after_a_failure(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = "version: 1\ncampaigns:\n" + "".join(
        f'  - name: c{i}\n    from_number: "+16509999999"\n' for i in range(20)
    )
    m = write_manifest(tmp_path / "m.yaml", body)
    code, out, _ = run_cli(
        capsys, "apply", "--auto-approve", "--fail-fast", "--parallelism", "2", str(m)
    )
    assert code == 1
    posts = [r for r in cli_env.requests if r.method == "POST"]
    assert len(posts) <= 3  # the first failure, and what was already in flight
    assert "Not attempted" in out


def test_apply_without_a_terminal_or_auto_approve_refuses(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(capsys, "apply", EXAMPLES)
    assert code == 1
    assert "pass --auto-approve" in err
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


def test_unsafe_plan_needs_force(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = "version: 1\ncampaigns:\n" + "".join(
        f"  - name: c{i}\n    pitch: one\n" for i in range(10)
    )
    m = write_manifest(tmp_path / "m.yaml", base)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, base.replace("pitch: one", "pitch: two"))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1 and "UNSAFE" in out and "--force" in err
    assert {r["pitch"] for r in cli_env.store.sql("SELECT pitch FROM campaigns")} == {"one"}
    assert run_cli(capsys, "apply", "--auto-approve", "--force", str(m))[0] == 0


# -- saved plans ------------------------------------------------------------------


def test_saved_plan_applies_exactly_and_is_private(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(out_file), EXAMPLES)[0] == 0
    assert stat.S_IMODE(os.stat(out_file).st_mode) == 0o600
    text = out_file.read_text()
    assert TOKEN not in text
    assert json.loads(text)["base_url"] == cli_env.base_url
    code, out, err = run_cli(capsys, "apply", str(out_file))
    assert code == 0, err
    assert "Converged" in out
    assert run_cli(capsys, "plan", "--detailed-exitcode", EXAMPLES)[0] == 0


def test_stale_saved_plan_is_refused_and_changes_nothing(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_cli(capsys, "apply", "--auto-approve", EXAMPLES)[0] == 0
    monkeypatch.chdir(tmp_path)  # a numbers_csv must lie inside the working directory
    m = tmp_path / "m"
    m.mkdir()
    (m / "contacts").mkdir()
    (m / "contacts" / "q3-followups.csv").write_text(
        (ROOT / "examples/contacts/q3-followups.csv").read_text()
    )
    text = (
        (ROOT / "examples/campaigns.yaml")
        .read_text()
        .replace("pitch: Be friendly", "pitch: Be warm")
    )
    (m / "campaigns.yaml").write_text(text)
    out_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(out_file), str(m))[0] == 0
    # someone changes the campaign in the dashboard after the plan
    cid = cli_env.store.sql("SELECT id FROM campaigns WHERE name = 'Acme Q3 satisfaction survey'")[
        0
    ]["id"]
    client = connect(cli_env)
    from upcall_sync.client import CampaignAttributes

    client.update_campaign(str(cid), CampaignAttributes(language="fr"))
    before = len([r for r in cli_env.requests if r.method in ("POST", "PATCH")])
    code, out, err = run_cli(capsys, "apply", str(out_file))
    assert code == 1
    assert out == ""  # refused before showing or applying anything
    assert f'campaign {cid}: language "en" -> "fr"' in err.splitlines()
    assert len([r for r in cli_env.requests if r.method in ("POST", "PATCH")]) == before
    assert (
        cli_env.store.sql("SELECT pitch FROM campaigns WHERE id = ?", (cid,))[0]["pitch"]
        == "Be friendly"
    )


def test_saved_plan_checks_manifests_url_version_and_integrity(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", V1)
    out_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(out_file), str(m))[0] == 0
    original = out_file.read_text()

    write_manifest(m, V1.replace("Be friendly", "Be kind"))
    code, _, err = run_cli(capsys, "apply", str(out_file))
    assert code == 1 and "manifests changed since the plan" in err
    write_manifest(m, V1)

    doc = json.loads(original)
    doc["plan"]["changes"][0]["after"]["name"] = "tampered"
    out_file.write_text(json.dumps(doc))
    code, _, err = run_cli(capsys, "apply", str(out_file))
    assert code == 1 and "edited or corrupted" in err

    doc = json.loads(original)
    doc["format_version"] = 99
    out_file.write_text(json.dumps(doc))
    code, _, err = run_cli(capsys, "apply", str(out_file))
    assert code == 1 and "format 99 is not supported" in err

    out_file.write_text(original[: len(original) // 2])
    code, _, err = run_cli(capsys, "apply", str(out_file))
    assert code == 1 and "not JSON, or cut short" in err

    out_file.write_text(original)
    with Emulator(tokens=[TOKEN], confirmed_numbers=["+16501231234"]) as other:
        code, _, err = run_cli(capsys, "apply", "--api-url", other.base_url, str(out_file))
    assert code == 1 and f"made against {cli_env.base_url}" in err
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


# -- faults: converge, never duplicate ------------------------------------------------


def _converge_under_faults(
    emulator: Emulator, seed: int, rate: float, kinds: tuple[str, ...]
) -> int:
    emulator.faults = Faults(rate=rate, kinds=kinds, seed=seed, retry_after=0, stall_seconds=1.5)
    client = connect(emulator)
    runs = 0
    for _ in range(3):
        runs += 1
        planned = plan_for(load_manifests([EXAMPLES]), client, PlanOptions())
        if planned.plan.empty:
            break
        report = Applier(client, planned.plan).run()
        if report.ok:
            break
    emulator.faults = Faults()
    return runs


@pytest.mark.parametrize("seed", range(20))
def test_apply_under_20_percent_faults_converges_without_duplicates(
    emulator: Emulator, seed: int
) -> None:
    runs = _converge_under_faults(emulator, seed, 0.2, ("429", "500", "reset", "lost-write"))
    client = connect(emulator)
    final = plan_for(load_manifests([EXAMPLES]), client, PlanOptions()).plan
    faulted = [r.fault for r in emulator.requests if r.fault]
    print(
        f"seed {seed}: {runs} run(s), {len(emulator.requests)} requests, faults: "
        f"{ {k: faulted.count(k) for k in set(faulted)} }"
    )
    dups = duplicates(emulator)
    figures.add("fault_seed_runs")
    figures.add("faults_injected", len(faulted))
    figures.add("fault_seed_duplicates", sum(len(v) for v in dups.values()))
    assert final.empty, [c.one_line() for c in final.changes]
    assert dups == {"campaigns": [], "lists": [], "contacts": [], "numbers": []}
    assert faulted
    figures.add("fault_seed_converged")


@pytest.mark.usefixtures("fast_cli_backoff")
def test_cli_apply_under_faults_reruns_until_converged(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.faults = Faults(
        rate=0.2, kinds=("429", "500", "reset", "lost-write"), seed=3, retry_after=0
    )
    codes = []
    for _ in range(3):
        code, out, err = run_cli(capsys, "apply", "--auto-approve", EXAMPLES)
        codes.append(code)
        if code == 0:
            break
    cli_env.faults = Faults()
    assert codes[-1] == 0, out + err
    assert run_cli(capsys, "plan", "--detailed-exitcode", EXAMPLES)[0] == 0
    assert no_duplicates(cli_env)


def test_a_changed_address_part_sends_the_whole_address(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The inferred contact PATCH may replace the address object: send all of it."""
    body = (
        "version: 1\ncampaigns:\n  - name: a\n    numbers:\n"
        '      - {phone: "+16507991144", first_name: Joey, address: {line1: 1 Main St, city: Fremont, country: US}}\n'
    )
    m = write_manifest(tmp_path / "m.yaml", body)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, body.replace("Fremont", "Oakland"))
    from upcall_sync.core.model import Contact
    from upcall_sync.jobs.writes import contact_update

    person = Contact(
        "+16507991144", first_name="Joey", line1="1 Main St", city="Oakland", country="US"
    )
    from upcall_sync.core.changes import UpdateContact

    change = UpdateContact(
        address="c", live_id="1", contact=person, current=person._replace(city="Fremont")
    )
    attrs = contact_update(change)
    assert attrs.address == {
        "recipient": None,
        "line1": "1 Main St",
        "line2": None,
        "city": "Oakland",
        "region": None,
        "postal_code": None,
        "country": "US",
    }
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    row = cli_env.store.sql("SELECT line1, city, country FROM list_contacts")[0]
    assert row == {"line1": "1 Main St", "city": "Oakland", "country": "US"}
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(m))[0] == 0
