"""The API client against the emulator over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests

from upcall_sync.client import (
    CampaignAttributes,
    ContactAttributes,
    RetryPolicy,
    Secret,
    Transport,
    UpcallClient,
)
from upcall_sync.client.responses import parse_error_document
from upcall_sync.emulator import Emulator, Faults
from upcall_sync.errors import (
    ApiResponseError,
    ApiStatusError,
    InsecureTransport,
    OutcomeUnknown,
    PaginationError,
    UsageError,
)

from .conftest import FAST_RETRY, FAST_TIMEOUTS, TOKEN, connect, serve


def _seed(client: UpcallClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        camp = client.create_campaign(
            CampaignAttributes(
                name=f"c{i:03d}",
                status="ready" if i % 2 else "pending",
                from_number="+16501231234" if i % 3 == 0 else "+14155550100",
                language="en" if i % 5 else "fr",
            )
        )
        ids.append(camp.id)
    return ids


def test_pages_through_250_campaigns_with_page_size_capped_at_20(emulator: Emulator) -> None:
    emulator.api.max_page_size = 20
    client = connect(emulator)
    ids = _seed(client, 250)
    before = client.transport.stats.snapshot()["by_method"].get("GET", 0)

    listed = client.list_campaigns()

    got = [c.id for c in listed]
    assert sorted(got) == sorted(ids)
    assert len(got) == len(set(got)) == 250
    # The client asked for 1000 per page and followed links.next through 13 capped pages.
    gets = client.transport.stats.snapshot()["by_method"]["GET"] - before
    assert gets == 13


def test_status_and_from_number_filters_combine_with_and(client: UpcallClient) -> None:
    _seed(client, 60)
    expected = {f"c{i:03d}" for i in range(60) if i % 2 == 1 and i % 3 == 0}

    got = client.list_campaigns(status="ready", from_number="+16501231234")

    assert {c.name for c in got} == expected
    # text filters match the exact text sent (CONTRACT.md): the client sends E.164
    again = client.list_campaigns(status="ready", from_number="+1 650 123 1234")
    assert {c.name for c in again} == set()


def test_every_documented_campaign_filter(client: UpcallClient) -> None:
    _seed(client, 10)
    client.create_campaign(
        CampaignAttributes(
            name="dated",
            start_datetime=datetime(2026, 7, 11, 9, 0, tzinfo=UTC),
            end_datetime=datetime(2026, 7, 12, 9, 0, tzinfo=UTC),
        )
    )
    assert [c.name for c in client.list_campaigns(name="c003")] == ["c003"]
    assert {c.name for c in client.list_campaigns(language="fr")} == {"c000", "c005"}
    exact = datetime(2026, 7, 11, 9, 0, tzinfo=UTC)
    assert [c.name for c in client.list_campaigns(min_start_datetime=exact)] == ["dated"]
    assert [c.name for c in client.list_campaigns(max_start_datetime=exact)] == ["dated"]
    later = datetime(2026, 7, 11, 9, 0, 1, tzinfo=UTC)
    assert client.list_campaigns(min_start_datetime=later) == []
    now = datetime.now(UTC)
    assert len(client.list_campaigns(max_created_datetime=now)) == 11
    assert len(client.list_campaigns(min_updated_datetime=now.replace(year=2000))) == 11
    with pytest.raises(UsageError):
        client.list_campaigns(status="running")


def test_numbers_and_contact_lists_round_trip(client: UpcallClient) -> None:
    camp = client.create_campaign(CampaignAttributes(name="Q3"))
    lst = client.create_list("upcall-sync")
    assert [x.id for x in client.list_lists(name="upcall-sync")] == [lst.id]
    joey = client.create_contact(
        lst.id,
        ContactAttributes(
            phone="+16507991144",
            first_name="Joey",
            last_name="Smith",
            address={"city": "Fremont"},
        ),
    )
    janie = client.create_contact(
        lst.id, ContactAttributes(phone="+16507991144", first_name="Janie", last_name="Smith")
    )
    client.add_number(camp.id, joey.id)
    client.add_number(camp.id, int(janie.id))  # numeric ids are accepted too

    numbers = client.list_numbers(camp.id, phone="+16507991144")
    assert sorted(n.first_name or "" for n in numbers) == ["Janie", "Joey"]
    assert client.list_numbers(camp.id, first_name="Joey", city="Fremont")[0].last_name == "Smith"

    client.update_contact(lst.id, joey.id, ContactAttributes(title="Manager"))
    [updated] = client.list_numbers(camp.id, first_name="Joey")
    assert updated.title == "Manager"  # every number made from the contact shows the change

    with pytest.raises(ApiStatusError) as dup:
        client.add_number(camp.id, joey.id)
    assert dup.value.status == 400
    assert dup.value.fields[0].field == "list_contact_id"


def test_field_map_errors_become_status_field_and_message(client: UpcallClient) -> None:
    with pytest.raises(ApiStatusError) as info:
        client.create_campaign(CampaignAttributes(name="x", from_number="+16509999999"))
    err = info.value
    assert err.status == 400
    assert [(f.field, f.message) for f in err.fields] == [
        ("from_number", "Couldn't find that number")
    ]
    assert str(err) == "POST /campaigns: HTTP 400: from_number: Couldn't find that number"


def test_jsonapi_error_arrays_become_the_same_exception(emulator: Emulator) -> None:
    emulator.api.error_style = "jsonapi"
    client = connect(emulator)
    with pytest.raises(ApiStatusError) as info:
        client.create_campaign(CampaignAttributes(name="x", status="pending", from_number="+1"))
    assert [(f.field, f.message) for f in info.value.fields] == [
        ("from_number", "Couldn't find that number")
    ]


def test_parse_error_document_shapes() -> None:
    assert [
        (f.field, f.message)
        for f in parse_error_document({"errors": {"name": ["Campaign name is a required field"]}})
    ] == [("name", "Campaign name is a required field")]
    jsonapi = {
        "errors": [
            {
                "status": "422",
                "title": "Invalid",
                "detail": "is too long",
                "source": {"pointer": "/data/attributes/pitch"},
            },
            {"title": "Something broke"},
        ]
    }
    assert [(f.field, f.message) for f in parse_error_document(jsonapi)] == [
        ("pitch", "is too long"),
        ("base", "Something broke"),
    ]


def test_unknown_ids_and_wrong_token(client: UpcallClient, emulator: Emulator) -> None:
    with pytest.raises(ApiStatusError) as missing:
        client.get_campaign("999999")
    assert missing.value.status == 404
    bad = connect(emulator, "wrong-token-value")
    with pytest.raises(ApiStatusError) as unauthorized:
        bad.list_campaigns()
    assert unauthorized.value.status == 401
    assert "wrong-token-value" not in str(unauthorized.value)


def test_gets_and_patches_survive_30_percent_faults(emulator: Emulator) -> None:
    client = connect(emulator)
    ids = _seed(client, 30)
    emulator.faults = Faults(rate=0.3, kinds=("429", "500", "reset"), seed=7, retry_after=0)

    for i, cid in enumerate(ids):
        client.update_campaign(cid, CampaignAttributes(pitch=f"pitch {i}"))
        assert client.get_campaign(cid).pitch == f"pitch {i}"
    assert len(client.list_campaigns()) == 30

    stats = client.transport.stats.snapshot()
    faulted = [r for r in emulator.requests if r.fault]
    print(f"requests={stats['requests']} retries={stats['retries']} faults injected={len(faulted)}")
    assert stats["retries"] == len(faulted) > 5
    assert {r.fault for r in faulted} == {"429", "500", "reset"}


def test_post_is_not_retried_blindly(emulator: Emulator, client: UpcallClient) -> None:
    emulator.faults.add_rule("500", "POST", "/campaigns")
    with pytest.raises(OutcomeUnknown) as info:
        client.create_campaign(CampaignAttributes(name="once"))
    assert "may or may not have taken effect" in str(info.value)
    assert sum(1 for r in emulator.requests if r.method == "POST") == 1

    emulator.faults.add_rule("lost-write", "POST", "/campaigns")
    with pytest.raises(OutcomeUnknown):
        client.create_campaign(CampaignAttributes(name="lost"))
    # the write happened: the applier's lookup will find it
    assert [c.name for c in client.list_campaigns(name="lost")] == ["lost"]


def test_post_is_retried_after_429(emulator: Emulator, client: UpcallClient) -> None:
    emulator.faults.add_rule("429", "POST", "/campaigns", count=2)
    made = client.create_campaign(CampaignAttributes(name="after-429"))
    assert made.name == "after-429"
    assert client.transport.stats.retries == 2
    assert len(client.list_campaigns(name="after-429")) == 1


def test_retry_after_is_honoured(emulator: Emulator) -> None:
    slept: list[float] = []
    transport = Transport(
        emulator.base_url, TOKEN, retry=FAST_RETRY, timeouts=FAST_TIMEOUTS, sleep=slept.append
    )
    client = UpcallClient(transport)
    emulator.faults.retry_after = 3
    emulator.faults.add_rule("429", "GET", "/campaigns")
    client.list_campaigns()
    assert slept and slept[0] >= 3


def test_absurd_retry_after_fails_clearly(emulator: Emulator, client: UpcallClient) -> None:
    emulator.faults.add_rule("retry-after-huge", "GET", "/campaigns")
    with pytest.raises(ApiStatusError) as info:
        client.list_campaigns()
    assert "asks to wait 86400 s" in str(info.value)
    assert client.transport.stats.retries == 0


def test_retries_are_bounded(emulator: Emulator) -> None:
    client = connect(
        emulator,
        retry=RetryPolicy(max_attempts=3, backoff_initial=0.001, backoff_max=0.002, jitter=0),
    )
    emulator.faults.add_rule("503", "GET", "/campaigns", count=-1)
    with pytest.raises(ApiStatusError) as info:
        client.list_campaigns()
    assert info.value.status == 503
    assert "gave up after 3 attempts" in str(info.value)


def test_token_never_in_exceptions_logs_or_repr(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = connect(
        emulator,
        retry=RetryPolicy(max_attempts=2, backoff_initial=0.001, backoff_max=0.001, jitter=0),
    )
    texts = [repr(client), repr(client.transport), str(Secret(TOKEN)), f"{Secret(TOKEN)}"]
    for kind in ("reset", "500", "html", "invalid-json", "truncated"):
        emulator.faults.add_rule(kind, "GET", "/campaigns", count=-1)
        with pytest.raises(Exception) as info:
            client.list_campaigns()
        exc: BaseException | None = info.value
        while exc is not None:
            texts.extend([str(exc), repr(exc)])
            exc = exc.__cause__ or exc.__context__
        emulator.faults.clear()
    texts.extend(r.getMessage() for r in caplog.records)
    leaks = [t for t in texts if TOKEN in t]
    assert leaks == []
    assert len(texts) > 10


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(InsecureTransport) as info:
        Transport("http://api.example.com/api/v1", TOKEN)
    assert "plain http to api.example.com" in str(info.value)
    assert "--" not in str(info.value)  # the library names no flag; the CLI adds it
    Transport("http://api.example.com/api/v1", TOKEN, allow_insecure_http=True)
    Transport("https://www.upcall.com/api/v1", TOKEN)
    Transport("http://127.0.0.1:9/api/v1", TOKEN)
    Transport("http://localhost:9/api/v1", TOKEN)
    Transport("http://[::1]:9/api/v1", TOKEN)


def test_non_json_bodies_raise_client_error_with_excerpt(
    emulator: Emulator, client: UpcallClient
) -> None:
    emulator.faults.add_rule("html", "GET", "/campaigns", count=-1)
    with pytest.raises(ApiStatusError) as html:
        client.list_campaigns()
    assert html.value.status == 502
    assert "502 Bad Gateway" in str(html.value)
    emulator.faults.clear()

    emulator.faults.add_rule("invalid-json", "GET", "/campaigns", count=-1)
    with pytest.raises(ApiResponseError) as bad:
        client.list_campaigns()
    assert "not JSON" in str(bad.value)
    assert not isinstance(bad.value.__cause__, type(None))


# -- a tiny misbehaving server for what the emulator does not do -----------------


class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers: list[tuple[int, dict[str, str], bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        status, headers, body = self.answers.pop(0) if self.answers else (500, {}, b"{}")
        self.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def scripted() -> Iterator[str]:
    with serve(_Scripted) as base:
        yield base


def test_relative_next_links_are_followed_on_the_same_origin(scripted: str) -> None:
    base = scripted
    page1 = {
        "data": [{"id": "1", "type": "campaigns", "attributes": {"name": "a"}}],
        "links": {"next": "/api/v1/campaigns?page%5Bnumber%5D=2&auth_token=leaky"},
    }
    page2 = {"data": [{"id": "2", "type": "campaigns", "attributes": {"name": "b"}}], "links": {}}
    _Scripted.answers = [
        (200, {"Content-Type": "application/json"}, json.dumps(page1).encode()),
        (200, {"Content-Type": "application/json"}, json.dumps(page2).encode()),
    ]
    client = connect(base)
    assert [c.name for c in client.list_campaigns()] == ["a", "b"]


def test_wrong_resource_type_and_shape_are_reported(scripted: str) -> None:
    base = scripted
    doc = {"data": [{"id": "1", "type": "lists", "attributes": {"name": "a"}}], "links": {}}
    _Scripted.answers = [(200, {}, json.dumps(doc).encode())]
    client = connect(base)
    with pytest.raises(ApiResponseError, match=r"data\.type is 'lists', expected campaigns"):
        client.list_campaigns()
    _Scripted.answers = [
        (200, {}, json.dumps({"data": {"id": "1", "type": "campaigns", "attributes": {}}}).encode())
    ]
    with pytest.raises(ApiResponseError, match=r"data\.attributes\.name: Field required"):
        client.get_campaign("1")


def test_pagination_loop_and_foreign_next_are_refused(
    emulator: Emulator, client: UpcallClient
) -> None:
    _seed(client, 3)
    emulator.faults.add_rule("loop-next", "GET", "/campaigns", count=-1)
    with pytest.raises(PaginationError, match="already read"):
        client.list_campaigns()
    emulator.faults.clear()
    emulator.faults.add_rule("foreign-next", "GET", "/campaigns", count=-1)
    before = len(emulator.requests)
    with pytest.raises(PaginationError, match=r"attacker\.example"):
        client.list_campaigns()
    assert len(emulator.requests) == before + 1  # never followed


def test_session_is_injected_and_pooled(emulator: Emulator) -> None:
    session = requests.Session()
    client = connect(emulator, session=session)
    assert client.transport.session is session
    client.list_campaigns()


@pytest.mark.parametrize("bad", [5, True, 0, ["x"], {"a": 1}])
def test_fast_number_rows_refuse_what_the_model_would(bad: object) -> None:
    from upcall_sync.client.resources import contact_row

    item = {
        "id": "1",
        "type": "campaign_numbers",
        "attributes": {"phone": "+16507991144", "title": "ok", "address": {"city": "Fremont"}},
    }
    rid, _status, values = contact_row(item, ("campaign_numbers",), method="GET", url="/x")
    assert (
        rid == "1" and values[0] == "+16507991144" and values[4] == "ok" and values[10] == "Fremont"
    )
    for where in ("title", "address"):
        broken = {
            **item,
            "attributes": {**item["attributes"], where: bad if where == "title" else {"city": bad}},
        }
        with pytest.raises(ApiResponseError, match=r"data\.attributes\.(title|address\.city)"):
            contact_row(broken, ("campaign_numbers",), method="GET", url="/x")
    with pytest.raises(ApiResponseError, match=r"data\.type is 'lists'"):
        contact_row({**item, "type": "lists"}, ("campaign_numbers",), method="GET", url="/x")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        (" 30 ", 30.0),
        ("1.5", 1.5),
        ("0", 0.0),
        # digits however many: a wait past the client's cap (which then fails the request
        # at once, saying so), not "absent" (retried with backoff) as it was past 12 digits
        ("86400", 86400.0),
        ("99999999999", 99999999999.0),
        ("99999999999999999999", 1e12),
        ("9" * 400, 1e12),
        # not delay-seconds (RFC 9110: digits) nor an HTTP-date: as if absent. float()
        # read `inf` as a wait past every cap, and the request failed at once
        ("inf", None),
        ("Infinity", None),
        ("nan", None),
        ("-5", None),
        ("1e-300", None),
        ("1e400", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_is_delay_seconds_or_a_date(header: str, seconds: float | None) -> None:
    from upcall_sync.client.responses import retry_after_seconds

    assert retry_after_seconds(header) == seconds
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a past date
