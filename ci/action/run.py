"""Step 2 of the upcall-sync Action: run one command and report it the CI way.

Reads the Action's inputs from INPUT_* variables (set by action.yml, never interpolated
into a script; a GitLab job sets the same variables), runs `upcall-sync COMMAND`, then:

- writes the outputs `exitcode`, `has-changes`, `report` (the JSON plan, apply report or
  doctor report), `plan-file` and `environment` to $GITHUB_OUTPUT;
- prints the full plan to the log and appends it, as Markdown, to $GITHUB_STEP_SUMMARY
  (up to GitHub's 1 MiB; the 65,000-character budget is the comment's only);
- with `comment: true`, keeps ONE sticky comment per kind (validate and plan share one;
  apply has its own), environment and target set, on the pull request (or, for an apply
  after a merge, on the pull request the commit came from), or one GitLab merge-request
  note (publish.py);
- with `drift-issue: true` on `plan`, opens, edits or closes ONE drift issue.

Exits 0 on success and on "changes present" (plan exit 2: read `has-changes`),
otherwise with upcall-sync's own exit code, so the step fails.
"""

from __future__ import annotations

import json
import os
import re
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

import publish  # a sibling script, found through the line above

COMMANDS = ("validate", "plan", "apply", "doctor")
#: how apply's stale-plan error ends when a fresh plan has no changes (`StalePlan.nothing_left`)
APPLIED_ALREADY = "(was this plan applied already?)"
TAIL_LINES = 120
LINE_WIDTH = 400
SUMMARY_CHARS = 1_000_000  # the Markdown plan for the job summary (GitHub's limit: 1 MiB)
COMMENT_CHARS = 65_000  # the renderer's budget for a comment (render.MARKDOWN_LIMIT)
_ENVIRONMENT = re.compile(r"[\w.:@/+-]{1,100}")


def fail_input(message: str) -> SystemExit:
    return SystemExit(f"::error title=upcall-sync::{message}")


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
    environment: str = ""
    plan_file: str = ""
    planned_with: str = ""
    on_stale_plan: str = "fail"
    labels: bool = False
    skip_no_changes: bool = False
    fmt_check: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Inputs:
        command = env.get("INPUT_COMMAND", "").strip()
        if command not in COMMANDS:
            raise fail_input(f"command must be {', '.join(COMMANDS)}, not {command!r}")
        try:
            paths = shlex.split(env.get("INPUT_PATH", ""))
            args = shlex.split(env.get("INPUT_ARGS", ""))
        except ValueError as exc:
            raise fail_input(f"path or args: {exc}") from None
        environment = env.get("INPUT_ENVIRONMENT", "").strip()
        if environment and not _ENVIRONMENT.fullmatch(environment):
            raise fail_input("environment may hold letters, digits and . _ - : / @ + only")
        on_stale = env.get("INPUT_ON_STALE_PLAN", "").strip() or "fail"
        if on_stale not in ("fail", "replan"):
            raise fail_input(f"on-stale-plan must be fail or replan, not {on_stale!r}")
        return cls(
            command=command,
            paths=paths,
            args=args,
            comment=_flag(env, "INPUT_COMMENT"),
            drift_issue=_flag(env, "INPUT_DRIFT_ISSUE"),
            github_token=env.get("INPUT_GITHUB_TOKEN", ""),
            token=env.get("INPUT_TOKEN", ""),
            api_url=env.get("INPUT_API_URL", ""),
            environment=environment,
            plan_file=env.get("INPUT_PLAN_FILE", "").strip(),
            planned_with=env.get("INPUT_PLANNED_WITH", "").strip(),
            on_stale_plan=on_stale,
            labels=_flag(env, "INPUT_LABELS"),
            skip_no_changes=_flag(env, "INPUT_SKIP_NO_CHANGES"),
            fmt_check=_flag(env, "INPUT_FMT_CHECK", default=True),
        )

    def targets(self) -> list[str]:
        """The `--target` names in args: with the paths, they are the comment's target set."""
        found = []
        for i, arg in enumerate(self.args):
            if arg == "--target" and i + 1 < len(self.args):
                found.append(self.args[i + 1])
            elif arg.startswith("--target="):
                found.append(arg.split("=", 1)[1])
        return found

    def has_token(self, env: dict[str, str]) -> bool:
        return bool(
            self.token.strip()
            or env.get("UPCALL_AUTH_TOKEN", "").strip()
            or env.get("UPCALL_AUTH_TOKEN_FILE", "").strip()
            or any(a == "--token-file" or a.startswith("--token-file=") for a in self.args)
        )


def _flag(env: dict[str, str], name: str, *, default: bool = False) -> bool:
    value = env.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        raise fail_input(f"{name[6:].lower().replace('_', '-')} must be true or false")
    return default if value == "" else value == "true"


@dataclass
class Result:
    exitcode: int
    output: Path  # stdout of the command
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    report: Path | None = None
    plan_file: Path | None = None
    has_changes: bool | None = None
    #: the plan's JSON document (plan), or the applied plan's (apply with a JSON report)
    plan: dict[str, Any] | None = None
    #: the Markdown plan within the job summary's room (plan), when the tool can show it
    full_markdown: str = ""
    #: what the command was shown as (never a temporary path)
    shown: str = ""
    #: why a fresh plan was applied instead of the saved one (on-stale-plan: replan):
    #: how the reviewed plan "was stale" or "was applied already"; "" when it was not
    replanned: str = ""
    #: apply's refusal of a saved plan whose work is done already (a re-run job): said
    #: as that in the comment, not as a failed apply over the one that succeeded
    applied_already: bool = False


# -- running upcall-sync -------------------------------------------------------------


def upcall_sync() -> str:
    """The upcall-sync installed beside this Python (the Action's venv), else on PATH."""
    beside = Path(sys.executable).parent / "upcall-sync"
    return str(beside) if beside.exists() else shutil.which("upcall-sync") or "upcall-sync"


def help_of(command: str = "") -> str:
    argv = [upcall_sync(), *([command] if command else []), "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


_CURRENT: list[bool] = []


def current() -> bool:
    """This release or newer: installed from the Action's checkout, or it has `show` and
    `fmt` (so also `validate --format github`, `show --markdown-limit`, `apply --format
    json`). One look at the command list instead of one per option; an older `install`
    is asked option by option."""
    if not _CURRENT:
        if not os.environ.get("INPUT_INSTALL", "").strip():
            _CURRENT.append(True)  # installed from this checkout: the same release
        else:
            listed = help_of()
            _CURRENT.append(all(f" {name} " in listed for name in ("show", "fmt")))
    return _CURRENT[0]


def supports(command: str, option: str) -> bool:
    return current() or option in help_of(command)


def child_env(inputs: Inputs) -> dict[str, str]:
    secret = ("INPUT_GITHUB_TOKEN", "INPUT_TOKEN", "INPUT_GITLAB_TOKEN", "GITLAB_TOKEN")
    env = {k: v for k, v in os.environ.items() if k not in secret}
    if inputs.token:
        env["UPCALL_AUTH_TOKEN"] = inputs.token
    if inputs.api_url:
        env["UPCALL_API_URL"] = inputs.api_url
    if inputs.planned_with:  # else the job's own UPCALL_PLANNED_WITH, as for the token
        env["UPCALL_PLANNED_WITH"] = inputs.planned_with
    env["NO_COLOR"] = "1"
    return env


def _pump(src: IO[str], sinks: list[IO[str]], tail: deque[str]) -> None:
    for line in src:
        for sink in sinks:
            sink.write(line)
            sink.flush()
        if not line.startswith("::"):  # workflow commands are for the runner, not the comment
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


def run_validate(inputs: Inputs, workdir: Path) -> Result:
    exe = upcall_sync()
    fmt_failed: Result | None = None
    if inputs.fmt_check and supports("fmt", "--check"):
        checked = execute([exe, "fmt", "--check", *inputs.paths], inputs, workdir / "fmt.txt", True)
        fmt_failed = checked if checked.exitcode != 0 else None
    github = ["--format", "github"] if supports("validate", "github") else []
    argv = [exe, "validate", *inputs.paths, *github, *inputs.args]
    result = execute(argv, inputs, workdir / "validate.txt", True)
    if fmt_failed is not None:
        result.tail.extendleft(reversed(fmt_failed.tail))
        result.exitcode = result.exitcode or fmt_failed.exitcode
    return result


def run_plan(inputs: Inputs, workdir: Path) -> Result:
    """The plan: its text (every number) to the log, its Markdown to the comment and the
    job summary, its JSON to the report output, and the saved plan for `apply`."""
    exe = upcall_sync()
    plan_file = workdir / "plan.upcall-plan"
    full = supports("show", "--markdown-limit")  # else an older release: Markdown only
    shown = ["--format", "text", "--show-all-numbers"] if full else ["--format", "markdown"]
    argv = [exe, "plan", *inputs.paths, *shown, "--detailed-exitcode", "--out", str(plan_file)]
    result = execute([*argv, *inputs.args], inputs, workdir / "plan.out", full)
    if result.exitcode not in (0, 2) or not plan_file.exists():
        return result
    # The saved plan holds the same document as `plan --format json`: one read of
    # the account gives the text, the Markdown, the JSON and a plan `apply FILE` applies.
    doc = json.loads(plan_file.read_text(encoding="utf-8"))["plan"]
    result.plan = doc
    result.report = workdir / "plan.json"
    result.report.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    result.plan_file = plan_file
    result.has_changes = result.exitcode == 2
    if full:
        result.full_markdown = show_markdown(inputs, plan_file, workdir, SUMMARY_CHARS)
        comment = result.full_markdown
        if len(comment) > COMMENT_CHARS - 1000:  # a big plan: the renderer's cut for the comment
            comment = show_markdown(inputs, plan_file, workdir, 0)
        result.output = workdir / "plan.md"
        result.output.write_text(comment, encoding="utf-8")
    print(doc.get("summary_line", ""))
    return result


def show_markdown(inputs: Inputs, plan_file: Path, workdir: Path, limit: int) -> str:
    """The saved plan as Markdown within `limit` characters (0: a comment's room)."""
    argv = [upcall_sync(), "show", str(plan_file), "--format", "markdown"]
    argv += ["--markdown-limit", str(limit)] if limit else []
    done = execute(argv, inputs, workdir / f"plan-{limit}.md", False)
    return done.output.read_text(encoding="utf-8") if done.exitcode == 0 else ""


def scope_refused(inputs: Inputs, plan_file: Path) -> str:
    """Why a saved plan's scope is not this job's ("" when it is): the manifest paths it
    plans, whether it prunes and its targets, against the job's `path` and args (`--prune`
    and `--target`, which upcall-sync takes from the plan file itself). The artifact
    comes from a pull request's run: a forged one must not widen what this job applies
    (prune, another directory) even where it matches a fresh plan of what it names.
    Names only the job's own values: the file's are a pull request's to write."""
    try:
        doc = json.loads(plan_file.read_text(encoding="utf-8"))
        files = [os.path.abspath(str(f)) for f in doc["manifests"]["files"]]
        paths = doc["manifests"].get("paths") or doc["manifests"]["files"]
        planned = sorted(os.path.normpath(str(p)) for p in paths)
        # any true value prunes; upcall-sync refuses one other than true as malformed
        prunes = bool(doc["options"].get("prune"))
        targets = sorted(str(t) for t in doc["options"].get("targets") or ())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""  # upcall-sync says what is wrong with the file
    job = shlex.join(inputs.paths)
    if planned != sorted(os.path.normpath(p) for p in inputs.paths):
        return f"the plan file plans other manifest paths than this job's path ({job})"
    # apply plans the file's `files`, not its `paths`: each must be one the job's path holds
    roots = [os.path.abspath(p) for p in inputs.paths]
    under = tuple(r.rstrip(os.sep) + os.sep for r in roots)
    if not all(f in roots or f.startswith(under) for f in files):
        return f"the plan file plans manifests outside this job's path ({job})"
    if prunes != ("--prune" in inputs.args):
        return (
            "the plan file prunes (archives campaigns the manifests drop), and this job's "
            "args do not say --prune"
            if prunes
            else "this job's args say --prune, and the plan file does not prune"
        )
    if targets != sorted(inputs.targets()):
        return "the plan file's --target set is not this job's args'"
    return ""


def plan_in_path(inputs: Inputs) -> str:
    """Why `path` may not name a saved plan ("" when it names none): upcall-sync would
    apply it as `apply PLANFILE`, past the scope check that `plan-file` gets, so a forged
    artifact handed over that way would prune, or apply another folder's manifests. So
    would one among args' words (`path: ""`, `args: plan.upcall-plan`): an option's value
    (`--token-file FILE`) is no plan."""
    words = [*inputs.paths, *_positional(inputs.args)]
    named = [p for p in words if os.path.isfile(p) and not p.endswith((".yaml", ".yml"))]
    if not named:
        return ""
    return (
        f"path or args name a saved plan file ({shlex.join(named)}): give it as plan-file, "
        "and path the manifests it was planned from, so that its scope is checked"
    )


#: apply's options that take a value as the next word
_VALUED = {"-f", "--format", "--target", "--planned-with", "--parallelism", "--api-url"}
_VALUED |= {"--token-file", "--timeout", "--max-retry-time", "--max-rps"}
_VALUED |= {"--unreachable-after", "--page-size"}


def _positional(args: list[str]) -> list[str]:
    """args' words that are no option and no option's value."""
    return [
        a
        for i, a in enumerate(args)
        if not a.startswith("-") and not (i and args[i - 1] in _VALUED)
    ]


def _without_scope(args: list[str]) -> list[str]:
    """args without `--prune` and `--target NAME` (a saved plan fixes both)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--target":
            skip = True
        elif arg != "--prune" and not arg.startswith("--target="):
            kept.append(arg)
    return kept


def run_apply(inputs: Inputs, workdir: Path, as_json: bool) -> Result:
    exe = upcall_sync()
    saved = [inputs.plan_file] if inputs.plan_file else []
    suffix = "json" if as_json else "txt"
    refused = scope_refused(inputs, Path(inputs.plan_file)) if saved else plan_in_path(inputs)
    if refused:
        # the step's one error annotation (`failure_annotation`) gives the tail's line
        result = Result(exitcode=1, output=workdir / f"apply.{suffix}")
        result.output.write_text("", encoding="utf-8")
        result.tail.append(f"error: {refused}; not applied")
        result.shown = "upcall-sync apply PLANFILE"
        return result
    head = ["--auto-approve", *(["--format", "json"] if as_json else [])]
    tail = [*head, *(_without_scope(inputs.args) if saved else inputs.args)]
    result = execute(
        [exe, "apply", *(saved or inputs.paths), *tail],
        inputs,
        workdir / f"apply.{suffix}",
        not as_json,
    )
    result.shown = shlex.join(["upcall-sync", "apply", *(["PLANFILE"] if saved else inputs.paths)])
    error = _error(result.output) if saved else {}
    result.applied_already = str(error.get("message", "")).endswith(APPLIED_ALREADY)
    # not a ForeignPlan (another API or account, a token apply was not told of): a setup
    # to fix, which replanning would hide behind an unreviewed apply on every merge
    if inputs.on_stale_plan == "replan" and error.get("type") == "StalePlan":
        was, why = "was stale", "is stale (the differences are above)"
        if result.applied_already:  # a re-run job, say
            was = "was applied already"
            why = "was applied already (a fresh plan of its manifests has no changes)"
        print(
            f"::warning title=upcall-sync::the reviewed plan {why}; applying a fresh plan of "
            f"{shlex.join(inputs.paths)} (on-stale-plan: replan)"
        )
        again = workdir / f"apply-replan.{suffix}"
        result = execute(
            [exe, "apply", *inputs.paths, *head, *inputs.args], inputs, again, not as_json
        )
        result.shown = shlex.join(["upcall-sync", "apply", *inputs.paths])
        result.replanned = was
    return result


def _document(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _error(path: Path) -> dict[str, Any]:
    """The JSON report's `error` object (empty when there is none)."""
    error = (_document(path) or {}).get("error")
    return error if isinstance(error, dict) else {}


def run(inputs: Inputs, workdir: Path) -> Result:
    cmd = inputs.command
    if cmd == "validate":
        return run_validate(inputs, workdir)
    if cmd == "plan":
        return run_plan(inputs, workdir)
    as_json = supports(cmd, "--format")  # apply/doctor --format json: newer releases
    if cmd == "apply":
        result = run_apply(inputs, workdir, as_json)
    else:
        argv = [upcall_sync(), cmd, *(["--format", "json"] if as_json else []), *inputs.args]
        result = execute(
            argv, inputs, workdir / f"doctor.{'json' if as_json else 'txt'}", not as_json
        )
    if as_json and result.output.stat().st_size:
        result.report = result.output
        print(f"JSON report: {result.report}")
        if cmd == "apply":
            plan = (_document(result.output) or {}).get("plan")
            result.plan = plan if isinstance(plan, dict) else None
            empty = result.plan.get("empty") if result.plan else None
            result.has_changes = (not empty) if isinstance(empty, bool) else None
    return result


def no_token(inputs: Inputs) -> int:
    """A fork's or Dependabot's pull request runs without the repository's secrets."""
    if publish.on_gitlab() and publish.is_pull_request():
        print(
            "error: secrets are not available to this merge request: it comes from a fork, "
            "whose pipelines get no CI/CD variables (or UPCALL_AUTH_TOKEN is protected), so "
            f"upcall-sync cannot {inputs.command}"
        )
    elif publish.is_pull_request():
        print(
            "::error title=upcall-sync::secrets are not available to this pull request: it comes "
            "from a fork or from Dependabot, whose runs get no repository secrets, so upcall-sync "
            f"cannot {inputs.command} (skip such pull requests at job level: see "
            "examples/ci/github-actions.yml)"
        )
    else:
        print(
            "::error title=upcall-sync::no Upcall token: set the Action's `token` input to a "
            "secret (token: ${{ secrets.UPCALL_AUTH_TOKEN }})"
        )
    publish.write_outputs(Result(exitcode=1, output=Path(os.devnull)), "")
    return 1


def main() -> int:
    inputs = Inputs.from_env(dict(os.environ))
    if inputs.command != "validate" and not inputs.has_token(dict(os.environ)):
        return no_token(inputs)
    base = os.environ.get("RUNNER_TEMP") or tempfile.mkdtemp(prefix="upcall-sync-")
    workdir = Path(tempfile.mkdtemp(prefix=f"upcall-sync-{inputs.command}-", dir=base))
    result = run(inputs, workdir)
    ok = publish.report(inputs, result)
    if result.exitcode in (0, 2) if inputs.command == "plan" else result.exitcode == 0:
        return 0 if ok else 1
    print(failure_annotation(inputs, result))
    return result.exitcode or 1


def failure_annotation(inputs: Inputs, result: Result) -> str:
    """The step's error annotation: the exit status and upcall-sync's own reason (its last
    `error:` line, or its JSON report's error message, which names what the line points
    "above" at in the log: an annotation has nothing above it; redacted by upcall-sync,
    and escaped here so that a value it quotes cannot end the workflow command or start
    another)."""
    text = f"upcall-sync {inputs.command} exited {result.exitcode}"
    why = next((line for line in reversed(result.tail) if line.startswith("error: ")), "")
    why = str(_error(result.output).get("message") or "") or why.removeprefix("error: ")
    if why:
        text += ": " + why
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error title=upcall-sync::{escaped}"


if __name__ == "__main__":
    sys.exit(main())
