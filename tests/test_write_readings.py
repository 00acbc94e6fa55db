"""plan and apply under each write-side reading of CONTRACT.md, alone and all at once.

The emulator plays each reading (`upcall_sync.emulator.modes.WRITE_SIDE_MODES`): a
PATCH that replaces the campaign or the contact, names stored normalized, a page[size]
above the cap refused with 400, datetimes without an offset, http:// links under an
https API.
Under each: apply from empty converges, a one-field edit (of a campaign, of a
contact) changes that field and nothing else, and a second apply writes nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from upcall_sync.emulator import Emulator, Faults
from upcall_sync.emulator.modes import WRITE_SIDE_MODES

from .conftest import CONFIRMED, TOKEN, run_cli, write_manifest
from .helpers.accounts import duplicates

#: a decomposed "é" and runs of spaces: a normalizing server stores these otherwise
NAME = "Cafe\u0301  Q3  survey"
MANIFEST = f"""version: 1
contact_list: "wr  list"
campaigns:
  - name: "{NAME}"
    pitch: Be friendly
    language: en
    status: ready
    from_number: "+16501231234"
    start_datetime: 2026-07-11T09:00:00-07:00
    end_datetime: 2026-07-12T17:00:00-07:00
    numbers:
      - {{phone: "+16507991144", first_name: Joey, last_name: Smith}}
      - {{phone: "+14155550132", first_name: Priya, last_name: Raman}}
  - name: loose
    pitch: only the pitch is managed
"""
COLUMNS = "name, pitch, language, status, instructions, start_datetime, end_datetime, from_number"
READINGS = {
    "default": {},
    **WRITE_SIDE_MODES,
    "all": {k: v for mode in WRITE_SIDE_MODES.values() for k, v in mode.items()},
}


@contextlib.contextmanager
def _serving(monkeypatch: pytest.MonkeyPatch, **modes: Any) -> Iterator[Emulator]:
    emu = Emulator(
        tokens=[TOKEN],
        confirmed_numbers=list(CONFIRMED),
        faults=Faults(retry_after=0),
        max_page_size=2,  # every listing pages
        **modes,
    )
    monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # a machine far from UTC: a datetime without an offset must still be read as UTC
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        with emu:
            yield emu
    finally:
        monkeypatch.undo()
        time.tzset()
        emu.store.close()


def _campaigns(emu: Emulator) -> dict[str, dict[str, Any]]:
    rows = emu.store.sql(f"SELECT id, {COLUMNS} FROM campaigns ORDER BY id")
    return {str(r["id"]): {k: v for k, v in dict(r).items() if k != "id"} for r in rows}


def _contacts(emu: Emulator) -> dict[str, tuple[str, str, str | None]]:
    rows = emu.store.sql("SELECT phone, first_name, last_name, company FROM list_contacts")
    return {r["phone"]: (r["first_name"], r["last_name"], r["company"]) for r in rows}


def _writes(emu: Emulator, since: int) -> list[str]:
    return [f"{r.method} {r.api_path}" for r in emu.requests[since:] if r.method != "GET"]


def _apply(capsys: pytest.CaptureFixture[str], manifest: Path) -> str:
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--quiet", str(manifest))
    assert code == 0, out + err
    return out


@pytest.mark.parametrize("reading", list(READINGS))
def test_converges_keeps_every_field_and_writes_nothing_twice(
    reading: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _serving(monkeypatch, **READINGS[reading]) as emu:
        _converge_edit_and_rest(emu, capsys, tmp_path)


def _converge_edit_and_rest(
    emu: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Apply from empty converges; a one-field edit changes that field and nothing else
    (an unmanaged status and instructions set by hand stay); a second apply writes
    nothing; nothing exists twice."""
    manifest = write_manifest(tmp_path / "m.yaml", MANIFEST)
    _apply(capsys, manifest)
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))[0] == 0
    assert duplicates(emu) == {"campaigns": [], "lists": [], "contacts": [], "numbers": []}
    # out of band: the unmanaged campaign is paused and gets instructions
    loose = emu.store.sql("SELECT id FROM campaigns WHERE name = 'loose'")[0]["id"]
    emu.store.sql(
        "UPDATE campaigns SET status = 'paused', instructions = 'by hand' WHERE id = ?",
        (loose,),
    )
    before = _campaigns(emu)
    people = _contacts(emu)
    edited = (
        MANIFEST.replace("Be friendly", "Be brief")
        .replace("only the pitch is managed", "still only the pitch")
        .replace("last_name: Smith}", "last_name: Smith, company: Acme}")
    )
    manifest.write_text(edited)
    _apply(capsys, manifest)
    # a contact PATCH (merging or replacing) leaves the person's other fields as they were
    assert _contacts(emu) == {**people, "+16507991144": ("Joey", "Smith", "Acme")}
    after = _campaigns(emu)
    for cid, row in before.items():
        assert {k: v for k, v in after[cid].items() if k != "pitch"} == {
            k: v for k, v in row.items() if k != "pitch"
        }, cid
    assert sorted(r["pitch"] for r in after.values() if r["pitch"]) == [
        "Be brief",
        "still only the pitch",
    ]
    since = len(emu.requests)
    out = _apply(capsys, manifest)
    assert _writes(emu, since) == [], out
    assert duplicates(emu) == {"campaigns": [], "lists": [], "contacts": [], "numbers": []}


def _statuses_at_number_posts(emu: Emulator) -> list[str]:
    """The status each campaign had as a number was POSTed to it, in order (filled in
    as apply runs)."""
    seen: list[str] = []
    for i, (method, pattern, handler) in enumerate(emu.api.routes):
        if method == "POST" and pattern.pattern.endswith("/numbers"):

            def post(api: Any, req: Any, acct: int, m: Any, _h: Any = handler) -> Any:
                seen.append(emu.store.get_campaign(acct, int(m["id"]))["status"])
                return _h(api, req, acct, m)

            emu.api.routes[i] = (method, pattern, post)
    return seen


@pytest.mark.parametrize("answer", ["read", "lost"])
def test_a_campaign_the_api_creates_ready_is_set_back_before_its_numbers(
    answer: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that ignores the status of a create and makes campaigns `ready` dialed
    each new campaign while its numbers went in, one by one. The campaign is set back to
    `pending` at once (with a warning), and made ready once its numbers are in. Also when
    the POST's answer is lost and apply finds the campaign by a look-up: it read no
    answer, and left the campaign dialing while its numbers went in."""
    with _serving(monkeypatch, create_ready=True) as emu:
        if answer == "lost":  # committed, then a 502 or a reset: found by ?name=
            emu.faults.add_rule("lost-write", "POST", r"/campaigns")
        seen = _statuses_at_number_posts(emu)
        manifest = write_manifest(tmp_path / "m.yaml", MANIFEST)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "--quiet", str(manifest))
        assert code == 0, out + err
        assert seen == ["pending", "pending"], seen
        assert f'the API created campaign "{NAME}" (id ' in err
        assert 'ready" although it was sent pending: set back to pending at once' in err, err
        # made ready once its numbers were in; `loose` manages no status: it was sent
        # pending (not the API's default, which dials) and set back to it (helper b67)
        statuses = {c["name"]: c["status"] for c in _campaigns(emu).values()}
        assert statuses == {NAME: "ready", "loose": "pending"}, statuses
        assert 'the API created campaign "loose" (id ' in err
        assert run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))[0] == 0


def test_a_campaign_that_manages_no_status_is_not_filled_while_the_api_dials_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry that sets no status sent none, so a server whose create makes campaigns
    ready had it dialing while its numbers went in, one by one (helper b67). It is sent
    pending, set back to pending when answered ready, and stays so: nobody asked it to
    dial."""
    with _serving(monkeypatch, create_ready=True) as emu:
        seen = _statuses_at_number_posts(emu)
        manifest = write_manifest(
            tmp_path / "m.yaml",
            "version: 1\ncontact_list: plain\ncampaigns:\n  - name: plain\n    pitch: hi\n"
            '    numbers:\n      - {phone: "+16507991144", first_name: Joey}\n'
            '      - {phone: "+14155550132", first_name: Priya}\n',
        )
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "--quiet", str(manifest))
        assert code == 0, out + err
        assert seen == ["pending", "pending"], seen
        assert [c["status"] for c in _campaigns(emu).values()] == ["pending"]
        assert run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))[0] == 0


class _TlsTerminator(HTTPAdapter):
    """A TLS terminator in front of the emulator: `https://` requests reach it over plain
    http with `X-Forwarded-Proto: https` (so its links start as the client's did).
    Records the scheme every request left the client on."""

    def __init__(self, schemes: list[str]) -> None:
        super().__init__()
        self.schemes = schemes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        scheme = url.split(":", 1)[0]
        self.schemes.append(scheme)
        if scheme == "https":
            request.url = "http" + url[len("https") :]
            request.headers["X-Forwarded-Proto"] = "https"
        return super().send(request, **kwargs)


@pytest.mark.parametrize("others", [False, True], ids=["alone", "with-all-the-others"])
def test_http_links_under_an_https_api_are_followed_on_https_only(
    others: bool,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reference's own links say http://. Under an https base URL, same-host links are
    followed on https: plan, apply and doctor work, and no request (the token rides in
    its query) ever leaves on plain http."""
    import upcall_sync.client.api as api

    schemes: list[str] = []
    real = api.make_session

    def session(pool_size: int = 8) -> requests.Session:
        s = real(pool_size)
        adapter = _TlsTerminator(schemes)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    modes = READINGS["all"] if others else {}
    with _serving(monkeypatch, http_links=True, no_last_link=True, **modes) as emu:
        monkeypatch.setattr(api, "make_session", session)
        monkeypatch.setenv("UPCALL_API_URL", emu.base_url.replace("http://", "https://"))
        for i in range(5):  # more campaigns than a page holds
            emu.store.create_campaign(emu.accounts[TOKEN], {"name": f"other {i}"})
        _converge_edit_and_rest(emu, capsys, tmp_path)
        code, out, _err = run_cli(capsys, "doctor")
        assert code == 0, out
        assert "FAIL" not in out and "WARN  links" in out and "no links.last" in out
        code, out, _err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve")
        assert code == 0 and "Cleanup: campaign" in out and "archived." in out, out
        page = session().get(
            emu.base_url.replace("http://", "https://") + "/campaigns",
            params={"auth_token": TOKEN, "page[size]": 2},
            timeout=5,
        )
        assert page.json()["links"]["next"].startswith("http://")  # the reading was served
    assert schemes and set(schemes) == {"https"}


def test_patch_replace_setting_requires_from_number_where_plan_updates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `patch: replace` (what --write-probe found), a campaign the plan would PATCH
    must manage from_number: else the update would clear its caller ID. The error names
    the campaign and its line; campaigns the plan does not update are not held to it."""
    with _serving(monkeypatch, patch_replace=True) as emu:
        body = "version: 1\npatch: replace\ncampaigns:\n  - name: a\n    pitch: one\n  - name: b\n"
        manifest = write_manifest(tmp_path / "m.yaml", body)
        _apply(capsys, manifest)
        manifest.write_text(body.replace("pitch: one", "pitch: two"))
        since = len(emu.requests)
        code, out, err = run_cli(capsys, "plan", str(manifest))
        assert code == 1 and out == ""
        assert f"{manifest}:4" in err and 'campaign "a"' in err and "needs from_number" in err
        assert 'campaign "b"' not in err
        manifest.write_text(
            body.replace("pitch: one", 'pitch: two\n    from_number: "+16501231234"')
        )
        _apply(capsys, manifest)
        row = emu.store.sql("SELECT id, from_number FROM campaigns WHERE name = 'a'")[0]
        assert row["from_number"] == "+16501231234"
        assert _writes(emu, since) == [f"PATCH /campaigns/{row['id']}"]


def test_a_page_size_cap_below_the_halving_floor_says_to_pass_page_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Halving stops at 10: a server that takes 3 at most stopped every command with
    "page[size]: must be at most 3", and no word of `--page-size` (helper b67)."""
    with _serving(monkeypatch, page_size_limit=3) as emu:
        manifest = write_manifest(tmp_path / "m.yaml", MANIFEST)
        code, _out, err = run_cli(capsys, "plan", str(manifest))
        assert code == 1
        assert (
            "page[size] was halved down to 10: if the API takes fewer, pass --page-size N"
            in (err.strip().splitlines()[-1])
        ), err
        since = len(emu.requests)
        assert run_cli(capsys, "plan", "--page-size", "3", str(manifest))[0] == 0
        assert {dict(r.query).get("page[size]") for r in emu.requests[since:]} == {"3"}


def test_a_refused_page_size_is_halved_once_per_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that refuses page[size] above 20 with 400: the first listing halves its
    size until one is accepted, every later listing of the run asks that size at once;
    `--page-size 5` asks 5 from the start. A 400 naming another field is not retried."""
    from .conftest import connect

    with _serving(monkeypatch, page_size_limit=20) as emu:
        manifest = write_manifest(tmp_path / "m.yaml", MANIFEST)
        _apply(capsys, manifest)
        since = len(emu.requests)
        assert run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))[0] == 0
        sizes = [dict(r.query).get("page[size]") for r in emu.requests[since:]]
        refused = [s for s, r in zip(sizes, emu.requests[since:], strict=True) if r.status == 400]
        assert set(refused) == {"1000", "500", "250", "125", "62", "31"}  # halved
        assert set(sizes) - set(refused) == {"15"}
        client = connect(emu)
        since = len(emu.requests)
        client.list_campaigns()
        client.list_lists()
        asked = [(dict(r.query)["page[size]"], r.status) for r in emu.requests[since:]]
        assert asked[:7] == [(s, 400) for s in ("1000", "500", "250", "125", "62", "31")] + [
            ("15", 200)
        ]
        assert {s for s, _status in asked[7:]} == {"15"}  # remembered for the run
        since = len(emu.requests)
        assert run_cli(capsys, "plan", "--page-size", "5", str(manifest))[0] == 0
        assert {dict(r.query).get("page[size]") for r in emu.requests[since:]} == {"5"}
        since = len(emu.requests)
        with pytest.raises(Exception, match="min_start_datetime"):
            client.transport.first_page("/campaigns", {"min_start_datetime": "garbage"})
        assert len(emu.requests) - since == 1
