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

from .conftest import CONFIRMED, connect, run_cli

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
