"""What a write's answer says: the object as the API stored it.

A server may keep what it is sent otherwise (a name cut at a length limit, a phone
in a national format, an email lowercased). A create whose answer no later plan
would match is refused here (apply fails it, and skips what depends on it); any
other field answered otherwise is noted on its Op for the convergence check to
explain (`sync.explain_remaining`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeVar

from upcall_sync.client import Campaign, CampaignAttributes, ContactList, ListContact, UpcallClient
from upcall_sync.core.changes import quoted, show
from upcall_sync.core.model import DATETIME_FIELDS, TEXT_FIELDS, Contact
from upcall_sync.core.normalize import name_forms, name_key, text
from upcall_sync.core.stopcalls import STOPPED
from upcall_sync.errors import UpcallSyncError, refused
from upcall_sync.jobs.schedule import Op
from upcall_sync.state.rows import campaign_from_api, contact_of

log = logging.getLogger("upcall_sync.jobs.apply")

#: what a POST answers: the object as the API stored it
_Made = TypeVar("_Made", Campaign, ContactList, ListContact)


def noted(made: _Made, answers: list[_Made]) -> _Made:
    answers.append(made)
    return made


def note(op: Op, answer: Campaign | ListContact | None) -> None:
    """Keep of a write's answer the fields it holds otherwise than sent (`op.answered`; the
    whole answer would cost 2 kB a contact): a server that rewrites what it is sent.
    Compared as plans compare them: a campaign's text in `normalize.text` (NFC, trailing
    whitespace aside), so a pitch written decomposed or ending in a newline is not one."""
    if isinstance(answer, Campaign):
        live = campaign_from_api(answer)
        kept = {f: live.value(f) for f in (*TEXT_FIELDS, *DATETIME_FIELDS)}
    else:
        kept = contact_of(answer)._asdict() if answer is not None else {}
    for row in op.change.rows():
        sent = (
            text(row.after) if row.name in TEXT_FIELDS and isinstance(row.after, str) else row.after
        )
        if row.name in kept and show(kept[row.name]) != show(sent):
            if op.answered is None:  # most writes are kept as sent: no dict for them
                op.answered = {}
            op.answered[row.name] = kept[row.name]


def renamed(name: str, answers: Sequence[Campaign | ContactList]) -> bool:
    """Whether a create's answer names it otherwise than any plan asks for (`refuse_renamed`)."""
    return bool(answers) and answers[-1].name not in name_forms(name)


def refuse_renamed(
    kind: str, name: str, answers: Sequence[Campaign | ContactList], made: str, left: str
) -> None:
    """A create answered with a name no plan asks for fails: no plan would find it, each
    apply would make it again. Plans ask `?name=` (an exact match) for the forms of
    `name_forms` alone, so a name equal under `name_key` but in neither form (a server
    that collapses whitespace but does not compose to NFC, or the other way round) is
    another name too: a plan finds it only when it reads the whole listing."""
    if not renamed(name, answers):
        return
    stored = answers[-1].name
    other = (
        f"under another form of its name, {quoted(stored)} (it differs in Unicode "
        "composition or whitespace alone, yet plans ask for a name as written or in NFC "
        "with whitespace runs as one, and the API's name filter matches exactly)"
        if name_key(stored) == name_key(name)
        else f"under another name, {quoted(stored)}"
    )
    raise UpcallSyncError(
        f"the API stored the new {kind} {quoted(name)} (id {made}) {other}: no later "
        f"plan would find it, and each apply would create it again; {left}. Write the "
        "name as the API keeps it (a shorter one?) in the manifest"
    )


def stored_as(client: UpcallClient, made: str, answers: list[Campaign]) -> None:
    """The campaign as the API stored it, read back, after a create answered another name
    (`renamed`): a server may answer a name otherwise than it keeps it (escaped, cut for
    display). Archiving on the answer alone archived, and renamed to the answer's form,
    a campaign stored under the manifest's name: every apply made one more. Unread (the
    read failed), the answer stands."""
    try:
        answers.append(client.get_campaign(made))
    except UpcallSyncError as exc:
        log.info("campaign %s not read back: %s", made, exc.one_line())


def retire_renamed(
    client: UpcallClient, made: str, attributes: CampaignAttributes, status: str
) -> str:
    """A campaign the API stored under a name no plan asks for is archived at once (every
    attribute sent, the stored name among them: a PATCH may replace): it holds no numbers
    and never dialed. Left active, one more piled up at each apply until the manifest was
    fixed, and then the fixed name found them all: two active campaigns of one name,
    which stops every plan. What became of it, for the error (`status`: as created): left
    as made when the PATCH was refused (4xx); otherwise (no answer, a 5xx after retries,
    an interrupt between retries) it may have landed, and the error says either may be."""
    try:
        client.update_campaign(made, attributes)
    except UpcallSyncError as exc:
        if refused(exc):
            return (
                f"it was left {status}, without its numbers (archiving it failed: "
                f"{exc.one_line()}; archive it in Upcall)"
            )
        return (
            f"it was left {status} or archived, without its numbers (archiving it may "
            f"have failed: {exc.one_line()}; look in Upcall, and archive it if it is not)"
        )
    return "it was archived at once, without its numbers (it never dialed)"


def pause_not_made(exc: UpcallSyncError, status: object) -> str:
    """What a do-not-call pause sent alone, after its update was refused, left when it
    failed too (`status`: the campaign's before it): refused (4xx), the campaign was not
    paused and still dials a listed person; otherwise (no answer, a 5xx, the API out of
    reach) it may not have been. Said beside the update's refusal, which alone named
    only a field to fix."""
    was = f"still {quoted(str(status))}" if isinstance(status, str) and status else "not paused"
    if refused(exc):
        return (
            f"; the pause sent alone was refused too ({exc.one_line()}): the campaign was "
            f"NOT paused, it is {was} and holds a number on the do-not-call list: pause it "
            "in Upcall now"
        )
    return (
        f"; the pause sent alone may not have gone ({exc.one_line()}): the campaign may be "
        f"{was}, holding a number on the do-not-call list: look in Upcall and pause it "
        "if it is not"
    )


def hold_as_sent(
    client: UpcallClient,
    made: str,
    attributes: CampaignAttributes,
    name: str,
    seen: Sequence[Campaign],
) -> None:
    """A campaign created in a status that does not dial (`pending`: it is made ready once
    its numbers are in) but answered in one that may (`ready`, an unknown one, none: a
    server that ignores the status sent, and whose default dials) is set back at once,
    every attribute sent (a PATCH may replace), before any number is added: else it would
    dial a half-loaded list. Raises when that PATCH fails: the create fails, and its
    numbers are not added. `seen`: the POST's answers, and the campaigns a look-up after
    a lost answer read (the last one of id `made` is what the API holds)."""
    answered = next((c for c in reversed(seen) if str(c.id) == made), None)
    sent = attributes.status
    if answered is None or sent not in STOPPED or answered.status in STOPPED:
        return
    shown = quoted(answered.status) if answered.status else "without a status"
    try:
        client.update_campaign(made, attributes)
    except UpcallSyncError as exc:
        raise UpcallSyncError(
            f"the API created campaign {quoted(name)} (id {made}) {shown} although it was "
            f"sent {sent}, and setting it {sent} failed: {exc.one_line()}; its numbers were "
            "not added. Pause it in Upcall"
        ) from None
    log.warning(
        "the API created campaign %s (id %s) %s although it was sent %s: set back to %s at "
        "once, before its numbers are added (a server that ignores the status of a create)",
        quoted(name),
        made,
        shown,
        sent,
        sent,
    )


def refuse_another_line(person: Contact, answers: Sequence[ListContact], made: str) -> None:
    """A contact answered with another phone or extension (a national "(415) 555-0100",
    not E.164) fails: plans match people by line, each apply would add them again."""
    got = contact_of(answers[-1]) if answers else person
    if got.line_key != person.line_key:
        if got.phone == person.phone:  # the extension alone (dropped, padded, another)
            what = f"the extension {quoted(got.extension)}" if got.extension else "no extension"
            should = "The API should keep an extension as sent"
        else:
            shown = f"{got.phone} x{got.extension}" if got.extension else got.phone
            what = f"the phone {quoted(shown)}"
            should = "The API should answer phones in E.164"
        raise UpcallSyncError(
            f"the API stored the new contact {person.label} (id {made}) with {what}, "
            "which does not read as the one sent: no later plan would find this person "
            "staged, and each apply would stage them again (one more list contact each "
            f"time) and add them again; their numbers were not added. {should}"
        )
