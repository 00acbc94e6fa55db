"""Two applies against one account at once (CI without a concurrency group, a person
running apply while the pipeline does): nobody may end up called twice unnoticed.

The second apply is played inside the first, at the moment it matters, through the
API, as the other process would: it creates the campaign again, or stages the same
person through a list contact of its own and adds them to the campaign."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from upcall_sync.client import CampaignAttributes, ContactAttributes
from upcall_sync.emulator import Emulator
from upcall_sync.jobs.apply import Applier
from upcall_sync.jobs.schedule import Op

from .conftest import ROOT, cli_emulator, connect, run_cli

MANIFEST = """\
version: 1
campaigns:
  - name: Acme at once
    pitch: Be brief
    status: {status}
    numbers:
      - {{phone: "+16507991144", first_name: Joey, last_name: Smith}}
      - {{phone: "+14155550132", first_name: Priya, last_name: Raman}}
"""


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    with cli_emulator(monkeypatch, tmp_path) as server:
        yield server


def _once_before(
    monkeypatch: pytest.MonkeyPatch, name: str, other_apply: Callable[[Applier, Op], None]
) -> None:
    """Run `other_apply` once, just before the first run of the Applier's handler `name`."""
    original = getattr(Applier, name)
    done = threading.Lock()

    def handler(self: Applier, op: Op) -> Any:
        if done.acquire(blocking=False):
            other_apply(self, op)
        return original(self, op)

    monkeypatch.setattr(Applier, name, handler)


def test_a_person_another_apply_added_at_once_fails_the_run_naming_both_numbers(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It reported 'Converged' and exited 0, leaving Joey in the campaign twice."""
    Path("m.yaml").write_text(MANIFEST.format(status="pending"))
    other = connect(emu)

    def add_joey_again(applier: Applier, op: Op) -> None:
        assert applier.list_id is not None
        [campaign] = other.list_campaigns(name="Acme at once")
        contact = other.create_contact(
            applier.list_id,
            ContactAttributes(phone="+16507991144", first_name="Joey", last_name="Smith"),
        )
        other.add_number(campaign.id, contact.id)

    _once_before(monkeypatch, "_add_number", add_joey_again)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    assert "Converged" not in out + err
    assert 'campaign number +16507991144 (Joey Smith) in campaign "Acme at once"' in out + err
    assert "another apply running at once" in out + err


def test_a_created_campaign_is_not_made_ready_beside_a_twin_another_apply_created(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both used to be filled and made ready: every person called twice."""
    Path("m.yaml").write_text(MANIFEST.format(status="ready"))
    other = connect(emu)

    def create_the_twin(applier: Applier, op: Op) -> None:
        other.create_campaign(CampaignAttributes(name="Acme at once", status="pending"))

    _once_before(monkeypatch, "_set_ready", create_the_twin)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    assert "was left pending, not set ready: another active campaign has its name" in out + err
    statuses = [c.status for c in other.list_campaigns(name="Acme at once")]
    assert statuses == ["pending", "pending"]


def test_the_readme_way_to_resume_a_campaign_paused_for_the_do_not_call_list(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Archive it in Upcall, then apply: it is created anew without the listed number,
    made ready beside its archived self. It stayed archived, its notice saying to
    archive it, for ever."""
    Path("m.yaml").write_text(MANIFEST.format(status="ready"))
    assert run_cli(capsys, "apply", "--auto-approve", "m.yaml")[0] == 0
    listed = MANIFEST.format(status="ready").replace(
        "campaigns:", 'do_not_call: ["+1 650 799 1144"]\ncampaigns:'
    )
    Path("m.yaml").write_text(listed.replace('      - {phone: "+16507991144"', "      # "))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 0 and '"ready" -> "paused"' in out, out + err
    other = connect(emu)
    [old] = other.list_campaigns(name="Acme at once")
    other.update_campaign(old.id, CampaignAttributes(status="archived"))

    # reviewed as a saved plan: the archived campaign it read is no news to it
    assert run_cli(capsys, "plan", "--out", "plan.json", "m.yaml")[0] == 0
    code, out, err = run_cli(capsys, "apply", "plan.json")
    assert code == 0, out + err
    assert "1 campaign created" in out and "Converged" in out
    campaigns = {c.id: c.status for c in other.list_campaigns(name="Acme at once")}
    [new] = [cid for cid in campaigns if cid != old.id]
    assert campaigns == {old.id: "archived", new: "ready"}
    assert [n.phone for n in other.list_numbers(new)] == ["+14155550132"]
    contacts = [c.phone for c in other.list_contacts(other.list_lists()[0].id)]
    assert sorted(contacts) == ["+14155550132", "+16507991144"]  # nobody staged twice
    assert run_cli(capsys, "plan", "--detailed-exitcode", "m.yaml")[0] == 0


def test_a_campaign_resumed_twice_the_readme_way_is_created_anew_each_time(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each resume leaves an archived campaign of the name behind: the second resume
    found two archived ones and stopped at "pin one with `id:`", and an entry that pins
    an id is never created anew, so the campaign could not be resumed again."""
    Path("m.yaml").write_text(MANIFEST.format(status="ready"))
    assert run_cli(capsys, "apply", "--auto-approve", "m.yaml")[0] == 0
    other = connect(emu)
    for listed in ("+1 650 799 1144", "+1 415 555 0132"):
        Path("m.yaml").write_text(
            MANIFEST.format(status="ready").replace(
                "campaigns:", f'do_not_call: ["{listed}"]\ncampaigns:'
            )
        )
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
        assert code == 0 and '"ready" -> "paused"' in out, out + err
        [active] = [c for c in other.list_campaigns(name="Acme at once") if c.status != "archived"]
        other.update_campaign(active.id, CampaignAttributes(status="archived"))
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
        assert code == 0 and "1 campaign created" in out, out + err
    statuses = [c.status for c in other.list_campaigns(name="Acme at once")]
    assert statuses == ["archived", "archived", "ready"]
    [new] = [c for c in other.list_campaigns(name="Acme at once") if c.status == "ready"]
    assert [n.phone for n in other.list_numbers(new.id)] == ["+16507991144"]
    assert run_cli(capsys, "plan", "--detailed-exitcode", "m.yaml")[0] == 0


def test_a_contact_list_another_apply_made_at_once_is_named_among_the_duplicates(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two applies from empty each make the contact list (and stage everyone in their
    own). The report named the twin campaigns only; the plan it sent the reader to then
    refused the two lists."""
    Path("m.yaml").write_text(MANIFEST.format(status="pending"))
    other = connect(emu)

    def make_the_list_too(applier: Applier, op: Op) -> None:
        other.create_list("upcall-sync")

    _once_before(monkeypatch, "_add_number", make_the_list_too)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--format", "json", "m.yaml")
    assert code == 1, out + err
    doc = json.loads(out)
    plan_schema = json.loads((ROOT / "schema" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator(
        json.loads((ROOT / "schema" / "apply-report.schema.json").read_text()),
        registry=Registry().with_resource(plan_schema["$id"], Resource.from_contents(plan_schema)),
    ).validate(doc)
    assert {"kind": "contact list", "what": '"upcall-sync"', "ids": ["1", "2"], "keep": "1"} in (
        doc["convergence"]["duplicates"]
    )
    assert 'contact list "upcall-sync": ids 1, 2 (keep 1; remove 2)' in err
    assert "rename each duplicate contact list" in err


def test_of_twin_campaigns_the_one_already_ready_is_the_one_to_keep(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another apply created the campaign and made it ready while this one filled its own
    copy. The report said to keep this run's pending copy and remove the other: archiving
    the campaign that was calling, then making the copy ready, called everyone again.
    (And two applies that both found the pair each said to keep their own.)"""
    Path("m.yaml").write_text(MANIFEST.format(status="ready"))
    other = connect(emu)
    made: list[str] = []

    def create_a_ready_twin(applier: Applier, op: Op) -> None:
        made.append(other.create_campaign(CampaignAttributes(name="Acme at once")).id)
        other.update_campaign(made[0], CampaignAttributes(status="ready"))

    _once_before(monkeypatch, "_set_ready", create_a_ready_twin)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    [mine] = [c.id for c in other.list_campaigns(name="Acme at once") if c.id not in made]
    assert f'campaign "Acme at once": ids {mine}, {made[0]} (keep {made[0]}; remove {mine})' in (
        out + err
    )
    # the next plan refuses the pair, and says a copy is to be archived, not only pinned
    # (pinning one left the other calling the same people)
    code, out, err = run_cli(capsys, "plan", "m.yaml")
    assert code == 1 and "pin one with `id:` in the manifest, or archive the extra" in err, err


def test_of_pending_twin_campaigns_the_one_holding_the_numbers_is_the_one_to_keep(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older, empty pending copy (what a killed run's POST leaves when the server
    commits it late) beside the copy this run created and filled: the report said to keep
    the oldest, the empty one, and to remove the one holding every number."""
    Path("m.yaml").write_text(MANIFEST.format(status="pending"))
    other = connect(emu)
    made: list[str] = []

    def create_an_empty_twin(applier: Applier, op: Op) -> None:
        made.append(other.create_campaign(CampaignAttributes(name="Acme at once")).id)

    _once_before(monkeypatch, "_create_campaign", create_an_empty_twin)
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    [mine] = [c.id for c in other.list_campaigns(name="Acme at once") if c.id not in made]
    assert len(other.list_numbers(mine)) == 2 and not other.list_numbers(made[0])
    assert f'campaign "Acme at once": ids {made[0]}, {mine} (keep {mine}; remove {made[0]})' in (
        out + err
    )


def test_a_person_staged_twice_in_the_list_is_a_warning_where_a_plan_uses_them(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another apply staged Joey too, an identical contact in the same list: plans took
    one silently, until an edit of his details made the copies differ and every plan
    stopped ('the contact list holds 2 different contacts')."""
    Path("m.yaml").write_text(MANIFEST.format(status="pending"))
    other = connect(emu)
    copy: list[str] = []

    def stage_joey_again(applier: Applier, op: Op) -> None:
        assert applier.list_id is not None
        joey = ContactAttributes(phone="+16507991144", first_name="Joey", last_name="Smith")
        copy.append(other.create_contact(applier.list_id, joey).id)

    _once_before(monkeypatch, "_add_number", stage_joey_again)
    assert run_cli(capsys, "apply", "--auto-approve", "m.yaml")[0] == 0
    Path("m.yaml").write_text(
        MANIFEST.format(status="pending")
        + '  - name: Acme later\n    numbers:\n      - {phone: "+16507991144", '
        "first_name: Joey, last_name: Smith}\n"
    )
    code, out, err = run_cli(capsys, "plan", "m.yaml")
    assert code == 0, out + err
    # plans keep the oldest (lowest id); the copy may be either, as the contacts are
    # staged in parallel with the first number added
    joeys = emu.store.sql("SELECT id FROM list_contacts WHERE phone = '+16507991144'")
    ids = sorted(r["id"] for r in joeys)
    assert len(ids) == 2 and int(copy[0]) in ids, (ids, copy)
    assert (
        "warning: contact_list: the contact list holds 2 identical contacts for "
        "+16507991144 (Joey Smith)"
        in out
        and f"plans use id {ids[0]}: remove {ids[1]} in Upcall before their details change" in out
    ), out
