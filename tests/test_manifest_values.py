"""Values the API cannot hold, and values that mean nothing (issues 10.5 and 15.8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.manifest import load_manifests

from .conftest import run_cli

BASE = """\
version: 1
campaigns:
  - name: Q3
    status: pending
    start_datetime: 2026-07-11T09:00:00Z
    end_datetime: {end}
    numbers:
      - {{phone: "+16507991144", first_name: Joey, email: {email}}}
"""


@pytest.mark.parametrize(
    "when", ["0999-07-11T09:00:00Z", '"0999-07-11T09:00:00Z"', "9999-12-31T23:00:00-05:00"]
)
def test_a_datetime_the_api_cannot_write_fails_validate_and_apply_cleanly(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, when: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        BASE.replace("start_datetime: 2026-07-11T09:00:00Z", f"start_datetime: {when}").format(
            end="null", email="null"
        )
    )
    shown = when.strip('"')
    for command in (["validate"], ["apply", "--auto-approve"]):
        code, out, err = run_cli(capsys, *command, str(path))
        assert code == 1 and out == ""
        assert (
            f'm.yaml:5:21: campaigns[0].start_datetime: "{shown}" is outside the years the API '
            "can represent (1000 to 9999, in UTC)"
        ) in err
        assert "Traceback" not in err and "internal error" not in err
    assert cli_env.store.sql("SELECT COUNT(*) AS n FROM campaigns")[0]["n"] == 0


def test_empty_text_means_null_for_datetimes_and_email(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(BASE.format(end="2026-07-12T17:00:00Z", email="joey@safeway.com"))
    assert run_cli(capsys, "apply", "--auto-approve", str(first))[0] == 0
    plans = {}
    for label, blank in (("null", "null"), ("empty", '""')):
        path = tmp_path / f"{label}.yaml"
        path.write_text(BASE.format(end=blank, email=blank))
        code, out, err = run_cli(capsys, "validate", str(path))
        assert code == 0, err
        code, out, err = run_cli(capsys, "plan", "--format", "json", str(path))
        assert code == 0, err
        plans[label] = json.loads(out.replace(f"{label}.yaml", "m.yaml"))["changes"]
    assert plans["empty"] == plans["null"]
    assert "end_datetime" in json.dumps(plans["null"])  # the plan clears it


def test_a_ready_campaign_without_numbers_is_a_warning_not_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.csv").write_text("phone,first_name\n")
    (tmp_path / "m.yaml").write_text(
        "version: 1\ndefaults:\n  status: ready\ncampaigns:\n"
        "  - name: listed\n    numbers: [{phone: '+16507991144'}]\n"
        "  - name: nothing\n"
        "  - name: header only\n    numbers_csv: empty.csv\n"
        "  - name: paused\n    status: paused\n"
    )

    code, out, err = run_cli(capsys, "validate", "m.yaml")

    assert code == 0
    assert out == "1 file, 4 campaigns, 1 number: valid\n"
    message = (
        "warning: campaigns[{i}].status: is ready, but the manifests give this campaign no "
        "numbers (none listed, no numbers_csv rows): it cannot dial"
    )
    assert err.splitlines() == [
        f"m.yaml:7:5: {message.format(i=1)}",
        f"m.yaml:8:5: {message.format(i=2)}",
    ]
    state = load_manifests(["m.yaml"])
    assert [w.path for w in state.warnings] == ["campaigns[1].status", "campaigns[2].status"]


def test_a_person_written_composed_and_decomposed_is_one_person(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ "José" composed and "Jose" + U+0301 are shown alike: they were two people, two
    contacts and two numbers of one campaign, the person called twice."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\ncampaigns:\n  - name: Q3\n    numbers:\n"
        '      - {phone: "+16507991144", first_name: "Jos\u00e9"}\n'
        '      - {phone: "+16507991144", first_name: "Jose\u0301"}\n'
    )
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 1, out + err
    assert "is already in this campaign at" in err, err


def test_a_person_written_twice_in_another_case_or_with_a_zero_width_space_is_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ "Joey", "JOEY" and "Jo" + U+200B + "ey" on one line were three people, all valid:
    the line called three times. Two people may share a line (the reference's Joey and
    Janie), so names that only look alike are a warning, not an error."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\ncampaigns:\n  - name: Q3\n    numbers:\n"
        '      - {phone: "+16507991144", first_name: Joey, last_name: Smith}\n'
        '      - {phone: "+16507991144", first_name: "Jo\\u200bey", last_name: Smith}\n'
        '      - {phone: "+16507991144", first_name: JOEY, last_name: " Smith"}\n'
        '      - {phone: "+16507991144", first_name: Janie, last_name: Smith}\n'
    )
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 0, out + err
    warned = [line for line in err.splitlines() if "looks like the person at" in line]
    assert len(warned) == 2, err
    assert warned[0].startswith(
        f"{path}:6:9: warning: campaigns[0].numbers: +16507991144 "
        "(Jo\\u200bey Smith) looks like the person at "
    )
    assert "(JOEY  Smith)" in warned[1] and "Janie" not in err


def test_campaign_names_that_only_look_different_are_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ "Acme Q3", "Acme" + U+200B + " Q3" and "ACME  q3" were three campaigns, all valid:
    one name to anyone reading a dashboard, and a person in two of them called twice.
    A warning (as for people), in validate and in plan; a name repeated exactly is still
    the error it was, and gets no warning besides."""
    (tmp_path / "a.yaml").write_text(
        'version: 1\ncampaigns:\n  - name: "Acme Q3"\n  - name: "Acme\\u200b Q3"\n  - name: Other\n'
    )
    (tmp_path / "b.yaml").write_text('version: 1\ncampaigns:\n  - name: "ACME  q3"\n')
    code, out, err = run_cli(capsys, "validate", str(tmp_path))
    assert code == 0, out + err
    warned = [line for line in err.splitlines() if "looks like" in line]
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert warned == [
        f'{a}:4:11: warning: campaigns[1].name: campaign name "Acme\\u200b Q3" looks like '
        f'"Acme Q3" at {a}:3:11 (the names differ only in case, spacing or invisible '
        "characters): two campaigns nobody can tell apart would be made, and anyone in both "
        "called twice; keep one name",
        f'{b}:3:11: warning: campaigns[0].name: campaign name "ACME  q3" looks like '
        f'"Acme Q3" at {a}:3:11 (the names differ only in case, spacing or invisible '
        "characters): two campaigns nobody can tell apart would be made, and anyone in both "
        "called twice; keep one name",
    ], err
    (tmp_path / "b.yaml").write_text('version: 1\ncampaigns:\n  - name: "Acme Q3"\n')
    code, _out, err = run_cli(capsys, "validate", str(tmp_path))
    assert code == 1 and "is already used at" in err and 'Acme Q3" looks like' not in err, err
