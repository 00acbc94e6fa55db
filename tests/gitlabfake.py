"""A fake GitLab REST API (v4) on 127.0.0.1: the merge-request notes the reporter keeps.

Serves `GET /user`, and list / create / edit of one project's merge-request notes,
paging like GitLab (`per_page`, `page`), refusing a wrong PRIVATE-TOKEN with 401, and
logging every request. What the token writes is written by `username`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit


@dataclass
class FakeGitLab:
    project: str  # "group/name", as CI_PROJECT_ID may also be the numeric id
    token: str
    username: str = "upcall-sync-bot"
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    _next: int = 500

    def handle(self, method: str, url: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.log.append((method, parts.path))
        if parts.path == "/api/v4/user":
            return 200, {"id": 9, "username": self.username}
        base = f"/api/v4/projects/{quote(self.project, safe='')}/merge_requests"
        if m := re.fullmatch(re.escape(base) + r"/(\d+)/notes", parts.path):
            notes = self.notes.setdefault(int(m.group(1)), [])
            if method == "GET":
                size, page = int(query.get("per_page", 20)), int(query.get("page", 1))
                return 200, notes[(page - 1) * size : page * size]
            self._next += 1
            note = {
                "id": self._next,
                "body": body["body"],
                "system": False,
                "author": {"username": self.username},
            }
            notes.append(note)
            return 201, note
        if m := re.fullmatch(re.escape(base) + r"/(\d+)/notes/(\d+)", parts.path):
            found = [n for n in self.notes.get(int(m.group(1)), []) if n["id"] == int(m.group(2))]
            if not found:
                return 404, {"message": "404 Not found"}
            if found[0]["author"]["username"] != self.username:
                return 403, {"message": "403 Forbidden"}
            found[0]["body"] = body["body"]
            return 200, found[0]
        return 404, {"message": "404 Not found"}


class GitLabServer:
    def __init__(self, fake: FakeGitLab) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                if self.headers.get("PRIVATE-TOKEN") != fake.token:
                    status, doc = 401, {"message": "401 Unauthorized"}
                else:
                    status, doc = fake.handle(self.command, self.path, body)
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v4"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> GitLabServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
