"""The emulator against the reference and CONTRACT.md, over raw HTTP."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests

from upcall_sync.emulator import Emulator, Store

from .conftest import FIXTURES, OTHER_TOKEN, TOKEN
from .helpers.wire import Raw, campaign

REFERENCE = json.loads((FIXTURES / "reference_examples.json").read_text())["examples"]


@pytest.fixture
def raw(emulator: Emulator) -> Raw:
    return Raw(emulator)


def _make_number(raw: Raw) -> tuple[str, dict[str, Any]]:
    camp = raw("POST", "/campaigns", campaign({"name": "My Campaign"})).json()["data"]["id"]
    lst = raw("POST", "/lists", {"data": {"type": "lists", "attributes": {"name": "l"}}}).json()
    contact = raw(
        "POST",
        f"/lists/{lst['data']['id']}/contacts",
        {
            "data": {
                "type": "list_contacts",
                "attributes": {
                    "phone": "+16507991144",
                    "first_name": "Joey",
                    "last_name": "Smith",
                    "title": "Manager",
                    "company": "Safeway",
                    "email": "joey@safeway.com",
                    "address": {
                        "recipient": "Joey Smith",
                        "line1": "100 Main Street",
                        "line2": "Building 500",
                        "city": "Fremont",
                        "region": "California",
                        "postal_code": "94536",
                        "country": "United States",
                    },
                },
            }
        },
    ).json()["data"]
    added = raw(
        "POST",
        f"/campaigns/{camp}/numbers",
        {"data": {"type": "numbers", "attributes": {"list_contact_id": int(contact["id"])}}},
    )
    assert added.status_code == 201
    return camp, added.json()


def _shape(doc: Any) -> Any:
    """A document's structure: keys and value kinds, not values."""
    if isinstance(doc, dict):
        return {k: _shape(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_shape(doc[0])] if doc else []
    return "null-or-scalar"


def test_campaign_documents_match_the_reference(raw: Raw) -> None:
    created = raw(
        "POST",
        "/campaigns",
        campaign(
            {
                "name": "My Campaign",
                "instructions": "Call people and ask about product satisfaction",
                "pitch": "Be friendly",
                "start_datetime": "2016-07-11T00:04:58Z",
                "end_datetime": "2016-07-12T00:04:58Z",
                "language": "en",
                "status": "pending",
                "from_number": "+16501231234",
            }
        ),
    )
    assert created.status_code in (200, 201)
    doc = created.json()
    assert _shape(doc) == _shape(REFERENCE["create_campaign"])
    attrs = doc["data"]["attributes"]
    assert attrs["start_datetime"] == "2016-07-11T00:04:58.000Z"  # UTC, milliseconds
    assert "from_number" not in attrs  # write-only
    cid = doc["data"]["id"]
    assert isinstance(cid, str)
    assert _shape(raw("GET", f"/campaigns/{cid}").json()) == _shape(REFERENCE["get_campaign"])
    raw("POST", "/campaigns", campaign({"name": "My Campaign"}))
    listed = raw("GET", "/campaigns", params={"page[size]": 1}).json()
    assert _shape(listed) == _shape(REFERENCE["list_campaigns"])
    assert set(listed["links"]) == {"self", "next", "last"}
    assert "page%5Bnumber%5D=2" in listed["links"]["next"]
    patched = raw(
        "PATCH",
        f"/campaigns/{cid}",
        {"data": {"type": "campaigns", "id": cid, "attributes": {"pitch": "Be kind"}}},
    )
    assert _shape(patched.json()) == _shape(REFERENCE["update_campaign"])


def test_number_documents_match_the_reference(raw: Raw) -> None:
    camp, added = _make_number(raw)
    assert _shape(added) == _shape(REFERENCE["add_campaign_number"])
    assert added["data"]["attributes"]["status"] == "active"
    assert added["data"]["attributes"]["extension"] is None
    listed = raw("GET", f"/campaigns/{camp}/numbers", params={"company": "Safeway"}).json()
    ref = REFERENCE["list_campaign_numbers"]
    assert _shape({"data": listed["data"]}) == _shape({"data": ref["data"]})
    assert listed["data"][0]["attributes"] == {
        **ref["data"][0]["attributes"],
        "phone": "+16507991144",
    }


def test_names_and_phones_are_not_unique(raw: Raw) -> None:
    for _ in range(2):
        assert raw("POST", "/campaigns", campaign({"name": "My Campaign"})).status_code == 201
    same = raw("GET", "/campaigns", params={"name": "My Campaign"}).json()["data"]
    assert len(same) == 2 and same[0]["id"] != same[1]["id"]


def test_from_number_is_write_only_but_filterable(raw: Raw) -> None:
    made = raw(
        "POST", "/campaigns", campaign({"name": "a", "from_number": "+1 650 123 1234"})
    ).json()
    raw("POST", "/campaigns", campaign({"name": "b"}))
    assert "from_number" not in made["data"]["attributes"]
    found = raw("GET", "/campaigns", params={"from_number": "+16501231234"}).json()["data"]
    assert [c["attributes"]["name"] for c in found] == ["a"]


def test_reference_patch_form_without_id_in_path(raw: Raw) -> None:
    cid = raw("POST", "/campaigns", campaign({"name": "a"})).json()["data"]["id"]
    resp = raw(
        "PATCH",
        "/campaigns",
        {"data": {"type": "campaigns", "id": int(cid), "attributes": {"status": "ready"}}},
    )
    assert resp.status_code == 200
    assert resp.json()["data"]["attributes"]["status"] == "ready"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/vnd.api+json", "text/json"]
)
def test_accepts_every_documented_content_type(raw: Raw, content_type: str) -> None:
    resp = raw("POST", "/campaigns", campaign({"name": "a"}), content_type=content_type)
    assert resp.status_code == 201


@pytest.mark.parametrize(
    ("attrs", "field", "message"),
    [
        ({}, "name", "Campaign name is a required field"),
        ({"name": "  "}, "name", "Campaign name is a required field"),
        (
            {"name": "a", "status": "running"},
            "status",
            "must be one of pending, ready, paused, completed, archived",
        ),
        ({"name": "a", "from_number": "+16509999999"}, "from_number", "Couldn't find that number"),
        (
            {
                "name": "a",
                "start_datetime": "2016-07-12T00:00:00Z",
                "end_datetime": "2016-07-11T00:00:00Z",
            },
            "end_datetime",
            "must be after start_datetime",
        ),
        ({"name": "a", "start_datetime": "tomorrow"}, "start_datetime", "is not a valid datetime"),
        (
            {"name": "a", "start_datetime": "2016-07-12T00:00:00"},
            "start_datetime",
            "is not a valid datetime",
        ),
        ({"name": "a", "colour": "red"}, "colour", "is not a known attribute"),
        ({"name": 5}, "name", "must be a string"),
        ({"name": "a", "pitch": ["x"]}, "pitch", "must be a string"),
    ],
)
def test_invalid_campaigns_get_400_with_a_field_map(
    raw: Raw, attrs: dict[str, Any], field: str, message: str
) -> None:
    resp = raw("POST", "/campaigns", campaign(attrs))
    assert resp.status_code == 400
    assert message in resp.json()["errors"][field]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "base"),
        (b"\xff\xfe", 400, "base"),
        (b"[]", 400, "data"),
        (b'{"data": {"type": "lists", "attributes": {"name": "x"}}}', 400, "type"),
        (b'{"data": {"type": "campaigns", "attributes": []}}', 400, "attributes"),
    ],
)
def test_malformed_bodies_get_4xx_not_500(raw: Raw, body: bytes, status: int, field: str) -> None:
    resp = raw("POST", "/campaigns", raw=body)
    assert resp.status_code == status
    assert field in resp.json()["errors"]


def test_unsupported_content_type_and_oversized_body(raw: Raw, emulator: Emulator) -> None:
    assert (
        raw(
            "POST", "/campaigns", raw=b"name=x", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 415
    )
    big = json.dumps(campaign({"name": "x" * (emulator.max_body_bytes + 10)})).encode()
    resp = raw("POST", "/campaigns", raw=big)
    assert resp.status_code == 413
    assert "errors" in resp.json()
    assert raw("GET", "/campaigns").status_code == 200  # still serving


def test_auth_missing_or_wrong_is_401(emulator: Emulator) -> None:
    for token in (None, "", "nope-not-a-token"):
        resp = Raw(emulator, token)("GET", "/campaigns")
        assert resp.status_code == 401
        assert "auth_token" in resp.json()["errors"]


def test_unknown_paths_methods_and_ids(raw: Raw) -> None:
    assert raw("GET", "/nothing").status_code == 404
    assert raw("GET", "/campaigns/12345").status_code == 404
    assert raw("GET", "/campaigns/abc").status_code == 404
    assert raw("GET", "/campaigns/99999999999999999999999").status_code == 404
    assert raw("DELETE", "/campaigns/1").status_code in (404, 405)
    assert raw("GET", "/campaigns", params={"page[number]": "x"}).status_code == 400
    assert raw("GET", "/campaigns", params={"page[size]": "0"}).status_code == 400
    assert raw("GET", "/campaigns", params={"status": "nope"}).status_code == 400
    assert raw("GET", "/campaigns", params={"min_created_datetime": "yesterday"}).status_code == 400


def test_duplicate_contact_in_campaign_is_refused_and_creates_nothing(
    raw: Raw, emulator: Emulator
) -> None:
    camp, _added = _make_number(raw)
    contact_id = emulator.store.sql("SELECT list_contact_id FROM campaign_numbers")[0][
        "list_contact_id"
    ]
    again = raw(
        "POST",
        f"/campaigns/{camp}/numbers",
        {"data": {"type": "campaigns", "attributes": {"list_contact_id": str(contact_id)}}},
    )
    assert again.status_code == 400
    assert "list_contact_id" in again.json()["errors"]
    assert len(emulator.store.sql("SELECT * FROM campaign_numbers")) == 1


def test_accounts_are_isolated(emulator: Emulator) -> None:
    mine, theirs = Raw(emulator, TOKEN), Raw(emulator, OTHER_TOKEN)
    camp, _ = _make_number(mine)
    list_id = mine("GET", "/lists").json()["data"][0]["id"]
    contact_id = mine("GET", f"/lists/{list_id}/contacts").json()["data"][0]["id"]
    # nothing of mine is visible, listable, filterable or writable to the other account
    assert theirs("GET", f"/campaigns/{camp}").status_code == 404
    assert theirs("GET", f"/campaigns/{camp}/numbers").status_code == 404
    assert theirs("PATCH", f"/campaigns/{camp}", campaign({"name": "stolen"})).status_code == 404
    assert theirs("GET", "/campaigns").json()["data"] == []
    assert theirs("GET", "/campaigns", params={"name": "My Campaign"}).json()["data"] == []
    assert theirs("GET", "/lists").json()["data"] == []
    assert theirs("GET", f"/lists/{list_id}/contacts").status_code == 404
    their_camp = theirs("POST", "/campaigns", campaign({"name": "theirs"})).json()["data"]["id"]
    steal = theirs(
        "POST",
        f"/campaigns/{their_camp}/numbers",
        {"data": {"type": "numbers", "attributes": {"list_contact_id": contact_id}}},
    )
    assert steal.status_code == 400
    assert (
        theirs(
            "PATCH",
            f"/lists/{list_id}/contacts/{contact_id}",
            {"data": {"type": "list_contacts", "attributes": {"title": "x"}}},
        ).status_code
        == 404
    )
    # and links in my listings carry my query only
    links = mine("GET", "/campaigns").json()["links"]
    assert OTHER_TOKEN not in json.dumps(links)


def test_contact_validation(raw: Raw) -> None:
    lst = raw("POST", "/lists", {"data": {"type": "lists", "attributes": {"name": "l"}}}).json()[
        "data"
    ]["id"]

    def post(attrs: dict[str, Any]) -> requests.Response:
        return raw(
            "POST",
            f"/lists/{lst}/contacts",
            {"data": {"type": "list_contacts", "attributes": attrs}},
        )

    assert post({}).json()["errors"] == {"phone": ["is required"]}
    assert post({"phone": "+1 555"}).json()["errors"] == {"phone": ["is not a valid phone number"]}
    assert (
        "address.planet"
        in post({"phone": "+16507991144", "address": {"planet": "Mars"}}).json()["errors"]
    )
    assert post({"phone": "+16507991144", "first_name": 3}).json()["errors"] == {
        "first_name": ["must be a string"]
    }
    ok = post({"phone": "+1 (650) 799-1144"})
    assert ok.status_code == 201
    assert ok.json()["data"]["attributes"]["phone"] == "+16507991144"


def test_file_database_persists_across_restarts(tmp_path: Any) -> None:
    path = str(tmp_path / "emu.sqlite")
    with Emulator(Store(path), tokens=[TOKEN]) as emu:
        Raw(emu)("POST", "/campaigns", campaign({"name": "kept"}))
    emu.store.close()
    with Emulator(Store(path), tokens=[TOKEN]) as emu2:
        names = [c["attributes"]["name"] for c in Raw(emu2)("GET", "/campaigns").json()["data"]]
    emu2.store.close()
    assert names == ["kept"]


def test_binds_loopback_on_a_free_port(emulator: Emulator) -> None:
    assert emulator.host == "127.0.0.1"
    assert emulator.port > 0
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=2):
        pass


def test_request_log_never_holds_the_token(raw: Raw, emulator: Emulator) -> None:
    raw("GET", "/campaigns", params={"name": "x"})
    assert all(TOKEN not in repr(r) for r in emulator.requests)
    assert emulator.requests[-1].query == (("name", "x"),)
