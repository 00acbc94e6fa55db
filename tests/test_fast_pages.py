"""Pages decoded straight into rows (msgspec, `client.rows.decode_rows`) give exactly
what the careful path gives (orjson, then `resources.contact_row` per resource): the
same rows, ids and links, or, for a malformed page, the same one-line error (issue 26).

Every page goes through a real `Transport` (a canned HTTP adapter answers it), once
with the listing's page decoder and once without it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter

from upcall_sync.client import Listing, UpcallClient
from upcall_sync.core.model import ADDRESS_PARTS, TOP_FIELDS
from upcall_sync.errors import UpcallSyncError
from upcall_sync.state.rows import (
    live_list_contact,
    live_list_contacts,
    live_number,
    live_numbers,
)

from .conftest import TOKEN


class _Canned(HTTPAdapter):
    """Answers every request 200 with `body`."""

    body = b""
    decoded = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        resp = requests.Response()
        resp.status_code = 200
        resp.headers["Content-Type"] = "application/vnd.api+json"
        resp.raw = urllib3.HTTPResponse(
            body=io.BytesIO(self.body), preload_content=False, status=200
        )
        resp.url = str(request.url)
        resp.request = request
        return resp


_ADAPTER = _Canned()


def _client() -> UpcallClient:
    session = requests.Session()
    session.mount("http://", _ADAPTER)
    return UpcallClient.connect("http://127.0.0.1:9/api/v1", TOKEN, session=session)


_CLIENT = _client()


def _read(listing: Listing[Any], body: bytes) -> tuple[Any, ...]:
    _ADAPTER.body = body
    try:
        page, rows = _CLIENT.first_page(listing)
    except UpcallSyncError as exc:
        return ("error", type(exc).__name__, str(exc))
    if listing.decode is not None:
        _ADAPTER.decoded = page.rows is not None
    ids = [(type(i).__name__, i) for i in page.ids]
    return ("ok", rows, ids, page.last, page.has_next, page.next_url, page.size)


def _both(listing: Listing[Any], body: bytes) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    assert listing.decode is not None
    careful = Listing(listing.path, listing.types, listing.row, listing.params)
    _ADAPTER.decoded = False
    return _read(listing, body), _read(careful, body)


_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_TEXT = st.one_of(
    st.none(),
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["", " ", "x ", "\u3000", "é\x00"]),
)
_PHONE = st.integers(0, 11).flatmap(
    lambda n: (
        st.sampled_from(["", "  ", "+1 650 555 0100", "+16505550100 ", None, "x"])
        if n == 0
        else _TEXT
        if n == 1
        else st.integers(10**6, 10**14).map(lambda k: f"+{k}")
    )
)


def _value(ok: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # mostly what the API sends; now and then anything at all
    return st.integers(0, 24).flatmap(lambda n: _ODD if n == 13 else ok)


@st.composite
def _resource(draw: st.DrawFn, rtype: str) -> Any:
    attrs: dict[str, Any] = {"phone": draw(_value(_PHONE))}
    for key in TOP_FIELDS[1:]:
        if draw(st.integers(0, 4)):
            attrs[key] = draw(_value(_TEXT))
    address = draw(
        st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(ADDRESS_PARTS), _value(_TEXT), max_size=4),
            st.dictionaries(st.sampled_from(ADDRESS_PARTS), _value(_TEXT), max_size=4),
            _ODD,
        )
    )
    if draw(st.booleans()):
        attrs["address"] = address
    if draw(st.booleans()):
        attrs["status"] = draw(st.one_of(st.sampled_from(["active", "done"]), _ODD))
    if draw(st.integers(0, 5)) == 3:
        attrs[draw(st.sampled_from(["created_at", "notes", "x"]))] = draw(_ODD)
    item: dict[str, Any] = {
        "id": draw(st.one_of(st.text(max_size=3), st.integers(0, 99), _value(st.just("1")))),
        "type": draw(_value(st.sampled_from([rtype] * 12 + ["lists"]))),
        "attributes": attrs if draw(st.integers(0, 25)) != 13 else draw(_ODD),
    }
    if draw(st.integers(0, 25)) == 13:
        del item[draw(st.sampled_from(["id", "type", "attributes"]))]
    return item


@st.composite
def _body(draw: st.DrawFn, rtype: str) -> bytes:
    data = draw(st.lists(_resource(rtype), max_size=4))
    if data and draw(st.integers(0, 3)) == 2:
        data.append(draw(st.sampled_from(data)))  # the same resource twice
    links = draw(
        st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "next": st.sampled_from(["/x?page[number]=2&page[size]=2", None]),
                    "last": st.sampled_from(["/x?page[number]=3&page[size]=2", 3]),
                },
            ),
            _ODD,
        )
    )
    doc: Any = {"data": data, "links": links}
    if draw(st.integers(0, 15)) == 7:
        doc = draw(st.one_of(_ODD, st.just({"data": None}), st.just({"links": {}})))
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    raw = text.encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, 30))
    if cut == 17 and raw:  # a broken body: cut short, or a byte that is not UTF-8
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif cut == 18:
        raw = raw.replace(b'"', b'"\xff', 1)
    return raw


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["campaign_numbers", "list_contacts"]).flatmap(
        lambda t: st.tuples(st.just(t), _body(t))
    )
)
def test_pages_decode_as_the_careful_path_reads_them(case: tuple[str, bytes]) -> None:
    rtype, body = case
    listing = (
        _CLIENT.number_rows("c1") if rtype == "campaign_numbers" else _CLIENT.contact_rows("l1")
    )
    fast, careful = _both(listing, body)
    event(f"{careful[0]}, {'decoded' if _ADAPTER.decoded else 'careful path'}")
    assert fast == careful


@pytest.mark.parametrize(
    "body",
    [
        # duplicate keys: the last one wins on both paths
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"title":5,"title":"ok"}}]}',
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"title":"ok","title":5}}]}',
        # an id orjson reads as a float (beyond 64 bits)
        b'{"data":[{"id":18446744073709551616,"type":"campaign_numbers",'
        b'"attributes":{"phone":"+16505550100"}}]}',
        # not UTF-8 in a member nobody reads
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"notes":"\xff"}}]}',
        # a lone surrogate, escaped
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"\\ud800"}}]}',
        # nesting deeper than msgspec's recursion limit, in a member nobody reads (break-it)
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"zzz":' + b"[" * 1000 + b"]" * 1000 + b"}}]}",
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"zzz":' + b"[" * 1100 + b"]" * 1100 + b"}}]}",
        # a number beyond a double, in a member nobody reads: orjson refuses the body (break-it)
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"zzz":1e999}}]}',
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"zzz":-1E+400}}]}',
        # below a double's range, which orjson reads as 0.0: the guard's look-alikes
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"zzz":[2.5e-400,1E-0400,-1e-999]}}]}',
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"zzz":1' + b"0" * 400 + b"}}]}",
    ],
)
def test_edge_bodies_read_alike(body: bytes) -> None:
    fast, careful = _both(_CLIENT.number_rows("c1"), body)
    assert fast == careful


def test_a_malformed_row_gets_the_one_line_error_naming_the_field() -> None:
    body = (
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100"}},'
        b'{"id":"2","type":"campaign_numbers","attributes":{"phone":"+16505550101",'
        b'"address":{"city":7}}}]}'
    )
    fast, careful = _both(_CLIENT.number_rows("c1"), body)
    assert fast == careful
    assert fast[0] == "error"
    assert "data.attributes.address.city: Input should be a valid string" in fast[2]
    assert "\n" not in fast[2]


def test_clean_pages_take_the_fast_path() -> None:
    body = (
        b'{"data":[{"id":"1","type":"campaign_numbers","attributes":{"phone":"+16505550100",'
        b'"first_name":"Ann","status":"active","address":null}}],"links":{}}'
    )
    _ADAPTER.body = body
    page, rows = _CLIENT.first_page(_CLIENT.number_rows("c1"))
    assert page.rows is not None and page.items == []
    assert rows == [("1", "active", ("+16505550100", "", "Ann", *[""] * 11))]
    page, live = _CLIENT.first_page(_CLIENT.number_rows("c1").with_pages(live_numbers))
    assert page.rows is live and live == live_numbers(rows)
    page, live = _CLIENT.first_page(_CLIENT.number_rows("c1").with_rows(live_number))
    assert page.rows is live and live == live_numbers(rows)


@given(st.lists(st.tuples(st.text(max_size=2), _PHONE, st.lists(_TEXT, min_size=13, max_size=13))))
def test_page_mappings_map_like_the_row_mappings(rows: list[Any]) -> None:
    from upcall_sync.client import ContactRow, NumberRow

    clean = [(rid, phone or "", tuple(v or "" for v in rest)) for rid, phone, rest in rows]
    numbers = [NumberRow(rid, "s", (phone, *rest)) for rid, phone, rest in clean]
    contacts = [ContactRow(rid, (phone, *rest)) for rid, phone, rest in clean]
    assert live_numbers(numbers) == [live_number(r) for r in numbers]
    assert live_list_contacts(contacts) == [live_list_contact(r) for r in contacts]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["page[number]", "page[size]", "x"]),
            st.one_of(st.integers(-3, 300).map(str), st.sampled_from(["", "a", "1.5", " 2"])),
        ),
        max_size=4,
    )
)
def test_page_facts_read_a_link_as_page_number_and_page_size_do(pairs: list[Any]) -> None:
    from urllib.parse import urlencode

    from upcall_sync.client.paging import page_facts, page_number, page_size

    url = "/c/1/numbers?" + urlencode(pairs)
    assert page_facts(url) == (page_number(url), page_size(url))
    assert page_facts(None) == (None, None)
