"""Reading live state: the fewest requests the data allows, in parallel."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.client import UpcallClient
from upcall_sync.emulator import Emulator
from upcall_sync.manifest import load_manifests
from upcall_sync.sync import PlanOptions, plan_for

from .conftest import FAST_RETRY, TOKEN, write_manifest


def _seed_account(emulator: Emulator, n: int, numbers_per: int = 0) -> None:
    account = emulator.accounts[TOKEN]
    contacts = [{"phone": f"+1650{i:07d}", "first_name": f"F{i}"} for i in range(numbers_per)]
    emulator.store.seed(
        account,
        campaigns=[{"name": f"camp-{i:04d}", "from_number": "+16501231234"} for i in range(n)],
        list_name="upcall-sync" if numbers_per else None,
        contacts=contacts,
        memberships=[(c, k) for c in range(min(n, 5)) for k in range(numbers_per)],
    )


def _manifest(
    tmp_path: Path, names: list[str], numbers: int = 0, from_number: bool = False
) -> Path:
    rows = "".join(f'      - {{phone: "+1650{i:07d}", first_name: F{i}}}\n' for i in range(numbers))
    body = "version: 1\ncampaigns:\n"
    for name in names:
        body += f"  - name: {name}\n"
        if from_number:
            body += '    from_number: "+16501231234"\n'
        if numbers:
            body += f"    numbers:\n{rows}"
    return write_manifest(tmp_path / "m.yaml", body)


def _gets(emulator: Emulator, since: int) -> list[str]:
    return [r.api_path for r in emulator.requests[since:] if r.method == "GET"]


@pytest.fixture
def client(emulator: Emulator) -> UpcallClient:
    return UpcallClient.connect(emulator.base_url, TOKEN, retry=FAST_RETRY)


def test_three_campaigns_in_a_large_account_are_read_by_name(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    _seed_account(emulator, 1000)
    desired = load_manifests([_manifest(tmp_path, ["camp-0001", "camp-0500", "camp-0999"])])
    before = len(emulator.requests)

    planned = plan_for(desired, client, PlanOptions())

    gets = _gets(emulator, before)
    campaign_reads = [g for g in gets if g == "/campaigns"]
    print(f"GETs: {len(gets)} ({len(campaign_reads)} on /campaigns): {gets}")
    assert len(campaign_reads) == 1 + 3  # the probe page, then one ?name= each
    assert len(gets) == 1 + 3 + 1 + 3  # + the contact list lookup + numbers of the three
    assert {c.name for c in planned.live.campaigns} == {"camp-0001", "camp-0500", "camp-0999"}
    assert planned.plan.empty


def test_five_hundred_campaigns_in_a_large_account_are_listed(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    _seed_account(emulator, 1000)
    names = [f"camp-{i:04d}" for i in range(0, 1000, 2)]
    desired = load_manifests([_manifest(tmp_path, names)])
    before = len(emulator.requests)

    planned = plan_for(desired, client, PlanOptions())

    campaign_reads = [g for g in _gets(emulator, before) if g == "/campaigns"]
    assert len(campaign_reads) == 10  # 1,000 campaigns in pages of 100, not 500 requests
    assert planned.plan.empty
    numbers_reads = [g for g in _gets(emulator, before) if g.endswith("/numbers")]
    assert len(numbers_reads) == 500  # only matched campaigns, one page each


def test_no_request_for_campaigns_the_manifests_do_not_mention(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    _seed_account(emulator, 50)
    desired = load_manifests([_manifest(tmp_path, ["camp-0003", "camp-0007"])])
    before = len(emulator.requests)
    plan_for(desired, client, PlanOptions())
    by_id = {
        str(r["id"])
        for r in emulator.store.sql(
            "SELECT id FROM campaigns WHERE name IN ('camp-0003', 'camp-0007')"
        )
    }
    touched = {g.split("/")[2] for g in _gets(emulator, before) if g.startswith("/campaigns/")}
    assert touched == by_id


def test_from_number_is_read_back_through_the_filter(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    _seed_account(emulator, 3)
    desired = load_manifests([_manifest(tmp_path, ["camp-0000", "camp-0001"], from_number=True)])
    before = len(emulator.requests)
    planned = plan_for(desired, client, PlanOptions())
    assert planned.plan.empty
    filtered = [r for r in emulator.requests[before:] if dict(r.query).get("from_number")]
    assert len(filtered) == 1  # one listing for the one distinct number

    other = load_manifests(
        [
            write_manifest(
                tmp_path / "n.yaml",
                'version: 1\ncampaigns:\n  - name: camp-0000\n    from_number: "+14155550100"\n',
            )
        ]
    )
    [change] = plan_for(other, client, PlanOptions()).plan.changes
    assert change.after == {"from_number": "+14155550100"}


def test_an_unchanged_plan_reads_no_contacts(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    _seed_account(emulator, 5, numbers_per=40)
    desired = load_manifests([_manifest(tmp_path, [f"camp-{i:04d}" for i in range(5)], numbers=40)])
    before = len(emulator.requests)
    planned = plan_for(desired, client, PlanOptions())
    assert planned.plan.empty
    assert not [g for g in _gets(emulator, before) if "/contacts" in g]


def test_parallel_reads_overlap(emulator: Emulator, client: UpcallClient, tmp_path: Path) -> None:
    """With 50 ms of latency, 20 campaigns' numbers at parallelism 8 take far less than 20 x 50 ms."""
    import time

    _seed_account(emulator, 20)
    desired = load_manifests([_manifest(tmp_path, [f"camp-{i:04d}" for i in range(20)])])
    emulator.latency = 0.05
    started = time.perf_counter()
    plan_for(desired, client, PlanOptions(parallelism=8))
    elapsed = time.perf_counter() - started
    sequential = (1 + 1 + 20) * 0.05
    print(f"plan took {elapsed:.2f}s; sequential would be at least {sequential:.2f}s")
    assert elapsed < sequential * 0.6
