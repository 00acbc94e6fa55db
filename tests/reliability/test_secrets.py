"""The token is a secret: not in output (even --debug), logs, files, or over plain http.

Every test's captured stdout, stderr and log is scanned for the fixture
tokens by the hook in tests/conftest.py, and every file tests write is
scanned at the end of the session; these tests add the places that need
provoking: debug logs, tracebacks, the emulator's own log, plan files.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from upcall_sync.client import Transport
from upcall_sync.emulator import Emulator
from upcall_sync.errors import BadApiUrl, InsecureTransport

from .. import figures
from ..conftest import LONG_TOKEN, ROOT, TOKEN, leaked, run_cli, scan, write_manifest

EXAMPLES = str(ROOT / "examples")


def test_debug_output_has_request_logs_and_tracebacks_but_no_token(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--debug", "plan", EXAMPLES)
    assert code == 0
    assert "Plan: 3 campaigns to create" in out
    assert "DEBUG upcall_sync.http: GET /campaigns" in err
    assert "auth_token=REDACTED" in err  # urllib3's own request line, scrubbed at the source
    cli_env.faults.add_rule("reset", "GET", r"/campaigns", count=-1)
    code, _out, err = run_cli(capsys, "--debug", "plan", "--max-retry-time", "0.2", EXAMPLES)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "ConnectionError" in err or "ProtocolError" in err  # the chained cause is shown...
    # ...and run_cli scanned all of it for the token (it would have raised TokenLeak)


def test_apply_and_saved_plans_under_debug(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "--debug", "plan", "--out", str(plan_file), EXAMPLES)[0] == 0
    assert run_cli(capsys, "--debug", "apply", str(plan_file))[0] == 0
    scan(plan_file.read_text(), "the plan file")
    assert stat.S_IMODE(os.stat(plan_file).st_mode) == 0o600


def test_plan_file_write_is_atomic(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("the previous plan")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    code, _out, err = run_cli(capsys, "plan", "--out", str(plan_file), EXAMPLES)
    assert code == 1
    assert plan_file.read_text() == "the previous plan"  # never half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temp file left
    assert err.count("\n") == 1


def test_token_only_over_https_or_loopback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in (
        "http://api.upcall.example/api/v1",
        "http://10.0.0.5/api/v1",
    ):
        with pytest.raises(InsecureTransport):
            Transport(url, TOKEN)
    with pytest.raises(BadApiUrl):  # not http(s) at all: no flag can allow it
        Transport("ftp://127.0.0.1/api/v1", TOKEN)
    for url in (
        "https://www.upcall.com/api/v1",
        "http://127.0.0.1:1/api/v1",
        "http://[::1]:1/api/v1",
        "http://localhost:1/api/v1",
    ):
        Transport(url, TOKEN)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns: [{name: a}]\n")
    code, _, err = run_cli(capsys, "plan", "--api-url", "http://10.0.0.5/api/v1", str(m))
    assert code == 1 and "refusing to send the auth token over plain http to 10.0.0.5" in err


def test_the_emulator_never_logs_the_token(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "upcall_sync.cli", "emulator", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        for path in ("/campaigns", "/campaigns/1", "/lists", "/nope"):
            requests.get(url + path, params={"auth_token": TOKEN, "name": "x"}, timeout=5)
        requests.get(url + "/campaigns", params={"auth_token": "wrong-" + TOKEN}, timeout=5)
        time.sleep(0.2)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "GET /api/v1/campaigns?name=x -> 200" in err
    scan(out + err, "the emulator's log")


# -- manifests that try to print the token ------------------------------------------


def _hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Manifests that route the token into output by every way a manifest can.

    The token comes from a token file here, so the variable rules cannot see that
    GREETING holds it: the token check of validate and plan (which read the token
    file up front) refuses the value, and the output redactor stands behind it.
    COPY_OF_TOKEN is refused by its name.
    """
    monkeypatch.chdir(tmp_path)
    token_file = tmp_path / "token.secret"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.delenv("UPCALL_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("GREETING", TOKEN)  # a variable no manifest rule can know holds it
    monkeypatch.setenv("COPY_OF_TOKEN", TOKEN)
    made = {
        "interpolated": "version: 1\ncampaigns:\n  - name: leak\n    pitch: 'x ${GREETING} y'\n",
        "interpolated-name": "version: 1\ncampaigns:\n  - name: 'n-${GREETING}'\n",
        "secret-name": "version: 1\ncampaigns:\n  - name: leak\n    pitch: '${COPY_OF_TOKEN}'\n",
        "credential-var": "version: 1\ncampaigns:\n  - name: leak\n    pitch: '${UPCALL_AUTH_TOKEN}'\n",
        "csv-token-file": "version: 1\ncampaigns:\n  - name: leak\n    numbers_csv: token.secret\n",
        "csv-environ": "version: 1\ncampaigns:\n  - name: leak\n    numbers_csv: /proc/self/environ\n",
    }
    return {k: write_manifest(tmp_path / f"{k}.yaml", v) for k, v in made.items()}


@pytest.mark.parametrize("command", ["validate", "plan-text", "plan-json", "plan-markdown"])
def test_manifests_cannot_print_the_token(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """Every output stream passes the redactor last; run_cli scans each one."""
    manifests = _hostile(tmp_path, monkeypatch)
    for name, path in manifests.items():
        if command == "validate":
            args = ["validate", str(path)]
        else:
            args = ["plan", "--format", command.split("-")[1], str(path)]
        code, out, err = run_cli(capsys, *args)  # raises TokenLeak on any sighting
        figures.add("hostile_secret_runs")
        if name.startswith("interpolated"):  # validate and plan know the token: refused
            assert code == 1 and "holds the auth token" in err, (name, out)
        else:
            assert code == 1 and err.strip(), (name, out)


def test_a_plan_holding_the_token_is_not_saved(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = _hostile(tmp_path, monkeypatch)
    plan_file = tmp_path / "leak.plan"
    code, _out, err = run_cli(
        capsys, "plan", "--out", str(plan_file), str(manifests["interpolated"])
    )
    assert code == 1
    assert "holds the auth token" in err  # refused before a plan is made
    assert not plan_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".leak")) == []


def test_the_token_file_alone_teaches_the_redactor(
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """validate is offline and reads no token, yet a CSV path at the token file must
    not print it: the CLI learns the token from UPCALL_AUTH_TOKEN_FILE up front."""
    manifests = _hostile(tmp_path, monkeypatch)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(tmp_path / "token.secret"))
    code, _out, err = run_cli(capsys, "validate", str(manifests["csv-token-file"]))
    assert code == 1 and err.strip()


def test_part_of_a_long_token_is_redacted_wherever_output_is_made(
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 42-character token in a token file, and a manifest whose numbers_csv is that
    file: a message that quotes a field cut at 30 characters must not print the first
    30 of the token. run_cli's scan fails on any 12 consecutive characters of it."""
    monkeypatch.chdir(tmp_path)
    token_file = tmp_path / "token.secret"
    token_file.write_text(LONG_TOKEN + "\n")
    monkeypatch.delenv("UPCALL_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "halves.csv").write_text(
        f"phone,{LONG_TOKEN[:20]}\n+16507991144,{LONG_TOKEN[20:]}\n"
    )
    try:
        for csv in ("token.secret", "halves.csv"):
            m = write_manifest(
                tmp_path / "m.yaml",
                f"version: 1\ncampaigns:\n  - name: x\n    numbers_csv: {csv}\n",
            )
            for args in (["validate"], ["--debug", "validate"]):
                code, out, err = run_cli(capsys, *args, str(m))  # TokenLeak on a fragment
                figures.add("hostile_secret_runs")
                assert code == 1 and err.strip(), (csv, out)
    finally:  # the session's file scan would (rightly) find the halves written on purpose
        (tmp_path / "halves.csv").unlink()
    from upcall_sync.redact import Redactor

    redact = Redactor(LONG_TOKEN)
    for i in range(len(LONG_TOKEN) - 12 + 1):
        assert leaked(redact(f"x {LONG_TOKEN[i : i + 12]} y")) is None
    assert redact("+16507991144 and 12345678901") == "+16507991144 and 12345678901"


def test_the_suites_own_scanners_find_every_fragment_of_every_test_token() -> None:
    """The scans every test's output and the run's files go through (conftest's one-pass
    regexes) find each 12-character run of each test token, in text and in bytes, and
    nothing in text holding 11 of them."""
    from ..conftest import _FRAGMENTS_RE_BYTES, FRAGMENTS, SECRETS

    for secret in SECRETS:
        for i in range(len(secret) - 12 + 1):
            run = secret[i : i + 12]
            assert leaked(f"before {run} after") == run
            assert _FRAGMENTS_RE_BYTES.search(f"a\n{run}\nb".encode()) is not None
            assert leaked(f"x {run[:11]} {run[1:]} y") is None
    assert len(FRAGMENTS) > 3
