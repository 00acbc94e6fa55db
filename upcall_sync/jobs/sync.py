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

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from upcall_sync.client import UpcallClient
from upcall_sync.core.changes import CONTACT_CHANGES, ArchiveCampaign, Change, Plan
from upcall_sync.core.matching import plan_scope, select_targets
from upcall_sync.core.model import DesiredCampaign, DesiredState, LiveState
from upcall_sync.core.planner import plan as compute_plan
from upcall_sync.errors import ManifestError, UpcallSyncError, UsageError
from upcall_sync.jobs.apply import ApplyReport, Listener, apply_plan
from upcall_sync.manifest import MANIFEST_SUFFIXES, load_manifests
from upcall_sync.manifest.tokencheck import token_problems
from upcall_sync.output.explain import explain_plan
from upcall_sync.state.reader import Reader


def utc_now() -> datetime:
    """The system clock, in UTC: what "now" is for a plan unless a caller gives another."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    targets: tuple[str, ...] = ()
    #: the one clock a plan reads ("has this campaign's window passed?"); tests give a
    #: frozen one (`cli.base.STATE.clock` for the command line)
    clock: Callable[[], datetime] = utc_now


@dataclass(frozen=True)
class Planned:
    desired: DesiredState
    campaigns: tuple[DesiredCampaign, ...]
    live: LiveState
    plan: Plan
    options: PlanOptions


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
    live = reader.read(desired, campaigns, prune=options.prune)
    result = compute_plan(
        desired, live, prune=options.prune, targets=options.targets or None, now=options.clock()
    )
    return Planned(desired, tuple(campaigns), live, result, options)


def plan_paths(paths: Sequence[str], client: UpcallClient, options: PlanOptions) -> Planned:
    return plan_for(load_manifests(paths), client, options)


# -- apply ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyJob:
    """What apply will do: a plan, the manifests it came from, and how it was made."""

    plan: Plan
    desired: DesiredState
    options: PlanOptions
    #: the plan came from a saved plan file (reviewed already, checked fresh)
    saved: bool = False


@dataclass(frozen=True)
class ApplyOutcome:
    report: ApplyReport
    #: a fresh plan of what was touched (None: not checked, the apply did not finish)
    remaining: Plan | None
    #: each change `remaining` still shows, with what differs (`explain.explain_change`)
    explanation: tuple[tuple[Change, tuple[str, ...]], ...] = ()
    #: why convergence could not be checked (reading the account again failed)
    check_error: UpcallSyncError | None = None

    @property
    def converged(self) -> bool:
        return self.remaining is not None and self.remaining.empty


def looks_like_plan_file(path: str) -> bool:
    """A regular file that is not a manifest: `plan --out` wrote it (or means to)."""
    return os.path.isfile(path) and not path.endswith(MANIFEST_SUFFIXES)


def prepare_apply(args: Sequence[str], client: UpcallClient, options: PlanOptions) -> ApplyJob:
    """The plan to apply: a saved plan file (the only argument, checked against the live
    account), or a fresh plan of manifest files and directories."""
    from upcall_sync.jobs.planfile import check_fresh, load_plan

    saved = [a for a in args if looks_like_plan_file(a)]
    if not saved:
        planned = plan_paths(args, client, options)
        return ApplyJob(planned.plan, planned.desired, options)
    if len(args) > 1:
        raise UsageError(
            f"{saved[0]} is a saved plan file: it must be the only argument "
            "(a saved plan already names its manifests)"
        )
    if options.prune or options.targets:
        raise UsageError("pruning and targets are fixed when a plan is saved; plan again")
    plan_file = load_plan(saved[0])
    check_fresh(plan_file, client)
    fixed = replace(
        options,
        prune=bool(plan_file.options.get("prune")),
        targets=tuple(plan_file.options.get("targets") or ()),
    )
    desired = load_manifests(list(plan_file.files))
    return ApplyJob(plan_file.plan, desired, fixed, saved=True)


def run_apply(
    client: UpcallClient,
    job: ApplyJob,
    *,
    force: bool = False,
    fail_fast: bool = False,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
    on_check: Callable[[], None] | None = None,
) -> ApplyOutcome:
    """Apply the job's plan (refusing an unsafe one unless `force`), then check that a
    fresh plan of what it touched, with the same targets, is empty (`on_check` is called
    as that check starts: a progress display changes from writes to reads)."""
    report = apply_plan(
        client,
        job.plan,
        force=force,
        fail_fast=fail_fast,
        listener=listener,
        cancel=cancel,
    )
    if not report.ok:
        return ApplyOutcome(report, None)
    if on_check is not None:
        on_check()
    try:
        remaining = converge(client, job.desired, job.plan, job.options)
    except UpcallSyncError as exc:  # the changes were made: keep their report
        return ApplyOutcome(report, None, check_error=exc)
    return ApplyOutcome(report, remaining, explain_plan(remaining))


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
    client: UpcallClient, desired: DesiredState, applied: Plan, options: PlanOptions
) -> Plan:
    """Re-read and re-plan what `applied` touched, within the apply's own targets; an
    empty plan means converged. Archivals are checked by reading each one back."""
    leftovers: list[Change] = []
    targets = touched_campaigns(applied, desired)
    if options.targets:  # campaigns outside the targets were never the apply's to fix
        allowed = {c.name for c in select_targets(desired, options.targets)}
        targets = tuple(t for t in targets if t in allowed)
    if targets:
        again = plan_for(desired, client, replace(options, prune=False, targets=targets)).plan
        leftovers.extend(again.changes)
    for change in applied.changes:
        archived = isinstance(change, ArchiveCampaign) and change.live_id
        if archived and client.get_campaign(str(change.live_id)).status != "archived":
            leftovers.append(change)
    return Plan.build(leftovers, [], contact_list=applied.contact_list)
