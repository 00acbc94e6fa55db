"""Reading live state: the fewest requests the data allows, in parallel.

Everything here is asserted in requests (the emulator's request log), never in
wall-clock time.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from upcall_sync.client import Timeouts, UpcallClient
from upcall_sync.emulator import Emulator, Request, Result
from upcall_sync.jobs.sync import PlanOptions, plan_for
from upcall_sync.manifest import load_manifests

from .conftest import TOKEN, connect, serve, write_manifest


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
    assert change.to_dict()["after"] == {"from_number": "+14155550100"}


def test_an_unchanged_plan_reads_no_contacts(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    _seed_account(emulator, 5, numbers_per=40)
    desired = load_manifests([_manifest(tmp_path, [f"camp-{i:04d}" for i in range(5)], numbers=40)])
    before = len(emulator.requests)
    planned = plan_for(desired, client, PlanOptions())
    assert planned.plan.empty
    assert not [g for g in _gets(emulator, before) if "/contacts" in g]


#: a client that waits longer than InFlight holds a request
PATIENT = Timeouts(connect=2.0, read=10.0, total=20.0)


class InFlight:
    """How many matching GETs the emulator is answering at once.

    Each matching request after the first `free` is held (at most `hold` seconds,
    under PATIENT's read timeout) until `target` of them are in flight together,
    so overlap shows in counts, not in wall-clock time: a client that read one
    request after another would never get past 1. (A correct client reaches the
    target at once; `hold` only bounds how long a wrong one takes to fail.)
    """

    def __init__(
        self, emulator: Emulator, pattern: str, target: int, free: int = 0, hold: float = 5.0
    ) -> None:
        self.pattern = re.compile(pattern)
        self.target = target
        self.free = free
        self.hold = hold
        self.now = 0
        self.peak = 0
        self.at_start: list[tuple[str, int]] = []  # (page number, in flight when it began)
        self._lock = threading.Lock()
        self._reached = threading.Event()
        self._real = emulator.api.handle
        emulator.api.handle = self.handle  # type: ignore[method-assign]

    def handle(self, req: Request) -> Result:
        if req.method != "GET" or not self.pattern.search(req.path):
            return self._real(req)
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.at_start.append((dict(req.query).get("page[number]", "1"), self.now))
            if self.now >= self.target:
                self._reached.set()
            held = len(self.at_start) > self.free
        try:
            if held:
                self._reached.wait(self.hold)
            return self._real(req)
        finally:
            with self._lock:
                self.now -= 1


def test_parallel_reads_overlap(emulator: Emulator, tmp_path: Path) -> None:
    """20 campaigns' numbers at parallelism 8: 8 requests in flight at once, never more."""
    _seed_account(emulator, 20)
    desired = load_manifests([_manifest(tmp_path, [f"camp-{i:04d}" for i in range(20)])])
    gauge = InFlight(emulator, r"/campaigns/\d+/numbers$", target=8)
    before = len(emulator.requests)
    planned = plan_for(desired, connect(emulator, timeouts=PATIENT), PlanOptions())
    assert planned.plan.empty
    assert gauge.peak == 8
    assert len([g for g in _gets(emulator, before) if g.endswith("/numbers")]) == 20


def test_pages_of_a_listing_are_read_breadth_first(emulator: Emulator) -> None:
    """9 pages: the first alone, then the other 8 at once, each exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    from upcall_sync.client.listings import read_all

    _seed_account(emulator, 1, numbers_per=450)
    emulator.api.max_page_size = 50
    campaign_id = str(emulator.store.sql("SELECT id FROM campaigns")[0]["id"])
    gauge = InFlight(emulator, r"/campaigns/\d+/numbers$", target=8, free=1)
    before = len(emulator.requests)
    client = connect(emulator, timeouts=PATIENT)
    with ThreadPoolExecutor(8) as pool:
        [numbers] = read_all(client.transport, pool, [client.numbers_listing(campaign_id)])
    assert len(numbers) == 450 and len({n.id for n in numbers}) == 450
    assert gauge.at_start[0] == ("1", 1)  # the first page alone: it tells how many follow
    assert sorted(int(p) for p, _n in gauge.at_start) == list(range(1, 10))  # each page once
    assert gauge.peak == 8  # pages 2 to 9 together
    assert len(_gets(emulator, before)) == 9


# -- from_number: the filter listing, or a check per campaign ----------------------


def _from_number_reads(emulator: Emulator, since: int) -> list[dict[str, str]]:
    return [
        dict(r.query)
        for r in emulator.requests[since:]
        if r.method == "GET" and r.api_path == "/campaigns" and dict(r.query).get("from_number")
    ]


@pytest.mark.parametrize("same", [True, False], ids=["unchanged", "changed"])
def test_a_long_from_number_listing_is_replaced_by_a_check_per_campaign(
    emulator: Emulator, client: UpcallClient, tmp_path: Path, same: bool
) -> None:
    """300 campaigns share the from_number (3 pages of 100) but the manifests name one:
    one `?name=&from_number=` GET is cheaper than the listing's other 2 pages."""
    _seed_account(emulator, 300)
    wanted = "+16501231234" if same else "+14155550100"
    if not same:  # the manifests' number is as common, but camp-0007 does not have it
        account = emulator.accounts[TOKEN]
        emulator.store.seed(
            account,
            campaigns=[{"name": f"other-{i:04d}", "from_number": wanted} for i in range(300)],
        )
    desired = load_manifests(
        [
            write_manifest(
                tmp_path / "m.yaml",
                f'version: 1\ncampaigns:\n  - name: camp-0007\n    from_number: "{wanted}"\n',
            )
        ]
    )
    before = len(emulator.requests)
    planned = plan_for(desired, client, PlanOptions())

    reads = _from_number_reads(emulator, before)
    listing = [q for q in reads if "name" not in q]
    checks = [q for q in reads if "name" in q]
    assert [q.get("page[number]", "1") for q in listing] == ["1"]  # the first page only
    assert len(checks) == 1
    assert checks[0]["name"] == "camp-0007" and checks[0]["from_number"] == wanted
    if same:
        assert planned.plan.empty
    else:
        [change] = planned.plan.changes
        assert change.to_dict()["after"] == {"from_number": wanted}
        assert change.to_dict()["unknown_before"] == ["from_number"]


def test_a_short_from_number_listing_is_read_whole(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    """Two campaigns want a number that 300 share: 2 more pages is not more than 2 checks."""
    _seed_account(emulator, 300)
    desired = load_manifests([_manifest(tmp_path, ["camp-0001", "camp-0002"], from_number=True)])
    before = len(emulator.requests)
    assert plan_for(desired, client, PlanOptions()).plan.empty
    reads = _from_number_reads(emulator, before)
    assert not [q for q in reads if "name" in q]
    assert sorted(q.get("page[number]", "1") for q in reads) == ["1", "2", "3"]


def test_a_listing_that_grows_while_read_is_finished_by_its_links(scripted_pages: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from upcall_sync.client.listings import read_all

    base, pages = scripted_pages
    c = connect(base)

    def doc(ids: list[int], n: int, last: int, has_next: bool) -> dict[str, Any]:
        link = f"{base}/campaigns?page%5Bnumber%5D={{}}&page%5Bsize%5D=2"
        links = {"self": link.format(n), "last": link.format(last)}
        if has_next:
            links["next"] = link.format(n + 1)
        return {
            "data": [
                {"id": str(i), "type": "campaigns", "attributes": {"name": f"c{i}"}} for i in ids
            ],
            "links": links,
        }

    # page 1 said there were 2 pages; by the time page 2 is read there are 3,
    # and row 2 has moved onto page 2 as well
    pages.update({1: doc([1, 2], 1, 2, True), 2: doc([2, 3], 2, 3, True), 3: doc([4], 3, 3, False)})
    with ThreadPoolExecutor(4) as pool:
        [found] = read_all(c.transport, pool, [c.campaigns_listing()])
    assert [x.id for x in found] == ["1", "2", "3", "4"]


@pytest.fixture
def scripted_pages() -> Iterator[tuple[str, dict[int, Any]]]:
    pages: dict[int, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            number = int(parse_qs(urlsplit(self.path).query)["page[number]"][0])
            body = json.dumps(pages[number]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve(Handler) as base:
        yield base, pages


def test_pinned_ids_are_read_by_id_and_a_missing_one_is_named(
    emulator: Emulator, client: UpcallClient, tmp_path: Path
) -> None:
    """`id:` campaigns are read with GET /campaigns/:id (no ?name=); a 404 there is not a
    read error but a plan error naming the manifest line."""
    from upcall_sync.errors import PlanError

    _seed_account(emulator, 3)
    cid = str(emulator.store.sql("SELECT id FROM campaigns WHERE name = 'camp-0001'")[0]["id"])
    body = f'version: 1\ncampaigns:\n  - name: renamed\n    id: "{cid}"\n'
    desired = load_manifests([write_manifest(tmp_path / "m.yaml", body)])
    before = len(emulator.requests)
    [change] = plan_for(desired, client, PlanOptions()).plan.changes
    assert change.kind == "update_campaign" and change.live_id == cid
    reads = [r for r in emulator.requests[before:] if r.api_path.startswith("/campaigns")]
    assert [(r.api_path, r.status) for r in reads] == [
        (f"/campaigns/{cid}", 200),
        (f"/campaigns/{cid}/numbers", 200),
    ]

    body = body.replace(f'id: "{cid}"', 'id: "9999"')
    desired = load_manifests([write_manifest(tmp_path / "m.yaml", body)])
    before = len(emulator.requests)
    with pytest.raises(PlanError, match="no campaign with that id") as caught:
        plan_for(desired, client, PlanOptions())
    assert "m.yaml:3" in str(caught.value)  # the campaign entry
    assert [r.status for r in emulator.requests[before:] if r.api_path == "/campaigns/9999"] == [
        404
    ]
