"""`export --out DIR --overwrite` where one target is a directory: it wrote every file
before that one, then failed naming a temporary file. Nothing may be half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.client.models import CampaignAttributes
from upcall_sync.emulator import Emulator

from .conftest import connect, run_cli


def test_a_target_that_is_a_directory_writes_nothing(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    client = connect(cli_env)
    for name in ("Alpha", "Beta", "Gamma"):
        client.create_campaign(CampaignAttributes(name=name, pitch="p"))
    out = tmp_path / "out"
    (out / "beta.yaml").mkdir(parents=True)

    code, _out, err = run_cli(capsys, "export", "--out", str(out), "--overwrite")

    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "beta.yaml" in err and ".tmp" not in err
    assert sorted(p.name for p in out.iterdir()) == ["beta.yaml"]
