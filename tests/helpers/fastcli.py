"""The in-process CLI without the work each call repeats to the same result.

**The command tree.**
`upcall_sync.cli.main()` runs `app(...)`, and typer turns the app's registered
functions into a click command tree on every call (`typer.main.get_command`): about
0.1 s of signature and type-hint reading per call, the same tree each time. The suite
calls `main()` thousands of times (`conftest.run_cli`), so the tree is built once per
app and registration state and reused: click builds a fresh context for every call, and
the tree itself holds no state between calls. Only the building is skipped: parsing,
the callbacks, the exit codes and the output are the ones the tool has. Any change to
what is registered (a plugin command added, a new callback) builds a new tree.

The installed `upcall-sync` (the subprocess tests) builds its tree as always;
tests/test_cli_cache.py checks that the reused tree is the one a fresh build makes.

**The account fingerprint.** `redact.account_fingerprint(token)` is PBKDF2 (50,000
rounds, ~30 ms, on purpose: guessing tokens against a plan file costs something), a pure
function of the token; every in-process plan and apply computes it again for the same
few test tokens. The suite computes it once per token with the real function and reuses
the value. tests/test_cli_cache.py checks the reused values against the real function.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import typer.main

from upcall_sync import redact

ORIGINAL: Callable[[typer.Typer], Any] = typer.main.get_command
REAL_FINGERPRINT: Callable[[redact.Secret | str], str] = redact.account_fingerprint


@functools.cache
def _fingerprint_of(raw: str) -> str:
    return REAL_FINGERPRINT(raw)


def fingerprint(secret: redact.Secret | str) -> str:
    """`redact.account_fingerprint`, computed once per token."""
    return _fingerprint_of(secret.reveal() if isinstance(secret, redact.Secret) else secret)


def registration(app: typer.Typer) -> tuple[Any, ...]:
    """What a command tree is built from: the app and everything registered on it."""
    return (
        id(app),
        tuple((id(c.callback), c.name) for c in app.registered_commands),
        tuple((id(g.typer_instance), g.name) for g in app.registered_groups),
        id(app.registered_callback),
        id(app.info.callback),
    )


@contextmanager
def reused_cli_work() -> Iterator[None]:
    built: dict[tuple[Any, ...], Any] = {}

    def get_command(app: typer.Typer) -> Any:
        key = registration(app)
        if key not in built:
            built[key] = ORIGINAL(app)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.main, "get_command", get_command)
        # every module that imported the function by name (the client's transport)
        for name, module in list(sys.modules.items()):
            if name.startswith("upcall_sync") and (
                getattr(module, "account_fingerprint", None) is REAL_FINGERPRINT
            ):
                patch.setattr(module, "account_fingerprint", fingerprint)
        yield
