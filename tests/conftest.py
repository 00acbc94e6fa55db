"""Shared fixtures: an emulator on a free loopback port, clients pointed at it."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.client import RetryPolicy, Timeouts, UpcallClient
from upcall_sync.emulator import Emulator, Faults
from upcall_sync.redact import FRAGMENT, _trie_pattern

from . import figures
from .helpers import fastcli, parallel

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# A distinctive token: every secrets test scans outputs for it.
TOKEN = "uctok_SECRET_7f3a9c1e5b2d4a60"
OTHER_TOKEN = "uctok_OTHERACCT_0b9d8c7e6f5a"
#: longer than the 30 characters a message quotes of a file's field
LONG_TOKEN = "uctok_LONGSECRET_4c8e2a6f0b3d9e7a1c5f8b2d"
CONFIRMED = ("+16501231234", "+14155550100")

FAST_RETRY = RetryPolicy(
    max_attempts=12, backoff_initial=0.005, backoff_max=0.05, jitter=0.005, max_total_seconds=30
)
FAST_TIMEOUTS = Timeouts(connect=2.0, read=2.0, total=10.0)


@pytest.fixture
def fast_cli_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process CLI's retry schedule, ten times faster: its backoff (0.025-0.8 s
    instead of 0.25-8 s) and its retry time (`--max-retry-time 5` allows 0.5 s), so each
    request gets as many attempts as the CLI's own schedule fits in its time, and an apply
    fails and is re-run about as often.

    For the fault matrices, which assert what apply converges to (no duplicate, nothing
    lost, also across re-runs), never how long it waited: at 20% injected faults they
    otherwise spend most of their time asleep. A server's Retry-After is honoured as sent,
    and the breaker is unchanged; the backoff itself is tested in tests/test_ratelimit.py.
    """
    import upcall_sync.client

    real = upcall_sync.client.RetryPolicy
    default = real()
    made: list[RetryPolicy] = []

    def policy(**settings: Any) -> RetryPolicy:
        made.append(real(**settings))
        return replace(
            made[-1],
            backoff_initial=default.backoff_initial / 10,
            backoff_max=default.backoff_max / 10,
            jitter=default.jitter / 10,
            max_total_seconds=made[-1].max_total_seconds / 10,
        )

    monkeypatch.setattr(upcall_sync.client, "RetryPolicy", policy)
    yield
    assert made, "the CLI no longer makes its RetryPolicy where this fixture replaces it"


#: the suite's "now": plans through the command line read this frozen clock (the one
#: injection point, `cli.base.STATE.clock`), so a window's "already over" never depends
#: on the day the suite runs; library tests pass `PlanOptions(clock=...)` or `now=`
FROZEN_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return FROZEN_NOW


@pytest.fixture(autouse=True, scope="session")
def _reused_cli_work() -> Iterator[None]:
    """The in-process CLI builds its click command tree once, not per call, and computes a
    token's (deliberately slow) account fingerprint once (tests/helpers/fastcli.py)."""
    with fastcli.reused_cli_work():
        yield


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from upcall_sync.cli.base import STATE

    monkeypatch.setattr(STATE, "clock", frozen_clock)


@pytest.fixture(autouse=True)
def _root_log_level() -> Iterator[None]:
    """The root logger's level as the test found it. The CLI run in-process sets it
    (`--debug`: DEBUG) and left it so: a cassette test later on the same worker then had
    vcrpy's own DEBUG lines (`vcr.stubs`, `vcr.request`: each URL with its test token;
    vcrpy is a test tool, and the HTTP stack's own loggers are scrubbed at their source)
    in its captured log, which the leak scan failed, depending on the tests' order."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


class _NoNetwork(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the internet: only loopback connections are allowed."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            raise _NoNetwork(f"test tried to reach {host}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(
        tokens=[TOKEN, OTHER_TOKEN],
        confirmed_numbers=list(CONFIRMED),
        faults=Faults(retry_after=0, stall_seconds=4),
    )
    with emu:
        yield emu
    emu.store.close()


def connect(target: Emulator | str, token: str = TOKEN, **options: Any) -> UpcallClient:
    """A client of the emulator (or of a base URL) with the suite's fast retries and
    timeouts; `options` override them or add others (`session=`, `parallelism=`)."""
    base = target if isinstance(target, str) else target.base_url
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("timeouts", FAST_TIMEOUTS)
    return UpcallClient.connect(base, token, **options)


@pytest.fixture
def client(emulator: Emulator) -> UpcallClient:
    return connect(emulator)


@pytest.fixture
def other_client(emulator: Emulator) -> UpcallClient:
    return connect(emulator, OTHER_TOKEN)


def writes(emulator: Emulator) -> int:
    """How many writes (POST, PATCH) the emulator has been sent so far."""
    return sum(1 for r in emulator.requests if r.method in ("POST", "PATCH"))


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A hand-scripted HTTP server on a free loopback port; yields its /api/v1 base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def cli_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point the in-process CLI at the emulator through the environment, as CI would."""
    return point_cli_at(emulator, monkeypatch)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own folder as the working directory (manifests and CSVs are read
    relative to it, and a numbers_csv must lie inside it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@contextlib.contextmanager
def cli_emulator(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> Iterator[Emulator]:
    """A fresh emulator (fault-free, the confirmed numbers) that the in-process CLI
    points at, run from `cwd`; closed after."""
    monkeypatch.chdir(cwd)
    server = Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults())
    point_cli_at(server, monkeypatch)
    with server:
        yield server
    server.store.close()


def point_cli_at(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """`cli_env`'s settings, for a test's own emulator."""
    monkeypatch.setenv("UPCALL_API_URL", emulator.base_url)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return emulator


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from upcall_sync.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    scan(out, "stdout")
    scan(err, "stderr")
    return code, out, err


# -- the token must never appear anywhere: every test's output is scanned ------------

SECRETS = (TOKEN, OTHER_TOKEN, LONG_TOKEN)
#: every run of 12 consecutive characters of a test token (redact.FRAGMENT): a message
#: that quotes part of a token file leaks as surely as one that quotes all of it
FRAGMENTS = tuple(
    sorted({s[i : i + FRAGMENT] for s in SECRETS for i in range(len(s) - FRAGMENT + 1)})
)


class TokenLeak(AssertionError):
    pass


#: any fragment, in one pass over a text or a file: a trie-shaped regex, as the redactor's
#: own (the end-of-run scan of some 3,000 files and 40 MB took 1.0 s with one `in` per
#: fragment, 0.3 s so)
_FRAGMENTS_PATTERN = _trie_pattern(set(FRAGMENTS))
_FRAGMENTS_RE = re.compile(_FRAGMENTS_PATTERN)
_FRAGMENTS_RE_BYTES = re.compile(_FRAGMENTS_PATTERN.encode())


def leaked(text: str) -> str | None:
    """The first fragment of a test token in `text`, if any."""
    found = _FRAGMENTS_RE.search(text)
    return None if found is None else found.group()


def scan(text: str, where: str) -> None:
    figures.add("scanned_texts")
    if leaked(text) is not None:
        figures.add("leaks")
        raise TokenLeak(f"12 or more characters of a test token appeared in {where}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    for where, text in (
        ("captured stdout", report.capstdout),
        ("captured stderr", report.capstderr),
        ("captured log", report.caplog),
    ):
        figures.add("scanned_texts")
        if leaked(text) is not None:
            figures.add("leaks")
            report.outcome = "failed"
            report.longrepr = f"the test token appeared in the {where} of {item.nodeid}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every file tests wrote (plan files, manifests, logs) and every cassette: scanned
    once, by the controller (its temp dir holds every xdist worker's) or the only
    process; a worker sends its figures to the controller instead."""
    if parallel.is_worker(session.config):
        parallel.send_figures(session.config)
        return
    parallel.finish(session.config)
    roots = [ROOT / "cassettes"]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        with contextlib.suppress(OSError, ValueError):
            roots.append(factory.getbasetemp())
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or path.stat().st_size > 50 * 1024 * 1024:
                continue
            if path.suffix == ".secret":  # token files tests write on purpose
                continue
            figures.add("scanned_files")
            data = path.read_bytes()
            if _FRAGMENTS_RE_BYTES.search(data):
                figures.add("leaks")
                session.exitstatus = 1
                print(f"\nTOKEN LEAK: the test token is in {path}")


#: the longest tests, run first (pytest-xdist hands the first tests out in turn, so these
#: alternate between the workers and neither is left finishing a long test alone at the
#: end): first the two that build a shared venv (the Action's, pre-commit's hook), one on
#: each worker, then the CPU-bound property tests while those builds finish, then the
#: tests that reuse the venvs. Within a file the order is unchanged.
LONGEST_FIRST = (
    "tests/test_action.py::test_validate_installs_from_the_checkout_and_reports",
    "tests/test_precommit.py::test_pre_commit_run_passes_on_the_examples",
    "tests/test_export_roundtrip.py",
    "tests/test_parallel_figures.py",
    "tests/test_action_ci.py",
    "tests/test_action.py",
    "tests/test_precommit.py",
    "tests/reliability/test_late_commits.py",
    "tests/reliability/test_hostile_input.py",
    "tests/test_pessimistic.py",
    "tests/reliability/test_emulator_fuzz.py",
    "tests/test_gitlab.py",
)


def _rank(item: pytest.Item) -> int:
    for i, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid == prefix or item.nodeid.startswith(prefix + "::"):
            return i
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    parallel.configure_node(node)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    parallel.receive_figures(node, error)


@pytest.fixture(scope="session")
def built_once(request: pytest.FixtureRequest) -> Any:
    """`built_once(name, build)`: a directory shared by every xdist worker of this test
    run, built by `build(path)` once (tests/helpers/parallel.py)."""

    def get(name: str, build: Any) -> Path:
        return parallel.once(request.config, name, build)

    return get


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.section("upcall-sync reliability figures")
    for line in figures.lines():
        terminalreporter.write_line(line)


def _install_action_venv(path: Path) -> None:
    """The Action's own install step, run once per test run for every xdist worker."""
    import subprocess

    from .githubfake import runner_environ
    from .helpers.wheels import wheelhouse

    env = {
        **runner_environ(),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse()),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "RUNNER_TEMP": str(path),
        "GITHUB_ACTION_PATH": str(ROOT),
    }
    done = subprocess.run(
        ["bash", str(ROOT / "ci/action/install.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def action_runner_temp(built_once: Any) -> Iterator[Path]:
    """One RUNNER_TEMP per worker, its venv the one the Action's install step built once for
    the whole test run (install.sh then finds it installed). Outside pytest's tmp dir: the
    secret scan reads the Action's files in each test."""
    built = built_once("action-venv", _install_action_venv)
    path = Path(tempfile.mkdtemp(prefix="upcall-sync-action-"))
    (path / "upcall-sync-venv").symlink_to(built / "upcall-sync-venv")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def action_workspace(tmp_path: Path) -> Path:
    """A repository checkout with the example manifests under campaigns/."""
    ws = tmp_path / "workspace"
    (ws / "campaigns").mkdir(parents=True)
    shutil.copy(ROOT / "examples/campaigns.yaml", ws / "campaigns")
    shutil.copytree(ROOT / "examples/contacts", ws / "campaigns/contacts")
    return ws


def write_manifest(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    with Emulator(tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), latency_ms=40) as emu:
        yield emu
