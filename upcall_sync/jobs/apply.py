"""Executing a Plan through the client: in a safe order, in parallel, without duplicates.

The plan becomes a graph of operations:

    contact list ──▶ contacts ──────────────┐
    campaign create/update ──▶ numbers ──▶ status -> ready
                                                        (archivals run last)

A new campaign that should be `ready` is created `pending`, filled with its
numbers, and only then made ready, so no campaign dials a half-loaded list.
Independent operations run on twice as many threads as the client's `parallelism`
(its requests in flight, `client.slots`: a worker waiting out a Retry-After holds
no slot, so the others still send that many; `schedule.StartGate` keeps a change
that has not reached the API from starting once the run stopped), scheduled by
`graphlib.TopologicalSorter`. A failed operation skips exactly what depends on
it; everything else goes on (or, with `fail_fast`, nothing new starts).

POSTs are never retried blindly (`jobs.posting`): when a POST's outcome is unknown,
the object is looked up (and watched for a late commit) before it is sent again.
Nothing without idempotency keys can make a duplicate impossible, so the convergence
check (`duplicates.find_duplicates`) also looks for duplicates of what the run made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from upcall_sync.client import (
    WORKERS_PER_SLOT,
    Campaign,
    ContactList,
    ListContact,
    UpcallClient,
)
from upcall_sync.core.changes import (
    AddNumber,
    ArchiveCampaign,
    Change,
    CreateCampaign,
    CreateContact,
    Plan,
    UpdateCampaign,
    UpdateContact,
    quoted,
)
from upcall_sync.core.matching import id_order
from upcall_sync.core.model import Contact
from upcall_sync.errors import (
    ApiError,
    ApiStatusError,
    ApiUnreachable,
    Cancelled,
    NotStarted,
    TransportError,
    UpcallSyncError,
)
from upcall_sync.jobs.answers import (
    hold_as_sent,
    note,
    noted,
    pause_not_made,
    refuse_another_line,
    refuse_renamed,
    renamed,
    retire_renamed,
    stored_as,
)
from upcall_sync.jobs.posting import Posts
from upcall_sync.jobs.schedule import (
    PRIORITY,
    ApplyReport,
    Graph,
    Listener,
    Op,
    Scheduler,
    StartGate,
    Status,
)
from upcall_sync.jobs.writes import (
    PAUSED_WITHOUT_CALLER_ID,
    campaign_attributes,
    campaigns_named,
    contact_attributes,
    contact_update,
    filters_for,
    first_of,
    lists_named,
)

__all__ = ["PRIORITY", "Applier", "ApplyReport", "Listener", "Op", "Status", "apply_plan"]

log = logging.getLogger("upcall_sync.jobs.apply")


class Applier:
    """Runs one plan. `listener` hears about every operation as it ends."""

    def __init__(
        self,
        client: UpcallClient,
        plan: Plan,
        *,
        fail_fast: bool = False,
        listener: Listener | None = None,
        cancel: threading.Event | None = None,
        lookup_attempts: int = 6,
        late_commit_window: float | None = None,
    ) -> None:
        self.client = client
        self.plan = plan
        #: the client's requests in flight (apply runs `WORKERS_PER_SLOT` workers for each)
        self.parallelism = client.parallelism
        self.fail_fast = fail_fast
        self.listener = listener or (lambda op: None)
        # Stopping means: start nothing new. Operations in flight finish (their
        # lookups included), so this is not the client's own cancel event.
        self.cancel = cancel or threading.Event()
        #: every POST of the run: never sent twice blindly
        self.posts = Posts(
            client,
            self.cancel,
            lookup_attempts=lookup_attempts,
            late_commit_window=late_commit_window,
            on_unreachable=self._stop_unreachable,
        )
        self.list_id: str | None = plan.contact_list_id
        self.campaign_ids: dict[str, str] = {
            c.campaign: c.live_id
            for c in plan.changes
            if c.campaign and c.live_id and not isinstance(c, ArchiveCampaign)
        }
        self.contact_ids: dict[tuple[str, str, str, str], str] = {}
        for c in plan.changes:
            if isinstance(c, AddNumber) and c.contact_id:
                self.contact_ids.setdefault(c.contact.person_key, c.contact_id)
            elif isinstance(c, UpdateContact) and c.live_id and c.list_id is None:
                self.contact_ids[c.contact.person_key] = c.live_id
        self._lock = threading.Lock()
        #: what a failed operation did all the same (by `Op.seq`), added to its message
        self._after_failure: dict[int, str] = {}
        self.unreachable = ""  # the circuit breaker's one line, once it opened
        self.ops = Graph(plan).ops
        self._handlers: dict[str, Callable[[Op], str]] = {
            "create_list": self._create_list,
            "create_campaign": self._create_campaign,
            "update_campaign": self._update_campaign,
            "set_ready": self._set_ready,
            "archive_campaign": self._archive,
            "create_contact": self._create_contact,
            "update_contact": self._update_contact,
            "add_number": self._add_number,
        }

    # -- running -------------------------------------------------------------------

    def run(self) -> ApplyReport:
        """Run every operation; workers take the next ready one themselves."""
        scheduler = Scheduler(self.ops)
        report = ApplyReport(self.ops)
        gate = StartGate(lambda: scheduler.stopped or self.cancel.is_set())

        def worker() -> None:
            while (op := scheduler.take()) is not None:
                gate.begin()
                try:
                    self._execute(op)
                finally:
                    gate.end()
                stop = (self.fail_fast and op.status == "failed") or bool(self.unreachable)
                if stop:
                    report.stopped_early = True
                    report.stop_reason = self.unreachable
                ended = scheduler.finish(op, stop=stop)
                for done in (op, *ended):
                    self.listener(done)

        # A worker waiting out a Retry-After holds no slot, so twice as many workers as
        # slots keep the slots busy; the gate keeps a change a worker took but has not
        # sent from starting once the run stopped.
        threads = [
            threading.Thread(target=worker, name=f"apply-{i}", daemon=True)
            for i in range(self.parallelism * WORKERS_PER_SLOT)
        ]
        with self.client.gated(gate):
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(timeout=0.2)
                    if self.cancel.is_set() and not report.interrupted:
                        report.interrupted = True
                        scheduler.stop()
        for op in self.ops:
            if op.status == "pending":
                op.status = "not_attempted"
        report.late_commit_deadline = self.posts.late_commit_deadline
        return report

    def _execute(self, op: Op) -> None:
        try:
            op.result = self._handlers[op.kind](op)
            op.status = "applied"
        except NotStarted:  # the run stopped before it reached the API: as if never taken
            op.status = "not_attempted"
        except Cancelled as exc:
            op.status = "not_attempted"
            op.message = str(exc)
        except ApiUnreachable as exc:  # the breaker opened: start nothing more
            op.status = "not_attempted"
            op.message = exc.one_line()
            self.unreachable = self.unreachable or exc.one_line()
        except UpcallSyncError as exc:
            op.status = "failed"
            with self._lock:
                also = self._after_failure.pop(op.seq, "")
            op.message = self._explain(op, exc) + also
            op.error = exc
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

    # -- one operation per kind ---------------------------------------------------------

    def _create_list(self, op: Op) -> str:
        name = self.plan.contact_list
        answers: list[ContactList] = []
        made = self.posts.send(
            op, lambda: noted(self.client.create_list(name), answers), self._find_list
        )
        self.list_id = op.live_id = made
        refuse_renamed("contact list", name, answers, made, "its contacts were not created")
        return f"id {made}"

    def _create_campaign(self, op: Op) -> str:
        change = op.change
        assert isinstance(change, CreateCampaign)
        values = dict(change.values)
        # made ready once its numbers are in; an entry that manages no status is sent
        # pending too (CONTRACT's default for a create without one): a server whose own
        # default dials would otherwise call a list still being filled
        if change.ready_after_numbers or "status" not in values:
            values["status"] = "pending"
        name = str(values["name"])
        from_number = values.get("from_number")
        answers: list[Campaign] = []
        found: list[Campaign] = []  # read by a look-up after a lost answer
        made = self.posts.send(
            op,
            lambda: noted(self.client.create_campaign(campaign_attributes(values)), answers),
            lambda: self._find_campaign(
                name,
                from_number if isinstance(from_number, str) else None,
                found,
                archived=values.get("status") == "archived",
            ),
        )
        op.live_id = made
        note(op, answers[-1] if answers else None)
        if renamed(name, answers):  # as stored: a POST's answer may name it otherwise
            stored_as(self.client, made, answers)
        if renamed(name, answers):  # archived at once: retire_renamed says why
            retire = {**values, "name": answers[-1].name, "status": "archived"}
            status = str(values.get("status") or "pending")
            left = retire_renamed(self.client, made, campaign_attributes(retire), status)
            if op.resent:  # an earlier POST got no answer: it may have made one too
                left += self._earlier_copies(answers[-1].name, made)
            refuse_renamed("campaign", name, answers, made, left)
        hold_as_sent(self.client, made, campaign_attributes(values), name, [*found, *answers])
        with self._lock:
            self.campaign_ids[change.campaign or name] = made
        return f"id {made}"

    def _earlier_copies(self, stored: str, made: str) -> str:
        """After a create sent again (the first POST got no answer) that the API stored
        under another name: the active campaigns of that name besides `made`, which the
        first POST may have made (a look-up by the manifest's name cannot find them).
        Named, never archived here: nothing says this run made them."""
        try:
            others = self._active_besides(stored, made)
        except UpcallSyncError as exc:
            log.info("no look-up of earlier copies: %s", exc.one_line())
            others = []
        ids = f" (id {', '.join(others)})" if others else ""
        return (
            f"; an earlier POST of it got no answer and may have made another under that "
            f"name{ids}: archive it in Upcall if so"
        )

    def _update_campaign(self, op: Op) -> str:
        change = op.change
        assert isinstance(change, UpdateCampaign)
        values = change.written()
        if change.ready_after_numbers:  # ready comes once the numbers are in
            before = next((r.before for r in change.fields if r.name == "status"), None)
            values.pop("status", None)
            if isinstance(before, str) and before:
                values["status"] = before
        campaign_id = op.live_id = self._campaign_id(change)
        if values:
            try:
                note(op, self.client.update_campaign(campaign_id, campaign_attributes(values)))
            except ApiStatusError as exc:
                stops = values.get("status") not in (None, "ready")  # paused, archived ...
                if not (change.reason and stops and exc.status == 400):
                    raise
                alone = self._pause_alone(op, change, campaign_id, exc)
                op.message = alone  # the pause was the whole change: made, with a word
                log.warning("%s (id %s): %s", change.address, campaign_id, alone)
                return f"id {campaign_id}; {alone}"
        return f"id {campaign_id}"

    def _pause_alone(
        self, op: Op, change: UpdateCampaign, campaign_id: str, refused: ApiStatusError
    ) -> str:
        """The API refused an update that pauses a campaign for the do-not-call list
        (another of its fields: a caller ID not confirmed, dates it will not take): the
        pause goes alone, with the campaign's values as they were, so that a listed
        person is not called while the rest waits for a fix. The change still fails; when
        the pause alone fails too, its failure says the campaign may still dial. A change
        that was the pause alone (a stop: its status to `paused`, nothing else) is made
        once the pause is: what the pause alone said is returned, not raised.

        The pause carries a from_number only when it cannot be the one refused: not one
        the update changed, nor one the refusal names (a caller ID the account has not
        confirmed would be refused again, and the campaign left dialing); and a pause
        refused with it goes once more without it. Under `patch: replace` a pause without
        it clears the caller ID (the API never returns it, so the one it had cannot be
        sent back): the message says so (the applier does not know the reading, so it
        says it of `patch: replace`)."""
        pause = {**change.kept, **change.values_before(), "status": "paused"}
        suspect = any(r.name == "from_number" for r in change.fields) or any(
            f.field == "from_number" for f in refused.fields
        )
        if suspect:
            pause.pop("from_number", None)
        try:
            try:
                self.client.update_campaign(campaign_id, campaign_attributes(pause))
            except ApiStatusError as exc:
                if exc.status != 400 or "from_number" not in pause:
                    raise
                del pause["from_number"]  # whatever the refusal names: the pause must go
                self.client.update_campaign(campaign_id, campaign_attributes(pause))
        except (ApiStatusError, TransportError) as exc:  # the update's refusal is the news
            status = next((r.before for r in change.fields if r.name == "status"), None)
            with self._lock:
                self._after_failure[op.seq] = pause_not_made(exc, status)
            raise refused from exc
        sent_caller_id = change.written().get("from_number") or change.kept.get("from_number")
        cleared = (
            f"; {PAUSED_WITHOUT_CALLER_ID}" if sent_caller_id and "from_number" not in pause else ""
        )
        if [(r.name, r.after) for r in change.fields] == [("status", "paused")]:
            return f"paused alone after the API refused it as sent ({refused.one_line()}){cleared}"
        with self._lock:
            self._after_failure[op.seq] = (
                "; the campaign was paused all the same (it holds a number on the "
                f"do-not-call list), its other changes were not made{cleared}"
            )
        raise refused

    def _set_ready(self, op: Op) -> str:
        change = op.change
        campaign_id = op.live_id = self._campaign_id(change)
        # the whole campaign as planned, so that a replacing PATCH keeps it
        values = change.written() if isinstance(change, CreateCampaign | UpdateCampaign) else {}
        values["status"] = "ready"
        if isinstance(change, CreateCampaign):
            self._refuse_ready_beside_a_twin(str(change.values["name"]), campaign_id)
        note(op, self.client.update_campaign(campaign_id, campaign_attributes(values)))
        return "status ready"

    def _refuse_ready_beside_a_twin(self, name: str, campaign_id: str) -> None:
        """A campaign this run created is not made ready while another active campaign
        has its name: a second apply running at once (or a POST committed late) made
        it, with the same people, and two ready campaigns would call each of them
        twice. One look-up by name; the campaign stays pending and the run fails."""
        others = self._active_besides(name, campaign_id)
        if others:
            raise UpcallSyncError(
                f"campaign {quoted(name)} (id {campaign_id}) was left pending, not set "
                f"ready: another active campaign has its name (id {', '.join(others)}), "
                "made by another apply running at once or a write committed late, and "
                "both would call the same people; archive one in Upcall, then apply again"
            )

    def _archive(self, op: Op) -> str:
        assert op.change.live_id is not None
        op.live_id = op.change.live_id
        kept = op.change.kept if isinstance(op.change, ArchiveCampaign) else {}
        values = {**kept, "status": "archived"}
        self.client.update_campaign(op.live_id, campaign_attributes(values))
        return "status archived"

    def _create_contact(self, op: Op) -> str:
        change = op.change
        assert isinstance(change, CreateContact)
        person = change.contact
        list_id = self._list_id()
        answers: list[ListContact] = []
        made = self.posts.send(
            op,
            lambda: noted(
                self.client.create_contact(list_id, contact_attributes(person)),
                answers,
            ),
            lambda: self._find_contact(list_id, person),
        )
        op.live_id = made
        note(op, answers[-1] if answers else None)
        refuse_another_line(person, answers, made)
        with self._lock:
            self.contact_ids[person.person_key] = made
        return f"id {made}"

    def _update_contact(self, op: Op) -> str:
        change = op.change
        assert isinstance(change, UpdateContact) and change.live_id is not None
        op.live_id = change.live_id
        list_id = change.list_id or self._list_id()  # another list: manage_other_lists
        note(op, self.client.update_contact(list_id, change.live_id, contact_update(change)))
        return f"id {change.live_id}"

    def _add_number(self, op: Op) -> str:
        change = op.change
        assert isinstance(change, AddNumber)
        person = change.contact
        campaign_id = self._campaign_id(change)
        with self._lock:
            contact_id = change.contact_id or self.contact_ids.get(person.person_key)
        if not contact_id:
            raise UpcallSyncError(f"no list contact for {person.label}")
        made = self.posts.send(
            op,
            lambda: self.client.add_number(campaign_id, contact_id),
            lambda: self._find_number(campaign_id, person),
            look_on_refusal=True,
        )
        op.live_id = made
        return f"id {made}"

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

    def _stop_unreachable(self, line: str) -> None:
        """The API stopped answering while a POST was looked for: the run stops."""
        with self._lock:
            self.unreachable = self.unreachable or line

    def _find_list(self) -> str | None:
        exact = sorted(
            {x.id for x in lists_named(self.client, self.plan.contact_list)}, key=id_order
        )
        return exact[0] if exact else None

    def _find_campaign(
        self,
        name: str,
        from_number: str | None,
        found: list[Campaign] | None = None,
        *,
        archived: bool = False,
    ) -> str | None:
        """The campaign a create whose answer was lost made, if any. An archived one of
        the name is not it (unless the create sent `archived`): it was there before the
        run (a campaign paused for the do-not-call list, archived to be recreated without
        the number), and taking it for the new one would fill it and set it ready."""
        campaigns = [
            c
            for c in self._campaigns_named(name, from_number)
            if archived or c.status != "archived"
        ]
        if found is not None:
            found.extend(campaigns)
        ids = sorted({c.id for c in campaigns}, key=id_order)
        return ids[-1] if ids else None

    def _campaigns_named(self, name: str, from_number: str | None = None) -> list[Campaign]:
        return campaigns_named(self.client, name, from_number)

    def _active_besides(self, name: str, campaign_id: str) -> list[str]:
        """The ids of the other campaigns of `name` (as plans match it) that are not
        archived, oldest first."""
        named = self._campaigns_named(name)
        return sorted(
            {c.id for c in named if c.id != campaign_id and c.status != "archived"}, key=id_order
        )

    def _find_contact(self, list_id: str, person: Contact) -> str | None:
        return first_of(person, self.client.list_contacts(list_id, **filters_for(person)))

    def _find_number(self, campaign_id: str, person: Contact) -> str | None:
        return first_of(person, self.client.list_numbers(campaign_id, **filters_for(person)))


def apply_plan(
    client: UpcallClient,
    plan: Plan,
    *,
    force: bool = False,
    fail_fast: bool = False,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
) -> ApplyReport:
    """Execute `plan`; refuses an unsafe plan (UnsafePlan) unless `force`.

    Never raises for a failed change: the report says what happened to each."""
    if not force:
        plan.raise_if_unsafe()
    started = time.monotonic()
    report = Applier(client, plan, fail_fast=fail_fast, listener=listener, cancel=cancel).run()
    log.info("applied in %.1fs", time.monotonic() - started)
    return report
