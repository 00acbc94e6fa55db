"""The suite reuses the CLI's click command tree (tests/helpers/fastcli.py): the tree it
reuses is the one a fresh build makes, and a registration change builds a new one."""

from __future__ import annotations

from typing import Any

import click
import typer
import typer.main

from upcall_sync.cli import main  # noqa: F401  (importing it registers the commands)
from upcall_sync.cli.base import app

from .conftest import OTHER_TOKEN, TOKEN, run_cli
from .helpers import fastcli


def shape(command: click.Command) -> Any:
    """Everything a command line is parsed and answered by."""
    fields = ("name", "opts", "secondary_opts", "required", "default", "multiple", "help")
    params = [tuple(repr(getattr(p, f, None)) for f in fields) for p in command.params]
    subs = getattr(command, "commands", {})
    return (
        command.name,
        getattr(command.callback, "__qualname__", None),
        command.help,
        params,
        {name: shape(sub) for name, sub in sorted(subs.items())},
    )


def test_the_reused_tree_is_a_fresh_build(capsys: Any) -> None:
    run_cli(capsys, "--help")  # loads the plugin commands, as every run does
    reused = typer.main.get_command(app)
    assert typer.main.get_command(app) is reused
    fresh = fastcli.ORIGINAL(app)
    assert fresh is not reused
    assert shape(fresh) == shape(reused)
    assert "emulator" in reused.commands  # type: ignore[attr-defined]


def test_a_new_registration_builds_a_new_tree() -> None:
    other = typer.Typer()

    @other.command()
    def one() -> None: ...

    first = typer.main.get_command(other)

    @other.command()
    def two() -> None: ...

    second = typer.main.get_command(other)
    assert second is not first
    assert set(second.commands) == {"one", "two"}  # type: ignore[attr-defined]


def test_the_reused_fingerprint_is_the_real_one() -> None:
    from upcall_sync import redact
    from upcall_sync.client import transport

    assert transport.account_fingerprint is fastcli.fingerprint  # the suite's, reused
    for token in (TOKEN, OTHER_TOKEN, "uctok_é\\x"):
        real = fastcli.REAL_FINGERPRINT(token)
        assert fastcli.fingerprint(token) == real == fastcli.fingerprint(redact.Secret(token))
        assert fastcli.fingerprint(token) == real  # the second time, from the cache
