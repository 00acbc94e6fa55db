"""What differs, field by field: the words behind a stale saved plan and a failed convergence.

Two places need to say *what* changed, not only *that* something did:

- `apply PLANFILE` refuses a plan whose live objects moved since it was made
  (`planfile.check_fresh`): it names every field, before and after;
- apply's convergence check (`sync.converge`) may find changes still to make:
  each is explained (an update by its fields, an add by what was looked for).

Both compare small nested values with deepdiff, whose paths come out as
`address.city`. deepdiff stays off the hot path: the planner's own diff
(`core/planner.py`) remains a plain `==` over normalized values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    json_value,
    quoted,
    show,
)
from upcall_sync.core.model import ADDRESS_PARTS, PERSON_FIELDS, Contact


@dataclass(frozen=True)
class Difference:
    """One field that differs: its dotted path, the value before and the value after
    (None: absent or empty)."""

    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path} {show(self.before)} -> {show(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": json_value(self.before),
            "after": json_value(self.after),
        }


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Difference]:
    """Every path at which two nested mappings differ, sorted by path (a value absent on
    one side is None there)."""
    # imported here: deepdiff takes a tenth of a second to import, and only a stale
    # saved plan or a failed convergence needs it
    from deepdiff import DeepDiff
    from deepdiff.helper import NotPresent

    def value(v: Any) -> Any:
        return None if isinstance(v, NotPresent) else v

    found: list[Difference] = []
    for levels in DeepDiff(dict(before), dict(after), view="tree").values():
        for level in levels:
            path = ".".join(str(part) for part in level.path(output_format="list"))
            found.append(Difference(path, value(level.t1), value(level.t2)))
    return sorted(found, key=lambda d: d.path)


def contact_shape(details: Mapping[str, Any]) -> dict[str, Any]:
    """A contact's flat details (`Contact.to_dict()`) in the API's shape, so that
    address parts read `address.city`; absent and empty alike."""
    top = {k: v for k, v in details.items() if k not in ADDRESS_PARTS and v}
    top["address"] = {k: details[k] for k in ADDRESS_PARTS if details.get(k)}
    return top


# -- a change a fresh plan still shows ---------------------------------------------


def explain_change(change: Change) -> list[str]:
    """Why a fresh plan still wants `change`: what differs, or what was looked for."""
    if isinstance(change, UpdateCampaign):
        fields = change.rows()
        return [
            str(d)
            for d in differences(
                {r.name: r.before for r in fields}, {r.name: r.after for r in fields}
            )
        ]
    if isinstance(change, UpdateContact):
        return [
            str(d)
            for d in differences(
                contact_shape(change.current.to_dict()), contact_shape(change.contact.to_dict())
            )
        ]
    if isinstance(change, AddNumber):
        where = f"campaign {change.live_id}" if change.live_id else "the campaign"
        return [f"no number in {where} is this person; looked for {_person(change.contact)}"]
    if isinstance(change, CreateContact):
        return [f"no list contact is this person; looked for {_person(change.contact)}"]
    if isinstance(change, CreateCampaign):
        name = change.values.get("name", change.campaign or "")
        return [f"no live campaign is named {show(name)}"]
    if isinstance(change, ArchiveCampaign):
        return [f'campaign {change.live_id} was read back and its status is not "archived"']
    if isinstance(change, CreateList):
        return [f"no contact list is named {quoted(change.name)}"]
    return []


def _person(contact: Contact) -> str:
    """The details that identify a person (phone, extension, name), as searched for."""
    values = contact.to_dict()
    return ", ".join(f"{k} {quoted(values[k])}" for k in PERSON_FIELDS if values.get(k))


def explain_plan(remaining: Plan) -> tuple[tuple[Change, tuple[str, ...]], ...]:
    """Each change of `remaining` with the lines that explain it."""
    return tuple((c, tuple(explain_change(c))) for c in remaining.changes)


def plan_differences(saved: Plan, fresh: Plan) -> list[str]:
    """How a saved plan's changes differ from a fresh plan of the same manifests and
    account, one line each: a change only one of them has, or a change both have whose
    fields differ (`apply PLANFILE` applies only when there is none)."""

    def keyed(p: Plan) -> dict[tuple[Any, ...], dict[str, Any]]:
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        for change in p.changes:
            key: tuple[Any, ...] = (change.kind, *change.sort_key)
            while key in out:  # two changes of one address: told apart by their order
                key = (*key, "again")
            out[key] = change.to_dict()
        return out

    old, new = keyed(saved), keyed(fresh)
    lines: list[str] = []
    for key in sorted(old.keys() | new.keys(), key=str):
        kind, address = key[0], quoted(str(key[3]))
        if key not in new:
            lines.append(f"{kind} {address} is in the plan file but not in a fresh plan")
        elif key not in old:
            lines.append(f"{kind} {address} is in a fresh plan but not in the plan file")
        else:
            lines.extend(f"{kind} {address}: {d}" for d in differences(old[key], new[key]))
    return lines + dialing_differences(saved, fresh)


def dialing_differences(saved: Plan, fresh: Plan) -> list[str]:
    """Who a fresh plan would start calling that the plan file did not show: the numbers
    already in a campaign that becomes ready (one added by hand since the plan was made
    changes no change, yet its person would be called unreviewed)."""
    # by name and id: two live campaigns may share a name (each pinned by `id:`), and
    # one's dial list is not the other's
    old = {(d.campaign, d.live_id): d for d in saved.dialing}
    lines: list[str] = []
    for dial in fresh.dialing:
        before = old.get((dial.campaign, dial.live_id))
        ident = f" (id {dial.live_id})" if dial.live_id else ""
        name = f"campaign {quoted(dial.campaign)}{ident}"
        if before is not None and dial.already != before.already:
            lines.append(
                f"{name} starts calling the {dial.already:,} "
                f"number{'' if dial.already == 1 else 's'} already in it, "
                f"not {before.already:,} as in the plan file"
            )
        shown = set(before.not_in_manifests) if before is not None else set()
        unseen = [c.label for c in dial.not_in_manifests if c not in shown]
        if unseen:
            more = len(unseen) - _NAMED
            who = ", ".join(unseen[:_NAMED]) + (f" and {more:,} more" if more > 0 else "")
            lines.append(f"{name} starts calling {who}: not in the manifests, nor in the plan file")
    return lines


#: people one dial-list difference names before "and N more" (thousands added by hand
#: would make one line of them)
_NAMED = 5
