"""The `upcall-sync` command: the only package that imports typer; nothing imports it.

Each command parses its options, calls the library, renders, and maps errors
to exit codes: 0 success, 1 any error, 2 "changes present" (plan
--detailed-exitcode), 130/143 interrupted.
"""

from upcall_sync.cli.base import HINTS, STATE, app
from upcall_sync.cli.main import main

__all__ = ["HINTS", "STATE", "app", "main"]
