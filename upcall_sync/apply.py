"""Executing a Plan through the client: in a safe order, in parallel, without duplicates.

The plan becomes a graph of operations:

    contact list ──▶ contacts ──────────────┐
    campaign create/update ──▶ numbers ──▶ status -> ready
                                                        (archivals run last)

A new campaign that should be `ready` is created `pending`, filled with its
numbers, and only then made ready, so no campaign dials a half-loaded list.
Independent operations run on `parallelism` threads. A failed operation skips
exactly what depends on it; everything else goes on (or, with `fail_fast`,
nothing new starts).

POSTs are never retried blindly: when a POST's outcome is unknown (timeout,
reset, 5xx, a lost answer), the object is looked up with a filtered GET
(comparing every detail) and the POST is repeated only if it is not there.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from upcall_sync.changes import Change, Plan, quoted
from upcall_sync.client import (
    Campaign,
    CampaignAttributes,
    CampaignNumber,
    ContactAttributes,
    ListContact,
    UpcallClient,
)
from upcall_sync.client.transport import Cancelled
from upcall_sync.errors import (
    ApiError,
    ApiStatusError,
    ApiUnreachable,
    OutcomeUnknown,
    UpcallSyncError,
)
from upcall_sync.live import contact_of
from upcall_sync.model import ADDRESS_PARTS, Contact

log = logging.getLogger("upcall_sync.apply")
T = TypeVar("T")

OpKind = Literal[
    "create_list",
    "create_campaign",
    "update_campaign",
    "create_contact",
    "update_contact",
    "add_number",
    "set_ready",
    "archive_campaign",
]
#: lower runs first among ready operations: campaigns early, dialing (ready) last
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
Status = Literal["pending", "running", "applied", "failed", "skipped", "not_attempted"]


@dataclass
class Op:
    seq: int
    kind: OpKind
    change: Change
    label: str
    deps: list[int] = field(default_factory=list)
    after: list[int] = field(default_factory=list)  # order only: run after these end
    status: Status = "pending"
    message: str = ""
    result: str = ""

    @property
    def campaign(self) -> str | None:
        return self.change.campaign


@dataclass
class ApplyReport:
    ops: list[Op]
    interrupted: bool = False
    stopped_early: bool = False
    #: why apply stopped starting changes, when the API stopped answering
    stop_reason: str = ""

    def by_status(self, status: Status) -> list[Op]:
        return [op for op in self.ops if op.status == status]

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(op.status == "applied" for op in self.ops)

    def counts(self) -> dict[str, int]:
        done = self.by_status("applied")
        count = {k: sum(1 for op in done if op.kind == k) for k in PRIORITY}
        return count

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


class Applier:
    """Runs one plan. `listener` hears about every operation as it ends."""

    def __init__(
        self,
        client: UpcallClient,
        plan: Plan,
        *,
        parallelism: int = 8,
        fail_fast: bool = False,
        listener: Listener | None = None,
        cancel: threading.Event | None = None,
        lookup_attempts: int = 6,
        backoff: float = 0.2,
    ) -> None:
        self.client = client
        self.plan = plan
        self.parallelism = max(1, parallelism)
        self.fail_fast = fail_fast
        self.listener = listener or (lambda op: None)
        # Stopping means: start nothing new. Operations in flight finish (their
        # lookups included), so this is not the transport's own cancel event.
        self.cancel = cancel or threading.Event()
        self.lookup_attempts = lookup_attempts
        self.backoff = backoff
        self.list_id: str | None = plan.contact_list_id
        self.campaign_ids: dict[str, str] = {}
        self.contact_ids: dict[tuple[str, str, str, str], str] = {}
        self._lock = threading.Lock()
        self.unreachable = ""  # the breaker's one line, once it opened
        self.ops = self._build()

    # -- the graph ----------------------------------------------------------------

    def _build(self) -> list[Op]:
        seq = itertools.count()
        ops: list[Op] = []

        def add(kind: OpKind, change: Change, label: str) -> Op:
            op = Op(next(seq), kind, change, label)
            ops.append(op)
            return op

        list_op: Op | None = None
        campaign_op: dict[str, Op] = {}
        contact_op: dict[tuple[str, str, str, str], Op] = {}
        numbers_of: dict[str, list[Op]] = {}
        ready_ops: list[Op] = []
        archives: list[Op] = []
        for change in self.plan.changes:
            if change.live_id and change.campaign and change.kind != "archive_campaign":
                self.campaign_ids.setdefault(change.campaign, change.live_id)
            if change.kind == "create_list":
                list_op = add("create_list", change, f"create contact list {change.address}")
            elif change.kind in ("create_campaign", "update_campaign"):
                verb = "create" if change.kind == "create_campaign" else "update"
                op = add(change.kind, change, f"{verb} {change.address}")
                campaign_op[change.campaign or ""] = op
                if change.ready_after_numbers:
                    ready = add("set_ready", change, f'set {change.address} status "ready"')
                    ready.deps.append(op.seq)
                    ready_ops.append(ready)
            elif change.kind in ("create_contact", "update_contact"):
                verb = "create" if change.kind == "create_contact" else "update"
                op = add(change.kind, change, f"{verb} {change.address}")
                assert change.contact is not None
                contact_op[change.contact.person_key] = op
                if change.contact_id or change.live_id:
                    self.contact_ids[change.contact.person_key] = change.live_id or ""
            elif change.kind == "add_number":
                op = add("add_number", change, f"add {change.address}")
                numbers_of.setdefault(change.campaign or "", []).append(op)
                if change.contact is not None and change.contact_id:
                    self.contact_ids.setdefault(change.contact.person_key, change.contact_id)
            elif change.kind == "archive_campaign":
                archives.append(add("archive_campaign", change, f"archive {change.address}"))
        for op in ops:
            if op.kind in ("create_contact", "update_contact") and list_op is not None:
                op.deps.append(list_op.seq)
            if op.kind == "add_number":
                owner = campaign_op.get(op.campaign or "")
                if owner is not None:
                    op.deps.append(owner.seq)
                person = op.change.contact
                if person is not None and person.person_key in contact_op:
                    op.deps.append(contact_op[person.person_key].seq)
        for ready in ready_ops:
            ready.deps.extend(n.seq for n in numbers_of.get(ready.campaign or "", []))
        others = [op.seq for op in ops if op.kind != "archive_campaign"]
        for op in archives:
            op.after.extend(others)
        return ops

    # -- running -------------------------------------------------------------------

    def run(self) -> ApplyReport:
        """Run every operation; workers take the next ready one themselves.

        There is no central dispatcher: a worker that finishes an operation
        releases its dependents onto a priority heap and picks the next one,
        so no operation waits on a round trip through another thread.
        """
        by_seq = {op.seq: op for op in self.ops}
        waiting: dict[int, set[int]] = {op.seq: set(op.deps) | set(op.after) for op in self.ops}
        dependents: dict[int, list[int]] = {op.seq: [] for op in self.ops}
        for op in self.ops:
            for dep in {*op.deps, *op.after}:
                dependents[dep].append(op.seq)
        ready: list[tuple[int, int]] = [
            (PRIORITY[op.kind], op.seq) for op in self.ops if not waiting[op.seq]
        ]
        heapq.heapify(ready)
        report = ApplyReport(self.ops)
        cv = threading.Condition()
        state = {"running": 0, "stop": False}

        def finish(op: Op) -> None:
            """Release what waited on `op`; skip what needed it to succeed. Holds `cv`."""
            for child_seq in dependents[op.seq]:
                child = by_seq[child_seq]
                waiting[child_seq].discard(op.seq)
                if child.status != "pending":
                    continue
                if op.status != "applied" and op.seq in child.deps:
                    # what waited on a change never attempted is not attempted either
                    child.status = "not_attempted" if op.status == "not_attempted" else "skipped"
                    child.message = f"needs {op.label}, which {op.status.replace('_', ' ')}"
                    self.listener(child)
                    finish(child)
                elif not waiting[child_seq]:
                    heapq.heappush(ready, (PRIORITY[child.kind], child_seq))

        def worker() -> None:
            while True:
                with cv:
                    while not ready and state["running"] and not state["stop"]:
                        cv.wait()
                    if state["stop"] or not ready:
                        cv.notify_all()
                        return
                    op = by_seq[heapq.heappop(ready)[1]]
                    op.status = "running"
                    state["running"] += 1
                self._execute(op)
                with cv:
                    state["running"] -= 1
                    self.listener(op)
                    if (self.fail_fast and _failed(op)) or self.unreachable:
                        state["stop"] = True
                        report.stopped_early = True
                        report.stop_reason = self.unreachable
                    finish(op)
                    cv.notify_all()

        threads = [
            threading.Thread(target=worker, name=f"apply-{i}", daemon=True)
            for i in range(self.parallelism)
        ]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)
                if self.cancel.is_set() and not state["stop"]:
                    with cv:
                        state["stop"] = True
                        report.interrupted = True
                        cv.notify_all()
        for op in self.ops:
            if op.status == "pending":
                op.status = "not_attempted"
        return report

    def _execute(self, op: Op) -> None:
        try:
            op.result = self._do(op)
            op.status = "applied"
        except Cancelled as exc:
            op.status = "not_attempted"
            op.message = str(exc)
        except ApiUnreachable as exc:  # the breaker opened: start nothing more
            op.status = "not_attempted"
            op.message = exc.one_line()
            self.unreachable = self.unreachable or exc.one_line()
        except UpcallSyncError as exc:
            op.status = "failed"
            op.message = self._explain(op, exc)
        except Exception as exc:  # a bug: report it on the op, keep the run going
            log.exception("unexpected error in %s", op.label)
            op.status = "failed"
            op.message = f"internal error: {type(exc).__name__}: {exc}"

    def _explain(self, op: Op, exc: UpcallSyncError) -> str:
        """The API's field messages, mapped back to the manifest line that set the field."""
        change = op.change
        if isinstance(exc, ApiError) and exc.fields:
            parts = []
            for f in exc.fields:
                at = change.sources.get(f.field) or change.source
                prefix = f"{at}: " if at else ""
                parts.append(f"{prefix}{f}")
            return "; ".join(parts) + (f" (HTTP {exc.status})" if exc.status else "")
        where = f"{change.source}: " if change.source else ""
        return f"{where}{exc.one_line()}"

    # -- one operation --------------------------------------------------------------

    def _do(self, op: Op) -> str:
        change = op.change
        after = dict(change.after or {})
        if op.kind == "create_list":
            made = self._post(
                lambda: self.client.create_list(self.plan.contact_list),
                self._find_list,
            )
            self.list_id = made
            return f"id {made}"
        if op.kind == "create_campaign":
            attrs = _campaign_attributes(after)
            if change.ready_after_numbers:
                attrs = attrs.model_copy(update={"status": "pending"})
            name = after["name"]
            camp = self._post(
                lambda: self.client.create_campaign(attrs),
                lambda: self._find_campaign(name, after.get("from_number")),
            )
            with self._lock:
                self.campaign_ids[change.campaign or name] = camp
            return f"id {camp}"
        if op.kind == "update_campaign":
            if change.ready_after_numbers:
                after.pop("status", None)
            if after:
                self.client.update_campaign(self._campaign_id(change), _campaign_attributes(after))
            return f"id {self._campaign_id(change)}"
        if op.kind == "set_ready":
            self.client.update_campaign(
                self._campaign_id(change), CampaignAttributes(status="ready")
            )
            return "status ready"
        if op.kind == "archive_campaign":
            assert change.live_id is not None
            self.client.update_campaign(change.live_id, CampaignAttributes(status="archived"))
            return "status archived"
        person = change.contact
        assert person is not None
        if op.kind == "create_contact":
            list_id = self._list_id()
            made = self._post(
                lambda: self.client.create_contact(
                    list_id, ContactAttributes(**person.api_attributes())
                ),
                lambda: self._find_contact(list_id, person),
            )
            with self._lock:
                self.contact_ids[person.person_key] = made
            return f"id {made}"
        if op.kind == "update_contact":
            assert change.live_id is not None
            self.client.update_contact(
                self._list_id(), change.live_id, _contact_update(after, person)
            )
            return f"id {change.live_id}"
        if op.kind == "add_number":
            campaign_id = self._campaign_id(change)
            contact_id = change.contact_id or self.contact_ids.get(person.person_key)
            if not contact_id:
                raise UpcallSyncError(f"no list contact for {person.label}")
            number = self._post(
                lambda: self.client.add_number(campaign_id, contact_id),
                lambda: self._find_number(campaign_id, person),
                already_there=_is_duplicate_number,
            )
            return f"id {number}"
        raise UpcallSyncError(f"unknown operation {op.kind}")  # pragma: no cover

    def _campaign_id(self, change: Change) -> str:
        with self._lock:
            cid = change.live_id or self.campaign_ids.get(change.campaign or "")
        if not cid:
            raise UpcallSyncError(f"campaign {quoted(change.campaign or '')} has no id")
        return cid

    def _list_id(self) -> str:
        if not self.list_id:
            raise UpcallSyncError(f"contact list {quoted(self.plan.contact_list)} has no id")
        return self.list_id

    # -- duplicate-proof POST ------------------------------------------------------------

    def _post(
        self,
        send: Callable[[], Any],
        lookup: Callable[[], str | None],
        *,
        already_there: Callable[[ApiStatusError], bool] | None = None,
    ) -> str:
        """POST once; if its outcome is unknown, look before posting again."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return str(send().id)
            except OutcomeUnknown as exc:
                log.info("outcome unknown (%s); looking before retrying", exc.one_line())
                found = lookup()
                if found is not None:
                    return found
                if attempt >= self.lookup_attempts:
                    raise
            except ApiStatusError as exc:
                if already_there is not None and already_there(exc):
                    found = lookup()
                    if found is not None:
                        return found
                raise
            if self.cancel.wait(min(self.backoff * 2 ** (attempt - 1), 5.0)):
                raise Cancelled("interrupted before retrying a request")

    def _find_list(self) -> str | None:
        lists = self.client.list_lists(name=self.plan.contact_list)
        exact = sorted((x.id for x in lists if x.name == self.plan.contact_list), key=_num)
        return exact[0] if exact else None

    def _find_campaign(self, name: str, from_number: str | None) -> str | None:
        found: list[Campaign] = self.client.list_campaigns(name=name, from_number=from_number)
        ids = sorted((c.id for c in found if c.name == name), key=_num)
        return ids[-1] if ids else None

    def _find_contact(self, list_id: str, person: Contact) -> str | None:
        return _first_of(person, self.client.list_contacts(list_id, **_filters_for(person)))

    def _find_number(self, campaign_id: str, person: Contact) -> str | None:
        return _first_of(person, self.client.list_numbers(campaign_id, **_filters_for(person)))


def _filters_for(person: Contact) -> dict[str, str | None]:
    """The API filters that find a person: phone and name (extension is not a filter)."""
    return {
        "phone": person.phone,
        "first_name": person.first_name or None,
        "last_name": person.last_name or None,
    }


def _first_of(person: Contact, found: Sequence[ListContact | CampaignNumber]) -> str | None:
    """The lowest id among what was found that has every one of the person's details."""
    ids = sorted((item.id for item in found if contact_of(item) == person), key=_num)
    return ids[0] if ids else None


def _failed(op: Op) -> bool:
    """Read after the operation ran (a plain `op.status == ...` would stay narrowed)."""
    return op.status == "failed"


def _num(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1 << 62, value)


def _is_duplicate_number(exc: ApiStatusError) -> bool:
    return exc.status == 400 and any(
        f.field == "list_contact_id" and "already" in f.message for f in exc.fields
    )


def _campaign_attributes(values: dict[str, Any]) -> CampaignAttributes:
    data = dict(values)
    for key in ("start_datetime", "end_datetime"):
        if isinstance(data.get(key), str) and data[key]:
            from upcall_sync.normalize import parse_datetime

            data[key] = parse_datetime(data[key])
    for key in ("instructions", "pitch", "language"):
        if key in data and data[key] == "":
            data[key] = None
    return CampaignAttributes(**data)


def _contact_update(after: dict[str, Any], person: Contact) -> ContactAttributes:
    """The changed fields; the whole address when any part of it changed.

    Whether the (inferred) contact PATCH merges an address object or replaces
    it is not documented; sending every part is right either way.
    """
    top = {k: (v or None) for k, v in after.items() if k not in ADDRESS_PARTS}
    if any(k in ADDRESS_PARTS for k in after):
        top["address"] = {k: getattr(person, k) or None for k in ADDRESS_PARTS}
    return ContactAttributes(**top)


def apply_plan(
    client: UpcallClient,
    plan: Plan,
    *,
    parallelism: int = 8,
    fail_fast: bool = False,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
) -> ApplyReport:
    """Execute `plan`; never raises for a failed change (see the report)."""
    started = time.monotonic()
    report = Applier(
        client, plan, parallelism=parallelism, fail_fast=fail_fast, listener=listener, cancel=cancel
    ).run()
    log.info("applied in %.1fs", time.monotonic() - started)
    return report
