"""A token with characters that outputs escape (a backslash, a quote, non-ASCII) must
not leak in its escaped form: JSON writes `\\` and `\\u00e9`, plans and YAML quote
it. A live value holding such a token reached plan, doctor and export files."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from upcall_sync.client.models import CampaignAttributes
from upcall_sync.emulator import Emulator, Faults

from .conftest import CONFIRMED, TOKEN, connect, run_cli, writes

ODD_TOKEN = 'T0k3n$^.*+?()[]{}|\\é"<&>'


def _forms(secret: str) -> list[str]:
    return [
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        html.escape(secret),
    ]


def _assert_clean(text: str) -> None:
    for form in _forms(ODD_TOKEN):
        assert form not in text, form


@pytest.fixture
def odd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(
        tokens=[ODD_TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults(retry_after=0)
    )
    with emu:
        connect(emu, ODD_TOKEN).create_campaign(
            CampaignAttributes(name=f"leak {ODD_TOKEN}", pitch=f"p {ODD_TOKEN}")
        )
        monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", ODD_TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.chdir(tmp_path)
        yield emu
    emu.store.close()


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_never_shows_an_escaped_token(
    odd: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    m = tmp_path / "m.yaml"
    m.write_text('version: 1\nprune_scope: "*"\ncampaigns:\n  - name: x\n')
    code, out, err = run_cli(capsys, "plan", "--prune", "--format", fmt, str(m))
    assert code == 0, err
    _assert_clean(out + err)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_doctor_never_shows_an_escaped_token(
    odd: Emulator, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    _code, out, err = run_cli(capsys, "doctor", "--format", fmt)
    _assert_clean(out + err)


def test_export_refuses_a_live_value_holding_an_escaped_token(
    odd: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, "export", "--out", str(tmp_path / "ex"))
    assert code == 1
    _assert_clean(out + err)
    written = [p.read_text() for p in (tmp_path / "ex").rglob("*") if p.is_file()]
    for text in written:
        _assert_clean(text)


@pytest.mark.parametrize(
    ("manifest", "csv"),
    [
        ('    pitch: "call ${INNOCENT}"\n', None),  # the token came from a token file
        ("    numbers_csv: n.csv\n", "phone,company\n+16507991144,Acme {token}\n"),
        ('    instructions: "{token}"\n', None),
    ],
)
def test_a_manifest_value_holding_the_token_is_never_sent(
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    manifest: str,
    csv: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    # as Notepad saves it: a byte-order mark, CRLF and a trailing space
    (tmp_path / "token.secret").write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b" \r\n")
    monkeypatch.setenv("UPCALL_API_URL", emulator.base_url)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(tmp_path / "token.secret"))
    monkeypatch.setenv("INNOCENT", f"x {TOKEN}")
    if csv:
        (tmp_path / "n.csv").write_text(csv.replace("{token}", TOKEN))
    (tmp_path / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: a\n" + manifest.replace("{token}", TOKEN)
    )
    try:
        _refused_twice(capsys)
    finally:  # the inputs hold the token on purpose: the session's file scan skips them
        for made in ("m.yaml", "n.csv"):
            (tmp_path / made).unlink(missing_ok=True)
    assert writes(emulator) == 0


def _refused_twice(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("validate", "plan", "apply"):  # validate agrees: the PR check fails
        code, _out, err = run_cli(
            capsys, command, *(["--auto-approve"] if command == "apply" else []), "m.yaml"
        )
        assert code == 1, err
        assert "holds the auth token" in err.splitlines()[0]
        assert ".csv:2" in err or "m.yaml:4" in err
