"""Manifests: the loader, the model, validate and schema."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upcall_sync.cli import main
from upcall_sync.core.normalize import format_datetime
from upcall_sync.errors import ManifestError
from upcall_sync.manifest import load_manifests
from upcall_sync.manifest.schema import manifest_schema, reference_markdown, schema_text
from upcall_sync.manifest.spec import ManifestSpec
from upcall_sync.manifest.yamlload import parse_yaml

from .conftest import FIXTURES, ROOT

BROKEN = FIXTURES / "broken"
CASES = [
    tuple(line.split("\t", 1))
    for line in (BROKEN / "expected.tsv").read_text().splitlines()
    if line.strip()
]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    on_disk = {p.name for p in BROKEN.iterdir()} - {"expected.tsv"}
    assert on_disk == {c for c, _ in CASES}


@pytest.mark.parametrize(("case", "expected"), CASES, ids=[c for c, _ in CASES])
def test_broken_manifest(
    case: str, expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BROKEN)
    monkeypatch.delenv("UPCALL_SYNC_TEST_UNSET", raising=False)

    code = main(["validate", case])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert expected in lines
    assert re.match(r"^[^:]+:\d+(:\d+)?: ", expected), "every problem names file:line"
    if len(lines) > 1:
        assert lines[-1].startswith("error: ") and "problems found" in lines[-1]
    assert "Traceback" not in err


def test_examples_validate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", "examples/"]) == 0
    out, err = capsys.readouterr()
    assert out == "1 file, 3 campaigns, 10 numbers: valid\n"
    if (ROOT / "examples/ci/github-actions.yml").exists():
        assert "skipped examples/ci/github-actions.yml" in err


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "version: 1\ncampaigns:\n"
        "  - name: a\n    pich: x\n"
        "  - name: b\n    status: nope\n"
        "  - name: c\n    start_datetime: 2026-01-02T00:00:00Z\n"
        "    end_datetime: 2026-01-01T00:00:00Z\n"
        "  - name: c\n"
    )
    with pytest.raises(ManifestError) as info:
        load_manifests([tmp_path])
    paths = [p.path for p in info.value.problems]
    assert paths == [
        "campaigns[0].pich",
        "campaigns[1].status",
        "campaigns[2].end_datetime",
        "campaigns[3].name",
    ]


def test_alias_bomb_fails_fast_with_bounded_memory() -> None:
    levels = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = "version: 1\n" + "\n".join(levels) + "\n"
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(Exception, match="alias bomb"):
        parse_yaml(text, "bomb.yaml")
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 100 * 1024 * 1024


def test_aliases_and_merge_keys_within_limits_work(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "version: 1\ncampaigns:\n"
        "  - &base\n    name: a\n    pitch: shared\n"
        '    numbers: [{phone: "+16507991144", first_name: Joey}]\n'
        "  - <<: *base\n    name: b\n"
    )
    state = load_manifests([tmp_path / "m.yaml"])
    assert [(c.name, c.fields["pitch"], len(c.numbers)) for c in state.campaigns] == [
        ("a", "shared", 1),
        ("b", "shared", 1),
    ]


def test_oversized_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    with big.open("w") as fh:
        fh.write("version: 1\n# ")
        fh.write("x" * (21 * 1024 * 1024))
    assert main(["validate", str(big)]) == 1
    assert "over the 20 MB limit" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_or_a_device_named_as_a_manifest_is_one_line_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`validate` of a FIFO no one writes to waited forever in open(); `/dev/zero` was
    read until memory ran out (its size reads 0, under the limit)."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("m.yaml")
    for named in ("m.yaml", "/dev/zero"):
        assert main(["validate", named]) == 1
        assert capsys.readouterr().err == (
            f"{named}: cannot read file: not a regular file (a FIFO, a socket or a device)\n"
        )


def test_missing_path_and_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 1
    assert "holds no *.yaml or *.yml manifests" in capsys.readouterr().err


def test_directory_scan_skips_other_yaml_but_named_files_are_manifests(tmp_path: Path) -> None:
    (tmp_path / "campaigns.yml").write_text("version: 1\ncampaigns: [{name: a}]\n")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "workflow.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("garbage: [")
    state = load_manifests([tmp_path])
    assert [c.name for c in state.campaigns] == ["a"]
    assert state.skipped == (str((tmp_path / "ci" / "workflow.yml").resolve()),) or state.skipped[
        0
    ].endswith("workflow.yml")
    with pytest.raises(ManifestError, match="unknown key"):
        load_manifests([tmp_path / "ci" / "workflow.yml"])


@pytest.mark.parametrize(
    "key",
    ["campains", "Campaigns", "campaign", "Campaign", "campaings", "prune-scope", "Prune-Scope"],
)
@pytest.mark.parametrize("beside", ["", "owner: team-x\n"])
def test_a_manifest_with_a_slip_in_every_key_is_read_not_skipped(
    tmp_path: Path, key: str, beside: str
) -> None:
    """A file whose keys are a slip of a manifest's (and no version), even beside a key no
    manifest has (`owner:`), is not "some other YAML": skipped, its campaigns would be
    left out of the plan, and archived by --prune."""
    (tmp_path / "a.yaml").write_text('version: 1\nprune_scope: "Acme *"\ncampaigns: []\n')
    (tmp_path / "b.yaml").write_text(f"{key}:\n  - name: Acme Two\n{beside}")
    with pytest.raises(ManifestError) as info:
        load_manifests([tmp_path])
    messages = [p.message for p in info.value.problems]
    assert any(m.startswith(f'unknown key "{key}"; did you mean ') for m in messages), messages
    for other in ("jobs", "services", "apiVersion", "kind", "on"):  # other YAML: skipped
        (tmp_path / "b.yaml").write_text(f"{other}: {{}}\n")
        assert len(load_manifests([tmp_path]).skipped) == 1
    # GitLab CI's `default:` reads like a slip of `defaults:`, among keys of its own;
    # `campaign_id:` only starts like `campaigns:`
    for other in (
        "default:\n  image: python\nstages: [test]\ntest: {}\n",
        "campaign_id: 7\nowner: x\n",
    ):
        (tmp_path / "b.yaml").write_text(other)
        assert len(load_manifests([tmp_path]).skipped) == 1


@pytest.mark.parametrize(
    "other",
    [
        # mkdocs.yml: a Python tag
        "site_name: Acme\nmarkdown_extensions:\n  - pymdownx.emoji:\n"
        "      emoji_index: !!python/name:material.extensions.emoji.twemoji\n",
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Sub x}\n",
        "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Secret\n",
        # helm template: a template that renders nothing is an empty document (b74)
        "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\n"
        "---\n# Source: c/templates/hpa.yaml\n---\napiVersion: v1\nkind: Service\n---\n",
    ],
    ids=["mkdocs", "cloudformation", "kubernetes-bundle", "helm-empty-documents"],
)
def test_a_directory_scan_skips_other_yaml_with_tags_or_documents_of_its_own(
    tmp_path: Path, other: str
) -> None:
    """`validate .` in a repository with an mkdocs.yml, a CloudFormation template or a
    Kubernetes bundle: YAML the manifest reader refuses (a tag, a second document),
    none of whose documents has a manifest's key, is skipped as other YAML is."""
    (tmp_path / "campaigns.yml").write_text("version: 1\ncampaigns: [{name: a}]\n")
    (tmp_path / "other.yml").write_text(other)
    state = load_manifests([tmp_path])
    assert [c.name for c in state.campaigns] == ["a"]
    assert [Path(s).name for s in state.skipped] == ["other.yml"]
    with pytest.raises(ManifestError):  # named, it is read as a manifest: refused
        load_manifests([tmp_path / "other.yml"])


def test_a_big_bundle_s_top_keys_are_asked_once_for_each_set_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20 MB Kubernetes bundle beside the manifests took `validate .` 14 s and 1.6 GB:
    every document was composed, and each of its keys compared with every manifest key.
    Only the top keys are read now, and each set of them asked once (found by b69)."""
    from upcall_sync.manifest import shape

    asked: list[tuple[str, ...]] = []
    real = shape.manifest_like

    def counted(keys: Any) -> bool:
        asked.append(tuple(keys))
        return real(asked[-1])

    monkeypatch.setattr(shape, "manifest_like", counted)
    (tmp_path / "campaigns.yml").write_text("version: 1\ncampaigns: [{name: a}]\n")
    doc = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: m%d}\ndata: {a: [1, {b: 2}]}\n"
    (tmp_path / "bundle.yml").write_text("".join(doc % i for i in range(500)))
    state = load_manifests([tmp_path])
    assert [Path(s).name for s in state.skipped] == ["bundle.yml"]
    assert asked == [("apiVersion", "kind", "metadata", "data")]


@pytest.mark.parametrize(
    "tagged",
    [
        "version: 1\ncampaigns:\n  - name: a\n    pitch: !Sub hi\n",
        "campains:\n  - {name: a, pitch: !Sub hi}\n",  # a slip, and a tag
        "version: 1\ncampaigns: []\n---\nversion: 1\ncampaigns: []\n",
        "jobs: {}\n---\nversion: 1\ncampaigns: []\n",  # a manifest as a later document
        "!Foo\n- a list\n",  # not a mapping: no keys to ask
        "!!str campaigns: [{name: a, pitch: !Sub hi}]\n",  # a tagged key is still a key
        "x: &k campaigns\n*k : [{name: a, pitch: !Sub hi}]\n",  # so is an alias of one
        # keys merged in at the top may be a manifest's (skipped before: found by b69)
        "<<: {version: 1, campaigns: [{name: a, pitch: !Sub hi}]}\n",
    ],
)
def test_a_manifest_with_a_tag_or_a_second_document_is_still_an_error(
    tmp_path: Path, tagged: str
) -> None:
    (tmp_path / "campaigns.yml").write_text("version: 1\ncampaigns: [{name: b}]\n")
    (tmp_path / "other.yml").write_text(tagged)
    with pytest.raises(ManifestError) as info:
        load_manifests([tmp_path])
    assert any("other.yml" in str(p.location) for p in info.value.problems)


def test_env_vars_expand_and_escape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a numbers_csv must lie inside the working directory
    (tmp_path / "m.yaml").write_text(
        'version: 1\ncontact_list: "${LIST}"\ncampaigns:\n'
        '  - name: "Q3 ${STAGE}"\n    pitch: "costs $${PRICE}"\n    from_number: "${FROM}"\n'
        "    numbers_csv: n.csv\n"
    )
    (tmp_path / "n.csv").write_text("phone,company\n${PHONE},Acme\n")
    env = {
        "LIST": "staging-list",
        "STAGE": "staging",
        "FROM": "+16501231234",
        "PHONE": "+16507991144",
    }
    state = load_manifests([tmp_path], environ=env)
    [camp] = state.campaigns
    assert state.contact_list == "staging-list"
    assert camp.name == "Q3 staging"
    assert camp.fields["pitch"] == "costs ${PRICE}"
    assert camp.fields["from_number"] == "+16501231234"
    assert camp.numbers[0].contact.phone == "+16507991144"
    with pytest.raises(ManifestError) as info:
        load_manifests([tmp_path], environ={"FROM": "+16501231234"})
    assert sorted(str(p) for p in info.value.problems) == sorted(
        [
            f"{info.value.problems[0].location.file}:2:15: environment variable LIST is not set",
            f"{info.value.problems[0].location.file}:4:11: environment variable STAGE is not set",
            f"{Path(info.value.problems[0].location.file).parent / 'n.csv'}:2:1: "
            "environment variable PHONE is not set",
        ]
    )
    with pytest.raises(ManifestError) as echo:
        load_manifests([tmp_path], environ={"LIST": "l", "STAGE": "s", "PHONE": "+16507991144"})
    assert [p.message for p in echo.value.problems] == ["environment variable FROM is not set"]


def test_defaults_apply_and_unset_fields_are_unmanaged(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        'version: 1\ndefaults:\n  language: en\n  from_number: "+1 650 123 1234"\n'
        'campaigns:\n  - name: a\n  - name: b\n    language: fr\n    pitch: "hi  \\n"\n'
    )
    a, b = load_manifests([tmp_path]).campaigns
    assert a.fields == {"language": "en", "from_number": "+16501231234"}
    assert b.fields == {"language": "fr", "from_number": "+16501231234", "pitch": "hi"}
    assert a.where("language").line == 3  # from defaults
    assert b.where("language").line == 8


def test_phone_region_and_normalization(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "version: 1\nphone_region: US\ncampaigns:\n  - name: a\n"
        "    start_datetime: 2016-07-11T00:04:58.000Z\n"
        "    end_datetime: 2016-07-12T00:04:58+02:00\n"
        '    numbers:\n      - {phone: "(650) 799-1144", first_name: Joey}\n'
        '      - {phone: "+1 650 799 1144", first_name: Janie}\n'
    )
    [camp] = load_manifests([tmp_path]).campaigns
    assert [n.contact.phone for n in camp.numbers] == ["+16507991144", "+16507991144"]
    assert format_datetime(camp.fields["start_datetime"]) == "2016-07-11T00:04:58Z"
    assert format_datetime(camp.fields["end_datetime"]) == "2016-07-11T22:04:58Z"


def test_reference_example_number_is_accepted(tmp_path: Path) -> None:
    """+16501231234 is possible but not valid: rejecting it would reject the reference."""
    (tmp_path / "m.yaml").write_text(
        'version: 1\ncampaigns:\n  - name: a\n    from_number: "+16501231234"\n'
    )
    assert load_manifests([tmp_path]).campaigns[0].fields["from_number"] == "+16501231234"


def test_committed_schema_is_current() -> None:
    assert (ROOT / "schema" / "manifest.schema.json").read_text() == schema_text()


def test_committed_manifest_reference_is_current() -> None:
    assert (ROOT / "docs" / "manifest.md").read_text() == reference_markdown()


def test_every_environment_variable_the_tool_reads_is_documented() -> None:
    """README's environment table named UPCALL_AUTH_TOKEN, _FILE and UPCALL_API_URL, not
    UPCALL_PLANNED_WITH nor UPCALL_MANIFEST_ENV, and docs/manifest.md's `${VAR}` section
    did not say that UPCALL_MANIFEST_ENV narrows what a manifest may read (helper b73)."""
    read = set()
    for source in (ROOT / "upcall_sync").rglob("*.py"):
        read |= set(re.findall(r'"(UPCALL_[A-Z_]+)"', source.read_text()))
    assert {"UPCALL_PLANNED_WITH", "UPCALL_MANIFEST_ENV"} <= read
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| environment variable | meaning |") :].split("\n\n")[0]
    assert sorted(read - set(re.findall(r"^\| `(UPCALL_[A-Z_]+)`", table, re.M))) == []
    assert "UPCALL_MANIFEST_ENV" in (ROOT / "docs" / "manifest.md").read_text()


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == manifest_schema()
    jsonschema.Draft202012Validator.check_schema(printed)


def test_example_starts_with_the_schema_modeline_and_validates_against_it() -> None:
    text = (ROOT / "examples" / "campaigns.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schema/manifest.schema.json"
    data, problems = parse_yaml(text, "campaigns.yaml")
    assert problems == []
    jsonschema.validate(data, manifest_schema())


def test_readme_manifest_examples_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "version: 1" in b]
    assert blocks, "the README shows a manifest"
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme{i}.yaml"
        path.write_text(block)
        for ref in re.findall(r"numbers_csv: (\S+)", block):  # the CSV's rows are not shown
            (tmp_path / ref).parent.mkdir(parents=True, exist_ok=True)
            if "hubspot" in ref:  # the CRM example: a real HubSpot header row
                shutil.copy(FIXTURES / "contacts" / "hubspot.csv", tmp_path / ref)
            elif ref.endswith(".xlsx"):
                _readme_workbook(tmp_path / ref)
            else:
                (tmp_path / ref).write_text("phone,first_name\n+14085550101,Ana\n")
        state = load_manifests([path])
        assert state.campaigns


def _readme_workbook(path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    assert book.active is not None
    book.active.title = "Summary"
    sheet = book.create_sheet("Contacts")
    sheet.append(["Direct dial", "Account", "Owner"])
    sheet.append(["+44 20 7183 8750", "Initech", "Ana"])
    book.save(path)


# -- property: what the model accepts round-trips ---------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12).map(
    str.strip
)
_name = _text.filter(lambda s: bool(s.strip()))
_phone = st.sampled_from(
    ["+16507991144", "+1 650 799 1145", "+442071838750", "+4915112345678", "+61 2 9374 4000"]
)
_dt = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))]),
).map(lambda d: d.isoformat())
_address = st.fixed_dictionaries(
    {}, optional={k: _text for k in ("recipient", "line1", "city", "postal_code", "country")}
)
_number = st.fixed_dictionaries(
    {"phone": _phone},
    optional={
        "first_name": _text,
        "last_name": _text,
        "title": _text,
        "extension": st.sampled_from(["", "204", "9"]),
        "email": st.sampled_from(["a@b.co", "joey@safeway.com"]),
        "address": _address,
    },
)
_fields = {
    "pitch": _text,
    "instructions": _text,
    "language": st.sampled_from(["en", "fr", "es"]),
    "status": st.sampled_from(["pending", "ready", "paused", "completed", "archived"]),
    "from_number": _phone,
    "start_datetime": _dt,
}
_campaign = st.fixed_dictionaries(
    {"name": _name}, optional={**_fields, "numbers": st.lists(_number, max_size=3)}
)
_manifest = st.fixed_dictionaries(
    {"version": st.just(1)},
    optional={
        "contact_list": _name,
        "prune_scope": _name,
        "defaults": st.fixed_dictionaries({}, optional=_fields),
        "campaigns": st.lists(_campaign, max_size=3),
    },
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_manifest)
def test_accepted_manifests_round_trip(doc: dict[str, Any]) -> None:
    try:
        first = ManifestSpec.model_validate(doc)
    except Exception:
        return  # not accepted: nothing to round-trip
    dumped = yaml.safe_dump(first.model_dump(mode="json", exclude_unset=True), allow_unicode=True)
    data, problems = parse_yaml(dumped, "roundtrip.yaml")
    assert problems == []
    second = ManifestSpec.model_validate(data)
    assert second == first
    assert second.model_dump(exclude_unset=True) == first.model_dump(exclude_unset=True)


def test_validate_of_a_large_manifest_is_not_quadratic(tmp_path: Path) -> None:
    """A smoke check (the 100,000-number figure is in bench/): 20,000 numbers validate."""
    rows = "\n".join(f'      - {{phone: "+1650{i:07d}", first_name: F{i}}}' for i in range(20_000))
    (tmp_path / "big.yaml").write_text(
        f"version: 1\ncampaigns:\n  - name: big\n    numbers:\n{rows}\n"
    )
    started = time.perf_counter()
    state = load_manifests([tmp_path])
    assert len(state.campaigns[0].numbers) == 20_000
    assert time.perf_counter() - started < 20


def test_loading_is_thread_safe_and_pure(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns: [{name: a, pitch: p}]\n")
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(load_manifests([tmp_path])))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.digest for r in results}) == 1
    assert os.environ.get("UPCALL_SYNC_TEST_UNSET") is None


def test_an_extension_column_s_prefix_is_read_as_the_phone_s_is(tmp_path: Path) -> None:
    """A CRM export's Ext column holds "x204": it is 204 (it was sent as "x204" and shown
    as "xx204"), and written both ways at once, it is one extension, not a conflict."""
    (tmp_path / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: a\n    numbers:\n"
        '      - {phone: "+14155550132", extension: "x204", first_name: Priya}\n'
        '      - {phone: "+14155550133 ext. 7", extension: "#7", first_name: Ravi}\n'
    )
    [campaign] = load_manifests([tmp_path]).campaigns
    assert [n.contact.label for n in campaign.numbers] == [
        "+14155550132 x204 (Priya)",
        "+14155550133 x7 (Ravi)",
    ]
