"""One request-rate limiter shared by every thread of a run: it learns the server's limit.

The Upcall API's rate limit is not published, so the limiter starts with none
(or with `max_rps`, for teams that know theirs) and learns from what the
server does:

- **429 answers.** The first 429 of a run means the server's allowance is spent:
  the limiter starts pacing at half the rate the server just admitted (the
  successful answers of the last second, over the time since the run's first
  request when that is shorter: at least 50 ms, or 100 ms with fewer than two
  answers). At every later throttling event it measures the rate the server
  admitted *between* two events: a token-bucket server is out of tokens at
  both, so what it admitted in between is exactly its refill rate, whatever
  its burst size. It then sends at 90% of that. (When 429s came often since the
  last event, a pace lowered for a while let the bucket save up tokens: then it
  takes at most what the server admitted over the last 2 seconds.)
- **Slow start.** A run's first writes go out a few at a time (`StartWindow`:
  two in flight, one more per answer, lifted at the first 429 or after 64
  answers), so that a rate-limited server's burst is not overrun by every
  worker at once before the first 429 has come back.
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

**Stray 429s.** Some servers refuse a share of requests whatever the pace (a
quota shared with other clients, a load-shedding proxy). The limiter backs off
only from 429s that rise with its own rate, and undoes a slow-down at once
when they do not:

- Every slow-down is a *trial*. A limit L refuses 1 - L/r of what comes at
  rate r, so from the share refused before the slow-down, at the rate before,
  it predicts the share at the slower pace (about none, below L); stray 429s
  keep the share they had (one share, read from the answers before and during
  the trial together). The answers to requests sent at the slower pace
  (up to 30, fewer once a Poisson likelihood ratio gives odds of 20:1 either
  way) say which: stray, and the pace goes straight back to where it was;
  rate-related, and the slow-down stays. If half or more of the answers
  (5 or more, in-flight ones included) are still refused, the pace drops at
  once to what the server admitted in the last second.
- **Outages.** A server that refuses everything for a while (a shared quota spent,
  a proxy shedding load, a restart) admits nothing, which is no rate: when nothing
  was admitted in the last second (or, between events, the last 2 seconds), the
  pace drops to the floor and climbs back along the curve towards the limit last
  measured, which is kept (`_outage`). Taken for a limit of 0, a 3-second outage
  cost a run 40 seconds of climbing back, and one every 10 seconds kept it there.
  An outage in a run's first moment measures no limit either. When the first 429s
  come before anything was admitted, no limit is known (`_confirmed` is false): the
  pace starts low and doubles every half second until a 429 says where the limit
  is. When a slow-down let nothing through, what the last second admitted may have
  come back before an outage began: that limit is kept only as *provisional* (a
  later event that keeps it, rather than measuring a higher one, leaves it so), and
  the next outage does not climb back to it but doubles from the floor (the limit
  is then unconfirmed; a later event with few refusals takes it as measured). A
  later event that finds nothing admitted since the last one is an outage as well.
  Before, the run's first requests were measured as the server's limit: with 2
  seconds of refusals in every 10 from its start, an apply took minutes instead of
  seconds (`bench/limiter_sim.py`). Outages that fill most of the time (3 s in every
  5) can still wear the pace down to under 1 req/s (bench/README.md).
- The share refused in trials that found stray 429s (and in later trials that
  held) is the *background* share. A 429 starts a new event only when the
  429s of the last 2 seconds (at least the last 40 answers) exceed the
  background's expected count by more than four times its square root plus
  three (twice plus one once the pace is back at the last measured limit).
- Without a background, a 429 that comes while the pace is still below the
  last measured limit starts a new event only when refusals are frequent (3 or
  more, and a tenth of the answers: the limit has dropped); and a few refusals
  at the top of the curve lower the measured limit by at most 3%.

A `Retry-After: 0` asks for no wait, so it teaches nothing.
Waiting is by pacing: a request takes a token before it is sent; the bucket
holds one token, so requests go out evenly spaced. The limiter decides *when*
a request may go; whether a refused request is retried is the retry policy's
business (`retry.py`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from upcall_sync.client.limit_headers import NO_LIMITS, HeaderLimits, parse_limit_headers
from upcall_sync.client.slots import Slots

#: the slowest the limiter ever paces (requests per second)
MIN_RATE = 0.2
#: the most `--max-rps` (and a server's policy) may say
MAX_RATE = 10_000.0
#: share of the measured limit to send at after a throttling event
BETA = 0.9
#: share of the first event's admitted rate (that one includes the server's burst)
FIRST_BETA = 0.5
#: the first event measures its rate over at least this many seconds (twice as long when
#: fewer than two answers were admitted: one answer is no rate)
FIRST_SPAN = 0.05
#: how fast the rate grows back: relative units per second cubed
CUBIC_C = 0.002
#: past a limit no steady measurement backs (`_confirmed`), the pace doubles this often
UNCONFIRMED_DOUBLING = 0.5
#: 429s this soon after an event belong to it
EPISODE_SECONDS = 1.0
#: status() says "throttled" this long after the last 429
THROTTLED_SHOWN_FOR = 5.0
#: the longest a RateLimit-Reset may hold requests
MAX_HOLD = 60.0
#: the 429s of this many recent seconds (and at least this many answers) are compared
#: with the background share
WINDOW_SECONDS = 2.0
WINDOW_ANSWERS = 40
#: a trial ends after this many answers to requests sent at the lower pace...
TRIAL_ANSWERS = 30
#: ...or as soon as this many of them, and half, were refused (still over the limit;
#: the answers to requests in flight when it began count here too)
TRIAL_REFUSALS = 5
#: ...or once a third of them came back, as soon as the evidence is this strong either
#: way (a log-likelihood ratio: 3 is odds of 20:1)
TRIAL_EVIDENCE = 3.0
#: a trial that ends undecided undoes its slow-down only on this much evidence for stray
#: 429s (odds of about 3:1): a limit just under the slower pace also refuses a few, and
#: taking those for stray ones sends at the old pace again, into the limit
STRAY_EVIDENCE = 1.0


@dataclass
class _Trial:
    """A slow-down on probation: the curve before it, and what came back since."""

    started: float
    rate_before: float  # answers a second in the window when it began
    saved: tuple[float | None, float, bool, bool, float, float | None, int, int] | None
    window_answered: int  # the window's answers when it began
    window_refused: int
    answered: int = 0  # answers to requests sent since it began
    refused: int = 0
    in_flight_answered: int = 0  # answers to requests that were in flight when it began
    in_flight_refused: int = 0

    def count(self, sent_at: float, refused: bool) -> None:
        if sent_at >= self.started:
            self.answered += 1
            self.refused += refused
        else:
            self.in_flight_answered += 1
            self.in_flight_refused += refused

    @property
    def share_before(self) -> float:
        """The share refused at the pace before (a few answers say little: at least 10)."""
        refused = self.window_refused + self.in_flight_refused
        return refused / max(self.window_answered + self.in_flight_answered, 10)


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
        self._confirmed = True  # whether _w_max was measured while the server admitted
        self._provisional = False  # _w_max was measured as a slow-down let nothing through
        self._k = 0.0
        self._event_at: float | None = None
        self._admitted_since_event = 0
        self._refused_since_event = 0
        self._recent: deque[float] = deque()  # success times, last second
        self._tokens = 1.0
        self._stamp = self._born = clock()
        self._first_sent: float | None = None  # when the run's first answered request went
        self._hold_until = 0.0
        self._throttled_at: float | None = None
        self._window: deque[tuple[float, bool]] = deque()  # answers, last WINDOW_SECONDS
        self._window_refused = 0
        self._trial: _Trial | None = None
        self._bg_answered = 0  # answers and refusals seen in trials: the background share
        self._bg_refused = 0
        self.events = 0  # slow-downs that held (a reverted trial does not count)
        self.stray = 0  # slow-downs reverted: their 429s were not about our pace
        self.throttled = 0

    # -- sending ----------------------------------------------------------------

    def acquire(self, cancel: threading.Event, give_up: Callable[[], bool] | None = None) -> bool:
        """Wait until a request may go; False when `cancel` was set while waiting, or when
        `give_up()` came true (asked at least every 0.1 s)."""
        check = 0.5 if give_up is None else 0.1
        while True:
            if give_up is not None and give_up():
                return False
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
            if cancel.wait(min(wait, check)):
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
        limits = parse_limit_headers(headers) if headers else NO_LIMITS
        refused = status == 429
        with self._lock:
            now = self._clock()
            if limits is not NO_LIMITS:
                self._apply_headers(now, limits)
            if self._first_sent is None or sent_at < self._first_sent:
                self._first_sent = sent_at
            self._remember(now, refused)
            trial = self._trial
            if trial is not None:
                trial.count(sent_at, refused)
                self._judge(now, trial)
            if not refused:
                self._admitted_since_event += 1
                recent = self._recent
                recent.append(now)
                while recent[0] < now - 1.0:
                    recent.popleft()
                return
            self.throttled += 1
            self._throttled_at = now
            if not self.adaptive or retry_after == 0:
                return  # "Retry-After: 0": the server asks for no wait, so no slower pace
            self._on_refused(now, sent_at)

    def _on_refused(self, now: float, sent_at: float) -> None:
        if self._event_at is not None:
            if sent_at < self._event_at or now - self._event_at < EPISODE_SECONDS:
                return  # in flight before the last event, or part of it
            self._refused_since_event += 1
        if self._trial is not None:
            rate = self._rate(now)
            if rate is None or rate < self._w_max * 0.999:
                return  # the trial under way decides what these 429s mean
            # back at the measured limit, and refused: the trial ends with what it saw
            if self._conclude(now, self._trial):
                return  # they were stray
        if self._explained(now):
            self._begin_trial(now)
            self._event(now)

    def _remember(self, now: float, refused: bool) -> None:
        window = self._window
        window.append((now, refused))
        self._window_refused += refused
        horizon = now - WINDOW_SECONDS
        while window[0][0] < horizon and len(window) > WINDOW_ANSWERS:
            self._window_refused -= window.popleft()[1]

    def _begin_trial(self, now: float, *, undoable: bool = True) -> None:
        answers = len(self._window)
        span = max(now - self._window[0][0], 0.05) if answers else 1.0
        saved = (
            self._learned,
            self._w_max,
            self._confirmed,
            self._provisional,
            self._k,
            self._event_at,
            self._admitted_since_event,
            self._refused_since_event,
        )
        self._trial = _Trial(
            now, answers / span, saved if undoable else None, answers, self._window_refused
        )

    def _judge(self, now: float, trial: _Trial) -> None:
        """Once the trial has spoken, keep the slow-down, slow down further, or go back to
        the pace before it."""
        refused = trial.refused + trial.in_flight_refused
        answered = trial.answered + trial.in_flight_answered
        over = refused >= TRIAL_REFUSALS and 2 * refused >= answered
        if over:  # still well over the limit: down to what was admitted in the last second
            admitted = sum(1 for t in self._recent if t >= now - 1.0)
            self._begin_trial(now, undoable=False)  # the pace before was over the limit
            if not admitted:
                self._outage(now)
                return
            self._event(now, measured=admitted, confirmed=self._confirmed)
            # nothing sent at the slower pace got through: what the last second admitted
            # may have come back before an outage began (then `_outage` does not keep it)
            self._provisional = trial.answered <= trial.refused
            return
        evidence = self._evidence(now, trial)
        if trial.answered >= TRIAL_ANSWERS or abs(evidence) >= TRIAL_EVIDENCE:
            self._conclude(now, trial)

    def _evidence(self, now: float, trial: _Trial) -> float:
        if trial.answered < TRIAL_ANSWERS // 3:
            return 0.0
        return self._stray_evidence(trial, trial.answered / max(now - trial.started, 0.05))

    def _conclude(self, now: float, trial: _Trial) -> bool:
        """End the trial: True when its 429s were stray (the slow-down is undone)."""
        self._trial = None
        if self._evidence(now, trial) >= STRAY_EVIDENCE:
            self._undo(trial)
            return True
        if self._bg_answered:
            # the slow-down held; what it still refused is background too (and a background
            # that was a limit's 429s taken for stray ones fades)
            self._bg_answered += trial.answered
            self._bg_refused += trial.refused
        return False

    def _undo(self, trial: _Trial) -> None:
        """The trial's 429s were not about our pace: back to the curve before it, and
        what the trial saw is the background share."""
        self._bg_answered += trial.answered
        self._bg_refused += trial.refused
        if trial.saved is None:
            return
        self._learned, self._w_max, self._confirmed, self._provisional = trial.saved[:4]
        self._k, self._event_at, admitted, refused_since = trial.saved[4:]
        self._admitted_since_event = admitted + self._admitted_since_event
        self._refused_since_event = refused_since
        self.events -= 1
        self.stray += 1

    @staticmethod
    def _stray_evidence(trial: _Trial, rate: float) -> float:
        """Were the trial's 429s not about our pace? A rate limit L refuses 1 - L/r of
        what comes at r: from the share refused before, at the rate before, it predicts
        the share at the trial's rate (about none, below L); stray 429s keep the share
        they had, one share before and during the trial (read from both together: a
        share read from a few answers before is rough). Which explains the 429s before
        and during the trial better (Poisson likelihood)? The log of their likelihood
        ratio: positive says stray. A trial that did not send slower cannot tell: then
        the slow-down stays."""
        n, refused = trial.answered, trial.refused
        before = trial.share_before
        if rate >= 0.9 * trial.rate_before:
            return 0.0
        predicted = max(0.0, 1.0 - (1.0 - before) * trial.rate_before / rate)
        n_before = trial.window_answered + trial.in_flight_answered
        refused_before = trial.window_refused + trial.in_flight_refused
        share = (refused_before + refused) / max(n_before + n, 1)
        stray = max(share * n, 0.1)
        limit = max(predicted * n, 0.5)  # a limit met at about its rate refuses a few
        during = refused * math.log(stray / limit) - stray + limit
        # before: the one share against the share those answers showed
        return during + _poisson_llr(refused_before, share * n_before, refused_before)

    def _background(self) -> float | None:
        if not self._bg_answered:
            return None
        return self._bg_refused / self._bg_answered

    def _explained(self, now: float) -> bool:
        """Does this 429 say we are over the limit? Not while the 429s of the last seconds
        (and 40 answers) stay within what the background share explains. Otherwise yes
        for the first, and once the pace is back at the last measured limit; below it,
        only when refusals are frequent (the limit dropped), not for a stray 429."""
        rate = self._rate(now)
        at_limit = rate is not None and rate >= self._w_max * 0.999
        background = self._background()
        if background:
            # a clear excess; back at the measured limit, a smaller one will do
            expected = background * len(self._window)
            noise = (2.0, 1.0) if at_limit else (4.0, 3.0)
            return self._window_refused > expected + noise[0] * math.sqrt(expected) + noise[1]
        if self._event_at is None or rate is None or at_limit:
            return True
        refused = self._refused_since_event
        return refused >= 3 and refused >= 0.1 * (refused + self._admitted_since_event)

    def _event(self, now: float, measured: float | None = None, *, confirmed: bool = True) -> None:
        """A new throttling event: measure what the server admitted, and slow down."""
        provisional = False
        if measured is not None:  # a trial found the pace still far too high
            w_max = measured
            start = w_max * FIRST_BETA
        elif self._event_at is None:
            # the answers of the last second, as a rate (the run's requests may have begun
            # less than a second ago: then over the time since its first one)
            admitted = sum(1 for t in self._recent if t >= now - 1.0)
            first = self._born if self._first_sent is None else self._first_sent
            shortest = FIRST_SPAN if admitted >= 2 else 2 * FIRST_SPAN  # one answer: no rate
            w_max = max(admitted, 1) / max(min(now - first, 1.0), shortest)
            start = w_max * FIRST_BETA
            confirmed = admitted > 0  # nothing admitted yet: refused from the start
        else:
            elapsed = max(now - self._event_at, EPISODE_SECONDS)
            measured = max(self._admitted_since_event / elapsed, MIN_RATE)
            refused = self._refused_since_event
            if refused < 0.1 * (refused + self._admitted_since_event):
                # a few refusals at the top of the curve: the limit is about where it was
                # (and as provisional as it was, when it is kept rather than measured)
                provisional = self._provisional and measured <= self._w_max * 0.97
                measured = max(measured, self._w_max * 0.97)
            else:
                # frequent refusals: the server's bucket is empty, so what it admitted in
                # the last seconds is its rate (the average since the event also counts
                # the tokens it saved up while the pace was lower)
                lately = self._admitted_lately(now)
                if not (lately and self._admitted_since_event):
                    self._outage(now)
                    return
                measured = min(measured, max(lately, MIN_RATE))
            w_max = measured
            start = w_max * BETA
        self._curve(now, w_max, start, confirmed=confirmed)
        self._provisional = provisional

    def _curve(self, now: float, w_max: float, start: float, *, confirmed: bool) -> None:
        """A new cycle of the curve: from `start`, back towards `w_max` and past it."""
        self.events += 1
        self._w_max = w_max
        self._confirmed = confirmed
        self._provisional = False
        self._learned = max(start, MIN_RATE)
        self._k = ((1.0 - min(self._learned / w_max, 1.0)) / CUBIC_C) ** (1.0 / 3.0)
        self._event_at = now
        self._admitted_since_event = 0
        self._refused_since_event = 0
        self._tokens = min(self._tokens, 1.0)

    def _outage(self, now: float) -> None:
        """Refusals, and nothing admitted lately (or since the last event): the server
        refuses whatever comes (a quota shared with other clients spent, a proxy shedding
        load, a restart), which measures no rate. The pace drops to the floor while it
        lasts and climbs back along the curve towards the last measured limit, which is
        kept: taken for a limit of 0, one 3-second outage cost a run 40 s of climbing back
        from the floor, and one every 10 s kept it there. With no limit measured yet (or
        only a provisional one), it doubles from the floor until a 429 says where one is."""
        if self._w_max <= MIN_RATE:
            self._curve(now, MIN_RATE, MIN_RATE, confirmed=False)
        else:
            confirmed = self._confirmed and not self._provisional
            self._curve(now, self._w_max, MIN_RATE, confirmed=confirmed)

    def _admitted_lately(self, now: float) -> float:
        """Answers a second that were not 429s, over the last WINDOW_SECONDS."""
        horizon = now - WINDOW_SECONDS
        admitted = sum(1 for at, refused in self._window if at >= horizon and not refused)
        return admitted / WINDOW_SECONDS

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
            since = now - self._event_at
            t = since - self._k
            learned = self._w_max * (1.0 + CUBIC_C * t * t * t)
            if not self._confirmed:  # nothing says the server stops there: grow fast
                doublings = min(since / UNCONFIRMED_DOUBLING, 64.0)
                learned = max(learned, self._learned * 2.0**doublings)
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


def _poisson_llr(count: int, expected: float, alternative: float) -> float:
    """log P(count | Poisson(expected)) - log P(count | Poisson(alternative))."""
    if count == 0:
        return alternative - expected
    return count * math.log(max(expected, 1e-9) / alternative) - expected + alternative


# -- slow start ----------------------------------------------------------------------------

#: requests in flight at a run's start, before any answer has said how much the server takes
START_WINDOW = 2
#: answers without a 429 after which the window is lifted (every worker may send)
START_WINDOW_LIFTED = 64


class StartWindow(Slots):
    """Slow start (as TCP's) for writes: at first at most START_WINDOW writes in flight,
    one more for every answer that is not a 429 (so it doubles every round trip), until
    the first 429 (to any request) or START_WINDOW_LIFTED answers; then it is lifted for
    the rest of the run. Reads are not held: a plan's listings go out as before.

    Without it apply's first moment sends as many writes as it has workers, and
    against a rate limit all but the server's burst come back 429 before the limiter
    has heard anything. After the first 429 the limiter's pacing spaces requests, so the
    window has nothing more to do. Thread-safe; one per transport (every `enter` is
    paired with one `leave`)."""

    def __init__(self, size: int = START_WINDOW) -> None:
        super().__init__(None if size >= START_WINDOW_LIFTED else size)

    @property
    def lifted(self) -> bool:
        return self.size is None

    def enter(self, cancel: threading.Event) -> bool:
        """Wait for room in the window; False when `cancel` was set while waiting."""
        return self.take(cancel)

    def lift(self) -> None:
        """A 429 came (to a request outside the window): the limiter paces from here on."""
        with self._cv:
            self.size = None
            self._cv.notify_all()

    def leave(self, refused: bool | None) -> None:
        """The request ended: answered 429 (`refused`), otherwise answered, or (None)
        without an answer."""
        if self.size is None:
            return
        with self._cv:
            if self.size is None:  # lifted meanwhile: nothing is counted any more
                return
            self._taken -= 1
            if refused is False:
                self.size += 1
            if refused or self.size >= START_WINDOW_LIFTED:
                self.size = None
            self._cv.notify_all()
