"""Step 2 of the upcall-sync Action: run one command and report it the GitHub way.

Reads the Action's inputs from INPUT_* variables (set by action.yml, never
interpolated into a script), runs `upcall-sync COMMAND`, and then:

- writes the outputs `exitcode`, `has-changes`, `report` (the JSON plan,
  apply report or doctor report) and `plan-file` to $GITHUB_OUTPUT;
- appends Markdown to $GITHUB_STEP_SUMMARY (the plan itself for `plan`),
  kept under GitHub's 1 MiB;
- with `comment: true` on a pull request, keeps ONE sticky comment (ghapi);
- with `drift-issue: true` on `plan`, opens, edits or closes ONE drift issue.

Exits 0 on success and on "changes present" (plan exit 2: read `has-changes`),
otherwise with upcall-sync's own exit code, so the step fails.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ghapi  # a sibling script, found through the line above

COMMANDS = ("validate", "plan", "apply", "doctor")
SUMMARY_LIMIT = 1_000_000  # bytes; GitHub refuses a step summary over 1 MiB
TAIL_LINES = 120
LINE_WIDTH = 400


@dataclass(frozen=True)
class Inputs:
    command: str
    paths: list[str]
    args: list[str]
    comment: bool
    drift_issue: bool
    github_token: str
    token: str
    api_url: str

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Inputs:
        command = env.get("INPUT_COMMAND", "").strip()
        if command not in COMMANDS:
            choices = ", ".join(COMMANDS)
            raise SystemExit(
                f"::error title=upcall-sync::command must be {choices}, not {command!r}"
            )
        try:
            paths = shlex.split(env.get("INPUT_PATH", ""))
            args = shlex.split(env.get("INPUT_ARGS", ""))
        except ValueError as exc:
            raise SystemExit(f"::error title=upcall-sync::path or args: {exc}") from None
        return cls(
            command=command,
            paths=paths,
            args=args,
            comment=_flag(env, "INPUT_COMMENT"),
            drift_issue=_flag(env, "INPUT_DRIFT_ISSUE"),
            github_token=env.get("INPUT_GITHUB_TOKEN", ""),
            token=env.get("INPUT_TOKEN", ""),
            api_url=env.get("INPUT_API_URL", ""),
        )


def _flag(env: dict[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        raise SystemExit(f"::error title=upcall-sync::{name[6:].lower()} must be true or false")
    return value == "true"


@dataclass
class Result:
    exitcode: int
    output: Path  # stdout of the command
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    report: Path | None = None
    plan_file: Path | None = None
    has_changes: bool | None = None


# -- running upcall-sync -------------------------------------------------------------


def upcall_sync() -> str:
    """The upcall-sync installed beside this Python (the Action's venv), else on PATH."""
    beside = Path(sys.executable).parent / "upcall-sync"
    return str(beside) if beside.exists() else shutil.which("upcall-sync") or "upcall-sync"


def supports_json(command: str) -> bool:
    """`apply --format json` and `doctor --format json` arrive in newer releases."""
    done = subprocess.run(
        [upcall_sync(), command, "--help"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and "--format" in done.stdout


def child_env(inputs: Inputs) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("INPUT_GITHUB_TOKEN", "INPUT_TOKEN")}
    if inputs.token:
        env["UPCALL_AUTH_TOKEN"] = inputs.token
    if inputs.api_url:
        env["UPCALL_API_URL"] = inputs.api_url
    env["NO_COLOR"] = "1"
    return env


def _pump(src: IO[str], sinks: list[IO[str]], tail: deque[str]) -> None:
    for line in src:
        for sink in sinks:
            sink.write(line)
            sink.flush()
        tail.append(line.rstrip("\n")[:LINE_WIDTH])


def execute(argv: list[str], inputs: Inputs, output: Path, echo: bool) -> Result:
    """Run argv: stdout to `output` (and the log when `echo`), stderr to the log; both tailed."""
    print(f"$ {shlex.join(['upcall-sync', *argv[1:]])}", flush=True)
    result = Result(exitcode=1, output=output)
    with output.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=child_env(inputs),
        )
        assert proc.stdout is not None and proc.stderr is not None
        err = threading.Thread(target=_pump, args=(proc.stderr, [sys.stderr], result.tail))
        err.start()
        shown = result.tail if echo else deque[str](maxlen=0)
        _pump(proc.stdout, [out, sys.stdout] if echo else [out], shown)
        err.join()
        result.exitcode = proc.wait()
    return result


def run(inputs: Inputs, workdir: Path) -> Result:
    exe = upcall_sync()
    cmd = inputs.command
    if cmd == "validate":
        return execute(
            [exe, cmd, *inputs.paths, *inputs.args], inputs, workdir / "validate.txt", True
        )
    if cmd == "plan":
        plan_file = workdir / "plan.upcall-plan"
        argv = [exe, cmd, *inputs.paths, "--format", "markdown", "--detailed-exitcode"]
        result = execute(
            [*argv, "--out", str(plan_file), *inputs.args], inputs, workdir / "plan.md", False
        )
        if result.exitcode in (0, 2) and plan_file.exists():
            # The saved plan holds the same document as `plan --format json`: one read of
            # the account gives the Markdown, the JSON and a plan `apply FILE` can apply.
            doc = json.loads(plan_file.read_text(encoding="utf-8"))["plan"]
            result.report = workdir / "plan.json"
            result.report.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            result.plan_file = plan_file
            result.has_changes = result.exitcode == 2
            print(doc.get("summary_line", ""))
        return result
    as_json = supports_json(cmd)
    argv = [exe, cmd, *(inputs.paths if cmd == "apply" else [])]
    argv += ["--auto-approve"] if cmd == "apply" else []
    argv += ["--format", "json"] if as_json else []
    suffix = "json" if as_json else "txt"
    result = execute([*argv, *inputs.args], inputs, workdir / f"{cmd}.{suffix}", not as_json)
    if as_json and result.output.stat().st_size:
        result.report = result.output
        print(f"JSON report: {result.report}")
        if cmd == "apply":
            result.has_changes = _applied_something(result.output)
    return result


def _applied_something(path: Path) -> bool | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    plan = doc.get("plan") if isinstance(doc, dict) else None
    empty = plan.get("empty") if isinstance(plan, dict) else None
    return (not empty) if isinstance(empty, bool) else None


# -- reporting --------------------------------------------------------------------------

STATUS = {
    "validate": {0: "valid", 1: "problems found"},
    "plan": {0: "no changes", 1: "failed", 2: "changes"},
    "apply": {0: "applied", 1: "failed", 130: "interrupted", 143: "interrupted"},
    "doctor": {0: "healthy", 1: "problems found"},
}


def markdown(inputs: Inputs, result: Result) -> str:
    if inputs.command == "plan" and result.exitcode in (0, 2):
        return result.output.read_text(encoding="utf-8")
    status = STATUS[inputs.command].get(result.exitcode, "failed")
    paths = [] if inputs.command == "doctor" else inputs.paths
    shown = shlex.join(["upcall-sync", inputs.command, *paths])
    lines = [line.replace("```", "`\u200b``") for line in result.tail]
    text = f"### upcall-sync {inputs.command}: {status}\n\n`{shown}` exited {result.exitcode}.\n\n"
    if result.report is not None:
        text += checks_table(result.report) + f"The JSON report is `{result.report.name}`.\n\n"
    return text + ("```text\n" + "\n".join(lines) + "\n```\n" if lines else "")


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def checks_table(report: Path) -> str:
    """doctor's checks as a table; anything else (or an unreadable report) adds nothing."""
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
        rows = [
            f"| {c['verdict']} | {_cell(c['name'])} | {_cell(c['evidence'])[:300]} |"
            for c in doc["checks"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return "| verdict | check | evidence |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"


def fit(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """At most `limit` bytes of UTF-8, cut at a line end, saying so."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    note = "\n\n_(cut to fit GitHub's 1 MiB step summary; the full text is in the log)_\n"
    head = data[: limit - len(note.encode()) - 8].decode("utf-8", errors="ignore")
    return head[: head.rfind("\n") + 1] + note


def append(path_var: str, text: str) -> None:
    path = os.environ.get(path_var)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def write_outputs(result: Result) -> None:
    values = {
        "exitcode": str(result.exitcode),
        "has-changes": "" if result.has_changes is None else str(result.has_changes).lower(),
        "report": str(result.report or ""),
        "plan-file": str(result.plan_file or ""),
    }
    append("GITHUB_OUTPUT", "".join(f"{k}={v}\n" for k, v in values.items()))


def marker_of(kind: str, inputs: Inputs) -> str:
    where = " ".join(inputs.paths).replace("--", "-")
    return f"<!-- upcall-sync:{kind} {where} -->"


def pull_request_number() -> int | None:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        event: dict[str, Any] = json.load(fh)
    if isinstance(event.get("pull_request"), dict):
        return int(event["pull_request"]["number"])
    issue = event.get("issue")
    if isinstance(issue, dict) and "pull_request" in issue:
        return int(issue["number"])
    return None


def github(inputs: Inputs) -> ghapi.GitHub:
    return ghapi.GitHub(
        os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        os.environ.get("GITHUB_REPOSITORY", ""),
        inputs.github_token,
    )


def comment(inputs: Inputs, body: str) -> None:
    number = pull_request_number()
    if number is None:
        print("::notice title=upcall-sync::not a pull request: no comment posted")
        return
    try:
        how, cid = ghapi.upsert_comment(
            github(inputs), number, marker_of(inputs.command, inputs), body
        )
    except ghapi.GitHubError as exc:  # a fork's read-only token must not fail the plan
        print(f"::warning title=upcall-sync::could not post the PR comment: {exc}")
        return
    print(f"PR comment {cid} {how}")


def drift(inputs: Inputs, result: Result, body: str) -> bool:
    if inputs.command != "plan" or result.exitcode not in (0, 2):
        return True  # an error is not drift: the failed run is the signal
    run_url = "{}/{}/actions/runs/{}".format(
        os.environ.get("GITHUB_SERVER_URL", "https://github.com"),
        os.environ.get("GITHUB_REPOSITORY", ""),
        os.environ.get("GITHUB_RUN_ID", ""),
    )
    where = " ".join(inputs.paths)
    text = (
        f"The scheduled `upcall-sync plan {where}` found the live account different from "
        f"the manifests ([run]({run_url})). Review it, then apply the manifests or change "
        "them to match.\n\n" + body
    )
    try:
        how, number = ghapi.sync_drift_issue(
            github(inputs),
            marker_of("drift", inputs),
            drifted=result.exitcode == 2,
            title=f"upcall-sync: live account drifted from {where}",
            body=text,
            run_url=run_url,
        )
    except ghapi.GitHubError as exc:
        print(f"::error title=upcall-sync::could not update the drift issue: {exc}")
        return False
    print(f"drift issue: {how}" + (f" #{number}" if number else ""))
    return True


def main() -> int:
    inputs = Inputs.from_env(dict(os.environ))
    base = os.environ.get("RUNNER_TEMP") or tempfile.mkdtemp(prefix="upcall-sync-")
    workdir = Path(tempfile.mkdtemp(prefix=f"upcall-sync-{inputs.command}-", dir=base))
    result = run(inputs, workdir)
    body = markdown(inputs, result)
    write_outputs(result)
    append("GITHUB_STEP_SUMMARY", fit(body) + "\n")
    if inputs.comment:
        comment(inputs, body)
    ok = drift(inputs, result, body) if inputs.drift_issue else True
    if result.exitcode in (0, 2) if inputs.command == "plan" else result.exitcode == 0:
        return 0 if ok else 1
    print(f"::error title=upcall-sync::upcall-sync {inputs.command} exited {result.exitcode}")
    return result.exitcode or 1


if __name__ == "__main__":
    sys.exit(main())
