"""Requests in flight stay at `parallelism`; a worker waiting out a Retry-After holds no
slot, so apply's other workers still send (issue 26: stray 429s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from upcall_sync.client import RetryPolicy, make_session
from upcall_sync.client.ratelimit import START_WINDOW, START_WINDOW_LIFTED, StartWindow
from upcall_sync.client.slots import Slots
from upcall_sync.emulator import Emulator
from upcall_sync.emulator.faults import Faults
from upcall_sync.errors import NotStarted
from upcall_sync.jobs.apply import apply_plan
from upcall_sync.jobs.schedule import ApplyReport, StartGate
from upcall_sync.jobs.sync import PlanOptions, plan_for
from upcall_sync.manifest import load_manifests

from .conftest import CONFIRMED, FAST_TIMEOUTS, TOKEN, connect, write_manifest


class _Counting(HTTPAdapter):
    """Counts the requests in flight through it; logs (start, end, method, path, status)."""

    def __init__(self) -> None:
        super().__init__(pool_maxsize=32, max_retries=0)
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.log: list[tuple[float, float, str, str, int]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        started = time.monotonic()
        try:
            resp = super().send(request, **kwargs)
        finally:
            with self.lock:
                self.now -= 1
        path = (request.path_url or "").split("?")[0]
        with self.lock:
            self.log.append(
                (started, time.monotonic(), request.method or "", path, resp.status_code)
            )
        return resp


def _session() -> tuple[requests.Session, _Counting]:
    session = make_session(32)
    adapter = _Counting()
    session.mount("http://", adapter)
    return session, adapter


def test_a_slot_is_waited_for_and_a_cancel_ends_the_wait() -> None:
    slots = Slots(2)
    cancel = threading.Event()
    assert slots.take(cancel) and slots.take(cancel)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(slots.take(cancel)))
    waiter.start()
    time.sleep(0.15)
    assert got == [] and slots.taken == 2  # still waiting
    slots.give()
    waiter.join(timeout=2)
    assert got == [True] and slots.taken == 2
    cancelled: list[bool] = []
    waiter = threading.Thread(target=lambda: cancelled.append(slots.take(cancel)))
    waiter.start()
    cancel.set()
    waiter.join(timeout=2)
    assert cancelled == [False] and slots.taken == 2
    assert Slots(None).take(cancel)  # unbounded: never waits


def test_requests_in_flight_never_exceed_parallelism() -> None:
    """Eight threads read through a client of parallelism 2, against a server that takes
    30 ms an answer: two requests at a time reach the session's adapter, never more."""
    session, adapter = _session()
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), latency_ms=30) as emu:
        client = connect(emu, session=session, parallelism=2)
        threads = [threading.Thread(target=client.list_campaigns) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len(adapter.log) == 8
    assert adapter.most == 2


def test_a_worker_waiting_out_retry_after_frees_its_slot(tmp_path: Path) -> None:
    """Apply at parallelism 1: the first contact POST is answered 429 with Retry-After: 1.
    While its worker waits that second, another worker sends the other changes, one at a
    time; before, the one worker slept and nothing went out for the whole second."""
    body = "version: 1\ncampaigns:\n  - name: slots\n    status: pending\n    numbers:\n"
    body += "".join(f'      - {{phone: "+1650555{n:04d}", first_name: P{n}}}\n' for n in range(6))
    manifest = write_manifest(tmp_path / "m.yaml", body)
    session, adapter = _session()
    faults = Faults(retry_after=1)
    faults.add_rule("429", "POST", r"/lists/[^/]+/contacts")
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=faults) as emu:
        client = connect(
            emu,
            session=session,
            parallelism=1,
            retry=RetryPolicy(max_attempts=3, max_total_seconds=30),
            timeouts=FAST_TIMEOUTS,
        )
        planned = plan_for(load_manifests([str(manifest)]), client, PlanOptions())
        report = apply_plan(client, planned.plan)
    assert report.ok, [op.message for op in report.ops]
    assert adapter.most == 1  # one request in flight at a time, as --parallelism 1 says
    [(_, refused_at, *_)] = [e for e in adapter.log if e[4] == 429]
    during = [e for e in adapter.log if refused_at <= e[0] < refused_at + 0.9]
    assert len(during) >= 3, adapter.log  # the other contacts went out during the wait


def _room(window: StartWindow) -> bool:
    """Whether a write may go now: `enter` with the run cancelled waits for nothing, and
    takes a place when there is one."""
    stopped = threading.Event()
    stopped.set()
    return window.enter(stopped)


def test_the_start_window_opens_one_per_answer_and_lifts_at_a_429() -> None:
    """Slow start for writes: START_WINDOW in flight at first, one more for every answer
    that is not a 429; the first 429 (or START_WINDOW_LIFTED answers) lifts it."""
    cancel = threading.Event()
    window = StartWindow()
    assert window.size == START_WINDOW == 2 and not window.lifted
    assert window.enter(cancel) and window.enter(cancel)
    assert not _room(window)  # full: a third write waits
    window.leave(False)  # answered: one left, and the window grows to 3
    assert window.size == 3
    assert window.enter(cancel) and window.enter(cancel)
    assert not _room(window)
    window.leave(None)  # no answer (a reset): room again, but no growth
    assert window.size == 3 and window.enter(cancel)
    window.leave(True)  # a 429: lifted for the rest of the run
    assert window.lifted
    assert all(window.enter(cancel) for _ in range(100))  # never waits again
    window.leave(False)  # the ones in flight when it lifted end as no-ops
    assert window.lifted and window.taken == 2  # as it was when the 429 lifted it

    grown = StartWindow()
    for _ in range(START_WINDOW_LIFTED - START_WINDOW):
        assert grown.enter(cancel)
        grown.leave(False)
    assert grown.lifted  # START_WINDOW_LIFTED answers: lifted without a 429
    assert StartWindow(START_WINDOW_LIFTED).lifted


def test_a_write_waiting_for_the_window_goes_when_it_lifts() -> None:
    cancel = threading.Event()
    window = StartWindow()
    assert window.enter(cancel) and window.enter(cancel)
    went: list[bool] = []
    waiter = threading.Thread(target=lambda: went.append(window.enter(cancel)))
    waiter.start()
    time.sleep(0.15)
    assert went == []
    window.lift()  # a 429 to a read: the limiter paces from here on
    waiter.join(timeout=2)
    assert went == [True]


# -- the start gate: nothing new starts once the run stopped ------------------------------


def test_the_start_gate_stops_only_changes_that_have_not_reached_the_api() -> None:
    stopped = threading.Event()
    gate = StartGate(stopped.is_set)
    gate.may_send()  # a thread running no change (a read, the convergence check) passes
    gate.begin()
    gate.may_send()  # not stopped: the change goes
    gate.sent(refused=True)  # answered 429: nothing handled, so not reached yet
    stopped.set()
    with pytest.raises(NotStarted):
        gate.may_send()
    gate.end()
    gate.may_send()
    gate.begin()
    stopped.clear()
    gate.sent(refused=False)  # any other answer (or none): it may have been handled
    stopped.set()
    gate.may_send()  # a change that reached the API finishes, its look-ups included
    other: list[BaseException] = []

    def elsewhere() -> None:
        gate.begin()
        try:
            gate.may_send()
        except NotStarted as exc:
            other.append(exc)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert len(other) == 1  # per thread: another worker's new change does not start


def _one_campaign(tmp_path: Path, numbers: int) -> Path:
    body = "version: 1\ncampaigns:\n  - name: gate\n    status: pending\n    numbers:\n"
    body += "".join(
        f'      - {{phone: "+1650555{n:04d}", first_name: P{n}}}\n' for n in range(numbers)
    )
    return write_manifest(tmp_path / "m.yaml", body)


def _apply_then_stop(
    client: Any, manifest: Path, ready: Callable[[], bool]
) -> tuple[ApplyReport, float]:
    """Apply `manifest` in a thread, stop it (as Ctrl-C does) once `ready()`; the report,
    and how long the apply took to end after the stop."""
    planned = plan_for(load_manifests([str(manifest)]), client, PlanOptions())
    cancel = threading.Event()
    done: list[ApplyReport] = []
    runner = threading.Thread(
        target=lambda: done.append(apply_plan(client, planned.plan, cancel=cancel))
    )
    runner.start()
    deadline = time.monotonic() + 10
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    stopped_at = time.monotonic()
    cancel.set()
    runner.join(timeout=40)
    assert done, "the apply did not end within 40 s of the stop"
    return done[0], time.monotonic() - stopped_at


def test_a_stop_ends_changes_that_only_met_429s_at_once(tmp_path: Path) -> None:
    """Ctrl-C while every contact POST is answered 429: those changes were never handled,
    so they end as not attempted at their next attempt, not after the whole retry budget
    (30 s here; before the gate, in-flight changes retried their 429s until it ran out)."""
    manifest = _one_campaign(tmp_path, 6)
    faults = Faults(retry_after=1)
    faults.add_rule("429", "POST", r"/lists/[^/]+/contacts", count=10_000)
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=faults) as emu:
        client = connect(
            emu, parallelism=2, retry=RetryPolicy(max_attempts=3, max_total_seconds=30)
        )
        report, took = _apply_then_stop(
            client, manifest, lambda: sum(r.status == 429 for r in emu.requests) >= 3
        )
        contacts = emu.store.sql("SELECT COUNT(*) n FROM list_contacts")[0]["n"]
    assert report.interrupted
    assert took < 5.0, took  # one Retry-After at most, then nothing
    assert contacts == 0
    ops = [op for op in report.ops if op.kind in ("create_contact", "add_number")]
    assert {op.status for op in ops} == {"not_attempted"}, [(op.label, op.status) for op in ops]


def test_a_stop_ends_a_wait_for_a_long_retry_after_at_once(tmp_path: Path) -> None:
    """Ctrl-C while the contact POSTs wait out a 429's `Retry-After: 30`: a change that
    never reached the API is not sent again, so its worker stops waiting at once (it sat
    out the 30 s, then was refused: 27 s from Ctrl-C to the end, found by b56)."""
    manifest = _one_campaign(tmp_path, 6)
    faults = Faults(retry_after=30)
    faults.add_rule("429", "POST", r"/lists/[^/]+/contacts", count=10_000)
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=faults) as emu:
        client = connect(
            emu, parallelism=2, retry=RetryPolicy(max_attempts=3, max_total_seconds=90)
        )
        report, took = _apply_then_stop(
            client, manifest, lambda: sum(r.status == 429 for r in emu.requests) >= 2
        )
    assert report.interrupted
    assert took < 2.0, took
    ops = [op for op in report.ops if op.kind in ("create_contact", "add_number")]
    assert {op.status for op in ops} == {"not_attempted"}, [(op.label, op.status) for op in ops]


def test_fail_fast_sends_nothing_after_a_refusal(tmp_path: Path) -> None:
    """--fail-fast at --parallelism 16: the campaign with an unconfirmed from_number is
    refused; no POST starts after its answer came back (before the gate, the changes
    workers had taken while the start window held them went out after it: 13-15)."""
    lines = ["version: 1", "campaigns:"]
    for c in range(30):
        number = "+16509999999" if c == 0 else CONFIRMED[0]
        lines += [f"  - name: ff {c:03d}", f'    from_number: "{number}"']
    manifest = write_manifest(tmp_path / "m.yaml", "\n".join(lines) + "\n")
    session, adapter = _session()
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), latency_ms=100) as emu:
        client = connect(emu, session=session, parallelism=16)
        planned = plan_for(load_manifests([str(manifest)]), client, PlanOptions())
        report = apply_plan(client, planned.plan, fail_fast=True)
    posts = [e for e in adapter.log if e[2] == "POST"]
    [refused_at] = [end for _start, end, _m, _p, status in posts if 400 <= status < 500]
    late = [e for e in posts if e[0] > refused_at + 0.02]
    assert late == [], late
    assert report.stopped_early and any(op.status == "failed" for op in report.ops)


def test_a_stop_ends_the_wait_for_the_limiter(tmp_path: Path) -> None:
    """At a paced rate (--max-rps 2) eight workers queue for the limiter; after Ctrl-C
    those whose change has not reached the API stop waiting at once (before, each waited
    for its token, 0.5 s apart, only to be refused then)."""
    manifest = _one_campaign(tmp_path, 20)
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED)) as emu:
        client = connect(emu, parallelism=4, max_rps=2)
        # stopped once the list and the campaign are made, the contacts queued at 2 a second
        report, took = _apply_then_stop(
            client, manifest, lambda: any("/contacts" in r.path for r in emu.requests)
        )
    assert report.interrupted
    assert took < 1.0, took  # 0.09 s here; 2.0 s when each waited for its token
    statuses = {op.status for op in report.ops if op.kind == "create_contact"}
    assert "not_attempted" in statuses and "failed" not in statuses
