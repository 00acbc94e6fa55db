"""`plan --out` to a place that cannot be written is one clear line naming the file,
exit 1, and leaves nothing behind (it was "internal error: FileNotFoundError")."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.client import CampaignAttributes
from upcall_sync.emulator import Emulator

from .conftest import TOKEN, connect, run_cli


@pytest.mark.parametrize("where", ["missing/dir/p.plan", "."])
def test_an_unwritable_plan_out_is_one_clear_line(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: a\n")
    code, _out, err = run_cli(capsys, "plan", "--out", where, "m.yaml")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"error: {where}: cannot save the plan"), err
    assert "internal error" not in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["m.yaml"]


@pytest.mark.parametrize(
    ("out", "args", "says"),
    [
        ("m.yaml", ["m.yaml"], "it is a manifest this plan reads"),
        ("./m.yaml", ["."], "a .yaml file in ., which this plan reads manifests from"),
        ("plan.yaml", ["."], "a .yaml file in ., which this plan reads manifests from"),
        ("sub/../p.yml", ["."], "a .yaml file in ., which this plan reads manifests from"),
    ],
)
def test_a_plan_out_among_the_manifests_is_refused_before_anything_is_read(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    out: str,
    args: list[str],
    says: str,
) -> None:
    """`plan --out m.yaml m.yaml` replaced the manifest with the plan (exit 0); `plan .
    --out plan.yaml` saved a plan that the next plan, and `apply plan.yaml` itself, read
    as a broken manifest (13 problems), so it could never be applied."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    manifest = "version: 1\ncampaigns:\n  - name: a\n"
    (tmp_path / "m.yaml").write_text(manifest)
    code, _out, err = run_cli(capsys, "plan", "--out", out, *args)
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {out}: cannot save the plan: {says}"), line
    assert (tmp_path / "m.yaml").read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml", "sub"]
    code, _out, err = run_cli(capsys, "plan", "--out", "plan.json", ".")
    assert code == 0, err
    code, _out, err = run_cli(capsys, "apply", "plan.json")
    assert code == 0, err


def test_a_plan_file_name_with_a_line_break_is_shown_whole(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    # the name went into the message raw, and the one line kept its first line only:
    # "error: bad" (helper b61)
    tmp_path = workdir
    (tmp_path / "bad\nplan.json").write_text("x")
    code, _out, err = run_cli(capsys, "show", "bad\nplan.json")
    assert (code, err) == (1, "error: bad\\nplan.json: not a plan file (not JSON, or cut short)\n")
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: a\n")
    code, _out, err = run_cli(capsys, "plan", "--out", "no\nsuch/p.plan", "m.yaml")
    assert code == 1
    assert err.splitlines()[-1].startswith("error: no\\nsuch/p.plan: cannot save the plan"), err


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["plan", "--out", "--format", "json", "m.yaml"], "--format"),
        (["plan", "--out", "--", "m.yaml"], "--"),
        (["plan", "--out", "-q", "m.yaml"], "-q"),
        (["export", "--out", "--overwrite"], "--overwrite"),
    ],
)
def test_an_option_taken_for_the_out_name_is_refused(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path, argv: list[str], name: str
) -> None:
    """`plan --out --format json` saved the plan to a file named `--format` (and `--out
    --` to one named `--`), `export --out --overwrite` made a folder of that name: the
    value before them went missing (helper b61). Refused before anything is read."""
    tmp_path = workdir
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: a\n")
    before = len(cli_env.requests)
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"error: Invalid value for '--out': {name} looks like an option, not a name (its "
        f"value missing?); for a file of that name write ./{name}; see `upcall-sync "
        f"{argv[0]} --help`"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["m.yaml"]
    assert len(cli_env.requests) == before
    # a file of that name is still possible, as ./name
    if argv[0] == "plan":
        assert run_cli(capsys, "plan", "--out", f"./{name}", "m.yaml")[0] == 0
        assert (tmp_path / name).is_file()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is empty (an unset variable?): give the folder to write to"),
        (" ", "is empty (an unset variable?): give the folder to write to"),
        ("-", "- is not a folder: without --out, one manifest goes to stdout"),
    ],
)
def test_export_out_empty_or_a_dash_is_refused(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    value: str,
    says: str,
) -> None:
    """`export --out "$DIR"` with DIR unset wrote the manifests into the working
    directory, and `export --out -` made a folder named `-` (plan refuses both for its
    --out): refused before anything is read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: a\n")
    assert run_cli(capsys, "apply", "--auto-approve", "m.yaml")[0] == 0
    before = len(cli_env.requests)
    code, out, err = run_cli(capsys, "export", "--out", value)
    assert (code, out) == (1, "")
    assert err == (f"error: Invalid value for '--out': {says}; see `upcall-sync export --help`\n")
    assert [p.name for p in tmp_path.iterdir()] == ["m.yaml"]
    assert len(cli_env.requests) == before


def test_a_plan_holding_a_live_token_names_the_live_campaign(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    """Someone pasted the token into a live pitch: the plan that replaces it cannot be
    saved, and the refusal said "(a manifest value holds it)" of manifests that hold
    nothing of it (plan refuses those first); it names the live campaign (helper b66)."""
    made = connect(cli_env).create_campaign(
        CampaignAttributes(name="Leaky", pitch=f"call with {TOKEN}", status="pending")
    )
    (workdir / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: Leaky\n    pitch: x\n")
    code, _out, err = run_cli(capsys, "plan", "--out", "p.plan", "m.yaml")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(
        f"error: p.plan: refusing to save the plan: it would contain the auth token, "
        f"which live campaign {made.id} holds"
    ), line
    assert "manifest value" not in line
    assert sorted(p.name for p in workdir.iterdir()) == ["m.yaml"]
