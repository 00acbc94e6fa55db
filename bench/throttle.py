"""Rate limits and a dead API: this client beside the fixed-concurrency client of before.

    python bench/throttle.py                  # every scenario, both clients (about 8 minutes)
    python bench/throttle.py --only 5rps      # one scenario: 5rps, 50rps, stray, closed, killed
    python bench/throttle.py --no-baseline    # this client only

Every figure comes from real processes: the emulator (`upcall-sync emulator
--rate-limit R`) and `upcall-sync apply` each run as their own process, and
the emulator's per-request log (read from its stderr as it happens) gives the
requests, the 429s and requests/s over time. The "before" client is the code
of commit BASELINE (extracted with `git archive` into a temporary directory and
put first on PYTHONPATH), run against the same emulator in the same run.
Results: a table on stdout, bench/throttle.json, and bench/throttle.png (a plot
of requests/s under the 5 req/s limit) when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "01e156c"  # the last commit before adaptive rate control (issue 13)
TOKEN = "bench-token-not-secret"
FROM = "+16501231234"
CLI = "import sys; from upcall_sync.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Emu:
    """An emulator process and its request log: (seconds since start, status)."""

    proc: subprocess.Popen[str]
    url: str
    log: list[tuple[float, int]] = field(default_factory=list)
    started: float = 0.0

    def counts(self, since: int = 0) -> tuple[int, int]:
        entries = self.log[since:]
        throttled = sum(1 for _, status in entries if status == 429)
        return len(entries) - throttled, throttled

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def start_emulator(db: str, *extra: str) -> Emu:
    args = [sys.executable, "-c", CLI, "emulator", "--db", db, "--token", TOKEN]
    args += ["--confirmed-number", FROM, *extra]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    url = proc.stdout.readline().strip()
    emu = Emu(proc, url, started=time.monotonic())

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if " -> " not in line:
                continue
            status = line.rsplit(" -> ", 1)[1].split()[0]
            emu.log.append((time.monotonic() - emu.started, int(status) if status.isdigit() else 0))

    threading.Thread(target=read, daemon=True).start()
    return emu


def write_manifest(path: Path, campaigns: int, numbers: int, status: str = "ready") -> Path:
    lines = ["version: 1", "contact_list: bench", "campaigns:"]
    for c in range(campaigns):
        lines += [
            f"  - name: Bench {c:03d}",
            "    pitch: hello",
            f"    status: {status}",
            f'    from_number: "{FROM}"',
            "    numbers:",
        ]
        lines += [
            f'      - {{phone: "+1415{c:03d}{n:04d}", first_name: P{n}, last_name: C{c}}}'
            for n in range(numbers)
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Run:
    code: int
    wall: float
    out: str
    err: str
    timed_out: bool = False


def run_apply(
    code_dir: Path | None,
    url: str,
    manifest: Path,
    *options: str,
    timeout: float = 600,
    on_start: Any = None,
) -> Run:
    env = {**os.environ, "UPCALL_AUTH_TOKEN": TOKEN, "NO_COLOR": "1"}
    env["PYTHONPATH"] = str(code_dir or ROOT)
    args = [sys.executable, "-c", CLI, "apply", "--auto-approve", "--api-url", url]
    proc = subprocess.Popen(
        [*args, *options, str(manifest)],
        cwd=manifest.parent,  # not ROOT: `python -c` puts the current directory first
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    if on_start is not None:
        on_start(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        timed_out = True
    return Run(proc.returncode, time.monotonic() - started, out, err, timed_out)


def failed_changes(out: str) -> int:
    """From the summary line: 'N failed'."""
    for line in reversed(out.splitlines()):
        if " failed, " in line:
            return int(line.split(" failed, ")[0].rsplit(" ", 1)[-1].replace(",", ""))
    return 0


def duplicates(db: str) -> int:
    con = sqlite3.connect(db)
    queries = (
        "SELECT COUNT(*) - COUNT(DISTINCT name) FROM campaigns",
        "SELECT COUNT(*) - COUNT(DISTINCT name) FROM lists",
        "SELECT COUNT(*) FROM (SELECT 1 FROM list_contacts GROUP BY list_id, phone, "
        "first_name, last_name HAVING COUNT(*) > 1)",
        "SELECT COUNT(*) FROM (SELECT 1 FROM campaign_numbers n JOIN list_contacts c "
        "ON c.id = n.list_contact_id GROUP BY n.campaign_id, c.phone, c.first_name, "
        "c.last_name HAVING COUNT(*) > 1)",
    )
    total = sum(int(con.execute(q).fetchone()[0]) for q in queries)
    con.close()
    return total


def baseline_tree(tmp: Path, baseline: str = BASELINE) -> Path | None:
    target = tmp / "baseline"
    target.mkdir()
    probe = f"import upcall_sync; assert upcall_sync.__file__.startswith({str(target)!r})"
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", baseline, "upcall_sync"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        print(f"(no git history with {baseline}: measuring this client only)")
        return None
    env = {**os.environ, "PYTHONPATH": str(target)}
    subprocess.run([sys.executable, "-c", probe], cwd=tmp, env=env, check=True)
    return target


# -- scenarios -----------------------------------------------------------------------------


def rate_limited(
    tmp: Path, name: str, rate: float, campaigns: int, numbers: int, options: list[str], code: Any
) -> dict[str, Any]:
    manifest = write_manifest(tmp / f"{name}.yaml", campaigns, numbers)
    db = str(tmp / f"{name}-{'base' if code else 'new'}.db")
    emu = start_emulator(db, "--rate-limit", str(rate))
    try:
        run = run_apply(code, emu.url, manifest, *options, timeout=900)
        time.sleep(0.3)  # the last log lines
        ok, refused = emu.counts()
    finally:
        emu.kill()
    ideal = ok / rate
    return {
        "exit": run.code,
        "failed": failed_changes(run.out),
        "requests": ok + refused,
        "answered 429": refused,
        "429 share": refused / max(ok + refused, 1),
        "wall s": run.wall,
        "successful / rate s": ideal,
        "wall / ideal": run.wall / ideal,
        "timeline": emu.log,
        "last line": (run.err.strip().splitlines() or [""])[-1],
    }


def repeated(runs: int, once: Any) -> dict[str, Any]:
    """`once(n)` run `runs` times: the figures of the median run by 429 share (its
    timeline kept for the plot), and each run's share and wall / ideal."""
    results = [once(n) for n in range(runs)]
    for n, r in enumerate(results):
        print(
            f"  run {n + 1}: {r['answered 429']} of {r['requests']} answered 429 "
            f"({r['429 share']:.1%}), wall / ideal {r['wall / ideal']:.2f}",
            flush=True,
        )
    median = sorted(results, key=lambda r: r["429 share"])[len(results) // 2]
    walls = sorted(r["wall / ideal"] for r in results)
    return {
        **median,
        "runs": runs,
        "429 share (each run)": [round(r["429 share"], 3) for r in results],
        "wall / ideal (each run)": [round(r["wall / ideal"], 2) for r in results],
        "wall / ideal (median)": walls[len(walls) // 2],
    }


def stray_429s(tmp: Path, code: Any, runs: int = 3) -> dict[str, Any]:
    """4 campaigns x 50 numbers at --parallelism 16; the emulator answers a tenth of the
    requests 429 (Retry-After: 1) whatever the pace. The floor is the same apply without
    those 429s plus the waits they asked for, spread over the 16 workers."""
    manifest = write_manifest(tmp / "stray.yaml", 4, 50)
    options = ["--parallelism", "16", "--quiet"]
    tag = "base" if code else "new"
    walls: list[float] = []
    floors: list[float] = []
    refused_counts: list[int] = []
    for run_no in range(runs):
        clean = start_emulator(str(tmp / f"stray-clean-{tag}-{run_no}.db"))
        try:
            plain = run_apply(code, clean.url, manifest, *options, timeout=300)
        finally:
            clean.kill()
        faulty = start_emulator(
            str(tmp / f"stray-{tag}-{run_no}.db"),
            *("--fault-rate", "0.1", "--faults", "429", "--retry-after", "1"),
            *("--seed", str(26 + run_no)),
        )
        try:
            run = run_apply(code, faulty.url, manifest, *options, timeout=300)
            time.sleep(0.3)
            _ok, refused = faulty.counts()
        finally:
            faulty.kill()
        floors.append(plain.wall + refused * 1.0 / 16)
        walls.append(run.wall if not run.timed_out else float("inf"))
        refused_counts.append(refused)
        print(f"  run {run_no + 1}: {run.wall:.1f} s, {refused} x 429, floor {floors[-1]:.1f} s")
    ratios = sorted(w / f for w, f in zip(walls, floors, strict=True))
    return {
        "runs": runs,
        "answered 429 (each run)": refused_counts,
        "wall s (each run)": [round(w, 2) for w in walls],
        "floor s (each run)": [round(f, 2) for f in floors],
        "wall / floor (median)": ratios[len(ratios) // 2],
    }


def closed_port(tmp: Path, code: Any) -> dict[str, Any]:
    import socket

    manifest = write_manifest(tmp / "closed.yaml", 1, 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = run_apply(code, f"http://127.0.0.1:{port}/api/v1", manifest, timeout=300)
    return {"exit": run.code, "wall s": run.wall, "last line": run.err.strip()[-160:]}


def killed(tmp: Path, code: Any, cap: float) -> dict[str, Any]:
    """20 campaigns x 50 numbers (2,021 changes); the emulator is SIGKILLed mid-apply."""
    manifest = write_manifest(tmp / "killed.yaml", 20, 50, status="pending")
    db = str(tmp / f"killed-{'base' if code else 'new'}.db")
    emu = start_emulator(db, "--latency-ms", "20")
    died: list[float] = []

    def killer(proc: subprocess.Popen[str]) -> None:
        def watch() -> None:
            while proc.poll() is None and len(emu.log) < 800:
                time.sleep(0.02)
            emu.kill()
            died.append(time.monotonic())

        threading.Thread(target=watch, daemon=True).start()

    run = run_apply(code, emu.url, manifest, "--quiet", timeout=cap, on_start=killer)
    ended = time.monotonic()
    result: dict[str, Any] = {
        "exit": "still running (killed)" if run.timed_out else run.code,
        "exit after death s": ended - died[0] if died else None,
        "report printed": "not attempted" in run.out,
        "last line": (run.err.strip().splitlines() or [""])[-1][:160],
    }
    if code is None and not run.timed_out:
        emu2 = start_emulator(db)
        try:
            rerun = run_apply(None, emu2.url, manifest, "--quiet", timeout=600)
        finally:
            emu2.kill()
        result["rerun exit"] = rerun.code
        result["duplicates"] = duplicates(db)
    return result


def plot(timelines: dict[str, list[tuple[float, int]]], path: Path, rate: float) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(len(timelines), 1, figsize=(9, 3.2 * len(timelines)), sharex=True)
    for ax, (label, log) in zip(axes, timelines.items(), strict=True):
        end = int(max((t for t, _ in log), default=0)) + 1
        ok = [0] * end
        refused = [0] * end
        for t, status in log:
            (refused if status == 429 else ok)[int(t)] += 1
        xs = list(range(end))
        ax.bar(xs, ok, width=1.0, align="edge", label="answered", color="tab:blue")
        ax.bar(xs, refused, width=1.0, align="edge", bottom=ok, label="429", color="tab:red")
        ax.axhline(rate, color="black", linestyle="--", linewidth=1, label=f"limit {rate:g}/s")
        ax.set_ylabel("requests / s")
        ax.set_title(label)
        ax.legend(loc="upper right")
    axes[-1].set_xlabel("seconds since the emulator started")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", choices=("5rps", "50rps", "stray", "closed", "killed"), action="append"
    )
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=3, help="runs of the 5rps and stray scenarios")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--baseline-cap", type=float, default=150.0, help="seconds, killed case")
    args = parser.parse_args()
    only = set(args.only or ("5rps", "50rps", "stray", "closed", "killed"))
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        base = None if args.no_baseline else baseline_tree(tmp, args.baseline)
        clients: list[tuple[str, Path | None]] = [("adaptive", None)]
        if base is not None:
            clients.append(("before", base))
        for label, code in clients:
            if "5rps" in only:
                print(f"5 req/s, --parallelism 16, 5 x 10: {label}", flush=True)
                results[f"5rps {label}"] = repeated(
                    args.runs,
                    lambda n, code=code: rate_limited(
                        tmp, f"r5-{n}", 5, 5, 10, ["--parallelism", "16", "--quiet"], code
                    ),
                )
            if "50rps" in only:
                print(f"50 req/s, default parallelism, 100 x 20: {label}", flush=True)
                results[f"50rps {label}"] = rate_limited(tmp, "r50", 50, 100, 20, ["--quiet"], code)
            if "stray" in only:
                print(f"stray 429s on a tenth of requests, --parallelism 16, 4 x 50: {label}")
                results[f"stray {label}"] = stray_429s(tmp, code, args.runs)
            if "closed" in only:
                print(f"closed port: {label}", flush=True)
                results[f"closed {label}"] = closed_port(tmp, code)
            if "killed" in only:
                print(f"API killed mid-apply: {label}", flush=True)
                results[f"killed {label}"] = killed(tmp, code, args.baseline_cap)
    timelines = {
        f"{k.split()[1]} client, 5 req/s limit, --parallelism 16": v.pop("timeline")
        for k, v in results.items()
        if "timeline" in v and k.startswith("5rps")
    }
    for v in results.values():
        v.pop("timeline", None)
    if timelines and plot(timelines, ROOT / "bench" / "throttle.png", 5):
        print("wrote bench/throttle.png")
    (ROOT / "bench" / "throttle.json").write_text(json.dumps(results, indent=2, default=str))
    for name, figures in results.items():
        print(f"\n{name}")
        for key, value in figures.items():
            shown = f"{value:.3f}" if isinstance(value, float) else value
            print(textwrap.indent(f"{key}: {shown}", "  "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
