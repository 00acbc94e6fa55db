"""Validated manifest files merged into one `DesiredState`, checking what spans files:
a campaign defined twice, one person with two sets of details, settings that disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upcall_sync.core.model import (
    CAMPAIGN_FIELDS,
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    DoNotCall,
    Safety,
)
from upcall_sync.core.normalize import format_datetime, look_alike, name_key, quote, visible
from upcall_sync.errors import Location, Problem
from upcall_sync.manifest.contacts_file import contact_of_spec
from upcall_sync.manifest.spec import (
    CampaignFields,
    CampaignSpec,
    DefaultsSpec,
    ManifestSpec,
    SafetySpec,
)
from upcall_sync.manifest.yamlload import LocDict, LocList

DEFAULT_CONTACT_LIST = "upcall-sync"


@dataclass
class ManifestFile:
    """One manifest file as read and validated: its YAML, its spec and campaigns, the
    numbers and do-not-call rows its contacts files gave, and their warnings."""

    path: Path
    display: str
    data: LocDict
    spec: ManifestSpec | None = None
    campaigns: dict[int, CampaignSpec] = field(default_factory=dict)
    csv_numbers: dict[int, list[DesiredNumber]] = field(default_factory=dict)
    do_not_call: list[DoNotCall] = field(default_factory=list)
    #: warnings about its contacts files (columns ignored, phones stored as numbers)
    warnings: list[Problem] = field(default_factory=list)


def _managed(
    camp: CampaignSpec,
    holder: LocDict,
    defaults: DefaultsSpec | None,
    defaults_at: LocDict | None,
) -> tuple[dict[str, Any], dict[str, Location]]:
    values: dict[str, Any] = {}
    sources: dict[str, Location] = {}
    for name in CAMPAIGN_FIELDS:
        spec: CampaignFields | None = None
        at: LocDict | None = None
        if name in camp.model_fields_set:
            spec, at = camp, holder
        elif defaults is not None and name in defaults.model_fields_set:
            spec, at = defaults, defaults_at
        if spec is None or at is None:
            continue
        value = getattr(spec, name)
        if name in ("instructions", "pitch", "language"):
            value = value or ""
        values[name] = value
        sources[name] = at.where(name)
    return values, sources


def merge(
    files: list[ManifestFile], digest: str, skipped: tuple[str, ...] = ()
) -> tuple[DesiredState, list[Problem]]:
    merger = _Merger()
    for f in files:
        merger.add_settings(f)
        merger.warnings.extend(f.warnings)
        raw_defaults = f.data.get("defaults")
        defaults_at = raw_defaults if isinstance(raw_defaults, LocDict) else None
        defaults = f.spec.defaults if f.spec is not None else None
        for index, camp in sorted(f.campaigns.items()):
            merger.add_campaign(f, index, camp, defaults, defaults_at)
    return merger.state(files, digest, skipped), merger.problems


_Person = tuple[str, str, str, str]


@dataclass
class _Merger:
    """Campaigns of every file into one state, checking what spans files."""

    problems: list[Problem] = field(default_factory=list)
    campaigns: list[DesiredCampaign] = field(default_factory=list)
    names: dict[str, tuple[str, Location]] = field(default_factory=dict)
    #: names as people tell them apart (`look_alike`) -> the first, and where it is
    alike: dict[str, tuple[str, Location]] = field(default_factory=dict)
    #: whether every entry of a name so far pins an id
    pinned: dict[str, bool] = field(default_factory=dict)
    ids: dict[str, Location] = field(default_factory=dict)
    settings: dict[str, tuple[Any, Location]] = field(default_factory=dict)
    persons: dict[_Person, tuple[Contact, Location]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def add_settings(self, f: ManifestFile) -> None:
        """contact_list, prune_scope, safety, manage_other_lists and patch: files that set
        them must agree."""
        for key in ("contact_list", "prune_scope", "safety", "manage_other_lists", "patch"):
            value = getattr(f.spec, key, None)
            if value is None:
                continue
            where = f.data.where(key)
            if key in self.settings and self.settings[key][0] != value:
                first, first_at = self.settings[key]
                shown = quote(value) if key != "safety" else "these settings"
                other = quote(first) if key != "safety" else "those"
                self.problems.append(
                    Problem(
                        where,
                        key,
                        f"{shown} disagrees with {other} set at {first_at}; files that set "
                        f"{key} must agree",
                    )
                )
            self.settings.setdefault(key, (value, where))

    def add_campaign(
        self,
        f: ManifestFile,
        index: int,
        camp: CampaignSpec,
        defaults: DefaultsSpec | None,
        defaults_at: LocDict | None,
    ) -> None:
        entries = f.data["campaigns"]
        holder: LocDict = entries[index]
        path = f"campaigns[{index}]"
        self._check_unique(camp, holder, path, entries.where(index))
        values, sources = _managed(camp, holder, defaults, defaults_at)
        self._check_dates(values, sources, path)
        numbers = _campaign_numbers(camp, holder, f, index)
        self._check_numbers(numbers, path)
        if values.get("status") == "ready" and not numbers:
            self.warnings.append(
                Problem(
                    holder.where("status") if "status" in holder else holder.loc,
                    f"{path}.status",
                    "is ready, but the manifests give this campaign no numbers (none listed, "
                    "no numbers_csv rows): it cannot dial",
                )
            )
        self.campaigns.append(
            DesiredCampaign(
                name=camp.name,
                source=holder.loc,
                id=camp.id,
                fields=values,
                field_sources=sources,
                numbers=tuple(numbers),
            )
        )

    def _check_unique(
        self, camp: CampaignSpec, holder: LocDict, path: str, entry_at: Location
    ) -> None:
        # A name may repeat only where every entry of that name pins its live campaign
        # (live names are not unique: the reference lists two "My Campaign"s). Names are
        # compared as the planner matches them (`name_key`: NFC, whitespace runs as one).
        key = name_key(camp.name)
        repeat_ok = camp.id is not None and self.pinned.get(key, False)
        self.pinned[key] = self.pinned.get(key, True) and camp.id is not None
        if key in self.names and not repeat_ok:
            first, at = self.names[key]
            same = (
                ""
                if first == camp.name
                else f" (as {quote(first)}: names are matched to live campaigns in Unicode "
                "NFC, whitespace runs as one, as a server may store them)"
            )
            where = holder.where("name")
            if where == at:  # `- *entry`: the name is where the alias's anchor is
                where, same = entry_at, " (this entry repeats that one through a YAML alias)"
            self.problems.append(
                Problem(
                    where,
                    f"{path}.name",
                    f"campaign name {quote(camp.name)} is already used at "
                    f"{at}{same}; names must be unique across all manifests",
                )
            )
        if key not in self.names:
            self._check_alike(camp.name, holder.where("name"), path)
        self.names.setdefault(key, (camp.name, holder.where("name")))
        if camp.id is None:
            return
        if camp.id in self.ids:
            self.problems.append(
                Problem(
                    holder.where("id"),
                    f"{path}.id",
                    f"campaign id {camp.id} is already bound at {self.ids[camp.id]}",
                )
            )
        self.ids.setdefault(camp.id, holder.where("id"))

    def _check_alike(self, name: str, where: Location, path: str) -> None:
        """A new name that people cannot tell from one before it (case, spacing, a
        zero-width space): two campaigns that look one, and anyone in both called twice."""
        alike = look_alike(name)
        if alike in self.alike:
            first, at = self.alike[alike]
            self.warnings.append(
                Problem(
                    where,
                    f"{path}.name",
                    f"campaign name {visible(quote(name))} looks like {visible(quote(first))} "
                    f"at {at} (the names differ only in case, spacing or invisible "
                    "characters): two campaigns nobody can tell apart would be made, and "
                    "anyone in both called twice; keep one name",
                )
            )
        self.alike.setdefault(alike, (name, where))

    def _check_dates(self, values: dict[str, Any], sources: dict[str, Location], path: str) -> None:
        start, end = values.get("start_datetime"), values.get("end_datetime")
        if start is not None and end is not None and end <= start:
            self.problems.append(
                Problem(
                    sources["end_datetime"],
                    f"{path}.end_datetime",
                    f"{format_datetime(end)} is not after start_datetime {format_datetime(start)}",
                )
            )

    def _check_numbers(self, numbers: list[DesiredNumber], path: str) -> None:
        """Nobody twice in a campaign; one set of details per person across campaigns."""
        seen: dict[_Person, Location] = {}
        alike: dict[_Person, Location] = {}  # a line and names as people read them
        for number in numbers:
            person = number.contact.person_key
            looks = (*person[:2], look_alike(person[2]), look_alike(person[3]))
            if person not in seen and looks in alike:
                self.warnings.append(
                    Problem(
                        number.source,
                        f"{path}.numbers",
                        f"{visible(number.contact.label)} looks like the person at "
                        f"{alike[looks]} (same line; the names differ only in case, spacing or "
                        "invisible characters): both would be added and the line called twice; "
                        "keep one",
                    )
                )
            alike.setdefault(looks, number.source)
            if person in seen:
                self.problems.append(
                    Problem(
                        number.source,
                        f"{path}.numbers",
                        f"{number.contact.label} is already in this campaign at {seen[person]} "
                        "(same phone, extension and name)",
                    )
                )
                continue
            seen[person] = number.source
            earlier = self.persons.setdefault(person, (number.contact, number.source))
            if earlier[0] != number.contact:
                diffs = ", ".join(
                    f"{k} {quote(b)} vs {quote(a)}"
                    for k, (a, b) in earlier[0].diff(number.contact).items()
                )
                self.problems.append(
                    Problem(
                        number.source,
                        f"{path}.numbers",
                        f"{number.contact.label} has other details than at {earlier[1]} "
                        f"({diffs}); the contact list holds one record per person",
                    )
                )

    def state(
        self, files: list[ManifestFile], digest: str, skipped: tuple[str, ...]
    ) -> DesiredState:
        safety_spec: SafetySpec | None = self.settings.get("safety", (None, None))[0]
        safety = (
            Safety(
                max_update_percent=safety_spec.max_update_percent,
                max_archive_percent=safety_spec.max_archive_percent,
                min_existing=safety_spec.min_existing,
            )
            if safety_spec
            else Safety()
        )
        contact_list, list_at = self.settings.get("contact_list", (DEFAULT_CONTACT_LIST, None))
        return DesiredState(
            campaigns=tuple(self.campaigns),
            contact_list=contact_list,
            contact_list_source=list_at,
            prune_scope=self.settings.get("prune_scope", (None, None))[0],
            patch=self.settings.get("patch", (None, None))[0],
            safety=safety,
            files=tuple(f.display for f in files),
            skipped=skipped,
            digest=digest,
            warnings=tuple(sorted(self.warnings)),
            do_not_call=tuple(entry for f in files for entry in f.do_not_call),
            manage_other_lists=bool(self.settings.get("manage_other_lists", (False, None))[0]),
        )


def _campaign_numbers(
    camp: CampaignSpec, holder: LocDict, f: ManifestFile, index: int
) -> list[DesiredNumber]:
    numbers: list[DesiredNumber] = []
    items = holder.get("numbers")
    for i, spec in enumerate(camp.numbers):
        where = items.where(i) if isinstance(items, LocList) else holder.loc
        numbers.append(DesiredNumber(contact_of_spec(spec), where))
    numbers.extend(f.csv_numbers.get(index, []))
    return numbers
