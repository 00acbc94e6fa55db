"""Review b58 of acc6cf4 and 54891ee: a Unix socket named as a manifest or a plan file
cannot even be opened (ENXIO), and the one line said `No such device or address`, which
reads as a missing file; it now says it is not a regular file, as a FIFO's does."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import run_cli


@pytest.fixture
def unix_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("s.yaml")
    try:
        yield "s.yaml"
    finally:
        sock.close()
        os.unlink("s.yaml")


def test_a_socket_named_as_a_manifest_is_not_a_regular_file(
    unix_socket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "validate", unix_socket)
    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        "s.yaml: cannot read file: not a regular file (a FIFO, a socket or a device)"
    )


def test_a_socket_shown_as_a_plan_file_is_not_a_regular_file(
    unix_socket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "show", unix_socket)
    assert code == 1 and out == ""
    assert err == (
        "error: s.yaml: not a plan file (not a regular file: a device, a FIFO or a socket)\n"
    )
