"""What a server says of its rate limit in its headers: the IETF drafts'
`RateLimit-Policy` / `RateLimit` (`-Limit`, `-Remaining`, `-Reset`) and the common
`X-RateLimit-*` forms, in requests per second and seconds (`parse_limit_headers`).
The rate limiter (ratelimit.py) caps its pace at the policy and holds requests while
nothing remains. A Reset is a delay in seconds or a Unix time in seconds or milliseconds
(read as seconds, one in milliseconds held every request for the 60 s cap); a quota of 0
(belied by the very answer that carries it) is ignored."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class HeaderLimits:
    """What RateLimit-* / X-RateLimit-* headers say, in seconds and requests."""

    policy_rate: float | None = None  # quota / window
    remaining: int | None = None
    reset: float | None = None  # seconds from now


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")
_PARAM = re.compile(r";\s*([a-z]+)\s*=\s*\"?(\d+(?:\.\d+)?)", re.IGNORECASE)
_EPOCH = 1_000_000_000  # a Reset larger than this is a Unix time, not a delay
_EPOCH_MS = 1_000_000_000_000  # ... and larger than this, one in milliseconds
#: what an answer without rate-limit headers says (compared by identity: nothing to apply)
NO_LIMITS = HeaderLimits()


def parse_limit_headers(headers: Mapping[str, str]) -> HeaderLimits:
    """The IETF drafts' RateLimit-Policy / RateLimit(-Limit/-Remaining/-Reset) and the
    common X-RateLimit-* forms. Anything unparseable is ignored (the 429s still teach)."""
    if not any("ratelimit" in name.lower() for name in headers):
        return NO_LIMITS  # most answers: one pass over the names, not nine look-ups
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
    if policy_rate is None and remaining is None and reset is None:
        return NO_LIMITS
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
        if not quota or not window:  # a quota of 0 was just belied by an answer: ignored
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
    if seconds > _EPOCH_MS:  # a Unix time in milliseconds (not one 30,000 years ahead)
        seconds = seconds / 1000.0 - time.time()
    elif seconds > _EPOCH:
        seconds -= time.time()
    return seconds if seconds >= 0 and math.isfinite(seconds) else None
