"""Saved plans and special files (found by b53): `plan --out` over a device, FIFO or
socket replaced the node itself with the plan (as root, `--out /dev/null` broke
/dev/null for every later step), and `show` of a FIFO no one writes to hung
forever, of a device (`/dev/zero`) read until memory ran out."""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from upcall_sync.emulator import Emulator

from .conftest import run_cli

MANIFEST = "version: 1\ncampaigns:\n  - name: a\n"


def _special(tmp_path: Path, kind: str) -> Path:
    node = tmp_path / "special" / kind
    node.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(node)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(node))
        sock.close()
    return node


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_plan_out_over_a_special_file_is_refused_and_leaves_it(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    node = _special(tmp_path, kind)
    before = node.lstat()
    code, out, err = run_cli(capsys, "plan", "--out", str(node), "m.yaml")
    assert code == 1, out
    [line] = err.strip().splitlines()
    assert line == (
        f"error: {node}: cannot save the plan: it is not a regular file (a device, a FIFO "
        "or a socket); save the plan as a file, e.g. plan.json"
    )
    after = node.lstat()
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)  # still the node
    assert after.st_ino == before.st_ino
    assert sorted(p.name for p in node.parent.iterdir()) == [kind]  # no temp file left


def test_plan_out_through_a_symlink_to_a_device_is_refused(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """`--out /dev/stdout` is a link to a pipe or terminal: refused, the link kept."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    node = _special(tmp_path, "fifo")
    link = tmp_path / "stdout"
    link.symlink_to(node)
    code, _out, err = run_cli(capsys, "plan", "--out", "stdout", "m.yaml")
    assert code == 1
    assert err.strip() == (
        "error: stdout: cannot save the plan: it is not a regular file (a device, a FIFO "
        "or a socket); save the plan as a file, e.g. plan.json"
    )
    assert link.is_symlink() and stat.S_ISFIFO(node.lstat().st_mode)


@pytest.mark.timeout(30)
def test_show_of_a_fifo_is_one_line_not_a_hang(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    node = _special(tmp_path, "fifo")  # nobody writes to it: open() blocked forever
    code, _out, err = run_cli(capsys, "show", str(node))
    assert code == 1
    assert err.strip() == (
        f"error: {node}: not a plan file (not a regular file: a device, a FIFO or a socket)"
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_show_of_an_endless_device_is_refused_before_reading(tmp_path: Path) -> None:
    """Run apart, under a 1 GB address-space limit: before the fix it read until memory
    ran out, which must not take the test machine's memory with it."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run(
        [str(Path(sys.executable).with_name("upcall-sync")), "show", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        cwd=tmp_path,
        env={**os.environ, "UPCALL_AUTH_TOKEN": ""},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: /dev/zero: not a plan file (not a regular file: a device, a FIFO or a socket)"
    )


def test_a_plan_file_through_a_symlink_still_shows(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    code, _out, err = run_cli(capsys, "plan", "--out", "p.json", "m.yaml")
    assert code == 0, err
    (tmp_path / "link.json").symlink_to(tmp_path / "p.json")
    code, out, err = run_cli(capsys, "show", "link.json")
    assert code == 0, err
    assert "1 campaign to create" in out
    # saving again through the link replaces the link with a file (never writes through)
    code, _out, err = run_cli(capsys, "plan", "--out", "link.json", "m.yaml")
    assert code == 0, err


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("", "error: --out is empty (an unset variable?): give the file to save the plan to"),
        ("  ", "error: --out is empty (an unset variable?): give the file to save the plan to"),
        (
            "-",
            "error: --out -: a saved plan is a file, for `apply FILE`: give its name (stdout "
            "carries the plan shown: --format json for machines)",
        ),
    ],
)
def test_plan_out_with_no_file_name_is_refused(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    out: str,
    says: str,
) -> None:
    """`--out "$PLAN"` with PLAN unset saved nothing and exited 0 (a CI step then applied
    no plan file); `--out -` made a file named `-` (found by review b58)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    code, _out, err = run_cli(capsys, "plan", "--out", out, "m.yaml")
    assert code == 1 and err.strip().splitlines() == [says]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]
