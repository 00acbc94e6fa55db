"""Rate-limit headers a server gets slightly wrong must not stall a run (helper b56)."""

from __future__ import annotations

import time

import pytest

from upcall_sync.client.limit_headers import NO_LIMITS, parse_limit_headers
from upcall_sync.client.ratelimit import RateLimiter


def test_a_reset_in_epoch_milliseconds_is_a_time_not_a_60_s_hold() -> None:
    soon = int((time.time() + 2) * 1000)
    limits = parse_limit_headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(soon)})
    assert limits.reset is not None and 0 < limits.reset <= 2.5
    past = int((time.time() - 3600) * 1000)
    assert parse_limit_headers({"X-RateLimit-Reset": str(past)}) == NO_LIMITS


def test_a_reset_in_epoch_milliseconds_holds_requests_only_until_then() -> None:
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    past = str(int((time.time() - 3600) * 1000))
    limiter.on_answer(now[0], 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": past})
    assert not limiter.status().throttled  # was held for MAX_HOLD (60 s) on every answer


@pytest.mark.parametrize("policy", ["0;w=1", "q=0;w=60", '"default";q=0;w=1'])
def test_a_policy_of_no_requests_at_all_is_ignored(policy: str) -> None:
    # the answer carrying it was admitted: a quota of 0 is not the server's rate (it
    # paced the whole run at 0.2 req/s)
    assert parse_limit_headers({"RateLimit-Policy": policy}).policy_rate is None
    assert parse_limit_headers({"RateLimit-Policy": f"{policy}, 10;w=1"}).policy_rate == 10
