"""The emulator's pessimistic readings (modes.py), each against the default reading.

Every switch is reached the way the other tests reach it: `Emulator(...)`
keywords; the last test starts `upcall-sync emulator` with every flag.
"""

from __future__ import annotations

import copy
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from upcall_sync.emulator import PESSIMISTIC_MODES, Emulator, Store
from upcall_sync.emulator.modes import DUPLICATE_NUMBER_MESSAGE, Modes

from .conftest import CONFIRMED, OTHER_TOKEN, TOKEN, run_cli
from .helpers.wire import Raw, campaign

READ_ONLY = "uctok_READONLY_5e4d3c2b1a09"


@pytest.fixture
def make() -> Iterator[Any]:
    """Start an emulator with the given keywords; every one started is stopped."""
    started: list[Emulator] = []

    def start(**kwargs: Any) -> Raw:
        kwargs.setdefault("tokens", [TOKEN, OTHER_TOKEN])
        emu = Emulator(confirmed_numbers=list(CONFIRMED), **kwargs).start()
        started.append(emu)
        return Raw(emu)

    yield start
    for emu in started:
        emu.stop()
        emu.store.close()


def as_token(raw: Raw, token: str) -> Raw:
    other = copy.copy(raw)
    other.token = token
    return other


def contact_doc(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "list_contacts", "attributes": attrs}}


def number_doc(contact_id: str) -> dict[str, Any]:
    return {"data": {"type": "numbers", "attributes": {"list_contact_id": int(contact_id)}}}


def staged(raw: Raw) -> tuple[str, str, str]:
    """(campaign id, list id, contact id): Joey Smith in a list and in a campaign."""
    camp = raw("POST", "/campaigns", campaign({"name": "C"})).json()["data"]["id"]
    lst = raw("POST", "/lists", {"data": {"type": "lists", "attributes": {"name": "l"}}})
    list_id = lst.json()["data"]["id"]
    attrs = {"phone": "+16507991144", "first_name": "Joey", "address": {"city": "Fremont"}}
    contact = raw("POST", f"/lists/{list_id}/contacts", contact_doc(attrs)).json()["data"]["id"]
    assert raw("POST", f"/campaigns/{camp}/numbers", number_doc(contact)).status_code == 201
    return camp, list_id, contact


def numbers(raw: Raw, camp: str, **params: str) -> list[dict[str, Any]]:
    resp = raw("GET", f"/campaigns/{camp}/numbers", params=params)
    assert resp.status_code == 200
    return [n["attributes"] for n in resp.json()["data"]]


# -- numbers: live join or copy -------------------------------------------------------


@pytest.mark.parametrize("copy", [False, True])
def test_a_contact_patch_reaches_numbers_only_when_they_are_live(make: Any, copy: bool) -> None:
    raw = make(numbers_copy_contacts=copy)
    camp, list_id, contact = staged(raw)
    patch = contact_doc({"first_name": "Joseph", "address": {"city": "Oakland"}})
    assert raw("PATCH", f"/lists/{list_id}/contacts/{contact}", patch).status_code == 200
    [number] = numbers(raw, camp)
    expected = ("Joey", "Fremont") if copy else ("Joseph", "Oakland")
    assert (number["first_name"], number["address"]["city"]) == expected
    # filters look at the same details the numbers show
    assert len(numbers(raw, camp, first_name=expected[0])) == 1
    assert numbers(raw, camp, first_name="Joseph" if copy else "Joey") == []
    # the list contact itself always changed
    listed = raw("GET", f"/lists/{list_id}/contacts").json()["data"][0]["attributes"]
    assert listed["first_name"] == "Joseph"


def test_a_number_added_after_the_patch_copies_the_new_details(make: Any) -> None:
    raw = make(numbers_copy_contacts=True)
    _camp, list_id, contact = staged(raw)
    raw("PATCH", f"/lists/{list_id}/contacts/{contact}", contact_doc({"first_name": "Joseph"}))
    other = raw("POST", "/campaigns", campaign({"name": "D"})).json()["data"]["id"]
    added = raw("POST", f"/campaigns/{other}/numbers", number_doc(contact))
    assert added.json()["data"]["attributes"]["first_name"] == "Joseph"
    assert [n["first_name"] for n in numbers(raw, other)] == ["Joseph"]


def test_a_database_without_number_copies_gets_them(tmp_path: Any) -> None:
    path = str(tmp_path / "old.sqlite")
    with Emulator(Store(path), tokens=[TOKEN]) as emu:
        camp, _list_id, _contact = staged(Raw(emu))
    emu.store.close()
    db = sqlite3.connect(path)  # as an emulator before number copies left it
    for column in ("phone", "first_name", "city"):
        db.execute(f"ALTER TABLE campaign_numbers DROP COLUMN {column}")
    db.commit()
    db.close()
    with Emulator(Store(path), tokens=[TOKEN], numbers_copy_contacts=True) as emu2:
        [number] = numbers(Raw(emu2), camp)
    emu2.store.close()
    assert (number["phone"], number["first_name"], number["address"]["city"]) == (
        "+16507991144",
        "Joey",
        "Fremont",
    )


# -- the duplicate-number message -----------------------------------------------------


@pytest.mark.parametrize("message", [None, "Number taken"])
def test_the_duplicate_number_message(make: Any, message: str | None) -> None:
    raw = make(**({"duplicate_number_message": message} if message else {}))
    camp, _list_id, contact = staged(raw)
    again = raw("POST", f"/campaigns/{camp}/numbers", number_doc(contact))
    assert again.status_code == 400
    assert again.json()["errors"] == {"list_contact_id": [message or DUPLICATE_NUMBER_MESSAGE]}
    assert len(numbers(raw, camp)) == 1


# -- text filters: exact by default (CONTRACT.md), normalising as a switch ---------------


@pytest.mark.parametrize("exact", [True, False])
def test_phone_filters_are_exact_by_default(make: Any, exact: bool) -> None:
    raw = make(normalize_filters=not exact)
    camp, list_id, _contact = staged(raw)
    raw("PATCH", f"/campaigns/{camp}", campaign({"from_number": "+16501231234"}))
    assert len(numbers(raw, camp, phone="+16507991144")) == 1
    found = numbers(raw, camp, phone="+1 (650) 799-1144") + numbers(
        raw, camp, phone="+1 650 799 1144"
    )
    assert len(found) == (0 if exact else 2)
    contacts = raw("GET", f"/lists/{list_id}/contacts", params={"phone": "+1 (650) 799-1144"})
    assert len(contacts.json()["data"]) == (0 if exact else 1)

    def by_from(value: str) -> int:
        return len(raw("GET", "/campaigns", params={"from_number": value}).json()["data"])

    assert by_from("+16501231234") == 1
    assert by_from("+1 650-123-1234") == (0 if exact else 1)


# -- links.last -----------------------------------------------------------------------


@pytest.mark.parametrize("no_last", [False, True])
def test_pages_without_links_last(make: Any, no_last: bool) -> None:
    raw = make(no_last_link=no_last)
    for i in range(3):
        raw("POST", "/campaigns", campaign({"name": f"c{i}"}))
    first = raw("GET", "/campaigns", params={"page[size]": "2"}).json()["links"]
    assert ("last" in first) is not no_last
    assert "self" in first and "next" in first
    second = requests.get(first["next"], timeout=5).json()
    assert [c["attributes"]["name"] for c in second["data"]] == ["c2"]
    assert "next" not in second["links"]
    assert ("last" in second["links"]) is not no_last


# -- no contact lists -----------------------------------------------------------------


def test_without_lists_every_list_endpoint_is_404(make: Any) -> None:
    raw = make(no_lists=True)
    assert raw("GET", "/lists").status_code == 404
    assert (
        raw("POST", "/lists", {"data": {"type": "lists", "attributes": {"name": "l"}}}).status_code
        == 404
    )
    assert raw("GET", "/lists/1/contacts").status_code == 404
    assert (
        raw("POST", "/lists/1/contacts", contact_doc({"phone": "+16507991144"})).status_code == 404
    )
    assert raw("PATCH", "/lists/1/contacts/1", contact_doc({"title": "x"})).status_code == 404
    assert raw("GET", "/campaigns").status_code == 200
    raw.token = "wrong"
    assert raw("GET", "/lists").status_code == 401


# -- validation of the unstated rules ---------------------------------------------------


@pytest.mark.parametrize("validation", ["strict", "lenient"])
def test_validation_of_the_unstated_rules(make: Any, validation: str) -> None:
    raw = make(validation=validation)
    lenient = validation == "lenient"
    backwards = campaign(
        {
            "name": "B",
            "start_datetime": "2026-02-01T00:00:00Z",
            "end_datetime": "2026-01-01T00:00:00Z",
        }
    )
    assert raw("POST", "/campaigns", backwards).status_code == (201 if lenient else 400)
    unknown = raw("POST", "/campaigns", campaign({"name": "U", "colour": "red"}))
    assert unknown.status_code == (201 if lenient else 400)
    if lenient:
        assert "colour" not in unknown.json()["data"]["attributes"]
    made = raw("POST", "/campaigns", campaign({"name": "S"})).json()["data"]["attributes"]
    assert made["status"] == (None if lenient else "pending")
    lst = raw("POST", "/lists", {"data": {"type": "lists", "attributes": {"name": "l", "x": 1}}})
    assert lst.status_code == (201 if lenient else 400)
    list_id = raw(
        "POST", "/lists", {"data": {"type": "lists", "attributes": {"name": "m"}}}
    ).json()["data"]["id"]
    odd = raw("POST", f"/lists/{list_id}/contacts", contact_doc({"phone": "+1 555"}))
    assert odd.status_code == (201 if lenient else 400)
    if lenient:
        assert odd.json()["data"]["attributes"]["phone"] == "+1 555"
    planet = contact_doc({"phone": "+16507991144", "address": {"planet": "Mars"}, "x": "y"})
    assert raw("POST", f"/lists/{list_id}/contacts", planet).status_code == (
        201 if lenient else 400
    )
    # what the contract states holds in both modes
    assert raw("POST", "/campaigns", campaign({"pitch": "no name"})).status_code == 400
    assert raw("POST", "/campaigns", campaign({"name": "x", "status": "nope"})).status_code == 400
    assert (
        raw("POST", "/campaigns", campaign({"name": "x", "from_number": "+1"})).status_code == 400
    )
    assert raw("POST", f"/lists/{list_id}/contacts", contact_doc({})).status_code == 400


def test_modes_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="validation"):
        Modes(validation="sloppy")
    with pytest.raises(ValueError, match="message"):
        Modes(duplicate_number_message=" ")


# -- 403 for read-only tokens, and error objects with the real status -------------------


def test_a_read_only_token_reads_and_gets_403_on_writes(make: Any) -> None:
    raw = make(read_only_tokens=[READ_ONLY])
    camp, list_id, contact = staged(raw)
    ro = as_token(raw, READ_ONLY)
    assert [c["id"] for c in ro("GET", "/campaigns").json()["data"]] == [camp]
    assert ro("GET", f"/lists/{list_id}/contacts").status_code == 200
    writes = [
        ro("POST", "/campaigns", campaign({"name": "x"})),
        ro("PATCH", f"/campaigns/{camp}", campaign({"name": "x"})),
        ro("POST", f"/campaigns/{camp}/numbers", number_doc(contact)),
        ro("PATCH", f"/lists/{list_id}/contacts/{contact}", contact_doc({"title": "x"})),
    ]
    assert [w.status_code for w in writes] == [403] * 4
    assert "not make changes" in writes[0].json()["errors"]["base"][0]
    assert [c["attributes"]["name"] for c in raw("GET", "/campaigns").json()["data"]] == ["C"]
    # another account's ids stay 404 (not 403) for a token that may write
    other = as_token(raw, OTHER_TOKEN)
    assert other("PATCH", f"/campaigns/{camp}", campaign({"name": "x"})).status_code == 404


def test_jsonapi_error_objects_carry_the_real_status(make: Any) -> None:
    raw = make(error_style="jsonapi", read_only_tokens=[READ_ONLY])
    bad_token, ro = as_token(raw, "wrong"), as_token(raw, READ_ONLY)
    cases = {
        400: raw("POST", "/campaigns", campaign({"name": ""})),
        401: bad_token("GET", "/campaigns"),
        403: ro("POST", "/campaigns", campaign({"name": "x"})),
        404: raw("GET", "/campaigns/424242"),
        405: raw("DELETE", "/campaigns"),
    }
    for status, resp in cases.items():
        assert resp.status_code == status
        objects = resp.json()["errors"]
        assert objects and all(o["status"] == str(status) for o in objects), objects
    assert cases[400].json()["errors"][0]["source"] == {"pointer": "/data/attributes/name"}
    assert cases[401].json()["errors"][0]["source"] == {"parameter": "auth_token"}
    assert cases[404].json()["errors"][0]["title"] == "Not Found"


def test_injected_faults_carry_their_status_too(emulator: Emulator) -> None:
    emulator.api.error_style = "jsonapi"
    emulator.faults.add_rule("429", "GET", "/campaigns")
    emulator.faults.add_rule("503", "GET", "/campaigns")
    raw = Raw(emulator)
    for status in (429, 503):
        resp = raw("GET", "/campaigns")
        assert resp.status_code == status
        assert [o["status"] for o in resp.json()["errors"]] == [str(status)]


# -- every switch from the command line -------------------------------------------------


def test_the_help_names_each_switch_once_and_no_type_for_a_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--no-lists` is a switch: typer used to offer `--no-no-lists` (and
    `--no-no-last-link`) beside it, and `--token <list[str]>` for a repeatable value."""
    code, out, _err = run_cli(capsys, "emulator", "--help")
    assert code == 0
    assert "--no-lists " in out and "--no-last-link " in out
    assert "--no-no-" not in out and "list[str]" not in out
    assert "--token TOKEN" in out and "--read-only-token TOKEN" in out


def test_every_switch_from_the_command_line() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upcall_sync.cli",
            "emulator",
            "--port=0",
            f"--token={TOKEN}",
            f"--read-only-token={READ_ONLY}",
            "--numbers-copy-contacts",
            "--duplicate-number-message=Number taken",
            "--normalize-filters",
            "--patch-replace",
            "--normalize-names",
            "--page-size-limit=20",
            "--naive-datetimes",
            "--http-links",
            "--no-last-link",
            "--no-lists",
            "--validation=lenient",
            "--error-style=jsonapi",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()

        def get(path: str, token: str = TOKEN, **params: str) -> requests.Response:
            return requests.get(base + path, params={"auth_token": token, **params}, timeout=5)

        assert get("/lists").status_code == 404
        made = requests.post(
            base + "/campaigns",
            params={"auth_token": TOKEN},
            json=campaign({"name": "x", "colour": "red"}),
            timeout=5,
        )
        assert made.status_code == 201 and made.json()["data"]["attributes"]["status"] is None
        assert not made.json()["data"]["attributes"]["created_at"].endswith("Z")  # naive
        spaced = requests.post(
            base + "/campaigns",
            params={"auth_token": TOKEN},
            json=campaign({"name": "  two   spaces ", "pitch": "p"}),
            timeout=5,
        ).json()["data"]
        assert spaced["attributes"]["name"] == "two spaces"  # normalized
        replaced = requests.patch(
            base + f"/campaigns/{spaced['id']}",
            params={"auth_token": TOKEN},
            json={"data": {"type": "campaigns", "id": spaced["id"], "attributes": {}}},
            timeout=5,
        ).json()["data"]["attributes"]
        assert replaced["name"] == "" and replaced["pitch"] is None  # replaced
        assert get("/campaigns", **{"page[size]": "21"}).status_code == 400
        assert get("/campaigns").json()["links"]["self"].startswith("http://")
        assert "last" not in get("/campaigns").json()["links"]
        assert get("/campaigns", READ_ONLY).json()["data"][0]["id"] == made.json()["data"]["id"]
        refused = requests.post(
            base + "/campaigns",
            params={"auth_token": READ_ONLY},
            json=campaign({"name": "y"}),
            timeout=5,
        )
        assert refused.status_code == 403 and refused.json()["errors"][0]["status"] == "403"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_bad_switch_values_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "emulator", "--token", TOKEN, "--validation", "sloppy")
    assert code == 1 and err.strip() == "error: --validation must be 'strict' or 'lenient'"
    code, _out, err = run_cli(
        capsys, "emulator", "--token", TOKEN, "--duplicate-number-message", " "
    )
    assert code == 1 and "message must not be empty" in err and len(err.splitlines()) == 1
    code, _out, err = run_cli(capsys, "emulator", "--token", TOKEN, "--faults", "500,gremlins")
    assert code == 1 and err.startswith("error: --faults: unknown fault kind(s) gremlins;")
    code, _out, err = run_cli(capsys, "emulator", "--token", TOKEN, "--error-style", "xml")
    assert code == 1 and err.strip() == "error: --error-style must be 'fields' or 'jsonapi'"


def test_a_database_that_cannot_be_opened_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It was "internal error: OperationalError: unable to open database file"."""
    from .conftest import run_cli

    missing = tmp_path / "nowhere" / "x.db"
    code, out, err = run_cli(
        capsys, "emulator", "--token", TOKEN, "--port", "0", "--db", str(missing)
    )
    assert (code, out) == (1, "")
    assert err == f"error: --db {missing}: cannot open the database: unable to open database file\n"
    text = tmp_path / "notes.txt"
    text.write_text("not a database, but long enough to have a header page " * 20)
    code, out, err = run_cli(capsys, "emulator", "--token", TOKEN, "--port", "0", "--db", str(text))
    assert (code, out) == (1, "")
    assert err == f"error: --db {text}: cannot open the database: file is not a database\n"


def test_pessimistic_modes_are_emulator_keywords() -> None:
    default = (Modes(), "fields")
    for kwargs in PESSIMISTIC_MODES.values():
        with Emulator(tokens=[TOKEN], **kwargs) as emu:
            assert (emu.api.modes, emu.api.error_style) != default
        emu.store.close()
