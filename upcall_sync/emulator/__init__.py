"""A faithful local Upcall v1 API backed by SQLite, for trying upcall-sync and for tests.

The sync tool never imports this package; only the `upcall-sync emulator`
command (lazily) and the tests do.
"""

from upcall_sync.emulator.app import Api, Request, Result
from upcall_sync.emulator.modes import PESSIMISTIC_MODES, Modes
from upcall_sync.emulator.server import (
    FAULT_KINDS,
    RANDOM_FAULTS,
    Emulator,
    FaultRule,
    Faults,
    LoggedRequest,
)
from upcall_sync.emulator.store import Store

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
