"""The main job as a library: manifests + live account -> plan, and apply with its checks.

`cli` parses options, renders, asks for confirmation and maps errors to exit
codes; this module wires manifest, live, plan, apply and saved plans together
so that `plan`, `apply` and apply's convergence check all compute a plan the
same way:

    plan_paths(paths, client, options) -> Planned
    prepare_apply(args, client, options) -> ApplyJob       (a saved plan, or a fresh one)
    run_apply(client, job, ...) -> ApplyOutcome            (safety, apply, convergence,
                                                            and what a fresh plan still shows)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from upcall_sync.client import UpcallClient
from upcall_sync.core.changes import (
    CONTACT_CHANGES,
    ArchiveCampaign,
    Change,
    CreateCampaign,
    CreateContact,
    Plan,
    Unknown,
    UpdateCampaign,
    UpdateContact,
    show,
)
from upcall_sync.core.matching import plan_scope, select_targets
from upcall_sync.core.model import (
    DesiredCampaign,
    DesiredState,
    LiveState,
)
from upcall_sync.core.planner import plan as compute_plan
from upcall_sync.core.stopcalls import NO_PLAN, RETIRED, guard_pauses, guarded, sets_caller_id
from upcall_sync.errors import (
    Cancelled,
    ManifestError,
    PlanError,
    StalePlan,
    UpcallSyncError,
    UsageError,
)
from upcall_sync.jobs.apply import ApplyReport, Listener, apply_plan
from upcall_sync.jobs.duplicates import Duplicate, find_duplicates, numbers_added_twice
from upcall_sync.manifest import MANIFEST_SUFFIXES, load_manifests, load_what_validates
from upcall_sync.manifest.tokencheck import token_problems
from upcall_sync.output.explain import explain_plan, plan_differences
from upcall_sync.state.reader import Reader

log = logging.getLogger("upcall_sync.sync")


def utc_now() -> datetime:
    """The system clock, in UTC: what "now" is for a plan unless a caller gives another."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    targets: tuple[str, ...] = ()
    #: a targeted plan also pauses each ready manifest campaign outside its targets that
    #: holds a do-not-call number (`stopcalls.guard_scope`); the convergence check of an
    #: apply without targets does not: every campaign was the apply's to change already
    guard: bool = True
    #: the one clock a plan reads ("has this campaign's window passed?"); tests give a
    #: frozen one (`cli.base.STATE.clock` for the command line)
    clock: Callable[[], datetime] = utc_now
    #: apply FILE: the account fingerprints of other tokens of this account a saved plan
    #: may have been made with (a read-only planning token: `apply --planned-with`)
    planned_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Planned:
    desired: DesiredState
    campaigns: tuple[DesiredCampaign, ...]
    live: LiveState
    plan: Plan
    options: PlanOptions
    #: the account's one-way fingerprint (`redact.account_fingerprint`)
    account: str = ""
    #: the paths plan was given (a directory, not only the files found in it then)
    paths: tuple[str, ...] = ()


def refuse_token(desired: DesiredState, client: UpcallClient) -> None:
    """A manifest value holding the auth token (typed in, from a CSV, or through a
    variable when the token came from a file) would be printed and written to the
    account: refuse it, naming where each one was set."""
    found = token_problems(desired, client.redact)
    if found:
        raise ManifestError(found)


def plan_for(desired: DesiredState, client: UpcallClient, options: PlanOptions) -> Planned:
    """Read what the plan needs and compute it."""
    refuse_token(desired, client)
    campaigns = plan_scope(desired, options.targets, prune=options.prune)
    reader = Reader(client)
    live = reader.read(desired, campaigns, prune=options.prune, guard=options.guard)
    result = compute_plan(
        desired,
        live,
        prune=options.prune,
        targets=options.targets or None,
        now=options.clock(),
        guard=options.guard,
    )
    return Planned(desired, tuple(campaigns), live, result, options, client.account)


def plan_paths(paths: Sequence[str], client: UpcallClient, options: PlanOptions) -> Planned:
    return replace(plan_for(load_manifests(paths), client, options), paths=tuple(paths))


# -- apply ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyJob:
    """What apply will do: a plan, the manifests it came from, and how it was made."""

    plan: Plan
    desired: DesiredState
    options: PlanOptions
    #: the plan came from a saved plan file (reviewed already, checked fresh, and
    #: equal to a fresh plan of its manifests)
    saved: bool = False
    #: the account's fingerprint (`redact.account_fingerprint`)
    account: str = ""


@dataclass(frozen=True)
class ApplyOutcome:
    report: ApplyReport
    #: a fresh plan of what was touched (None: not checked, the apply did not finish)
    remaining: Plan | None
    #: each change `remaining` still shows, with what differs (`explain.explain_change`)
    explanation: tuple[tuple[Change, tuple[str, ...]], ...] = ()
    #: why convergence could not be checked (reading the account again failed)
    check_error: UpcallSyncError | None = None
    #: duplicates of what this run created (a POST committed after the client gave up)
    duplicates: tuple[Duplicate, ...] = ()

    @property
    def converged(self) -> bool:
        return self.remaining is not None and self.remaining.empty and not self.duplicates


def looks_like_plan_file(path: str) -> bool:
    """A regular file that is not a manifest: `plan --out` wrote it (or means to)."""
    return os.path.isfile(path) and not path.endswith(MANIFEST_SUFFIXES)


def prepare_apply(args: Sequence[str], client: UpcallClient, options: PlanOptions) -> ApplyJob:
    """The plan to apply: a saved plan file (the only argument, checked against the live
    account), or a fresh plan of manifest files and directories."""
    from upcall_sync.jobs.planfile import check_fresh, load_plan, made_here

    saved = [a for a in args if looks_like_plan_file(a)]
    if not saved:
        planned = plan_paths(args, client, options)
        return ApplyJob(planned.plan, planned.desired, options, account=planned.account)
    if len(args) > 1:
        raise UsageError(
            f"{saved[0]} is a saved plan file: it must be the only argument "
            "(a saved plan already names its manifests)"
        )
    if options.prune or options.targets:
        raise UsageError("pruning and targets are fixed when a plan is saved; plan again")
    plan_file = load_plan(saved[0])
    fixed = replace(
        options,
        prune=bool(plan_file.options.get("prune")),
        targets=tuple(plan_file.options.get("targets") or ()),
    )
    try:
        check_fresh(plan_file, client, options.planned_with)
    except StalePlan as exc:
        # an opt-out added since the plan was made is the likeliest staleness there is:
        # the stops of a fresh plan go through all the same (same API and account only)
        if made_here(plan_file, client, options.planned_with):
            paths = list(plan_file.paths or plan_file.files)
            exc.stops, nothing_left = _fresh_stops(paths, client, fixed)
            if nothing_left and exc.live:  # not when its manifests changed since
                raise exc.nothing_left() from None
        raise
    # A saved plan is an expectation, not a list of instructions: plan again from its
    # manifests and the live account, and apply only what both agree on (a file edited
    # by hand, its checksum recomputed, changes nothing the manifests do not ask for)
    fresh = plan_paths(list(plan_file.files), client, fixed)
    differ = plan_differences(plan_file.plan, fresh.plan)
    if differ:
        n = len(differ)
        shown = "; ".join(differ[:3]) + (f"; and {n - 3:,} more" if n > 3 else "")
        stale = StalePlan(
            f"the plan file does not match a fresh plan of its manifests: {n:,} "
            f"difference{'s' if n != 1 else ''} ({shown}); run plan again and review it",
            details=differ,
            brief=f"the plan file does not match a fresh plan of its manifests: the {n:,} "
            f"difference{'s' if n != 1 else ''} above; run plan again and review it",
        )
        stale.stops = stops_only(fresh.plan, fresh.desired)
        raise stale.nothing_left() if fresh.plan.empty else stale
    return ApplyJob(fresh.plan, fresh.desired, fixed, saved=True, account=fresh.account)


def _fresh_stops(
    paths: Sequence[str], client: UpcallClient, options: PlanOptions
) -> tuple[Plan | None, bool]:
    """The do-not-call stops of a fresh plan of `paths`; when no plan can be made (a
    PlanError, a target gone from the manifests), those `stops_without_plan` makes, as
    apply does for manifests (None: none could be found). And whether that fresh plan
    has nothing to change (the live account already matches the manifests)."""
    try:
        fresh = plan_paths(paths, client, options)
    except (PlanError, UsageError) as exc:
        log.info("no fresh plan for the do-not-call stops: %s", exc.one_line())
        return stops_without_plan(paths, client), False
    except UpcallSyncError as exc:
        log.info("no fresh plan for the do-not-call stops: %s", exc.one_line())
        return None, False
    return stops_only(fresh.plan, fresh.desired), fresh.plan.empty


def stops_only(plan: Plan, desired: DesiredState) -> Plan:
    """A plan's do-not-call stops (a campaign holding a listed number set `paused`, or to
    the status its manifest gives that does not dial), each alone: its other fields
    sent as they are live. What apply still makes when it refuses the rest of a plan
    (unsafe without --force, a stale saved plan): a refusal must not keep a person who
    asked not to be called in a campaign that dials.

    A stop made outside a plan that was applied is always a pause, the one that can be
    undone: a manifest's `archived` or `completed` waits for the plan to be applied.

    The write-only from_number has no live value to send: under `patch: replace` (a
    PATCH clears what it does not carry) the manifest's goes, as `guard_pauses` sends
    it, rather than none, which would clear the campaign's caller ID."""
    replacing = desired.patch == "replace"
    stops: list[Change] = []
    for change in plan.changes:
        if not (isinstance(change, UpdateCampaign) and change.reason):
            continue
        status = tuple(
            replace(r, after="paused") if r.after in RETIRED else r
            for r in change.fields
            if r.name == "status"
        )
        reason = change.reason
        for retired in RETIRED:
            if reason.startswith(f"{retired}: "):
                reason = (
                    f"paused (to be {retired} once the plan is applied): "
                    + reason[len(retired) + 2 :]
                )
        live = change.values_before()
        caller = next((r for r in change.fields if r.name == "from_number" and r.after), None)
        if replacing and caller and isinstance(caller.before, Unknown):
            live["from_number"] = caller.after
            reason = f"{reason}; {sets_caller_id(caller.after)}"
        stops.append(
            replace(
                change,
                fields=status,
                reason=reason,
                kept={**change.kept, **live},
                ready_after_numbers=False,
                sources={k: v for k, v in change.sources.items() if k == "status"},
            )
        )
    return Plan.build(
        stops, [], contact_list=plan.contact_list, contact_list_id=plan.contact_list_id
    )


def stops_without_plan(paths: Sequence[str], client: UpcallClient) -> Plan | None:
    """When no plan can be made (a PlanError: two active live campaigns of one name, a
    person named two ways, ...; a manifest that does not validate), the do-not-call stops
    still can: every live campaign a manifest entry may be (its id, else each active one
    of its name) that may dial and holds a listed number is paused. Of manifests that do
    not validate, what does counts (`load_what_validates`): the do-not-call lists read,
    the settings and campaign entries that validate (an entry with a mistake, by what
    of it does, unless its name, id or from_number is wrong), nothing when a manifest
    holds the token. None: nothing loads, or the lists name no one."""
    try:
        # a manifest holding the token, even where it does not validate, refuses all
        desired, _problems = load_what_validates(paths, redact=client.redact)
        if not desired.do_not_call:
            return None
        refuse_token(desired, client)
        live = Reader(client).read_stops(desired)
    except UpcallSyncError as exc:
        log.info("no do-not-call stops without a plan: %s", exc.one_line())
        return None
    pairs = guarded(desired.campaigns, live.campaigns, set())
    stops = guard_pauses(desired, pairs, live.numbers, NO_PLAN)
    return Plan.build(list(stops), [], contact_list=desired.contact_list)


def stops_for_plan_error(
    args: Sequence[str], client: UpcallClient, planned_with: Sequence[str] = ()
) -> Plan | None:
    """`stops_without_plan` for apply's arguments: manifests, or a saved plan's own
    manifests when it was made against this API and account (None: neither)."""
    from upcall_sync.jobs.planfile import load_plan, made_here

    saved = [a for a in args if looks_like_plan_file(a)]
    if not saved:
        return stops_without_plan(args, client)
    try:
        plan_file = load_plan(saved[0])
    except UpcallSyncError:
        return None
    if len(args) != 1 or not made_here(plan_file, client, planned_with):
        return None
    return stops_without_plan(list(plan_file.paths or plan_file.files), client)


#: the do-not-call stops apply made although it refused the plan, and their report
#: (None: the API failed before any was made)
Stops = tuple[Plan, ApplyReport | None]


def stop_calls(
    client: UpcallClient, stops: Plan, cancel: threading.Event | None = None
) -> ApplyReport:
    """Apply `stops_only`'s plan (never unsafe: a stop is not counted against the limits);
    `cancel` set: no more is started."""
    return apply_plan(client, stops, force=True, cancel=cancel)


def run_apply(
    client: UpcallClient,
    job: ApplyJob,
    *,
    force: bool = False,
    fail_fast: bool = False,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
    on_check: Callable[[], None] | None = None,
    on_written: Callable[[bool], None] | None = None,
) -> ApplyOutcome:
    """Apply the job's plan (refusing an unsafe one unless `force`), then check that a
    fresh plan of what it touched, with the same targets, is empty (`on_check` is called
    as that check starts: a progress display changes from writes to reads; `on_written`
    as the writes end, whether or not they all applied, with whether a signal stopped
    them: only reads follow)."""
    report = apply_plan(
        client,
        job.plan,
        force=force,
        fail_fast=fail_fast,
        listener=listener,
        cancel=cancel,
    )
    if on_written is not None:
        on_written(report.interrupted)
    if report.ok and on_check is not None:
        on_check()
    wait = report.late_commit_deadline - time.monotonic()
    if wait > 0 and not (cancel and cancel.is_set()):
        # a POST was sent again after one timed out: give the first its window to land
        # so that the look for duplicates below sees it
        log.info("waiting %.1fs for a timed-out write that may still land", wait)
        (cancel or threading.Event()).wait(wait)
    try:
        duplicates = find_duplicates(client, report, job.plan)
    except UpcallSyncError as exc:  # the changes were made: keep their report
        # the run's own failure is the news (the API may be gone); but a signal that
        # cut the look short must be said (`Cancelled`): it found nothing, it did not end
        if not report.ok and not isinstance(exc, Cancelled):
            return ApplyOutcome(report, None)
        return ApplyOutcome(report, None, check_error=exc)
    if not report.ok or duplicates:  # a duplicate makes plans ambiguous: fix it first
        return ApplyOutcome(report, None, duplicates=duplicates)
    seen: list[LiveState] = []
    try:
        remaining = converge(client, job.desired, job.plan, job.options, seen=seen)
    except UpcallSyncError as exc:
        return ApplyOutcome(report, None, check_error=exc)
    # people this run added who are now in a campaign twice (another apply running at
    # once added them too, through a contact of its own): each would be called twice.
    # The convergence plan read those campaigns' numbers anyway: no request of its own.
    twice = tuple(d for live in seen for d in numbers_added_twice(report, job.plan, live))
    explained = explain_remaining(remaining, report)
    if twice:
        return ApplyOutcome(report, remaining, explained, duplicates=twice)
    return ApplyOutcome(report, remaining, explained)


def explain_remaining(
    remaining: Plan, report: ApplyReport
) -> tuple[tuple[Change, tuple[str, ...]], ...]:
    """`explain_plan`, and a line for each field the API answered this run's write of with
    another value, which a fresh plan shows still: a server that rewrites what it is
    sent (lowercases an email or a language, cuts seconds off a datetime) brings the same
    change back at every apply, and a bare diff does not say why it never goes away."""
    answered: dict[tuple[tuple[str, ...], str], tuple[str, str]] = {}
    for op in report.ops:
        if op.status != "applied" or not op.answered or not isinstance(op.change, _FIELD_WRITES):
            continue
        for row in op.change.rows():
            if row.name in op.answered:
                got = show(op.answered[row.name])
                answered[(_written(op.change), row.name)] = (show(row.after), got)
    explained = []
    for change, lines in explain_plan(remaining):
        again = [
            f"{row.name}: the API keeps {got} when sent {sent} (its answer to this run's "
            f"write): write {got} in the manifest, or every apply sends it again"
            for row in (change.rows() if isinstance(change, _FIELD_WRITES) else ())
            for sent, got in [answered.get((_written(change), row.name), ("", ""))]
            if sent == show(row.after) and got == show(row.before)
        ]
        explained.append((change, (*lines, *again)))
    return tuple(explained)


_FIELD_WRITES = (CreateCampaign, UpdateCampaign, CreateContact, UpdateContact)


def _written(change: Change) -> tuple[str, ...]:
    """What a field write is to: a person (contacts) or a manifest campaign."""
    if isinstance(change, CONTACT_CHANGES):
        return ("contact", *change.contact.person_key)
    return ("campaign", change.campaign or change.address)


def touched_campaigns(the_plan: Plan, desired: DesiredState) -> tuple[str, ...]:
    """Manifest campaigns a plan changed: directly, or through a contact in them."""
    names = {
        c.campaign for c in the_plan.changes if c.campaign and not isinstance(c, ArchiveCampaign)
    }
    people = {c.contact.person_key for c in the_plan.changes if isinstance(c, CONTACT_CHANGES)}
    if people:
        for campaign in desired.campaigns:
            if any(n.contact.person_key in people for n in campaign.numbers):
                names.add(campaign.name)
    known = {c.name for c in desired.campaigns}
    return tuple(sorted(n for n in names if n in known))


def converge(
    client: UpcallClient,
    desired: DesiredState,
    applied: Plan,
    options: PlanOptions,
    *,
    seen: list[LiveState] | None = None,
) -> Plan:
    """Re-read and re-plan what `applied` touched, within the apply's own targets; an
    empty plan means converged. Archivals are checked by reading each one back. The
    live state read is appended to `seen`, when given."""
    leftovers: list[Change] = []
    targets = touched_campaigns(applied, desired)
    if options.targets:  # campaigns outside the targets were never the apply's to fix
        allowed = {c.name for c in select_targets(desired, options.targets)}
        targets = tuple(t for t in targets if t in allowed)
    if targets:
        # the untouched campaigns of an apply without targets are not read for its guards
        checked = replace(options, prune=False, targets=targets, guard=bool(options.targets))
        planned = plan_for(desired, client, checked)
        if seen is not None:
            seen.append(planned.live)
        again = planned.plan
        leftovers.extend(again.changes)
    for change in applied.changes:
        archived = isinstance(change, ArchiveCampaign) and change.live_id
        if archived and client.get_campaign(str(change.live_id)).status != "archived":
            leftovers.append(change)
    return Plan.build(leftovers, [], contact_list=applied.contact_list)
