"""A server that stores a new campaign's or contact list's name otherwise than it was sent.

Beyond the normalization CONTRACT.md names (NFC, whitespace collapsed: the planner
compares names so), a real server may cut a name at a length limit or rewrite it. The
next plan then finds nothing by the manifest's name: before, every apply created the
campaign again, filled it and made it ready, so its people were called once more per
apply. A create whose answer names the object otherwise now fails, leaving it pending
and empty, and says why."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.emulator.store import Store

from .conftest import CONFIRMED, TOKEN, cli_emulator, run_cli

LIMIT = 40
LONG = "Acme renewal reminders for the northern California region 2031"
MANIFEST = """\
version: 1
contact_list: {list}
campaigns:
  - name: {name}
    pitch: Be brief
    status: ready
    numbers:
      - {{phone: "+16507991144", first_name: Joey, last_name: Smith}}
      - {{phone: "+14155550132", first_name: Priya, last_name: Raman}}
"""


@pytest.fixture
def cutting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """An emulator that keeps the first LIMIT characters of a campaign's or list's name."""
    create_campaign, create_list = Store.create_campaign, Store.create_list

    def cut_campaign(self: Store, account: int, values: dict[str, Any]) -> Any:
        return create_campaign(self, account, {**values, "name": values["name"][:LIMIT]})

    def cut_list(self: Store, account: int, name: str) -> Any:
        return create_list(self, account, name[:LIMIT])

    monkeypatch.setattr(Store, "create_campaign", cut_campaign)
    monkeypatch.setattr(Store, "create_list", cut_list)
    with cli_emulator(monkeypatch, tmp_path) as server:
        yield server


def _campaigns(emu: Emulator) -> list[tuple[Any, ...]]:
    return [
        (row["name"], row["status"], row["numbers"])
        for row in emu.store.sql(
            "SELECT name, status, (SELECT COUNT(*) FROM campaign_numbers n "
            "WHERE n.campaign_id = c.id) AS numbers FROM campaigns c ORDER BY id"
        )
    ]


def test_a_campaign_stored_under_a_cut_name_is_archived_empty_each_apply(
    cutting: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each apply made one more campaign of the same people, ready: called once per apply.
    Then each was left pending and empty, and once the manifest took the cut name, the
    copies were two active campaigns of one name, which stops every plan. Each is
    archived at once now, and the fixed manifest applies."""
    Path("m.yaml").write_text(MANIFEST.format(list="short", name=LONG))
    for _ in range(2):
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
        assert code == 1, out + err
        assert (
            f'the API stored the new campaign "{LONG}" (id ' in out + err
            and f'under another name, "{LONG[:LIMIT]}": no later plan would find it' in out + err
            and "it was archived at once, without its numbers (it never dialed)" in out + err
        ), out + err
        assert "Converged" not in out + err
    # two applies, two empty campaigns nobody calls (not two ready ones of two people each)
    assert _campaigns(cutting) == [(LONG[:LIMIT], "archived", 0)] * 2
    # the manifest takes the name as kept (manifests trim the space the cut left)
    kept = LONG[:LIMIT].rstrip()
    Path("m.yaml").write_text(MANIFEST.format(list="short", name=f'"{kept}"'))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 0, out + err
    assert _campaigns(cutting)[2:] == [(kept, "ready", 2)]


def test_a_refused_create_that_cannot_be_archived_says_so(
    cutting: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the archiving PATCH is refused, the error says the campaign was left as made
    (empty) and to archive it by hand."""
    from upcall_sync.emulator.exchange import bad

    def refuse(*_args: Any) -> Any:
        raise bad("status", "cannot be changed now")

    monkeypatch.setattr(Store, "update_campaign", refuse)
    Path("m.yaml").write_text(MANIFEST.format(list="short", name=LONG))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    assert (
        "it was left pending, without its numbers (archiving it failed: PATCH "
        "/campaigns/1: HTTP 400"
        in out + err
        and "archive it in Upcall)" in out + err
    ), out + err
    assert _campaigns(cutting) == [(LONG[:LIMIT], "pending", 0)]


def test_a_contact_list_stored_under_a_cut_name_stages_no_contacts(
    cutting: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each apply made one more contact list, holding the same people again."""
    Path("m.yaml").write_text(MANIFEST.format(list=f'"{LONG}"', name="Acme short"))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    assert (
        f'the API stored the new contact list "{LONG}" (id 1) under another name' in out + err
        and "its contacts were not created" in out + err
    ), out + err
    assert cutting.store.sql("SELECT COUNT(*) AS n FROM list_contacts")[0]["n"] == 0
    assert _campaigns(cutting) == [("Acme short", "pending", 0)]


def test_a_name_stored_normalized_is_no_other_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NFC and collapsed whitespace are the same name (CONTRACT.md): that create stands."""
    monkeypatch.chdir(tmp_path)
    name = "Cafe\u0301  renewals"
    Path("m.yaml").write_text(MANIFEST.format(list='"wr  list"', name=f'"{name}"'))
    with Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), normalize_names=True
    ) as server:
        monkeypatch.setenv("UPCALL_API_URL", server.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
        assert code == 0 and "Converged" in out + err, out + err
        assert _campaigns(server) == [("Caf\u00e9 renewals", "ready", 2)]
        server.store.close()


def _nfc(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: unicodedata.normalize("NFC", v) if isinstance(v, str) else v for k, v in values.items()
    }


def test_text_stored_in_nfc_converges(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that stores every text composed (NFC), given a manifest written decomposed
    (a CSV from a Mac, say): apply reported 'did not converge' at every run, its plan
    showing 'first_name "José" -> "José"', two sides nobody can tell apart."""
    create_campaign, update_campaign = Store.create_campaign, Store.update_campaign
    create_contact, update_contact = Store.create_contact, Store.update_contact
    monkeypatch.setattr(
        Store, "create_campaign", lambda self, a, v: create_campaign(self, a, _nfc(v))
    )
    monkeypatch.setattr(
        Store, "update_campaign", lambda self, a, i, v: update_campaign(self, a, i, _nfc(v))
    )
    monkeypatch.setattr(
        Store, "create_contact", lambda self, a, li, v: create_contact(self, a, li, _nfc(v))
    )
    monkeypatch.setattr(
        Store, "update_contact", lambda self, a, i, v: update_contact(self, a, i, _nfc(v))
    )
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(
        MANIFEST.format(list="nfc", name="Acme NFC")
        .replace("Be brief", "Se\u0301ance")
        .replace("first_name: Joey", "first_name: Jose\u0301")
    )
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED)) as server:
        monkeypatch.setenv("UPCALL_API_URL", server.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
        assert code == 0 and "Converged" in out + err, out + err
        names = {r["first_name"] for r in server.store.sql("SELECT first_name FROM list_contacts")}
        assert names == {"Jos\u00e9", "Priya"}
        code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", "m.yaml")
        assert code == 0 and "No changes" in out, out + err
        server.store.close()


def test_a_contact_stored_with_a_national_phone_is_never_added_to_a_campaign(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that keeps phones as "(650) 799-1144" (no country: not the E.164 the
    contract promises): no plan could tell the person was staged, so each apply staged
    them again and added the new contact to the campaign: called once more per apply."""
    create_contact = Store.create_contact

    def national(self: Store, account: int, list_id: int, values: dict[str, Any]) -> Any:
        phone = phonenumbers.parse(values["phone"])
        shown = phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.NATIONAL)
        return create_contact(self, account, list_id, {**values, "phone": shown})

    monkeypatch.setattr(Store, "create_contact", national)
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(MANIFEST.format(list="national", name="Acme national"))
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED)) as server:
        monkeypatch.setenv("UPCALL_API_URL", server.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        for _ in range(2):
            code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
            assert code == 1, out + err
            assert (
                "the API stored the new contact +16507991144 (Joey Smith) (id " in out + err
                and 'with the phone "(650) 799-1144", which does not read as the one sent'
                in out + err
            ), out + err
        assert _campaigns(server) == [("Acme national", "pending", 0)]
        server.store.close()


def test_a_value_the_server_rewrites_is_named_as_such_when_apply_does_not_converge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that keeps a language lowercased: every apply sends "EN" again and ends
    'did not converge' with 'language "en" -> "EN"', nothing saying why it never goes."""
    create_campaign, update_campaign = Store.create_campaign, Store.update_campaign

    def lower(values: dict[str, Any]) -> dict[str, Any]:
        language = values.get("language")
        return {**values, "language": language.lower()} if language else values

    monkeypatch.setattr(
        Store, "create_campaign", lambda self, a, v: create_campaign(self, a, lower(v))
    )
    monkeypatch.setattr(
        Store, "update_campaign", lambda self, a, i, v: update_campaign(self, a, i, lower(v))
    )
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(
        MANIFEST.format(list="lang", name="Acme lang").replace(
            "pitch: Be brief", "pitch: Be brief\n    language: EN"
        )
    )
    hint = (
        'language: the API keeps "en" when sent "EN" (its answer to this run\'s write): '
        'write "en" in the manifest, or every apply sends it again'
    )
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED)) as server:
        monkeypatch.setenv("UPCALL_API_URL", server.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")  # creates it
        assert code == 1 and hint in out, out + err
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "--format", "json", "m.yaml")
        assert code == 1, out + err
        [(explained)] = json.loads(out)["convergence"]["remaining"]
        assert explained["explanation"] == ['language "en" -> "EN"', hint]
        server.store.close()


def test_a_name_stored_half_normalized_is_another_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that collapses whitespace but does not compose to NFC keeps "Cafe\u0301  Q1"
    as "Cafe\u0301 Q1": equal under `name_key`, so the create stood, but plans ask the exact
    `?name=` filter for the name as written and its NFC, collapsed form only, and found
    neither: each apply created the campaign again, filled it and made it ready."""
    create_campaign, update_campaign = Store.create_campaign, Store.update_campaign

    def squish(values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "name": " ".join(values["name"].split())} if "name" in values else values

    monkeypatch.setattr(
        Store, "create_campaign", lambda self, a, v: create_campaign(self, a, squish(v))
    )
    monkeypatch.setattr(
        Store, "update_campaign", lambda self, a, i, v: update_campaign(self, a, i, squish(v))
    )
    with cli_emulator(monkeypatch, tmp_path) as server:
        Path("m.yaml").write_text(MANIFEST.format(list="half", name='"Cafe\u0301  Q1"'))
        for _ in range(2):
            code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
            assert code == 1, out + err
            assert (
                'under another form of its name, "Cafe\u0301 Q1" (it differs in Unicode '
                "composition or whitespace alone"
                in out + err
                and "it was archived at once, without its numbers" in out + err
            ), out + err
        assert _campaigns(server) == [("Cafe\u0301 Q1", "archived", 0)] * 2


def test_a_write_answered_as_plans_read_it_keeps_nothing_of_its_answer() -> None:
    """`note` keeps only what the API holds otherwise than sent, as plans compare it: a
    pitch written decomposed and ending in a newline (a YAML block scalar), answered NFC
    and trimmed, is no other value (a plan shows no change); a language lowercased is.
    A write kept as sent holds no dict at all (most of a 100,000-contact apply's Ops)."""
    from upcall_sync.client import Campaign
    from upcall_sync.core.changes import CreateCampaign, campaign_address
    from upcall_sync.jobs.answers import note
    from upcall_sync.jobs.schedule import Op

    change = CreateCampaign(
        address=campaign_address("Acme"),
        campaign="Acme",
        values={"name": "Acme", "pitch": "Se\u0301ance\n", "language": "EN"},
    )
    lowered = Op(0, "create_campaign", change, "create")
    note(lowered, Campaign(id="1", name="Acme", pitch="S\u00e9ance", language="en"))
    assert lowered.answered == {"language": "en"}
    kept = Op(1, "create_campaign", change, "create")
    note(kept, Campaign(id="1", name="Acme", pitch="S\u00e9ance", language="EN"))
    assert kept.answered is None


def test_a_contact_answered_with_another_extension_says_so() -> None:
    """The phone came back as sent, the extension did not (dropped, or " 12"): the error
    named the phone and asked for E.164, which the API had answered."""
    from upcall_sync.client import ListContact
    from upcall_sync.core.model import Contact
    from upcall_sync.errors import UpcallSyncError
    from upcall_sync.jobs.answers import refuse_another_line

    person = Contact("+16507991144", "12", "Joey", "Smith")
    for extension, said in ((None, "with no extension"), (" 12", 'with the extension " 12"')):
        answer = ListContact(id="7", phone="+16507991144", extension=extension)
        with pytest.raises(UpcallSyncError) as refused:
            refuse_another_line(person, [answer], "7")
        assert f"(id 7) {said}, which does not read as the one sent" in str(refused.value)
        assert "E.164" not in str(refused.value)
    # spaces in the phone read as the same line: the create stands
    refuse_another_line(person, [ListContact(id="7", phone="+1 650 799 1144", extension="12")], "7")


def test_a_create_answered_under_another_name_than_stored_is_read_back_not_archived(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that stores the name as sent but answers the POST with another form of
    it (escaped): the create was archived on the answer alone, and the archiving PATCH
    (which sends the name, as a PATCH may replace) renamed it to the answer's form. Each
    apply made and archived one more, never converging. The campaign is read back: it is
    stored under the manifest's name, so it stands, is filled and made ready."""
    from upcall_sync.emulator.app import Api
    from upcall_sync.emulator.exchange import Result

    single = Api._single

    def escaped(self: Api, kind: str, row: Any, status: int, *, wrote: bool = False) -> Result:
        out = single(self, kind, row, status, wrote=wrote)
        if kind == "campaign" and status == 201 and out.raw is not None:
            return Result(out.status, None, raw=out.raw.replace(b"&", b"&amp;"), wrote=wrote)
        return out

    monkeypatch.setattr(Api, "_single", escaped)
    with cli_emulator(monkeypatch, tmp_path) as server:
        Path("m.yaml").write_text(MANIFEST.format(list="short", name='"Q3 & Q4"'))
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
        assert code == 0 and "Converged" in out + err, out + err
        assert _campaigns(server) == [("Q3 & Q4", "ready", 2)]
        code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", "m.yaml")
        assert code == 0, out + err


def test_an_archiving_patch_without_an_answer_says_it_may_have_landed(
    cutting: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archiving PATCH's answer was lost each time (a reset, a 502: it landed): the
    error said the campaign was left pending, which it was not. It now says either may
    be so, and to look."""
    cutting.faults.add_rule("lost-write", "PATCH", "/campaigns/1", count=-1)
    Path("m.yaml").write_text(MANIFEST.format(list="short", name=LONG))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--max-retry-time", "1", "m.yaml")
    assert code == 1, out + err
    assert "it was left pending or archived, without its numbers (archiving it may have" in out, out
    assert "look in Upcall, and archive it if it is not)" in out, out
    assert "it was left pending, without" not in out
    assert _campaigns(cutting) == [(LONG[:LIMIT], "archived", 0)]


def test_a_create_sent_again_under_a_cut_name_names_the_earlier_copy(
    cutting: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first POST landed but its answer was lost; the look-up by the manifest's name
    cannot find a campaign stored under a cut one, so the POST went again, and only the
    second copy was archived: the first stayed active (ready, with no numbers to wait
    for) and the error said nothing of it. It is named now (never archived: nothing
    says this run made it)."""
    cutting.faults.add_rule("lost-write", "POST", "/campaigns", count=1)
    Path("m.yaml").write_text(
        MANIFEST.format(list="short", name=LONG).split("    numbers:")[0] + "    numbers: []\n"
    )
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1, out + err
    assert "it was archived at once, without its numbers (it never dialed); an earlier POST" in out
    assert "may have made another under that name (id 1): archive it in Upcall if so" in out, out
    assert _campaigns(cutting) == [(LONG[:LIMIT], "ready", 0), (LONG[:LIMIT], "archived", 0)]
