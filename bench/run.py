"""upcall-sync benchmarks: plan and apply against the I/O floor, the planner, validate.

    python bench/run.py            # every scenario, medians of 3 runs (a few minutes)
    python bench/run.py --runs 5   # more runs
    python bench/run.py --quick    # smaller shapes, for trying the harness
    python bench/run.py --baseline main~3 --only plan   # before/after, with ratios

Everything is measured side by side in one run: this machine is shared and
noisy, so a figure is only ever compared with one taken minutes apart. The
emulator runs as its own process (seeded directly through its SQLite store),
so its CPU is measured apart and it never shares a GIL with what is measured.
Results are printed as a table and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_bench import scenario_export
from harness import (
    CODE,
    FROM_MANAGED,
    FROM_OTHER,
    PAGE,
    ROOT,
    TOKEN,
    Report,
    client_for,
    emulator,
    floor,
    load,
    median,
    requests_sent,
)

Applier = load("upcall_sync.jobs.apply", "upcall_sync.apply").Applier
Store = load("upcall_sync.emulator.store").Store
load_manifests = load("upcall_sync.manifest").load_manifests
_sync = load("upcall_sync.jobs.sync", "upcall_sync.sync")
PlanOptions, converge, plan_for = _sync.PlanOptions, _sync.converge, _sync.plan_for
make_session = load("upcall_sync.client").make_session


# -- scenario 1: plan, nothing to change, large account --------------------------------------


def seed_large_account(db: Path, campaigns: int, managed: int, per: int) -> None:
    store = Store(str(db))
    account = store.add_account(TOKEN, [FROM_MANAGED, FROM_OTHER])
    contacts = [
        {"phone": f"+1650{i:07d}", "first_name": f"F{i}", "last_name": "Bench"}
        for i in range(managed * per)
    ]
    store.seed(
        account,
        campaigns=[
            {
                "name": f"bench-{i:04d}" if i < managed else f"other-{i:04d}",
                "status": "pending",
                "from_number": FROM_MANAGED if i < managed else FROM_OTHER,
            }
            for i in range(campaigns)
        ],
        list_name="bench",
        contacts=contacts,
        memberships=[(c, c * per + k) for c in range(managed) for k in range(per)],
    )
    store.close()


def write_manifest(
    path: Path,
    campaigns: int,
    per: int,
    *,
    defaults: str,
    campaign: Callable[[int], str],
    number: Callable[[int], str],
) -> None:
    """A bench manifest: `campaigns` campaigns (`campaign(c)`: its lines up to `numbers:`)
    of `per` people each (`number(k)`: the person's flow mapping), caller ID and
    `defaults` (extra lines) in its defaults."""
    with path.open("w") as fh:
        fh.write(
            "version: 1\ncontact_list: bench\ndefaults:\n"
            f'  from_number: "{FROM_MANAGED}"\n{defaults}campaigns:\n'
        )
        for c in range(campaigns):
            fh.write(f"{campaign(c)}    numbers:\n")
            fh.writelines(f"      - {number(k)}\n" for k in range(c * per, (c + 1) * per))


def write_large_manifest(path: Path, managed: int, per: int) -> None:
    write_manifest(
        path,
        managed,
        per,
        defaults="  status: pending\n",
        campaign=lambda c: f"  - name: bench-{c:04d}\n",
        number=lambda k: f'{{phone: "+1650{k:07d}", first_name: F{k}, last_name: Bench}}',
    )


def scenario_plan(report: Report, work: Path, runs: int, quick: bool) -> None:
    campaigns, managed, per = (400, 100, 100) if quick else (2000, 500, 100)
    print(
        f"\n[1] plan, nothing to change: {campaigns:,} live campaigns, {managed} in the manifests x {per} numbers",
        flush=True,
    )
    db = work / "large.sqlite"
    seed_large_account(db, campaigns, managed, per)
    manifest = work / "large" / "campaigns.yaml"
    manifest.parent.mkdir()
    write_large_manifest(manifest, managed, per)
    started = time.perf_counter()
    desired = load_manifests([manifest])
    load_s = time.perf_counter() - started

    # The fewest requests the data allows, from the account's shape: the cheaper of a
    # listing and ?name= per campaign; the same for the one from_number; every matched
    # campaign's numbers; the contact list lookup; no contacts (nothing to add).
    listing = min(math.ceil(campaigns / PAGE), managed)
    from_number = min(math.ceil(managed / PAGE), managed)
    numbers = managed * math.ceil(per / PAGE)
    minimum = listing + from_number + numbers + 1
    per_object = (
        managed + managed + managed * per
    )  # GET each campaign, its from_number, each number

    for latency in (0, 20):
        with emulator(db, latency) as emu:
            walls, floors, reqs, emu_cpu, cli_walls = [], [], [], [], []
            for _ in range(runs):
                client, urls = client_for(emu.url)
                cpu0 = emu.cpu_seconds()
                t = time.perf_counter()
                planned = plan_for(desired, client, PlanOptions())
                wall = time.perf_counter() - t
                emu_cpu.append((emu.cpu_seconds() - cpu0) / wall)
                assert planned.plan.empty, planned.plan.summary_line()
                walls.append(wall)
                reqs.append(requests_sent(client))
                floors.append(floor(urls, 8))
                cli_walls.append(_plan_as_the_cli_runs_it(desired, emu.url))
            r, w, f = median(reqs), median(walls), median(floors)
            tag = f"plan @ {latency} ms"
            if latency == 0:
                report.add(tag, "requests made by plan", f"{r:.0f}")
                report.add(tag, "minimum the data allows", f"{minimum}")
                report.add(
                    tag, "requests / minimum", f"{r / minimum:.3f}", "<= 1.05", r / minimum <= 1.05
                )
                report.add(
                    tag,
                    "one-GET-per-object refresh",
                    f"{per_object:,} (1:{per_object / r:.0f})",
                    "1:30 or better",
                    per_object / r >= 30,
                )
            report.add(tag, "plan wall time (median)", f"{w:.2f} s")
            report.add(tag, "I/O floor wall time (median)", f"{f:.2f} s")
            target = 1.3 if latency else 2.0
            report.add(tag, "plan / floor", f"{w / f:.2f}", f"<= {target}", w / f <= target)
            c = median(cli_walls)
            report.add(tag, "plan wall time, as `upcall-sync plan` runs it (median)", f"{c:.2f} s")
            report.add(tag, "plan / floor, as `upcall-sync plan` runs it", f"{c / f:.2f}")
            report.add(tag, "emulator CPU share of plan wall time", f"{median(emu_cpu):.0%}")
            report.raw[f"plan_{latency}ms"] = {
                "walls": walls,
                "floors": floors,
                "requests": reqs,
                "emulator_cpu_share": emu_cpu,
                "cli_walls": cli_walls,
            }
    report.add(
        "plan",
        "manifest load (50,000 numbers, not I/O)",
        f"{load_s:.2f} s",
        note="outside the floor comparison",
    )


def _plan_as_the_cli_runs_it(desired: Any, url: str) -> float:
    """Plan's wall time with the cyclic collector paused, as `upcall-sync plan` has run
    it since 77d58e0 (`gc_paused` around the whole plan, on both sides of a baseline
    comparison); the library figure above keeps the collector on."""
    client, _urls = client_for(url)
    was = gc.isenabled()
    gc.disable()
    try:
        t = time.perf_counter()
        planned = plan_for(desired, client, PlanOptions())
        wall = time.perf_counter() - t
    finally:
        if was:
            gc.enable()
    assert planned.plan.empty, planned.plan.summary_line()
    return wall


# -- scenario 2: the pure planner -----------------------------------------------------------------

PLANNER_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, tracemalloc
    sys.path.insert(0, sys.argv[3])
    from upcall_sync.errors import Location
    from upcall_sync.core.model import *
    from upcall_sync.core.planner import plan
    n, mode = int(sys.argv[1]), sys.argv[2]
    per = 100
    camps, lives, numbers, contacts = [], [], {}, []
    k = 0
    for c in range(n // per):
        desired, live = [], []
        for _ in range(per):
            ct = Contact(f"+1650{k:07d}", first_name=f"F{k}", last_name="L", title="Manager")
            lt = ct if k % 100 else ct._replace(title="Director")  # 1% changed
            desired.append(DesiredNumber(ct, Location("m.yaml", k + 10, 9)))
            live.append(LiveNumber(str(k), lt))
            contacts.append(LiveContact(str(k), lt))
            k += 1
        camps.append(DesiredCampaign(f"c{c:05d}", Location("m.yaml", c, 5), fields={"pitch": "x"}, numbers=tuple(desired)))
        lives.append(LiveCampaign(str(c), f"c{c:05d}", pitch="x"))
        numbers[str(c)] = live
    d = DesiredState(tuple(camps), files=("m.yaml",))
    l = LiveState(campaigns=lives, numbers=numbers, contacts=contacts, contact_list_id="1", contact_phones_read=None, complete_listing=True)
    if mode == "memory":
        tracemalloc.start()
        p = plan(d, l)
        peak = tracemalloc.get_traced_memory()[1]
        print(json.dumps({"peak_bytes": peak, "changes": len(p.changes)}))
    else:
        # the least CPU of 5 calls: planning is a few tenths of a second, so a single
        # call is at the mercy of page faults and the neighbours on this machine
        # as the CLI runs it: with the cyclic collector paused (upcall_sync.cli.gc_paused)
        import gc
        cpus = []
        for _ in range(5):
            gc.disable()
            t = time.process_time()
            p = plan(d, l)
            cpus.append(time.process_time() - t)
            gc.enable()
        print(json.dumps({"cpu": min(cpus), "changes": len(p.changes),
                          "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)


def planner_child(n: int, mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PLANNER_CHILD, str(n), mode, str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def scenario_planner(report: Report, runs: int, quick: bool) -> None:
    n = 20_000 if quick else 100_000
    print(
        f"\n[2] the pure planner: {n:,} desired numbers against {n:,} live, 1% changed", flush=True
    )
    cpu1, cpu2 = [], []
    for _ in range(runs):  # interleaved, so both sizes see the same machine
        cpu1.append(planner_child(n, "time")["cpu"])
        cpu2.append(planner_child(2 * n, "time")["cpu"])
    memory = planner_child(n, "memory")
    a, b = median(cpu1), median(cpu2)
    tag = f"planner, {n // 1000}k numbers"
    report.add(tag, "CPU time (least of 5 calls; median of runs)", f"{a:.2f} s", "<= 2 s", a <= 2)
    report.add(
        tag,
        "peak memory of plan() (tracemalloc)",
        f"{memory['peak_bytes'] / 1e6:.0f} MB",
        "<= 500 MB",
        memory["peak_bytes"] <= 500e6,
    )
    report.add(tag, f"CPU time at {2 * n // 1000}k (median)", f"{b:.2f} s")
    report.add(tag, "doubling costs", f"{b / a:.2f}x", "<= 2.3x", b / a <= 2.3)
    report.raw["planner"] = {"cpu_n": cpu1, "cpu_2n": cpu2, "memory": memory}


# -- scenario 3: apply from empty -------------------------------------------------------------


def write_apply_manifest(path: Path, campaigns: int, per: int) -> None:
    """The apply scenario's manifest: every campaign `ready`, `per` new people each
    (`bench/profile_apply.py` profiles the same apply)."""
    write_manifest(
        path,
        campaigns,
        per,
        defaults="",
        campaign=lambda c: f"  - name: apply-{c:03d}\n    status: ready\n",
        number=lambda k: f'{{phone: "+1408{k:07d}", first_name: A{k}}}',
    )


def scenario_apply(report: Report, work: Path, runs: int, quick: bool) -> None:
    campaigns, per = (20, 50) if quick else (100, 50)
    print(
        f"\n[3] apply from empty: {campaigns} campaigns x {per} numbers at 20 ms, parallelism 8",
        flush=True,
    )
    manifest = work / "apply" / "campaigns.yaml"
    manifest.parent.mkdir()
    write_apply_manifest(manifest, campaigns, per)
    desired = load_manifests([manifest])
    walls, ideals, reqs, shares, floors = [], [], [], [], []
    for run in range(runs):
        db = work / f"apply-{run}.sqlite"
        Store(str(db)).close()
        with emulator(db, 20) as emu:
            client, _urls = client_for(emu.url)
            cpu0 = emu.cpu_seconds()
            t = time.perf_counter()
            planned = plan_for(desired, client, PlanOptions())
            result = Applier(client, planned.plan).run()
            left = converge(client, desired, planned.plan, PlanOptions())
            wall = time.perf_counter() - t
            assert result.ok and left.empty
            n = requests_sent(client)
            walls.append(wall)
            reqs.append(n)
            ideals.append(n * 0.020 / 8)
            shares.append((emu.cpu_seconds() - cpu0) / wall)
            floors.append(post_floor(emu.url, STACK_SAMPLE, 8))
    w, i, r = median(walls), median(ideals), median(reqs)
    slot = w / r * 8 * 1000
    floor_slot = median(floors) / STACK_SAMPLE * 8 * 1000
    tag = f"apply {campaigns}x{per} @ 20 ms"
    report.add(tag, "requests (plan + apply + convergence check)", f"{r:.0f}")
    report.add(tag, "wall time (median)", f"{w:.1f} s")
    report.add(tag, "ideal: requests x 20 ms / 8", f"{i:.1f} s")
    report.add(tag, "wall / ideal", f"{w / i:.2f}", "<= 1.25", w / i <= 1.25)
    report.add(tag, "time per request slot (8 in flight)", f"{slot:.1f} ms (ideal 20.0)")
    report.add(
        tag,
        f"plain-script floor: {STACK_SAMPLE:,} small POSTs, 8 in flight",
        f"{floor_slot:.1f} ms per slot",
    )
    report.add(tag, "apply / plain-script floor (per request)", f"{slot / floor_slot:.2f}")
    report.add(tag, "emulator CPU share of wall time", f"{median(shares):.0%}")
    report.raw["apply"] = {
        "walls": walls,
        "ideals": ideals,
        "requests": reqs,
        "emulator_cpu_share": shares,
        "post_floor": floors,
    }


STACK_SAMPLE = 2000


def post_floor(url: str, n: int, parallelism: int) -> float:
    """The HTTP stack alone: a plain script POSTing small JSON documents, 8 at a time."""
    session = make_session(parallelism)
    body = b'{"data":{"type":"lists","attributes":{"name":"floor"}}}'
    headers = {"Content-Type": "application/vnd.api+json"}

    def post(_: int) -> bytes:
        resp = session.post(
            url + "/lists", params={"auth_token": TOKEN}, data=body, headers=headers, timeout=60
        )
        return resp.content

    started = time.perf_counter()
    with ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(post, range(n)))
    return time.perf_counter() - started


# -- scenario 4: validate ---------------------------------------------------------------------


def scenario_validate(report: Report, work: Path, runs: int, quick: bool) -> None:
    n = 20_000 if quick else 100_000
    print(f"\n[4] validate a {n:,}-number manifest (YAML, and CSV)", flush=True)
    yaml_dir, csv_dir = work / "vy", work / "vc"
    yaml_dir.mkdir()
    csv_dir.mkdir()
    with (yaml_dir / "m.yaml").open("w") as fh:
        fh.write("version: 1\ncampaigns:\n  - name: big\n    numbers:\n")
        for k in range(n):
            fh.write(
                f'      - {{phone: "+1650{k:07d}", first_name: F{k}, last_name: Last, company: Acme}}\n'
            )
    (csv_dir / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: big\n    numbers_csv: numbers.csv\n"
    )
    with (csv_dir / "numbers.csv").open("w") as fh:
        fh.write("phone,first_name,last_name,company\n")
        for k in range(n):
            fh.write(f"+1650{k:07d},F{k},Last,Acme\n")
    for label, path in (("YAML", yaml_dir), ("CSV", csv_dir)):
        size = sum(p.stat().st_size for p in path.iterdir())
        walls, rss = [], []
        for _ in range(runs):
            t = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import resource, sys; from upcall_sync.cli import main; "
                    "code = main(['validate', sys.argv[1]]); "
                    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)",
                    str(path),
                ],
                capture_output=True,
                text=True,
                cwd=path,  # a numbers_csv must lie inside the working directory
            )
            walls.append(time.perf_counter() - t)
            assert proc.returncode == 0, proc.stderr
            rss.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)
        tag = f"validate {n // 1000}k ({label}, {size / 1e6:.1f} MB)"
        report.add(
            tag,
            "wall time incl. interpreter start (median)",
            f"{median(walls):.2f} s",
            "< 10 s",
            median(walls) < 10,
        )
        report.add(tag, "peak RSS (median)", f"{median(rss):.0f} MB")
        report.raw[f"validate_{label}"] = {"walls": walls, "maxrss_mb": rss}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    parser.add_argument("--quick", action="store_true", help="smaller shapes")
    parser.add_argument(
        "--only", choices=["plan", "planner", "apply", "validate", "export"], action="append"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure commit REV (a git worktree), scenario by scenario, and print "
        "both side by side with the ratio now / baseline",
    )
    parser.add_argument(
        "--json", type=Path, help="write the rows here (default bench/results.json)"
    )
    args = parser.parse_args()
    order = ["plan", "planner", "apply", "validate", "export"]
    if args.baseline:
        from compare import compare

        return compare(
            args.baseline, [s for s in order if s in (args.only or order)], args.runs, args.quick
        )
    report = Report()
    only = set(args.only or order)
    started = time.perf_counter()
    print(
        f"upcall-sync bench: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {args.runs} runs per figure{' (quick)' if args.quick else ''}; "
        f"upcall-sync from {CODE}"
    )
    with tempfile.TemporaryDirectory(prefix="upcall-bench-") as tmp:
        work = Path(tmp)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("plan", lambda: scenario_plan(report, work, args.runs, args.quick)),
            ("planner", lambda: scenario_planner(report, args.runs, args.quick)),
            ("apply", lambda: scenario_apply(report, work, args.runs, args.quick)),
            ("validate", lambda: scenario_validate(report, work, args.runs, args.quick)),
            ("export", lambda: scenario_export(report, work, args.runs, args.quick)),
        ]
        for name, step in steps:
            if name in only:
                step()
    elapsed = time.perf_counter() - started
    print("\n" + report.table())
    print(
        f"\n{sum(1 for r in report.rows if r.ok)} targets met, "
        f"{sum(1 for r in report.rows if r.ok is False)} missed; bench took {elapsed:.0f} s"
    )
    out = args.json or ROOT / "bench" / "results.json"
    out.write_text(
        json.dumps(
            {
                "rows": [r.__dict__ for r in report.rows],
                "raw": report.raw,
                "runs": args.runs,
                "quick": args.quick,
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
