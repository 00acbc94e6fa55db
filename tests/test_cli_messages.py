"""The messages a new user meets first, through the real CLI: a wrong API path, a
mistyped option, `--debug` where users type it, a plan file with company, globs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import TOKEN, run_cli, write_manifest

CAMPAIGN = """version: 1
phone_region: US
campaigns:
  - name: Acme Q3
    pitch: Be friendly
    numbers:
      - {phone: "(650) 799-1144", first_name: Joey, last_name: Smith}
  - name: Acme Q4
    pitch: Be brief
  - name: Beta
    pitch: Be kind
  - name: "Sale [50%]"
    pitch: Be quick
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "m.yaml", CAMPAIGN)


# -- the API path ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/", "/api/v1/campaigns"])
def test_a_404_from_a_url_without_api_v1_says_where_the_api_lives(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path, suffix: str
) -> None:
    """Also an endpoint's URL pasted whole: the hint cuts it after /api/v1 (it used to
    add a second one: `.../api/v1/campaigns/api/v1`)."""
    root = cli_env.base_url.removesuffix("/api/v1")
    code, out, err = run_cli(capsys, "plan", "--api-url", root + suffix, str(manifest))
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert "HTTP 404" in line
    assert line.endswith(f"the Upcall API lives under /api/v1: try --api-url {cli_env.base_url}")


def test_a_404_from_the_right_path_gets_no_path_hint(
    capsys: pytest.CaptureFixture[str], manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The /lists endpoints missing under /api/v1: a 404, but the path is right."""
    with Emulator(tokens=[TOKEN], no_lists=True) as emu:
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        code, _, err = run_cli(capsys, "plan", "--api-url", emu.base_url, str(manifest))
    assert code == 1
    [line] = err.splitlines()
    assert "HTTP 404" in line and "/lists" in line
    assert "/api/v1" not in line


# -- usage errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["plan", "--bogus"], "`upcall-sync plan` has no option --bogus; see `upcall-sync plan --help`"),
        (["plan", "--fromat", "json"], "`upcall-sync plan` has no option --fromat; did you mean --format?"),
        (["plan", "--show-all"], "did you mean --show-all-numbers?"),
        (
            ["plan", "--auto-approve"],
            "has no option --auto-approve; `upcall-sync apply` and `upcall-sync doctor` have it",
        ),
        (
            ["apply", "--out", "x"],
            "has no option --out; `upcall-sync export` and `upcall-sync plan` have it",
        ),
        (["plan", "--format", "yaml"], "'yaml' is not one of 'text', 'json', 'markdown', 'github'; see `upcall-sync plan --help`"),
    ],
)  # fmt: skip
def test_a_usage_error_names_the_commands_real_options(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    manifest: Path,
    args: list[str],
    expected: str,
) -> None:
    code, out, err = run_cli(capsys, *args, str(manifest))
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith("error: ")
    assert expected in line
    assert "Possible options" not in line


# -- --debug wherever it is typed ---------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after", "last"])
def test_debug_is_taken_before_or_after_the_command(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path, where: str
) -> None:
    bad = cli_env.base_url.removesuffix("/api/v1")
    rest = ["--api-url", bad, str(manifest)]
    args = {
        "before": ["--debug", "plan", *rest],
        "after": ["plan", "--debug", *rest],
        "last": ["plan", *rest, "--debug"],
    }[where]
    code, _, err = run_cli(capsys, *args)
    assert code == 1
    assert "Traceback (most recent call last)" in err  # tracebacks are --debug's
    assert "DEBUG " in err  # and the request log
    assert err.rstrip().splitlines()[-1].startswith("error: ")
    # without it: one line, no traceback
    code, _, err = run_cli(capsys, "plan", *rest)
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err


def test_debug_after_a_double_dash_is_a_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_manifest(tmp_path / "--debug", CAMPAIGN)
    code, out, err = run_cli(capsys, "validate", "--", "--debug")
    assert code == 0, err
    assert out == "1 file, 4 campaigns, 1 number: valid\n"


# -- a saved plan with company; targets as globs -----------------------------------------


def test_a_saved_plan_must_be_the_only_argument(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.plan"
    assert run_cli(capsys, "plan", "--out", str(saved), str(manifest))[0] == 0
    code, out, err = run_cli(capsys, "apply", str(saved), str(manifest))
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert f"{saved} is a saved plan file: it must be the only argument" in line
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


@pytest.mark.parametrize(
    ("targets", "campaigns"),
    [
        (["Acme *"], ["Acme Q3", "Acme Q4"]),
        (["Acme Q?", "Beta"], ["Acme Q3", "Acme Q4", "Beta"]),
        (["Sale [50%]"], ["Sale [50%]"]),  # an exact name wins over its reading as a glob
        (["B*"], ["Beta"]),
    ],
)
def test_target_takes_globs(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    manifest: Path,
    targets: list[str],
    campaigns: list[str],
) -> None:
    args = [a for t in targets for a in ("--target", t)]
    code, out, err = run_cli(capsys, "plan", "--format", "json", *args, str(manifest))
    assert code == 0, err
    planned = json.loads(out)
    created = [c["campaign"] for c in planned["changes"] if c["kind"] == "create_campaign"]
    assert created == campaigns


def test_a_target_glob_that_matches_nothing_is_an_error(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    code, _, err = run_cli(capsys, "plan", "--target", "Gamma *", str(manifest))
    assert code == 1
    assert err.strip() == 'error: target "Gamma *": no campaign in the manifests matches'


# -- the token file -------------------------------------------------------------------


def test_a_token_file_saved_with_a_bom_works_and_two_lines_are_refused(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Notepad's "UTF-8" adds a BOM, which became part of the token (HTTP 401); a file
    with a second line sent both lines as the token (HTTP 401 too)."""
    monkeypatch.delenv("UPCALL_AUTH_TOKEN")
    bom = tmp_path / "bom.secret"
    bom.write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n")
    code, _out, err = run_cli(capsys, "plan", "--token-file", str(bom), str(manifest))
    assert code == 0, err
    two = tmp_path / "two.secret"
    two.write_text(f"{TOKEN}\nold-token\n")
    code, out, err = run_cli(capsys, "plan", "--token-file", str(two), str(manifest))
    assert code == 1 and out == ""
    assert err == (
        f"error: token file {two} holds more than the token (whitespace inside it); "
        "it must hold the token alone\n"
    )
