"""Never the wrong call (issue 23): renames are contact updates, a do-not-call list keeps
numbers out and pauses campaigns that hold them, and drift the API cannot apply is
counted. End to end through the real CLI against the emulator, under both readings of
campaign numbers (live details, or a copy taken when added)."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.emulator import Emulator, Faults

from .conftest import CONFIRMED, ROOT, TOKEN, connect, run_cli

JOEY_PHONE = "+16507991144"


@contextlib.contextmanager
def _serving(monkeypatch: pytest.MonkeyPatch, **modes: Any) -> Iterator[Emulator]:
    emu = Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults(retry_after=0), **modes
    )
    monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    with emu:
        yield emu
    emu.store.close()


@pytest.fixture(params=["live", "copy"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with _serving(monkeypatch, numbers_copy_contacts=request.param == "copy") as emu:
        yield emu


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ in the working directory (numbers_csv must stay inside it)."""
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", copy, ignore=shutil.ignore_patterns("ci"))
    return copy


def _edit(path: Path, old: str, new: str, count: int) -> None:
    text = path.read_text()
    assert text.count(old) == count, f"expected {count} of {old!r} in {path}"
    path.write_text(text.replace(old, new))


def _people(emu: Emulator) -> dict[str, list[tuple[str, str]]]:
    """Campaign name -> (phone, first name) of each number, as the API shows them."""
    client = connect(emu)
    return {
        c.name: sorted((n.phone or "", n.first_name or "") for n in client.list_numbers(c.id))
        for c in client.list_campaigns()
    }


def _contacts(emu: Emulator) -> list[tuple[str, str, str]]:
    rows = emu.store.sql("SELECT phone, first_name, email FROM list_contacts ORDER BY id")
    return [(r["phone"], r["first_name"], r["email"]) for r in rows]


def _plan_json(capsys: pytest.CaptureFixture[str], examples: Path) -> dict[str, Any]:
    code, out, err = run_cli(capsys, "plan", "--format", "json", str(examples))
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


# -- 1. renames are renames -------------------------------------------------------------


def test_joey_to_joseph_applies_as_a_contact_rename(
    reading: Emulator, examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fix of a name typo on a shared phone renames the contact: every campaign that
    held Joey holds one Joseph (live reading) or keeps its copy (copy reading, one
    counted difference); Janie is untouched; nobody is added; the next plan is empty."""
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    before = _people(reading)
    held_joey = sorted(k for k, v in before.items() if (JOEY_PHONE, "Joey") in v)
    assert len(held_joey) == 2
    janie = [c for c in _contacts(reading) if c[1] == "Janie"]
    _edit(examples / "campaigns.yaml", "first_name: Joey", "first_name: Joseph", 2)

    code, out, err = run_cli(capsys, "plan", str(examples))
    assert code == 0, err
    assert "rename +16507991144 (Joey Smith) -> +16507991144 (Joseph Smith)" in out
    assert "0 numbers to add, 0 contacts to create, 1 to update" in out
    for name in held_joey:
        assert f'"{name}"' in out.split("rename", 1)[1]  # the edit names what it touches

    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
    assert code == 0, out + err
    after = _people(reading)
    assert sum(map(len, after.values())) == sum(map(len, before.values()))  # nobody added
    copy = reading.api.modes.numbers_copy_contacts
    for name in held_joey:
        at_phone = [p for p in after[name] if p[0] == JOEY_PHONE]
        shown = "Joey" if copy else "Joseph"
        assert at_phone.count((JOEY_PHONE, shown)) == 1, after[name]
        assert (JOEY_PHONE, "Joey" if shown == "Joseph" else "Joseph") not in at_phone
    assert [c for c in _contacts(reading) if c[1] == "Janie"] == janie
    assert [c[1] for c in _contacts(reading) if c[0] == JOEY_PHONE].count("Joseph") == 1

    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(examples))
    assert code == 0, out + err
    doc = _plan_json(capsys, examples)
    assert doc["changes"] == []
    if copy:
        assert "No changes that the API can make; 1 number differs (see notices)" in out
        assert doc["unapplied_differences"] == 1
        renames = [n for n in doc["notices"] if n["kind"] == "unapplied_rename"]
        assert len(renames) == 1 and sorted(renames[0]["items"]) == held_joey
    else:
        assert "No changes. Live state matches the manifests." in out
        assert doc["unapplied_differences"] == 0
