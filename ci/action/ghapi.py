"""The few GitHub REST calls the upcall-sync Action makes (standard library only).

- `whoami`: the login the token acts as (`GET /user`; an app installation token may not
  call it: GraphQL's `viewer` names a GitHub App's `<app>[bot]`, and the default
  `GITHUB_TOKEN`, which may ask neither, is `github-actions[bot]`).
- `upsert_comment`: one sticky PR comment, found by the hidden HTML marker it starts with
  AND written by that login, edited in place (PATCH), created (POST) only when none is.
  A comment that carries the marker but was written by someone else (a lookalike: anyone
  can post the marker) is never adopted: it is named in the log and left alone.
- `sync_drift_issue`: one open issue per manifest path while the live account has drifted
  (opened, then edited in place), closed by the first clean run; found the same way.
- `pull_requests_of`: the pull requests a commit belongs to (apply after merge).
- `set_labels`: the `upcall-sync:*` labels of a pull request.

5xx answers and network errors are retried (3 tries in all); a POST that failed that way
is looked up again before it is re-sent, so a comment is not posted twice. The token goes
only into the Authorization header; errors name the method, the path and GitHub's
message, never the token.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import sticky  # a sibling script (run.py puts this folder on sys.path)
from sticky import find_marked, first_line, name_lookalikes, with_marker

PAGE = 100
MAX_PAGES = 50  # 5,000 comments or issues: far past any real pull request
TRIES = sticky.TRIES
DEFAULT_BOT = "github-actions[bot]"  # the default GITHUB_TOKEN's author name


class GitHubError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status is None or self.status >= 500


class GitHub:
    def __init__(
        self,
        api_url: str,
        repository: str,
        token: str,
        *,
        timeout: float = 30,
        log: Callable[[str], None] = print,
    ) -> None:
        if not token:
            raise GitHubError("no github-token given")
        if repository.count("/") != 1:
            raise GitHubError(f"GITHUB_REPOSITORY {repository!r} is not owner/name")
        self.api_url = api_url.rstrip("/")
        self.repo = repository
        self._token = token
        self._timeout = timeout
        self._me: str | None = None
        self.log = log
        #: seconds between tries; tests set UPCALL_SYNC_GH_RETRY_DELAY=0
        self.delay = float(os.environ.get("UPCALL_SYNC_GH_RETRY_DELAY", "2"))

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        tries: int = TRIES,
        url: str | None = None,
    ) -> Any:
        """One call, retried; `url` in place of the API URL + `path` (GraphQL's)."""
        return sticky.with_retries(
            lambda: self._once(method, path, body, url=url),
            tries=tries,
            delay=self.delay,
            log=self.log,
            error=GitHubError,
        )

    def _once(
        self, method: str, path: str, body: dict[str, Any] | None, *, url: str | None = None
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url or self.api_url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self._token}")
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("User-Agent", "upcall-sync-action")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        where = f"{method} {path.split('?', maxsplit=1)[0]}"
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise GitHubError(
                f"{where}: HTTP {exc.code}: {sticky.error_message(exc)}", exc.code
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"{where}: {reason}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise GitHubError(f"{where}: the answer is not JSON", 200) from None

    def paginate(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            query = urllib.parse.urlencode({**params, "per_page": PAGE, "page": page})
            items = self.request("GET", f"{path}?{query}")
            if not isinstance(items, list):
                raise GitHubError(f"GET {path}: expected a list", 200)
            yield from items
            if len(items) < PAGE:
                return

    def whoami(self) -> str:
        """The login this token writes as. `GET /user` answers for a personal or app user
        token; an installation token gets 403 there. A GitHub App's installation token
        (actions/create-github-app-token) writes as `<app>[bot]`, which GraphQL's `viewer`
        names; the default GITHUB_TOKEN's comments are written by github-actions[bot]."""
        if self._me is None:
            try:
                user = self.request("GET", "/user")
            except GitHubError as exc:
                if exc.status not in (403, 404):
                    raise
                self._me = self._viewer() or DEFAULT_BOT
            else:
                login = user.get("login") if isinstance(user, dict) else None
                if not isinstance(login, str) or not login:
                    raise GitHubError("GET /user: no login in the answer", 200)
                self._me = login
        return self._me

    def _viewer(self) -> str | None:
        """GraphQL's `viewer` login, or None where GraphQL does not say (a 4xx, an error
        answer: the default GITHUB_TOKEN). Without it an app token's own comments were
        taken for lookalikes, and each run posted a new one."""
        base = self.api_url
        url = base[: -len("/v3")] + "/graphql" if base.endswith("/api/v3") else base + "/graphql"
        query = {"query": "query { viewer { login } }"}
        try:
            answer = self.request("POST", "/graphql", query, url=url)
        except GitHubError as exc:
            if exc.transient:
                raise
            return None
        data = answer.get("data") if isinstance(answer, dict) else None
        viewer = data.get("viewer") if isinstance(data, dict) else None
        login = viewer.get("login") if isinstance(viewer, dict) else None
        return login if isinstance(login, str) and login else None


def comments(gh: GitHub, number: int) -> Iterator[dict[str, Any]]:
    return gh.paginate(f"/repos/{gh.repo}/issues/{number}/comments")


class PullRequestThread:
    """The comments of one issue or pull request, as `sticky` uses them."""

    def __init__(self, gh: GitHub, number: int) -> None:
        self.gh = gh
        self.number = number
        self.log = gh.log
        self.delay = gh.delay

    def whoami(self) -> str:
        return self.gh.whoami()

    def items(self) -> Iterator[dict[str, Any]]:
        return comments(self.gh, self.number)

    def edit(self, ident: int, text: str) -> None:
        self.gh.request("PATCH", f"/repos/{self.gh.repo}/issues/comments/{ident}", {"body": text})

    def post(self, text: str) -> int:
        path = f"/repos/{self.gh.repo}/issues/{self.number}/comments"
        return int(self.gh.request("POST", path, {"body": text}, tries=1)["id"])


def upsert_comment(
    gh: GitHub, number: int, marker: str, body: str, **how: Any
) -> tuple[str, list[int]]:
    return sticky.upsert(PullRequestThread(gh, number), marker, body, **how)


def find_open_issue(gh: GitHub, marker: str) -> dict[str, Any] | None:
    issues = (
        i for i in gh.paginate(f"/repos/{gh.repo}/issues", state="open") if "pull_request" not in i
    )
    found = find_marked(gh, issues, lambda b: first_line(b) == marker)
    name_lookalikes(gh, found, "issue")
    return found.ours[0] if found.ours else None


def sync_drift_issue(
    gh: GitHub, marker: str, *, drifted: bool, title: str, body: str, run_url: str
) -> tuple[str, int | None]:
    """Drift: open or edit our one issue with `marker`. Clean: close it, saying why."""
    issue = find_open_issue(gh, marker)
    if drifted:
        text = with_marker(marker, body)
        if issue is not None:
            path = f"/repos/{gh.repo}/issues/{issue['number']}"
            gh.request("PATCH", path, {"title": title, "body": text})
            return "updated", int(issue["number"])
        made = gh.request("POST", f"/repos/{gh.repo}/issues", {"title": title, "body": text})
        return "opened", int(made["number"])
    if issue is None:
        return "none", None
    number = int(issue["number"])
    note = f"A later plan found no drift ({run_url}): the live account matches the manifests."
    gh.request("POST", f"/repos/{gh.repo}/issues/{number}/comments", {"body": note})
    gh.request(
        "PATCH",
        f"/repos/{gh.repo}/issues/{number}",
        {"state": "closed", "state_reason": "completed"},
    )
    return "closed", number


def pull_requests_of(gh: GitHub, sha: str) -> list[int]:
    """The pull requests `sha` belongs to, merged ones first (a push to main after a merge)."""
    pulls = list(gh.paginate(f"/repos/{gh.repo}/commits/{sha}/pulls"))
    pulls.sort(key=lambda p: (not p.get("merged_at"), -int(p.get("number", 0))))
    return [int(p["number"]) for p in pulls]


LABELS = ("upcall-sync:changes", "upcall-sync:no-changes", "upcall-sync:prune")


def set_labels(gh: GitHub, number: int, wanted: set[str]) -> None:
    """Add the wanted `upcall-sync:*` labels and remove the others (other labels stay)."""
    have = {
        str(label.get("name"))
        for label in gh.paginate(f"/repos/{gh.repo}/issues/{number}/labels")
        if isinstance(label, dict)
    }
    add = sorted(wanted - have)
    if add:
        gh.request("POST", f"/repos/{gh.repo}/issues/{number}/labels", {"labels": add})
    for name in sorted((have & set(LABELS)) - wanted):
        quoted = urllib.parse.quote(name, safe="")
        gh.request("DELETE", f"/repos/{gh.repo}/issues/{number}/labels/{quoted}")
