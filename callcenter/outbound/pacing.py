"""How fast the dialler may start calls: per trunk (channels in use and the carrier's calls
per second), per campaign (concurrency), and for customer-first lead calls how many lines
the ready agents can take (AbandonGuard). Pure and single-threaded: times are monotonic
seconds passed in, so the dialler's event loop and tests drive them alike."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Literal

from callcenter.errors import CallcenterError
from callcenter.site.model import Trunk
from callcenter.site.outbound import Campaign

__all__ = ["AbandonGuard", "CampaignPacer", "PacingError", "TrunkPacer"]


class PacingError(CallcenterError):
    """A pacer was asked about a trunk or campaign it does not know, or released a call it
    never started (a dialler bug: the counts would no longer hold)."""


class _InFlight:
    """Calls in progress per name, with a cap per name (from the site file)."""

    def __init__(self, what: str, caps: Mapping[str, int]):
        self._what = what
        self._caps = dict(caps)
        self._count: dict[str, int] = dict.fromkeys(caps, 0)

    def check(self, name: str) -> None:
        if name not in self._caps:
            known = ", ".join(sorted(self._caps)) or "none"
            raise PacingError(f"no {self._what} named {name!r} in the site file "
                              f"(known: {known})")

    def update(self, caps: Mapping[str, int]) -> None:
        """New caps after a site reload; calls in progress keep counting (a name that left
        the site keeps its count until its calls are released)."""
        self._caps = {**{n: 0 for n, c in self._count.items() if c}, **caps}
        for name in self._caps:
            self._count.setdefault(name, 0)

    def room(self, name: str) -> bool:
        self.check(name)
        return self._count[name] < self._caps[name]

    def add(self, name: str) -> None:
        self.check(name)
        self._count[name] += 1

    def release(self, name: str) -> None:
        self.check(name)
        if self._count[name] <= 0:
            raise PacingError(f"{self._what} {name!r} has no call in progress to release — "
                              "each release must follow one acquire or adopt")
        self._count[name] -= 1

    def get(self, name: str) -> int:
        self.check(name)
        return self._count[name]


class TrunkPacer:
    """Per trunk: at most `channels` calls in progress and at most `calls_per_second` starts
    in any 1-second window (a sliding window of start times, so a burst can never reach
    twice the rate as a token bucket's refill can). A cap of 0 allows nothing."""

    def __init__(self, trunks: Mapping[str, Trunk]):
        self._calls = _InFlight("trunk", {})
        self._starts: dict[str, deque[float]] = {}
        self._cps: dict[str, int] = {}
        self.update(trunks)

    def update(self, trunks: Mapping[str, Trunk]) -> None:
        """Take new channels and rates (site reload); counts and recent starts stay."""
        self._calls.update({name: t.channels for name, t in trunks.items()})
        self._cps = {**dict.fromkeys(self._starts, 0),
                     **{name: t.calls_per_second for name, t in trunks.items()}}
        for name in self._cps:
            self._starts.setdefault(name, deque())

    def _recent(self, trunk: str, now: float) -> deque[float]:
        starts = self._starts[trunk]
        while starts and now - starts[0] >= 1.0:
            starts.popleft()
        # starts later than now (a clock handed in out of order) stay: they count as recent
        return starts

    def wait_time(self, trunk: str, now: float) -> float:
        """Seconds until `acquire` can succeed: 0 now, inf while every channel is busy or
        the rate is 0 (only a release helps), else until the oldest recent start ages out."""
        if not self._calls.room(trunk):
            return math.inf
        cps = self._cps[trunk]
        if cps <= 0:
            return math.inf
        starts = sorted(self._recent(trunk, now))
        if len(starts) < cps:
            return 0.0
        # a microsecond more, so that sleeping exactly this long lands past the boundary
        # despite float rounding
        return max(0.0, starts[len(starts) - cps] + 1.0 - now) + 1e-6

    def acquire(self, trunk: str, now: float) -> bool:
        """Start one call on `trunk` at `now` if both caps allow; False leaves nothing held."""
        if self.wait_time(trunk, now) > 0.0:
            return False
        self._calls.add(trunk)
        self._starts[trunk].append(now)
        return True

    def adopt(self, trunk: str) -> None:
        """Count a call already in progress (found in AMI after a restart) without a start:
        it holds a channel even past the cap, as it really does."""
        self._calls.add(trunk)

    def release(self, trunk: str) -> None:
        """A call on `trunk` ended (or its Originate failed): its channel is free."""
        self._calls.release(trunk)

    def in_progress(self, trunk: str) -> int:
        return self._calls.get(trunk)

    def pick(self, candidates: Sequence[str], now: float) -> str | None:
        """The first of `candidates` (in route order) that `acquire` would accept now, or
        None; it holds nothing — call `acquire`, or use `acquire_first`."""
        return next((t for t in candidates if self.wait_time(t, now) == 0.0), None)

    def acquire_first(self, candidates: Sequence[str], now: float) -> str | None:
        """`pick`, then `acquire` the trunk picked."""
        trunk = self.pick(candidates, now)
        if trunk is not None:
            self.acquire(trunk, now)
        return trunk


class CampaignPacer:
    """Per campaign at most Campaign.concurrency calls in progress."""

    def __init__(self, campaigns: Mapping[str, Campaign]):
        self._calls = _InFlight("campaign", {})
        self.update(campaigns)

    def update(self, campaigns: Mapping[str, Campaign]) -> None:
        """Take new concurrencies (site reload); calls in progress keep counting."""
        self._calls.update({name: c.concurrency for name, c in campaigns.items()})

    def acquire(self, campaign: str) -> bool:
        if not self._calls.room(campaign):
            return False
        self._calls.add(campaign)
        return True

    def adopt(self, campaign: str) -> None:
        """Count a call already in progress (reconciled after a restart)."""
        self._calls.add(campaign)

    def release(self, campaign: str) -> None:
        self._calls.release(campaign)

    def in_flight(self, campaign: str) -> int:
        return self._calls.get(campaign)


Outcome = Literal["connected", "abandoned"]


class AbandonGuard:
    """How many customer-first lead calls may be dialled now, so that the share of answered
    leads left without an agent (abandoned) stays under `ceiling` (Campaign.abandon_ceiling).

    The rule: the abandon rate is abandoned / answered over the last `sample` answered
    leads (unanswered calls do not count). While fewer than `min_sample` leads have been
    answered, or the rate is at or above the ceiling, the guard allows no more lines than
    ready agents: `ready_agents - dialling`. Otherwise it over-dials by a small ratio, since
    many leads do not answer: `floor(ready_agents * over_dial) - dialling`. Never negative.
    `dialling` counts lead calls placed and not yet connected to an agent or ended."""

    def __init__(self, ceiling: float, *, over_dial: float = 1.25, sample: int = 100,
                 min_sample: int = 20):
        if not 0.0 <= ceiling < 1.0:
            raise ValueError(f"abandon ceiling {ceiling} must be a share from 0 to below 1 "
                             "(0.03 is 3 %)")
        if over_dial < 1.0 or sample < 1 or not 0 <= min_sample <= sample:
            raise ValueError("over_dial must be at least 1 and min_sample between 0 and "
                             "sample")
        self.ceiling = ceiling
        self.over_dial = over_dial
        self.min_sample = min_sample
        self._outcomes: deque[bool] = deque(maxlen=sample)  # True: abandoned

    def record(self, outcome: Outcome) -> None:
        """One answered lead: connected to an agent, or abandoned before one took it."""
        if outcome not in ("connected", "abandoned"):
            raise ValueError(f"{outcome!r} is not an answered lead's outcome — "
                             "'connected' or 'abandoned'")
        self._outcomes.append(outcome == "abandoned")

    @property
    def observed(self) -> int:
        """Answered leads in the sample."""
        return len(self._outcomes)

    @property
    def rate(self) -> float | None:
        """The abandon share of the sample (None before any lead answered)."""
        return sum(self._outcomes) / len(self._outcomes) if self._outcomes else None

    def over_dialling(self) -> bool:
        """Whether the guard currently allows more lines than ready agents."""
        rate = self.rate
        return rate is not None and self.observed >= self.min_sample and rate < self.ceiling

    def allowed(self, ready_agents: int, dialling: int) -> int:
        """How many more leads may be dialled now."""
        lines = math.floor(ready_agents * self.over_dial) if self.over_dialling() \
            else ready_agents
        return max(0, lines - dialling)
