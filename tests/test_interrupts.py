"""One rule for every command that handles SIGINT/SIGTERM itself (`cli.interrupts`, and
the emulator's own copy of it):
a signal the process was started ignoring stays ignored, and what was there before is
put back. Before, apply, the write probe and the emulator took both signals whatever
they were set to: a script's `upcall-sync emulator &` stopped on the Ctrl-C meant for
the script in front of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from upcall_sync.cli.interrupts import handling
from upcall_sync.cli.run import _signals
from upcall_sync.cli.tools import _stop_on_signal

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _handler(_signum: int, _frame: object) -> None:
    raise AssertionError("not called")


def test_handling_leaves_an_ignored_signal_ignored_and_restores(sigint_ignored: None) -> None:
    term_before = signal.getsignal(signal.SIGTERM)
    with handling(_handler):
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is _handler
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is term_before


def test_handling_puts_back_what_was_there_after_an_exception() -> None:
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError), handling(_handler):
        assert signal.getsignal(signal.SIGINT) is _handler
        raise RuntimeError
    assert signal.getsignal(signal.SIGINT) is before


def test_handling_outside_the_main_thread_installs_nothing() -> None:
    seen: list[object] = []

    def run() -> None:
        with handling(_handler):
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [before]


def test_apply_and_the_write_probe_leave_an_ignored_signal_ignored(sigint_ignored: None) -> None:
    with _signals(threading.Event()):
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # taken
    with _stop_on_signal(threading.Event()):
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL


def test_an_emulator_started_with_sigint_ignored_serves_on_until_sigterm() -> None:
    """As `upcall-sync emulator &` in a script: the Ctrl-C meant for the script does not
    stop it; SIGTERM (the script's clean-up) does, cleanly."""

    def ignoring() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "upcall_sync.cli", "emulator", "--token", "t", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignoring,  # noqa: PLW1509 (no threads started in between)
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)  # the emulator looks at its stop flag every 0.2 s
        assert proc.poll() is None, "SIGINT stopped an emulator started ignoring it"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert err.splitlines()[-1] == "emulator: stopped", err
    assert "Traceback" not in err


_HELD_LOCK = """
import os, signal, sys, threading, time
from upcall_sync.cli.run import _signals

cancel = threading.Event()
with _signals(cancel) as received:
    with cancel._cond:  # where Event.wait holds the event's lock between its polls
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler runs here, in this thread, with the lock held
    assert cancel.wait(10), "the signal never stopped the run"
print("stopped", received)
"""


def test_a_signal_while_the_run_holds_its_stop_events_lock_does_not_deadlock() -> None:
    """apply's handler used to call `cancel.set()` itself: a signal landing while the
    main thread was inside `cancel.wait` (holding the event's lock between polls, as
    after a timed-out POST) hung the process for good. The reaction now runs in a
    watcher thread."""
    done = subprocess.run(
        [sys.executable, "-c", _HELD_LOCK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.stdout == f"stopped [{int(signal.SIGTERM)}]\n", done.stderr
    assert "Stopping: letting in-flight changes finish" in done.stderr
