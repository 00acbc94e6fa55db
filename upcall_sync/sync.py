"""The main job as a library: manifests + live account -> plan (and, in apply, back).

`cli` parses options and renders; this module wires manifest, live and plan
together so that `plan`, `apply` and apply's convergence check all compute a
plan the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from upcall_sync.changes import Plan
from upcall_sync.client import UpcallClient
from upcall_sync.live import Reader
from upcall_sync.manifest import load_manifests
from upcall_sync.model import DesiredCampaign, DesiredState, LiveState
from upcall_sync.plan import plan as compute_plan
from upcall_sync.plan import select_targets


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    targets: tuple[str, ...] = ()
    parallelism: int = 8


@dataclass(frozen=True)
class Planned:
    desired: DesiredState
    campaigns: tuple[DesiredCampaign, ...]
    live: LiveState
    plan: Plan
    options: PlanOptions


def plan_for(desired: DesiredState, client: UpcallClient, options: PlanOptions) -> Planned:
    """Read what the plan needs and compute it."""
    campaigns = select_targets(desired, options.targets)
    reader = Reader(client, parallelism=options.parallelism)
    live = reader.read(desired, campaigns, prune=options.prune)
    result = compute_plan(desired, live, prune=options.prune, targets=options.targets or None)
    return Planned(desired, tuple(campaigns), live, result, options)


def plan_paths(paths: Sequence[str], client: UpcallClient, options: PlanOptions) -> Planned:
    return plan_for(load_manifests(paths), client, options)


def touched_campaigns(the_plan: Plan, desired: DesiredState) -> tuple[str, ...]:
    """Manifest campaigns a plan changed: directly, or through a contact in them."""
    names = {c.campaign for c in the_plan.changes if c.campaign and c.kind != "archive_campaign"}
    people = {
        c.contact.person_key
        for c in the_plan.changes
        if c.kind in ("create_contact", "update_contact") and c.contact is not None
    }
    if people:
        for campaign in desired.campaigns:
            if any(n.contact.person_key in people for n in campaign.numbers):
                names.add(campaign.name)
    known = {c.name for c in desired.campaigns}
    return tuple(sorted(n for n in names if n in known))


def converge(
    client: UpcallClient, desired: DesiredState, applied: Plan, options: PlanOptions
) -> Plan:
    """Re-read and re-plan what `applied` touched; an empty plan means converged.

    Archivals are checked by reading each archived campaign back.
    """
    from upcall_sync.changes import Change

    leftovers: list[Change] = []
    targets = touched_campaigns(applied, desired)
    if targets:
        again = plan_for(
            desired,
            client,
            PlanOptions(prune=False, targets=targets, parallelism=options.parallelism),
        ).plan
        leftovers.extend(again.changes)
    for change in applied.changes:
        if change.kind == "archive_campaign" and change.live_id:
            status = client.get_campaign(change.live_id).status
            if status != "archived":
                leftovers.append(change)
    return Plan.build(list(leftovers), [], contact_list=applied.contact_list)
