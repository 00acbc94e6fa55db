"""A Ctrl-C while the command line is still importing its modules (the first few
tenths of a second) ends like any other Ctrl-C: one line, exit 130, no traceback."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs the installed console script's entry point, and sends itself SIGINT at the
# moment typer (the command line's first heavy import) starts importing: where a
# real Ctrl-C lands when pressed right after Enter.
CHILD = """
import builtins, os, signal, sys
from importlib.metadata import entry_points

# as on a terminal: a run started in the background by a shell without job control
# inherits SIGINT ignored, and Python then installs no handler of its own
signal.signal(signal.SIGINT, signal.default_int_handler)
real = builtins.__import__

def interrupting(name, *args, **kwargs):
    if name == "typer":
        builtins.__import__ = real
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *args, **kwargs)

[script] = [e for e in entry_points(group="console_scripts") if e.name == "upcall-sync"]
builtins.__import__ = interrupting
sys.argv = ["upcall-sync", "validate", sys.argv[1]]
sys.exit(script.load()())
"""


def test_the_console_script_is_the_entry_module() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["upcall-sync"] == "upcall_sync.entry:main"


def test_ctrl_c_while_importing_is_one_line_and_exit_130() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "examples")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr == "error: interrupted\n"
    assert proc.returncode == 130
    assert proc.stdout == ""
