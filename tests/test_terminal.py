"""apply on a terminal: the confirmation prompt, colour, and the progress bar.

Runs the real command under a pseudo-terminal and answers its prompt.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

from upcall_sync.emulator import Emulator

from .conftest import ROOT, TOKEN, scan

EXAMPLES = str(ROOT / "examples")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run_on_a_terminal(
    emulator: Emulator,
    answer: str,
    *args: str,
    no_color: bool | str = False,
    term: str = "xterm-256color",
) -> tuple[int, str]:
    """`no_color`: True sets NO_COLOR=1; a string sets it to that string."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(
        UPCALL_API_URL=emulator.base_url,
        UPCALL_AUTH_TOKEN=TOKEN,
        TERM=term,
        COLUMNS="120",
    )
    if no_color is not False:
        env["NO_COLOR"] = "1" if no_color is True else str(no_color)
    proc = subprocess.Popen(
        [sys.executable, "-m", "upcall_sync.cli", "apply", *args, EXAMPLES],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"Enter a value:" in output:
                os.write(primary, answer.encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(primary)
    text = output.decode("utf-8", "replace")
    scan(text, "the terminal")
    return proc.returncode, text


def test_yes_applies_with_a_progress_bar_and_colour(emulator: Emulator) -> None:
    code, text = _run_on_a_terminal(emulator, "yes")
    plain = ANSI.sub("", text)
    assert code == 0, plain
    assert "Do you want to apply these changes? Only 'yes' will be accepted." in plain
    assert "\x1b[32m" in text  # green + lines: colour on a terminal
    assert re.search(r"applying .*\d+/\d+", plain)  # the bar, with counts
    assert re.search(r"[\d.]+/s", plain)  # and a rate
    assert "Apply complete: 3 campaigns created" in plain
    assert "Converged" in plain


def test_anything_but_yes_changes_nothing(emulator: Emulator) -> None:
    code, text = _run_on_a_terminal(emulator, "y")
    assert code == 1
    assert "apply cancelled: nothing was changed" in ANSI.sub("", text)
    assert emulator.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


def test_no_color_means_no_colour_and_lines_not_a_bar(emulator: Emulator) -> None:
    code, text = _run_on_a_terminal(emulator, "yes", no_color=True)
    assert code == 0
    assert "\x1b[32m" not in text
    assert "done  create campaign" in text  # one line per change instead of a bar


def test_an_empty_no_color_keeps_the_colour(emulator: Emulator) -> None:
    """no-color.org: NO_COLOR counts when it is set and not empty; `NO_COLOR=` is unset."""
    code, text = _run_on_a_terminal(emulator, "yes", no_color="")
    assert code == 0, text
    assert "\x1b[32m" in text
    assert re.search(r"applying .*\d+/\d+", ANSI.sub("", text))  # the bar, not lines


def _operations(emulator: Emulator) -> tuple[int, int]:
    """What applying the examples takes, from the plan's JSON: its changes, and the
    "set ready" steps of campaigns made ready after their numbers."""
    env = {**os.environ, "UPCALL_API_URL": emulator.base_url, "UPCALL_AUTH_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-m", "upcall_sync.cli", "plan", "--format", "json", EXAMPLES],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    changes = json.loads(done.stdout)["changes"]
    return len(changes), sum(1 for c in changes if c.get("ready_after_numbers"))


def test_the_bar_counts_to_its_total_and_not_past_it(emulator: Emulator) -> None:
    changes, ready_steps = _operations(emulator)
    assert ready_steps > 0  # the examples make a campaign ready after its numbers
    code, text = _run_on_a_terminal(emulator, "yes")
    plain = ANSI.sub("", text)
    assert code == 0, plain
    counts = [(int(a), int(b)) for a, b in re.findall(r"applying\s.*?(\d+)/(\d+)", plain)]
    assert counts, plain
    assert {b for _a, b in counts} == {changes + ready_steps}  # "set ready" steps counted
    assert max(a for a, _b in counts) == changes + ready_steps  # ends at 100%, not past it


def test_a_dumb_terminal_gets_no_colour_and_no_bar(emulator: Emulator) -> None:
    code, text = _run_on_a_terminal(emulator, "yes", term="dumb")
    assert code == 0, text
    assert "\x1b[" not in text  # no colour, no cursor movement
    assert "done  create campaign" in text  # one line per change instead of a bar
    assert "Converged" in text
