"""Every change kind crossed with every fault the emulator injects.

Each cell: a clean base state, one fault on the one request that carries the
change, then apply (re-run at most 3 times) must converge with nothing
duplicated and nothing lost, checked in the emulator's database against the
fault-free run of the same case (computed once per case, not once per cell).
A 429 asks to wait 0 s: the matrix tests what a fault does, not how long the
client sleeps (test_client checks that Retry-After is honoured).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from upcall_sync.client import RetryPolicy, Timeouts, UpcallClient
from upcall_sync.emulator import PESSIMISTIC_MODES, Emulator, Faults
from upcall_sync.jobs.apply import Applier
from upcall_sync.jobs.sync import PlanOptions, plan_for
from upcall_sync.manifest import load_manifests

from .. import figures
from ..conftest import CONFIRMED, TOKEN, connect
from ..helpers.accounts import duplicates

FAULTS = ("429", "500", "503", "reset", "timeout", "lost-write")
JOEY = '{phone: "+16507991144", first_name: Joey, last_name: Smith, title: Manager}'
JOEY2 = '{phone: "+16507991144", first_name: Joey, last_name: Smith, title: Director}'
HEAD = 'version: 1\ncontact_list: fm\nprune_scope: "fm-*"\ncampaigns:\n'


@dataclass(frozen=True)
class Case:
    base: str
    desired: str
    method: str
    path: str
    prune: bool = False


CASES = {
    "create_campaign": Case(
        HEAD + "  - name: fm-other\n",
        HEAD + "  - name: fm-other\n  - name: fm\n    pitch: a\n",
        "POST",
        r"/campaigns",
    ),
    "update_campaign": Case(
        HEAD + "  - name: fm\n    pitch: a\n",
        HEAD + "  - name: fm\n    pitch: b\n",
        "PATCH",
        r"/campaigns/\d+",
    ),
    "create_contact": Case(
        HEAD + "  - name: fm\n",
        HEAD + f"  - name: fm\n    numbers: [{JOEY}]\n",
        "POST",
        r"/lists/\d+/contacts",
    ),
    "update_contact": Case(
        HEAD + f"  - name: fm\n    numbers: [{JOEY}]\n",
        HEAD + f"  - name: fm\n    numbers: [{JOEY2}]\n",
        "PATCH",
        r"/lists/\d+/contacts/\d+",
    ),
    "add_number": Case(
        HEAD + f"  - name: fm-other\n    numbers: [{JOEY}]\n  - name: fm\n",
        HEAD + f"  - name: fm-other\n    numbers: [{JOEY}]\n  - name: fm\n    numbers: [{JOEY}]\n",
        "POST",
        r"/campaigns/\d+/numbers",
    ),
    "status_to_ready": Case(
        HEAD + f"  - name: fm-other\n    numbers: [{JOEY}]\n",
        HEAD
        + f"  - name: fm-other\n    numbers: [{JOEY}]\n  - name: fm\n    status: ready\n    numbers: [{JOEY}]\n",
        "PATCH",
        r"/campaigns/\d+",
    ),
    "archive_campaign": Case(
        HEAD + "  - name: fm\n  - name: fm-gone\n",
        HEAD + "  - name: fm\n",
        "PATCH",
        r"/campaigns/\d+",
        prune=True,
    ),
}


RETRY = RetryPolicy(max_attempts=8, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)
#: a `timeout` fault stalls for 1.5 s: the client gives up on it after 0.5 s
TIMEOUTS = Timeouts(connect=2, read=0.5, total=5)


def _apply(client: UpcallClient, path: Path, prune: bool, runs: int = 3) -> int:
    for run in range(1, runs + 1):
        planned = plan_for(load_manifests([path]), client, PlanOptions(prune=prune))
        if planned.plan.empty:
            return run - 1
        report = Applier(client, planned.plan).run()
        if report.ok:
            return run
    return runs


def _state(emulator: Emulator) -> list[tuple[object, ...]]:
    """Everything a user would care about, to compare with a fault-free run."""
    db = emulator.store.sql
    campaigns = [
        tuple(r.values()) for r in db("SELECT name, pitch, status FROM campaigns ORDER BY name")
    ]
    numbers = [
        tuple(r.values())
        for r in db(
            "SELECT c.name, lc.phone, lc.first_name, lc.title FROM campaign_numbers cn "
            "JOIN campaigns c ON c.id = cn.campaign_id JOIN list_contacts lc ON lc.id = cn.list_contact_id "
            "ORDER BY 1, 2, 3"
        )
    ]
    contacts = [
        tuple(r.values())
        for r in db("SELECT phone, first_name, title FROM list_contacts ORDER BY 1, 2")
    ]
    return [*campaigns, ("--",), *numbers, ("--",), *contacts]


def _run_cell(
    kind: str, fault: str | None, tmp_path: Path, mode: str = ""
) -> tuple[Emulator, UpcallClient, list[tuple[object, ...]]]:
    case = CASES[kind]
    emulator = Emulator(
        tokens=[TOKEN],
        confirmed_numbers=list(CONFIRMED),
        faults=Faults(retry_after=0, stall_seconds=1.5),
        **(PESSIMISTIC_MODES[mode] if mode else {}),
    )
    emulator.start()
    client = connect(emulator, retry=RETRY, timeouts=TIMEOUTS)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{kind}.yaml"
    path.write_text(case.base)
    assert _apply(client, path, prune=False) <= 1
    path.write_text(case.desired)
    if fault is not None:
        emulator.faults.add_rule(fault, case.method, case.path, count=1)
    _apply(client, path, prune=case.prune)
    return emulator, client, _state(emulator)


@functools.cache
def _baseline(kind: str, tmp_path: Path, mode: str = "") -> list[tuple[object, ...]]:
    """The fault-free end state of a case: computed by the first of its cells."""
    emulator, _client, expected = _run_cell(kind, None, tmp_path / f"clean{mode}", mode)
    emulator.stop()
    emulator.store.close()
    return expected


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", list(CASES))
def test_fault_matrix_cell(
    kind: str, fault: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _cell(kind, fault, tmp_path, tmp_path_factory)


#: the changes that PATCH a campaign, under every write-side reading at once (a PATCH
#: that replaces, names normalized, page[size] refused above 20, naive datetimes)
CAMPAIGN_PATCHES = ("update_campaign", "status_to_ready", "archive_campaign")


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", CAMPAIGN_PATCHES)
def test_fault_matrix_cell_under_the_write_side_readings(
    kind: str, fault: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _cell(kind, fault, tmp_path, tmp_path_factory, mode="write-side-all")


def _cell(
    kind: str,
    fault: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    mode: str = "",
) -> None:
    figures.add("matrix_cells")
    expected = _baseline(kind, tmp_path_factory.getbasetemp() / "fault-matrix", mode)
    emulator, client, got = _run_cell(kind, fault, tmp_path / "faulty", mode)
    try:
        fired = [r for r in emulator.requests if r.fault == fault]
        assert fired, f"the {fault} fault never fired"
        case = CASES[kind]
        final = plan_for(
            load_manifests([tmp_path / "faulty" / f"{kind}.yaml"]),
            client,
            PlanOptions(prune=case.prune),
        ).plan
        dups = duplicates(emulator)
        figures.add("matrix_duplicates", sum(len(v) for v in dups.values()))
        lost = got != expected
        figures.add("matrix_lost", int(lost))
        assert final.empty, [c.one_line() for c in final.changes]
        assert dups == {"campaigns": [], "lists": [], "contacts": [], "numbers": []}
        assert got == expected
        figures.add("matrix_converged")
    finally:
        emulator.stop()
        emulator.store.close()
