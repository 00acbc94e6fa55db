"""The operations of applying a Plan: what they are, what waits on what, who runs next.

`Graph` turns a plan's changes into operations with their dependencies:

    contact list ──▶ contacts ──────────────┐
    campaign create/update ──▶ numbers ──▶ status -> ready
                                                        (archivals run last)

`Scheduler` hands ready operations to the workers by priority (graphlib's
TopologicalSorter does the bookkeeping) and skips what needed an operation
that did not apply. No I/O here: `apply` runs the operations.
"""

from __future__ import annotations

import graphlib
import heapq
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from upcall_sync.core.changes import (
    AddNumber,
    ArchiveCampaign,
    Change,
    CreateCampaign,
    CreateContact,
    CreateList,
    Plan,
    UpdateCampaign,
    UpdateContact,
)
from upcall_sync.errors import NotStarted, UpcallSyncError

PRIORITY = {
    "create_list": 0,
    "create_campaign": 1,
    "update_campaign": 1,
    "create_contact": 2,
    "update_contact": 2,
    "add_number": 3,
    "set_ready": 4,
    "archive_campaign": 5,
}
#: a do-not-call pause goes before everything: a failure with --fail-fast, Ctrl-C or
#: a dead API must not leave it unsent behind the run's other writes
PAUSE_PRIORITY = -1


def _priority(op: Op) -> int:
    if isinstance(op.change, UpdateCampaign) and op.change.reason:
        return PAUSE_PRIORITY
    return PRIORITY[op.kind]


Status = Literal["pending", "running", "applied", "failed", "skipped", "not_attempted"]


@dataclass
class Op:
    seq: int
    kind: str
    change: Change
    label: str
    deps: list[int] = field(default_factory=list)  # must have been applied
    after: list[int] = field(default_factory=list)  # order only: run after these end
    status: Status = "pending"
    message: str = ""
    result: str = ""
    #: the live id the operation made or changed
    live_id: str | None = None
    #: why it failed (`message` is its one-line form, with manifest lines)
    error: UpcallSyncError | None = None
    #: POSTs sent; `resent`: sent again after an unknown outcome (a duplicate may exist)
    attempts: int = 0
    resent: bool = False
    #: fields the API answered the write with another value than sent: name -> that value
    #: (None when none: an empty dict on each of 200,000 Ops is 13 MB)
    answered: dict[str, Any] | None = None

    @property
    def campaign(self) -> str | None:
        return self.change.campaign


@dataclass
class ApplyReport:
    ops: list[Op]
    interrupted: bool = False
    stopped_early: bool = False
    #: why the run stopped starting changes, when it did on its own (e.g. the API died)
    stop_reason: str = ""
    #: (monotonic) a POST was sent again after a timeout: the first may land until then
    late_commit_deadline: float = 0.0

    def by_status(self, status: Status) -> list[Op]:
        return [op for op in self.ops if op.status == status]

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(op.status == "applied" for op in self.ops)

    def counts(self) -> dict[str, int]:
        done = self.by_status("applied")
        return {k: sum(1 for op in done if op.kind == k) for k in PRIORITY}

    def summary_line(self) -> str:
        n = self.counts()
        head = (
            "Apply complete"
            if self.ok
            else ("Apply interrupted" if self.interrupted else "Apply failed")
        )
        line = (
            f"{head}: {n['create_campaign']:,} campaign{_s(n['create_campaign'])} created, "
            f"{n['update_campaign']:,} updated, {n['archive_campaign']:,} archived; "
            f"{n['add_number']:,} number{_s(n['add_number'])} added, "
            f"{n['create_contact']:,} contact{_s(n['create_contact'])} created, "
            f"{n['update_contact']:,} updated."
        )
        failed, skipped, idle = (
            len(self.by_status("failed")),
            len(self.by_status("skipped")),
            len(self.by_status("not_attempted")) + len(self.by_status("pending")),
        )
        if failed or skipped or idle:
            line += f" {failed:,} failed, {skipped:,} skipped, {idle:,} not attempted."
        return line


def _s(n: int) -> str:
    return "" if n == 1 else "s"


Listener = Callable[[Op], None]


class Graph:
    """Builds the operations of a plan and their dependencies."""

    def __init__(self, plan: Plan) -> None:
        self.ops: list[Op] = []
        self.campaign_op: dict[str, Op] = {}
        self.contact_op: dict[tuple[str, str, str, str], Op] = {}
        self.numbers_of: dict[str, list[Op]] = {}
        self.ready_ops: list[Op] = []
        list_op: Op | None = None
        for change in plan.changes:
            op = self._add(change.kind, change, _label(change))
            if isinstance(change, CreateList):
                list_op = op
            elif isinstance(change, CreateCampaign | UpdateCampaign):
                self.campaign_op[change.campaign or ""] = op
                if change.ready_after_numbers:
                    ready = self._add("set_ready", change, f'set {change.address} status "ready"')
                    ready.deps.append(op.seq)
                    self.ready_ops.append(ready)
            elif isinstance(change, CreateContact | UpdateContact):
                self.contact_op[change.contact.person_key] = op
            elif isinstance(change, AddNumber):
                self.numbers_of.setdefault(change.campaign or "", []).append(op)
        self._link(list_op)

    def _add(self, kind: str, change: Change, label: str) -> Op:
        op = Op(len(self.ops), kind, change, label)
        self.ops.append(op)
        return op

    def _link(self, list_op: Op | None) -> None:
        for op in self.ops:
            change = op.change
            if isinstance(change, CreateContact | UpdateContact) and list_op is not None:
                op.deps.append(list_op.seq)
            if isinstance(change, AddNumber):
                owner = self.campaign_op.get(change.campaign or "")
                if owner is not None:
                    op.deps.append(owner.seq)
                if change.contact.person_key in self.contact_op:
                    op.deps.append(self.contact_op[change.contact.person_key].seq)
        for ready in self.ready_ops:
            ready.deps.extend(n.seq for n in self.numbers_of.get(ready.campaign or "", []))
        others = [op.seq for op in self.ops if not isinstance(op.change, ArchiveCampaign)]
        for op in self.ops:
            if isinstance(op.change, ArchiveCampaign):
                op.after.extend(others)


def _label(change: Change) -> str:
    verb = {"create": "create", "update": "update", "add": "add", "archive": "archive"}
    if isinstance(change, CreateList):
        return f"create contact list {change.address}"
    return f"{verb[change.action]} {change.address}"


class Scheduler:
    """Hands out ready operations by priority; skips what needed a failed one.

    Thread-safe; listener calls happen outside its lock.
    """

    def __init__(self, ops: list[Op]) -> None:
        self.by_seq = {op.seq: op for op in ops}
        self.sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for op in ops:
            self.sorter.add(op.seq, *op.deps, *op.after)
        self.sorter.prepare()
        self.ready: list[tuple[int, int]] = []
        self.cv = threading.Condition()
        self.running = 0
        self.stopped = False
        self._release(self.sorter.get_ready(), [])

    def _release(self, seqs: Sequence[int], ended: list[Op]) -> None:
        """Queue newly ready operations; those whose hard dependency did not apply are
        skipped (and end at once, releasing their own dependents). Holds `cv`."""
        queue = list(seqs)
        while queue:
            op = self.by_seq[queue.pop()]
            bad = [self.by_seq[d] for d in op.deps if self.by_seq[d].status != "applied"]
            if not bad:
                heapq.heappush(self.ready, (_priority(op), op.seq))
                continue
            # what waited on a change never attempted is not attempted either
            op.status = "not_attempted" if bad[0].status == "not_attempted" else "skipped"
            op.message = f"needs {bad[0].label}, which {bad[0].status.replace('_', ' ')}"
            ended.append(op)
            self.sorter.done(op.seq)
            queue.extend(self.sorter.get_ready())

    def take(self) -> Op | None:
        """The next operation to run, or None when there is nothing more."""
        with self.cv:
            while not self.ready and self.running and not self.stopped:
                self.cv.wait()
            if self.stopped or not self.ready:
                self.cv.notify_all()
                return None
            op = self.by_seq[heapq.heappop(self.ready)[1]]
            op.status = "running"
            self.running += 1
            return op

    def finish(self, op: Op, *, stop: bool = False) -> list[Op]:
        """Mark `op` ended; returns the operations that ended with it (skipped ones)."""
        ended: list[Op] = []
        with self.cv:
            self.running -= 1
            self.stopped = self.stopped or stop
            self.sorter.done(op.seq)
            self._release(self.sorter.get_ready(), ended)
            self.cv.notify_all()
        return ended

    def stop(self) -> None:
        with self.cv:
            self.stopped = True
            self.cv.notify_all()


class StartGate:
    """Nothing new starts once the run stopped: asked before each request an apply worker
    sends (`UpcallClient.gated`), it keeps a change that has not reached the API from
    sending once `stopped()` holds (Ctrl-C, `--fail-fast`, a dead API).

    A change has reached the API once a request of it got any answer but a 429, or
    none at all (it may have been handled). Until then (nothing sent yet, or only 429s:
    the server handled nothing) it is not started, and the run's stop ends it as not
    attempted (`NotStarted`): a worker that took it and waits for a request slot, the
    start window or a 429's Retry-After sends nothing more. A change that has reached
    the API finishes, its look-ups included. Per thread: a worker runs one change at a
    time, and requests of threads that run none (`begin` never called) pass."""

    def __init__(self, stopped: Callable[[], bool]) -> None:
        self._stopped = stopped
        self._local = threading.local()

    def begin(self) -> None:
        """This thread starts a change."""
        self._local.reached = False

    def end(self) -> None:
        """This thread's change ended."""
        self._local.reached = True

    def refuses(self) -> bool:
        return not getattr(self._local, "reached", True) and self._stopped()

    def may_send(self) -> None:
        if self.refuses():
            raise NotStarted("not started: the run stopped before this change reached the API")

    def sent(self, refused: bool) -> None:
        if not refused:
            self._local.reached = True
