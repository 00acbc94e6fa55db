"""A fake GitHub REST API on 127.0.0.1 and a small runner for composite actions.

`FakeGitHub` keeps issues and comments in memory and serves the calls the
Action makes (list/create/edit comments, list/create/edit issues), paging like
GitHub (`per_page`, `page`), refusing a wrong token with 401, and logging every
request so tests can tell a PATCH from a second POST.

`run_action` runs action.yml's steps the way the runner does: each `run:` as a
bash script (`bash --noprofile --norc -eo pipefail`), its `env:` evaluated from
the inputs, the defaults and earlier steps' outputs, GITHUB_OUTPUT per step.
Only the expressions action.yml uses are known; any other fails the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass
class FakeGitHub:
    repo: str
    token: str
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # "POST" -> status to answer
    _next_id: int = 1000

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def seed_comments(self, number: int, count: int) -> None:
        self.comments.setdefault(number, []).extend(
            {"id": self.new_id(), "body": f"review note {i}", "user": {"login": "someone"}}
            for i in range(count)
        )

    def all_comments(self) -> list[dict[str, Any]]:
        return [c for cs in self.comments.values() for c in cs]

    def handle(self, method: str, url: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.log.append((method, parts.path))
        if method in self.fail:
            return self.fail[method], {"message": "Resource not accessible by integration"}
        base = f"/repos/{self.repo}"
        path = parts.path
        if m := re.fullmatch(base + r"/issues/(\d+)/comments", path):
            number = int(m.group(1))
            if method == "GET":
                return 200, _page(self.comments.get(number, []), query)
            made = {"id": self.new_id(), "body": body["body"], "user": {"login": "bot"}}
            self.comments.setdefault(number, []).append(made)
            return 201, made
        if m := re.fullmatch(base + r"/issues/comments/(\d+)", path):
            found = [c for c in self.all_comments() if c["id"] == int(m.group(1))]
            if not found:
                return 404, {"message": "Not Found"}
            found[0]["body"] = body["body"]
            return 200, found[0]
        if path == base + "/issues":
            if method == "GET":
                state = query.get("state", "open")
                return 200, _page([i for i in self.issues if i["state"] == state], query)
            made = {"number": len(self.issues) + 1, "state": "open", **body}
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

    do_GET = do_POST = do_PATCH = _serve

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
    for n, step in enumerate(action["runs"]["steps"]):
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
    return ActionRun(code, out, err, final)


def _needed(text: str) -> list[str]:
    return [m.group(1) for m in _EXPR.finditer(text)]
