"""`upcall-sync show PLANFILE` (issue 24): a saved plan printed again, offline, in every
format; `--markdown-limit` gives the CI job summary its 1 MiB instead of a comment's 65k."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import ROOT, TOKEN, run_cli


def test_show_prints_what_plan_printed(
    cli_env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = str(tmp_path / "p.upcall-plan")
    examples = str(ROOT / "examples")
    for fmt in ("text", "json", "markdown", "github"):
        code, planned, _ = run_cli(capsys, "plan", "--format", fmt, "--out", saved, examples)
        assert code == 0
        monkeypatch.delenv("UPCALL_AUTH_TOKEN")  # offline: no token, no API
        code, shown, err = run_cli(capsys, "show", saved, "--format", fmt)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        assert code == 0, err
        assert shown == planned, fmt


def test_markdown_limit_keeps_what_a_comment_would_cut(
    cli_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaigns = "".join(
        f"  - name: C{i}\n    pitch: {'p' * 300}\n    numbers: [{{phone: '+1 650 555 {i:04d}'}}]\n"
        for i in range(400)
    )
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"version: 1\ncontact_list: l\ncampaigns:\n{campaigns}")
    saved = str(tmp_path / "p.upcall-plan")
    code, comment, err = run_cli(
        capsys, "plan", "--format", "markdown", "--out", saved, str(manifest)
    )
    assert code == 0, err
    code, full, _ = run_cli(
        capsys, "show", saved, "--format", "markdown", "--markdown-limit", "1000000"
    )
    assert code == 0
    assert len(comment) <= 65_000 < len(full) <= 1_000_000
    pitch = "p" * 300
    assert comment.count(pitch) < full.count(pitch) == 400


def test_show_help_names_its_options_as_the_readme_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`show --help` printed `--markdown-limit <int range>`, and the README's synopsis
    left out `--show-all-numbers` (helper b73)."""
    code, out, _ = run_cli(capsys, "show", "--help")
    assert code == 0
    assert "--markdown-limit N " in out
    readme = (ROOT / "README.md").read_text()
    synopsis = readme[readme.index("`upcall-sync show PLANFILE") :].split("` prints")[0]
    for option in ("--format", "--markdown-limit N", "--show-all-numbers"):
        assert option in synopsis and option.split()[0] in out, option
