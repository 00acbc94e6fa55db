"""The `upcall-sync` console script.

It imports nothing at module level, so that a Ctrl-C in the first tenths of a
second, while the command line's modules are still importing, ends the way one
after they have loaded does (one line, exit 130) instead of with Python's
traceback. Everything else happens in `upcall_sync.cli.main`.
"""

from __future__ import annotations


def main() -> int:
    import sys

    try:
        from upcall_sync.cli import main as run

        return run()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
