"""The GitLab REST calls the reporter makes: one sticky merge-request note (standard
library only), from GitLab's predefined variables.

- CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID say where;
- the token is INPUT_GITLAB_TOKEN or GITLAB_TOKEN (a project or personal access token
  with the `api` scope: CI_JOB_TOKEN may not write notes), sent as PRIVATE-TOKEN;
- `GET /user` says who the token is, so only notes it wrote are adopted.

5xx answers and network errors are retried (3 tries); errors never hold the token.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import sticky  # a sibling script (run.py puts this folder on sys.path)

PAGE = 100
MAX_PAGES = 50


class GitLabError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status is None or self.status >= 500


class GitLab:
    def __init__(self, api_url: str, project: str, token: str, *, timeout: float = 30) -> None:
        if not token:
            raise GitLabError("no GitLab token: set GITLAB_TOKEN (api scope) for the job")
        if not project:
            raise GitLabError("CI_PROJECT_ID is not set")
        self.api_url = api_url.rstrip("/")
        self.project = urllib.parse.quote(project, safe="")
        self._token = token
        self._timeout = timeout
        self._me: str | None = None
        self.delay = float(os.environ.get("UPCALL_SYNC_GH_RETRY_DELAY", "2"))

    def log(self, line: str) -> None:
        print(line)

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, tries: int = 3
    ) -> Any:
        return sticky.with_retries(
            lambda: self._once(method, path, body),
            tries=tries,
            delay=self.delay,
            log=self.log,
            error=GitLabError,
        )

    def _once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api_url + path, data=data, method=method)
        req.add_header("PRIVATE-TOKEN", self._token)
        req.add_header("User-Agent", "upcall-sync-ci")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        where = f"{method} {path.split('?', maxsplit=1)[0]}"
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise GitLabError(
                f"{where}: HTTP {exc.code}: {sticky.error_message(exc)}", exc.code
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise GitLabError(f"{where}: {getattr(exc, 'reason', exc)}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise GitLabError(f"{where}: the answer is not JSON", 200) from None

    def paginate(self, path: str) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            items = self.request("GET", f"{path}?per_page={PAGE}&page={page}")
            if not isinstance(items, list):
                raise GitLabError(f"GET {path}: expected a list", 200)
            yield from items
            if len(items) < PAGE:
                return

    def whoami(self) -> str:
        if self._me is None:
            user = self.request("GET", "/user")
            name = user.get("username") if isinstance(user, dict) else None
            if not isinstance(name, str) or not name:
                raise GitLabError("GET /user: no username in the answer", 200)
            self._me = name
        return self._me


class MergeRequestThread:
    """The notes of one merge request, as `sticky` uses them (system notes left out)."""

    def __init__(self, gl: GitLab, iid: int) -> None:
        self.gl = gl
        self.path = f"/projects/{gl.project}/merge_requests/{iid}/notes"
        self.delay = gl.delay

    def log(self, line: str) -> None:
        self.gl.log(line)

    def whoami(self) -> str:
        return self.gl.whoami()

    def items(self) -> Iterator[dict[str, Any]]:
        return (n for n in self.gl.paginate(self.path) if not n.get("system"))

    def edit(self, ident: int, text: str) -> None:
        self.gl.request("PUT", f"{self.path}/{ident}", {"body": text})

    def post(self, text: str) -> int:
        return int(self.gl.request("POST", self.path, {"body": text}, tries=1)["id"])


def thread(inputs: Any) -> MergeRequestThread:
    env = os.environ
    token = env.get("INPUT_GITLAB_TOKEN") or env.get("GITLAB_TOKEN", "")
    gl = GitLab(env.get("CI_API_V4_URL", ""), env.get("CI_PROJECT_ID", ""), token)
    return MergeRequestThread(gl, int(env.get("CI_MERGE_REQUEST_IID", "0")))
