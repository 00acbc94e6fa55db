"""`plan --out` to a place that cannot be written is one clear line naming the file,
exit 1, and leaves nothing behind (it was "internal error: FileNotFoundError")."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import run_cli


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
