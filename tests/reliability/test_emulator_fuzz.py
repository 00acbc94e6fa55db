"""Emulator hardening: arbitrary requests never get a 5xx; accounts never see each other.

(The emulator does not publish an OpenAPI description, so instead of a
schemathesis run this is a hypothesis fuzzer over its routes, methods,
queries, bodies and tokens.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upcall_sync.emulator import Emulator

from .. import figures
from ..conftest import CONFIRMED, OTHER_TOKEN, TOKEN

_session = requests.Session()
_state: dict[str, Emulator] = {}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(
        tokens=[TOKEN, OTHER_TOKEN], confirmed_numbers=list(CONFIRMED), max_body_bytes=64 * 1024
    ) as emu:
        _state["emu"] = emu
        base = emu.base_url
        # some state in the first account to poke at
        camp = _session.post(
            f"{base}/campaigns",
            params={"auth_token": TOKEN},
            json={"data": {"type": "campaigns", "attributes": {"name": "mine"}}},
        ).json()
        lst = _session.post(
            f"{base}/lists",
            params={"auth_token": TOKEN},
            json={"data": {"type": "lists", "attributes": {"name": "mine"}}},
        ).json()
        contact = _session.post(
            f"{base}/lists/{lst['data']['id']}/contacts",
            params={"auth_token": TOKEN},
            json={"data": {"type": "list_contacts", "attributes": {"phone": "+16507991144"}}},
        ).json()
        _session.post(
            f"{base}/campaigns/{camp['data']['id']}/numbers",
            params={"auth_token": TOKEN},
            json={
                "data": {
                    "type": "numbers",
                    "attributes": {"list_contact_id": contact["data"]["id"]},
                }
            },
        )
        yield emu
    _state.clear()


_ids = st.one_of(
    st.sampled_from(["1", "2", "3", "0", "-1", "abc", "1.5", "99999999999999999999", "%00", "1e3"]),
    st.integers(0, 10).map(str),
)
_paths = st.one_of(
    st.just("/campaigns"),
    _ids.map(lambda i: f"/campaigns/{i}"),
    _ids.map(lambda i: f"/campaigns/{i}/numbers"),
    st.just("/lists"),
    _ids.map(lambda i: f"/lists/{i}/contacts"),
    st.tuples(_ids, _ids).map(lambda t: f"/lists/{t[0]}/contacts/{t[1]}"),
    st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=12).map(
        lambda t: "/" + t.replace("?", "").replace("#", "")
    ),
)
_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_attrs = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "pitch",
            "status",
            "from_number",
            "start_datetime",
            "end_datetime",
            "phone",
            "first_name",
            "address",
            "list_contact_id",
            "bogus",
            "language",
        ]
    ),
    _json,
    max_size=5,
)
_bodies = st.one_of(
    st.none(),
    st.binary(max_size=40),
    _json.map(lambda j: json.dumps(j).encode()),
    st.tuples(
        st.sampled_from(["campaigns", "numbers", "lists", "list_contacts", "x"]),
        _attrs,
        st.one_of(st.none(), _json),
    ).map(
        lambda t: json.dumps(
            {
                "data": {
                    "type": t[0],
                    "attributes": t[1],
                    **({"id": t[2]} if t[2] is not None else {}),
                }
            }
        ).encode()
    ),
)
_queries = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "status",
            "from_number",
            "min_start_datetime",
            "max_updated_datetime",
            "phone",
            "page[number]",
            "page[size]",
            "city",
            "auth_token",
            "bogus",
        ]
    ),
    st.text(max_size=15),
    max_size=4,
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"]),
    path=_paths,
    query=_queries,
    body=_bodies,
    ctype=st.sampled_from(
        ["application/json", "application/vnd.api+json", "text/json", "text/plain", ""]
    ),
    token=st.sampled_from([TOKEN, OTHER_TOKEN, "nope", None]),
)
def _no_5xx(
    method: str, path: str, query: dict[str, str], body: bytes | None, ctype: str, token: str | None
) -> None:
    emu = _state["emu"]
    params = {k: v for k, v in query.items() if k != "auth_token"}
    if token is not None:
        params["auth_token"] = token
    headers = {"Content-Type": ctype} if ctype and body is not None else {}
    resp = _session.request(
        method, emu.base_url + path, params=params, data=body, headers=headers, timeout=5
    )
    figures.add("fuzz_requests")
    if resp.status_code >= 500:
        figures.add("fuzz_5xx")
    assert resp.status_code < 500, (method, path, params, body, resp.text[:200])
    doc = resp.json()
    assert isinstance(doc, dict) and ("data" in doc or "errors" in doc)
    if token == OTHER_TOKEN and resp.ok:
        assert "mine" not in resp.text  # never the first account's data


def test_no_request_gets_a_5xx(emulator: Emulator) -> None:
    _no_5xx()
    assert emulator.requests


def test_other_account_never_sees_ids_filters_or_links(emulator: Emulator) -> None:
    base = emulator.base_url
    mine = {r["id"] for r in emulator.store.sql("SELECT id FROM campaigns WHERE name = 'mine'")}
    for cid in mine:
        for path in (f"/campaigns/{cid}", f"/campaigns/{cid}/numbers"):
            assert _session.get(base + path, params={"auth_token": OTHER_TOKEN}).status_code == 404
    for query in (
        {"name": "mine"},
        {"from_number": "+16501231234"},
        {"page[number]": "1", "page[size]": "1"},
    ):
        doc: dict[str, Any] = _session.get(
            base + "/campaigns", params={**query, "auth_token": OTHER_TOKEN}
        ).json()
        assert all(d["attributes"]["name"] != "mine" for d in doc["data"])
        assert TOKEN not in json.dumps(doc["links"])
    lists = _session.get(base + "/lists", params={"auth_token": OTHER_TOKEN}).json()
    assert all(d["attributes"]["name"] != "mine" for d in lists["data"])
