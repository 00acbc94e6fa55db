"""The emulator on the wire: a threaded HTTP/1.1 server with fault injection.

Built on the standard library's HTTP server so that faults are real at the
socket level: a `reset` is a TCP RST, a `lost-write` commits and then drops
the answer, a `timeout` commits and then never answers.

The fault kinds, `Faults` (which request gets which) and the per-account rate limit
(`RateLimit`) are in faults.py.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from uuid import uuid4

from upcall_sync.emulator.app import API_PREFIX, Api
from upcall_sync.emulator.exchange import Request, Result
from upcall_sync.emulator.faults import BEFORE_HANDLING, LISTING_FAULTS, Faults, RateLimit
from upcall_sync.emulator.modes import DUPLICATE_NUMBER_MESSAGE, Modes
from upcall_sync.emulator.store import Store

log = logging.getLogger("upcall_sync.emulator")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it (never with the token)."""

    seq: int
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int
    account: int | None
    fault: str | None
    wrote: bool

    @property
    def api_path(self) -> str:
        return self.path[len(API_PREFIX) :] if self.path.startswith(API_PREFIX) else self.path


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self.to_reset: set[int] = set()
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is normal (timeouts do it): no traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address, type(exc).__name__)
            return
        log.exception("emulator error serving %s", client_address)

    def shutdown_request(self, request: Any) -> None:
        if request.fileno() in self.to_reset:
            self.to_reset.discard(request.fileno())
            request.close()  # SO_LINGER 0 is set: the close sends a RST
            return
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "upcall-emulator"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm and delayed ACKs add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # Never let the standard library log a request line: it holds the token.
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        emu = self.server.emulator
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        path = parts.path
        api_path = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
        length_text = self.headers.get("Content-Length", "0")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._finish(
                path,
                query,
                Result(411, emu.api.error_body({"base": ["Content-Length required"]})),
                None,
                close=True,
            )
            return
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._finish(
                path,
                query,
                Result(400, emu.api.error_body({"base": ["Bad Content-Length"]})),
                None,
                close=True,
            )
            return
        if length > emu.max_body_bytes:
            result = Result(
                413,
                emu.api.error_body(
                    {"base": [f"Request body larger than {emu.max_body_bytes} bytes"]}
                ),
            )
            self._finish(path, query, result, None, close=True)
            return
        body = self.rfile.read(length) if length else b""
        if emu.latency > 0:
            time.sleep(emu.latency)
        limit_headers: dict[str, str] = {}
        if emu.rate_limit is not None:
            key = next((v for k, v in query if k == "auth_token"), "")
            allowed, limit_headers = emu.rate_limit.take(key)
            if not allowed:
                refused = emu.api.error_body({"base": ["Too many requests"]})
                self._finish(path, query, Result(429, refused, limit_headers), "rate-limit")
                return
        fault = emu.faults.pick(self.command, api_path)
        if fault == "late-commit":  # the write lands after the client stopped waiting
            emu.stopping.wait(emu.faults.commit_delay)
        if fault in BEFORE_HANDLING:
            self._before_fault(fault or "", path, query)
            return
        host = self.headers.get("Host") or f"{emu.host}:{emu.port}"
        # behind a TLS terminator (tests put one in front), links use the client's scheme
        forwarded = self.headers.get("X-Forwarded-Proto", "").strip().lower()
        req = Request(
            scheme=forwarded if forwarded in ("http", "https") else "http",
            method=self.command,
            path=path,
            query=query,
            body=body,
            content_type=self.headers.get("Content-Type", ""),
            host=host,
            override=fault if fault in LISTING_FAULTS else None,
        )
        try:
            result = emu.api.handle(req)
        except Exception:  # a bug in the emulator: answer like a real server would
            log.exception("emulator error on %s %s", self.command, path)
            result = Result(500, emu.api.error_body({"base": ["Internal error"]}))
        if limit_headers:
            result.headers.update(limit_headers)
        if fault in ("lost-write", "timeout", "invalid-json", "truncated", "slow-body"):
            self._after_fault(fault or "", path, query, result)
            return
        self._finish(path, query, result, fault)

    # -- Answers --------------------------------------------------------------

    def _finish(
        self,
        path: str,
        query: list[tuple[str, str]],
        result: Result,
        fault: str | None,
        *,
        close: bool = False,
    ) -> None:
        payload = result.payload()
        self.server.emulator.record(
            self.command, path, query, result.status, result.account, fault, result.wrote
        )
        self.send_response(result.status)
        self.send_header("Content-Type", "application/vnd.api+json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in result.headers.items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def _before_fault(self, fault: str, path: str, query: list[tuple[str, str]]) -> None:
        emu = self.server.emulator
        if fault == "reset":
            emu.record(self.command, path, query, 0, None, fault, False)
            self._reset()
            return
        if fault in ("429", "retry-after-huge"):
            after = "86400" if fault == "retry-after-huge" else str(emu.faults.retry_after)
            body = emu.api.error_body({"base": ["Too many requests"]})
            self._finish(path, query, Result(429, body, {"Retry-After": after}), fault)
            return
        if fault == "html":
            page = (
                b"<html><head><title>502 Bad Gateway</title></head><body><center>"
                b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
            )
            emu.record(self.command, path, query, 502, None, fault, False)
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        status = int(fault)
        body = emu.api.error_body(
            {"base": ["Internal error" if status == 500 else "Service unavailable"]}
        )
        self._finish(path, query, Result(status, body), fault)

    def _after_fault(
        self, fault: str, path: str, query: list[tuple[str, str]], result: Result
    ) -> None:
        emu = self.server.emulator
        emu.record(self.command, path, query, result.status, result.account, fault, result.wrote)
        if fault == "lost-write":
            if emu.faults.coin():
                body = json.dumps({"errors": {"base": ["Bad gateway"]}}).encode()
                self.send_response(502)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self._reset()
            return
        if fault == "timeout":
            emu.stopping.wait(emu.faults.stall_seconds)
            self._reset()
            return
        payload = result.payload()
        self.send_response(result.status)
        self.send_header("Content-Type", "application/vnd.api+json")
        if fault == "invalid-json":
            junk = payload[: max(1, len(payload) // 2)] + b"\x00<<garbage"
            self.send_header("Content-Length", str(len(junk)))
            self.end_headers()
            self.wfile.write(junk)
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if fault == "truncated":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._reset()
            return
        # slow-body: a byte at a time, until the stall is over or the client gives up
        deadline = time.monotonic() + emu.faults.stall_seconds
        try:
            for i in range(len(payload)):
                if time.monotonic() > deadline or emu.stopping.is_set():
                    break
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass
        self._reset()

    def _reset(self) -> None:
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.server.to_reset.add(self.connection.fileno())
        except OSError:
            pass
        self.close_connection = True


class Emulator:
    """A local Upcall v1 API. Use as a context manager, or `start()` / `stop()`.

    The keywords from `numbers_copy_contacts` to `validation` choose a reading
    of each open question (modes.py); `read_only_tokens` read the first
    token's account and get 403 on every write.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: tuple[str, ...] | list[str] = (),
        confirmed_numbers: tuple[str, ...] | list[str] = (),
        max_page_size: int = 100,
        latency_ms: float = 0.0,
        faults: Faults | None = None,
        error_style: str = "fields",
        numbers_copy_contacts: bool = False,
        duplicate_number_message: str = DUPLICATE_NUMBER_MESSAGE,
        normalize_filters: bool = False,
        no_last_link: bool = False,
        no_lists: bool = False,
        validation: str = "strict",
        patch_replace: bool = False,
        contact_patch_replace: bool = False,
        create_ready: bool = False,
        normalize_names: bool = False,
        page_size_limit: int = 0,
        naive_datetimes: bool = False,
        http_links: bool = False,
        created_200: bool = False,
        read_only_tokens: tuple[str, ...] | list[str] = (),
        max_body_bytes: int = 1024 * 1024,
        log_size: int = 200_000,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.store = store if store is not None else Store(":memory:")
        modes = Modes(
            numbers_copy_contacts=numbers_copy_contacts,
            duplicate_number_message=duplicate_number_message,
            normalize_filters=normalize_filters,
            no_last_link=no_last_link,
            no_lists=no_lists,
            validation=validation,
            patch_replace=patch_replace,
            contact_patch_replace=contact_patch_replace,
            create_ready=create_ready,
            normalize_names=normalize_names,
            page_size_limit=page_size_limit,
            naive_datetimes=naive_datetimes,
            http_links=http_links,
            created_200=created_200,
        )
        self.api = Api(
            self.store, max_page_size=max_page_size, error_style=error_style, modes=modes
        )
        self.accounts: dict[str, int] = {}
        for token in tokens:
            self.add_account(token, confirmed_numbers)
        for token in read_only_tokens:
            # without a read-write token, an account nobody can write to
            owner = self.accounts[tokens[0]] if tokens else self.store.add_account(uuid4().hex)
            self.store.add_read_only_token(token, owner)
        self.latency = latency_ms / 1000.0
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.max_body_bytes = max_body_bytes
        self.stopping = threading.Event()
        self._requests: deque[LoggedRequest] = deque(maxlen=log_size)
        self._seq = 0
        self._log_lock = threading.Lock()
        self._server = _Server((host, port), self)
        address = self._server.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    def add_account(self, token: str, confirmed_numbers: tuple[str, ...] | list[str] = ()) -> int:
        from upcall_sync.emulator.app import normalize_phone

        numbers = []
        for raw in confirmed_numbers:
            phone = normalize_phone(raw)
            if phone is None:
                raise ValueError(f"confirmed number {raw!r} is not a possible phone number")
            numbers.append(phone)
        account = self.store.add_account(token, numbers)
        self.accounts[token] = account
        return account

    # -- Lifecycle ------------------------------------------------------------

    def start(self) -> Emulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="upcall-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Request log ----------------------------------------------------------

    def record(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        status: int,
        account: int | None,
        fault: str | None,
        wrote: bool,
    ) -> None:
        clean = tuple((k, v) for k, v in query if k != "auth_token")
        with self._log_lock:
            self._seq += 1
            entry = LoggedRequest(self._seq, method, path, clean, status, account, fault, wrote)
            self._requests.append(entry)
        if log.isEnabledFor(logging.INFO):
            shown = path + ("?" + urlencode(clean) if clean else "")
            extra = f" [fault: {fault}]" if fault else ""
            log.info("%s %s -> %s%s", method, shown, status or "reset", extra)

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._requests)
