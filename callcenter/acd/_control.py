"""The scheduler's argument checks and control rules, written once for both twins.

`_scheduler_py` and `_scheduler_c` call these instead of each restating them, so a bound,
a refusal or a message cannot drift between the two. Only the data structures (heaps,
memberships, matching) and the state machine that drives them are written twice; those
parts carry a "mirrors ..." note in the compiled twin (docs/scheduler.md lists them).
Everything here runs once per event at most, outside the matching loops.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import get_args

from callcenter.site.limits import LIMITS

from .types import (
    FailReason,
    LeaveReason,
    QueueConfig,
    SchedulerError,
    err_agent_exists,
    err_call_exists,
    err_enqueue_time,
    err_fail_reason,
    err_leave_reason,
    err_option,
    err_priority,
    err_queue_exists,
)

__all__ = ["FAIL_REASONS", "LEAVE_REASONS", "Resume", "check_agent", "check_call",
           "check_fail_reason", "check_leave_reason", "check_options", "check_queue",
           "next_handle_time", "queue_site"]

FAIL_REASONS: tuple[str, ...] = get_args(FailReason)
LEAVE_REASONS: tuple[str, ...] = get_args(LeaveReason)
_PRIORITY = LIMITS["call.priority"]


def check_options(missed_limit: object, resume_window: object) -> tuple[int, int]:
    """The constructor's options; returns (missed_limit, resume window in ms)."""
    for name, value, key in (("missed_limit", missed_limit, "acd.missed_limit"),
                             ("resume_window", resume_window, "acd.resume_window_seconds")):
        if type(value) is not int or not LIMITS[key].allows(value):
            raise err_option(name, value, LIMITS[key].use())
    return missed_limit, resume_window * 1000  # type: ignore[operator,return-value]


def check_queue(config: object, queues: Mapping[str, object]) -> QueueConfig:
    """A queue that add_queue() may add."""
    if not isinstance(config, QueueConfig):
        raise SchedulerError(f"add_queue() needs a QueueConfig, not {type(config).__name__}")
    if config.name in queues:
        raise err_queue_exists(config.name)
    return config


def queue_site(config: QueueConfig) -> str | None:
    """The site a queue is restricted to, None for any: "" means any, as in acd.rules.serves."""
    return config.site or None


def check_agent(agent_id: object, agents: Mapping[str, object]) -> None:
    """An agent id that login() may add."""
    if agent_id in agents:
        raise err_agent_exists(agent_id)  # type: ignore[arg-type]
    if not isinstance(agent_id, str) or not agent_id:
        raise SchedulerError(f"agent id {agent_id!r} is not a non-empty string")


def check_call(call_id: object, calls: Mapping[str, object], priority: object,
               enqueue_time: object, now: int) -> int:
    """The arguments of enqueue(); returns the enqueue time (default `now`)."""
    if call_id in calls:
        raise err_call_exists(call_id)  # type: ignore[arg-type]
    if not isinstance(call_id, str) or not call_id:
        raise SchedulerError(f"call id {call_id!r} is not a non-empty string")
    if not _PRIORITY.allows(priority):
        raise err_priority(priority)
    t = now if enqueue_time is None else enqueue_time
    if not isinstance(t, int):
        raise TypeError(f"enqueue_time must be integer milliseconds, not {type(t).__name__}")
    if t > now:
        raise err_enqueue_time(t, now)
    return t


def check_fail_reason(reason: object) -> None:
    if reason not in FAIL_REASONS:
        raise err_fail_reason(reason)


def check_leave_reason(reason: object) -> None:
    if reason not in LEAVE_REASONS:
        raise err_leave_reason(reason)


def next_handle_time(aht: int, duration: int) -> int:
    """The queue's running handle-time average after one more call (milliseconds): 7/8 old
    plus 1/8 new, in integers so both twins round the same way."""
    return (aht * 7 + duration) // 8


class Resume:
    """Callers who abandoned a queue: calling back within the window restores their place
    (enqueue time and arrival sequence). One instance per scheduler, shared code for both."""

    __slots__ = ("_order", "_places", "_window")

    def __init__(self, window_ms: int) -> None:
        self._window = window_ms
        self._places: dict[str, tuple[str, int, int, int]] = {}  # caller -> queue, t, seq, expiry
        self._order: deque[tuple[int, str]] = deque()

    def left(self, reason: str, caller: str, callback: bool, queue: str, t: int, seq: int,
             now: int) -> None:
        """A call left the scheduler; keep its place if the caller hung up while waiting.
        A callback request keeps its place anyway, so it is never kept here."""
        if reason == "abandoned" and caller and self._window and not callback:
            expires = now + self._window
            self._places[caller] = (queue, t, seq, expires)
            self._order.append((expires, caller))

    def take(self, caller: str, queue: str, now: int) -> tuple[int, int] | None:
        """The (enqueue time, sequence) a returning caller gets back in `queue`, if any."""
        if not caller or not self._places:
            return None
        old = self._places.pop(caller, None)
        if old is not None and old[0] == queue and now <= old[3]:
            return old[1], old[2]
        return None

    def expire(self, now: int) -> None:
        """Forget places whose window has closed (called from tick())."""
        order = self._order
        while order and order[0][0] < now:
            _, caller = order.popleft()
            old = self._places.get(caller)
            if old is not None and old[3] < now:
                del self._places[caller]
