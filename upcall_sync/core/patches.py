"""What a campaign PATCH carries besides its changes, so that every reading of PATCH
is safe (CONTRACT.md, "Write-side readings a client must survive").

A server may merge the attributes a PATCH sends or replace the whole campaign with
them. Every campaign PATCH upcall-sync sends (an update, status -> ready, an
archival) therefore carries every attribute the campaign has: managed fields as
planned, the others with their live values. The write-only `from_number` cannot
be read back, so under a replacing PATCH it survives only when the manifests
manage it (`patch: replace` makes plan require it). Pure: no I/O.
"""

from __future__ import annotations

from upcall_sync.core.changes import Value, quoted
from upcall_sync.core.model import (
    CAMPAIGN_STATUSES,
    DATETIME_FIELDS,
    TEXT_FIELDS,
    DesiredCampaign,
    LiveCampaign,
)
from upcall_sync.errors import Problem

#: what a campaign holds that the API returns, besides its name (from_number is write-only)
LIVE_FIELDS = ("status", *TEXT_FIELDS, *DATETIME_FIELDS)


def live_attributes(lc: LiveCampaign, skip: set[str]) -> dict[str, Value]:
    """A live campaign's attributes as a PATCH sends them: "" as null, a status only when
    it is one of the five the API takes."""
    out: dict[str, Value] = {} if "name" in skip else {"name": lc.name}
    for name in LIVE_FIELDS:
        value = lc.value(name)
        if name in skip or (name == "status" and value not in CAMPAIGN_STATUSES):
            continue  # a status the API's write model does not know is not sent back
        out[name] = value if value != "" else None
    return out


def kept_attributes(d: DesiredCampaign, lc: LiveCampaign, changed: set[str]) -> dict[str, Value]:
    """Every attribute a PATCH of this campaign must carry besides the changed ones, so a
    replacing PATCH loses nothing: managed fields as planned, the others as they are live.
    The write-only from_number is carried only when the manifests manage it."""
    kept = live_attributes(lc, skip=changed | {"name"})
    if "name" not in changed:
        kept["name"] = d.name
    for name, want in d.fields.items():
        if name not in changed:
            kept[name] = want
    return kept


def from_number_needed(d: DesiredCampaign, lc: LiveCampaign) -> Problem:
    """Why plan refuses to update a campaign under `patch: replace`."""
    return Problem(
        d.source,
        "from_number",
        f"campaign {quoted(d.name)} (id {lc.id}) needs from_number in the manifests: with "
        "`patch: replace` a PATCH clears what it does not send, and the API never returns "
        "from_number, so this update would clear its caller ID",
    )
