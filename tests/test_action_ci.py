"""The Action the way teams run it (issue 24, and issue 19 item 1): one sticky comment per
environment and target set, edited in place with the commit and a link to the run; only
comments and issues written by the token's own identity adopted; the reviewed plan
applied after the merge and reported on its pull request; fork and Dependabot runs
stopped with one clear line; labels; GitHub's 5xx answers retried.

The composite steps run as the runner runs them (tests/githubfake.py) against the
emulator and a fake GitHub API. The Action's venv is built once per session (the
`action_runner_temp` fixture of conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.emulator import Emulator

from . import figures
from .conftest import OTHER_TOKEN, TOKEN, connect, writes
from .githubfake import GH_TOKEN, REPO, FakeGitHub, GitHubServer, act

RUN_URL = "https://github.example/acme/campaigns/actions/runs/"
PLAN_KIND = "<!-- upcall-sync:plan campaigns/"
MERGE_SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub(repo=REPO, token=GH_TOKEN)
    with GitHubServer(fake) as server:
        yield fake, server.url


def pr(sha: str, number: int = 7) -> dict[str, Any]:
    return {"pull_request": {"number": number, "head": {"sha": sha}}}


def ours(fake: FakeGitHub, number: int = 7) -> list[dict[str, Any]]:
    return [c for c in fake.comments.get(number, []) if c["user"]["login"] == fake.login]


def test_three_pull_request_runs_in_two_environments_keep_two_comments(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    fake, api = github
    fake.seed_comments(7, 3)
    accounts = {"staging": OTHER_TOKEN, "production": TOKEN}  # two accounts, one API URL
    shas = ["a1" * 20, "b2" * 20, "c3" * 20]
    for n, sha in enumerate(shas):
        for env, token in accounts.items():
            run = act(
                action_runner_temp,
                action_workspace,
                pr(sha),
                api,
                {"GITHUB_RUN_ID": f"{n}{env}"},
                command="plan",
                comment="true",
                environment=env,
                token=token,
                **{"api-url": emulator.base_url},
            )
            assert run.returncode == 0, run.stdout + run.stderr
            assert run.outputs["environment"] == env
            assert "Plan: 3 campaigns to create" in run.stdout  # the full text plan, in the log
    comments = ours(fake)
    assert len(comments) == 2, [c["body"][:80] for c in comments]
    by_env = {re.search(r"env=(\w+) -->", c["body"])[1]: c for c in comments}  # type: ignore[index]
    assert set(by_env) == {"staging", "production"}
    for env, c in by_env.items():
        assert c["body"].startswith(f"{PLAN_KIND} env={env} -->\n")
        assert f"environment `{env}`" in c["body"] and f"commit `{shas[-1][:12]}`" in c["body"]
        assert f"[run]({RUN_URL}2{env})" in c["body"]
        assert "### upcall-sync plan: Changes" in c["body"]
        path = f"/repos/{REPO}/issues/comments/{c['id']}"
        assert fake.log.count(("PATCH", path)) == 2  # created once, then edited in place
    assert [m for m, p in fake.log if p.endswith("/issues/7/comments")].count("POST") == 2

    # The next commit breaks a manifest: validate fails, and says so in both comments
    # (its environment is not known without the input), replacing the older plans.
    manifest = action_workspace / "campaigns/campaigns.yaml"
    manifest.write_text(manifest.read_text().replace("pitch: Be friendly", "pich: Be friendly"))
    bad = act(
        action_runner_temp, action_workspace, pr("d4" * 20), api, command="validate", comment="true"
    )
    assert bad.returncode == 1
    assert "::error file=campaigns/campaigns.yaml,line=" in bad.stdout  # an annotation
    for c in ours(fake):
        assert "### upcall-sync validate: problems found" in c["body"]
        assert "No plan was made for this commit" in c["body"] and "d4d4d4d4d4d4" in c["body"]
        assert "Changes" not in c["body"] and 'unknown key "pich"' in c["body"]
        assert "::error" not in c["body"]
    assert len(ours(fake)) == 2


def test_a_lookalike_comment_or_issue_is_never_adopted(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    """Issue 19, item 1: anyone may post the marker; only the token's identity counts."""
    fake, api = github
    marker = f"{PLAN_KIND} -->"
    fake.comments[7] = [
        {
            "id": 1,
            "body": f"{marker}\n### upcall-sync plan: No changes",
            "user": {"login": "mallory"},
        }
    ]
    drift_marker = "<!-- upcall-sync:drift campaigns/ -->"
    fake.issues.append(
        {
            "number": 1,
            "state": "open",
            "title": "drift",
            "body": f"{drift_marker}\nfine",
            "user": {"login": "mallory"},
        }
    )
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    let_through = 0
    figures.add("hijack_attempts", 2)
    try:
        run = act(
            action_runner_temp,
            action_workspace,
            pr("e5" * 20),
            api,
            command="plan",
            comment="true",
            **conn,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        let_through += fake.comments[7][0]["body"].endswith("No changes") is False
        [mine] = ours(fake)
        assert mine["id"] != 1 and "Changes" in mine["body"]
        assert "ignored comment 1 by @mallory" in run.stdout
        assert "was not written by @github-actions[bot]" in run.stdout

        for drifted in (True, False):
            if not drifted:
                fake.issues[1]["state"] = "open"
                shutil.rmtree(action_workspace / "campaigns")
                (action_workspace / "campaigns").mkdir()
                (action_workspace / "campaigns/none.yaml").write_text("version: 1\ncampaigns: []\n")
            drift = act(
                action_runner_temp,
                action_workspace,
                {"schedule": "x"},
                api,
                command="plan",
                **conn,
                **{"drift-issue": "true"},
            )
            assert "ignored issue #1 by @mallory" in drift.stdout
        let_through += fake.issues[0]["body"] != f"{drift_marker}\nfine"
        let_through += fake.issues[0]["state"] != "open"
        assert len(fake.issues) == 2 and fake.issues[1]["user"]["login"] == fake.login
    finally:
        figures.add("hijack_let_through", let_through)
    assert let_through == 0


def test_a_personal_token_is_asked_who_it_is(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    """A token that may call GET /user (a PAT, an app's user token) writes as its login."""
    fake, api = github
    fake.login, fake.user_endpoint = "acme-ci", True
    marker = f"{PLAN_KIND} -->"
    fake.comments[7] = [
        {"id": 1, "body": f"{marker}\nold", "user": {"login": "github-actions[bot]"}},
        {"id": 2, "body": f"{marker}\nold", "user": {"login": "acme-ci"}},
    ]
    figures.add("hijack_attempts")
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    run = act(
        action_runner_temp,
        action_workspace,
        pr("f6" * 20),
        api,
        command="plan",
        comment="true",
        **conn,
    )
    assert run.returncode == 0 and ("GET", "/user") in fake.log
    assert fake.comments[7][0]["body"].endswith("old")  # the other identity's: left alone
    figures.add("hijack_let_through", not fake.comments[7][0]["body"].endswith("old"))
    assert "Changes" in fake.comments[7][1]["body"] and "ignored comment 1" in run.stdout


def test_a_github_app_token_finds_its_own_comment_through_graphql(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    """An app installation token (actions/create-github-app-token) may not call GET /user
    and writes as `<app>[bot]`: taken for github-actions[bot], its own comment was a
    lookalike, and every run posted a new one."""
    fake, api = github
    fake.login, fake.graphql_viewer = "acme-campaigns[bot]", True
    marker = f"{PLAN_KIND} -->"
    fake.comments[7] = [
        {"id": 1, "body": f"{marker}\nold", "user": {"login": "github-actions[bot]"}},
        {"id": 2, "body": f"{marker}\nold", "user": {"login": "acme-campaigns[bot]"}},
    ]
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    run = act(
        action_runner_temp,
        action_workspace,
        pr("f7" * 20),
        api,
        command="plan",
        comment="true",
        **conn,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert ("POST", "/graphql") in fake.log
    assert len(fake.comments[7]) == 2  # edited in place, no new comment
    assert fake.comments[7][0]["body"].endswith("old")  # the other identity's: left alone
    assert "Changes" in fake.comments[7][1]["body"] and "ignored comment 1" in run.stdout


def test_the_reviewed_plan_is_applied_after_the_merge_and_reported_on_its_pr(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    fake, api = github
    conn = {"token": TOKEN, "api-url": emulator.base_url, "environment": "production"}
    planned = act(
        action_runner_temp,
        action_workspace,
        pr("1a" * 20),
        api,
        command="plan",
        comment="true",
        labels="true",
        **conn,
    )
    assert planned.outputs["has-changes"] == "true"
    assert fake.labels[7] == ["upcall-sync:changes"]
    # the artifact: the plan job uploads the plan file, the apply job downloads it
    reviewed = action_workspace / "reviewed.upcall-plan"
    shutil.copy(planned.outputs["plan-file"], reviewed)
    merge_sha = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
    fake.pulls_of[merge_sha] = [
        {"number": 3, "merged_at": None},
        {"number": 7, "merged_at": "2026-12-06T18:00:00Z"},
    ]
    push = {"ref": "refs/heads/main", "after": merge_sha}
    applied = act(
        action_runner_temp,
        action_workspace,
        push,
        api,
        command="apply",
        comment="true",
        **{"plan-file": "reviewed.upcall-plan"},
        **conn,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    [apply_comment] = [c for c in ours(fake) if "upcall-sync:apply" in c["body"]]
    assert apply_comment["body"].startswith(
        "<!-- upcall-sync:apply campaigns/ env=production -->\n"
    )
    assert "### upcall-sync apply: applied" in apply_comment["body"]
    assert "upcall-sync apply PLANFILE" in apply_comment["body"]
    assert (
        str(action_runner_temp) not in apply_comment["body"]
        and "reviewed.upcall-plan" not in apply_comment["body"]
    )
    assert f"commit `{merge_sha[:12]}`" in apply_comment["body"]
    assert len(ours(fake)) == 2  # the plan's comment and the apply's

    # The same reviewed plan again: the account changed since, so it is stale; refused,
    # naming the differences, unless the workflow asks for a fresh plan.
    stale = act(
        action_runner_temp,
        action_workspace,
        push,
        api,
        command="apply",
        comment="true",
        **{"plan-file": "reviewed.upcall-plan"},
        **conn,
    )
    assert stale.returncode == 1
    assert "changed since the plan was made" in stale.stderr + stale.stdout
    assert "nothing is left to apply" in stale.stderr + stale.stdout  # a re-run job
    replan = act(
        action_runner_temp,
        action_workspace,
        push,
        api,
        command="apply",
        comment="true",
        **{"plan-file": "reviewed.upcall-plan", "on-stale-plan": "replan"},
        **conn,
    )
    assert replan.returncode == 0, replan.stdout + replan.stderr
    assert "::warning title=upcall-sync::the reviewed plan was applied already" in replan.stdout
    [apply_comment] = [c for c in ours(fake) if "upcall-sync:apply" in c["body"]]
    assert "The reviewed plan was applied already, so a fresh plan" in apply_comment["body"]
    assert len(ours(fake)) == 2

    # A plan with no changes: labelled so, and with skip-no-changes no new comment
    fake.comments[7] = []
    clean = act(
        action_runner_temp,
        action_workspace,
        pr("2b" * 20),
        api,
        command="plan",
        comment="true",
        labels="true",
        **{"skip-no-changes": "true"},
        **conn,
    )
    assert clean.outputs["has-changes"] == "false" and "skip-no-changes" in clean.stdout
    assert fake.comments[7] == [] and fake.labels[7] == ["upcall-sync:no-changes"]


def test_a_forged_plan_naming_another_folder_s_manifests_is_refused(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    """A pull request's plan job is the pull request's to write: it plans campaigns/ with
    another folder of the repository (another team's), then says `paths: [campaigns/]`
    and recomputes the checksum. apply plans the file's `files`, and every one of them
    was found again, so upcall-sync applied the other folder's campaigns too; only a
    `paths` unlike the job's was refused (helper b71)."""
    fake, api = github
    ws = action_workspace
    (ws / "campaigns-eu").mkdir()
    (ws / "campaigns-eu/eu.yaml").write_text(
        "version: 1\ncontact_list: acme-outbound\ncampaigns:\n  - name: EU team's\n"
        "    pitch: hi\n    numbers: [{phone: '+1 312 555 0176'}]\n"
    )
    conn = {"token": TOKEN, "api-url": emulator.base_url, "environment": "production"}
    planned = act(
        action_runner_temp,
        ws,
        pr("3b" * 20),
        api,
        command="plan",
        path="campaigns/ campaigns-eu/",
        **conn,
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    doc = json.loads(Path(planned.outputs["plan-file"]).read_text())
    doc["manifests"]["paths"] = ["campaigns/"]
    body = {k: v for k, v in doc.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    body["checksum"] = hashlib.sha256(canonical.encode()).hexdigest()
    (ws / "reviewed.upcall-plan").write_text(json.dumps(body))
    fake.pulls_of[MERGE_SHA] = [{"number": 7, "merged_at": "2026-12-06T18:00:00Z"}]
    applied = act(
        action_runner_temp,
        ws,
        {"ref": "refs/heads/main", "after": MERGE_SHA},
        api,
        command="apply",
        comment="true",
        **{"plan-file": "reviewed.upcall-plan"},
        **conn,
    )
    assert applied.returncode == 1
    refusal = "the plan file plans manifests outside this job's path (campaigns/); not applied"
    errors = [line for line in applied.stdout.splitlines() if line.startswith("::error")]
    # one annotation (a55d2fb's, with the exit status), not the refusal a second time
    assert errors == [f"::error title=upcall-sync::upcall-sync apply exited 1: {refusal}"]
    [comment] = [c for c in ours(fake) if "upcall-sync:apply" in c["body"]]
    assert f"error: {refusal}" in comment["body"]
    assert emulator.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


def test_replan_applies_nothing_over_the_staging_fingerprint_set_in_production(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    """examples/ci/reviewed-plan.yml with the staging planning token's fingerprint in the
    production environment's UPCALL_PLANNED_WITH, and `on-stale-plan: replan`: the
    refusal was taken for a stale plan, "the reviewed plan is stale (the differences are
    above)" (there were none) and a fresh plan applied, green, on every merge: a
    reviewed-plan setup that never applied a reviewed plan (helper b71)."""
    fake, api = github
    ws = action_workspace
    planners = {
        TOKEN: "uctok_READONLY_prod_2c4e6a8b0d",
        OTHER_TOKEN: "uctok_READONLY_stg_1b3d5f7a9c",
    }
    for writer, reader in planners.items():
        emulator.store.add_read_only_token(reader, emulator.accounts[writer])
    conn = {"api-url": emulator.base_url, "environment": "production"}
    first = act(
        action_runner_temp, ws, {"ref": "refs/heads/main"}, command="apply", token=TOKEN, **conn
    )
    assert first.returncode == 0, first.stdout + first.stderr
    manifest = ws / "campaigns/campaigns.yaml"
    manifest.write_text(manifest.read_text().replace("Be friendly", "Be brief"))
    planned = act(
        action_runner_temp, ws, pr("7c" * 20), api, command="plan", token=planners[TOKEN], **conn
    )
    assert planned.outputs["has-changes"] == "true", planned.stdout + planned.stderr
    shutil.copy(planned.outputs["plan-file"], ws / "reviewed.upcall-plan")
    staging = connect(emulator, planners[OTHER_TOKEN]).account
    fake.pulls_of[MERGE_SHA] = [{"number": 7, "merged_at": "2026-12-06T18:00:00Z"}]
    before = writes(emulator)
    applied = act(
        action_runner_temp,
        ws,
        {"ref": "refs/heads/main", "after": MERGE_SHA},
        api,
        command="apply",
        comment="true",
        token=TOKEN,
        **{"plan-file": "reviewed.upcall-plan", "planned-with": staging},
        **{"on-stale-plan": "replan"},
        **conn,
    )
    assert applied.returncode == 1 and writes(emulator) == before
    assert (
        "::warning" not in applied.stdout and "upcall-sync apply campaigns/" not in applied.stdout
    )
    refusal = "error: the plan was made with another token of this account"
    assert [line for line in applied.stderr.splitlines() if line.startswith("error:")] == [
        next(line for line in applied.stderr.splitlines() if line.startswith(refusal))
    ]
    [comment] = [c for c in ours(fake) if "upcall-sync:apply" in c["body"]]
    assert "### upcall-sync apply: failed" in comment["body"] and refusal in comment["body"]
    assert "fresh plan" not in comment["body"]


def test_the_job_s_own_upcall_planned_with_counts_when_the_input_is_empty(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    """README: `--planned-with` (or UPCALL_PLANNED_WITH; the Action's input). A job that
    set `env: UPCALL_PLANNED_WITH` had it replaced by the empty input, and its reviewed
    plan refused, unlike the token and the API URL, which fall back so (helper b71)."""
    _fake, api = github
    reader = "uctok_READONLY_env_8e6c4a2f0d"
    emulator.store.add_read_only_token(reader, emulator.accounts[TOKEN])
    conn = {"api-url": emulator.base_url, "environment": "production"}
    planned = act(
        action_runner_temp,
        action_workspace,
        pr("8d" * 20),
        api,
        command="plan",
        token=reader,
        **conn,
    )
    assert planned.outputs["has-changes"] == "true", planned.stdout + planned.stderr
    shutil.copy(planned.outputs["plan-file"], action_workspace / "reviewed.upcall-plan")
    applied = act(
        action_runner_temp,
        action_workspace,
        {"ref": "refs/heads/main", "after": MERGE_SHA},
        api,
        {"UPCALL_PLANNED_WITH": connect(emulator, reader).account},
        command="apply",
        token=TOKEN,
        **{"plan-file": "reviewed.upcall-plan"},
        **conn,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert emulator.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 3


def test_a_fork_or_dependabot_run_ends_with_one_clear_line(
    action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    fake, api = github
    run = act(
        action_runner_temp, action_workspace, pr("3c" * 20), api, command="plan", comment="true"
    )
    assert run.returncode == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert errors == [
        "::error title=upcall-sync::secrets are not available to this pull request: it comes "
        "from a fork or from Dependabot, whose runs get no repository secrets, so upcall-sync "
        "cannot plan (skip such pull requests at job level: see examples/ci/github-actions.yml)"
    ]
    assert run.outputs["exitcode"] == "1" and fake.all_comments() == []


def test_github_5xx_answers_are_retried(
    emulator: Emulator, action_runner_temp: Path, action_workspace: Path, github: Any
) -> None:
    fake, api = github
    fake.flaky = {"GET": [502, 503], "POST": [500]}
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    run = act(
        action_runner_temp,
        action_workspace,
        pr("4d" * 20),
        api,
        command="plan",
        comment="true",
        **conn,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "HTTP 502" in run.stdout and "trying again" in run.stdout
    assert "looking for the comment before posting again" in run.stdout
    assert len(ours(fake)) == 1  # the 500 on POST did not land; one comment in the end


def test_drift_keys_on_differences_the_api_cannot_apply(
    github: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A plan with no changes but `unapplied_differences` (issue 23) keeps the issue open."""
    fake, api = github
    run, publish = _reporter(monkeypatch, api)
    inputs = run.Inputs.from_env(
        {"INPUT_COMMAND": "plan", "INPUT_PATH": "campaigns/", "INPUT_GITHUB_TOKEN": GH_TOKEN}
    )
    out = tmp_path / "plan.md"
    out.write_text("### upcall-sync plan: No changes\n")
    result = run.Result(
        exitcode=0,
        output=out,
        plan={"empty": True, "unapplied_differences": 2, "account": "acct-1f2e"},
    )
    assert publish.environment_of(inputs, result) == "acct-1f2e"
    assert publish.drift(inputs, result, "plan") is True
    [issue] = fake.issues
    assert issue["state"] == "open" and "**2 differences cannot be applied" in issue["body"]
    result.plan = {"empty": True, "unapplied_differences": 0}
    publish.drift(inputs, result, "plan")
    assert issue["state"] == "closed"


def test_a_cut_comment_links_to_the_run_and_the_summary_holds_the_whole_plan(
    github: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake, api = github
    run, publish = _reporter(monkeypatch, api)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pr("5e" * 20)))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    env = {"INPUT_COMMAND": "plan", "INPUT_PATH": "campaigns/", "INPUT_COMMENT": "true"}
    inputs = run.Inputs.from_env({**env, "INPUT_GITHUB_TOKEN": GH_TOKEN})
    cut = tmp_path / "plan.md"
    cut.write_text("### upcall-sync plan: Changes\n\nC1\n\n_... 399 more campaigns_\n")
    full = "### upcall-sync plan: Changes\n\n" + "".join(f"C{i}\n" for i in range(400))
    result = run.Result(exitcode=2, output=cut, full_markdown=full, plan={"empty": False})
    assert publish.report(inputs, result) is True
    [comment] = ours(fake)
    assert "_... 399 more campaigns_" in comment["body"]
    assert f"the whole plan is in the [run's log and job summary]({RUN_URL}77)" in comment["body"]
    assert "C399" in summary.read_text() and "C399" not in comment["body"]


def _reporter(monkeypatch: pytest.MonkeyPatch, api: str) -> tuple[Any, Any]:
    """ci/action/run.py and its publish.py, imported as the runner's Python would."""
    import importlib.util
    import sys

    from .conftest import ROOT

    spec = importlib.util.spec_from_file_location("action_run", ROOT / "ci/action/run.py")
    assert spec and spec.loader
    run = importlib.util.module_from_spec(spec)
    sys.modules["action_run"] = run
    spec.loader.exec_module(run)
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "77",
        "GITHUB_SERVER_URL": "https://github.example",
        "UPCALL_SYNC_GH_RETRY_DELAY": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return run, sys.modules["publish"]
