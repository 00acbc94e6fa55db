"""Saved plans: the file round-trips, refuses to be misread, and refuses to go stale.

Stale-plan checks run through the real CLI (`plan --out`, then `apply FILE`)
against the emulator. The wording of the refusals is not pinned here (it
lists every difference, and may say more); what is: exit 1, nothing shown
or written, the phrase "changed since the plan was made" where the live
account changed, and the id or name of what changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.client import CampaignAttributes, ContactAttributes
from upcall_sync.emulator import Emulator, Faults
from upcall_sync.errors import PlanFileError
from upcall_sync.jobs.planfile import load_plan, save_plan
from upcall_sync.jobs.sync import PlanOptions, plan_paths

from .conftest import (
    CONFIRMED,
    OTHER_TOKEN,
    ROOT,
    TOKEN,
    connect,
    point_cli_at,
    run_cli,
    write_manifest,
    writes,
)

JOEY = '{phone: "+16507991144", first_name: Joey, last_name: Smith, title: Manager}'
JOEY2 = '{phone: "+16507991144", first_name: Joey, last_name: Smith, title: Director}'
MARCUS = '{phone: "+13125550176", first_name: Marcus}'
HEAD = "version: 1\ncontact_list: pf\ncampaigns:\n"
BASE = HEAD + f"  - name: pf-a\n    pitch: one\n    numbers: [{JOEY}]\n"
# changes pf-a's pitch, Joey's details (a live contact), and adds Marcus to pf-a
NEXT = HEAD + f"  - name: pf-a\n    pitch: two\n    numbers: [{JOEY2}, {MARCUS}]\n"
STALE = "changed since the plan was made"

Capsys = pytest.CaptureFixture[str]


def _id(emulator: Emulator, query: str, *params: Any) -> str:
    return str(emulator.store.sql(query, params)[0]["id"])


def _saved(cli_env: Emulator, capsys: Capsys, tmp_path: Path, first: str, then: str) -> Path:
    """Apply `first` (if any), then save a plan of `then`; returns the plan file."""
    manifest = tmp_path / "m.yaml"
    if first:
        write_manifest(manifest, first)
        assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
    write_manifest(manifest, then)
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(plan_file), str(manifest))[0] == 0
    return plan_file


def _refused(cli_env: Emulator, capsys: Capsys, plan_file: Path, *args: str) -> str:
    """apply FILE must exit 1 before showing or writing anything; returns stderr."""
    before = writes(cli_env)
    code, out, err = run_cli(capsys, "apply", *args, str(plan_file))
    assert code == 1, out + err
    assert out == ""
    assert writes(cli_env) == before
    # every difference on its own line, then the one-line error
    assert err.splitlines()[-1].startswith("error: ") and "Traceback" not in err
    return err


def _applied(emulator: Emulator, manifest: Path) -> bool:
    """Apply through the library (no CLI): for tests that use the library only."""
    from upcall_sync.jobs.sync import prepare_apply, run_apply

    client = connect(emulator)
    job = prepare_apply([str(manifest)], client, PlanOptions())
    return run_apply(client, job).converged


# -- the file itself ---------------------------------------------------------------


def test_save_and_load_round_trip(emulator: Emulator, tmp_path: Path) -> None:
    client = connect(emulator)
    manifest = write_manifest(tmp_path / "m.yaml", BASE)
    assert _applied(emulator, manifest)
    write_manifest(manifest, NEXT)
    planned = plan_paths([str(manifest)], client, PlanOptions(targets=("pf-a",)))
    assert {c.kind for c in planned.plan.changes} == {
        "update_campaign",
        "update_contact",
        "create_contact",
        "add_number",
    }
    path = tmp_path / "plan.json"
    save_plan(path, planned, client.transport.base_url)
    saved = load_plan(path)
    assert saved.plan == planned.plan
    assert [c.to_dict() for c in saved.plan.changes] == [c.to_dict() for c in planned.plan.changes]
    assert saved.base_url == emulator.base_url
    assert saved.files == planned.desired.files
    assert saved.digest == planned.desired.digest
    assert saved.options == {"prune": False, "targets": ["pf-a"]}
    cid = _id(emulator, "SELECT id FROM campaigns WHERE name = 'pf-a'")
    joey = _id(emulator, "SELECT id FROM list_contacts WHERE first_name = 'Joey'")
    assert set(saved.seen["campaigns"]) == {cid}
    assert saved.seen["campaigns"][cid]["pitch"] == "one"
    assert set(saved.seen["contacts"]) == {joey}
    assert saved.seen["absent_campaigns"] == []
    # an atomic write leaves no temporary file behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml", "plan.json"]


def test_saved_without_os_fchmod(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows before Python 3.13 has no `os.fchmod`: a plan is still saved, owner-only
    where modes apply (mkstemp makes it so), and applies."""
    monkeypatch.delattr("os.fchmod")
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    assert plan_file.stat().st_mode & 0o777 == 0o600
    assert run_cli(capsys, "apply", "--auto-approve", str(plan_file))[0] == 0


def _doc(plan_file: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(plan_file.read_text())
    return doc


def _with_checksum(body: dict[str, Any]) -> str:
    """What a plan file holds: the body and the SHA-256 of its canonical JSON."""
    body = {k: v for k, v in body.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps({**body, "checksum": hashlib.sha256(canonical.encode()).hexdigest()})


def test_an_edited_file_is_refused(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    doc = _doc(plan_file)
    doc["plan"]["changes"][0]["after"]["pitch"] = "edited"
    plan_file.write_text(json.dumps(doc))
    assert "checksum mismatch" in _refused(cli_env, capsys, plan_file)


def test_a_cut_short_file_is_refused(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    text = plan_file.read_text()
    plan_file.write_text(text[: len(text) * 2 // 3])
    assert "cut short" in _refused(cli_env, capsys, plan_file)


def test_another_format_version_is_refused(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    doc = _doc(plan_file)
    doc["format_version"] = 1  # before plans recorded their account
    plan_file.write_text(_with_checksum(doc))  # a valid file of another format
    err = _refused(cli_env, capsys, plan_file)
    assert "format 1 is not supported" in err and "run plan again" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"kind": "terraform-plan", "format_version": 1}', "not an upcall-sync plan file"),
        (b"[1, 2, 3]", "not an upcall-sync plan file"),
        (b"", "not JSON, or cut short"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
    ],
)
def test_files_that_are_not_plans_are_refused(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, content: bytes, message: str
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(content)
    assert message in _refused(cli_env, capsys, plan_file)


def test_a_well_formed_file_missing_a_part_is_malformed(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    doc = _doc(plan_file)
    del doc["plan"]["notices"]
    plan_file.write_text(_with_checksum(doc))
    assert "malformed" in _refused(cli_env, capsys, plan_file)
    doc = _doc(plan_file)
    doc["plan"]["notices"] = []
    doc["plan"]["changes"][0]["kind"] = "delete_account"
    plan_file.write_text(_with_checksum(doc))
    assert "delete_account" in _refused(cli_env, capsys, plan_file)


def test_unreadable_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PlanFileError, match="no such plan file"):
        load_plan(tmp_path / "missing.json")
    with pytest.raises(PlanFileError, match="is a directory"):
        load_plan(tmp_path)
    big = tmp_path / "big.json"
    big.write_text("{}" + " " * 3 * 1024 * 1024)
    monkeypatch.setattr("upcall_sync.jobs.planfile.MAX_PLAN_BYTES", 2 * 1024 * 1024)
    with pytest.raises(PlanFileError, match="too large"):
        load_plan(big)


def test_plan_out_where_no_file_can_be_written_is_one_line(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """It was "internal error: IsADirectoryError: ... '.dd.rgdcjip3.tmp' -> 'dd'"."""
    manifest = write_manifest(tmp_path / "m.yaml", BASE)
    (tmp_path / "dir").mkdir()
    for out, why in (
        (tmp_path / "dir", "it is a directory"),
        (tmp_path / "nowhere" / "p.json", "No such file or directory"),
    ):
        code, stdout, err = run_cli(capsys, "plan", "--out", str(out), str(manifest))
        assert code == 1 and stdout == ""
        assert err == f"error: {out}: cannot save the plan: {why}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "m.yaml"]
    assert list((tmp_path / "dir").iterdir()) == []


# -- stale plans: what the plan was made from ---------------------------------------


def test_another_base_url(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    with Emulator(tokens=[TOKEN], confirmed_numbers=["+16501231234"]) as other:
        err = _refused(cli_env, capsys, plan_file, "--api-url", other.base_url)
        assert not other.requests  # refused before a single request
    assert cli_env.base_url in err and other.base_url in err


def test_manifests_gone(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    (tmp_path / "m.yaml").unlink()
    assert "m.yaml" in _refused(cli_env, capsys, plan_file)


def test_a_plan_applied_from_another_directory_says_where_its_manifests_are(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It said "manifest m.yaml from the plan is gone" while m.yaml was there."""
    monkeypatch.chdir(tmp_path)
    write_manifest(tmp_path / "m.yaml", BASE)
    assert run_cli(capsys, "plan", "--out", "p.json", "m.yaml")[0] == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    err = _refused(cli_env, capsys, tmp_path / "p.json")
    assert err == (
        f"error: manifest m.yaml from the plan is not in {tmp_path / 'elsewhere'}: a plan "
        "names its manifests relative to the directory plan ran in; apply there, or plan "
        "again\n"
    )


def test_manifests_changed(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    write_manifest(tmp_path / "m.yaml", NEXT.replace("pitch: two", "pitch: three"))
    assert STALE in _refused(cli_env, capsys, plan_file)


def test_a_manifest_added_to_the_planned_directory_since_is_noticed(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A do-not-call list added beside the planned manifests must not be ignored: the
    plan file held the files found then, so apply FILE added Joey to a ready campaign
    that the new list forbids. A new YAML file that is no manifest changes nothing."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    write_manifest(folder / "m.yaml", BASE.replace("pitch: one", "pitch: one\n    status: ready"))
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(plan_file), "campaigns")[0] == 0
    (folder / "workflow.yaml").write_text("on: push\njobs: {}\n")
    (folder / "optouts.yaml").write_text('version: 1\ndo_not_call: ["+1 650 799 1144"]\n')
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and "campaigns/optouts.yaml is new" in err
    (folder / "optouts.yaml").unlink()
    code, out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 0, out + err


def test_a_plan_whose_files_are_not_under_its_paths_is_refused(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Action holds a plan artifact to its job's `path` by the file's recorded paths:
    a plan of campaigns/ and other/ whose paths were edited to say campaigns/ only (its
    checksum recomputed) applied other/'s campaign too (helper b70)."""
    monkeypatch.chdir(tmp_path)
    for folder, name in (("campaigns", "pf-a"), ("other", "pf-evil")):
        (tmp_path / folder).mkdir()
        write_manifest(tmp_path / folder / "m.yaml", BASE.replace("pf-a", name))
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(plan_file), "campaigns", "other")[0] == 0
    doc = _doc(plan_file)
    doc["manifests"]["paths"] = ["campaigns"]
    plan_file.write_text(_with_checksum(doc))
    err = _refused(cli_env, capsys, plan_file)
    assert err == (
        "error: plan file is malformed: it plans manifest other/m.yaml, which its paths "
        "(campaigns) do not hold; run plan again\n"
    )


def test_a_plan_saved_before_its_paths_were_recorded_still_applies(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, "", BASE)
    doc = _doc(plan_file)
    del doc["checksum"]
    del doc["manifests"]["paths"]
    plan_file.write_text(_with_checksum(doc))
    code, out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 0, out + err


# -- stale plans: the live account -------------------------------------------------


def test_a_campaign_changed(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    cid = _id(cli_env, "SELECT id FROM campaigns WHERE name = 'pf-a'")
    connect(cli_env).update_campaign(cid, CampaignAttributes(language="fr"))
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and cid in err


def test_a_campaign_gone(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    cid = _id(cli_env, "SELECT id FROM campaigns WHERE name = 'pf-a'")
    # the campaign leaves this account (the API has no DELETE: moved, as if by support)
    cli_env.store._write(
        "UPDATE campaigns SET account_id = ? WHERE id = ?", (cli_env.accounts[OTHER_TOKEN], cid)
    )
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and cid in err


def test_a_campaign_the_plan_creates_now_exists(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT + "  - name: pf-new\n")
    connect(cli_env).create_campaign(CampaignAttributes(name="pf-new"))
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and "pf-new" in err


def test_the_contact_list_the_plan_creates_now_exists(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, "", BASE)
    assert _doc(plan_file)["contact_list"] == {"name": "pf", "id": None}
    connect(cli_env).create_list("pf")
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and "pf" in err


def test_the_contact_list_is_gone(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    list_id = _id(cli_env, "SELECT id FROM lists WHERE name = 'pf'")
    cli_env.store._write(
        "UPDATE lists SET name = 'renamed in the dashboard' WHERE id = ?", (list_id,)
    )
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and list_id in err


def test_a_list_contact_changed(cli_env: Emulator, capsys: Capsys, tmp_path: Path) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    list_id = _id(cli_env, "SELECT id FROM lists WHERE name = 'pf'")
    joey = _id(cli_env, "SELECT id FROM list_contacts WHERE first_name = 'Joey'")
    connect(cli_env).update_contact(list_id, joey, ContactAttributes(company="Acme"))
    err = _refused(cli_env, capsys, plan_file)
    assert STALE in err and joey in err


def test_a_fresh_plan_applies_after_a_refusal(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """The refusal's advice works: plan again, apply the new file, converged."""
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    cid = _id(cli_env, "SELECT id FROM campaigns WHERE name = 'pf-a'")
    connect(cli_env).update_campaign(cid, CampaignAttributes(language="fr"))
    _refused(cli_env, capsys, plan_file)
    assert run_cli(capsys, "plan", "--out", str(plan_file), str(tmp_path / "m.yaml"))[0] == 0
    code, out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 0, err
    assert "Converged" in out
    assert (
        cli_env.store.sql("SELECT pitch FROM campaigns WHERE id = ?", (cid,))[0]["pitch"] == "two"
    )


def test_a_plan_applied_twice_says_nothing_is_left(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """A re-run CI job applies its saved plan a second time: still refused (the plan no
    longer describes the account), but said as what it is, not as drift to plan again."""
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    assert run_cli(capsys, "apply", str(plan_file))[0] == 0
    last = _refused(cli_env, capsys, plan_file).splitlines()[-1]
    assert last.startswith("error: the live account changed since the plan was made: the "), last
    assert last.endswith(
        "above; nothing is left to apply: a fresh plan of its manifests has no changes "
        "(was this plan applied already?)"
    ), last
    assert "run plan again" not in last
    code, out, _err = run_cli(capsys, "apply", "--format", "json", str(plan_file))
    error = json.loads(out)["error"]
    assert code == 1 and error["type"] == "StalePlan"
    assert error["message"].endswith("(was this plan applied already?)"), error
    # drift that leaves work to do still says to plan again
    cid = _id(cli_env, "SELECT id FROM campaigns WHERE name = 'pf-a'")
    connect(cli_env).update_campaign(cid, CampaignAttributes(pitch="edited by hand"))
    last = _refused(cli_env, capsys, plan_file).splitlines()[-1]
    assert last.endswith("run plan again") and "nothing is left" not in last, last


def test_a_plan_the_account_caught_up_with_unseen_says_nothing_is_left(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """Someone made the plan's one change by hand, where the saved plan's own checks do
    not look (a number added to the campaign): the fresh plan is empty, and said so."""
    plan_file = _saved(
        cli_env, capsys, tmp_path, BASE, BASE.replace(f"[{JOEY}]", f"[{JOEY}, {MARCUS}]")
    )
    manifest = tmp_path / "m.yaml"
    assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
    last = _refused(cli_env, capsys, plan_file).splitlines()[-1]
    assert last.endswith("(was this plan applied already?)"), last


def test_a_plan_whose_manifests_were_edited_back_is_not_called_applied(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """The plan was never applied: its manifest was edited back to what the account
    holds. A fresh plan is empty, yet the refusal is the manifests' edit: "run plan
    again", never "nothing is left to apply" (which says the plan's work is done)."""
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    write_manifest(tmp_path / "m.yaml", BASE)
    last = _refused(cli_env, capsys, plan_file).splitlines()[-1]
    assert last == "error: the manifests changed since the plan was made; run plan again", last
    code, out, _err = run_cli(capsys, "apply", "--format", "json", str(plan_file))
    assert code == 1 and "nothing is left" not in json.loads(out)["error"]["message"]


# -- a saved plan is an expectation: its account, and its changes re-derived ------------

OTHER = "  - name: pf-other\n    pitch: untouched\n"


def test_a_plan_made_for_one_account_is_refused_with_another_token(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """staging.plan made with the staging token, applied with the production token: the
    plan only creates (it read no live object), so only the fingerprint can tell."""
    plan_file = _saved(cli_env, capsys, tmp_path, "", BASE)
    doc = _doc(plan_file)
    fingerprint = doc["account"]["fingerprint"]
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert doc["plan"]["account"] == fingerprint
    assert TOKEN not in plan_file.read_text()
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", OTHER_TOKEN)
    err = _refused(cli_env, capsys, plan_file)
    assert "of another account" in err and "run plan again" in err
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)  # the right token still applies it
    code, out, err = run_cli(capsys, "apply", str(plan_file))
    assert code == 0 and "Converged" in out, err


def test_a_plan_made_with_a_read_only_token_of_the_account_says_so(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewed-plan example planned with read-only secrets and applied with the
    write token: always refused, as "made for another account", of the one account both
    tokens read. The ids the plan read tell them apart (helper b66)."""
    reader = "uctok_READONLY_5e1f0a9c7b3d"
    server = Emulator(
        tokens=[TOKEN, OTHER_TOKEN],
        read_only_tokens=[reader],
        confirmed_numbers=list(CONFIRMED),
        faults=Faults(),
    )
    with server:
        point_cli_at(server, monkeypatch)
        plan_file = _saved(server, capsys, tmp_path, BASE, NEXT)  # with TOKEN
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", reader)
        assert run_cli(capsys, "plan", "--out", str(plan_file), str(tmp_path / "m.yaml"))[0] == 0
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        last = _refused(server, capsys, plan_file).splitlines()[-1]
        assert last.startswith("error: the plan was made with another token of this account")
        assert "read-only" in last and "another account" not in last
        made_with = _doc(plan_file)["account"]["fingerprint"]
        assert f"--planned-with {made_with}" in last
        # not stale data but a job set up wrong: the Action's replan must not cover it
        code, out, _err = run_cli(capsys, "apply", "--format", "json", str(plan_file))
        assert code == 1 and json.loads(out)["error"]["type"] == "ForeignPlan"
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", OTHER_TOKEN)  # another account: as before
        last = _refused(server, capsys, plan_file).splitlines()[-1]
        assert "made for another account" in last, last
        # named, the read-only token's fingerprint does not let another account apply it
        last = _refused(server, capsys, plan_file, "--planned-with", made_with)
        assert (
            "the two tokens are not one account's; name this account's planning"
            in (last.splitlines()[-1])
        ), last
        # the write token of the account applies the plan its read-only token made
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("UPCALL_PLANNED_WITH", made_with)
        code, out, err = run_cli(capsys, "apply", str(plan_file))
        assert code == 0 and "Converged" in out, out + err
        pitch = server.store.sql("SELECT pitch FROM campaigns WHERE name = 'pf-a'")[0]["pitch"]
        assert pitch == "two"
    server.store.close()


def test_planned_with_takes_a_fingerprint_in_any_case_or_several_and_refuses_a_non_one(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UPCALL_PLANNED_WITH="<another>,<the planning token's>" and an upper-case copy were
    each refused as if no --planned-with had been given, and a fingerprint cut short was
    told to pass the flag it passed (helper b70). A value that is no fingerprint is named
    unless it may be a token (only a cut-short hex one is shown)."""
    reader = "uctok_READONLY_5e1f0a9c7b3d"
    server = Emulator(
        tokens=[TOKEN],
        read_only_tokens=[reader],
        confirmed_numbers=list(CONFIRMED),
        faults=Faults(),
    )
    with server:
        point_cli_at(server, monkeypatch)
        _saved(server, capsys, tmp_path, BASE, NEXT)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", reader)
        plan_file = tmp_path / "plan.json"
        assert run_cli(capsys, "plan", "--out", str(plan_file), str(tmp_path / "m.yaml"))[0] == 0
        made_with = _doc(plan_file)["account"]["fingerprint"]
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        for value, said in (
            (made_with[:8], f"--planned-with {made_with[:8]}: not an account fingerprint"),
            (reader, f"--planned-with ({len(reader)} characters): not an account fingerprint"),
            ("0" * 16, f"--planned-with names {'0' * 16}, not it"),
        ):
            last = _refused(server, capsys, plan_file, "--planned-with", value)
            assert said in last and reader not in last, last
        monkeypatch.setenv("UPCALL_PLANNED_WITH", f"{'0' * 16},{made_with.upper()}")
        code, out, err = run_cli(capsys, "apply", str(plan_file))
        assert code == 0 and "Converged" in out, out + err
    server.store.close()


def test_an_empty_account_s_first_plan_made_read_only_names_the_flag_that_applies_it(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewed-plan flow's first merge, UPCALL_PLANNED_WITH not set yet: the plan of
    an empty account read no campaign, so the refusal said "made for another account
    ...; run plan again", which no new plan fixes, and never named --planned-with as it
    does once the account holds campaigns (helper b71)."""
    reader = "uctok_READONLY_9d7b5f3e1c0a"
    cli_env.store.add_read_only_token(reader, cli_env.accounts[TOKEN])
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", reader)
    plan_file = _saved(cli_env, capsys, tmp_path, "", BASE)
    made_with = _doc(plan_file)["account"]["fingerprint"]
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    last = _refused(cli_env, capsys, plan_file).splitlines()[-1]
    assert "a read-only token of this account" in last, last
    assert f"with --planned-with {made_with}; else run plan again" in last, last
    code, out, err = run_cli(capsys, "apply", "--planned-with", made_with, str(plan_file))
    assert code == 0 and "Converged" in out, out + err


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["plan"]["changes"][1].update(campaign=7),
        lambda d: d["plan"]["changes"][1].update(live_id=7),
        lambda d: d["plan"]["dialing"][0]["same_line"].update(x=[None]),
        lambda d: d["plan"]["dialing"][0].update(added=[5]),
        lambda d: d["plan"]["dialing"][0].update(not_in_manifests=["+16507991144"]),
        # the Action reads its scope check from these: `1 is True` is no prune to it, and
        # pruned here (helper b70)
        lambda d: d["options"].update(prune=1),
        lambda d: d["options"].update(targets="pf-a"),
        lambda d: d["manifests"].update(paths="m.yaml"),
    ],
)
def test_a_hand_edited_plan_of_the_wrong_types_is_malformed_not_an_internal_error(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, edit: Any
) -> None:
    """A number where a saved plan holds text (its checksum recomputed): `show` said
    "internal error: TypeError: '<' not supported between instances of 'str' and 'int'"
    (helper b66)."""
    manifest = tmp_path / "m.yaml"
    write_manifest(manifest, HEAD + f"  - name: pf-a\n    status: ready\n    numbers: [{JOEY}]\n")
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(plan_file), str(manifest))[0] == 0
    doc = _doc(plan_file)
    edit(doc)
    plan_file.write_text(_with_checksum(doc))
    for args in (["show"], ["show", "--format", "markdown"], ["apply"]):
        code, out, err = run_cli(capsys, *args, str(plan_file))
        assert (code, out) == (1, ""), args
        [line] = err.strip().splitlines()
        assert line.startswith(f"error: {plan_file}: plan file is malformed ("), line
    assert writes(cli_env) == 0


def test_the_reviewed_plan_example_plans_read_only_and_names_that_token_to_apply() -> None:
    text = (ROOT / "examples" / "ci" / "reviewed-plan.yml").read_text()
    assert "read-only" in text
    assert "planned-with: ${{ vars.UPCALL_PLANNED_WITH }}" in text


def test_a_hand_edited_plan_with_its_checksum_recomputed_is_refused(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """An added update_campaign (archive pf-other, pitch TAMPERED) on a campaign the plan
    never read: a fresh plan of the manifests has no such change, so nothing applies."""
    plan_file = _saved(cli_env, capsys, tmp_path, BASE + OTHER, NEXT)
    other = _id(cli_env, "SELECT id FROM campaigns WHERE name = 'pf-other'")
    doc = _doc(plan_file)
    update = next(c for c in doc["plan"]["changes"] if c["kind"] == "update_campaign")
    forged = json.loads(json.dumps(update))
    forged.update(address="campaign.pf-other", campaign="pf-other", live_id=other)
    forged["before"] = {"pitch": "untouched", "status": "pending"}
    forged["after"] = {"pitch": "TAMPERED", "status": "archived"}
    doc["plan"]["changes"].append(forged)
    del doc["checksum"]
    plan_file.write_text(_with_checksum(doc))
    err = _refused(cli_env, capsys, plan_file)
    assert "does not match a fresh plan of its manifests" in err
    assert "campaign.pf-other" in err and "not in a fresh plan" in err
    [named] = [line for line in err.splitlines() if "campaign.pf-other" in line]
    assert not named.startswith("error:")  # named once, above the summary that counts it
    row = cli_env.store.sql("SELECT pitch, status FROM campaigns WHERE id = ?", (other,))[0]
    assert (row["pitch"], row["status"]) != ("TAMPERED", "archived")


def test_the_json_plan_names_its_account_by_a_one_way_fingerprint(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(tmp_path / "m.yaml", BASE)
    docs = []
    for token in (TOKEN, TOKEN, OTHER_TOKEN):
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", token)
        code, out, err = run_cli(capsys, "plan", "--format", "json", str(manifest))
        assert code == 0, err
        docs.append(json.loads(out))
    same, again, other = (d["account"] for d in docs)
    assert same == again != other  # stable per token, different per account
    assert all(len(a) == 16 and a == a.lower() for a in (same, other))


# -- break-it (bkb): what a hand-edited plan file can make apply print ---------------


def test_a_plan_file_naming_a_secret_file_as_its_manifest_quotes_none_of_it(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """The plan file comes from the PR job; its manifest list can name any file on the
    apply runner. Until a file is a manifest (a mapping), nothing of it is quoted."""
    plan_file = _saved(cli_env, capsys, tmp_path, "", BASE)
    secret = tmp_path / ".npmrc"
    secret.write_text("//registry.npmjs.org/:_authToken=npm_SECRETsecretSECRET\n")
    doc = _doc(plan_file)
    doc["manifests"]["files"] = [str(secret)]
    plan_file.write_text(_with_checksum(doc))
    before = writes(cli_env)
    code, out, err = run_cli(capsys, "apply", str(plan_file))
    assert (code, out, writes(cli_env)) == (1, "", before)
    assert "npm_SECRET" not in err and "registry" not in err and "Traceback" not in err
    assert ".npmrc:1:1" in err and "not quoted" in err


def test_a_plan_file_s_base_url_is_escaped_when_shown(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    plan_file = _saved(cli_env, capsys, tmp_path, "", BASE)
    doc = _doc(plan_file)
    doc["base_url"] += "\x1b]0;pwned\x07\x1b[31mEVIL"
    plan_file.write_text(_with_checksum(doc))
    err = _refused(cli_env, capsys, plan_file)
    assert "\x1b" not in err and "\x07" not in err
    assert "EVIL" in err  # named, escaped


def test_a_number_added_by_hand_to_a_campaign_the_plan_makes_ready_refuses_it(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """The reviewed plan sets pf-a ready with Joey in it. Someone then adds a person to
    pf-a in the dashboard: no change of the plan differs (status pending -> ready), yet
    applying it would call that person, whom no reviewer saw. Refused, naming them."""
    pending = BASE.replace("pitch: one", "pitch: one\n    status: pending")
    plan_file = _saved(cli_env, capsys, tmp_path, pending, pending.replace("pending", "ready"))
    cid = _id(cli_env, "SELECT id FROM campaigns WHERE name = 'pf-a'")
    client = connect(cli_env)
    list_id = _id(cli_env, "SELECT id FROM lists WHERE name = 'pf'")
    hand = client.create_contact(
        list_id, ContactAttributes(phone="+14155550197", first_name="Late", last_name="Hand")
    )
    client.add_number(cid, hand.id)

    err = _refused(cli_env, capsys, plan_file, "--auto-approve")

    assert "does not match a fresh plan of its manifests" in err
    assert f'campaign "pf-a" (id {cid}) starts calling the 2 numbers already in it, not 1' in err
    assert "+14155550197 (Late Hand): not in the manifests, nor in the plan file" in err
    status = cli_env.store.sql("SELECT status FROM campaigns WHERE id = ?", (cid,))[0]
    assert status["status"] == "pending"


def test_planned_with_on_an_empty_account_warns_that_it_cannot_check_the_account(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan that read no campaigns leaves nothing to tell two tokens' accounts apart:
    --planned-with is trusted, and apply says so (helper b70)."""
    server = Emulator(
        tokens=[TOKEN, OTHER_TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults()
    )
    with server:
        point_cli_at(server, monkeypatch)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", OTHER_TOKEN)
        plan_file = _saved(server, capsys, tmp_path, "", BASE)
        made_with = _doc(plan_file)["account"]["fingerprint"]
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        code, out, err = run_cli(capsys, "apply", "--planned-with", made_with, str(plan_file))
        assert code == 0, out + err
        assert f"cannot check that the token --planned-with names ({made_with})" in err, err
        # a warning as the tool's others read, not `WARNING upcall_sync.jobs.planfile:`
        assert "warning: the plan read no campaigns, so apply cannot check" in err, err
        assert "upcall_sync.jobs" not in err
    server.store.close()


def test_the_same_api_in_another_case_is_the_plan_s_api(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """HTTP://127.0.0.1:PORT is the API the plan was made against: a URL's scheme and
    host have no case (helper b72)."""
    plan_file = _saved(cli_env, capsys, tmp_path, BASE, NEXT)
    upper = cli_env.base_url.replace("http://", "HTTP://", 1)
    code, out, err = run_cli(capsys, "apply", "--api-url", upper, str(plan_file))
    assert code == 0 and "Converged" in out, out + err


def test_a_bad_upcall_planned_with_is_named_as_the_variable_not_the_flag(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job's environment sets UPCALL_PLANNED_WITH (the reviewed-plan example): a
    value cut short there was "--planned-with 5e1f0a9c: not an account fingerprint",
    naming a flag the job never passed."""
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns: []\n")
    monkeypatch.setenv("UPCALL_PLANNED_WITH", "5e1f0a9c")
    code, _out, err = run_cli(capsys, "apply", str(tmp_path / "m.yaml"))
    assert code == 1
    assert err.splitlines()[-1].startswith(
        "error: UPCALL_PLANNED_WITH 5e1f0a9c: not an account fingerprint"
    ), err
    code, _out, err = run_cli(capsys, "apply", "--planned-with", "5e1f", str(tmp_path / "m.yaml"))
    assert code == 1 and "error: --planned-with 5e1f: not an account" in err, err
