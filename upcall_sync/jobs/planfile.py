"""Saved plans: `plan --out FILE` writes one, `apply FILE` applies exactly it.

A plan file is JSON with the plan, the base URL it was made against (never
the token), the manifests' digest, and the live version of every object the
plan touches. `apply FILE` refuses it when any of those no longer holds.
It is written atomically (temp file + rename) with mode 0600, and carries a
checksum so an edited or truncated file is refused, not half-applied.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upcall_sync import __version__
from upcall_sync.client import UpcallClient, strip_token
from upcall_sync.core.changes import (
    AddNumber,
    Change,
    CreateCampaign,
    Notice,
    Plan,
    UpdateContact,
    quoted,
)
from upcall_sync.core.dialing import DialList
from upcall_sync.core.matching import id_order
from upcall_sync.core.model import LiveCampaign
from upcall_sync.core.normalize import format_datetime
from upcall_sync.errors import ApiStatusError, ForeignPlan, PlanFileError, StalePlan, shown_name
from upcall_sync.manifest import load_manifests
from upcall_sync.manifest.files import SpecialFile, TooLarge, read_regular
from upcall_sync.output.explain import contact_shape, differences
from upcall_sync.output.render import plan_document
from upcall_sync.state.rows import campaign_from_api, contact_of

log = logging.getLogger("upcall_sync.jobs.planfile")

KIND = "upcall-sync-plan"
FORMAT_VERSION = 2
MAX_PLAN_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    base_url: str
    files: tuple[str, ...]
    digest: str
    options: dict[str, Any]
    seen: dict[str, Any]
    account: dict[str, Any]
    #: the paths plan was given (empty in a plan saved before they were recorded)
    paths: tuple[str, ...] = ()


def _campaign_version(c: LiveCampaign) -> dict[str, Any]:
    return {
        "name": c.name,
        "status": c.status,
        "pitch": c.pitch,
        "instructions": c.instructions,
        "language": c.language,
        "start_datetime": format_datetime(c.start_datetime) or None,
        "end_datetime": format_datetime(c.end_datetime) or None,
        "updated_at": c.updated_at.isoformat() if c.updated_at else None,
    }


def plan_body(planned: Any, base_url: str) -> dict[str, Any]:
    """Everything a plan file holds but its checksum."""
    the_plan: Plan = planned.plan
    live = planned.live
    by_id = {c.id: c for c in live.campaigns}
    changes = the_plan.changes
    touched = sorted(
        {c.live_id for c in changes if c.resource_type == "campaign" and c.live_id}
        | {c.live_id for c in changes if isinstance(c, AddNumber) and c.live_id}
    )
    contacts = {c.id: c.contact.to_dict() for c in live.contacts}
    touched_contacts = sorted(
        {c.live_id for c in changes if isinstance(c, UpdateContact) and c.live_id}
        | {c.contact_id for c in changes if isinstance(c, AddNumber) and c.contact_id}
    )
    return {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "base_url": strip_token(base_url),
        # which account: the token's one-way fingerprint, and the ids it read (which
        # only that account can see); never the token
        "account": {
            "fingerprint": planned.account,
            "campaigns_read": sorted((c.id for c in live.campaigns), key=id_order),
            "list_read": the_plan.contact_list_id,
        },
        "manifests": {
            "files": list(planned.desired.files),
            "digest": planned.desired.digest,
            # the paths as given: a file added to a directory since is noticed
            "paths": list(getattr(planned, "paths", ()) or ()),
        },
        "options": {
            "prune": planned.options.prune,
            "targets": list(planned.options.targets),
        },
        "contact_list": {"name": the_plan.contact_list, "id": the_plan.contact_list_id},
        "seen": {
            "campaigns": {cid: _campaign_version(by_id[cid]) for cid in touched if cid in by_id},
            "absent_campaigns": sorted(
                c.campaign or "" for c in changes if isinstance(c, CreateCampaign)
            ),
            "contacts": {cid: contacts[cid] for cid in touched_contacts if cid in contacts},
        },
        "plan": plan_document(the_plan, planned.account),
    }


def _token_holder(body: dict[str, Any], redact: Callable[[str], str]) -> str:
    """What a plan body holding the token read it from. Never a manifest: plan refuses
    those first (`sync.refuse_token`), so it is a live value (a pitch someone pasted the
    token into): the first campaign or list contact holding it, by id."""
    seen = body.get("seen") or {}
    for kind, what in (("campaigns", "campaign"), ("contacts", "list contact")):
        for ident, values in (seen.get(kind) or {}).items():
            text = json.dumps(values, ensure_ascii=False)
            if redact(text) != text:
                return f"live {what} {ident}"
    return "a live value the plan read"


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def refuse_plan_path(out: str, paths: Sequence[str]) -> None:
    """`plan --out` over a manifest it reads replaced the manifest with the plan; a
    `.yaml` plan inside a directory it reads is read as a manifest by the next plan (and
    by `apply PLANFILE`'s own check, which then never passes). Refused before anything
    is read, naming the file. An empty name (`--out "$PLAN"` with PLAN unset) saved
    nothing and exited 0, and `-` made a file named `-`: both are refused."""
    if not out.strip():
        raise PlanFileError(
            "--out is empty (an unset variable?): give the file to save the plan to"
        )
    if out == "-":
        raise PlanFileError(
            "--out -: a saved plan is a file, for `apply FILE`: give its name (stdout "
            "carries the plan shown: --format json for machines)"
        )
    _refuse_special(out)
    target = Path(out).resolve()
    for given in paths:
        root = Path(given).resolve()
        if root == target:
            raise PlanFileError(
                f"{out}: cannot save the plan: it is a manifest this plan reads (the plan "
                "would replace it); save the plan elsewhere, e.g. plan.json"
            )
        if (
            root.is_dir()
            and target.suffix.lower() in (".yaml", ".yml")
            and target.is_relative_to(root)
        ):
            raise PlanFileError(
                f"{out}: cannot save the plan: a .yaml file in {given}, which this plan "
                "reads manifests from, so the next plan would read it as one; save the "
                "plan as .json, or outside that directory"
            )


def _refuse_special(path: str | os.PathLike[str]) -> None:
    """A plan is saved by renaming a new file over `path`: over a directory that fails,
    and over a device, FIFO or socket (`--out /dev/null`, `--out /dev/stdout`) it
    replaced the node itself, which for root in a CI container broke `/dev/null` for
    every later step. Refused, naming the file (a symlink to a regular file is fine)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # not there yet (or not reachable: saving says why)
    if stat.S_ISDIR(mode):
        raise PlanFileError(f"{_named(path)}: cannot save the plan: it is a directory")
    if not stat.S_ISREG(mode):
        raise PlanFileError(
            f"{_named(path)}: cannot save the plan: it is not a regular file (a device, a FIFO or "
            "a socket); save the plan as a file, e.g. plan.json"
        )


def save_plan(
    path: str | os.PathLike[str],
    planned: Any,
    base_url: str,
    *,
    redact: Callable[[str], str] | None = None,
) -> None:
    """Write atomically with mode 0600: a reader sees the old file or the whole new one.

    `redact` scrubs known secrets: a plan must be exact, so one that would hold a
    secret (a manifest value that interpolated the token) is refused, not saved.
    """
    body = plan_body(planned, base_url)
    data = json.dumps({**body, "checksum": _checksum(body)}, indent=1, ensure_ascii=False)
    if redact is not None and redact(data) != data:
        raise PlanFileError(
            f"{_named(path)}: refusing to save the plan: it would contain the auth token, "
            f"which {_token_holder(body, redact)} holds (a plan records the live values it "
            "read); nothing was written: remove the token from the account (applying the "
            "manifests does, where they set that value), then plan again"
        )
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    _refuse_special(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PlanFileError(
            f"{_named(path)}: cannot save the plan: {exc.strerror or exc}"
        ) from None
    try:  # mkstemp made it 0o600, owner only: a plan names people and their numbers
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise PlanFileError(
                f"{_named(path)}: cannot save the plan: {exc.strerror or exc}; nothing was written"
            ) from None
        raise


def load_plan(path: str | os.PathLike[str]) -> SavedPlan:
    try:
        raw = _read_regular(path).decode("utf-8")
    except FileNotFoundError:
        raise PlanFileError(f"{_named(path)}: no such plan file") from None
    except IsADirectoryError:
        raise PlanFileError(f"{_named(path)}: is a directory, not a plan file") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{_named(path)}: not a plan file (not UTF-8 text)") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket (or a device with nothing behind it)
            raise PlanFileError(f"{_named(path)}: {_NOT_REGULAR}") from None
        raise PlanFileError(f"{_named(path)}: cannot read plan file: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise PlanFileError(f"{_named(path)}: not a plan file (not JSON, or cut short)") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise PlanFileError(f"{_named(path)}: not an upcall-sync plan file")
    if doc.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(
            f"{_named(path)}: plan file format {doc.get('format_version')!r} is not supported "
            f"by this upcall-sync ({__version__}, format {FORMAT_VERSION}); run plan again"
        )
    checksum = doc.pop("checksum", None)
    if checksum != _checksum(doc):
        raise PlanFileError(
            f"{_named(path)}: the plan file was edited or corrupted (checksum mismatch)"
        )
    try:
        body = doc["plan"]
        plan = Plan(
            changes=tuple(Change.from_dict(c) for c in body["changes"]),
            notices=tuple(Notice.from_dict(n) for n in body["notices"]),
            unsafe=tuple(body["unsafe"]),
            contact_list=doc["contact_list"]["name"],
            contact_list_id=doc["contact_list"]["id"],
            unapplied_differences=int(body.get("unapplied_differences") or 0),
            dialing=tuple(DialList.from_dict(d) for d in body.get("dialing") or ()),
        )
        _check_scope(doc["options"], doc["manifests"])
        return SavedPlan(
            plan=plan,
            base_url=doc["base_url"],
            files=tuple(doc["manifests"]["files"]),
            digest=doc["manifests"]["digest"],
            options=doc["options"],
            seen=doc["seen"],
            account=doc["account"],
            paths=tuple(doc["manifests"].get("paths") or ()),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"{_named(path)}: plan file is malformed ({exc})") from None


def _check_scope(options: dict[str, Any], manifests: dict[str, Any]) -> None:
    """What an apply's scope is read from (by the Action's check too) is of one type only:
    a `prune` of 1 was no prune to the Action, and pruned here (helper b70)."""
    if options.get("prune") and options["prune"] is not True:
        raise TypeError("options.prune is not true or false")
    for name, value in (
        ("options.targets", options.get("targets") or []),
        ("manifests.files", manifests["files"]),
        ("manifests.paths", manifests.get("paths") or []),
    ):
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise TypeError(f"{name} is not a list of text")


_NOT_REGULAR = "not a plan file (not a regular file: a device, a FIFO or a socket)"


def _read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular file of at most MAX_PLAN_BYTES. A named pipe no one wrote
    to blocked forever, and a device (`show /dev/zero`) was read until memory ran out:
    neither has a size to check first (`manifest.files`)."""
    try:
        return read_regular(path, MAX_PLAN_BYTES)
    except SpecialFile as exc:
        if exc.directory:
            raise IsADirectoryError(path) from None
        raise PlanFileError(f"{_named(path)}: {_NOT_REGULAR}") from None
    except TooLarge as exc:
        if exc.size is None:  # it grew while read
            raise PlanFileError(f"{_named(path)}: too large for a plan file") from None
        raise PlanFileError(
            f"{_named(path)}: {exc.size // 1024 // 1024} MB is too large for a plan file"
        ) from None


def made_here(saved: SavedPlan, client: UpcallClient, planned_with: Sequence[str] = ()) -> bool:
    """The plan was made against this API, for this token's account (with this token, or
    one `planned_with` names)."""
    made_for = saved.account.get("fingerprint")
    return saved.base_url == strip_token(client.base_url) and (
        made_for == client.account or made_for in planned_with
    )


def check_fresh(saved: SavedPlan, client: UpcallClient, planned_with: Sequence[str] = ()) -> None:
    """Refuse (StalePlan) unless the plan still holds: its API, its manifests, and every
    live object it touches as it saw them. Every difference is named, field by field
    (`StalePlan.details`), not only the first. `planned_with`: the fingerprints of other
    tokens of this account a plan may have been made with (`apply --planned-with`)."""
    base = strip_token(client.base_url)
    if saved.base_url != base:
        raise ForeignPlan(f"the plan was made against {saved.base_url}, not {base}")
    _check_token(saved, client, planned_with)
    missing = [f for f in saved.files if not Path(f).exists()]
    if missing:
        gone = shown_name(missing[0])
        if not Path(gone).is_absolute():
            raise StalePlan(
                f"manifest {gone} from the plan is not in {Path.cwd()}: a plan names its "
                "manifests relative to the directory plan ran in; apply there, or plan again"
            )
        raise StalePlan(f"manifest {gone} from the plan is gone; run plan again")
    digest = load_manifests(list(saved.files)).digest if saved.files else ""
    if digest != saved.digest:
        raise StalePlan("the manifests changed since the plan was made; run plan again")
    if saved.paths:  # found again as plan found them: a file added since (an opt-out list)
        found = load_manifests(list(saved.paths)).files
        # a manifest its paths do not hold: a file edited to plan more than it says it
        # does (the Action checks a plan artifact's paths, not its files)
        outside = [f for f in saved.files if f not in found]
        if outside:
            raise PlanFileError(
                f"plan file is malformed: it plans manifest {shown_name(outside[0])}, which "
                f"its paths ({', '.join(shown_name(p) for p in saved.paths)}) do not hold; "
                "run plan again"
            )
        added = [f for f in found if f not in saved.files]
        if added:
            more = f" (and {len(added) - 1:,} more)" if len(added) > 1 else ""
            raise StalePlan(
                f"the manifests changed since the plan was made: {shown_name(added[0])} is "
                f"new{more}; run plan again"
            )
    list_changed = _stale_list(saved, client)
    changed = [*_stale_campaigns(saved, client), *list_changed]
    if not list_changed:  # a list that is gone has no contacts to compare
        changed += _stale_contacts(saved, client)
    if changed:
        n = len(changed)
        shown = "; ".join(changed[:SUMMARY_ITEMS])
        more = f"; and {n - SUMMARY_ITEMS:,} more" if n > SUMMARY_ITEMS else ""
        raise StalePlan(
            f"the live account changed since the plan was made: {n:,} "
            f"difference{'s' if n != 1 else ''} ({shown}{more}); run plan again",
            details=changed,
            brief=f"the live account changed since the plan was made: the {n:,} "
            f"difference{'s' if n != 1 else ''} above; run plan again",
            live=True,
        )


def _check_token(saved: SavedPlan, client: UpcallClient, planned_with: Sequence[str]) -> None:
    """The plan was made with this token, or with one `planned_with` names (a read-only
    planning token) that reads this account: this token sees the campaigns it read."""
    made_for = saved.account.get("fingerprint")
    if made_for == client.account:
        return
    read = bool(saved.account.get("campaigns_read"))
    seen = read and _reads_what_it_read(saved, client)
    if made_for in planned_with:
        if not read:  # an empty account: nothing tells the two tokens' accounts apart
            log.warning(
                "the plan read no campaigns, so apply cannot check that the token "
                "--planned-with names (%s) is this account's: it trusts --planned-with",
                made_for,
            )
        if seen or not read:
            return
        raise ForeignPlan(
            f"the plan was made with the token --planned-with names ({made_for}), but this "
            "token does not see the campaigns it read: the two tokens are not one "
            "account's; name this account's planning token (its JSON plan's account), or "
            "apply with the token that made the plan"
        )
    named = f"; --planned-with names {', '.join(planned_with)}, not it" if planned_with else ""
    if seen:
        raise ForeignPlan(
            f"the plan was made with another token of this account (token {made_for}; "
            f"this one is {client.account}{named}): a read-only token's, or one since "
            "rotated; a saved plan applies only with the token it was made with, or "
            f"with --planned-with {made_for} (the planning token's fingerprint)"
        )
    if not read:  # an empty account's first plan: nothing tells the two apart
        raise ForeignPlan(
            f"the plan was made with another token (token {made_for}; this one is "
            f"{client.account}), of another account, one since rotated, or a read-only "
            "token of this account (the plan read no campaign to tell): a saved plan "
            "applies only with the token it was made with, or, for this account's "
            f"planning token, with --planned-with {made_for}; else run plan again"
        )
    raise ForeignPlan(
        f"the plan was made for another account (account {made_for}; this token's is "
        f"{client.account}{named}), or with a token since rotated: a saved plan "
        "applies only with the token it was made with; run plan again"
    )


def _reads_what_it_read(saved: SavedPlan, client: UpcallClient) -> bool:
    """Whether this token sees the campaigns the plan read (ids only their account can
    see; up to 3 asked): then another token of the same account made the plan, such as
    a read-only one for planning. False for a plan that read none."""
    for cid in list(saved.account.get("campaigns_read") or ())[:3]:
        try:
            client.get_campaign(str(cid))
        except ApiStatusError as exc:
            if exc.status in (403, 404):
                return False
            raise
    return bool(saved.account.get("campaigns_read"))


#: how many differences the one-line StalePlan message names (details has them all)
SUMMARY_ITEMS = 3


def _stale_campaigns(saved: SavedPlan, client: UpcallClient) -> list[str]:
    """Each campaign the plan touches, as the plan saw it against as it is now.

    `updated_at` moves with any edit: it is named only when nothing the plan records
    changed (an edit of a field the plan does not read, such as the write-only
    from_number)."""
    changed: list[str] = []
    seen: dict[str, dict[str, Any]] = saved.seen.get("campaigns", {})
    for cid, version in sorted(seen.items(), key=lambda item: id_order(item[0])):
        try:
            now = _campaign_version(campaign_from_api(client.get_campaign(cid)))
        except ApiStatusError as exc:
            if exc.status == 404:
                changed.append(f"campaign {cid} ({quoted(version['name'])}) no longer exists")
                continue
            raise
        diffs = differences(version, now)
        fields = [d for d in diffs if d.path != "updated_at"] or diffs
        changed.extend(f"campaign {cid}: {d}" for d in fields)
    # a campaign the plan creates, made since; one the plan read already (an archived
    # campaign recreated without a do-not-call number) is no news
    read = set(saved.account.get("campaigns_read") or ())
    for name in saved.seen.get("absent_campaigns", []):
        if [c for c in client.list_campaigns(name=name) if c.name == name and c.id not in read]:
            changed.append(f"a campaign named {quoted(name)} now exists")
    return changed


def _stale_list(saved: SavedPlan, client: UpcallClient) -> list[str]:
    name, list_id = saved.plan.contact_list, saved.plan.contact_list_id
    lists = [x.id for x in client.list_lists(name=name) if x.name == name]
    if list_id is None and lists:
        return [f"contact list {quoted(name)} now exists (id {lists[0]})"]
    if list_id is not None and list_id not in lists:
        return [f"contact list {quoted(name)} (id {list_id}) is gone"]
    return []


def _stale_contacts(saved: SavedPlan, client: UpcallClient) -> list[str]:
    """Each list contact the plan touches, found again by its phone (the API's filter)."""
    contacts: dict[str, dict[str, str]] = saved.seen.get("contacts", {})
    list_id = saved.plan.contact_list_id
    if not contacts or list_id is None:
        return []
    phones = sorted({c["phone"] for c in contacts.values()})
    now = {
        c.id: contact_of(c).to_dict()
        for phone in phones
        for c in client.list_contacts(list_id, phone=phone)
    }
    changed: list[str] = []
    for cid, details in sorted(contacts.items(), key=lambda item: id_order(item[0])):
        if cid not in now:
            changed.append(
                f"list contact {cid}: not found by its phone {quoted(details['phone'])} "
                "(deleted, or its phone changed)"
            )
            continue
        diffs = differences(contact_shape(details), contact_shape(now[cid]))
        changed.extend(f"list contact {cid}: {d}" for d in diffs)
    return changed


def _named(path: str | os.PathLike[str]) -> str:
    """A plan file's name for one line of error: a newline in it cut the line there, and
    the error said only `error: <the name's first line>` (helper b61)."""
    return shown_name(os.fspath(path))
