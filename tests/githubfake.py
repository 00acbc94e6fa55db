"""A fake GitHub REST API on 127.0.0.1 and a small runner for composite actions.

`FakeGitHub` keeps issues, comments and labels in memory and serves the calls the
Action makes (list/create/edit comments, list/create/edit issues, labels, the pull
requests of a commit, `GET /user`, GraphQL's `viewer`), paging like GitHub (`per_page`,
`page`), refusing a wrong token with 401, and logging every request so tests can tell a PATCH from a second
POST. What the token writes is written by `login`; `GET /user` answers 403 unless
`user_endpoint` (the default GITHUB_TOKEN, an installation token, may not call it), and
GraphQL names no `viewer` unless `graphql_viewer` (a GitHub App's installation token).
`flaky` answers the next requests of a method with a status (a 5xx) before serving it.

`run_action` runs action.yml's steps the way the runner does: each `run:` as a
bash script (`bash --noprofile --norc -eo pipefail`), its `env:` evaluated from
the inputs, the defaults and earlier steps' outputs, GITHUB_OUTPUT per step.
Only the expressions action.yml uses are known; any other fails the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from .conftest import ROOT, scan
from .helpers.wheels import wheelhouse

GH_TOKEN = "ghs_FAKEGITHUBTOKEN_5e1d"
REPO = "acme/campaigns"


@dataclass
class FakeGitHub:
    repo: str
    token: str
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # "POST" -> status to answer
    flaky: dict[str, list[int]] = field(default_factory=dict)  # "PATCH" -> [502, ...] once each
    login: str = "github-actions[bot]"
    user_endpoint: bool = False
    graphql_viewer: bool = False  # a GitHub App's installation token: GraphQL names it
    labels: dict[int, list[str]] = field(default_factory=dict)
    pulls_of: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> pulls
    _next_id: int = 1000

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def seed_comments(self, number: int, count: int) -> None:
        self.comments.setdefault(number, []).extend(
            {"id": self.new_id(), "body": f"review note {i}", "user": {"login": "someone"}}
            for i in range(count)
        )

    @property
    def rest(self) -> list[tuple[str, str]]:
        """The REST calls of `log` (without GraphQL's identity question)."""
        return [(method, path) for method, path in self.log if path != "/graphql"]

    def all_comments(self) -> list[dict[str, Any]]:
        return [c for cs in self.comments.values() for c in cs]

    def handle(self, method: str, url: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.log.append((method, parts.path))
        graphql = parts.path == "/graphql"  # `fail` and `flaky` are for the REST calls
        if method in self.fail and not graphql:
            return self.fail[method], {"message": "Resource not accessible by integration"}
        if self.flaky.get(method) and not graphql:
            return self.flaky[method].pop(0), {"message": "Server Error"}
        if parts.path == "/user":
            if self.user_endpoint:
                return 200, {"login": self.login, "type": "User"}
            return 403, {"message": "Resource not accessible by integration"}
        if parts.path == "/graphql" and method == "POST":
            if self.graphql_viewer and "viewer" in body.get("query", ""):
                return 200, {"data": {"viewer": {"login": self.login}}}
            return 200, {"errors": [{"message": "Resource not accessible by integration"}]}
        return self._repo(method, parts.path, query, body)

    def _repo(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        base = f"/repos/{self.repo}"
        if m := re.fullmatch(base + r"/issues/(\d+)/comments", path):
            number = int(m.group(1))
            if method == "GET":
                return 200, _page(self.comments.get(number, []), query)
            made = {"id": self.new_id(), "body": body["body"], "user": {"login": self.login}}
            self.comments.setdefault(number, []).append(made)
            return 201, made
        if m := re.fullmatch(base + r"/issues/comments/(\d+)", path):
            found = [c for c in self.all_comments() if c["id"] == int(m.group(1))]
            if not found:
                return 404, {"message": "Not Found"}
            # like GitHub: a token with write access may edit anyone's comment
            found[0]["body"] = body["body"]
            return 200, found[0]
        if m := re.fullmatch(base + r"/issues/(\d+)/labels(?:/([^/]+))?", path):
            have = self.labels.setdefault(int(m.group(1)), [])
            if method == "POST":
                have.extend(n for n in body["labels"] if n not in have)
            elif method == "DELETE":
                have.remove(unquote(m.group(2)))
            return 200, _page([{"name": n} for n in have], query)
        if m := re.fullmatch(base + r"/commits/(\w+)/pulls", path):
            return 200, _page(self.pulls_of.get(m.group(1), []), query)
        if path == base + "/issues":
            if method == "GET":
                state = query.get("state", "open")
                return 200, _page([i for i in self.issues if i["state"] == state], query)
            made = {"number": len(self.issues) + 1, "state": "open", **body}
            made["user"] = {"login": self.login}
            self.issues.append(made)
            return 201, made
        if m := re.fullmatch(base + r"/issues/(\d+)", path):
            issue = self.issues[int(m.group(1)) - 1]
            issue.update(body)
            return 200, issue
        return 404, {"message": "Not Found"}


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    size = min(int(query.get("per_page", 30)), 100)
    page = int(query.get("page", 1))
    return items[(page - 1) * size : page * size]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
            status, doc = 401, {"message": "Bad credentials"}
        else:
            status, doc = self.fake.handle(self.command, self.path, body)
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class GitHubServer:
    def __init__(self, fake: FakeGitHub) -> None:
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> GitHubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- running action.yml ------------------------------------------------------------------


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    #: the `uses:` steps the runner would have run (name, with), which the test skips
    used: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def read_outputs(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value
    return values


_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _evaluate(text: str, context: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in context, f"action.yml uses ${{{{ {name} }}}}, unknown to the test runner"
        return context[name]

    return _EXPR.sub(one, str(text))


def run_action(
    action_yml: Path, inputs: dict[str, str], env: dict[str, str], workdir: Path
) -> ActionRun:
    action = yaml.safe_load(action_yml.read_text())
    unknown = set(inputs) - set(action["inputs"])
    assert not unknown, f"inputs not declared in action.yml: {unknown}"
    context = {"github.token": env.get("GITHUB_TOKEN", "")}
    for name, spec in action["inputs"].items():
        value = inputs.get(name, str(spec.get("default", "")))
        context[f"inputs.{name}"] = _evaluate(value, context)
    out, err, code = "", "", 0
    used: list[tuple[str, dict[str, str]]] = []
    for n, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:  # another action (actions/cache): recorded, not run
            used.append((step["uses"], {k: _evaluate(v, context) for k, v in step["with"].items()}))
            continue
        assert step["shell"] == "bash"
        script = workdir / f"step-{n}.sh"
        script.write_text(step["run"])
        outputs = workdir / f"output-{n}"
        outputs.write_text("")
        step_env = {k: _evaluate(v, context) for k, v in (step.get("env") or {}).items()}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env={**env, **step_env, "GITHUB_OUTPUT": str(outputs)},
            cwd=env.get("GITHUB_WORKSPACE"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        out, err, code = out + done.stdout, err + done.stderr, done.returncode
        for key, value in read_outputs(outputs).items():
            context[f"steps.{step['id']}.outputs.{key}"] = value
        if code != 0:
            break
    final = {
        name: _evaluate(spec["value"], {**dict.fromkeys(_needed(spec["value"]), ""), **context})
        for name, spec in action["outputs"].items()
    }
    return ActionRun(code, out, err, final, used)


def _needed(text: str) -> list[str]:
    return [m.group(1) for m in _EXPR.finditer(text)]


# -- the Action as a test runs it -----------------------------------------------------


def runner_environ() -> dict[str, str]:
    """This process's environment as a runner's: no UPCALL_, PIP_ or GITHUB_ variable,
    and no PYTHONDONTWRITEBYTECODE (a runner writes bytecode: the Action installs with
    `--no-compile`, and its first run compiles what it imports for every later run and
    for the cached venv; without bytecode, each upcall-sync it starts would compile its
    dependencies again, about 0.9 s each)."""
    prefixes = ("UPCALL_", "PIP_", "GITHUB_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    # `python3` first on PATH is an interpreter, as actions/setup-python leaves it (the
    # one running the tests), not a version manager's shim: pyenv's starts a dozen bash
    # processes for every `python3` the Action's steps run (80 ms of CPU each)
    real = Path(getattr(sys, "_base_executable", sys.executable)).resolve().parent
    env["PATH"] = os.pathsep.join(
        [str(real), *(p for p in env.get("PATH", "").split(os.pathsep) if p)]
    )
    return env


def act(
    runner_temp: Path,
    workspace: Path,
    event: dict[str, Any],
    api: str = "http://127.0.0.1:9",
    extra_env: dict[str, str] | None = None,
    **inputs: str,
) -> ActionRun:
    started = time.time() - 1
    work = Path(tempfile.mkdtemp(prefix="run-", dir=runner_temp))
    (work / "event.json").write_text(json.dumps(event))
    (work / "summary.md").write_text("")
    env = {
        **runner_environ(),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse()),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_EVENT_PATH": str(work / "event.json"),
        "GITHUB_STEP_SUMMARY": str(work / "summary.md"),
        "GITHUB_PATH": str(work / "path.txt"),
        "GITHUB_TOKEN": GH_TOKEN,
        "GITHUB_SHA": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        "GITHUB_EVENT_NAME": "pull_request" if "pull_request" in event else "push",
        "UPCALL_SYNC_GH_RETRY_DELAY": "0",
        **(extra_env or {}),
    }
    run = run_action(ROOT / "action.yml", {"path": "campaigns/", **inputs}, env, work)
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for written in [work, *runner_temp.glob("upcall-sync-*-*")]:
        if written.stat().st_mtime < started:
            continue  # an earlier run's (runner_temp is shared by the session)
        for f in written.rglob("*"):
            if f.is_file():
                texts[str(f)] = f.read_text(errors="replace")
    for where, text in texts.items():
        scan(text, where)
        assert GH_TOKEN not in text, f"the GitHub token appeared in {where}"
    return run


def summary_of(run: ActionRun, runner_temp: Path) -> str:
    files = sorted(runner_temp.glob("run-*/summary.md"), key=lambda p: p.stat().st_mtime)
    return files[-1].read_text()
