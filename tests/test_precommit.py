"""The pre-commit hook (.pre-commit-hooks.yaml): checked against pre-commit's own
schema, then run through `pre-commit run` on a repository of manifests whose
.pre-commit-config.yaml names it, as a user would. pre-commit builds the hook's venv
with pip from the wheelhouse that scripts/test builds (--no-index): no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pre_commit.clientlib import load_manifest

from .conftest import ROOT, scan
from .helpers.wheels import wheelhouse


def test_the_hook_file_is_a_valid_pre_commit_manifest() -> None:
    hook, fmt = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))  # raises on schema errors
    assert fmt["id"] == "upcall-sync-fmt" and fmt["entry"] == "upcall-sync fmt"
    assert fmt["pass_filenames"] is True and re.compile(fmt["files"]).search("a/b.yml")
    assert hook["id"] == "upcall-sync-validate"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert hook["entry"].split()[0] in scripts and hook["entry"].split()[1:] == ["validate"]
    files = re.compile(hook["files"])
    for name in ("campaigns/a.yaml", "b.yml", "contacts/q3.csv"):
        assert files.search(name), name
    for name in ("README.md", "x.py", "a.yaml.bak", "csv"):
        assert not files.search(name), name


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def run_hook(repo: Path, hooks: tuple[Path, Path], *extra: str) -> tuple[int, str]:
    """`pre-commit run` in `repo`, its .pre-commit-config.yaml naming the hook repository
    at its revision, as a user's does. PRE_COMMIT_HOME is shared by the test run, so the
    hook's venv is built once (pre-commit locks its store; `try-repo` would build it in
    a temporary store each time)."""
    hook_repo, home = hooks
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=hook_repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n"
        "    hooks:\n      - id: upcall-sync-validate\n"
    )
    git(repo, "add", ".pre-commit-config.yaml")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UPCALL_"))}
    env = {
        **keep,
        "PRE_COMMIT_HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse()),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", *extra],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    scan(done.stdout + done.stderr, "pre-commit output")
    return done.returncode, done.stdout + done.stderr


def manifests_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "manifests"
    (repo / "campaigns").mkdir(parents=True)
    shutil.copy(ROOT / "examples/campaigns.yaml", repo / "campaigns")
    shutil.copytree(ROOT / "examples/contacts", repo / "campaigns/contacts")
    (repo / "notes.py").write_text("x = 1\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "manifests")
    return repo


def _snapshot(path: Path) -> None:
    """This checkout as it is (uncommitted changes included) committed into a repository
    of its own: one revision for the users' config to pin, installed once."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / name)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "snapshot")


@pytest.fixture(scope="session")
def hooks(built_once: Any) -> tuple[Path, Path]:
    """(the hook repository, PRE_COMMIT_HOME), shared by every xdist worker of the test run:
    the hook's venv (~12 s) is built by the first `pre-commit run` and reused by the next
    (pre-commit locks its own store)."""
    return built_once("hook-repo", _snapshot), built_once("pre-commit-home", lambda _: None)


@pytest.mark.slow
def test_pre_commit_run_passes_on_the_examples(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    repo = manifests_repo(tmp_path)
    code, out = run_hook(repo, hooks, "--all-files")
    assert code == 0, out
    assert re.search(r"upcall-sync validate\.+Passed", out), out


@pytest.mark.slow
def test_pre_commit_run_fails_on_a_staged_csv_with_its_line(
    tmp_path: Path, hooks: tuple[Path, Path]
) -> None:
    """Only a CSV is staged, and the hook still checks it: pass_filenames is false, so the
    hook validates campaigns/ (the manifest that reads the CSV), not the CSV alone."""
    repo = manifests_repo(tmp_path)
    csv = repo / "campaigns/contacts/q3-followups.csv"
    lines = csv.read_text().splitlines()
    bad = "+1 555," + lines[1].split(",", 1)[1]
    csv.write_text("\n".join([lines[0], bad, *lines[2:]]) + "\n")
    git(repo, "add", str(csv))
    code, out = run_hook(repo, hooks)
    assert code == 1, out
    assert re.search(r"upcall-sync validate\.+Failed", out), out
    assert re.search(r"campaigns/contacts/q3-followups\.csv:2:\d+: .*not a valid phone", out), out


def _runtime_closure() -> dict[str, str]:
    """Every distribution upcall-sync needs at run time (its dependencies and theirs),
    canonical name -> installed version, from the installed metadata."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    todo = ["upcall-sync"]
    while todo:
        for text in md.requires(todo.pop()) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(req.name)
            if name not in found:
                found[name] = md.version(req.name)
                todo.append(req.name)
    return found


def test_the_hook_installs_the_pinned_versions_of_constraints_txt() -> None:
    """pre-commit runs `pip install .`, which no constraints file reaches: the hook's
    additional_dependencies pin the whole runtime closure, as constraints.txt does."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    hooks = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert len(hooks) >= 2  # validate and fmt: each installs upcall-sync on its own
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            constraints[canonicalize_name(name.strip())] = version.strip()
    closure = _runtime_closure()
    for hook in hooks:
        pinned = {}
        for text in hook["additional_dependencies"]:
            req = Requirement(text)
            [spec] = list(req.specifier)
            assert spec.operator == "==", text
            pinned[canonicalize_name(req.name)] = spec.version
        assert set(pinned) == set(closure), (hook["id"], set(pinned) ^ set(closure))
        assert pinned == {name: constraints[name] for name in closure}, hook["id"]
