"""`upcall-sync doctor` through the CLI, against the emulator in every reading."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from upcall_sync.client import CampaignAttributes, ContactAttributes, UpcallClient
from upcall_sync.emulator import Emulator, Modes
from upcall_sync.jobs.doctor import _datetime_verdict, error_shape_verdict
from upcall_sync.jobs.doctor_report import PASS, SKIP, WARN

from .conftest import OTHER_TOKEN, TOKEN, run_cli, serve

CHECKS = (
    "base-url",
    "token",
    "links",
    "page-cap",
    "name-filter",
    "from-number-filter",
    "campaign-by-id",
    "datetimes",
    "numbers",
    "phone-filter",
    "lists",
    "list-contacts",
    "error-shape",
    "rate-limit",
)


@pytest.fixture
def account(client: UpcallClient, cli_env: Emulator) -> Emulator:
    """Three campaigns (two named alike), a contact list, and a number in a campaign."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [
        client.create_campaign(CampaignAttributes(name=n, start_datetime=start))
        for n in ("Spring", "Spring", "Summer")
    ]
    lst = client.create_list("upcall-sync")
    contact = client.create_contact(
        lst.id, ContactAttributes(phone="+16507991144", first_name="Joey")
    )
    client.add_number(made[0].id, contact.id)
    return cli_env


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(capsys, "doctor", "--format", "json", *args)
    assert err == ""
    doc = json.loads(out)
    assert [c["name"] for c in doc["checks"]] == list(CHECKS)
    return code, {c["name"]: c for c in doc["checks"]}


def verdicts(checks: dict[str, Any]) -> dict[str, str]:
    return {name: c["verdict"] for name, c in checks.items()}


ALL_PASS = dict.fromkeys(CHECKS, PASS)


def test_every_check_passes_against_the_default_emulator(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    code, out, _err = run_cli(capsys, "doctor")
    lines = [line for line in out.splitlines() if line.startswith(("PASS", "WARN", "FAIL"))]
    assert code == 0
    assert [line.split()[:2] for line in lines] == [[PASS, name] for name in CHECKS]
    assert all(" -- needed by: " in line for line in lines)
    assert "14 checks: 14 passed, 0 warnings, 0 failed, 0 not checked" in out
    assert "the server caps page[size] at 100 (asked 1000)" in out
    assert "?name='Spring' returned exactly the 2 campaign(s)" in out
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == ALL_PASS
    assert not checks["rate-limit"]["required"] and checks["token"]["required"]


# Each reading of the API, and what doctor must make of it (checks not named: PASS).
READINGS: dict[str, tuple[dict[str, Any], dict[str, str], int]] = {
    "numbers-copy-contacts": ({"numbers_copy_contacts": True}, {}, 0),
    "duplicate-number-message": ({"duplicate_number_message": "Number taken"}, {}, 0),
    "lenient-validation": ({"validation": "lenient"}, {}, 0),
    "normalize-filters": ({"normalize_filters": True}, {}, 0),
    "no-last-link": ({"no_last_link": True}, {"links": WARN}, 0),
    "no-lists": ({"no_lists": True}, {"lists": "FAIL", "list-contacts": SKIP}, 1),
    "patch-replace": ({"patch_replace": True}, {}, 0),
    "contact-patch-replace": ({"contact_patch_replace": True}, {}, 0),
    "create-ready": ({"create_ready": True}, {}, 0),
    "normalize-names": ({"normalize_names": True}, {}, 0),
    "page-size-limit": ({"page_size_limit": 20}, {"page-cap": WARN}, 0),
    "naive-datetimes": ({"naive_datetimes": True}, {"datetimes": WARN}, 0),
}


@pytest.mark.parametrize("reading", list(READINGS))
def test_verdicts_in_every_reading(
    capsys: pytest.CaptureFixture[str], account: Emulator, reading: str
) -> None:
    modes, expected, exit_code = READINGS[reading]
    account.api.modes = Modes(**modes)
    code, checks = doctor(capsys)
    assert verdicts(checks) == {**ALL_PASS, **expected}
    assert code == exit_code
    evidence = {name: c["evidence"] for name, c in checks.items()}
    if reading == "normalize-filters":
        assert "the filter normalises phones" in evidence["phone-filter"]
    else:
        assert "the filter matches the exact text" in evidence["phone-filter"]
    if reading == "no-last-link":
        assert "no links.last" in evidence["links"] and "links.next" in evidence["links"]
    if reading == "no-lists":
        assert "GET /lists -> 404" in evidence["lists"]
        assert "apply cannot stage contacts" in evidence["lists"]


def test_jsonapi_errors_are_recognised(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    account.api.error_style = "jsonapi"
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == ALL_PASS
    assert "-> 404 with JSON:API error objects: id: Not found" in checks["error-shape"]["evidence"]
    account.api.error_style = "fields"
    _code, checks = doctor(capsys)
    assert "-> 404 with a field map: id: Not found" in checks["error-shape"]["evidence"]


def test_a_wrong_token_fails_and_says_so(
    capsys: pytest.CaptureFixture[str], account: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", "uctok_not_a_real_token")
    code, checks = doctor(capsys)
    assert code == 1
    assert checks["token"]["verdict"] == "FAIL"
    assert "refused the token (HTTP 401" in checks["token"]["evidence"]
    assert {checks[n]["verdict"] for n in CHECKS[2:-1]} == {SKIP}
    assert checks["links"]["evidence"] == "not checked: the token was refused"


def test_a_base_url_without_api_v1_fails_with_a_hint(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    bare = account.base_url.removesuffix("/api/v1")
    code, checks = doctor(capsys, "--api-url", bare)
    assert code == 1
    assert checks["base-url"]["verdict"] == "FAIL"
    assert f"try --api-url {bare}/api/v1" in checks["base-url"]["evidence"]
    code, checks = doctor(capsys, "--api-url", bare + "/api/v2")
    assert code == 1 and f"try --api-url {bare}/api/v1" in checks["base-url"]["evidence"]
    code, checks = doctor(capsys, "--api-url", bare + "/upcall/api/v1")
    assert code == 1 and "does not serve the Upcall v1 API" in checks["base-url"]["evidence"]
    code, checks = doctor(capsys, "--api-url", bare + "/api/v1/campaigns")  # pasted whole
    assert code == 1
    assert checks["base-url"]["evidence"].endswith(f"try --api-url {bare}/api/v1")


def test_an_unreachable_api_fails_in_one_report(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, checks = doctor(
        capsys, "--api-url", f"http://127.0.0.1:{port}/api/v1", "--max-retry-time", "0"
    )
    assert code == 1
    assert checks["base-url"]["verdict"] == "FAIL"
    assert "connection refused" in checks["base-url"]["evidence"]


def test_an_empty_account_says_what_it_could_not_check(
    capsys: pytest.CaptureFixture[str], account: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No campaigns, no numbers, no list: those checks are "not checked", never PASS, and
    the summary counts them (it said "every required check passed")."""
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", OTHER_TOKEN)
    code, checks = doctor(capsys)
    assert code == 0
    assert checks["name-filter"] == {**checks["name-filter"], "verdict": SKIP}
    assert checks["name-filter"]["evidence"] == "not checked: no campaigns"
    assert checks["token"]["verdict"] == PASS and checks["lists"]["verdict"] == PASS
    skipped = sorted(n for n, c in checks.items() if c["verdict"] == SKIP)
    assert skipped == [
        "campaign-by-id",
        "datetimes",
        "from-number-filter",
        "links",
        "list-contacts",
        "name-filter",
        "numbers",
        "phone-filter",
    ]
    code, out, _err = run_cli(capsys, "doctor")
    assert code == 0 and "Every required check passed" not in out
    assert (
        "8 of 14 not checked: run again on an account with campaigns, numbers and a contact "
        "list, or use --write-probe." in out
    )
    code, out, _err = run_cli(capsys, "doctor", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"] == {"pass": 6, "warn": 0, "not_checked": 8, "fail": 0}


def test_doctor_sends_only_gets(capsys: pytest.CaptureFixture[str], account: Emulator) -> None:
    before = len(account.requests)
    code, _checks = doctor(capsys)
    sent = account.requests[before:]
    assert code == 0
    assert len(sent) >= 10
    assert {r.method for r in sent} == {"GET"}
    assert not any(r.wrote for r in sent)
    paths = {r.api_path for r in sent}
    assert {"/campaigns", "/lists", "/campaigns/0", "/lists/1/contacts"} <= paths


def test_a_read_only_token_passes_everything(
    capsys: pytest.CaptureFixture[str], account: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_only = "uctok_READONLY_5e4d3c2b1a09"
    account.store.add_read_only_token(read_only, account.accounts[TOKEN])
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", read_only)
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == ALL_PASS


@pytest.mark.parametrize(
    ("fault", "check", "words"),
    [
        ("loop-next", "links", "points back at a page already read"),
        ("foreign-next", "links", "outside"),
        ("huge-page", "links", "the server ignores it"),
    ],
)
def test_misbehaving_paging_fails(
    capsys: pytest.CaptureFixture[str], account: Emulator, fault: str, check: str, words: str
) -> None:
    account.faults.add_rule(fault, "GET", "/campaigns", count=1)
    code, checks = doctor(capsys)
    assert code == 1
    assert checks[check]["verdict"] == "FAIL" and words in checks[check]["evidence"]


def test_a_throttled_api_is_not_told_to_be_the_wrong_url(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    """A 429 whose Retry-After is past the client's wait on GET /campaigns at /api/v1 said
    "this URL does not serve the Upcall v1 API", and every check was skipped as "the base
    URL does not serve /campaigns": it does, it is throttling."""
    account.faults.add_rule("retry-after-huge", "GET", "/campaigns")
    code, checks = doctor(capsys)
    assert code == 1
    evidence = checks["base-url"]["evidence"]
    assert checks["base-url"]["verdict"] == "FAIL" and "does not serve" not in evidence
    assert evidence.endswith("more than the 60 s this client waits; run doctor again later")
    said = "not checked: GET /campaigns answered HTTP 429 (the API is throttling)"
    assert checks["token"]["evidence"] == checks["links"]["evidence"] == said
    # and the summary says what to do: nothing to fix, run it again (it said "fix the
    # FAILs first" of a FAIL that says to run doctor again later)
    account.faults.add_rule("retry-after-huge", "GET", "/campaigns")
    code, out, _err = run_cli(capsys, "doctor")
    assert code == 1
    assert out.splitlines()[-1].endswith(
        "1 failed, 12 not checked. The API would not answer (throttled, or failing): run "
        "doctor again later."
    ), out


@pytest.mark.parametrize("status", ["500", "503"])
@pytest.mark.usefixtures("fast_cli_backoff")
def test_a_server_error_storm_is_not_told_to_be_the_wrong_url(
    capsys: pytest.CaptureFixture[str], account: Emulator, status: str
) -> None:
    """Every GET /campaigns at /api/v1 answered 503 through the client's retries: doctor
    said "this URL does not serve the Upcall v1 API" and skipped every check as "the base
    URL does not serve /campaigns", as it did of a 429 past the client's wait."""
    account.faults.add_rule(status, "GET", "/campaigns", count=1000)
    code, checks = doctor(capsys)
    assert code == 1
    evidence = checks["base-url"]["evidence"]
    assert checks["base-url"]["verdict"] == "FAIL" and "does not serve" not in evidence
    assert f"HTTP {status}" in evidence and evidence.endswith("; run doctor again later")
    said = f"not checked: GET /campaigns answered HTTP {status} (a server error)"
    assert checks["token"]["evidence"] == checks["links"]["evidence"] == said


def test_rate_limit_headers_are_reported(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    account.faults.add_rule("429", "GET", "/lists", count=1)
    code, checks = doctor(capsys)
    assert code == 0
    assert checks["rate-limit"]["evidence"] == "Retry-After: 0; 1 answer(s) were 429"


def test_datetime_and_error_shape_verdicts() -> None:
    assert _datetime_verdict("2016-07-18T10:49:18.000Z") == PASS
    assert _datetime_verdict("2016-07-18T10:49:18Z") == WARN
    assert _datetime_verdict("2016-07-18T12:49:18+02:00") == WARN
    assert _datetime_verdict("2016-07-18T10:49:18") == WARN  # no offset: UTC
    assert _datetime_verdict("yesterday") == "FAIL"
    assert _datetime_verdict(1468838958) == "FAIL"
    html = b"<html><body>Not Found</body></html>"
    assert error_shape_verdict("GET /x -> 404", "text/html", html)[0] == WARN
    stale = json.dumps({"errors": [{"status": "400", "detail": "Not found"}]}).encode()
    verdict, evidence = error_shape_verdict("GET /x -> 404", "application/json", stale)
    assert verdict == WARN and "say status 400" in evidence
    assert error_shape_verdict("GET /x -> 404", "application/json", b'{"message": "x"}')[0] == WARN


@pytest.mark.parametrize(
    "body",
    [b"<html>no such campaign here, echo: %s</html>", b'{"message": "no such campaign echo: %s"}'],
)
def test_a_404_body_is_redacted_before_it_is_cut(body: bytes) -> None:
    """doctor quotes 40 characters of a 404 body it cannot read as errors: a token the
    server echoes where the cut falls is redacted whole, not cut to a short prefix."""
    from upcall_sync.redact import Redactor

    raw = body.replace(b"%s", TOKEN.encode())
    assert 34 <= raw.index(TOKEN.encode()) <= 36  # the cut at 40 falls inside the token
    _verdict, evidence = error_shape_verdict("GET /x -> 404", "", raw, Redactor(TOKEN))
    assert "REDA" in evidence and TOKEN[:4] not in evidence, evidence
    # what doctor did before: cut, then redact the line (the token's prefix stayed)
    cut_first = Redactor(TOKEN)(error_shape_verdict("GET /x -> 404", "", raw)[1])
    assert TOKEN[:4] in cut_first


def test_doctor_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(capsys, "doctor", "--help")
    assert code == 0 and "(GET requests only)" in " ".join(out.split()) and "--api-url" in out


def test_every_check_and_switch_is_documented() -> None:
    """Each doctor check and each pessimistic switch: in the contract page and the README,
    and each switch both an `upcall-sync emulator` flag and an `Emulator(...)` keyword."""
    import dataclasses
    import inspect

    import typer.main

    from upcall_sync.cli import app
    from upcall_sync.cli.main import _load_plugins
    from upcall_sync.jobs.doctor_report import NEEDED_BY

    from .conftest import ROOT

    page = (ROOT / "docs" / "api-contract.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert list(NEEDED_BY) == list(CHECKS)
    for name in CHECKS:
        assert f"`{name}`" in page, name
    _load_plugins()  # run alone, no earlier test had loaded `upcall-sync emulator`
    command = typer.main.get_command(app).commands["emulator"]  # type: ignore[attr-defined]
    flags = {opt for param in command.params for opt in param.opts}
    keywords = inspect.signature(Emulator).parameters
    switches = [f.name for f in dataclasses.fields(Modes)] + ["read_only_tokens"]
    for keyword in switches:
        flag = "--" + keyword.removesuffix("s" if keyword.endswith("tokens") else "").replace(
            "_", "-"
        )
        assert flag in flags and keyword in keywords, keyword
        assert f"`{flag}" in page and f"`{flag}" in readme, flag
    # every flag `emulator --help` shows has a row in the README's table (--quiet and
    # --stall-seconds had none; helper b73)
    section = readme[readme.index("## The emulator") : readme.index("## Tests")]
    first_cells = re.findall(r"^\| ((?:[^|\\]|\\.)*) \|", section, re.M)  # `a\|b` is one
    rows = {flag for cell in first_cells for flag in re.findall(r"`(--[a-z0-9-]+)", cell)}
    shown = {opt for p in command.params if not p.hidden for opt in p.opts if opt != "--help"}
    assert sorted(shown - rows) == []


def test_the_page_cap_is_the_servers(capsys: pytest.CaptureFixture[str], account: Emulator) -> None:
    account.api.max_page_size = 2
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == ALL_PASS
    assert checks["page-cap"]["evidence"] == "the server caps page[size] at 2 (asked 1000)"


def test_text_and_json_say_the_same(capsys: pytest.CaptureFixture[str], account: Emulator) -> None:
    account.api.modes = Modes(no_lists=True, no_last_link=True)
    text_code, out, _err = run_cli(capsys, "doctor", "--format", "text")
    json_code, checks = doctor(capsys)
    assert text_code == json_code == 1
    for name, check in checks.items():
        line = next(x for x in out.splitlines() if x.split()[1:2] == [name])
        assert line.startswith(check["verdict"])
        assert check["evidence"] in line and check["needed_by"] in line


def test_the_summary_counts_one_warning_in_the_singular() -> None:
    """It said "1 warnings"."""
    import io

    from upcall_sync.jobs.doctor_report import Check, Report, render_text

    out = io.StringIO()
    render_text(
        Report("http://x/api/v1", [Check("a", PASS, "e", "n"), Check("b", WARN, "e", "n")]), out
    )
    assert "\n2 checks: 1 passed, 1 warning, 0 failed, 0 not checked. " in out.getvalue()


def test_a_stray_429_is_retried_not_failed(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    """Every fifth request answered 429: doctor's probes retry it as plan would (its error
    probe skipped the retry policy and marked a check FAIL)."""
    account.faults.every = 5
    account.faults.add_rule("429", "GET", r"/campaigns/0")  # the error-shape probe, too
    code, checks = doctor(capsys)
    throttled = [r for r in account.requests if r.status == 429]
    assert code == 0 and verdicts(checks) == ALL_PASS
    assert len(throttled) >= 3
    assert f"{len(throttled)} answer(s) were 429" in checks["rate-limit"]["evidence"]


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request with the status of its class (and a sign-in redirect)."""

    status = 403

    def do_GET(self) -> None:
        body = b'{"errors": {"base": ["no"]}}'
        self.send_response(self.status)
        if self.status == 302:
            self.send_header("Location", "/users/sign_in")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "the API refused the token (HTTP 401 on GET /campaigns): check UPCALL_AUTH_TOKEN"),
        (403, "the token may not read campaigns (HTTP 403 on GET /campaigns): it is valid, but"),
        (302, "answered HTTP 302 (a redirect to /users/sign_in) instead of data, which is how"),
    ],
)
def test_a_refused_token_is_said_plainly(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator, status: int, words: str
) -> None:
    """401, 403 and a redirect to a sign-in page are all the token's problem (a 302 was
    reported as a wrong base URL; the 403 sentence was garbled)."""
    handler = type("Handler", (_Refusing,), {"status": status})
    with serve(handler) as base:
        code, checks = doctor(capsys, "--api-url", base)
    assert code == 1
    assert checks["base-url"]["verdict"] == PASS
    assert checks["token"]["verdict"] == "FAIL" and words in checks["token"]["evidence"]


def test_a_server_that_validates_the_from_number_filter_is_no_failure(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    """`?from_number=` with an unconfirmed number answered 400 (the server checks it)."""
    from upcall_sync.emulator.exchange import bad

    routes = account.api.routes
    method, pattern, listing = routes[0]

    def validating(api: Any, req: Any, acct: int, match: Any) -> Any:
        if dict(req.query).get("from_number", "+16501231234") != "+16501231234":
            raise bad("from_number", "Couldn't find that number")
        return listing(api, req, acct, match)

    routes[0] = (method, pattern, validating)
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == ALL_PASS
    assert "-> HTTP 400: the server checks the filter" in checks["from-number-filter"]["evidence"]


def test_datetimes_without_an_offset_are_read_as_utc(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    account.api.modes = Modes(naive_datetimes=True)
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == {**ALL_PASS, "datetimes": WARN}
    assert (
        "without a UTC offset: the client reads such datetimes as UTC"
        in (checks["datetimes"]["evidence"])
    )


def test_a_refused_page_size_is_a_warning_the_client_copes_with(
    capsys: pytest.CaptureFixture[str], account: Emulator
) -> None:
    account.api.modes = Modes(page_size_limit=20)
    code, checks = doctor(capsys)
    assert code == 0 and verdicts(checks) == {**ALL_PASS, "page-cap": WARN}
    assert "page[size]=1000 is refused with HTTP 400" in checks["page-cap"]["evidence"]
    assert "(page[size]=15)" in checks["page-cap"]["evidence"]
