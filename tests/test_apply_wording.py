"""What apply says after failures, and the README's jq example (issue 19, item 6).

"Run apply again to complete the rest." is advice: it must only follow failures a
second run can get past (a timeout, a 5xx, an interruption), not the API refusing the
change itself (403 for a token that may not write; 400 for a caller ID the account
has not confirmed), which fails the same way every time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import ROOT, TOKEN, run_cli, write_manifest

AGAIN = "Run apply again to complete the rest."
READ_ONLY = "uctok_READONLY_5e4d3c2b1a09"


def test_a_token_that_may_not_write_is_not_told_to_run_again(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_env.store.add_read_only_token(READ_ONLY, cli_env.accounts[TOKEN])
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", READ_ONLY)
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: a\n  - name: b\n")
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1, out + err
    assert "Apply failed" in out
    assert AGAIN not in out + err
    assert "2 changes failed for a reason running apply again will not fix (HTTP 403)" in out


def test_an_unconfirmed_caller_id_is_not_told_to_run_again(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(
        tmp_path / "m.yaml",
        'version: 1\ncampaigns:\n  - name: a\n    from_number: "+14155550199"\n',
    )
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1, out + err
    assert "from_number" in out and "(HTTP 400)" in out
    assert AGAIN not in out + err
    assert "1 change failed for a reason running apply again will not fix (HTTP 400)" in out


def test_a_failure_a_second_run_gets_past_still_says_run_again(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cli_env.faults.add_rule("503", "PATCH", r"/campaigns/\d+", count=-1)
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: a\n")
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, "version: 1\ncampaigns:\n  - name: a\n    pitch: new\n")
    code, out, err = run_cli(capsys, "apply", "--auto-approve", "--max-retry-time", "0.5", str(m))
    assert code == 1, out + err
    assert AGAIN in out
    assert "will not fix" not in out


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_readme_jq_example_names_each_failure_once(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The README's own command, run on a real report: one line per failed change, its
    manifest location once."""
    readme = (ROOT / "README.md").read_text()
    [command] = re.findall(r"^jq -r '(\.changes\[\][^']*)' apply-report\.json$", readme, re.M)
    m = write_manifest(
        tmp_path / "m.yaml",
        'version: 1\ncampaigns:\n  - name: a\n    from_number: "+14155550199"\n',
    )
    code, out, _err = run_cli(capsys, "apply", "--format", "json", "--auto-approve", str(m))
    assert code == 1
    report = tmp_path / "apply-report.json"
    report.write_text(out)
    done = subprocess.run(
        ["jq", "-r", command, str(report)], capture_output=True, text=True, check=True
    )
    [line] = done.stdout.splitlines()
    assert line.count(str(m)) == 1, line  # the location once, not source and message both
    assert "from_number" in line
