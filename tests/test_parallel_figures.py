"""The suite runs on every core (pytest-xdist): the reliability figures each worker
counts reach the summary, added up; nothing counted vanishes (issue 26).

Each case runs pytest itself, on a few probe tests written to a temporary directory
whose conftest.py takes this suite's hooks, with two workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

CONFTEST = """
from tests.conftest import (
    built_once,
    pytest_configure_node,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)
"""


def run_probe(tmp_path: Path, body: str, *options: str) -> str:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_probe.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return done.stdout + done.stderr


COUNTING = """
import os, pytest
from tests import figures

@pytest.mark.parametrize("n", range(8))
def test_counts(n):
    figures.add("misbehaving_cases")
    figures.add("misbehaving_handled")
    figures.add("a_figure_no_line_prints", 2)
    figures.add("worker_" + os.environ.get("PYTEST_XDIST_WORKER", "none"))
"""


def test_the_workers_figures_are_added_up(tmp_path: Path) -> None:
    out = run_probe(tmp_path, COUNTING, "-n", "2")
    assert "8 passed" in out, out
    # both workers ran some of the eight, and the summary has all eight
    assert "worker_gw0" in out and "worker_gw1" in out, out
    assert "misbehaving API: 8 cases tried, 8 handled" in out, out
    # a counter no line of figures.py prints still shows, under "other figures"
    assert re.search(r"other figures: a_figure_no_line_prints 16\b", out), out
    assert "INCOMPLETE" not in out, out


CRASHING = """
import os, pytest
from tests import figures

@pytest.mark.parametrize("n", range(6))
def test_counts(n):
    figures.add("misbehaving_cases")
    figures.add("misbehaving_handled")

def test_crashes():
    figures.add("misbehaving_cases")
    os._exit(3)  # the worker dies: what it counted never reaches the controller
"""


def test_a_worker_that_dies_is_named_not_silently_dropped(tmp_path: Path) -> None:
    out = run_probe(tmp_path, CRASHING, "-n", "2", "--max-worker-restart", "1")
    assert re.search(r"INCOMPLETE: no figures from gw\d \(crashed\)", out), out
