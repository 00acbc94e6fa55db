"""The suite on every core (pytest-xdist, `./scripts/test` runs `-n <cores + 2> --dist worksteal`).

- **One directory per test run**, shared by all its workers: `shared_dir(config)`,
  under the system's temp dir, named after an id the controller hands every worker
  (`pytest_configure_node`); the controller removes it when the run ends.
- **Built once:** `once(config, name, build)` builds `name` in that directory under a
  file lock: the first worker to ask builds it, the others wait and reuse it (the
  GitHub Action's venv, for example). Any test may use it through the `built_once`
  fixture in conftest.py.
- **Figures merged:** each worker sends its `tests/figures.py` counters to the
  controller when it finishes (`workeroutput`); the controller adds them up. A worker
  that ends without sending them (it crashed) is named in the figures' summary, so no
  figure silently vanishes.

Without xdist (`-n 0`, or `-p no:xdist`) the same code runs in the one process.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .. import figures

_RUN_ID = pytest.StashKey[str]()
_WORKER_KEY = "upcall_sync_run_id"
_FIGURES_KEY = "upcall_sync_figures"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def run_id(config: pytest.Config) -> str:
    if is_worker(config):
        return str(config.workerinput[_WORKER_KEY])  # type: ignore[attr-defined]
    if _RUN_ID not in config.stash:
        config.stash[_RUN_ID] = uuid.uuid4().hex[:12]
    return config.stash[_RUN_ID]


def shared_dir(config: pytest.Config) -> Path:
    path = Path(tempfile.gettempdir()) / f"upcall-sync-tests-{run_id(config)}"
    path.mkdir(exist_ok=True)
    return path


def once(config: pytest.Config, name: str, build: Callable[[Path], None]) -> Path:
    """`shared_dir/name`, built by `build(path)` exactly once per test run. A build that
    fails leaves no mark: the next worker to ask tries again (and fails the same way)."""
    path = shared_dir(config) / name
    with FileLock(str(path) + ".lock"):
        done = path.parent / f"{name}.built"
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            build(path)
            done.touch()
    return path


# -- xdist hooks (called from conftest.py) ----------------------------------------------


def configure_node(node: Any) -> None:
    """Controller: hand each worker the run's id."""
    node.workerinput[_WORKER_KEY] = run_id(node.config)


def send_figures(config: pytest.Config) -> None:
    """Worker, at the very end of its session: its counters go to the controller."""
    if is_worker(config):
        config.workeroutput[_FIGURES_KEY] = dict(figures.counts)  # type: ignore[attr-defined]


def receive_figures(node: Any, error: object) -> None:
    """Controller, as each worker goes down: add its counters, or say they are missing."""
    sent = getattr(node, "workeroutput", None) or {}
    name = str(node.gateway.id) if getattr(node, "gateway", None) else "a worker"
    if _FIGURES_KEY in sent:
        figures.merge(sent[_FIGURES_KEY])
    else:
        figures.missing.append(f"{name} ({'crashed' if error else 'sent none'})")


def finish(config: pytest.Config) -> None:
    """Controller (or the only process): the shared directory goes."""
    if not is_worker(config) and _RUN_ID in config.stash:
        with contextlib.suppress(OSError):
            shutil.rmtree(shared_dir(config))
