"""`upcall-sync plan` end to end against the emulator, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from upcall_sync.emulator import Emulator

from .conftest import ROOT, TOKEN, run_cli, write_manifest

SCHEMA = json.loads((ROOT / "schema" / "plan.schema.json").read_text())
CAMPAIGN = """version: 1
phone_region: US
campaigns:
  - name: Q3
    pitch: Be friendly
    start_datetime: 2016-07-11T00:04:58Z
    numbers:
      - {phone: "(650) 799-1144", first_name: Joey, last_name: Smith}
      - {phone: "(650) 799-1144", first_name: Janie, last_name: Smith}
"""


def test_plan_apply_plan_is_empty(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    code, out, _ = run_cli(capsys, "plan", "--detailed-exitcode", str(m))
    assert code == 2
    assert "2 numbers to add" in out
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 0, err
    assert "Converged" in out
    code, out, _ = run_cli(capsys, "plan", "--detailed-exitcode", str(m))
    assert (code, out) == (0, "No changes. Live state matches the manifests.\n")


def test_reference_quirks_are_no_change(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A (650) national phone against a live +1..., ...58Z against ...58.000Z."""
    m = write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    live = cli_env.store.sql("SELECT start_datetime FROM campaigns")[0]["start_datetime"]
    assert live == "2016-07-11T00:04:58.000Z"
    assert {r["phone"] for r in cli_env.store.sql("SELECT phone FROM list_contacts")} == {
        "+16507991144"
    }
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(m))[0] == 0


def test_two_live_campaigns_named_alike_exit_1_naming_both(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    account = cli_env.accounts[TOKEN]
    cli_env.store.seed(account, campaigns=[{"name": "Q3"}, {"name": "Q3"}])
    m = write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    code, out, err = run_cli(capsys, "plan", str(m))
    assert code == 1
    assert out == ""
    ids = [str(r["id"]) for r in cli_env.store.sql("SELECT id FROM campaigns")]
    assert f"ids {ids[0]}, {ids[1]}" in err
    assert f"{m.resolve()}:4:5: name: 2 active live campaigns" in err
    assert "Traceback" not in err


def test_json_and_markdown_formats(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    by_kind = {c["kind"]: c for c in doc["changes"]}
    assert by_kind["create_campaign"]["source"] == f"{m.resolve()}:4:5"
    adds = sorted(c["source"] for c in doc["changes"] if c["kind"] == "add_number")
    assert adds == [f"{m.resolve()}:8:9", f"{m.resolve()}:9:9"]
    code, out, _ = run_cli(capsys, "plan", "-f", "markdown", str(m))
    assert code == 0 and out.startswith("### upcall-sync plan: Changes")


def test_changed_from_number_is_an_update(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = CAMPAIGN.replace(
        "    pitch: Be friendly\n", '    pitch: Be friendly\n    from_number: "+16501231234"\n'
    )
    m = write_manifest(tmp_path / "m.yaml", body)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(m))[0] == 0
    write_manifest(m, body.replace("+16501231234", "+14155550100"))
    code, out, _ = run_cli(capsys, "plan", "--detailed-exitcode", str(m))
    assert code == 2
    assert 'from_number  (unknown: the API never returns it) -> "+14155550100"' in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--format", "xml", "m.yaml"], "'xml' is not one of"),
        (["plan", "--parallelism", "-3", "m.yaml"], "--parallelism"),
        (["plan", "--parallelism", "0", "m.yaml"], "--parallelism"),
        (["plan", "--timeout", "nope", "m.yaml"], "--timeout"),
        (["plan"], "give at least one manifest"),
        (["plan", "--prune", "m.yaml"], "pruning needs prune_scope"),
        (["plan", "--target", "nope", "m.yaml"], "no campaign in the manifests matches"),
        (["apply", "no-such-plan.tfplan"], "no such file or directory"),
        (["plan", "--bogus", "m.yaml"], "has no option --bogus"),
    ],
)
def test_bad_options_get_one_line_and_exit_1(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    code, out, err = run_cli(capsys, *args)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert lines[0].startswith(("error: ", "no-such-plan"))


def test_missing_token_and_insecure_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
    code, _, err = run_cli(capsys, "plan", "--api-url", "http://127.0.0.1:9/api/v1", str(m))
    assert code == 1 and "no auth token" in err
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    code, _, err = run_cli(capsys, "plan", "--api-url", "http://upcall.example.com/api/v1", str(m))
    assert code == 1 and "--allow-insecure-http" in err
    assert TOKEN not in err


def test_token_file(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = write_manifest(tmp_path / "m.yaml", CAMPAIGN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN")
    (tmp_path / "auth.secret").write_text(TOKEN + "\n")
    assert run_cli(capsys, "plan", "--token-file", str(tmp_path / "auth.secret"), str(m))[0] == 0
    (tmp_path / "empty").write_text("")
    code, _, err = run_cli(capsys, "plan", "--token-file", str(tmp_path / "empty"), str(m))
    assert code == 1 and "is empty" in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("validate", "schema", "plan", "apply", "emulator"):
        code, out, _ = run_cli(capsys, command, "--help")
        assert code == 0
        assert "Usage: upcall-sync " + command in out
        assert len(out.splitlines()) > 3
        assert TOKEN not in out
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and all(c in out for c in ("validate", "plan", "apply", "emulator", "schema"))
