"""`upcall-sync doctor --write-probe`: which write-side reading the live API plays.

CONTRACT.md lists what the reference leaves open on the write side ("Write-side
readings a client must survive"). upcall-sync is right under every reading, but
some readings ask something of the manifests (`patch: replace` makes
from_number required) and some would make apply fail; this probe finds out with
a few writes in throwaway objects:

- one contact list and one contact on a reserved fictional number (555-01xx),
  never the managed list (contacts and lists cannot be deleted);
- one campaign, created `pending` without `from_number` (unless the caller names
  a confirmed one), never made ready: every PATCH the probe sends carries
  `status: pending`, so a server that replaces the campaign cannot reset it to
  another status. It is archived at the end, also after a failure or when
  `stop` is set (Ctrl-C).

Each reading found is a `Finding`: what the API did, and what upcall-sync does
under it. `ok` is False when a finding means apply cannot work as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from upcall_sync.client import UpcallClient
from upcall_sync.core.model import Contact
from upcall_sync.core.normalize import PhoneError, name_key, normalize_phone, quote
from upcall_sync.errors import (
    ApiStatusError,
    UpcallSyncError,
    UsageError,
    refused,
    shown_name,
)
from upcall_sync.jobs.probe_report import Finding, ProbeReport, datetime_finding
from upcall_sync.jobs.writes import campaigns_named

#: 555-0100..0199 numbers are reserved for fiction: nobody is ever called on them
PROBE_PHONE = "+12125550142"
#: a decomposed "é" and two spaces: a server that normalizes names stores them otherwise
PROBE_NAME = "upcall-sync write-probe  cafe\u0301 {stamp}"
PROBE_LIST = "upcall-sync write-probe {stamp}"
START = "2099-01-01T16:00:00.000Z"
END = "2099-01-02T16:00:00.000Z"
CONTENT_TYPES = ("application/vnd.api+json", "application/json", "text/json")
NUMBER_TYPES = ("numbers", "campaign_numbers", "campaigns")
#: the probe contact as created (its company then becomes "B")
PROBE_CONTACT = {
    "phone": PROBE_PHONE,
    "first_name": "Probe",
    "last_name": "Contact",
    "company": "A",
}
ATTRIBUTES = ("name", "pitch", "language", "instructions", "start_datetime", "end_datetime")


def planned_writes(stamp: str, from_number: str | None) -> list[str]:
    """What the probe will write, said before it writes anything."""
    caller = f"with from_number {from_number}" if from_number else "without from_number"
    return [
        f"create contact list {quote(PROBE_LIST.format(stamp=stamp))} (lists cannot be deleted)",
        f"create one contact on {PROBE_PHONE}, a reserved fictional number, in that list; "
        "PATCH its company alone, then once more with every attribute (as apply sends a "
        "contact PATCH)",
        f"create campaign {quote(PROBE_NAME.format(stamp=stamp))}, status pending, {caller}; "
        "PATCH it up to 6 times, each PATCH with status pending (it never dials)",
        "add the contact to that campaign, then once more (the API's answer to a duplicate)",
        "archive the campaign at the end (also after a failure or Ctrl-C)",
    ]


def check_from_number(raw: str | None) -> str | None:
    """--from-number as E.164 (a UsageError when it is no possible phone)."""
    if raw is None:
        return None
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise UsageError(f"--from-number {quote(raw)}: {exc}") from None


def stamp_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def run_probe(
    client: UpcallClient,
    *,
    from_number: str | None = None,
    stop: threading.Event | None = None,
    stamp: str | None = None,
) -> ProbeReport:
    """Every write-side reading, in order; the campaign is archived whatever happens."""
    probe = _Probe(client, from_number, stop or threading.Event(), stamp or stamp_now())
    return probe.run()


class _Stopped(Exception):
    pass


class _Probe:
    def __init__(
        self, client: UpcallClient, from_number: str | None, stop: threading.Event, stamp: str
    ) -> None:
        self.client = client
        self.api = client.probe()
        self.from_number = from_number
        self.stop = stop
        self.name = PROBE_NAME.format(stamp=stamp)
        self.report = ProbeReport(
            self.api.redact(self.api.base_url), planned_writes(stamp, from_number)
        )
        self.stamp = stamp
        self.campaign_id: str | None = None
        self.list_id = ""
        self.contact_id = ""
        #: the create got no answer and no campaign of its name could be found (yet)
        self.unanswered = False
        #: the campaign's attributes as last sent, for the archiving PATCH
        self.attributes: dict[str, Any] = {}

    def run(self) -> ProbeReport:
        steps: list[Callable[[], None]] = [
            self._create,
            self._patch,
            self._content_types,
            self._contact,
            self._numbers,
            self._contact_patch,
            self._copy_or_live,
        ]
        try:
            for step in steps:
                if self.stop.is_set():
                    raise _Stopped
                step()
        except _Stopped:
            self.report.interrupted = True
        except UpcallSyncError as exc:
            self.report.error = self.api.redact(exc.one_line())
        except KeyboardInterrupt:
            self.report.interrupted = True
        finally:
            self._archive()
        return self.report

    def _add(self, finding: Finding) -> None:
        # evidence quotes the server (an error message, a stored name): its control
        # characters escaped, so a line break or a terminal escape cannot forge a line
        self.report.findings.append(
            Finding(
                finding.name,
                shown_name(finding.reading),
                shown_name(self.api.redact(finding.evidence)),
                finding.does,
                finding.ok,
            )
        )

    # -- requests ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        rtype: str,
        attributes: dict[str, Any],
        rid: str | None = None,
        content_type: str = CONTENT_TYPES[0],
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"type": rtype, "attributes": attributes}
        if rid is not None:
            data["id"] = rid
        doc = self.api.write(method, path, {"data": data}, content_type)
        found = doc.get("data") if isinstance(doc, dict) else None
        return found if isinstance(found, dict) else {}

    def _campaign(self) -> dict[str, Any]:
        doc = self.api.document(f"/campaigns/{self.campaign_id}")
        data = doc.get("data") if isinstance(doc, dict) else None
        attrs = data.get("attributes") if isinstance(data, dict) else None
        return attrs if isinstance(attrs, dict) else {}

    def _patch_campaign(
        self, attributes: dict[str, Any], content_type: str = CONTENT_TYPES[0]
    ) -> None:
        """A PATCH of the probe campaign: always with status pending."""
        self._send(
            "PATCH",
            f"/campaigns/{self.campaign_id}",
            "campaigns",
            {**attributes, "status": "pending"},
            self.campaign_id,
            content_type,
        )

    # -- the steps --------------------------------------------------------------------------

    def _create(self) -> None:
        self.attributes = {
            "name": self.name,
            "pitch": "probe pitch",
            "language": "en",
            "instructions": "upcall-sync write probe: never dialed, archived at the end",
            "start_datetime": START,
            "end_datetime": END,
            "status": "pending",
        }
        if self.from_number:
            self.attributes["from_number"] = self.from_number
        try:
            made = self._send("POST", "/campaigns", "campaigns", self.attributes)
        except UpcallSyncError as exc:  # without an answer it may have been made: archive it
            if not refused(exc) and not isinstance(exc, UsageError):
                self.campaign_id = self._made_unanswered()
            raise
        self.campaign_id = str(made.get("id") or "") or None
        if self.campaign_id is None:
            raise UpcallSyncError("POST /campaigns answered without the new campaign's id")
        stored = self._campaign()
        self._create_status(stored)
        self._names(stored)
        self._datetimes(stored)

    def _create_status(self, stored: dict[str, Any]) -> None:
        """Created `pending`: does it come back so? (A server that ignores the status of a
        create, and whose default dials, would call a campaign's people while apply adds
        them; the probe campaign, which has none yet, is set back at once.)"""
        got = stored.get("status")
        if got == "pending":
            evidence = "a campaign created pending came back pending"
            does = "creates campaigns pending and makes them ready once their numbers are in"
            self._add(Finding("create-status", "as sent", evidence, does))
            return
        self._patch_campaign({k: v for k, v in self.attributes.items() if k != "status"})
        self._add(
            Finding(
                "create-status",
                "ignored",
                f"a campaign created pending came back {quote(str(got))}",
                "sets a campaign created otherwise than sent back at once, before its "
                "numbers are added (with a warning)",
            )
        )

    def _made_unanswered(self) -> str | None:
        """The probe campaign a POST that got no answer (a reset, a 5xx) made all the same,
        found by its name (unique to this run, in either form a server stores it): the
        cleanup then archives it. It said 'no campaign was created' and left it pending."""
        try:
            found = {c.id for c in campaigns_named(self.client, self.name)}
        except UpcallSyncError:
            self.unanswered = True
            return None
        if len(found) != 1:
            self.unanswered = True
            return None
        return found.pop()

    def _names(self, stored: dict[str, Any]) -> None:
        got = stored.get("name")
        if got == self.name:
            self._add(
                Finding(
                    "names",
                    "stored as sent",
                    "a name with a decomposed accent and two spaces came back as sent",
                    "compares names under NFC with whitespace collapsed (right either way)",
                )
            )
        elif isinstance(got, str) and got == name_key(self.name):
            self._add(
                Finding(
                    "names",
                    "normalized",
                    f"sent {quote(self.name)}, stored {quote(got)} (NFC, whitespace collapsed)",
                    "matches campaign and list names under that normalization, and asks "
                    "?name= for both forms",
                )
            )
        else:
            self._add(
                Finding(
                    "names",
                    "changed otherwise",
                    f"sent {quote(self.name)}, stored {quote(str(got))}",
                    "cannot match this campaign by name: a plan would create it again "
                    "(pin such campaigns with id:)",
                    ok=False,
                )
            )

    def _datetimes(self, stored: dict[str, Any]) -> None:
        got = stored.get("start_datetime")
        finding = datetime_finding(START, got)
        self._add(finding)

    def _patch(self) -> None:
        """Only the pitch (and status pending): does the rest survive?"""
        self._patch_campaign({"pitch": "probe pitch 2"})
        self.attributes["pitch"] = "probe pitch 2"
        stored = self._campaign()
        lost = [k for k in ATTRIBUTES if k != "pitch" and not stored.get(k)]
        if not lost:
            self._add(
                Finding(
                    "patch",
                    "merge",
                    "a PATCH of pitch and status left name, language, instructions and "
                    "dates as they were",
                    "sends every attribute of a campaign in each PATCH anyway (right either way)",
                )
            )
            return
        self._add(
            Finding(
                "patch",
                "replace",
                f"a PATCH of pitch and status cleared {', '.join(lost)}",
                "sends every attribute in each PATCH; from_number cannot be read back, so "
                "set `patch: replace` in the manifests: plan then requires from_number on "
                "every campaign it updates",
            )
        )
        self._patch_campaign({k: v for k, v in self.attributes.items() if k != "status"})

    def _content_types(self) -> None:
        accepted: list[str] = []
        refusals: list[str] = []
        for ctype in CONTENT_TYPES:
            try:
                body = {k: v for k, v in self.attributes.items() if k != "status"}
                self._patch_campaign(body, ctype)
                accepted.append(ctype)
            except ApiStatusError as exc:
                if not refused(exc):
                    raise
                refusals.append(f"{ctype} (HTTP {exc.status})")
        ok = CONTENT_TYPES[0] in accepted
        self._add(
            Finding(
                "content-type",
                ", ".join(accepted) or "none",
                "accepted: "
                + (", ".join(accepted) or "none")
                + ("; refused: " + ", ".join(refusals) if refusals else ""),
                f"sends {CONTENT_TYPES[0]}"
                + ("" if ok else ": the API refuses it, so apply cannot write (report this)"),
                ok=ok,
            )
        )

    def _contact(self) -> None:
        made = self.client.create_list(PROBE_LIST.format(stamp=self.stamp))
        self.list_id = made.id
        contact = self._send(
            "POST", f"/lists/{self.list_id}/contacts", "list_contacts", dict(PROBE_CONTACT)
        )
        self.contact_id = str(contact.get("id") or "")
        if not self.contact_id:
            raise UpcallSyncError("POST /lists/:id/contacts answered without the contact's id")

    def _numbers(self) -> None:
        path = f"/campaigns/{self.campaign_id}/numbers"
        body = {"list_contact_id": int(self.contact_id)}
        tried: list[str] = []
        for rtype in NUMBER_TYPES:
            try:
                self._send("POST", path, rtype, body)
            except ApiStatusError as exc:
                if exc.status != 400:
                    raise
                tried.append(f"{rtype} (HTTP 400)")
                continue
            ok = rtype == NUMBER_TYPES[0]
            self._add(
                Finding(
                    "number-type",
                    rtype,
                    f"POST {path.replace(str(self.campaign_id), ':id')} took type {rtype}"
                    + (f" after refusing {', '.join(tried)}" if tried else ""),
                    "sends type numbers"
                    + ("" if ok else ": the API refuses it, so apply cannot add numbers"),
                    ok=ok,
                )
            )
            self._duplicate(path, rtype, body)
            return
        raise UpcallSyncError(f"POST {path}: every number type was refused: {', '.join(tried)}")

    def _duplicate(self, path: str, rtype: str, body: dict[str, Any]) -> None:
        try:
            self._send("POST", path, rtype, body)
        except ApiStatusError as exc:
            self._add(
                Finding(
                    "duplicate-number",
                    f"HTTP {exc.status}",
                    f"adding the same contact again: {_said(exc)}",
                    "after any refused add, looks the number up by phone and name; it never "
                    "reads the message",
                    ok=exc.status == 400,
                )
            )
            return
        count = len(self.client.list_numbers(str(self.campaign_id)))
        self._add(
            Finding(
                "duplicate-number",
                "accepted" if count == 1 else "duplicated",
                f"adding the same contact again was accepted; the campaign has {count} number(s)",
                "reads a campaign's numbers before adding and never adds a person twice"
                + ("" if count == 1 else "; a lost answer retried could duplicate a number"),
                ok=count == 1,
            )
        )

    def _contact_patch(self) -> None:
        """Only the company (now "B"): do the phone and name survive? Then the contact
        whole, as apply sends every contact PATCH (every attribute, empty ones as null):
        an API that refuses that PATCH would fail every contact update of an apply."""
        path = f"/lists/{self.list_id}/contacts/{self.contact_id}"
        said = ""  # what a refusal of the company alone said
        try:
            self._send("PATCH", path, "list_contacts", {"company": "B"}, self.contact_id)
        except ApiStatusError as exc:
            said = f"a PATCH of the company alone was refused: {_refusal(exc)}"
        stored = self._stored_contact()
        lost = [k for k in ("phone", "first_name", "last_name") if not stored.get(k)]
        whole = Contact.of({**PROBE_CONTACT, "company": "B"}).api_attributes()
        try:
            self._send("PATCH", path, "list_contacts", whole, self.contact_id)
        except ApiStatusError as exc:
            evidence = (
                f"a PATCH of the whole contact, as apply sends it, was refused: {_refusal(exc)}"
            )
            does = (
                "sends every attribute of a contact in each contact PATCH, which this API "
                "refuses: apply cannot update contacts (report this)"
            )
            self._add(
                Finding("contact-patch", "refuses the whole contact", evidence, does, ok=False)
            )
            return
        does = "sends every attribute of a contact in each contact PATCH (right either way)"
        if not said and not lost:
            evidence = "a PATCH of the company alone left the phone and name as they were"
            self._add(Finding("contact-patch", "merge", evidence, does))
            return
        evidence = said or f"a PATCH of the company alone cleared {', '.join(lost)}"
        self._add(Finding("contact-patch", "replace", evidence, does))

    def _stored_contact(self) -> dict[str, Any]:
        """The probe contact's attributes as its list's listing shows them (any shape)."""
        doc = self.api.document(f"/lists/{self.list_id}/contacts")
        data = doc.get("data") if isinstance(doc, dict) else None
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict) and str(item.get("id")) == self.contact_id:
                attrs = item.get("attributes")
                return attrs if isinstance(attrs, dict) else {}
        raise UpcallSyncError(
            f"GET /lists/:id/contacts: the probe contact {self.contact_id} is not listed"
        )

    def _copy_or_live(self) -> None:
        """After the contact's company became "B": does its number show it?"""
        numbers = self.client.list_numbers(str(self.campaign_id))
        company = numbers[0].company if numbers else None
        live = company == "B"
        self._add(
            Finding(
                "numbers-show-contact",
                "live" if live else "copy",
                f"after the contact's company changed, its number shows {quote(str(company))}",
                "updates a person's list contact, which changes their numbers too"
                if live
                else "updates the list contact and reports the numbers it cannot change "
                "(unchangeable_numbers); it never adds a person twice",
            )
        )

    # -- cleanup -----------------------------------------------------------------------------

    def _archive(self) -> None:
        if self.campaign_id is None:
            self.report.cleanup = "nothing to archive: no campaign was created"
            if self.unanswered:
                self.report.cleanup = self.api.redact(
                    f"no campaign found to archive, but the POST that creates it got no "
                    f"answer: if Upcall holds a campaign named {quote(self.name)}, archive "
                    "it by hand (it is pending, so it does not dial)"
                )
            return
        attributes = {k: v for k, v in self.attributes.items() if k != "status"}
        try:
            self._send(
                "PATCH",
                f"/campaigns/{self.campaign_id}",
                "campaigns",
                {**attributes, "status": "archived"},
                self.campaign_id,
            )
        except (UpcallSyncError, KeyboardInterrupt) as exc:
            why = exc.one_line() if isinstance(exc, UpcallSyncError) else "interrupted"
            self.report.cleanup = self.api.redact(
                f"could not archive campaign {self.campaign_id} ({why}): archive it by hand; "
                "it is pending, so it does not dial"
            )
            return
        self.report.cleanup = f"campaign {self.campaign_id} archived"


def _refusal(exc: ApiStatusError) -> str:
    """A 4xx answer to a probe PATCH, in words (anything else, or a 404, is raised)."""
    if not refused(exc) or exc.status == 404:
        raise exc
    return _said(exc)


def _said(exc: ApiStatusError) -> str:
    """An error status and what its fields say."""
    said = "; ".join(f"{f.field}: {f.message}" for f in exc.fields) or "no message"
    return f"HTTP {exc.status} ({said})"


__all__ = ["planned_writes", "run_probe"]
