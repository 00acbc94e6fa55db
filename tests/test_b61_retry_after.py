"""A 429 whose Retry-After is longer than the client waits fails at once, and says so
in apply's outcome line too, not only the server's words (helper b61)."""

from __future__ import annotations

from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import run_cli


def test_a_too_long_retry_after_is_the_reason_apply_gives(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    # the 429's field message ("Rate limit exceeded") replaced the reason: apply said
    # "... (HTTP 429)" of a change it never retried, and the reliability table's line
    # ("the server asks to wait 86400 s ...") was never shown
    (workdir / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: a\n    pitch: p\n    language: en\n"
    )
    cli_env.faults.add_rule("retry-after-huge", "POST", "/campaigns")
    code, out, _err = run_cli(capsys, "apply", "--auto-approve", "m.yaml")
    assert code == 1
    [failed] = [line for line in out.splitlines() if "FAILED" in line]
    assert "the server asks to wait 86400 s (Retry-After), more than the 60 s" in failed, out
