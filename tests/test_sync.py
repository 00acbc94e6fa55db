"""The main job as a library: prepare_apply, run_apply, convergence, and the branches
that only misbehaving worlds reach (a lost answer to a number add, a write the API
acknowledges but drops)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.client import UpcallClient
from upcall_sync.core.changes import (
    ArchiveCampaign,
    CreateCampaign,
    FieldChange,
    Plan,
    UpdateCampaign,
    UpdateContact,
)
from upcall_sync.core.model import Contact, DesiredCampaign, DesiredNumber, DesiredState
from upcall_sync.emulator import Emulator, Faults
from upcall_sync.emulator.store import PageResult
from upcall_sync.errors import Location, UnsafePlan, UsageError
from upcall_sync.jobs.planfile import save_plan
from upcall_sync.jobs.sync import (
    PlanOptions,
    plan_paths,
    prepare_apply,
    run_apply,
    touched_campaigns,
)

from .conftest import CONFIRMED, TOKEN, connect, run_cli, write_manifest, writes
from .helpers.accounts import duplicates

JOEY = '{phone: "+16507991144", first_name: Joey, last_name: Smith, title: Manager}'
JOEY2 = '{phone: "+16507991144", first_name: Joey, last_name: Smith, title: Director}'
MARCUS = '{phone: "+13125550176", first_name: Marcus}'
HEAD = 'version: 1\ncontact_list: sy\nprune_scope: "sy-*"\ncampaigns:\n'
NO_DUPLICATES = {"campaigns": [], "lists": [], "contacts": [], "numbers": []}

Capsys = pytest.CaptureFixture[str]


def _apply(client: UpcallClient, manifest: Path, **options: Any) -> None:
    job = prepare_apply([str(manifest)], client, PlanOptions(**options))
    assert run_apply(client, job).converged


def _pitch(emulator: Emulator, name: str) -> str:
    return str(
        emulator.store.sql("SELECT pitch FROM campaigns WHERE name = ?", (name,))[0]["pitch"]
    )


# -- prepare_apply ---------------------------------------------------------------------


def test_manifests_make_a_fresh_plan(client: UpcallClient, tmp_path: Path) -> None:
    m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n")
    job = prepare_apply([str(m)], client, PlanOptions())
    assert not job.saved
    assert job.options == PlanOptions()
    assert [c.kind for c in job.plan.changes] == ["create_campaign"]
    assert [c.name for c in job.desired.campaigns] == ["sy-a"]


def test_a_saved_plan_brings_its_own_options_and_manifests(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n  - name: sy-b\n")
    planned = plan_paths([str(m)], client, PlanOptions(targets=("sy-b",)))
    plan_file = tmp_path / "plan.json"
    save_plan(plan_file, planned, emulator.base_url)
    job = prepare_apply([str(plan_file)], client, PlanOptions())
    assert job.saved
    assert job.plan == planned.plan
    assert job.options == PlanOptions(targets=("sy-b",))
    assert [c.name for c in job.desired.campaigns] == ["sy-a", "sy-b"]
    assert job.desired.digest == planned.desired.digest
    outcome = run_apply(client, job)
    assert outcome.converged
    assert [r["name"] for r in emulator.store.sql("SELECT name FROM campaigns")] == ["sy-b"]


def test_a_plan_file_must_be_the_only_argument(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n")
    plan_file = tmp_path / "plan.json"
    save_plan(plan_file, plan_paths([str(m)], client, PlanOptions()), emulator.base_url)
    before = len(emulator.requests)
    for args in ([str(plan_file), str(m)], [str(m), str(plan_file)]):
        with pytest.raises(UsageError, match="must be the only argument") as caught:
            prepare_apply(args, client, PlanOptions())
        assert str(plan_file) in str(caught.value)
    assert len(emulator.requests) == before  # refused before reading anything


@pytest.mark.parametrize(
    "options", [PlanOptions(prune=True), PlanOptions(targets=("sy-a",))], ids=["prune", "target"]
)
def test_prune_and_targets_are_fixed_in_a_saved_plan(
    emulator: Emulator, client: UpcallClient, tmp_path: Path, options: PlanOptions
) -> None:
    m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n")
    plan_file = tmp_path / "plan.json"
    save_plan(plan_file, plan_paths([str(m)], client, PlanOptions()), emulator.base_url)
    with pytest.raises(UsageError, match="fixed when a plan is saved") as caught:
        prepare_apply([str(plan_file)], client, options)
    assert "--" not in str(caught.value)  # the library names no flag


def test_a_manifest_that_happens_to_be_a_file_is_not_a_plan(
    client: UpcallClient, tmp_path: Path
) -> None:
    one = write_manifest(tmp_path / "a.yml", HEAD + "  - name: sy-a\n")
    two = write_manifest(tmp_path / "b.yaml", "version: 1\ncontact_list: sy\ncampaigns: []\n")
    job = prepare_apply([str(one), str(two)], client, PlanOptions())
    assert not job.saved and len(job.desired.files) == 2


# -- run_apply -------------------------------------------------------------------------


def test_unsafe_plans_are_refused_unless_forced(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    base = HEAD + "".join(f"  - name: sy-{i}\n    pitch: one\n" for i in range(10))
    m = write_manifest(tmp_path / "m.yaml", base)
    _apply(client, m)
    write_manifest(m, base.replace("pitch: one", "pitch: two"))
    job = prepare_apply([str(m)], client, PlanOptions())
    assert job.plan.unsafe
    before = writes(emulator)
    with pytest.raises(UnsafePlan, match="unsafe plan"):
        run_apply(client, job)
    assert writes(emulator) == before
    assert run_apply(client, job, force=True).converged
    assert {r["pitch"] for r in emulator.store.sql("SELECT pitch FROM campaigns")} == {"two"}


def test_a_target_converges_though_an_untargeted_campaign_shares_its_contact(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path
) -> None:
    """sy-a and sy-b share Joey. `--target sy-a` updates Joey (so sy-b is touched too)
    but leaves sy-b's own pending change alone: convergence is judged within the
    targets, so the apply is converged and exits 0."""
    m = tmp_path / "m.yaml"
    first = HEAD + f"  - name: sy-a\n    numbers: [{JOEY}]\n  - name: sy-b\n    pitch: one\n"
    write_manifest(m, first + f"    numbers: [{JOEY}]\n")
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    second = HEAD + f"  - name: sy-a\n    numbers: [{JOEY2}]\n  - name: sy-b\n    pitch: two\n"
    write_manifest(m, second + f"    numbers: [{JOEY2}]\n")

    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--target", "sy-a", str(m))
    assert code == 0, out + err
    assert "Converged" in out
    assert _pitch(cli_env, "sy-b") == "one"  # untargeted: left alone
    titles = {r["title"] for r in cli_env.store.sql("SELECT title FROM list_contacts")}
    assert titles == {"Director"}
    code, out, _err = run_cli(capsys, "plan", "--detailed-exitcode", str(m))
    assert code == 2 and 'campaign["sy-b"]' in out and "sy-a" not in out


def test_touched_campaigns() -> None:
    here = Location("m.yaml", 1)
    joey = Contact("+16507991144", first_name="Joey")
    state = DesiredState(
        campaigns=(
            DesiredCampaign("A", here),
            DesiredCampaign("B", here, numbers=(DesiredNumber(joey, here),)),
            DesiredCampaign("C", here),
            DesiredCampaign("D", here),
        ),
    )
    plan = Plan.build(
        [
            UpdateCampaign(address="a", campaign="A", fields=(FieldChange("pitch", "x", "y"),)),
            UpdateContact(address="j", contact=joey, current=joey._replace(title="Boss")),
            ArchiveCampaign(address="c", campaign="C", live_id="3"),
            CreateCampaign(address="z", campaign="Z", values={"name": "Z"}),
        ],
        [],
    )
    # A directly, B through Joey; not C (archived), not Z (in no manifest), not D
    assert touched_campaigns(plan, state) == ("A", "B")
    assert touched_campaigns(Plan.build([], []), state) == ()


# -- the non-convergence output ----------------------------------------------------------


def _drop_campaign_writes(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API answers every campaign PATCH 200 with the campaign as it was, and keeps
    nothing: an acknowledged write that never lands."""
    store = emulator.store
    monkeypatch.setattr(
        store, "update_campaign", lambda account, cid, values: store.get_campaign(account, cid)
    )


def test_an_apply_that_does_not_converge_says_so_and_exits_1(
    cli_env: Emulator, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n    pitch: one\n")
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, HEAD + "  - name: sy-a\n    pitch: two\n")
    _drop_campaign_writes(cli_env, monkeypatch)

    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1, out + err
    assert "Converged" not in out
    report, _, remaining = out.partition("did not converge")
    assert remaining, out
    assert "1 updated" in report  # the PATCH itself succeeded
    assert 'campaign["sy-a"]' in remaining and '"one" -> "two"' in remaining
    assert "Plan: 0 campaigns to create, 1 to update" in remaining
    assert "Traceback" not in err


def test_an_archive_that_does_not_land_is_left_over(
    emulator: Emulator, client: UpcallClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n  - name: sy-old\n")
    _apply(client, m)
    write_manifest(m, HEAD + "  - name: sy-a\n")
    _drop_campaign_writes(emulator, monkeypatch)
    job = prepare_apply([str(m)], client, PlanOptions(prune=True))
    [archive] = job.plan.changes
    assert isinstance(archive, ArchiveCampaign)
    outcome = run_apply(client, job, force=True)
    assert outcome.report.ok and not outcome.converged
    assert outcome.remaining is not None
    assert [c.kind for c in outcome.remaining.changes] == ["archive_campaign"]
    assert outcome.remaining.changes[0].live_id == archive.live_id


def test_a_failed_apply_is_not_checked_for_convergence(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    m = write_manifest(
        tmp_path / "m.yaml", HEAD + '  - name: sy-a\n    from_number: "+13125550199"\n'
    )  # not a confirmed number: the API refuses the campaign
    outcome = run_apply(client, prepare_apply([str(m)], client, PlanOptions()))
    assert not outcome.report.ok
    assert outcome.remaining is None and not outcome.converged


# -- duplicate-number recovery -------------------------------------------------------------


def _lagging_number_reads(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first filtered read of a campaign's numbers misses what was just added (a
    replica that lags a write); later reads see it. Returns the count of misses."""
    store = emulator.store
    real = store.list_numbers
    misses: list[int] = []
    lock = threading.Lock()

    def lagging(account: int, campaign_id: int, filters: dict[str, Any], *a: Any, **k: Any) -> Any:
        with lock:
            miss = bool(filters) and not misses
            if miss:
                misses.append(campaign_id)
        return PageResult("[]", 0) if miss else real(account, campaign_id, filters, *a, **k)

    monkeypatch.setattr(store, "list_numbers", lagging)
    return misses


@pytest.mark.parametrize("message", [None, "Number taken"], ids=["default-message", "other"])
def test_a_number_add_whose_answer_is_lost_is_found_not_duplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, message: str | None
) -> None:
    """POST /numbers commits but its answer is lost; the look-up that follows lags and
    misses it, so the POST is sent again and refused (400, whatever the message says):
    the apply looks again, finds the number, and succeeds with one number, not two."""
    extra = {"duplicate_number_message": message} if message else {}
    emu = Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults(retry_after=0), **extra
    )
    with emu:
        client = connect(emu)
        m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n")
        _apply(client, m)
        write_manifest(m, HEAD + f"  - name: sy-a\n    numbers: [{JOEY}, {MARCUS}]\n")
        job = prepare_apply([str(m)], client, PlanOptions())
        emu.faults.add_rule("lost-write", "POST", r"/campaigns/\d+/numbers")
        misses = _lagging_number_reads(emu, monkeypatch)
        outcome = run_apply(client, job)

        adds = [r for r in emu.requests if r.method == "POST" and r.api_path.endswith("/numbers")]
        # one write was lost; the log is in order of answers, and the two numbers' POSTs
        # run in parallel, so which of them answered first is not fixed
        assert [r.fault for r in adds].count("lost-write") == 1
        refused = [r for r in adds if r.status == 400]
        assert len(refused) == 1  # the retry was refused: the number was there
        assert misses  # the first look-up really missed it
        assert outcome.report.ok, [op.message for op in outcome.report.ops]
        assert outcome.converged
        assert duplicates(emu) == NO_DUPLICATES
        assert emu.store.sql("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"] == 2
    emu.store.close()


@pytest.mark.parametrize("message", [None, "Number taken"], ids=["default-message", "other"])
def test_a_number_someone_else_added_after_the_plan_is_found(
    tmp_path: Path, message: str | None
) -> None:
    """Two applies race: the number this plan adds is added by the other first. The
    POST is refused (400); the apply finds the number and counts it as applied."""
    extra = {"duplicate_number_message": message} if message else {}
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), **extra) as emu:
        client = connect(emu)
        b = f"  - name: sy-b\n    numbers: [{JOEY}]\n"  # Joey is on the list already
        m = write_manifest(tmp_path / "m.yaml", HEAD + "  - name: sy-a\n" + b)
        _apply(client, m)
        write_manifest(m, HEAD + f"  - name: sy-a\n    numbers: [{JOEY}]\n" + b)
        job = prepare_apply([str(m)], client, PlanOptions())
        assert [c.kind for c in job.plan.changes] == ["add_number"]
        since = len(emu.requests)
        _apply(connect(emu), m)  # the other apply wins the race
        outcome = run_apply(client, job)
        assert outcome.report.ok and outcome.converged
        posts = [r for r in emu.requests[since:] if r.method == "POST"]
        statuses = [r.status for r in posts if r.api_path.endswith("/numbers")]
        assert statuses == [201, 400]
        assert duplicates(emu) == NO_DUPLICATES
    emu.store.close()
