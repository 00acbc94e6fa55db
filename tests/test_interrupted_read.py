"""Ctrl-C or SIGTERM while a command reads the account (before apply's own handlers):
one line says so, exit 130 or 143, no traceback, once the pages in flight are in. Typer
turns the interrupt into a quiet exit code; without that line an interrupted plan ended
without a word."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.emulator.faults import Faults

from .conftest import CONFIRMED, TOKEN, run_cli, write_manifest
from .helpers.reports import report

ROOT = Path(__file__).resolve().parent.parent


def _default_signals() -> None:
    # as on a terminal: a suite started in the background without job control runs
    # with SIGINT ignored, which its children would inherit
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class _Read:
    """What became of a command sent a signal while it read: its exit code, stdout and
    stderr, the seconds it took after the signal, and the requests the API saw."""

    def __init__(self, code: int, out: str, err: str, took: float, requests: int) -> None:
        self.code, self.out, self.err, self.took, self.requests = code, out, err, took, requests


def _signal_while_reading(
    sig: signal.Signals,
    preexec: Callable[[], None],
    latency_ms: int,
    command: Sequence[str] = ("plan", "examples/campaigns.yaml"),
    campaigns: int = 0,
    after: int = 1,
    faults: Faults | None = None,
) -> _Read:
    """`command` in a child process (against an emulator holding `campaigns` campaigns
    besides, answering with `faults`), sent `sig` once the API has seen `after` requests."""
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), latency_ms=latency_ms) as emu:
        if faults is not None:
            emu.faults = faults
        if campaigns:
            seeded = [{"name": f"C{i:03d}"} for i in range(campaigns)]
            emu.store.seed(emu.accounts[TOKEN], campaigns=seeded)
        env = {**os.environ, "UPCALL_AUTH_TOKEN": TOKEN, "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "upcall_sync.cli", *command, "--api-url", emu.base_url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,  # noqa: PLW1509 (no threads started in between)
        )
        try:
            deadline = time.monotonic() + 60
            while len(emu.requests) < after and time.monotonic() < deadline:  # it is reading
                time.sleep(0.02)
            assert len(emu.requests) >= after, "the command never got that far"
            proc.send_signal(sig)
            sent = time.monotonic()
            out, err = proc.communicate(timeout=60)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return _Read(proc.returncode, out, err, took, len(emu.requests))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_plan_reads_is_one_line(sig: signal.Signals, code: int) -> None:
    read = _signal_while_reading(sig, _default_signals, latency_ms=1000)
    assert "Traceback" not in read.err, read.err
    assert read.err.splitlines()[-1:] == ["error: interrupted"], read.err
    assert read.code == code
    assert read.out == ""


@pytest.mark.parametrize(
    ("sig", "code", "parallelism"), [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 8)]
)
def test_a_signal_ends_a_long_read_once_the_pages_in_flight_are_in(
    sig: signal.Signals, code: int, parallelism: int, tmp_path: Path
) -> None:
    """Export of 80 campaigns, a numbers page each at 100 ms: the read ends with the
    pages in flight, not after every page queued (ThreadPoolExecutor's exit read them
    all first: 8 s at --parallelism 1; `client.api.Workers` cancels them)."""
    out_dir = tmp_path / "out"
    command = ["export", "--out", str(out_dir), "--quiet", "--parallelism", str(parallelism)]
    read = _signal_while_reading(
        sig, _default_signals, latency_ms=100, command=command, campaigns=80, after=3
    )
    assert "Traceback" not in read.err, read.err
    assert read.err.splitlines()[-1:] == ["error: interrupted"], read.err
    assert read.code == code
    assert read.out == ""
    assert read.took < 3.0, f"{read.took:.1f} s after the signal"
    assert read.requests < 3 + 2 * max(parallelism, 8), read.requests
    assert not out_dir.exists() or not any(out_dir.iterdir())  # nothing half-written


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_wait_for_a_retry_after(sig: signal.Signals, code: int) -> None:
    """Every answer a 429 with `Retry-After: 20`: the plan's pages wait to retry. A
    signal ends those waits (it took 38 s: the pool waited for its pages in flight, and
    they for their Retry-After)."""
    read = _signal_while_reading(
        sig, _default_signals, latency_ms=0, faults=Faults(rate=1.0, kinds=("429",), retry_after=20)
    )
    assert "Traceback" not in read.err, read.err
    assert read.err.splitlines()[-1:] == ["error: interrupted"], read.err
    assert read.code == code
    assert read.took < 5.0, f"{read.took:.1f} s after the signal"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_the_process_was_started_ignoring_stays_ignored(sig: signal.Signals) -> None:
    """A background job without job control starts with SIGINT ignored (and a supervisor
    may ignore SIGTERM for its children): the plan reads on and ends as it would."""

    def ignoring() -> None:
        _default_signals()
        signal.signal(sig, signal.SIG_IGN)

    read = _signal_while_reading(sig, ignoring, latency_ms=300)
    assert "interrupted" not in read.err, read.err
    assert read.code == 0, read.err
    assert read.out.strip(), "the plan was printed"


@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_the_convergence_check_ends_its_waits(
    signame: str,
    code: int,
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writes are done and the API throttles every read (`Retry-After: 20`) when the
    signal comes: apply's check ends at once. Its handler stopped only new changes, so
    the check waited out every Retry-After (80 s in b40's run) before exiting 130."""
    import upcall_sync.jobs.sync as sync

    signum = getattr(signal, signame)
    find_duplicates = sync.find_duplicates

    def throttled_then_signalled(*args: Any, **kwargs: Any) -> Any:
        cli_env.faults = Faults(rate=1.0, kinds=("429",), retry_after=20)
        os.kill(os.getpid(), signum)
        return find_duplicates(*args, **kwargs)

    monkeypatch.setattr(sync, "find_duplicates", throttled_then_signalled)
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: Checked\n")
    # as on a terminal: a suite started in the background runs with SIGINT ignored
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    term = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    started = time.monotonic()
    try:
        got, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, term)
    took = time.monotonic() - started
    assert got == code, out + err
    assert took < 10, f"{took:.1f} s"
    assert "Traceback" not in err, err
    assert "interrupted during the convergence check" in err, err
    [row] = cli_env.store.sql("SELECT name FROM campaigns")
    assert row["name"] == "Checked"  # the write was made before the signal


def _apply_signalled(
    capsys: pytest.CaptureFixture[str], signum: int, *args: str
) -> tuple[int, str, str, float]:
    """apply, with SIGINT and SIGTERM handled as on a terminal; how long it took."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    term = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    started = time.monotonic()
    try:
        got, out, err = run_cli(capsys, "apply", "--auto-approve", *args)
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, term)
    return got, out, err, time.monotonic() - started


def test_a_signal_right_as_the_writes_end_ends_the_checks_waits(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signal comes once the writes are done (none was stopped), before the check
    starts: its handler saw no check and only stopped new changes, so the check waited
    out every Retry-After."""
    import upcall_sync.jobs.sync as sync

    apply_plan = sync.apply_plan

    def signalled_as_writes_end(*args: Any, **kwargs: Any) -> Any:
        report = apply_plan(*args, **kwargs)
        cli_env.faults = Faults(rate=1.0, kinds=("429",), retry_after=20)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the handler's watcher has run
        return report

    monkeypatch.setattr(sync, "apply_plan", signalled_as_writes_end)
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: Checked\n")
    got, out, err, took = _apply_signalled(capsys, signal.SIGINT, str(m))
    assert got == 130, out + err
    assert took < 10, f"{took:.1f} s"
    assert "interrupted during the convergence check" in err, err
    assert "Converged" not in out


def test_a_signal_during_the_look_for_duplicates_of_a_failed_apply_ends_it(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change failed (the apply is not ok, nor interrupted): its writes are done all
    the same, and the look for duplicates after them is as throttled. The first signal
    did not end it (every Retry-After was waited out), and its Cancelled was dropped:
    nothing said the look was not finished."""
    import upcall_sync.jobs.sync as sync

    apply_plan = sync.apply_plan
    find_duplicates = sync.find_duplicates

    def one_failed(*args: Any, **kwargs: Any) -> Any:
        report = apply_plan(*args, **kwargs)
        [op] = [op for op in report.ops if '"Failed"' in op.label]
        op.status, op.message = "failed", "422 as the API could answer"
        return report

    def throttled_then_signalled(*args: Any, **kwargs: Any) -> Any:
        cli_env.faults = Faults(rate=1.0, kinds=("429",), retry_after=20)
        os.kill(os.getpid(), signal.SIGTERM)
        return find_duplicates(*args, **kwargs)

    monkeypatch.setattr(sync, "apply_plan", one_failed)
    monkeypatch.setattr(sync, "find_duplicates", throttled_then_signalled)
    m = write_manifest(
        tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: Checked\n  - name: Failed\n"
    )
    got, out, err, took = _apply_signalled(capsys, signal.SIGTERM, str(m))
    assert got == 143, out + err
    assert took < 10, f"{took:.1f} s"
    assert "Traceback" not in err, err
    assert "interrupted during the convergence check" in err, err


def test_the_json_report_of_a_check_a_signal_cut_short_says_interrupted(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It said `"result": "not_converged"` and `"interrupted": false` with exit 130: the
    check found nothing, it was not finished."""
    import upcall_sync.jobs.sync as sync

    find_duplicates = sync.find_duplicates

    def throttled_then_signalled(*args: Any, **kwargs: Any) -> Any:
        cli_env.faults = Faults(rate=1.0, kinds=("429",), retry_after=20)
        os.kill(os.getpid(), signal.SIGINT)
        return find_duplicates(*args, **kwargs)

    monkeypatch.setattr(sync, "find_duplicates", throttled_then_signalled)
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: Checked\n")
    got, out, err, took = _apply_signalled(capsys, signal.SIGINT, "--format", "json", str(m))
    assert got == 130, out + err
    assert took < 10, f"{took:.1f} s"
    doc = report(out)  # one document, valid against the report's schema
    assert doc["exit_code"] == 130
    assert doc["result"] == "interrupted"
    assert doc["interrupted"] is True
    assert doc["convergence"]["converged"] is None
    assert [c["status"] for c in doc["changes"]] == ["applied"]
