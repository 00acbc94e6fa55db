"""What the emulator breaks, and when: fault kinds, `Faults` and the rate limit.

The server (server.py) plays them at the socket level. Fault kinds (random, with
`rate`, or by rule for a method and path):

| kind              | when              | what the client sees                               |
|-------------------|-------------------|----------------------------------------------------|
| 429               | before handling   | 429 with Retry-After                               |
| 500, 502, 503     | before handling   | that status, nothing written                       |
| reset             | before handling   | the connection reset, nothing written              |
| lost-write        | after handling    | the write committed, then a 502 or a reset         |
| timeout           | after handling    | the write committed, then no answer for a long time|
| html              | before handling   | a proxy's HTML error page (502)                    |
| invalid-json      | after handling    | 200 with a body that is not JSON                   |
| truncated         | after handling    | 200 whose body stops half-way                      |
| slow-body         | after handling    | 200 whose body trickles in and never finishes      |
| loop-next         | listings          | links.next pointing at the same page               |
| foreign-next      | listings          | links.next on another host                         |
| scheme-next       | listings          | links.next on the same host with another scheme    |
| huge-page         | listings          | every row on one page, whatever page[size] was     |
| retry-after-huge  | before handling   | 429 with Retry-After: 86400                        |
| late-commit       | before handling   | held `commit_delay` s, then committed and answered |

`late_commit_every` N (`--late-commit-every N --commit-delay S`) holds every Nth POST
for S seconds before it is handled: a client whose read timeout is shorter gives up,
and the write lands after it has looked (a proxy or a queue that commits late).

`Faults(every=N)` answers every N-th request 429 (a stray 429 now and then).

Apart from faults, `rate_limit` (`--rate-limit R`) puts a token bucket in front of
every account: R requests per second, a burst of R. A request that finds the bucket
empty is answered 429 (nothing handled) with `Retry-After` set to the whole seconds
until the next token, rounded up (HTTP's delta-seconds are integers), and logged
with the fault `rate-limit`. `rate_limit_headers` adds `RateLimit-Policy`,
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to every answer.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from dataclasses import dataclass, field

RANDOM_FAULTS = ("429", "500", "502", "503", "reset", "lost-write", "timeout")
MISBEHAVIOURS = (
    "html",
    "invalid-json",
    "truncated",
    "slow-body",
    "loop-next",
    "foreign-next",
    "scheme-next",
    "huge-page",
    "retry-after-huge",
    "late-commit",
)
FAULT_KINDS = RANDOM_FAULTS + MISBEHAVIOURS
#: kinds answered before the request is handled (nothing written)
BEFORE_HANDLING = {"429", "500", "502", "503", "reset", "html", "retry-after-huge"}
#: kinds a listing plays in its links or its page
LISTING_FAULTS = {"loop-next", "foreign-next", "scheme-next", "huge-page"}


@dataclass
class FaultRule:
    """Inject `kind` into the next `count` requests matching `method` and `path` (-1: all)."""

    kind: str
    method: str | None = None
    path: str | None = None
    count: int = 1

    def matches(self, method: str, path: str) -> bool:
        if self.count == 0:
            return False
        if self.method and self.method != method:
            return False
        return not (self.path and not re.fullmatch(self.path, path))


@dataclass
class Faults:
    """What to break, how often, reproducibly (`seed`)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "reset", "lost-write")
    seed: int | None = None
    retry_after: int = 1
    stall_seconds: float = 30.0
    #: hold every Nth POST `commit_delay` seconds before handling it (0: never)
    late_commit_every: int = 0
    commit_delay: float = 4.0
    rules: list[FaultRule] = field(default_factory=list)
    _posts: int = field(default=0, repr=False)
    #: every `every`-th request (counting all) gets a 429, whatever `rate` says (0: off)
    every: int = 0
    _seen: int = field(default=0, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s): {', '.join(unknown)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self._rng.seed(self.seed)
        if self.late_commit_every < 0 or self.commit_delay < 0:
            raise ValueError("late commits: every N and the delay must not be negative")

    def add_rule(
        self, kind: str, method: str | None = None, path: str | None = None, count: int = 1
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind: {kind}")
        with self._lock:
            self.rules.append(FaultRule(kind, method, path, count))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.rate = 0.0

    def pick(self, method: str, path: str) -> str | None:
        with self._lock:
            if method == "POST" and self.late_commit_every > 0:
                self._posts += 1
                if self._posts % self.late_commit_every == 0:
                    return "late-commit"
            self._seen += 1
            if self.every and self._seen % self.every == 0:
                return "429"
            for rule in self.rules:
                if rule.matches(method, path):
                    if rule.count > 0:
                        rule.count -= 1
                    return rule.kind
            if self.rate > 0 and self.kinds and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
        return None

    def coin(self) -> bool:
        with self._lock:
            return self._rng.random() < 0.5


class RateLimit:
    """A token bucket per auth token: `rate` requests per second, a burst of `rate`."""

    def __init__(self, rate: float, *, headers: bool = False) -> None:
        if not rate > 0:
            raise ValueError("the rate limit must be more than 0 requests per second")
        self.rate = rate
        self.burst = max(1.0, rate)
        self.headers = headers
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, dict[str, str]]:
        """(allowed, headers to send): takes a token when there is one."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
        wait = 0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))
        out = {} if allowed else {"Retry-After": str(wait)}
        if self.headers:
            full = math.ceil((self.burst - tokens) / self.rate) if tokens < self.burst else 0
            out.update(
                {
                    "RateLimit-Policy": f"{self.burst:g};w={self.burst / self.rate:g}",
                    "RateLimit-Limit": f"{self.burst:g}",
                    "RateLimit-Remaining": str(int(tokens)),
                    "RateLimit-Reset": str(wait if not allowed else full),
                }
            )
        return allowed, out
