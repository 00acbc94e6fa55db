"""One request-rate limiter shared by every thread of a run: it learns the server's limit.

The Upcall API's rate limit is not published, so the limiter starts with none
(or with `max_rps`, for teams that know theirs) and learns from what the
server does:

- **429 answers.** The first 429 of a run means the server's allowance is spent:
  the limiter starts pacing at half the rate the server just admitted (the
  successful answers of the last second). At every later throttling event it
  measures the rate the server admitted *between* two events: a token-bucket
  server is out of tokens at both, so what it admitted in between is exactly
  its refill rate, whatever its burst size. It then sends at 90% of that.
- **Growth.** Between events the rate grows back along a cubic curve (as in
  CUBIC congestion control and botocore's adaptive retry mode): quickly back
  towards the last measured limit, flat around it for a few seconds, then
  faster and faster beyond it, so a server that raised its limit (or stopped
  limiting) is found again. The next 429 starts the next cycle.
- **Headers.** `RateLimit-Policy` (`q;w=s`) or `X-RateLimit-*`/`RateLimit-*`
  with a known window cap the rate at quota/window; `Remaining: 0` holds every
  request until the `Reset` the server gives.

One 429 counts once: 429s for requests sent before the last event, or within
a second of it, belong to the same episode (they were in flight already).
Some servers refuse a few requests whatever the pace: a 429 that comes while
the pace is still below the last measured limit starts a new event only when
refusals are frequent (3 or more, and a tenth of the answers: the limit has
dropped); and a few refusals at the top of the curve lower the measured limit
by at most 3%. A `Retry-After: 0` asks for no wait, so it teaches nothing.
Waiting is by pacing: a request takes a token before it is sent; the bucket
holds one token, so requests go out evenly spaced. The limiter decides *when*
a request may go; whether a refused request is retried is the retry policy's
business (`retry.py`).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: the slowest the limiter ever paces (requests per second)
MIN_RATE = 0.2
#: the most `--max-rps` (and a server's policy) may say
MAX_RATE = 10_000.0
#: share of the measured limit to send at after a throttling event
BETA = 0.9
#: share of the first event's admitted rate (that one includes the server's burst)
FIRST_BETA = 0.5
#: how fast the rate grows back: relative units per second cubed
CUBIC_C = 0.002
#: 429s this soon after an event belong to it
EPISODE_SECONDS = 1.0
#: status() says "throttled" this long after the last 429
THROTTLED_SHOWN_FOR = 5.0
#: the longest a RateLimit-Reset may hold requests
MAX_HOLD = 60.0


@dataclass(frozen=True)
class LimiterStatus:
    """What the progress display shows: is the server limiting us, and to what rate."""

    throttled: bool
    rate: float | None  # requests per second the client paces at; None: no limit
    source: str  # "", "max-rps", "learned", "server policy"

    def describe(self) -> str:
        if self.rate is None:
            return "server throttling" if self.throttled else ""
        pace = f"{self.rate:,.1f} req/s"
        if self.throttled:
            return f"server throttling: sending {pace}"
        # a learned pace keeps growing while no 429 comes: not worth a word until one does
        return f"pacing {pace} ({self.source})" if self.source != "learned" else ""


@dataclass(frozen=True)
class HeaderLimits:
    """What RateLimit-* / X-RateLimit-* headers say, in seconds and requests."""

    policy_rate: float | None = None  # quota / window
    remaining: int | None = None
    reset: float | None = None  # seconds from now


class RateLimiter:
    """Thread-safe; one per transport, shared by every worker of a run."""

    def __init__(
        self,
        max_rps: float | None = None,
        *,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_rps is not None and not 0 < max_rps <= MAX_RATE:
            raise ValueError(f"max_rps must be more than 0 and at most {MAX_RATE:g}")
        self.max_rps = max_rps
        self.adaptive = adaptive
        self._clock = clock
        self._lock = threading.Lock()
        self._policy_rate: float | None = None
        self._learned: float | None = None  # rate just after the last event
        self._w_max = 0.0
        self._k = 0.0
        self._event_at: float | None = None
        self._admitted_since_event = 0
        self._refused_since_event = 0
        self._recent: deque[float] = deque()  # success times, last second
        self._tokens = 1.0
        self._stamp = clock()
        self._hold_until = 0.0
        self._throttled_at: float | None = None
        self.events = 0
        self.throttled = 0

    # -- sending ----------------------------------------------------------------

    def acquire(self, cancel: threading.Event) -> bool:
        """Wait until a request may go; False when `cancel` was set while waiting."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._hold_until - now
                if wait <= 0:
                    rate = self._rate(now)
                    if rate is None:
                        return True
                    self._tokens = min(1.0, self._tokens + (now - self._stamp) * rate)
                    self._stamp = now
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        return True
                    wait = (1.0 - self._tokens) / rate
            if cancel.wait(min(wait, 0.5)):
                return False

    # -- hearing back -------------------------------------------------------------

    def on_answer(
        self,
        sent_at: float,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None = None,
    ) -> None:
        """Learn from one answer (any HTTP status)."""
        limits = parse_limit_headers(headers)
        with self._lock:
            now = self._clock()
            self._apply_headers(now, limits)
            if status != 429:
                self._admitted_since_event += 1
                self._recent.append(now)
                while self._recent and self._recent[0] < now - 1.0:
                    self._recent.popleft()
                return
            self.throttled += 1
            self._throttled_at = now
            if not self.adaptive or retry_after == 0:
                return  # "Retry-After: 0": the server asks for no wait, so no slower pace
            if self._event_at is not None:
                if sent_at < self._event_at or now - self._event_at < EPISODE_SECONDS:
                    return  # in flight before the last event, or part of it
                self._refused_since_event += 1
                if not self._explained(now):
                    return
            self._event(now)

    def _explained(self, now: float) -> bool:
        """Does this 429 say we are over the limit? Yes once the pace is back at the last
        measured limit; below it, only when refusals are frequent (the limit dropped),
        not for a stray 429 (some servers refuse a few requests whatever the pace)."""
        rate = self._rate(now)
        if rate is None or rate >= self._w_max * 0.999:
            return True
        refused = self._refused_since_event
        return refused >= 3 and refused >= 0.1 * (refused + self._admitted_since_event)

    def _event(self, now: float) -> None:
        """A new throttling event: measure what the server admitted, and slow down."""
        if self._event_at is None:
            admitted = sum(1 for t in self._recent if t >= now - 1.0)
            w_max = float(max(admitted, 1))
            start = w_max * FIRST_BETA
        else:
            elapsed = max(now - self._event_at, EPISODE_SECONDS)
            measured = max(self._admitted_since_event / elapsed, MIN_RATE)
            refused = self._refused_since_event
            if refused < 0.1 * (refused + self._admitted_since_event):
                # a few refusals at the top of the curve: the limit is about where it was
                measured = max(measured, self._w_max * 0.97)
            w_max = measured
            start = w_max * BETA
        self.events += 1
        self._w_max = w_max
        self._learned = max(start, MIN_RATE)
        self._k = ((1.0 - self._learned / w_max) / CUBIC_C) ** (1.0 / 3.0)
        self._event_at = now
        self._admitted_since_event = 0
        self._refused_since_event = 0
        self._tokens = min(self._tokens, 1.0)

    def _apply_headers(self, now: float, limits: HeaderLimits) -> None:
        if limits.policy_rate is not None:
            self._policy_rate = min(max(limits.policy_rate, MIN_RATE), MAX_RATE)
        if limits.remaining is not None and limits.remaining <= 0 and limits.reset:
            self._hold_until = max(self._hold_until, now + min(limits.reset, MAX_HOLD))
            self._throttled_at = now

    # -- the rate -------------------------------------------------------------------

    def _rate(self, now: float) -> float | None:
        """The pace now: the lowest of max_rps, the server's policy and what was learned."""
        rates = [r for r in (self.max_rps, self._policy_rate) if r is not None]
        if self._learned is not None and self._event_at is not None:
            t = now - self._event_at - self._k
            learned = self._w_max * (1.0 + CUBIC_C * t * t * t)
            rates.append(min(max(learned, MIN_RATE), MAX_RATE))
        return min(rates) if rates else None

    def status(self) -> LimiterStatus:
        with self._lock:
            now = self._clock()
            rate = self._rate(now)
            throttled = now < self._hold_until or (
                self._throttled_at is not None and now - self._throttled_at < THROTTLED_SHOWN_FOR
            )
            source = ""
            if rate is not None:
                if rate == self.max_rps:
                    source = "max-rps"
                elif rate == self._policy_rate:
                    source = "server policy"
                else:
                    source = "learned"
            return LimiterStatus(throttled, rate, source)


# -- RateLimit-* / X-RateLimit-* headers -------------------------------------------------

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")
_PARAM = re.compile(r";\s*([a-z]+)\s*=\s*\"?(\d+(?:\.\d+)?)", re.IGNORECASE)
_EPOCH = 1_000_000_000  # a Reset larger than this is a Unix time, not a delay


def parse_limit_headers(headers: Mapping[str, str]) -> HeaderLimits:
    """The IETF drafts' RateLimit-Policy / RateLimit(-Limit/-Remaining/-Reset) and the
    common X-RateLimit-* forms. Anything unparseable is ignored (the 429s still teach)."""
    get = headers.get
    policy_rate = None
    for name in ("RateLimit-Policy", "X-RateLimit-Policy", "RateLimit-Limit", "X-RateLimit-Limit"):
        value = get(name)
        if value:
            policy_rate = _policy_rate(value)
            if policy_rate is not None:
                break
    remaining = _int(get("RateLimit-Remaining") or get("X-RateLimit-Remaining"))
    reset = _seconds(get("RateLimit-Reset") or get("X-RateLimit-Reset"))
    combined = get("RateLimit")  # draft 7+: RateLimit: "default";r=0;t=30
    if combined:
        params = {k.lower(): v for k, v in _PARAM.findall(combined)}
        if "r" in params:
            remaining = int(float(params["r"]))
        if "t" in params:
            reset = _seconds(params["t"])
    return HeaderLimits(policy_rate, remaining, reset)


def _policy_rate(value: str) -> float | None:
    """The most restrictive `quota;w=window` among comma-separated policies."""
    best = None
    for item in value.split(","):
        params = {k.lower(): float(v) for k, v in _PARAM.findall(item)}
        quota = params.get("q")
        if quota is None:
            head = _NUMBER.match(item)
            quota = float(head.group(1)) if head else None
        window = params.get("w")
        if quota is None or not window:
            continue
        rate = quota / window
        best = rate if best is None else min(best, rate)
    return best


def _int(value: str | None) -> int | None:
    head = _NUMBER.match(value or "")
    return int(float(head.group(1))) if head else None


def _seconds(value: str | None) -> float | None:
    head = _NUMBER.match(value or "")
    if not head:
        return None
    seconds = float(head.group(1))
    if seconds > _EPOCH:
        seconds -= time.time()
    return seconds if seconds >= 0 and math.isfinite(seconds) else None
