"""`upcall-sync export` end to end against the emulator, and its YAML/CSV emitter."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from upcall_sync.client import Campaign
from upcall_sync.core.model import Contact
from upcall_sync.emulator import Emulator
from upcall_sync.emulator.store import CONTACT_COLUMNS
from upcall_sync.jobs.export import ExportOptions, LiveRead, Number, build, slug
from upcall_sync.jobs.export_yaml import block_or_scalar, csv_text, escape_env, scalar
from upcall_sync.manifest.envvars import expand_env
from upcall_sync.manifest.yamlload import parse_yaml

from .conftest import FIXTURES, TOKEN, run_cli

REFERENCE = json.loads((FIXTURES / "reference_examples.json").read_text())["examples"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports are validated where they are written: numbers_csv must lie inside the
    working directory, as in a checkout."""
    monkeypatch.chdir(tmp_path)


def seed(emu: Emulator, campaigns: list[dict[str, Any]], contacts=(), memberships=()) -> int:
    first = emu.store.seed(
        emu.accounts[TOKEN],
        campaigns=campaigns,
        list_name="seeded",
        contacts=[{k: c.get(k) for k in CONTACT_COLUMNS} for c in contacts],
        memberships=list(memberships),
    )
    return int(first["first_campaign_id"])


def seed_reference(emu: Emulator) -> int:
    """The reference's own examples: two `My Campaign`s, Joey and Janie on one phone."""
    camps = [dict(c["attributes"]) for c in REFERENCE["list_campaigns"]["data"]]
    people = []
    for n in REFERENCE["list_campaign_numbers"]["data"]:
        attrs = dict(n["attributes"])
        attrs.update(attrs.pop("address"))
        people.append(attrs)
    return seed(emu, camps, people, [(0, 0), (0, 1), (1, 0), (1, 1)])


def writes_since(emu: Emulator, seq: int) -> list[Any]:
    return [r for r in emu.requests if r.seq > seq and (r.method != "GET" or r.wrote)]


def last_seq(emu: Emulator) -> int:
    return emu.requests[-1].seq if emu.requests else 0


def round_trip(capsys: pytest.CaptureFixture[str], emu: Emulator, target: Path) -> None:
    """validate exits 0, plan --detailed-exitcode exits 0, apply makes no write."""
    seq = last_seq(emu)
    code, _out, err = run_cli(capsys, "validate", str(target))
    assert code == 0, err
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(target))
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(target))
    assert code == 0, out + err
    assert writes_since(emu, seq) == []


# -- the reference's own data -------------------------------------------------------------


def test_reference_examples_round_trip(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = seed_reference(cli_env)
    code, out, err = run_cli(capsys, "export")
    assert code == 0, err
    doc = yaml.safe_load(out)
    mine = doc["campaigns"]
    assert [(c["name"], c["id"]) for c in mine] == [
        ("My Campaign", str(first)),
        ("My Campaign", str(first + 1)),
    ]
    numbers = mine[0]["numbers"]
    assert [(n["phone"], n["first_name"]) for n in numbers] == [
        ("+16507991144", "Janie"),
        ("+16507991144", "Joey"),
    ]
    assert numbers[1]["address"]["postal_code"] == "94536"
    assert "    start_datetime: 2016-07-11T00:04:58Z\n" in out
    assert "status" not in numbers[0] and "created_at" not in out and "updated_at" not in out
    assert "from_number is not managed" in out
    m = tmp_path / "account.yaml"
    m.write_text(out)
    round_trip(capsys, cli_env, m)
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "dir"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == [
        f"my-campaign-{first}.yaml",
        f"my-campaign-{first + 1}.yaml",
    ]
    round_trip(capsys, cli_env, tmp_path / "dir")


def test_names_the_planner_takes_for_one_are_pinned_and_round_trip(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`Café` written precomposed and decomposed, and `Acme Q3` with two spaces, are two
    live campaigns each, but one name to the planner (NFC, whitespace runs as one): export
    pins their ids, or its manifests would not plan."""
    names = ["Caf\u00e9", "Cafe\u0301", "Acme Q3", "Acme  Q3", "Other"]
    first = seed(cli_env, [{"name": n, "pitch": "p"} for n in names])
    code, out, err = run_cli(capsys, "export")
    assert code == 0, err
    pinned = [(c["name"], c.get("id")) for c in yaml.safe_load(out)["campaigns"]]
    assert sorted(pinned, key=str) == sorted(
        [(n, str(first + i) if n != "Other" else None) for i, n in enumerate(names)], key=str
    )
    m = tmp_path / "account.yaml"
    m.write_text(out)
    round_trip(capsys, cli_env, m)


def test_export_is_read_only_with_the_fewest_requests(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Three pages of campaigns; numbers per exported campaign; archived ones not read."""
    camps = [
        {"name": f"c{i:03d}", "status": "archived" if i % 10 == 0 else "ready"} for i in range(250)
    ]
    people = [{"phone": f"+1650555{i:04d}", "first_name": f"P{i}"} for i in range(150)]
    members = [(0 + 1, k) for k in range(150)] + [(2, k) for k in range(3)]
    seed(cli_env, camps, people, members)
    seq = last_seq(cli_env)
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "m"))
    assert code == 0, err
    mine = [r for r in cli_env.requests if r.seq > seq]
    exported = sum(1 for c in camps if c["status"] != "archived")
    # listing: 3 pages; numbers: one page each, two for the campaign with 150 numbers
    minimum = math.ceil(250 / 100) + exported + 1
    assert {r.method for r in mine} == {"GET"} and not any(r.wrote for r in mine)
    assert len(mine) == minimum
    assert f"({minimum:,} GET requests)" in out
    assert "c010" not in {p.stem for p in (tmp_path / "m").iterdir()}  # archived: left out
    csv = (tmp_path / "m" / "c001.csv").read_text()
    assert csv.splitlines()[0] == "phone,first_name" and len(csv.splitlines()) == 151
    assert "numbers_csv: c001.csv" in (tmp_path / "m" / "c001.yaml").read_text()
    assert "numbers:" in (tmp_path / "m" / "c002.yaml").read_text()  # 3 numbers: inline
    round_trip(capsys, cli_env, tmp_path / "m")


# -- options ------------------------------------------------------------------------------


def test_name_globs_archived_and_the_prune_scope_suggestion(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(
        cli_env,
        [
            {"name": "Acme one", "status": "ready"},
            {"name": "Acme two", "status": "archived"},
            {"name": "acme lower"},
            {"name": "Other"},
        ],
    )
    code, out, _ = run_cli(capsys, "export", "--name", "Acme *")
    assert code == 0
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["Acme one"]
    assert '# prune_scope: "Acme *"' in out and "\nprune_scope" not in out
    code, out, _ = run_cli(capsys, "export", "--name", "Acme *", "--include-archived")
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["Acme one", "Acme two"]
    code, out, _ = run_cli(capsys, "export", "--name", "Acme one", "--name", "Other")
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["Acme one", "Other"]
    assert "no single glob covers exactly" in out
    code, out, _ = run_cli(capsys, "export")
    assert '# prune_scope: "*"' in out
    (tmp_path / "all.yaml").write_text(out)
    round_trip(capsys, cli_env, tmp_path / "all.yaml")


def test_a_name_with_glob_characters_exports_that_campaign_as_target_takes_it(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--name "[x]"` exported nothing (the glob reads it as "x"), exit 0."""
    seed(cli_env, [{"name": "[x]"}, {"name": "x"}, {"name": "*star"}, {"name": "a star"}])
    code, out, _ = run_cli(capsys, "export", "--name", "[x]")
    assert code == 0
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["[x]"]
    code, out, _ = run_cli(capsys, "export", "--name", "*star")
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["*star"]
    code, out, _ = run_cli(capsys, "export", "--name", "*sta?")  # no such name: a glob
    assert sorted(c["name"] for c in yaml.safe_load(out)["campaigns"]) == ["*star", "a star"]


def test_from_number_probes_one_listing_each_and_is_written_where_it_matches(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(
        cli_env,
        [
            {"name": "A", "from_number": "+16501231234"},
            {"name": "B", "from_number": "+14155550100"},
            {"name": "C"},
        ],
    )
    seq = last_seq(cli_env)
    code, out, err = run_cli(
        capsys, "export", "--from-number", "+1 650 123 1234", "--from-number", "+16501231234"
    )
    assert code == 0, err
    probes = [r for r in cli_env.requests if r.seq > seq and dict(r.query).get("from_number")]
    assert [dict(r.query)["from_number"] for r in probes] == ["+16501231234"]
    found = {c["name"]: c.get("from_number") for c in yaml.safe_load(out)["campaigns"]}
    assert found == {"A": "+16501231234", "B": None, "C": None}
    assert "from_number was probed for +16501231234" in out
    (tmp_path / "m.yaml").write_text(out)
    round_trip(capsys, cli_env, tmp_path / "m.yaml")
    code, _out, err = run_cli(capsys, "export", "--from-number", "12")
    assert code == 1 and err.startswith("error: --from-number:")


def test_a_probe_without_a_country_code_is_refused_without_naming_phone_region(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "export", "--from-number", "(650) 123-1234")
    assert code == 1 and out == ""
    assert err == (
        'error: --from-number: "(650) 123-1234" has no country code: '
        "write it as +<country code> ...\n"
    )


def test_a_campaign_matching_two_probes_leaves_from_number_unmanaged() -> None:
    """A campaign has one from_number; if two probes list it, neither can be trusted."""
    c = Campaign(id="7", name="A", status="ready")
    live = LiveRead([c], [c], {"7": []}, {"+16501231234": {"7"}, "+14155550100": {"7"}})
    options = ExportOptions(from_numbers=("+16501231234", "+14155550100"))
    result = build(live, options, version="t", to_dir=False)
    assert "from_number:" not in result.files["-"].split("version: 1")[1]
    assert any("matched --from-number" in w for w in result.warnings)


def test_out_dir_refuses_to_overwrite_and_is_byte_stable(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(cli_env, [{"name": "Acme / Q3: survey"}, {"name": "acme q3 survey"}, {"name": "日本"}])
    out_dir = tmp_path / "m"
    code, out, err = run_cli(capsys, "export", "--out", str(out_dir))
    assert code == 0, err
    assert out.startswith("Exported 3 campaigns, 0 numbers")
    names = sorted(p.name for p in out_dir.iterdir())
    assert names[2] == "日本.yaml" and names[0].startswith("acme-q3-survey-")
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    code, _out, err = run_cli(capsys, "export", "--out", str(out_dir))
    assert code == 1
    assert err.startswith(f"error: {out_dir / names[0]} already exists (and 2 more)")
    (out_dir / "stale.yaml").write_text("version: 1\n")
    code, _out, err = run_cli(capsys, "export", "--out", str(out_dir), "--overwrite")
    assert code == 0
    assert "stale.yaml was not written by this export" in err
    (out_dir / "stale.yaml").unlink()
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # no temp files left
    code, _out, err = run_cli(capsys, "export", "--csv-over", "5")
    assert code == 1 and "need --out" in err


def test_overwrite_onto_a_directory_replaces_nothing(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A target that is a directory made --overwrite replace the files sorted before it,
    then fail naming its temporary file."""
    seed(cli_env, [{"name": "A"}, {"name": "B"}])
    out_dir = tmp_path / "m"
    (out_dir / "b.yaml").mkdir(parents=True)
    (out_dir / "a.yaml").write_text("mine\n")
    code, out, err = run_cli(capsys, "export", "--out", str(out_dir), "--overwrite")
    assert code == 1 and out == ""
    assert err == (
        f"error: {out_dir / 'b.yaml'} exists and is not a regular file; nothing was written\n"
    )
    assert (out_dir / "a.yaml").read_text() == "mine\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.yaml", "b.yaml"]


def test_csvs_written_outside_the_working_directory_say_where_to_validate(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """validate from the directory export ran in refused the CSVs it had just written."""
    seed(cli_env, [{"name": "A"}], [{"phone": "+16505550100"}], [(0, 0)])
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    out_dir = tmp_path / "out"
    code, _out, err = run_cli(capsys, "export", "--out", str(out_dir), "--csv-over", "0")
    assert code == 0
    assert (
        f"note: {out_dir} is outside the working directory, and a numbers_csv must lie "
        f"inside it: run validate and plan from {out_dir} or a directory above it\n"
    ) in err
    code, _out, err = run_cli(capsys, "export", "--out", "inside", "--csv-over", "0")
    assert code == 0 and "outside the working directory" not in err
    monkeypatch.chdir(out_dir)
    round_trip(capsys, cli_env, Path("."))


def test_empty_account(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "export")
    assert code == 0 and out.endswith("version: 1\ncampaigns: []\n")
    (tmp_path / "m.yaml").write_text(out)
    round_trip(capsys, cli_env, tmp_path / "m.yaml")
    code, out, _ = run_cli(capsys, "export", "--out", str(tmp_path / "d"))
    assert code == 0 and "Nothing to export" in out and not (tmp_path / "d").exists()


def test_the_summary_counts_one_request_and_one_file_in_the_singular(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = run_cli(capsys, "export", "--name", "nothing*")
    assert code == 0 and "Exported 0 campaigns, 0 numbers (1 GET request).\n" in err
    seed(cli_env, [{"name": "Solo"}])
    code, out, _err = run_cli(capsys, "export", "--name", "Solo", "--out", str(tmp_path / "d"))
    assert code == 0
    assert out == f"Exported 1 campaign, 0 numbers (2 GET requests): 1 file in {tmp_path / 'd'}.\n"


# -- what a manifest cannot hold ----------------------------------------------------------


def test_one_person_with_two_sets_of_details_is_refused_naming_both(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = seed(
        cli_env,
        [{"name": "A"}, {"name": "B"}],
        [
            {"phone": "+16507991144", "first_name": "Joey", "title": "Manager"},
            {"phone": "+16507991144", "first_name": "Joey", "title": "Director"},
        ],
        [(0, 0), (1, 1)],
    )
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "m"))
    assert code == 1 and out == ""
    assert (
        f'error: +16507991144 (Joey) has two sets of details in campaign "A" (id {first}) and '
        f'campaign "B" (id {first + 1}) (title "Manager" vs "Director")'
    ) in err
    assert not (tmp_path / "m").exists()
    code, out, _ = run_cli(capsys, "export", "--name", "A")  # separately, each is fine
    assert code == 0


def test_values_a_manifest_refuses_are_reported_and_nothing_is_written(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(
        cli_env,
        [
            {"name": "Trailing "},
            {"name": "   "},
            {
                "name": "Late",
                "start_datetime": "2026-01-02T00:00:00.000Z",
                "end_datetime": "2026-01-01T00:00:00.000Z",
            },
            {"name": "Bad numbers"},
        ],
        [{"phone": "+16507991144", "email": "joey@@x"}, {"phone": "+1555", "first_name": "X"}],
        [(3, 0), (3, 1)],
    )
    code, _out, err = run_cli(capsys, "export", "--out", str(tmp_path / "m"))
    assert code == 1
    lines = err.splitlines()
    assert any('"Trailing " (id' in ln and "ends in whitespace" in ln for ln in lines)
    assert any('"   " (id' in ln and "name is empty" in ln for ln in lines)
    assert any("end_datetime 2026-01-01T00:00:00Z is not after" in ln for ln in lines)
    assert any('email "joey@@x" is not an address a manifest accepts' in ln for ln in lines)
    assert any('phone "+1555" is not a phone a manifest accepts' in ln for ln in lines)
    assert lines[-1] == "error: nothing written: 5 value(s) a manifest cannot hold"
    assert not (tmp_path / "m").exists()


def test_same_person_twice_in_a_campaign_is_written_once(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    joey = {"phone": "+16507991144", "first_name": "Joey", "last_name": "Smith"}
    seed(cli_env, [{"name": "A"}], [joey, dict(joey)], [(0, 0), (0, 1)])
    code, out, err = run_cli(capsys, "export")
    assert code == 0
    assert "lists +16507991144 (Joey Smith) twice with the same details" in err
    assert len(yaml.safe_load(out)["campaigns"][0]["numbers"]) == 1
    (tmp_path / "m.yaml").write_text(out)
    round_trip(capsys, cli_env, tmp_path / "m.yaml")


def test_unknown_status_is_left_unmanaged(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(cli_env, [{"name": "A", "status": "running"}])
    code, out, err = run_cli(capsys, "export")
    assert code == 0 and "status" not in yaml.safe_load(out)["campaigns"][0]
    assert 'status "running" is not one this version knows' in err
    (tmp_path / "m.yaml").write_text(out)
    round_trip(capsys, cli_env, tmp_path / "m.yaml")


def test_the_token_in_a_live_value_is_never_written(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(cli_env, [{"name": "A", "pitch": f"call with {TOKEN}"}])
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "m"))
    assert code == 1 and "holds the auth token" in err and out == ""
    assert not (tmp_path / "m").exists()


def test_a_token_in_a_live_name_is_not_shown_lowercased_in_the_refusal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal named the files it would write, and a file's name is its campaign's
    name casefolded: `q3-mixedcasesecrettoken42xy.yaml`, which the redactor (exact case)
    let through. It names campaign ids."""
    token = "MixedCaseSecretToken42xy"
    with Emulator(tokens=[token]) as emu:
        emu.store.seed(emu.accounts[token], campaigns=[{"name": f"Q3 {token}"}], list_name="seeded")
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", token)
        for out_dir in (["--out", str(tmp_path / "m")], []):
            code, out, err = run_cli(capsys, "export", "--api-url", emu.base_url, *out_dir)
            assert code == 1 and out == ""
            assert "holds the auth token" in err and "(campaign id 1)" in err
            assert token.casefold() not in err.casefold()
    assert not (tmp_path / "m").exists()


def test_multi_line_text_keeps_its_trailing_newlines_in_a_block(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(cli_env, [{"name": "A", "instructions": "Say hello.\n\nThen ask:\n  - why?\n\n"}])
    code, out, _ = run_cli(capsys, "export")
    assert code == 0
    assert "    instructions: |+\n      Say hello.\n\n      Then ask:\n        - why?\n\n" in out
    assert (
        yaml.safe_load(out)["campaigns"][0]["instructions"]
        == "Say hello.\n\nThen ask:\n  - why?\n\n"
    )
    (tmp_path / "m.yaml").write_text(out)
    round_trip(capsys, cli_env, tmp_path / "m.yaml")


def test_a_datetime_before_the_year_1000_is_refused_not_written_unreadable(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The API stores year 0099; glibc's %Y wrote it "99-06-01...", which validate refused."""
    first = seed(cli_env, [{"name": "Old", "start_datetime": "0099-06-01T12:00:00.000Z"}])
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "d"))
    assert code == 1 and out == ""
    assert (
        f'error: campaign "Old" (id {first}): start_datetime 0099-06-01T12:00:00Z is outside '
        "the years a manifest accepts (1000 to 9999, in UTC)\n"
    ) in err
    assert "Traceback" not in err and not (tmp_path / "d").exists()


# -- the emitter ----------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)))


def _read_back(value_text: str) -> Any:
    doc, problems = parse_yaml(f"k:{value_text}\nz: 1\n", "t.yaml", environ={})
    assert problems == []
    return doc["k"]


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT | st.sampled_from(["NO", "~", "02134", "1e3", "0x1F", "+1650", "a: b", "${X}"]))
def test_scalars_read_back_exactly(value: str) -> None:
    assert _read_back(" " + scalar(value)) == value
    assert _read_back(block_or_scalar(value, "  ")) == value


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("${}a\n")))
def test_env_escaping_is_exact(value: str) -> None:
    assert expand_env(escape_env(value), {}) == value


def test_plain_only_where_yaml_reads_text() -> None:
    for special in ("NO", "yes", "null", "~", "02134", "1e3", "0x1F", "+16507991144", "2016-07-11"):
        assert scalar(special).startswith('"'), special
    assert scalar("Joey Smith") == "Joey Smith"
    assert scalar("Zoë") == "Zoë"
    assert scalar("a\u2028b") == '"a\\Lb"'


def test_csv_cells_escape_env_references() -> None:
    assert (
        csv_text(["phone", "company"], [["+1650", "${X} & co"]])
        == "phone,company\n+1650,$${X} & co\n"
    )


def test_slugs() -> None:
    assert slug("Acme / Q3: Survey") == "acme-q3-survey"
    assert slug("***") == "campaign"
    assert slug("CON") == "con-campaign"
    assert Number("1", Contact("+1"), ("+1",) + ("",) * 13).id == "1"


def test_a_name_of_four_byte_letters_gives_a_file_name_the_file_system_takes(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """60 letters of 4 UTF-8 bytes each made a 259-byte temporary file name (ENAMETOOLONG)."""
    name = "\U0002000b" * 70
    seed(cli_env, [{"name": name}, {"name": name}])
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "d"))
    assert code == 0, err
    assert "2 files in" in out
    assert all(len(p.name.encode()) <= 200 for p in (tmp_path / "d").iterdir())
    assert slug("\u65e5" * 70) == "\u65e5" * 60  # 180 bytes: unchanged
    round_trip(capsys, cli_env, tmp_path / "d")


def test_a_repeated_name_needs_every_entry_pinned(tmp_path: Path) -> None:
    """What lets export write the reference's two `My Campaign`s (load.py's one exception)."""
    from upcall_sync.errors import ManifestError
    from upcall_sync.manifest import load_manifests

    both = "version: 1\ncampaigns:\n  - {name: Q3, id: '1'}\n  - {name: Q3, id: '2'}\n"
    (tmp_path / "ok.yaml").write_text(both)
    assert len(load_manifests([tmp_path / "ok.yaml"]).campaigns) == 2
    (tmp_path / "bad.yaml").write_text(both.replace(", id: '2'", ""))
    with pytest.raises(ManifestError, match="names must be unique"):
        load_manifests([tmp_path / "bad.yaml"])
    (tmp_path / "bad.yaml").write_text(both.replace(", id: '1'", ""))
    with pytest.raises(ManifestError, match="names must be unique"):
        load_manifests([tmp_path / "bad.yaml"])


def test_out_that_is_a_file_is_one_clear_line(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed(cli_env, [{"name": "A"}])
    (tmp_path / "f").write_text("x")
    code, _out, err = run_cli(capsys, "export", "--out", str(tmp_path / "f"))
    assert code == 1
    assert err == f"error: --out {tmp_path / 'f'}: cannot create the directory: File exists\n"


CCS = sorted(__import__("phonenumbers").COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(CCS), st.from_regex(r"0{0,2}[0-9]{1,13}", fullmatch=True)),
        min_size=1,
        max_size=40,
    )
)
def test_the_fast_phone_check_agrees_with_the_manifest(phones: list[tuple[int, str]]) -> None:
    """PhoneCheck answers by shape where parsing provably changes nothing: never otherwise."""
    from upcall_sync.jobs.export import PhoneCheck, _slow_phone_ok

    check = PhoneCheck()
    for cc, national in phones:
        phone = f"+{cc}{national}"[:16]
        assert check(phone) == _slow_phone_ok(phone), phone


def test_pinned_twins_are_managed_after_adoption(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """After export, editing one of two same-named campaigns changes that one only."""
    first = seed_reference(cli_env)
    assert run_cli(capsys, "export", "--out", str(tmp_path / "m"))[0] == 0
    path = tmp_path / "m" / f"my-campaign-{first + 1}.yaml"
    path.write_text(path.read_text().replace("pitch: Be friendly", "pitch: Be brief"))
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(tmp_path / "m"))
    assert code == 0, out + err
    pitches = cli_env.store.sql("SELECT id, pitch FROM campaigns ORDER BY id")
    assert [(r["id"], r["pitch"]) for r in pitches] == [
        (first, "Be friendly"),
        (first + 1, "Be brief"),
    ]
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(tmp_path / "m"))[0] == 0


def test_an_archived_campaign_named_like_the_glob_does_not_hide_what_the_glob_picks(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --include-archived an archived campaign is not exported, so its exact name
    is not what `--name` means: `--name "Acme*"` beside an archived `Acme*` exported
    nothing, exit 0, instead of the active campaigns the glob picks."""
    seed(cli_env, [{"name": "Acme*", "status": "archived"}, {"name": "Acme one"}])
    code, out, _ = run_cli(capsys, "export", "--name", "Acme*")
    assert code == 0
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["Acme one"]
    code, out, _ = run_cli(capsys, "export", "--name", "Acme*", "--include-archived")
    assert [c["name"] for c in yaml.safe_load(out)["campaigns"]] == ["Acme*"]
