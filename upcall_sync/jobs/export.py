"""`upcall-sync export`: the live account as manifests that plan to nothing.

Reads with the fewest GETs the data allows (the campaign listing, then every
exported campaign's numbers and one `?from_number=` listing per probed
candidate, all breadth first in parallel), checks that every value can be
written so that `validate` accepts it and `plan` finds it equal, and writes
manifests deterministically (sorted; no timestamp, no secret).

What a manifest cannot hold is refused with every reason at once, never
written half right: a name that is empty or ends in whitespace (manifests trim
names), a phone the manifest would not accept, an email its pattern refuses,
an end not after the start, a datetime outside the years 1000 to 9999 (UTC),
text that is not valid Unicode, and one person (phone, extension and name)
with two sets of details (a manifest set holds one record per person). A
person listed twice with the same details in one campaign is written once (the
plan reports the copy as an unmanaged number, which the API cannot remove); a
status this version does not know is left unmanaged.
"""

from __future__ import annotations

import fnmatch
import glob
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter

from upcall_sync.client import Campaign, UpcallClient
from upcall_sync.core.model import (
    CAMPAIGN_STATUSES,
    CONTACT_FIELDS,
    Contact,
    LiveCampaign,
)
from upcall_sync.core.normalize import PhoneError, name_key, normalize_phone, quote
from upcall_sync.errors import ExportError, UsageError
from upcall_sync.jobs.export_numbers import (
    Number,
    PhoneCheck,
    email_ok,
    flow_number,
    number_pages,
    number_values,
    slow_phone_ok,
)
from upcall_sync.jobs.export_yaml import (
    Unwritable,
    block_or_scalar,
    csv_cell_ok,
    csv_text,
    scalar,
    slug,
    strangers,
    write_files,
)
from upcall_sync.manifest import EMAIL_PATTERN
from upcall_sync.manifest.spec import MAX_YEAR, MIN_YEAR
from upcall_sync.state.rows import campaign_from_api

DEFAULT_CSV_OVER = 100
_slow_phone_ok = slow_phone_ok  # the manifest's own phone check (its tests import it here)
_TEXT_FIELDS = ("language", "pitch", "instructions")


@dataclass(frozen=True)
class ExportOptions:
    names: tuple[str, ...] = ()
    include_archived: bool = False
    from_numbers: tuple[str, ...] = ()
    csv_over: int = DEFAULT_CSV_OVER


@dataclass
class LiveRead:
    """What export read: every listed campaign, and the exported ones' numbers."""

    listed: list[Campaign]
    exported: list[Campaign]
    numbers: dict[str, list[Number]]
    from_numbers: dict[str, set[str]]  # candidate -> ids of campaigns that have it
    requests: int = 0


@dataclass
class Export:
    """The files to write (relative name -> text; "-" for stdout) and what to tell."""

    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    campaigns: int = 0
    numbers: int = 0


# -- reading ------------------------------------------------------------------------------


def probe_numbers(raw: Sequence[str]) -> tuple[str, ...]:
    """`--from-number` values as E.164, in order, without repeats."""
    out: list[str] = []
    for value in raw:
        try:
            phone = normalize_phone(value)
        except PhoneError as exc:
            # export has no phone_region: the probe needs its country code
            reason = str(exc).removesuffix(" or set phone_region")
            raise UsageError(f"--from-number: {reason}") from None
        if phone not in out:
            out.append(phone)
    return tuple(out)


def selected(c: Campaign, options: ExportOptions, exact: frozenset[str] = frozenset()) -> bool:
    """Whether `--name` (and `--include-archived`) pick the campaign. A `--name` that is
    a live campaign's exact name (`exact`) takes that name alone, even one with glob
    characters (`[x]`, `*star`), as `--target` does; any other is a glob."""
    if c.status == "archived" and not options.include_archived:
        return False
    return not options.names or any(
        c.name == g if g in exact else fnmatch.fnmatchcase(c.name, g) for g in options.names
    )


def read_live(client: UpcallClient, options: ExportOptions) -> LiveRead:
    """The listing, then the exported campaigns' numbers and the probes, in parallel."""
    before = client.requests_sent()
    with client.workers("export") as pool:
        [listed] = client.read_all(pool, [client.campaigns_listing()])
        # only a campaign the export may take pins a name (an archived one only with
        # --include-archived): otherwise its name hid what the glob picks
        exact = frozenset(
            c.name for c in listed if c.status != "archived" or options.include_archived
        ) & frozenset(options.names)
        exported = sorted((c for c in listed if selected(c, options, exact)), key=_campaign_order)
        reader = number_pages(PhoneCheck())
        numbers_l = [client.number_rows(c.id).with_pages(reader) for c in exported]
        probes = [client.campaigns_listing(from_number=n) for n in options.from_numbers]
        results = client.read_all(pool, [*numbers_l, *probes])
    numbers = {c.id: rows for c, rows in zip(exported, results[: len(numbers_l)], strict=True)}
    found = results[len(numbers_l) :]
    from_numbers = {
        n: {c.id for c in hits} for n, hits in zip(options.from_numbers, found, strict=True)
    }
    requests = client.requests_sent() - before
    return LiveRead(list(listed), exported, numbers, from_numbers, requests)


def _campaign_order(c: Campaign) -> tuple[str, int, str]:
    return (c.name, int(c.id) if c.id.isdigit() else 1 << 62, c.id)


# -- checking -----------------------------------------------------------------------------


def _label(c: Campaign) -> str:
    return f"campaign {quote(c.name)} (id {c.id})"


def _campaign_problems(c: Campaign, lc: LiveCampaign) -> list[str]:
    problems: list[str] = []
    if not c.name.strip():
        problems.append(f"{_label(c)}: the name is empty; a manifest needs a name")
    elif c.name != c.name.rstrip():
        problems.append(
            f"{_label(c)}: the name ends in whitespace, which manifests trim; rename it in Upcall"
        )
    start, end = lc.start_datetime, lc.end_datetime
    for name, when in (("start_datetime", start), ("end_datetime", end)):
        if when is not None and not MIN_YEAR <= when.astimezone(UTC).year <= MAX_YEAR:
            problems.append(
                f"{_label(c)}: {name} {_datetime(when)} is outside the years a manifest "
                f"accepts ({MIN_YEAR} to {MAX_YEAR}, in UTC)"
            )
    if start is not None and end is not None and end <= start:
        problems.append(
            f"{_label(c)}: end_datetime {_datetime(end)} is not after start_datetime "
            f"{_datetime(start)}, which a manifest refuses"
        )
    return problems


def _number_problems(c: Campaign, n: Number, phone_ok: bool) -> list[str]:
    mail_ok = email_ok(n.contact.email)
    if phone_ok and mail_ok:
        return []
    where = f"{_label(c)}: number {n.contact.label}"
    problems: list[str] = []
    if not phone_ok:
        problems.append(f"{where}: phone {quote(n.raw[0])} is not a phone a manifest accepts")
    if not mail_ok:
        problems.append(
            f"{where}: email {quote(n.raw[6])} is not an address a manifest accepts "
            f"(pattern {EMAIL_PATTERN})"
        )
    return problems


def _people(live: LiveRead, warnings: list[str]) -> tuple[dict[str, list[Number]], list[str]]:
    """Each campaign's numbers, one per person and sorted; conflicts between details."""
    problems: list[str] = []
    seen: dict[tuple[str, str, str, str], tuple[Contact, Campaign]] = {}
    out: dict[str, list[Number]] = {}
    for c in live.exported:
        ordered = sorted(live.numbers.get(c.id, []), key=_number_order)
        keys = list(map(_person_key, map(_contact_of, ordered)))
        if seen.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            # nobody seen before, nobody twice (nearly every campaign): as the loop below
            seen.update(zip(keys, zip(map(_contact_of, ordered), repeat(c)), strict=False))
            out[c.id] = ordered
            continue
        mine: dict[tuple[str, str, str, str], Number] = {}
        for n in ordered:
            contact = n.contact
            key = contact[:4]  # person_key, sliced in C
            before = seen.get(key)
            if before is None:  # a person not seen before (so not in `mine` either)
                mine[key] = n
                seen[key] = (contact, c)
                continue
            here = mine.get(key)
            if here is None and before[0] == contact:
                mine[key] = n
            elif here is None:
                problems.append(_conflict(contact, c, *before))
            elif here.contact == contact:
                warnings.append(
                    f"{_label(c)} lists {contact.label} twice with the same details; "
                    "written once (plan will report the copy as an unmanaged number)"
                )
            else:
                problems.append(_conflict(contact, c, here.contact, c))
        out[c.id] = list(mine.values())
    return out, problems


#: a campaign's numbers in a stable order: (contact, raw, id)
_number_order = itemgetter(1, 2, 0)
_contact_of = itemgetter(1)
_person_key = itemgetter(slice(0, 4))  # Contact.person_key, sliced in C


def _conflict(this: Contact, c: Campaign, first: Contact, other: Campaign) -> str:
    diffs = ", ".join(f"{k} {quote(a)} vs {quote(b)}" for k, (a, b) in first.diff(this).items())
    where = f"in {_label(c)}" if c is other else f"in {_label(other)} and {_label(c)}"
    return (
        f"{this.label} has two sets of details {where} ({diffs}); manifests hold one record "
        "per person: make them agree in Upcall, or export such campaigns separately (--name)"
    )


# -- writing text -------------------------------------------------------------------------


def _datetime(value: datetime) -> str:
    """UTC, to the second, with the fraction only when the API gave one."""
    utc = value.astimezone(UTC)
    frac = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    # the year by hand: glibc's %Y does not pad years before 1000 to four digits
    return f"{utc.year:04d}" + utc.strftime("-%m-%dT%H:%M:%S") + frac + "Z"


@dataclass(frozen=True)
class _Entry:
    """One campaign as written: where its numbers go, and what it pins."""

    campaign: Campaign
    numbers: list[Number]
    pin: bool
    from_number: str | None
    csv_name: str | None = None
    csv_rows: tuple[Number, ...] = ()


def _campaign_text(e: _Entry, warnings: list[str]) -> str:
    c = e.campaign
    lines = [f"  - name:{block_or_scalar(c.name, '      ')}"]
    if e.pin:
        lines.append(f"    id: {scalar(c.id)}")
    if c.status in CAMPAIGN_STATUSES:
        lines.append(f"    status: {c.status}")
    else:
        warnings.append(
            f"{_label(c)}: status {quote(c.status)} is not one this version knows; "
            "left out (not managed)"
        )
    for name in _TEXT_FIELDS:
        value = getattr(c, name) or ""
        lines.append(f"    {name}:{block_or_scalar(value, '      ')}")
    for name in ("start_datetime", "end_datetime"):
        when = getattr(c, name)
        lines.append(f"    {name}: {_datetime(when) if when is not None else 'null'}")
    if e.from_number is not None:
        lines.append(f"    from_number: {scalar(e.from_number)}")
    if e.csv_name is not None:
        lines.append(f"    numbers_csv: {scalar(e.csv_name)}")
    inline = e.numbers
    if e.csv_rows:
        in_csv = {n.id for n in e.csv_rows}
        inline = [n for n in e.numbers if n.id not in in_csv]
    if not inline and e.csv_name is None:
        lines.append("    numbers: []")
    elif inline:
        flows = list(map(_flow_of, inline))
        if None in flows:
            flows = list(map(flow_number, inline))
        lines.append("    numbers:\n      - " + "\n      - ".join(flows))
    return "\n".join(lines) + "\n"


_flow_of = attrgetter("flow")
_ok_of = attrgetter("ok")


def _csv_file(rows: Sequence[Number]) -> str:
    used = {name for n in rows for name, _v in number_values(n)}
    columns = [name for name in CONTACT_FIELDS if name in used or name == "phone"]
    table = []
    for n in rows:
        values = dict(number_values(n))
        table.append([values.get(name, "") for name in columns])
    return csv_text(columns, table)


def _header(version: str, probed: Sequence[str], prune_scope: str | None) -> str:
    lines = [
        f"# Generated by upcall-sync {version} (`upcall-sync export`) from the live account.",
        "# Review and commit it: `upcall-sync plan` then shows no changes. Edit it to manage.",
    ]
    if probed:
        shown = ", ".join(probed)
        lines += [
            f"# from_number was probed for {shown} (--from-number): written where a campaign",
            "# matched exactly one; elsewhere it is not managed (the API never returns it).",
        ]
    else:
        lines += [
            "# from_number is not managed: the API never returns it (it is write-only);",
            "# `export --from-number +1...` probes candidates through the API's filter.",
        ]
    if prune_scope is not None:
        lines += [
            "# prune_scope is off. This glob covers exactly the campaigns exported, so with it",
            "# `plan --prune` would archive live campaigns that no manifest names (set it in",
            "# one file; files that set it must agree):",
            f"# prune_scope: {scalar(prune_scope)}",
        ]
    else:
        lines.append("# prune_scope is off (no single glob covers exactly the campaigns exported).")
    return "\n".join(lines) + "\nversion: 1\n"


def suggest_prune_scope(live: LiveRead, options: ExportOptions) -> str | None:
    """A glob whose active live campaigns are all exported (so --prune archives none)."""
    exported = {c.id for c in live.exported}
    names = [c.name for c in live.exported]
    candidates = [*options.names[:1]] if len(options.names) == 1 else []
    candidates.append("*")
    if names:
        low, high = min(names), max(names)
        common = next(
            (i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), len(low)
        )
        candidates.append(glob.escape(low[:common]) + "*")
    for pattern in candidates:
        covered = [
            c
            for c in live.listed
            if c.status != "archived" and fnmatch.fnmatchcase(c.name, pattern)
        ]
        if covered and all(c.id in exported for c in covered):
            return pattern
    return None


# -- the whole export -----------------------------------------------------------------------


def build(
    live: LiveRead,
    options: ExportOptions,
    *,
    version: str,
    to_dir: bool,
    redact: Callable[[str], str] = lambda s: s,
) -> Export:
    """The manifests (and CSVs) for what `read_live` read; ExportError with every reason."""
    result = Export()
    normalized = {c.id: campaign_from_api(c) for c in live.exported}
    problems = [p for c in live.exported for p in _campaign_problems(c, normalized[c.id])]
    people, conflicts = _people(live, result.warnings)
    problems += conflicts
    phone_ok = PhoneCheck()
    problems += [
        p
        for c in live.exported
        if not all(map(_ok_of, people[c.id]))  # nearly always all checked as read, and good
        for n in people[c.id]
        if not n.ok  # checked as read (True), failed (False) or not checked (None)
        for p in _number_problems(c, n, phone_ok(n.contact.phone))
    ]
    if problems:
        raise ExportError(problems)
    # names the planner takes for one (`name_key`: NFC, whitespace runs as one) pin their ids
    repeats = Counter(name_key(c.name) for c in live.listed)
    entries = [
        _Entry(
            c, people[c.id], repeats[name_key(c.name)] > 1, _from_number(c, live, result.warnings)
        )
        for c in live.exported
    ]
    header = _header(version, options.from_numbers, suggest_prune_scope(live, options))
    try:
        if to_dir:
            _layout_files(entries, header, options, result)
        else:
            body = "".join(_campaign_text(e, result.warnings) for e in entries)
            result.files["-"] = header + ("campaigns:\n" + body if body else "campaigns: []\n")
    except Unwritable as exc:
        raise ExportError([f"cannot write the account: {exc}"]) from None
    if any(redact(text) != text or redact(name) != name for name, text in result.files.items()):
        # named by campaign id: a file's name is its campaign's name casefolded, which
        # would show the token (lowercased) past the redactor
        ids = [e.campaign.id for e in entries if redact(t := _campaign_text(e, [])) != t]
        raise ExportError(
            [
                "a live value holds the auth token (or an auth_token= value); refusing to "
                f"write it (campaign id{'s' if len(ids) > 1 else ''} {', '.join(ids) or '?'})"
            ]
        )
    result.campaigns = len(entries)
    result.numbers = sum(len(e.numbers) for e in entries)
    return result


def _from_number(c: Campaign, live: LiveRead, warnings: list[str]) -> str | None:
    hits = sorted(n for n, ids in live.from_numbers.items() if c.id in ids)
    if len(hits) > 1:
        warnings.append(
            f"{_label(c)} matched --from-number {', '.join(hits)} (a campaign has one); "
            "from_number left out (not managed)"
        )
    return hits[0] if len(hits) == 1 else None


def _layout_files(
    entries: list[_Entry], header: str, options: ExportOptions, result: Export
) -> None:
    stems = file_stems(entries)
    for entry in entries:
        stem = stems[entry.campaign.id]
        e = entry
        if len(e.numbers) > options.csv_over:
            rows = tuple(n for n in e.numbers if all(csv_cell_ok(v) for _k, v in number_values(n)))
            if rows:
                e = _Entry(e.campaign, e.numbers, e.pin, e.from_number, f"{stem}.csv", rows)
                result.files[f"{stem}.csv"] = _csv_file(rows)
        result.files[f"{stem}.yaml"] = header + "campaigns:\n" + _campaign_text(e, result.warnings)


def file_stems(entries: Sequence[_Entry]) -> dict[str, str]:
    """Campaign id -> file stem, stable for a given set of campaigns: a stem shared by
    several campaigns gets each one's id appended (and never takes another's stem)."""
    slugs = [slug(e.campaign.name) for e in entries]
    counts = Counter(slugs)
    out: dict[str, str] = {}
    for e, stem in zip(entries, slugs, strict=True):
        if counts[stem] == 1:
            out[e.campaign.id] = stem
    used = set(out.values())
    for e, stem in zip(entries, slugs, strict=True):
        if counts[stem] > 1:
            unique = f"{stem}-{e.campaign.id}"
            while unique in used:
                unique += "-x"
            out[e.campaign.id] = unique
            used.add(unique)
    return out


__all__ = [
    "DEFAULT_CSV_OVER",
    "Export",
    "ExportError",
    "ExportOptions",
    "LiveRead",
    "Number",
    "PhoneCheck",
    "build",
    "probe_numbers",
    "read_live",
    "slug",
    "strangers",
    "write_files",
]
