"""One connection: the token read once (a Notepad byte-order mark included), and one
number for the requests in flight, the pooled connections and the reading threads
(apply runs twice as many workers: one waiting out a Retry-After holds no slot)."""

from __future__ import annotations

import builtins
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from requests.adapters import HTTPAdapter

from upcall_sync.authtoken import read_token
from upcall_sync.client import DEFAULT_PARALLELISM, WORKERS_PER_SLOT, Connection, UpcallClient
from upcall_sync.client.slots import Slots
from upcall_sync.emulator import Emulator
from upcall_sync.errors import NoToken, TokenFileError

from .conftest import TOKEN, run_cli, write_manifest

BOM = "\ufeff"
COMMANDS = (
    ("validate",),
    ("plan",),
    ("apply", "--auto-approve"),
)


@pytest.fixture
def token_file(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[str], Path]:
    """A checkout whose token file is named in the environment; the argument is what
    the file holds around the token."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPCALL_API_URL", emulator.base_url)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def make(text: str) -> Path:
        path = tmp_path / "token.secret"
        path.write_text(text.replace("{token}", TOKEN), encoding="utf-8")
        monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(path))
        return path

    return make


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("text", ["{token}\n", BOM + "{token}\r\n"], ids=["plain", "bom"])
def test_a_token_routed_through_a_manifest_is_never_printed(
    token_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    text: str,
    command: tuple[str, ...],
) -> None:
    """The leak scan's route: the token file named as the numbers' CSV, whose header
    (the token, after a byte-order mark) was once quoted as an unknown column. Its name
    is no contacts file's now, so it is not even read."""
    path = token_file(text)
    m = write_manifest(
        tmp_path / "m.yaml", f"version: 1\ncampaigns:\n  - name: a\n    numbers_csv: {path.name}\n"
    )
    code, out, err = run_cli(capsys, *command, str(m))  # run_cli fails on the token
    assert code == 1, out + err
    assert '"token.secret" is not a contacts file' in err  # refused unread, and said so


def _spy_opens(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    opened: list[str] = []
    for owner in (builtins, io):
        real = owner.open

        def spy(file: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            if isinstance(file, str | Path) and Path(file).name == path.name:
                opened.append(str(file))
            return _real(file, *args, **kwargs)

        monkeypatch.setattr(owner, "open", spy)
    return opened


@pytest.mark.parametrize("by", ["environment", "option"])
def test_the_token_file_is_opened_once_per_run(
    token_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    by: str,
) -> None:
    path = token_file(BOM + "{token}\n")
    args = ["--token-file", str(path)] if by == "option" else []
    if by == "option":
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE")
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: a\n")
    opened = _spy_opens(monkeypatch, path)
    code, out, err = run_cli(capsys, "plan", *args, str(m))
    assert code == 0, err
    assert "+ campaign" in out or "create" in out.lower()
    assert len(opened) == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_read_token_reads_utf16_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    """Windows PowerShell 5's `echo $token > token.secret` writes UTF-16LE with a mark."""
    path = tmp_path / "t.secret"
    mark = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    path.write_bytes(mark + f"{TOKEN}\r\n".encode(encoding))
    assert read_token(token_file=path, environ={}).reveal() == TOKEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{token}", TOKEN),
        ("  {token}\n\n", TOKEN),
        (BOM + "{token}\r\n", TOKEN),
        ("\n" + BOM + "{token}\n", TOKEN),
    ],
)
def test_read_token_drops_a_byte_order_mark_and_whitespace(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "t.secret"
    path.write_text(text.replace("{token}", TOKEN), encoding="utf-8")
    assert read_token(token_file=path, environ={}).reveal() == expected


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "is empty"),
        (b"\xef\xbb\xbf \n", "is empty"),
        (b"two words\n", "more than the token"),
        (b"\xff\xfe", "is empty"),
        (b"\xff\xfe\x00\xd8", "not UTF-8 text \\(nor UTF-16"),  # a lone surrogate
        (b"\xc3\x28abc", "not UTF-8"),
    ],
)
def test_read_token_refuses_a_file_that_holds_no_token_alone(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "t.secret"
    path.write_bytes(content)
    with pytest.raises(TokenFileError, match=why) as caught:
        read_token(token_file=path, environ={})
    assert "two" not in str(caught.value) and "words" not in str(caught.value)


@pytest.mark.parametrize("unreadable", ["directory", "binary"])
def test_validate_says_when_it_could_not_screen_for_the_token(
    token_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    unreadable: str,
) -> None:
    """validate needs no token, but refuses a manifest holding it: with a token file it
    cannot read, that check cannot run, and validate says so instead of passing quietly."""
    path = tmp_path / "token.d"
    if unreadable == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\x00\xc3\x28\xff")
    monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(path))
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: a\n")
    code, out, err = run_cli(capsys, "validate", str(m))
    assert code == 0 and out.endswith(": valid\n")
    [line] = [x for x in err.splitlines() if x.startswith("warning:")]
    assert str(path) in line and line.endswith("the manifests were not checked for the token")


def test_read_token_order_argument_file_environment(tmp_path: Path) -> None:
    path = tmp_path / "t.secret"
    path.write_text("from-file")
    env = {"UPCALL_AUTH_TOKEN_FILE": str(path), "UPCALL_AUTH_TOKEN": "from-env"}
    assert read_token(" given ", environ=env).reveal() == "given"
    assert read_token(environ=env).reveal() == "from-file"
    assert read_token(environ={"UPCALL_AUTH_TOKEN": " from-env\n"}).reveal() == "from-env"
    with pytest.raises(NoToken):
        read_token(environ={})


# -- one number for threads and connections ------------------------------------------


class _Sizes:
    """The pool sizes of every HTTP adapter and thread pool made, and apply's threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connections: list[int] = []
        self.workers: list[int] = []
        self.apply_threads: set[str] = set()
        self.slots: list[int | None] = []
        adapter_init = HTTPAdapter.__init__
        slots_init = Slots.__init__
        pool_init = ThreadPoolExecutor.__init__
        thread_start = threading.Thread.start

        def adapter(this: HTTPAdapter, *args: Any, **kwargs: Any) -> None:
            if "pool_maxsize" in kwargs:  # not the default adapters a bare Session mounts
                self.connections.append(kwargs["pool_maxsize"])
            adapter_init(this, *args, **kwargs)

        def pool(this: ThreadPoolExecutor, max_workers: int | None = None, **kwargs: Any) -> None:
            self.workers.append(max_workers or 0)
            pool_init(this, max_workers, **kwargs)

        def start(this: threading.Thread) -> None:
            if this.name.startswith("apply-"):
                self.apply_threads.add(this.name)
            thread_start(this)

        def slots(this: Slots, size: int | None) -> None:
            if type(this) is Slots and size is not None:  # not the start window, nor a
                self.slots.append(size)  # bare transport's unbounded default
            slots_init(this, size)

        monkeypatch.setattr(HTTPAdapter, "__init__", adapter)
        monkeypatch.setattr(Slots, "__init__", slots)
        monkeypatch.setattr(ThreadPoolExecutor, "__init__", pool)
        monkeypatch.setattr(threading.Thread, "start", start)


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Sizes]:
    yield _Sizes(monkeypatch)


@pytest.mark.parametrize("asked", [None, 32])
def test_parallelism_is_one_number_for_threads_and_connections(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sizes: _Sizes,
    asked: int | None,
) -> None:
    m = write_manifest(
        tmp_path / "m.yaml",
        "version: 1\ncampaigns:\n"
        + "".join(
            f'  - name: par-{i}\n    numbers: [{{phone: "+1650799{i:04d}"}}]\n' for i in range(3)
        ),
    )
    option = [] if asked is None else ["--parallelism", str(asked)]
    expected = DEFAULT_PARALLELISM if asked is None else asked
    for command in (["plan"], ["apply", "--auto-approve"], ["export"]):
        code, _out, err = run_cli(
            capsys, *command, *option, *([] if command == ["export"] else [str(m)])
        )
        assert code == 0, err
    assert set(sizes.connections) == {expected}
    assert set(sizes.workers) == {expected}
    assert set(sizes.slots) == {expected}  # requests in flight
    assert len(sizes.apply_threads) == expected * WORKERS_PER_SLOT


def test_the_command_line_default_is_the_clients() -> None:
    from upcall_sync.cli import base

    assert base.DEFAULT_PARALLELISM == DEFAULT_PARALLELISM
    assert base.ConnectionOptions().parallelism == DEFAULT_PARALLELISM


def test_a_library_client_has_as_many_threads_as_connections(emulator: Emulator) -> None:
    client = UpcallClient.open(Connection.resolve(emulator.base_url, TOKEN, parallelism=32))
    adapter = client.transport.session.get_adapter(emulator.base_url)
    assert isinstance(adapter, HTTPAdapter)
    assert adapter._pool_maxsize == 32  # type: ignore[attr-defined]
    with client.workers("t") as pool:
        assert pool._max_workers == 32
    assert client.transport.slots.size == 32
    assert client.parallelism == 32


def test_every_api_command_declares_the_same_connection_options() -> None:
    """One declared set (`cli.base.connection_options`), not a copy per command."""
    import dataclasses

    import typer

    from upcall_sync.cli import base, main  # noqa: F401  (main registers the commands)

    group = typer.main.get_command(base.app)
    fields = {f.name for f in dataclasses.fields(base.ConnectionOptions)}
    for name in ("plan", "apply", "export", "doctor"):
        command = group.commands[name]  # type: ignore[attr-defined]
        declared = {p.name for p in command.params}
        expected = fields - ({"parallelism"} if name == "doctor" else set())
        assert expected <= declared, (name, expected - declared)
    assert not fields & {p.name for p in group.commands["validate"].params}  # type: ignore[attr-defined]
