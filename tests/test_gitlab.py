"""GitLab CI (issue 24, item 5): the Action's reporter (ci/action/run.py) keeps ONE sticky
merge-request note from GitLab's predefined variables, against a fake GitLab API on
loopback (tests/gitlabfake.py) and the emulator. No venv is built: the reporter runs
with the test's own Python, whose upcall-sync is this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from upcall_sync.emulator import Emulator

from . import figures
from .conftest import ROOT, TOKEN, scan
from .gitlabfake import FakeGitLab, GitLabServer

GL_TOKEN = "glpat-FAKEGITLABTOKEN-8c2e"
MARKER = "<!-- upcall-sync:plan campaigns/ env=production -->"


def report(workspace: Path, api: str, emulator: Emulator, sha: str, **inputs: str) -> str:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("UPCALL_", "GITHUB_", "CI"))}
    env = {
        **keep,
        "GITLAB_CI": "true",
        "CI_API_V4_URL": api,
        "CI_PROJECT_ID": "acme/campaigns",
        "CI_MERGE_REQUEST_IID": "5",
        "CI_COMMIT_SHA": sha,
        "CI_JOB_URL": f"https://gitlab.example/acme/campaigns/-/jobs/{sha[:4]}",
        "GITLAB_TOKEN": GL_TOKEN,
        "RUNNER_TEMP": str(workspace.parent),
        "UPCALL_SYNC_GH_RETRY_DELAY": "0",
        "INPUT_PATH": "campaigns/",
        "INPUT_ENVIRONMENT": "production",
        "INPUT_COMMENT": "true",
        "INPUT_TOKEN": TOKEN,
        "INPUT_API_URL": emulator.base_url,
        **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "ci/action/run.py")],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    scan(out, "the GitLab reporter's output")
    assert GL_TOKEN not in out
    assert done.returncode == 0, out
    return out


def test_one_sticky_merge_request_note_edited_in_place(
    emulator: Emulator, action_workspace: Path
) -> None:
    fake = FakeGitLab(project="acme/campaigns", token=GL_TOKEN)
    fake.notes[5] = [
        {"id": 1, "body": "merged develop", "system": True, "author": {"username": "dev"}},
        {"id": 2, "body": f"{MARKER}\nNo changes", "system": False, "author": {"username": "eve"}},
    ]
    figures.add("hijack_attempts")
    with GitLabServer(fake) as server:
        first = report(action_workspace, server.url, emulator, "a" * 40, command="plan")
        second = report(action_workspace, server.url, emulator, "b" * 40, command="plan")
    mine = [n for n in fake.notes[5] if n["author"]["username"] == fake.username]
    assert len(mine) == 1, fake.notes[5]
    note = mine[0]
    assert note["body"].startswith(MARKER + "\n")
    assert "### upcall-sync plan: Changes" in note["body"]
    assert "commit `bbbbbbbbbbbb`" in note["body"] and "/-/jobs/bbbb)" in note["body"]
    assert f"merge request note {note['id']} created" in first
    assert f"merge request note {note['id']} updated" in second
    assert "ignored comment 2 by @eve" in first
    assert fake.notes[5][1]["body"] == f"{MARKER}\nNo changes"  # the lookalike: untouched
    figures.add("hijack_let_through", fake.notes[5][1]["body"] != f"{MARKER}\nNo changes")
    assert [m for m, _ in fake.log].count("POST") == 1 and ("GET", "/api/v4/user") in fake.log


def test_the_example_gitlab_pipeline() -> None:
    pipeline: dict[str, Any] = yaml.safe_load(
        (ROOT / "examples/ci/gitlab/.gitlab-ci.yml").read_text()
    )
    assert pipeline["apply"]["resource_group"] == "upcall-sync-production"
    assert pipeline["apply"]["rules"][0]["if"] == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    for job in ("validate", "plan"):
        assert pipeline[job]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    commands = {pipeline[j]["variables"]["INPUT_COMMAND"] for j in ("validate", "plan", "apply")}
    assert commands == {"validate", "plan", "apply"}
    script = " ".join(
        pipeline[".upcall-sync"]["script"] + pipeline[".upcall-sync"]["before_script"]
    )
    assert "ci/action/run.py" in script and "ci/action/install.sh" in script
    assert all(pipeline[j].get("extends") == ".upcall-sync" for j in ("validate", "plan", "apply"))
