"""The pre-commit hook (.pre-commit-hooks.yaml): checked against pre-commit's own
schema, then run through `pre-commit try-repo` on a repository of manifests, as a
user would. pre-commit builds the hook's venv with pip from the wheelhouse that
scripts/test builds (--no-index): no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

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


def try_repo(
    repo: Path, home: Path, *extra: str, hooks: tuple[str, ...] = ("upcall-sync-validate",)
) -> tuple[int, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UPCALL_"))}
    env = {
        **keep,
        "PRE_COMMIT_HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse()),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), *hooks, *extra],
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


# Each try-repo builds the hook's venv afresh in a temporary store (~12 s): two runs only.


@pytest.mark.slow
def test_pre_commit_try_repo_passes_on_the_examples(tmp_path: Path) -> None:
    repo = manifests_repo(tmp_path)
    code, out = try_repo(repo, tmp_path / "home", "--all-files", hooks=())  # every hook
    assert code == 0, out
    assert re.search(r"upcall-sync validate\.+Passed", out), out
    assert re.search(r"upcall-sync fmt\.+Passed", out), out  # the examples are formatted


@pytest.mark.slow
def test_pre_commit_try_repo_fails_on_a_staged_csv_with_its_line(tmp_path: Path) -> None:
    """Only a CSV is staged, and the hook still checks it: pass_filenames is false, so the
    hook validates campaigns/ (the manifest that reads the CSV), not the CSV alone."""
    repo = manifests_repo(tmp_path)
    csv = repo / "campaigns/contacts/q3-followups.csv"
    lines = csv.read_text().splitlines()
    bad = "+1 555," + lines[1].split(",", 1)[1]
    csv.write_text("\n".join([lines[0], bad, *lines[2:]]) + "\n")
    git(repo, "add", str(csv))
    code, out = try_repo(repo, tmp_path / "home")
    assert code == 1, out
    assert re.search(r"upcall-sync validate\.+Failed", out), out
    assert re.search(r"campaigns/contacts/q3-followups\.csv:2:\d+: .*not a valid phone", out), out
