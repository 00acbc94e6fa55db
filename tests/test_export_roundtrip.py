"""The export round trip as a property: for any account, through the real CLI,

    export -> validate exits 0 -> plan --detailed-exitcode exits 0 -> apply makes no write,

and two exports of one account are byte-identical; and an account holding one
value no manifest can hold is refused, naming it, with nothing written.
Accounts are generated with
YAML-special strings, repeated names, one phone shared by several people,
extensions, partial and empty addresses, empty campaigns, every status and
arbitrary Unicode. One emulator serves every example; each example gets its own
account (a fresh token) seeded straight into the store.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from upcall_sync.client.models import CAMPAIGN_STATUSES
from upcall_sync.emulator import Emulator, Faults
from upcall_sync.emulator.store import CONTACT_COLUMNS

from . import figures
from .conftest import CONFIRMED, TOKEN, run_cli

# Strings YAML (1.1 or 1.2) would read as something else, or that need care.
SPECIAL = (
    "NO",
    "no",
    "Yes",
    "on",
    "OFF",
    "y",
    "n",
    "null",
    "Null",
    "~",
    "true",
    "False",
    "02134",
    "1e3",
    "1_000",
    "0x1F",
    "0o17",
    "0b101",
    ".inf",
    "-.INF",
    ".NaN",
    "3.14",
    "-7",
    "+16507991144",
    "12:30",
    "1:20:30",
    "2016-07-11",
    "2016-07-11T00:04:58Z",
    "<<",
    "=",
    "- dash",
    "-",
    "? q",
    ": colon",
    "a: b",
    "a #b",
    "#hash",
    "'single'",
    '"double"',
    "[x]",
    "{y: 1}",
    "a, b",
    "&anchor",
    "*alias",
    "!tag",
    "!!str",
    "%pct",
    "@at",
    "`tick`",
    "|",
    ">",
    "${HOME}",
    "$${HOME}",
    "${",
    "$${",
    "${A}${B}}",
    "$$",
    "back\\slash",
    "tab\there",
    " leading",
    "trailing  ",
    "line\nbreak",
    "two\n\nlines\n",
    "ends with newlines\n\n\n",
    "  indented\n  block",
    "crlf\r\nline",
    "nel\x85x",
    "ls\u2028ps\u2029",
    "bom\ufeff",
    "nul\x00",
    "bell\x07",
    "del\x7f",
    "c1\x9f",
    "nbsp\xa0",
    "Zoë Ünïcödé",
    "日本語のキャンペーン",
    "emoji 📞☎",
    "RTL \u202eabc",
    "combining e\u0301",
    "",
    " ",
    "\n",
)
WORDS = ("Acme", "Q3 survey", "My Campaign", "Joey", "Janie", "Smith", "Safeway", "Fremont")
PHONES = (
    "+16507991144",
    "+16501231234",
    "+447911123456",
    "+33612345678",
    "+61412345678",
    "+1 650-555-0100",
)
EMAILS = ("joey@safeway.com", "a.b+c@x.co", "ünï@exämple.de", "NO@yes.null", "x@y.com  ")

text = st.one_of(
    st.sampled_from(SPECIAL),
    st.sampled_from(WORDS),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
maybe_text = st.one_of(st.none(), text)
# Names a manifest can hold: not empty, no trailing whitespace (tested apart).
names = st.one_of(st.sampled_from(WORDS), text).filter(lambda s: s.strip() and s == s.rstrip())


@st.composite
def people(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Contacts, one set of details per person (phone, extension, first and last name)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _ in range(draw(st.integers(0, 6))):
        person: dict[str, Any] = {
            "phone": draw(st.sampled_from(PHONES)),
            "extension": draw(st.one_of(st.none(), st.sampled_from(("12", "007", "x1", "")))),
            "first_name": draw(maybe_text),
            "last_name": draw(st.one_of(st.none(), st.sampled_from(("Smith", "NO", "")), text)),
            "title": draw(maybe_text),
            "company": draw(maybe_text),
            "email": draw(st.one_of(st.none(), st.sampled_from(EMAILS))),
        }
        for part in ("recipient", "line1", "line2", "city", "region", "postal_code", "country"):
            person[part] = draw(st.one_of(st.none(), st.none(), text))
        key = tuple(
            (person[k] or "").rstrip() for k in ("phone", "extension", "first_name", "last_name")
        )
        key = (key[0].replace(" ", "").replace("-", ""), *key[1:])
        out.setdefault(key, person)
    return list(out.values())


@st.composite
def campaigns(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(
        st.one_of(
            st.none(),
            st.datetimes(
                min_value=datetime(2000, 1, 1),
                max_value=datetime(2040, 1, 1),
                timezones=st.just(UTC),
            ),
        )
    )
    end = None
    if draw(st.booleans()):
        base = start or datetime(2020, 1, 1, tzinfo=UTC)
        end = base + timedelta(milliseconds=draw(st.integers(1000, 10**10)))
    return {
        "name": draw(st.one_of(st.sampled_from(("My Campaign", "NO", "Q3")), names)),
        "status": draw(st.sampled_from(CAMPAIGN_STATUSES)),
        "pitch": draw(maybe_text),
        "language": draw(st.one_of(st.none(), st.sampled_from(("en", "fr", "NO", "")), text)),
        "instructions": draw(maybe_text),
        "start_datetime": _api_time(start),
        "end_datetime": _api_time(end),
        "from_number": draw(st.one_of(st.none(), st.sampled_from(CONFIRMED))),
    }


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports are validated where they are written: numbers_csv must lie inside the
    working directory, as in a checkout."""
    monkeypatch.chdir(tmp_path)


def _api_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@st.composite
def accounts(draw: st.DrawFn) -> dict[str, Any]:
    pool = draw(people())
    camps = draw(st.lists(campaigns(), max_size=5))
    memberships = [
        (ci, ki)
        for ci in range(len(camps))
        for ki in sorted(draw(st.sets(st.integers(0, len(pool) - 1))) if pool else [])
    ]
    return {
        "campaigns": camps,
        "contacts": pool,
        "memberships": memberships,
        "mode": draw(st.sampled_from(("stdout", "out", "out-csv"))),
        "archived": draw(st.booleans()),
        "probe": draw(st.booleans()),
    }


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    emu = Emulator(faults=Faults(retry_after=0), log_size=1_000_000)
    with emu:
        yield emu
    emu.store.close()


_COUNTER = itertools.count()


#: the 300 examples run as this many tests, so that pytest-xdist spreads them over the cores
SHARDS = 4


@settings(
    max_examples=300 // SHARDS,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.parametrize("shard", range(SHARDS))
@given(account=accounts())
def test_export_round_trips(
    shard: int,
    shared_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    account: dict[str, Any],
) -> None:
    n = next(_COUNTER)
    figures.add("export_accounts")
    token = f"{TOKEN}-{n}"  # contains TOKEN: every output and file is scanned for it
    emu = shared_emulator
    acct = emu.add_account(token, CONFIRMED)
    emu.store.seed(
        acct,
        campaigns=account["campaigns"],
        list_name="seeded",
        contacts=[{k: c.get(k) for k in CONTACT_COLUMNS} for c in account["contacts"]],
        memberships=account["memberships"],
    )
    names = [c["name"] for c in account["campaigns"]]
    phones = [c["phone"].replace(" ", "").replace("-", "") for c in account["contacts"]]
    event(f"mode {account['mode']}")
    event(
        f"{len(account['memberships'])} numbers"
        if len(account["memberships"]) < 3
        else "3+ numbers"
    )
    if len(set(names)) < len(names):
        event("a live name repeats")
    if len(set(phones)) < len(phones):
        event("people share a phone")
    work = tmp_path / f"ex{n}"
    work.mkdir()
    extra = ["--include-archived"] if account["archived"] else []
    if account["probe"]:
        extra += [arg for phone in CONFIRMED for arg in ("--from-number", phone)]
    saved = {k: os.environ.get(k) for k in ("UPCALL_API_URL", "UPCALL_AUTH_TOKEN")}
    os.environ.update(UPCALL_API_URL=emu.base_url, UPCALL_AUTH_TOKEN=token, NO_COLOR="1")
    try:
        check_round_trip(emu, acct, capsys, work, account["mode"], extra)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_round_trip(
    emu: Emulator,
    acct: int,
    capsys: pytest.CaptureFixture[str],
    work: Path,
    mode: str,
    extra: list[str],
) -> None:
    first_seq = emu.requests[-1].seq if emu.requests else 0
    if mode == "stdout":
        code, out, err = run_cli(capsys, "export", *extra)
        assert code == 0, err
        again = run_cli(capsys, "export", *extra)
        assert again[0] == 0 and again[1] == out, "two exports differ"
        target = work / "account.yaml"
        target.write_text(out, encoding="utf-8")
    else:
        target = work / "manifests"
        csv = ["--csv-over", "1"] if mode == "out-csv" else []
        code, out, err = run_cli(capsys, "export", "--out", str(target), *csv, *extra)
        assert code == 0, err
        if not target.exists():  # nothing to export: an empty account (or all archived)
            assert "Nothing to export" in out
            target.mkdir()  # an empty manifest set: check that the account plans to nothing
            (target / "empty.yaml").write_text("version: 1\ncampaigns: []\n")
        before = {p.name: p.read_bytes() for p in target.iterdir()}
        code, _out, err = run_cli(
            capsys, "export", "--out", str(target), "--overwrite", *csv, *extra
        )
        assert code == 0, err
        assert {p.name: p.read_bytes() for p in target.iterdir()} == before, "exports differ"
    code, out, err = run_cli(capsys, "validate", str(target))
    assert code == 0, err
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(target))
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(target))
    assert code == 0, out + err
    mine = [r for r in emu.requests if r.seq > first_seq and r.account == acct]
    assert mine, "no request reached this account"
    assert {r.method for r in mine} == {"GET"}, [r for r in mine if r.method != "GET"]
    assert not any(r.wrote for r in mine)
    figures.add("export_round_trips")


# What a manifest cannot hold: (kind, campaign changes, contact changes, expected words).
BAD = {
    "name ends in whitespace": ({"name": "Q3 "}, {}, "ends in whitespace"),
    "empty name": ({"name": " \n"}, {}, "the name is empty"),
    "end before start": (
        {"start_datetime": "2026-01-02T00:00:00.000Z", "end_datetime": "2026-01-01T00:00:00.000Z"},
        {},
        "is not after start_datetime",
    ),
    "bad email": ({}, {"email": "joey@@safeway"}, "is not an address a manifest accepts"),
    "email with a space": ({}, {"email": " joey@safeway.com"}, "is not an address"),
    "impossible phone": ({}, {"phone": "+1650"}, "is not a phone a manifest accepts"),
    "trunk prefix": ({}, {"phone": "+4402079460000"}, "is not a phone a manifest accepts"),
    "unparseable phone": ({}, {"phone": "call me"}, "is not a phone a manifest accepts"),
    "two sets of details": ({}, {"title": "Director"}, "has two sets of details"),
}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(account=accounts(), kind=st.sampled_from(sorted(BAD)), to_dir=st.booleans())
def test_what_a_manifest_cannot_hold_is_refused_and_nothing_written(
    shared_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    account: dict[str, Any],
    kind: str,
    to_dir: bool,
) -> None:
    """Any account with one such value: exit 1, the reason named, no file written."""
    n = next(_COUNTER)
    figures.add("export_accounts")
    token = f"{TOKEN}-bad-{n}"
    emu = shared_emulator
    acct = emu.add_account(token, CONFIRMED)
    camp_change, contact_change, words = BAD[kind]
    campaigns = [*account["campaigns"], {"name": "Target", "status": "ready", **camp_change}]
    contacts = [c for c in account["contacts"] if c["phone"] != "+16507991144"]
    joey = {"phone": "+16507991144", "first_name": "Joey", "title": "Manager"}
    target = len(campaigns) - 1
    memberships = [(ci, ki) for ci, ki in account["memberships"] if ki < len(contacts)]
    if kind == "two sets of details":  # Joey as a Manager in one campaign, a Director in another
        campaigns.append({"name": "Other", "status": "ready"})
        contacts += [joey, {**joey, **contact_change}]
        memberships += [(target, len(contacts) - 2), (target + 1, len(contacts) - 1)]
    else:
        contacts.append({**joey, **contact_change})
        memberships.append((target, len(contacts) - 1))
    emu.store.seed(
        acct,
        campaigns=campaigns,
        list_name="seeded",
        contacts=[{k: c.get(k) for k in CONTACT_COLUMNS} for c in contacts],
        memberships=memberships,
    )
    out_dir = tmp_path / f"bad{n}"
    args = ["export", "--out", str(out_dir)] if to_dir else ["export"]
    saved = {k: os.environ.get(k) for k in ("UPCALL_API_URL", "UPCALL_AUTH_TOKEN")}
    os.environ.update(UPCALL_API_URL=emu.base_url, UPCALL_AUTH_TOKEN=token, NO_COLOR="1")
    try:
        code, out, err = run_cli(capsys, *args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code == 1, out + err
    assert out == "" and not out_dir.exists()
    assert words in err, err
    assert err.splitlines()[-1].startswith("error: nothing written: ")
    figures.add("export_refusals")
