"""Identity: which live campaign each desired campaign is, and which numbers are present.

Shared by `live` (to know what to read) and `plan` (to diff), so both agree on
identity. Pure: no I/O.

- A campaign matches by pinned `id`, else by name, compared under NFC with
  whitespace collapsed (`normalize.name_key`: a server may store names so); an
  active campaign is preferred over archived ones of the same name, and the newest
  archived one (the highest id, `id_order`) over older ones; two active ones is an error.
- A desired number is present in a campaign when a live number there has the
  same details; the ones left are matched by identity (phone, extension, first
  and last name) in the planner.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from operator import attrgetter

from upcall_sync.core.changes import quoted
from upcall_sync.core.model import (
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    LiveCampaign,
    LiveNumber,
    Matches,
    id_order,
)
from upcall_sync.core.normalize import name_key
from upcall_sync.errors import Location, PlanError, Problem, UsageError

GLOB_CHARS = frozenset("*?[")

__all__ = ["GLOB_CHARS", "Matches", "id_order", "plan_scope"]


def plan_scope(
    desired: DesiredState, targets: Sequence[str] | None, *, prune: bool
) -> list[DesiredCampaign]:
    """The campaigns a plan covers (`select_targets`), and the one check of what pruning
    needs: no targets (a targeted plan sees part of the manifests, so it cannot tell
    what no manifest names) and a prune_scope. Whether the listing was complete is the
    planner's to check, once it has one."""
    if prune and targets:
        raise UsageError("pruning cannot be combined with targets")
    if prune and not desired.prune_scope:
        raise UsageError("pruning needs prune_scope in the manifests (a glob on campaign names)")
    return select_targets(desired, targets)


def select_targets(desired: DesiredState, targets: Sequence[str] | None) -> list[DesiredCampaign]:
    """The campaigns named by `targets`: exact names, or globs like prune_scope."""
    if not targets:
        return list(desired.campaigns)
    names = [c.name for c in desired.campaigns]
    wanted: set[str] = set()
    unknown: list[str] = []
    for target in targets:
        if target in names:  # an exact name wins, even one with glob characters
            found = {target}
        elif GLOB_CHARS & set(target):
            found = {n for n in names if fnmatch.fnmatchcase(n, target)}
        else:
            found = set()
        if not found:
            unknown.append(target)
        wanted |= found
    if unknown:
        shown = ", ".join(quoted(t) for t in unknown)
        raise UsageError(f"target {shown}: no campaign in the manifests matches")
    return [c for c in desired.campaigns if c.name in wanted]


def match_campaigns(campaigns: Sequence[DesiredCampaign], live: Iterable[LiveCampaign]) -> Matches:
    """Match by id, else by name; raise PlanError naming every ambiguity at once."""
    by_id: dict[str, LiveCampaign] = {}
    by_name: dict[str, list[LiveCampaign]] = defaultdict(list)
    for lc in live:
        by_id[lc.id] = lc
        by_name[name_key(lc.name)].append(lc)
    problems: list[Problem] = []
    matches = Matches()
    claimed: dict[str, DesiredCampaign] = {}
    for d in campaigns:
        try:
            found = _find(d, by_id, by_name)
            if found is not None:
                _claim(d, found, claimed)
        except _Ambiguous as exc:
            problems.append(exc.problem)
            continue
        matches.pairs.append((d, found))
    if problems:
        raise PlanError(problems)
    return matches


class _Ambiguous(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _find(
    d: DesiredCampaign, by_id: dict[str, LiveCampaign], by_name: dict[str, list[LiveCampaign]]
) -> LiveCampaign | None:
    if d.id is not None:
        found = by_id.get(d.id)
        if found is None:
            raise _Ambiguous(
                Problem(
                    d.where("id"),
                    "id",
                    f"campaign {quoted(d.name)} is bound to id {d.id}, but this account has "
                    "no campaign with that id",
                )
            )
        return found
    candidates = sorted(by_name.get(name_key(d.name), []), key=lambda c: id_order(c.id))
    active = [c for c in candidates if c.status != "archived"]
    if not active:
        # archived ones only: the newest. Each do-not-call resume (archive, apply: the
        # campaign is created anew) leaves one behind, so a second resume found two and
        # asked for an `id:`, which stops a resume: no way forward but a new name
        return candidates[-1] if candidates else None
    if len(active) > 1:
        ids = ", ".join(c.id for c in active)
        raise _Ambiguous(
            Problem(
                d.source,
                "name",
                f"{len(active)} active live campaigns are named {quoted(d.name)} "
                f"(ids {ids}); pin one with `id:` in the manifest, or archive the extra "
                "ones in Upcall if they are copies (two applies at once, or a write "
                "committed late, make those; each would call the same people)",
            )
        )
    return active[0]


def _claim(d: DesiredCampaign, found: LiveCampaign, claimed: dict[str, DesiredCampaign]) -> None:
    if found.id in claimed:
        other = claimed[found.id]
        raise _Ambiguous(
            Problem(
                d.source,
                "",
                f"campaign {quoted(d.name)} and campaign {quoted(other.name)} "
                f"({other.source}) both match live campaign {found.id}",
            )
        )
    claimed[found.id] = d


_contact = attrgetter("contact")


def unsatisfied_by_equality(
    campaign: DesiredCampaign, live_numbers: Sequence[LiveNumber] | None
) -> tuple[list[DesiredNumber], Counter[Contact]]:
    """Desired numbers of a campaign with no live number of identical details, and the
    live numbers left over (as a multiset of details).

    A campaign in step with its manifest lists the same details in the same order
    (the API lists numbers in the order they were added): one list comparison, in
    C, answers that case with nothing missing and nothing left over.
    """
    live_numbers = live_numbers or ()
    if len(live_numbers) == len(campaign.numbers) and list(map(_contact, live_numbers)) == list(
        map(_contact, campaign.numbers)
    ):
        return [], Counter()
    remaining: Counter[Contact] = Counter(n.contact for n in live_numbers)
    missing: list[DesiredNumber] = []
    for number in campaign.numbers:
        if remaining[number.contact] > 0:
            remaining[number.contact] -= 1
        else:
            missing.append(number)
    return missing, remaining


def phones_needing_contacts(matches: Matches, numbers: dict[str, list[LiveNumber]]) -> set[str]:
    """The phones whose list contacts a plan must read: those of numbers not already
    present with identical details (what `live` asks the API for)."""
    phones: set[str] = set()
    for d, lc in matches.pairs:
        live_numbers = numbers.get(lc.id) if lc is not None else None
        missing, _left = unsatisfied_by_equality(d, live_numbers)
        phones.update(n.contact.phone for n in missing)
    return phones


def first_file(desired: DesiredState) -> Location:
    """Where to point a problem that belongs to the manifests as a whole."""
    return desired.contact_list_source or Location(
        desired.files[0] if desired.files else "manifests"
    )
