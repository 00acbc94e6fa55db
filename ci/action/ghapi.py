"""The few GitHub REST calls the upcall-sync Action makes (standard library only).

- `upsert_comment`: one sticky PR comment, found by the hidden HTML marker it starts with and
  edited in place (PATCH), created (POST) only when none carries the marker.
- `sync_drift_issue`: one open issue per manifest path while the live account
  has drifted (opened, then edited in place), closed by the first clean run.

The token goes only into the Authorization header; errors name the method,
the path and GitHub's message, never the token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

PAGE = 100
MAX_PAGES = 50  # 5,000 comments or issues: far past any real pull request
COMMENT_LIMIT = 65_000  # GitHub refuses bodies over 65,536 characters


class GitHubError(Exception):
    pass


class GitHub:
    def __init__(self, api_url: str, repository: str, token: str, *, timeout: float = 30) -> None:
        if not token:
            raise GitHubError("no github-token given")
        if repository.count("/") != 1:
            raise GitHubError(f"GITHUB_REPOSITORY {repository!r} is not owner/name")
        self.api_url = api_url.rstrip("/")
        self.repo = repository
        self._token = token
        self._timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api_url + path, data=data, method=method)
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
            raise GitHubError(f"{where}: HTTP {exc.code}: {_message(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"{where}: {reason}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise GitHubError(f"{where}: the answer is not JSON") from None

    def paginate(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            query = urllib.parse.urlencode({**params, "per_page": PAGE, "page": page})
            items = self.request("GET", f"{path}?{query}")
            if not isinstance(items, list):
                raise GitHubError(f"GET {path}: expected a list")
            yield from items
            if len(items) < PAGE:
                return


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(exc.read() or b"{}")
    except ValueError:
        return exc.reason or "error"
    return str(doc.get("message") or exc.reason or "error") if isinstance(doc, dict) else "error"


def with_marker(marker: str, body: str) -> str:
    text = f"{marker}\n{body}"
    if len(text) > COMMENT_LIMIT:
        cut = text.rfind("\n", 0, COMMENT_LIMIT - 200)
        text = text[: max(cut, len(marker))] + "\n\n_(cut to fit a GitHub comment)_\n"
    return text


def upsert_comment(gh: GitHub, number: int, marker: str, body: str) -> tuple[str, int]:
    """Edit the comment carrying `marker` on issue/PR `number`, or create it."""
    text = with_marker(marker, body)
    for comment in gh.paginate(f"/repos/{gh.repo}/issues/{number}/comments"):
        if (comment.get("body") or "").startswith(marker):
            gh.request("PATCH", f"/repos/{gh.repo}/issues/comments/{comment['id']}", {"body": text})
            return "updated", int(comment["id"])
    made = gh.request("POST", f"/repos/{gh.repo}/issues/{number}/comments", {"body": text})
    return "created", int(made["id"])


def find_open_issue(gh: GitHub, marker: str) -> dict[str, Any] | None:
    for issue in gh.paginate(f"/repos/{gh.repo}/issues", state="open"):
        if "pull_request" not in issue and (issue.get("body") or "").startswith(marker):
            return issue
    return None


def sync_drift_issue(
    gh: GitHub, marker: str, *, drifted: bool, title: str, body: str, run_url: str
) -> tuple[str, int | None]:
    """Drift: open or edit the one issue with `marker`. Clean: close it, saying why."""
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
