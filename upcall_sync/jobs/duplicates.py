"""What an apply created, looked for again: copies a POST committed after the client
stopped waiting can leave (`find_duplicates`), and people a run added to a campaign
whom a later read shows there twice (`numbers_added_twice`). Without idempotency keys
only looking finds them; apply's convergence check reports each as a `Duplicate`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from upcall_sync.client import Campaign, UpcallClient
from upcall_sync.core.changes import AddNumber, CreateCampaign, CreateContact, Plan, quoted
from upcall_sync.core.matching import id_order
from upcall_sync.core.model import Contact, LiveState
from upcall_sync.jobs.apply import ApplyReport, Op
from upcall_sync.jobs.writes import campaigns_named, lists_named
from upcall_sync.state.rows import contact_of


@dataclass(frozen=True)
class Duplicate:
    """Objects of one kind that are the same thing, one of which this run created."""

    kind: str  # "campaign", "contact list", "list contact", "campaign number"
    what: str  # the campaign's name, or the person (and the campaign for a number)
    ids: tuple[str, ...]
    #: the id to keep (the others are the duplicates): what this run recorded; of campaigns,
    #: the oldest already past pending, else the one holding most numbers (`_keeper`)
    kept: str

    def one_line(self) -> str:
        others = ", ".join(i for i in self.ids if i != self.kept)
        ids = ", ".join(self.ids)
        return f"{self.kind} {self.what}: ids {ids} (keep {self.kept}; remove {others})"


def numbers_added_twice(report: ApplyReport, applied: Plan, live: LiveState) -> list[Duplicate]:
    """People this run added to a campaign whom `live` shows in it more than once."""
    made, campaign_ids = _made_and_campaign_ids(report, applied)
    found: list[Duplicate] = []
    for name, cid in sorted(campaign_ids.items()):
        added = [op for op in made if op.kind == "add_number" and op.campaign == name]
        numbers = live.numbers.get(cid or "")
        if added and numbers:
            found.extend(_people_twice(name, [(n.id, n.contact) for n in numbers], added))
    return found


def _made_and_campaign_ids(report: ApplyReport, applied: Plan) -> tuple[list[Op], dict[str, str]]:
    """The ops this run applied that made or touched a live object, and each campaign's
    live id (the plan's, or the one this run created)."""
    made = [op for op in report.ops if op.status == "applied" and op.live_id]
    campaign_ids = {c.campaign: c.live_id for c in applied.changes if c.campaign and c.live_id}
    for op in made:
        if op.kind == "create_campaign" and op.campaign and op.live_id:
            campaign_ids[op.campaign] = op.live_id
    return made, campaign_ids


def find_duplicates(
    client: UpcallClient, report: ApplyReport, applied: Plan
) -> tuple[Duplicate, ...]:
    """What this run created, looked for again: a campaign or contact list by its name
    (every one: they are few), a list contact by its phone (the same person) and a
    campaign's numbers (the same person twice) where a POST was sent again after an
    unknown outcome.

    A POST the server committed after the client stopped waiting (and after the
    look-up window) is a second copy; without idempotency keys only looking finds it.
    Only a POST sent more than once can leave one, so a run without unknown outcomes
    reads one listing per created campaign or contact list and nothing more."""
    made, campaign_ids = _made_and_campaign_ids(report, applied)
    list_id = next((op.live_id for op in made if op.kind == "create_list"), None)
    list_id = list_id or applied.contact_list_id
    found: list[Duplicate] = []
    for op in made:
        assert op.live_id is not None
        if op.kind == "create_campaign":
            name = (
                str(op.change.values.get("name")) if isinstance(op.change, CreateCampaign) else ""
            )
            # an archived one is not a copy (a late POST lands as sent): the one this
            # run recreated without a do-not-call number keeps its old, archived self
            twins = {
                c.id: c
                for c in campaigns_named(client, name)
                if c.status != "archived" or c.id == op.live_id
            }
            if len(twins) > 1:
                order = _sorted(list(twins))
                keep = _keeper(twins, order, lambda cid: len(client.list_numbers(cid)))
                found.append(Duplicate("campaign", quoted(name), order, keep))
        elif op.kind == "create_list":
            # another apply running at once makes its own list (and stages everyone in it)
            lists = {x.id for x in lists_named(client, applied.contact_list)}
            if len(lists) > 1:  # the oldest: what two applies at once both name
                order = _sorted(list(lists))
                found.append(
                    Duplicate("contact list", quoted(applied.contact_list), order, order[0])
                )
        elif (
            op.kind == "create_contact"
            and op.resent
            and list_id
            and isinstance(op.change, CreateContact)
        ):
            person = op.change.contact
            rows = client.list_contacts(list_id, phone=person.phone)
            ids = [r.id for r in rows if contact_of(r).person_key == person.person_key]
            if len(ids) > 1:
                found.append(Duplicate("list contact", person.label, _sorted(ids), op.live_id))
    for name, cid in sorted(campaign_ids.items()):
        added = [op for op in made if op.kind == "add_number" and op.campaign == name]
        if cid and any(op.resent for op in added):
            found.extend(_duplicate_numbers(client, name, cid, added))
    return tuple(found)


def _duplicate_numbers(
    client: UpcallClient, name: str, campaign_id: str, added: Sequence[Op]
) -> Iterator[Duplicate]:
    """The people this run added to a campaign who are in it more than once."""
    numbers = [(n.id, contact_of(n)) for n in client.list_numbers(campaign_id)]
    return _people_twice(name, numbers, added)


def _people_twice(
    name: str, numbers: Sequence[tuple[str, Contact]], added: Sequence[Op]
) -> Iterator[Duplicate]:
    """Of a campaign's numbers (id, contact), the people `added` put in it, found twice."""
    people = {op.change.contact.person_key: op for op in added if isinstance(op.change, AddNumber)}
    seen: dict[tuple[str, str, str, str], list[str]] = {}
    for number_id, contact in numbers:
        key = contact.person_key
        if key in people:
            seen.setdefault(key, []).append(number_id)
    for key, ids in sorted(seen.items()):
        op = people[key]
        if len(ids) > 1 and isinstance(op.change, AddNumber):
            what = f"{op.change.contact.label} in campaign {quoted(name)}"
            # the oldest: two copies of one person are alike, and a run at once that
            # found the same pair names the same one
            oldest = _sorted(ids)
            yield Duplicate("campaign number", what, oldest, oldest[0])


def _keeper(twins: dict[str, Campaign], ids: Sequence[str], count: Callable[[str], int]) -> str:
    """The campaign to keep of twins: the oldest already past pending (it may be calling:
    archiving it for a pending copy would call its people again); of pending twins, the
    one holding the most numbers, the oldest of those (`count` reads a campaign's numbers).

    Two applies at once that each find the pair name the same one. A POST committed late
    after its run was killed makes an older, empty copy of the campaign a re-run filled:
    "keep the oldest" sent the reader to archive the full one."""
    started = [i for i in ids if (twins[i].status or "pending") not in ("pending", "archived")]
    if started:
        return started[0]
    sizes = {i: count(i) for i in ids}
    return max(ids, key=lambda i: sizes[i])  # max keeps the first (oldest) of a tie


def _sorted(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(ids, key=id_order))
