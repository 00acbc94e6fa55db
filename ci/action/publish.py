"""How the Action reports a run: outputs, the job summary, the sticky comment (GitHub pull
request or GitLab merge request), labels and the drift issue.

Comments are keyed by a hidden first line, the marker:

    <!-- upcall-sync:plan campaigns/ env=production -->

`validate` and `plan` share the `plan` kind (a failed validate replaces the plan of an
earlier commit), `apply` has its own; the rest is the target set (paths and `--target`
names) and the environment (the `environment` input, else the account the plan was made
for, the JSON plan's `account`). No temporary path ever goes into a marker. When the
environment is not known (a failed run without the input), the result goes to every one
of our comments of that kind and target set; a plan with a known environment takes over
the comment without one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ghapi
import glapi
import sticky

if TYPE_CHECKING:
    from run import Inputs, Result

STATUS = {
    "validate": {0: "valid", 1: "problems found"},
    "plan": {0: "no changes", 1: "failed", 2: "changes"},
    "apply": {0: "applied", 1: "failed", 130: "interrupted", 143: "interrupted"},
    "doctor": {0: "healthy", 1: "problems found"},
}
SUMMARY_LIMIT = 1_000_000  # bytes; GitHub refuses a step summary over 1 MiB


# -- where we run ---------------------------------------------------------------------


def on_gitlab() -> bool:
    return os.environ.get("GITLAB_CI") == "true"


def event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return doc if isinstance(doc, dict) else {}


def pull_request_number() -> int | None:
    if on_gitlab():
        iid = os.environ.get("CI_MERGE_REQUEST_IID", "")
        return int(iid) if iid.isdigit() else None
    doc = event()
    if isinstance(doc.get("pull_request"), dict):
        return int(doc["pull_request"]["number"])
    issue = doc.get("issue")
    if isinstance(issue, dict) and "pull_request" in issue:
        return int(issue["number"])
    return None


def is_pull_request() -> bool:
    return pull_request_number() is not None


def commit_sha() -> str:
    """The commit the run is about: a pull request's head (GITHUB_SHA is a merge commit)."""
    if on_gitlab():
        return os.environ.get("CI_COMMIT_SHA", "")
    head = event().get("pull_request", {})
    sha = head.get("head", {}).get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else os.environ.get("GITHUB_SHA", "")


def run_url() -> str:
    if on_gitlab():
        return os.environ.get("CI_JOB_URL") or os.environ.get("CI_PIPELINE_URL", "")
    return "{}/{}/actions/runs/{}".format(
        os.environ.get("GITHUB_SERVER_URL", "https://github.com"),
        os.environ.get("GITHUB_REPOSITORY", ""),
        os.environ.get("GITHUB_RUN_ID", ""),
    )


def environment_of(inputs: Inputs, result: Result) -> str:
    """The `environment` input, else the account the plan was made for (a fingerprint)."""
    if inputs.environment:
        return inputs.environment
    account = (result.plan or {}).get("account")
    return account if isinstance(account, str) and _safe(account) else ""


def _safe(text: str) -> bool:
    return bool(text) and len(text) <= 100 and all(c.isalnum() or c in "._:@/+-" for c in text)


# -- what is said ---------------------------------------------------------------------


#: what a table cell may not hold as such: Markdown syntax (written as numeric entities),
#: `@name`, `#123` and GitLab's `!123` (a mention notifies, a reference links, and an
#: entity is read as its character before references are: a word joiner after the sign
#: keeps them text), a bare URL or `www.` name (autolinked: a word joiner too)
_CELL_SYNTAX = re.compile(r"[`*~_\[\]\\!]")
_CELL_LINKS = re.compile(r"[@#]|!(?=\d)|(?<=:)(?=//)|(?<![^\W_])www(?=\.)", re.IGNORECASE)


def _cell(value: object, limit: int = 0) -> str:
    """One table cell of text the report quotes (doctor's evidence quotes the API's own
    answers, a 5xx body among them): no tag, link, image, emphasis or mention."""
    text = " ".join(str(value).split())
    text = text[:limit] if limit else text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _CELL_LINKS.sub(lambda m: m.group(0) + "\u2060", text)
    text = _CELL_SYNTAX.sub(lambda m: f"&#{ord(m.group(0))};", text)
    return text.replace("|", "\\|")


def checks_table(report: Path) -> str:
    """doctor's checks as a table; anything else (or an unreadable report) adds nothing."""
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
        rows = [
            f"| {_cell(c['verdict'])} | {_cell(c['name'])} | {_cell(c['evidence'], 300)} |"
            for c in doc["checks"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return "| verdict | check | evidence |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"


def markdown(inputs: Inputs, result: Result, *, full: bool = False) -> str:
    """The result as Markdown: the plan itself for a plan (the full one with `full`)."""
    if inputs.command == "plan" and result.exitcode in (0, 2):
        if full and result.full_markdown:
            return result.full_markdown
        return result.output.read_text(encoding="utf-8")
    status = STATUS[inputs.command].get(result.exitcode, "failed")
    if result.applied_already and not result.replanned:
        status = "nothing left to apply"
    paths = [] if inputs.command == "doctor" else inputs.paths
    shown = result.shown or shlex.join(["upcall-sync", inputs.command, *paths])
    lines = [line.replace("```", "`\u200b``") for line in result.tail]
    text = f"### upcall-sync {inputs.command}: {status}\n\n`{shown}` exited {result.exitcode}.\n\n"
    if inputs.command == "validate" and result.exitcode != 0:
        text += "No plan was made for this commit: fix the manifests, and the plan follows.\n\n"
    if result.applied_already and not result.replanned:
        text += (
            "The reviewed plan was applied already (a fresh plan of its manifests has no "
            "changes): nothing was changed. A re-run of the job that applied it?\n\n"
        )
    if result.replanned:
        text += (
            f"The reviewed plan {result.replanned}, so a fresh plan was applied "
            "(on-stale-plan: replan).\n\n"
        )
    if result.report is not None:
        text += checks_table(result.report) + (
            f"The JSON report is the step's `report` output (`{result.report.name}` on the "
            "runner: upload it as an artifact to keep it).\n\n"
        )
    return text + ("```text\n" + "\n".join(lines) + "\n```\n" if lines else "")


def meta_line(environment: str) -> str:
    sha = commit_sha()
    parts = [
        f"environment `{environment}`" if environment else "environment: the token's account",
        f"commit `{sha[:12]}`" if sha else "",
        f"[run]({run_url()})",
    ]
    return "<sub>" + " · ".join(p for p in parts if p) + "</sub>\n\n"


def unapplied(result: Result) -> int:
    value = (result.plan or {}).get("unapplied_differences")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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


def write_outputs(result: Result, environment: str) -> None:
    values = {
        "exitcode": str(result.exitcode),
        "has-changes": "" if result.has_changes is None else str(result.has_changes).lower(),
        "report": str(result.report or ""),
        "plan-file": str(result.plan_file or ""),
        "environment": environment,
    }
    append("GITHUB_OUTPUT", "".join(f"{k}={v}\n" for k, v in values.items()))


# -- the sticky comment ---------------------------------------------------------------


def markers(kind: str, inputs: Inputs, environment: str) -> tuple[str, str, str]:
    """(this run's marker, the marker without environment, the prefix of every env)."""
    where = shlex.join([*inputs.paths, *(f"target={t}" for t in inputs.targets())])
    where = where.replace("--", "-")
    prefix = f"<!-- upcall-sync:{kind} {where}"
    bare = prefix + " -->"
    return (f"{prefix} env={environment} -->" if environment else bare), bare, prefix + " env="


def comment(inputs: Inputs, result: Result, body: str, environment: str) -> None:
    number = pull_request_number()
    if number is None and inputs.command == "apply" and not on_gitlab():
        number = merged_pull_request()
    if number is None:
        print("::notice title=upcall-sync::not a pull request: no comment posted")
        return
    if inputs.command == "validate" and result.exitcode == 0:
        print("valid: the plan step updates the comment")
        return
    kind = "plan" if inputs.command == "validate" else inputs.command  # validate shares plan's
    marker, bare, prefix = markers(kind, inputs, environment)
    how: dict[str, Any] = {
        "cut_note": f"_(cut to fit a comment: the full text is in the [run's log]({run_url()}))_"
    }
    if environment:
        how["adopt"] = bare.__eq__
    else:
        how["spread"] = lambda line: (
            line == bare or (line.startswith(prefix) and line.endswith(" -->"))
        )
    if inputs.skip_no_changes and inputs.command == "plan" and result.exitcode == 0:
        how["create"] = False
    try:
        thread = (
            glapi.thread(inputs) if on_gitlab() else ghapi.PullRequestThread(github(inputs), number)
        )
        done, ids = sticky.upsert(thread, marker, body, **how)
    except (ghapi.GitHubError, glapi.GitLabError) as exc:  # a fork's read-only token
        print(f"::warning title=upcall-sync::could not post the comment: {exc}")
        return
    what = "merge request note" if on_gitlab() else "PR comment"
    if done == "skipped":
        print(f"no changes: no {what} posted (skip-no-changes)")
    for ident in ids:
        print(f"{what} {ident} {done}")


def merged_pull_request() -> int | None:
    """The pull request a pushed commit came from (an apply after the merge)."""
    sha = os.environ.get("GITHUB_SHA", "")
    if not sha:
        return None
    try:
        found = ghapi.pull_requests_of(github_from_env(), sha)
    except ghapi.GitHubError as exc:
        print(f"::warning title=upcall-sync::could not find the pull request of {sha[:12]}: {exc}")
        return None
    return found[0] if found else None


def github_from_env() -> ghapi.GitHub:
    return ghapi.GitHub(
        os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        os.environ.get("GITHUB_REPOSITORY", ""),
        os.environ.get("INPUT_GITHUB_TOKEN", ""),
    )


def github(inputs: Inputs) -> ghapi.GitHub:
    return ghapi.GitHub(
        os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        os.environ.get("GITHUB_REPOSITORY", ""),
        inputs.github_token,
    )


def labels(inputs: Inputs, result: Result) -> None:
    number = pull_request_number()
    if number is None or on_gitlab() or result.plan is None:
        return
    archive = ((result.plan.get("summary") or {}).get("campaigns") or {}).get("archive", 0)
    wanted = {"upcall-sync:changes" if result.has_changes else "upcall-sync:no-changes"}
    if archive:
        wanted.add("upcall-sync:prune")
    try:
        ghapi.set_labels(github(inputs), number, wanted)
    except ghapi.GitHubError as exc:
        print(f"::warning title=upcall-sync::could not set the labels: {exc}")
        return
    print(f"labels: {', '.join(sorted(wanted))}")


def drift(inputs: Inputs, result: Result, body: str) -> bool:
    if inputs.command != "plan" or result.exitcode not in (0, 2):
        return True  # an error is not drift: the failed run is the signal
    where = " ".join(inputs.paths)
    stuck = unapplied(result)
    text = (
        f"The scheduled `upcall-sync plan {where}` found the live account different from "
        f"the manifests ([run]({run_url()})). Review it, then apply the manifests or change "
        "them to match.\n\n"
    )
    if stuck:
        text += (
            f"**{stuck:,} difference{'s' if stuck != 1 else ''} cannot be applied through "
            "the API** (see the plan's notices): this issue stays open until they are "
            "settled by hand.\n\n"
        )
    try:
        how, number = ghapi.sync_drift_issue(
            github(inputs),
            markers("drift", inputs, "")[0],
            drifted=result.exitcode == 2 or stuck > 0,
            title=f"upcall-sync: live account drifted from {where}",
            body=text + body,
            run_url=run_url(),
        )
    except ghapi.GitHubError as exc:
        print(f"::error title=upcall-sync::could not update the drift issue: {exc}")
        return False
    print(f"drift issue: {how}" + (f" #{number}" if number else ""))
    return True


def report(inputs: Inputs, result: Result) -> bool:
    """Outputs, summary, comment, labels, drift issue. False: a report that must not fail
    silently (the drift issue) could not be made."""
    environment = environment_of(inputs, result)
    write_outputs(result, environment)
    head = meta_line(environment)
    append("GITHUB_STEP_SUMMARY", fit(head + markdown(inputs, result, full=True)) + "\n")
    body = markdown(inputs, result)
    if result.full_markdown and result.full_markdown != body:
        body += (
            f"\n**This comment holds part of the plan:** the whole plan is in the "
            f"[run's log and job summary]({run_url()}).\n"
        )
    if inputs.comment:
        comment(inputs, result, head + body, environment)
    if inputs.labels and inputs.command == "plan":
        labels(inputs, result)
    return drift(inputs, result, head + body) if inputs.drift_issue else True
