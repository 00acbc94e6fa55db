"""A faithful local Upcall v1 API backed by SQLite, for trying upcall-sync and for tests.

The sync tool never imports this package. The `upcall-sync emulator` command is
a plug-in (`command.py`, an entry point); importing this package is cheap, and
the server, the store and the API load on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from upcall_sync.emulator.app import Api
    from upcall_sync.emulator.exchange import Request, Result
    from upcall_sync.emulator.faults import FAULT_KINDS, RANDOM_FAULTS, FaultRule, Faults
    from upcall_sync.emulator.modes import PESSIMISTIC_MODES, Modes
    from upcall_sync.emulator.server import Emulator, LoggedRequest
    from upcall_sync.emulator.store import Store

_WHERE = {
    "Api": "app",
    "Request": "exchange",
    "Result": "exchange",
    "PESSIMISTIC_MODES": "modes",
    "Modes": "modes",
    "FAULT_KINDS": "faults",
    "RANDOM_FAULTS": "faults",
    "Emulator": "server",
    "FaultRule": "faults",
    "Faults": "faults",
    "LoggedRequest": "server",
    "Store": "store",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "FAULT_KINDS",
    "PESSIMISTIC_MODES",
    "RANDOM_FAULTS",
    "Api",
    "Emulator",
    "FaultRule",
    "Faults",
    "LoggedRequest",
    "Modes",
    "Request",
    "Result",
    "Store",
]
