"""Configuration, decisions and errors shared by both scheduler implementations.

Both `_scheduler_py` and `_scheduler_c` build exactly these objects, so their decisions can
be compared with ``==`` and the daemon never needs to know which one is loaded. Every bound
is read from callcenter/site/limits.py (LIMITS); nothing here restates one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from callcenter.errors import CallcenterError
from callcenter.site.limits import LIMITS

__all__ = [
    "MAX_PRIORITY",
    "STRATEGIES",
    "AgentPaused",
    "AgentState",
    "AgentStatus",
    "CallState",
    "CallStatus",
    "Decision",
    "FailReason",
    "LeaveReason",
    "Offer",
    "Overflow",
    "QueueConfig",
    "QueueStatus",
    "SchedulerError",
    "Strategy",
    "normalize_skills",
]

Strategy = Literal["longest_idle", "fewest_calls", "highest_skill", "round_robin"]
STRATEGIES: tuple[str, ...] = ("longest_idle", "fewest_calls", "highest_skill", "round_robin")
AgentState = Literal["ready", "ringing", "busy", "wrap_up", "paused"]
CallState = Literal["waiting", "offered", "answered"]
FailReason = Literal["no_answer", "busy", "unreachable"]
LeaveReason = Literal["abandoned", "overflowed"]
# The bounds live in callcenter/site/limits.py, so `callcenter check` refuses what we refuse.
# Priorities are VIP tiers; a small fixed range lets the C core keep one heap per tier.
MAX_PRIORITY = LIMITS["call.priority"].hi
# Weights multiply waiting milliseconds; the cap keeps weight × wait far inside int64.
MAX_WEIGHT = LIMITS["queue.weight"].hi
_LEVEL = LIMITS["skill.level"]
_SECONDS = {"expand_after": LIMITS["queue.expand_after_seconds"],
            "max_wait": LIMITS["queue.max_wait_seconds"],
            "handle_time": LIMITS["queue.handle_time_seconds"]}


class SchedulerError(CallcenterError):
    """An ACD operation that cannot be carried out; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring `agent_id` with `call_id`; the agent is reserved and the call is off the queue.

    `expanded` is true when the agent is below the queue's normal bar (skill expansion).
    `callback` is true when the call is a callback request: dial the agent, then the customer.
    Report the outcome with `answered()` or `offer_failed()`.
    """

    call_id: str
    agent_id: str
    queue: str
    expanded: bool = False
    callback: bool = False


@dataclass(frozen=True, slots=True)
class Overflow:
    """`call_id` waited longer than its queue's max_wait; send it to `target`.

    The call has left the scheduler, except when `target` is "callback": then it stays in
    its place as a callback request.
    """

    call_id: str
    queue: str
    target: str


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """The scheduler paused `agent_id` itself: "missed" (too many ring-no-answers in a row),
    "busy" or "unreachable" (its phone could not be rung)."""

    agent_id: str
    reason: str


Decision = Offer | Overflow | AgentPaused


@dataclass(frozen=True, slots=True)
class CallStatus:
    """Where a call stands. `position` (1 = next) and `estimated_wait` (milliseconds) are 0
    unless the call is waiting."""

    call_id: str
    queue: str
    state: CallState
    priority: int
    enqueue_time: int
    position: int
    estimated_wait: int
    agent_id: str | None
    callback: bool


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """An agent as the scheduler sees it."""

    agent_id: str
    state: AgentState
    reason: str
    call_id: str | None
    site: str
    skills: dict[str, int]
    missed: int
    calls_taken: int
    idle_since: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """Live figures of one queue; `handle_time` is the running average in milliseconds."""

    name: str
    waiting: int
    staffed: int
    handle_time: int


def normalize_skills(skills: Mapping[str, int] | None, what: str = "skill") -> dict[str, int]:
    """Check a {skill: level} mapping (levels 1–10, LIMITS) and return a plain dict copy."""
    out: dict[str, int] = {}
    for name, level in (skills or {}).items():
        if not isinstance(name, str) or not name:
            raise SchedulerError(f"{what} name {name!r} is not a non-empty string")
        if not _LEVEL.allows(level):
            raise SchedulerError(
                f"{what} {name!r} level {level!r} is out of range — {_LEVEL.use()}")
        out[name] = level
    return out


def _check_seconds(queue: str, name: str, value: int | None) -> None:
    limit = _SECONDS[name]
    if value is not None and not limit.allows(value):
        raise SchedulerError(f"queue {queue!r}: {name} must be whole seconds, {limit.lo} to "
                             f"{limit.hi} (got {value!r})")


@dataclass(frozen=True)
class QueueConfig:
    """One queue as the scheduler needs it (durations in whole seconds).

    `skills`: required skill → minimum level. `site`: only agents of this site serve the
    queue (None: any site). After `expand_after` seconds a waiting call may also go to agents
    up to `expand_levels` levels below each minimum (never below 1) and to agents of
    `overflow_site`. After `max_wait` seconds `tick()` sends it to `overflow`.
    `handle_time` seeds the average handle time used for estimated waits.
    """

    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    strategy: Strategy = "longest_idle"
    weight: int = 1
    site: str | None = None
    expand_after: int | None = None
    expand_levels: int = 1
    overflow_site: str | None = None
    max_wait: int | None = None
    overflow: str = "voicemail:default"
    handle_time: int = 180

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchedulerError(f"queue name {self.name!r} is not a non-empty string")
        object.__setattr__(self, "skills", normalize_skills(self.skills, "required skill"))
        if self.strategy not in STRATEGIES:
            raise SchedulerError(f"queue {self.name!r}: unknown strategy {self.strategy!r} — "
                                 f"use one of {', '.join(STRATEGIES)}")
        weight = LIMITS["queue.weight"]
        if not weight.allows(self.weight):
            raise SchedulerError(f"queue {self.name!r}: weight {self.weight!r} is out of range "
                                 f"— {weight.use()}")
        for name in ("expand_after", "max_wait", "handle_time"):
            _check_seconds(self.name, name, getattr(self, name))
        levels = LIMITS["queue.expand_levels"]
        if not levels.allows(self.expand_levels):
            raise SchedulerError(f"queue {self.name!r}: expand_levels must be {levels.lo} to "
                                 f"{levels.hi} (got {self.expand_levels!r})")
        if (self.expand_after is not None and self.max_wait is not None
                and self.expand_after >= self.max_wait):
            raise SchedulerError(f"queue {self.name!r}: expand_after ({self.expand_after} s) "
                                 f"must be shorter than max_wait ({self.max_wait} s)")
        if not isinstance(self.overflow, str) or not self.overflow:
            raise SchedulerError(f"queue {self.name!r}: overflow target must be a non-empty "
                                 "string such as 'queue:NAME', 'voicemail:NAME' or 'callback'")


# Error messages live here so both implementations say exactly the same thing.

def err_time(now: int, last: int) -> SchedulerError:
    return SchedulerError(f"time went backwards: now={now} ms is before {last} ms — pass a "
                          "monotonic clock in integer milliseconds")


def err_no_agent(agent_id: str) -> SchedulerError:
    return SchedulerError(f"agent {agent_id!r} is not logged in — log it in first")


def err_agent_exists(agent_id: str) -> SchedulerError:
    return SchedulerError(f"agent {agent_id!r} is already logged in — log it out first")


def err_ringing(agent_id: str, call_id: str) -> SchedulerError:
    return SchedulerError(f"agent {agent_id!r} is being offered call {call_id!r} — report "
                          "answered() or offer_failed() for that call first")


def err_no_call(call_id: str) -> SchedulerError:
    return SchedulerError(f"call {call_id!r} is not in the scheduler — it was never enqueued "
                          "or has already left")


def err_call_exists(call_id: str) -> SchedulerError:
    return SchedulerError(f"call {call_id!r} is already in the scheduler — use transfer() to "
                          "move it to another queue")


def err_no_queue(name: str) -> SchedulerError:
    return SchedulerError(f"queue {name!r} is not configured — add it with add_queue() or "
                          "fix the name")


def err_queue_exists(name: str) -> SchedulerError:
    return SchedulerError(f"queue {name!r} is already configured — queue settings cannot be "
                          "changed while the scheduler runs")


def err_not_offered(call_id: str, state: str) -> SchedulerError:
    return SchedulerError(f"call {call_id!r} is {state}, not offered — only a call returned "
                          "in an Offer can be answered or fail")


def err_fail_reason(reason: object) -> SchedulerError:
    return SchedulerError(f"unknown offer failure {reason!r} — use no_answer, busy or "
                          "unreachable")


def err_leave_reason(reason: object) -> SchedulerError:
    return SchedulerError(f"unknown leave reason {reason!r} — use abandoned or overflowed")


def err_answered(call_id: str, agent_id: str) -> SchedulerError:
    return SchedulerError(f"call {call_id!r} was answered by {agent_id!r} — end it by putting "
                          "the agent into wrap_up(), ready() or pause()")


def err_not_waiting(call_id: str, state: str, what: str) -> SchedulerError:
    return SchedulerError(f"call {call_id!r} is {state} — only a waiting call can {what}")


def err_priority(priority: object) -> SchedulerError:
    return SchedulerError(f"priority {priority!r} is out of range — "
                          f"{LIMITS['call.priority'].use()}")


def err_enqueue_time(enqueue_time: int, now: int) -> SchedulerError:
    return SchedulerError(f"enqueue_time {enqueue_time} ms is after now ({now} ms) — a call "
                          "cannot have been waiting since the future")


def err_option(name: str, value: object, use: str) -> SchedulerError:
    return SchedulerError(f"{name} {value!r} is out of range — {use}")
