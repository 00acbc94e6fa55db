"""The GitHub Action (action.yml + ci/action/) run as the runner runs it, with a faked
GitHub environment: GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH, ... and a
fake GitHub REST API on 127.0.0.1 (tests/githubfake.py), against the emulator.

The install step really builds upcall-sync's venv from this checkout, with pip
reading only the wheelhouse that scripts/test builds (--no-index): no network.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from upcall_sync.emulator import Emulator

from .conftest import ROOT, TOKEN
from .githubfake import GH_TOKEN, REPO, ActionRun, FakeGitHub, GitHubServer, act, summary_of

MARKER = "<!-- upcall-sync:plan campaigns/ -->"
DRIFT_MARKER = "<!-- upcall-sync:drift campaigns/ -->"


@pytest.fixture
def runner_temp(action_runner_temp: Path) -> Path:
    return action_runner_temp


@pytest.fixture
def workspace(action_workspace: Path) -> Path:
    return action_workspace


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub(repo=REPO, token=GH_TOKEN)
    with GitHubServer(fake) as server:
        yield fake, server.url


PR = {"pull_request": {"number": 7}}
SCHEDULE = {"schedule": "17 6 * * *"}


def test_validate_installs_from_the_checkout_and_reports(
    runner_temp: Path, workspace: Path
) -> None:
    run = act(runner_temp, workspace, PR, command="validate")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs == {
        "exitcode": "0",
        "has-changes": "",
        "report": "",
        "plan-file": "",
        "environment": "",
    }
    venv = runner_temp / "upcall-sync-venv"
    assert (venv / ".upcall-sync-source").read_text().startswith(f"checkout {ROOT}; ")
    # only upcall-sync goes on PATH: later steps' python3 and pip stay the runner's
    [on_path] = (
        (runner_temp / sorted(runner_temp.glob("run-*"))[-1] / "path.txt").read_text().split()
    )
    assert sorted(p.name for p in Path(on_path).iterdir()) == ["upcall-sync"]
    assert (Path(on_path) / "upcall-sync").resolve() == (venv / "bin/upcall-sync").resolve()
    # the venv is cached across jobs, keyed on the Python, the pins and the source
    [(uses, cache)] = run.used
    assert uses == "actions/cache@v4" and cache["path"] == str(venv)
    assert re.fullmatch(r"upcall-sync-venv-\w+-[0-9a-f]{32}", cache["key"]), cache
    assert "upcall-sync 0.1.0" in run.stdout
    summary = summary_of(run, runner_temp)
    assert "### upcall-sync validate: valid\n" in summary
    assert "1 file, 3 campaigns, 10 numbers: valid" in summary
    again = act(runner_temp, workspace, PR, command="validate")
    assert again.returncode == 0 and "already installed" in again.stdout
    assert "$ upcall-sync fmt --check campaigns/" in again.stdout  # validate checks layout too


def test_invalid_manifest_fails_the_step_and_names_the_line(
    runner_temp: Path, workspace: Path
) -> None:
    manifest = workspace / "campaigns/campaigns.yaml"
    manifest.write_text(manifest.read_text().replace("pitch: Be friendly", "pich: Be friendly"))
    run = act(runner_temp, workspace, PR, command="validate")
    assert run.returncode == 1
    assert run.outputs["exitcode"] == "1"
    assert "::error title=upcall-sync::upcall-sync validate exited 1" in run.stdout
    summary = summary_of(run, runner_temp)
    assert "### upcall-sync validate: problems found\n" in summary
    assert re.search(r'campaigns/campaigns\.yaml:\d+:\d+: .*unknown key "pich"', summary)


def comments_with(fake: FakeGitHub, marker: str) -> list[dict[str, Any]]:
    """Comments whose marker line is `marker` for any environment: without an `environment`
    input the marker names the account the plan was made for (`env=<fingerprint>`)."""
    stem = marker.removesuffix(" -->")
    found = []
    for c in fake.all_comments():
        line = c["body"].split("\n", 1)[0]
        if line == marker or (line.startswith(stem + " env=") and line.endswith(" -->")):
            found.append(c)
    return found


def test_plan_comment_is_sticky_and_apply_runs(
    emulator: Emulator, runner_temp: Path, workspace: Path, github: tuple[FakeGitHub, str]
) -> None:
    fake, api = github
    fake.seed_comments(7, 120)  # the sticky comment lands on the second page
    quote = {"id": 99, "body": f"> {MARKER}\n> an old plan, quoted", "user": {"login": "dev"}}
    fake.comments[7].insert(3, quote)  # carries the marker, but not first: not ours
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    run = act(runner_temp, workspace, PR, api, command="plan", comment="true", **conn)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["exitcode"] == "2" and run.outputs["has-changes"] == "true"
    doc = json.loads(Path(run.outputs["report"]).read_text())
    jsonschema.validate(doc, json.loads((ROOT / "schema/plan.schema.json").read_text()))
    assert doc["empty"] is False and doc["summary"]["campaigns"]["create"] == 3
    assert Path(run.outputs["plan-file"]).is_file()
    summary = summary_of(run, runner_temp)
    assert "\n### upcall-sync plan: Changes" in summary and doc["summary_line"] in summary
    [first] = comments_with(fake, MARKER)
    account = doc["account"]  # no `environment` input: the token's account keys the comment
    assert account and first["body"].startswith(
        f"<!-- upcall-sync:plan campaigns/ env={account} -->\n<sub>environment `{account}` · commit"
    )
    assert "\n### upcall-sync plan: Changes" in first["body"]
    assert [m for m, _ in fake.rest].count("POST") == 1 and "PATCH" not in dict(fake.log)

    applied = act(runner_temp, workspace, PR, command="apply", **conn)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert applied.outputs["exitcode"] == "0"
    assert "Converged" in applied.stdout + applied.stderr + summary_of(applied, runner_temp)
    json_report = (
        "--format"
        in subprocess.run(
            [sys.executable, "-m", "upcall_sync.cli", "apply", "--help"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )
    if json_report:  # `apply --format json`: the report output points at the document
        report = json.loads(Path(applied.outputs["report"]).read_text())
        assert applied.outputs["has-changes"] == "true", report
    else:
        assert applied.outputs["report"] == "" and applied.outputs["has-changes"] == ""

    fake.log.clear()
    clean = act(runner_temp, workspace, PR, api, command="plan", comment="true", **conn)
    assert clean.returncode == 0
    assert clean.outputs["exitcode"] == "0" and clean.outputs["has-changes"] == "false"
    [again] = comments_with(fake, MARKER)
    assert again["id"] == first["id"] and "No changes" in again["body"]
    assert ("PATCH", f"/repos/{REPO}/issues/comments/{first['id']}") in fake.log
    assert "POST" not in dict(fake.rest)
    assert len(fake.comments[7]) == 122 and quote["body"].endswith("an old plan, quoted")


def test_a_refused_comment_warns_but_does_not_fail_the_plan(
    emulator: Emulator, runner_temp: Path, workspace: Path, github: tuple[FakeGitHub, str]
) -> None:
    fake, api = github
    fake.fail = {"POST": 403}  # a fork's pull request gets a read-only token
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    run = act(runner_temp, workspace, PR, api, command="plan", comment="true", **conn)
    assert run.returncode == 0 and run.outputs["exitcode"] == "2"
    assert "::warning title=upcall-sync::could not post the comment: " in run.stdout
    assert "HTTP 403: Resource not accessible by integration" in run.stdout
    no_pr = act(runner_temp, workspace, SCHEDULE, api, command="plan", comment="true", **conn)
    assert "not a pull request: no comment posted" in no_pr.stdout


def test_drift_issue_is_opened_updated_then_closed(
    emulator: Emulator, runner_temp: Path, workspace: Path, github: tuple[FakeGitHub, str]
) -> None:
    fake, api = github
    for n in range(1, 151):  # the drift issue is found again on the second page
        fake.issues.append({"number": n, "state": "open", "title": f"issue {n}", "body": "hi"})
    conn = {"token": TOKEN, "api-url": emulator.base_url}

    def drift() -> ActionRun:
        return act(
            runner_temp, workspace, SCHEDULE, api, command="plan", **conn, **{"drift-issue": "true"}
        )

    first = drift()
    assert first.returncode == 0 and first.outputs["has-changes"] == "true"
    assert "drift issue: opened #151" in first.stdout
    issue = fake.issues[150]
    assert issue["state"] == "open" and issue["body"].startswith(DRIFT_MARKER)
    assert "campaigns/" in issue["title"] and "3 campaigns to create" in issue["body"]
    assert "https://github.example/acme/campaigns/actions/runs/4242" in issue["body"]

    second = drift()
    assert "drift issue: updated #151" in second.stdout
    assert len(fake.issues) == 151 and ("PATCH", f"/repos/{REPO}/issues/151") in fake.log

    upcall = Path(sys.prefix) / "bin/upcall-sync"
    env = {**os.environ, "UPCALL_API_URL": emulator.base_url, "UPCALL_AUTH_TOKEN": TOKEN}
    done = subprocess.run(
        [str(upcall), "apply", "--auto-approve", "--quiet", "campaigns/"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    clean = drift()
    assert clean.outputs["has-changes"] == "false" and "drift issue: closed #151" in clean.stdout
    assert issue["state"] == "closed" and fake.issues[0]["state"] == "open"
    [note] = fake.comments[151]
    assert "no drift" in note["body"] and "runs/4242" in note["body"]
    fake.log.clear()
    quiet = drift()
    assert "drift issue: none" in quiet.stdout and len(fake.issues) == 151
    assert {m for m, _ in fake.rest} == {"GET"}


def test_a_failed_plan_says_so_in_the_comment_and_leaves_the_drift_issue(
    emulator: Emulator, runner_temp: Path, workspace: Path, github: tuple[FakeGitHub, str]
) -> None:
    fake, api = github
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    ok = act(runner_temp, workspace, PR, api, command="plan", comment="true", **conn)
    assert ok.outputs["exitcode"] == "2"
    fake.issues.append({"number": 1, "state": "open", "title": "drift", "body": DRIFT_MARKER})
    fake.log.clear()
    bad = {"token": "uctok_not_a_valid_token", "api-url": emulator.base_url}
    run = act(
        runner_temp,
        workspace,
        PR,
        api,
        command="plan",
        comment="true",
        **bad,
        **{"drift-issue": "true"},
    )
    assert run.returncode == 1 and run.outputs["exitcode"] == "1"
    assert run.outputs["report"] == "" and run.outputs["has-changes"] == ""
    [comment] = comments_with(fake, MARKER)  # the account is unknown: ours is edited
    assert comment["body"].split("\n", 2)[1].startswith("<sub>")
    assert "\n### upcall-sync plan: failed\n" in comment["body"]
    assert re.search(r"^error: .*401", comment["body"], re.M), comment["body"]
    assert "uctok_not_a_valid_token" not in comment["body"] + run.stdout + run.stderr
    assert fake.issues[0]["state"] == "open"
    assert [p for _, p in fake.log if "/issues/1" in p] == []  # the issue is left alone


def _run_module() -> Any:
    spec = importlib.util.spec_from_file_location("action_run", ROOT / "ci/action/run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["action_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_action_knows_how_an_applied_plan_is_refused() -> None:
    """`on-stale-plan: replan` words its warning by the end of apply's refusal (the
    Action's script imports nothing of upcall-sync): the two stay one text."""
    from upcall_sync.errors import StalePlan

    refused = StalePlan("x; run plan again", brief="y; run plan again").nothing_left()
    assert str(refused).endswith(_run_module().APPLIED_ALREADY)
    assert refused.brief.endswith(_run_module().APPLIED_ALREADY)


@pytest.mark.parametrize("was", ["was stale", "was applied already"])
def test_the_apply_comment_says_why_a_fresh_plan_was_applied(tmp_path: Path, was: str) -> None:
    """The comment says what the job's warning said: a re-run job's plan is not stale."""
    run = _run_module()
    inputs = run.Inputs.from_env({"INPUT_COMMAND": "apply", "INPUT_ON_STALE_PLAN": "replan"})
    result = run.Result(exitcode=0, output=tmp_path / "apply.txt", replanned=was)
    text = sys.modules["publish"].markdown(inputs, result)
    assert f"The reviewed plan {was}, so a fresh plan was applied (on-stale-plan: replan)" in text


def test_a_re_run_apply_job_says_nothing_was_left_not_that_it_failed(tmp_path: Path) -> None:
    """A re-run of the apply job that applied the reviewed plan is refused (nothing is left
    to apply), and its comment replaced "applied" with "failed" (helper b71)."""
    run = _run_module()
    inputs = run.Inputs.from_env({"INPUT_COMMAND": "apply", "INPUT_PLAN_FILE": "p.plan"})
    result = run.Result(exitcode=1, output=tmp_path / "apply.txt", applied_already=True)
    text = sys.modules["publish"].markdown(inputs, result)
    assert text.startswith("### upcall-sync apply: nothing left to apply\n"), text
    assert "The reviewed plan was applied already" in text and "failed" not in text
    result.applied_already = False
    assert (
        sys.modules["publish"]
        .markdown(inputs, result)
        .startswith("### upcall-sync apply: failed\n")
    )
    result.report = tmp_path / "apply.json"  # on the runner: the comment says how to keep it
    result.report.write_text("{}")
    shown = sys.modules["publish"].markdown(inputs, result)
    assert "the step's `report` output (`apply.json` on the runner: upload it" in shown


def test_the_step_summary_stays_under_one_mib() -> None:
    _run_module()
    fit = sys.modules["publish"].fit
    small = "### plan\n\nno changes\n"
    assert fit(small) == small
    huge = "".join(f"| campaign {i} | \u00e9t\u00e9 {'x' * 90} |\n" for i in range(40_000))
    cut = fit(huge)
    assert len(huge.encode()) > 4_000_000 and len(cut.encode()) <= 1_000_000
    body, note = cut.split("\n\n_(cut to fit", 1)
    assert body.endswith("|\n") and huge.startswith(body) and "1 MiB" in note


def test_doctor_report_becomes_a_table_in_the_summary(tmp_path: Path) -> None:
    run = _run_module()
    report = tmp_path / "doctor.json"
    checks = [
        {"name": "token accepted", "verdict": "PASS", "evidence": "GET /campaigns: 200"},
        {"name": "paging", "verdict": "FAIL", "evidence": "links.next | missing\non page 2"},
    ]
    report.write_text(json.dumps({"ok": False, "checks": checks}))
    inputs = run.Inputs.from_env({"INPUT_COMMAND": "doctor"})
    result = run.Result(exitcode=1, output=report, report=report)
    result.tail.append("error: 1 required check failed")
    text = sys.modules["publish"].markdown(inputs, result)
    assert text.startswith("### upcall-sync doctor: problems found\n")
    assert "| PASS | token accepted | GET /campaigns: 200 |" in text
    assert "| FAIL | paging | links.next \\| missing on page 2 |" in text
    assert "error: 1 required check failed" in text


# -- the example workflows ------------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    flow: dict[str, Any] = yaml.safe_load((ROOT / "examples/ci" / name).read_text())
    flow["on"] = flow.pop(True)  # YAML 1.1 reads `on:` as true
    return flow


def action_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if re.fullmatch(r"[\w-]+/upcall-sync@\S+", s.get("uses", ""))]


def test_every_example_workflow_uses_the_action_with_declared_inputs() -> None:
    inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    commands = {"validate", "plan", "apply", "doctor"}
    for path in sorted((ROOT / "examples/ci").glob("*.yml")):
        flow = workflow(path.name)
        steps = [s for job in flow["jobs"].values() for s in action_steps(job)]
        assert steps, f"{path.name} does not use the Action"
        for step in steps:
            assert set(step["with"]) <= set(inputs), (path.name, step["with"])
            assert step["with"]["command"] in commands


def test_pull_request_and_main_workflow() -> None:
    flow = workflow("github-actions.yml")
    plan_job, apply_job = flow["jobs"]["plan"], flow["jobs"]["apply"]
    plans = [s["with"] for s in action_steps(plan_job) if s["with"]["command"] == "plan"]
    assert plans and plans[0]["comment"] is True
    assert "secrets.UPCALL_AUTH_TOKEN" in plans[0]["token"]
    assert plan_job["permissions"]["pull-requests"] == "write"
    assert [s["with"]["command"] for s in action_steps(apply_job)] == ["validate", "apply"]
    assert apply_job["concurrency"]["cancel-in-progress"] is False
    assert flow["on"]["push"]["branches"] == ["main"]


def test_drift_workflow() -> None:
    flow = workflow("drift.yml")
    assert flow["on"]["schedule"][0]["cron"] and "workflow_dispatch" in flow["on"]
    assert flow["permissions"]["issues"] == "write"
    [step] = action_steps(flow["jobs"]["drift"])
    assert step["with"]["command"] == "plan" and step["with"]["drift-issue"] is True
    # never mid-apply: it looks for a running or queued apply first, and does not share
    # the apply's concurrency group (a newer pending run would cancel the queued apply)
    busy = flow["jobs"]["drift"]["steps"][0]
    assert "gh run list" in busy["run"] and "queued" in busy["run"] and "in_progress" in busy["run"]
    assert step["if"] == "steps.busy.outputs.busy == '0'"
    assert "apply" not in flow["concurrency"]["group"]


def test_every_example_job_has_a_timeout_and_skips_forks_and_dependabot() -> None:
    for path in sorted((ROOT / "examples/ci").glob("*.yml")):
        flow = workflow(path.name)
        for name, job in flow["jobs"].items():
            assert isinstance(job.get("timeout-minutes"), int), (path.name, name)
            if "pull_request" in str(job.get("if", "")):
                guard = " ".join(job["if"].split())
                assert "github.event.pull_request.head.repo.full_name == github.repository" in guard
                assert "github.actor != 'dependabot[bot]'" in guard


def test_the_reviewed_plan_workflow_hands_the_plan_file_over() -> None:
    flow = workflow("reviewed-plan.yml")
    plan_job, apply_job = flow["jobs"]["plan"], flow["jobs"]["apply"]
    upload = next(s for s in plan_job["steps"] if s.get("uses", "").startswith("actions/upload"))
    assert upload["with"]["path"] == "${{ steps.plan.outputs.plan-file }}"
    download = next(
        s for s in apply_job["steps"] if s.get("uses", "").startswith("actions/download")
    )
    assert download["with"]["name"] == upload["with"]["name"]
    [apply] = [s["with"] for s in action_steps(apply_job) if s["with"]["command"] == "apply"]
    assert apply["plan-file"].startswith(download["with"]["path"])
    assert apply["on-stale-plan"] == "fail" and apply["comment"] is True
    assert apply_job["concurrency"]["cancel-in-progress"] is False
    assert (
        plan_job["strategy"]["matrix"]["environment"]
        == apply_job["strategy"]["matrix"]["environment"]
    )


def test_the_reviewed_plan_header_says_what_each_environment_must_hold() -> None:
    """A team sets up what the header says: every environment the jobs name, the secrets
    and variables they read, and the branch rule without which a pull request's edit of
    the workflow reads the write token (the read-only planning token is then for
    nothing). The header named no branch rule, nor the plan environments' secret
    (helper b71)."""
    text = (ROOT / "examples/ci/reviewed-plan.yml").read_text()
    header = text[: text.index("\nname:")]
    flow = workflow("reviewed-plan.yml")
    for job in flow["jobs"].values():
        for env in job["strategy"]["matrix"]["environment"]:
            name = job["environment"].split("#")[0].replace("${{ matrix.environment }}", env)
            assert name.strip() in header, name
    for kind, name in set(re.findall(r"\$\{\{ (secrets|vars)\.(\w+) \}\}", text)):
        assert name in header, (kind, name)
    assert 'deployment branches "Selected branches: main"' in header
    assert "no Upcall token as a repository secret" in header


def test_readme_documents_every_input_and_output() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Using upcall-sync in CI") :]
    for name in [*action["inputs"], *action["outputs"]]:
        assert re.search(rf"^\| (`[\w-]+`, )*`{name}`", section, re.M), name


def _saved_plan(
    tmp_path: Path, paths: list[str], prune: Any, targets: list[str], files: list[str]
) -> Path:
    plan_file = tmp_path / "plan.upcall-plan"
    doc = {
        "manifests": {"paths": paths, "files": files},
        "options": {"prune": prune, "targets": targets},
    }
    plan_file.write_text(json.dumps(doc))
    return plan_file


A_YAML = ["campaigns/a.yaml"]


@pytest.mark.parametrize(
    ("paths", "prune", "targets", "args", "why", "files"),
    [
        (["campaigns/"], False, [], "", "", A_YAML),
        (["./campaigns"], True, ["Q3"], "--prune --target Q3", "", A_YAML),
        (["campaigns/", "other/"], False, [], "", "other manifest paths than this job's", A_YAML),
        (["/etc"], False, [], "", "other manifest paths", A_YAML),
        (["campaigns/"], True, [], "", "the plan file prunes", A_YAML),
        (["campaigns/"], False, [], "--prune", "this job's args say --prune", A_YAML),
        (["campaigns/"], False, ["Q3"], "", "--target set is not this job's", A_YAML),
        # upcall-sync prunes on any true value, and plans `files`, not `paths` (helper b71)
        (["campaigns/"], 1, [], "", "the plan file prunes", A_YAML),
        (["campaigns/"], "no", [], "", "the plan file prunes", A_YAML),
        (["campaigns/"], False, [], "", "manifests outside", [*A_YAML, "other/x.yaml"]),
        (["campaigns/"], False, [], "", "manifests outside", ["campaigns/../other/x.yaml"]),
        (["campaigns/"], False, [], "", "manifests outside", ["campaigns-eu/x.yaml"]),
    ],
)
def test_a_saved_plan_applies_only_within_the_apply_job_s_own_scope(
    tmp_path: Path,
    paths: list[str],
    prune: Any,
    targets: list[str],
    args: str,
    why: str,
    files: list[str],
) -> None:
    """The plan file is an artifact of a pull request's run: one forged to prune, or to
    plan another directory, matches a fresh plan of what it names, so upcall-sync would
    apply it (helper b66). The Action holds it to the apply job's own path and args."""
    run = _run_module()
    env = {"INPUT_COMMAND": "apply", "INPUT_PATH": "campaigns/", "INPUT_ARGS": args}
    refused = run.scope_refused(
        run.Inputs.from_env(env), _saved_plan(tmp_path, paths, prune, targets, files)
    )
    assert (refused == "") if not why else (why in refused), refused
    assert "/etc" not in refused and "other/" not in refused  # the file's values: not shown


def test_a_saved_plan_named_in_path_is_refused_not_applied_past_the_scope_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """action.yml said `path` may be "one plan file saved by plan": upcall-sync then ran
    `apply PLANFILE` with no scope check, so a forged artifact handed over that way
    pruned or applied another folder's manifests (helper b73). It goes in plan-file."""
    run = _run_module()
    monkeypatch.chdir(tmp_path)
    _saved_plan(tmp_path, ["campaigns/"], True, [], A_YAML)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "a.yaml").write_text("version: 1\ncampaigns: []\n")
    env = {"INPUT_COMMAND": "apply", "INPUT_PATH": "plan.upcall-plan"}
    refused = run.plan_in_path(run.Inputs.from_env(env))
    assert refused.startswith("path or args name a saved plan file (plan.upcall-plan)"), refused
    result = run.run_apply(run.Inputs.from_env(env), tmp_path, as_json=True)
    assert result.exitcode == 1
    assert list(result.tail) == [f"error: {refused}; not applied"]
    env["INPUT_PATH"] = "campaigns/ campaigns/a.yaml"
    assert run.plan_in_path(run.Inputs.from_env(env)) == ""
    # nor in args, where it went to `upcall-sync apply` unchecked when path was empty
    (tmp_path / "token").write_text("t")
    for args in ("plan.upcall-plan", "--prune -- ./plan.upcall-plan"):
        env.update(INPUT_PATH="", INPUT_ARGS=args)
        assert "saved plan file" in run.plan_in_path(run.Inputs.from_env(env)), args
    env.update(INPUT_PATH="campaigns/", INPUT_ARGS="--token-file token --target plan.upcall-plan")
    assert run.plan_in_path(run.Inputs.from_env(env)) == ""  # options' values
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert "one plan file saved by plan" not in action["inputs"]["path"]["description"]


def test_a_plan_file_that_prunes_is_refused_by_an_apply_job_that_does_not(
    emulator: Emulator, runner_temp: Path, workspace: Path, github: tuple[FakeGitHub, str]
) -> None:
    _fake, api = github
    conn = {"token": TOKEN, "api-url": emulator.base_url}
    planned = act(runner_temp, workspace, PR, api, command="plan", args="--prune", **conn)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan_file = planned.outputs["plan-file"]
    applied = act(runner_temp, workspace, PR, command="apply", **{"plan-file": plan_file}, **conn)
    assert applied.returncode != 0
    assert "the plan file prunes (archives campaigns the manifests drop)" in applied.stdout
    assert emulator.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0
    pruning = act(
        runner_temp,
        workspace,
        PR,
        command="apply",
        args="--prune",
        **{"plan-file": plan_file},
        **conn,
    )
    assert pruning.returncode == 0, pruning.stdout + pruning.stderr
    assert emulator.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 3


def test_a_failed_step_s_annotation_gives_upcall_sync_s_reason_escaped(tmp_path: Path) -> None:
    """The annotation said only "upcall-sync apply exited 1"; the reason was in the log
    and the comment alone (helper b71). A quoted value cannot end the command (%0A)."""
    run = _run_module()
    inputs = run.Inputs.from_env({"INPUT_COMMAND": "apply"})
    result = run.Result(exitcode=1, output=tmp_path / "apply.txt")
    result.tail.extend(["Plan: 1 campaign to create", 'error: stale: 100% "a\rb" x'])
    assert run.failure_annotation(inputs, result) == (
        '::error title=upcall-sync::upcall-sync apply exited 1: stale: 100%25 "a%0Db" x'
    )
    result.tail.clear()
    assert run.failure_annotation(inputs, result).endswith("upcall-sync apply exited 1")


def test_a_failed_step_s_annotation_names_what_the_log_shows_above_it(tmp_path: Path) -> None:
    """A stale plan's error line points at the differences printed "above" it in the log;
    the annotation has nothing above it: it gives the JSON report's message, which names
    them (helper b72)."""
    run = _run_module()
    inputs = run.Inputs.from_env({"INPUT_COMMAND": "apply"})
    report = tmp_path / "apply.json"
    message = 'the live account changed: 1 difference (a campaign named "A%0A" now exists)'
    report.write_text(json.dumps({"error": {"type": "StalePlan", "message": message}}))
    result = run.Result(exitcode=1, output=report)
    result.tail.extend(['a campaign named "A%0A" now exists', "error: the 1 difference above"])
    assert run.failure_annotation(inputs, result) == (
        "::error title=upcall-sync::upcall-sync apply exited 1: the live account changed: "
        '1 difference (a campaign named "A%250A" now exists)'
    )
