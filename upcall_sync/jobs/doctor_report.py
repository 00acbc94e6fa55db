"""What `upcall-sync doctor` reports: each check's verdict and evidence, and the report's
renderings (text, one line per check and a summary; JSON). Pure: the checks themselves
are `jobs.doctor`'s.

- PASS: the assumption holds, as far as the account's data lets us see.
- WARN: it holds with a caveat the client copes with.
- SKIP: not checked (no data to check it on, or an earlier check failed). Never a PASS.
- FAIL: it does not hold, and plan or apply would go wrong. A required check that
  fails makes the report not `ok` (the command exits 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

PASS, WARN, SKIP, FAIL = "PASS", "WARN", "SKIP", "FAIL"
VERDICTS = (PASS, WARN, SKIP, FAIL)

NEEDED_BY = {
    "base-url": "every request (--api-url, UPCALL_API_URL)",
    "token": "every request of plan and apply",
    "links": "reading every listing (pages 2..last from links.last, else links.next)",
    "page-cap": "how many requests a plan makes (it asks page[size]=1000, reads the server's)",
    "name-filter": "plan matching campaigns by name; apply finding a campaign after a lost POST",
    "from-number-filter": "plan reading from_number back (the API never returns it)",
    "campaign-by-id": "campaigns pinned with `id:`; apply of a saved plan (freshness check)",
    "datetimes": "plan comparing start/end datetimes (to the second, in UTC)",
    "numbers": "plan reading each matched campaign's numbers",
    "phone-filter": "plan finding contacts and numbers by ?phone= (always sent as E.164)",
    "lists": "apply staging contacts in a contact list before adding them to campaigns",
    "list-contacts": "apply staging contacts, and plan finding existing ones",
    "error-shape": "every error message; plan treating only 404 as 'gone'",
    "rate-limit": "apply's pacing (the client backs off on 429 and honours Retry-After)",
}
INFORMATIONAL = frozenset({"rate-limit"})


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str
    evidence: str
    needed_by: str
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "required": self.required,
            "evidence": self.evidence,
            "needed_by": self.needed_by,
        }


@dataclass
class Report:
    api_url: str
    checks: list[Check] = field(default_factory=list)
    #: the API would not answer (throttled past the client's wait, or 5xx through every
    #: retry): nothing to fix in the setup, only to run again later
    retry_later: bool = False

    @property
    def ok(self) -> bool:
        return not any(c.verdict == FAIL and c.required for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.checks) for v in VERDICTS}

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "api_url": self.api_url,
            "ok": self.ok,
            "summary": {
                "pass": counts[PASS],
                "warn": counts[WARN],
                "not_checked": counts[SKIP],
                "fail": counts[FAIL],
            },
            "checks": [c.to_dict() for c in self.checks],
        }


# -- output ----------------------------------------------------------------------------------


def render_text(report: Report, out: TextIO) -> None:
    """One line per check, then a summary."""
    width = max((len(c.name) for c in report.checks), default=0)
    out.write(f"upcall-sync doctor: {report.api_url} (GET requests only)\n\n")
    for c in report.checks:
        extra = "" if c.required else " [informational]"
        out.write(
            f"{c.verdict}  {c.name:<{width}}  {c.evidence}  -- needed by: {c.needed_by}{extra}\n"
        )
    out.write("\n" + summary_line(report) + "\n")


def summary_line(report: Report) -> str:
    """How many checks passed, warned, failed and could not run, and what that means."""
    counts = report.counts()
    total = len(report.checks)
    warnings = f"{counts[WARN]} warning{'s' if counts[WARN] != 1 else ''}"
    line = (
        f"{total} checks: {counts[PASS]} passed, {warnings}, {counts[FAIL]} failed, "
        f"{counts[SKIP]} not checked. "
    )
    if not report.ok and report.retry_later:
        return line + "The API would not answer (throttled, or failing): run doctor again later."
    if not report.ok:
        return line + "The client's assumptions do not all hold here: fix the FAILs first."
    if counts[SKIP]:
        return line + (
            f"Every check that could run passed; {counts[SKIP]} of {total} not checked: run "
            "again on an account with campaigns, numbers and a contact list, or use "
            "--write-probe."
        )
    return line + "Every required check passed."


def render_json(report: Report, out: TextIO) -> None:
    json.dump(report.to_dict(), out, indent=2)
    out.write("\n")


__all__ = [
    "FAIL",
    "INFORMATIONAL",
    "NEEDED_BY",
    "PASS",
    "SKIP",
    "VERDICTS",
    "WARN",
    "Check",
    "Report",
    "render_json",
    "render_text",
    "summary_line",
]
