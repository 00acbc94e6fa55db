"""Recorded API conversations (vcrpy), replayed with record mode `none` in CI.

The cassettes in `cassettes/` pin the client's wire protocol: a change in what
the client sends fails here. They are replayed without any server.

Re-record them (against a fresh emulator started by the fixture below):

    python -m pytest tests/test_cassettes.py --record-mode=rewrite

Every cassette is scanned for the token afterwards (`test_no_token_in_any_cassette`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from upcall_sync.client import CampaignAttributes, ContactAttributes, UpcallClient
from upcall_sync.emulator import Emulator
from upcall_sync.errors import ApiStatusError
from upcall_sync.redact import REDACTED, Redactor

from .conftest import CONFIRMED, FAST_RETRY, ROOT, TOKEN

CASSETTES = ROOT / "cassettes"
REPLAY_ORIGIN = "http://127.0.0.1:9"  # nothing listens there: replay never touches a socket
_redact = Redactor(TOKEN)
_ORIGIN = re.compile(r"http://127\.0\.0\.1:\d+")


def _scrub(text: str) -> str:
    """No token, and the emulator's random port replaced by the fixed replay origin."""
    return _ORIGIN.sub(REPLAY_ORIGIN, _redact(text))


def _scrub_request(request: Any) -> Any:
    request.uri = _scrub(request.uri)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {})
    if isinstance(body.get("string"), bytes):
        body["string"] = _scrub(body["string"].decode("utf-8", "replace")).encode()
    elif isinstance(body.get("string"), str):
        body["string"] = _scrub(body["string"])
    response["headers"] = {
        k: [_scrub(v) for v in vals] for k, vals in response.get("headers", {}).items()
    }
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_query_parameters": [("auth_token", REDACTED)],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "match_on": ["method", "path", "query", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def api(record_mode: str) -> Iterator[UpcallClient]:
    """Replay needs no server (nothing listens on port 9); recording starts an emulator."""
    if record_mode == "none":
        yield UpcallClient.connect(f"{REPLAY_ORIGIN}/api/v1", TOKEN, retry=FAST_RETRY)
        return
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), max_page_size=2) as emu:
        yield UpcallClient.connect(emu.base_url, TOKEN, retry=FAST_RETRY)


@pytest.mark.vcr
def test_campaign_lifecycle(api: UpcallClient) -> None:
    made = api.create_campaign(
        CampaignAttributes(
            name="My Campaign", pitch="Be friendly", language="en", from_number="+16501231234"
        )
    )
    assert made.status == "pending"
    assert api.get_campaign(made.id).name == "My Campaign"
    updated = api.update_campaign(made.id, CampaignAttributes(status="ready"))
    assert updated.status == "ready"
    assert [c.id for c in api.list_campaigns(from_number="+16501231234", status="ready")] == [
        made.id
    ]


@pytest.mark.vcr
def test_paging_follows_next_links(api: UpcallClient) -> None:
    for i in range(5):
        api.create_campaign(CampaignAttributes(name=f"c{i}"))
    pages = list(api.campaign_pages())
    assert [len(items) for _page, items in pages] == [2, 2, 1]
    assert pages[0][0].last == 3


@pytest.mark.vcr
def test_contacts_and_numbers(api: UpcallClient) -> None:
    camp = api.create_campaign(CampaignAttributes(name="Q3"))
    lst = api.create_list("upcall-sync")
    joey = api.create_contact(lst.id, ContactAttributes(phone="+16507991144", first_name="Joey"))
    api.add_number(camp.id, joey.id)
    assert [n.first_name for n in api.list_numbers(camp.id)] == ["Joey"]
    api.update_contact(lst.id, joey.id, ContactAttributes(title="Manager"))
    assert api.list_contacts(lst.id, phone="+16507991144")[0].title == "Manager"


@pytest.mark.vcr
def test_errors(api: UpcallClient) -> None:
    with pytest.raises(ApiStatusError) as bad:
        api.create_campaign(CampaignAttributes(name="x", from_number="+16509999999"))
    assert bad.value.fields[0].message == "Couldn't find that number"
    with pytest.raises(ApiStatusError) as missing:
        api.get_campaign("424242")
    assert missing.value.status == 404


def _cassette_files() -> list[Any]:
    return sorted(CASSETTES.glob("*.yaml"))


def test_cassettes_exist_for_every_recorded_test() -> None:
    names = {p.stem for p in _cassette_files()}
    assert {
        "test_campaign_lifecycle",
        "test_paging_follows_next_links",
        "test_contacts_and_numbers",
        "test_errors",
    } <= names


def test_no_token_in_any_cassette() -> None:
    """The token, and any auth_token value but REDACTED, in query strings, headers, bodies."""
    any_value = re.compile(r"auth_token(?:=|%3D)([^&\s\"'\\]+)")
    leaks = []
    scanned = 0
    for path in _cassette_files():
        text = path.read_text()
        scanned += 1
        if TOKEN in text:
            leaks.append(f"{path.name}: contains the test token")
        for value in any_value.findall(text):
            if value != REDACTED:
                leaks.append(f"{path.name}: auth_token={value}")
    assert scanned >= 4
    assert leaks == []
