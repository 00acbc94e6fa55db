"""What `upcall-sync doctor --write-probe` reports: each reading found (a `Finding`: what
the API did, and what upcall-sync does under it), the report, and its renderings (the
list of writes said first; text, one line per reading; JSON). Pure: the probe itself is
`jobs.probe`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO


@dataclass(frozen=True)
class Finding:
    """One reading: its name, what was found, the evidence, and what upcall-sync does."""

    name: str
    reading: str
    evidence: str
    does: str
    ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reading": self.reading,
            "ok": self.ok,
            "evidence": self.evidence,
            "upcall_sync_does": self.does,
        }


@dataclass
class ProbeReport:
    api_url: str
    writes: list[str]
    findings: list[Finding] = field(default_factory=list)
    #: what went wrong before every reading was found ("" when nothing did)
    error: str = ""
    interrupted: bool = False
    cleanup: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.interrupted and all(f.ok for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "ok": self.ok,
            "writes": self.writes,
            "readings": [f.to_dict() for f in self.findings],
            "error": self.error or None,
            "interrupted": self.interrupted,
            "cleanup": self.cleanup,
        }


def datetime_finding(sent: str, got: Any) -> Finding:
    """How a datetime came back: exactly, the same instant written otherwise, without an
    offset (UTC), or another instant."""
    if got == sent:
        return Finding(
            "datetimes", "exact", f"{sent} came back as sent", "compares to the second in UTC"
        )
    try:
        parsed = datetime.fromisoformat(str(got).replace("Z", "+00:00"))
    except ValueError:
        return Finding(
            "datetimes", "unreadable", f"sent {sent}, got {got!r}", "cannot read it", ok=False
        )
    want = datetime.fromisoformat(sent.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        same = parsed.replace(tzinfo=UTC) == want
        return Finding(
            "datetimes",
            "no offset",
            f"sent {sent}, got {got!r}",
            "reads datetimes without an offset as UTC, whatever TZ says",
            ok=same,
        )
    if parsed == want:
        return Finding(
            "datetimes",
            "same instant, other form",
            f"sent {sent}, got {got!r}",
            "compares datetimes as instants, to the second",
        )
    return Finding(
        "datetimes",
        "another instant",
        f"sent {sent}, got {got!r}",
        "would see a difference on every plan (report this)",
        ok=False,
    )


# -- output ----------------------------------------------------------------------------------


def render_plan(writes: list[str], api_url: str, out: TextIO) -> None:
    out.write(f"upcall-sync doctor --write-probe: {api_url}\n\nIt will write, in this account:\n")
    for line in writes:
        out.write(f"  - {line}\n")


def render_text(report: ProbeReport, out: TextIO) -> None:
    width = max((len(f.name) for f in report.findings), default=0)
    out.write("\n")
    for f in report.findings:
        mark = "FOUND" if f.ok else "FAIL "
        out.write(
            f"{mark}  {f.name:<{width}}  {f.reading}: {f.evidence}  -- upcall-sync {f.does}\n"
        )
    if report.interrupted:
        out.write("\nInterrupted: the remaining readings were not probed.\n")
    if report.error:
        out.write(f"\nThe probe stopped: {report.error}\n")
    out.write(f"Cleanup: {report.cleanup}.\n")
    out.write(
        "Every reading found; upcall-sync works under them.\n"
        if report.ok
        else (
            ""
            if report.interrupted or report.error
            else "Some readings keep apply from working: see the FAIL lines.\n"
        )
    )


def render_json(report: ProbeReport, out: TextIO) -> None:
    json.dump(report.to_dict(), out, indent=2)
    out.write("\n")


__all__ = [
    "Finding",
    "ProbeReport",
    "datetime_finding",
    "render_json",
    "render_plan",
    "render_text",
]
