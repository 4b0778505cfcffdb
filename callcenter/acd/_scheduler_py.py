"""Pure-Python ACD scheduler: the reference the compiled `_scheduler_c` must match decision
for decision. docs/routing.md states the rules, docs/scheduler.md the layout of both twins.

This module is the public API and its state machine; argument checks and shared rules are in
`_control`, the machinery (pools, heaps, matching) in `_py_core`, the objects in
`_py_objects`. `_scheduler_c.pyx` mirrors this file method for method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from heapq import heappop

from ._control import (
    check_agent,
    check_call,
    check_fail_reason,
    check_leave_reason,
    check_options,
    check_queue,
)
from ._py_core import _Core
from ._py_objects import (
    ANSWERED,
    BUSY,
    LEVELS,
    OFFERED,
    OVERFLOW,
    PAUSED,
    READY,
    RINGING,
    WAITING,
    WRAP_UP,
    _Agent,
    _Call,
    _count_before,
    _Pool,
    _Queue,
)
from .types import (
    AgentStatus,
    CallStatus,
    Decision,
    Overflow,
    QueueConfig,
    QueueStatus,
    err_answered,
    err_not_offered,
    err_not_waiting,
    err_ringing,
    normalize_skills,
)

__all__ = ["Scheduler"]


class Scheduler(_Core):
    """Automatic call distribution: who gets which call, decided in O(log n) per event.

    Times are integer milliseconds from one monotonic clock; every mutating method returns
    the decisions it took (`Offer`, `Overflow`, `AgentPaused`), in the order taken.
    """

    def __init__(self, queues: Iterable[QueueConfig] = (), *, missed_limit: int = 3,
                 resume_window: int = 60) -> None:
        super().__init__(*check_options(missed_limit, resume_window))
        for cfg in queues:
            self.add_queue(cfg)

    def add_queue(self, config: QueueConfig) -> None:
        """Add a queue; agents already logged in join it at once (one pass over them)."""
        check_queue(config, self._queues)
        q = _Queue(config)
        self._queues[q.name] = q
        q.default = self._pool(q, tuple(sorted(config.skills.items())))

    # ---------------------------------------------------------------- agent state

    def _move(self, agent_id: str, now: int, state: str, reason: str) -> list[Decision]:
        self._advance(now)
        a = self._agent(agent_id)
        old = a.state
        if old == RINGING:
            raise err_ringing(agent_id, a.call.id if a.call else "")
        out: list[Decision] = []
        if old == state:
            a.reason = reason
            return out
        if old == BUSY:
            self._end_call(a, now)
        elif old == READY:
            self._leave_ready(a)
        if old == PAUSED:
            self._set_staffed(a, 1)
        elif state == PAUSED:
            self._set_staffed(a, -1)
        a.reason = reason
        if state == READY:
            self._become_ready(a, now, out)
        else:
            a.state = state
        return out

    def login(self, agent_id: str, now: int, *, site: str = "",
              skills: Mapping[str, int] | None = None) -> list[Decision]:
        """Log an agent in as ready; it may be offered a waiting call at once."""
        self._advance(now)
        check_agent(agent_id, self._agents)
        norm = normalize_skills(skills)
        self._ord += 1
        a = _Agent(agent_id, self._ord, site, norm, now)
        self._agents[agent_id] = a
        self._build_members(a)  # built while paused, so no heap entries yet
        self._set_staffed(a, 1)
        out: list[Decision] = []
        self._become_ready(a, now, out)
        return out

    def logout(self, agent_id: str, now: int) -> list[Decision]:
        """Log an agent out; a call ringing it goes back to its place in the queue."""
        self._advance(now)
        a = self._agent(agent_id)
        out: list[Decision] = []
        c = a.call
        if a.state == BUSY:
            self._end_call(a, now)
        elif a.state == READY:
            self._leave_ready(a)
        self._drop_members(a)
        del self._agents[agent_id]
        if a.state == RINGING and c is not None:
            a.call = None
            self._return(c, now, out)
        a.state = PAUSED
        return out

    def ready(self, agent_id: str, now: int) -> list[Decision]:
        """The agent can take calls; it may be offered one at once."""
        return self._move(agent_id, now, READY, "")

    def pause(self, agent_id: str, now: int, reason: str = "break") -> list[Decision]:
        """The agent stops taking calls, with a reason code (break, lunch, training, ...)."""
        return self._move(agent_id, now, PAUSED, reason)

    def busy(self, agent_id: str, now: int) -> list[Decision]:
        """The agent is on a call the ACD did not give it (direct or outbound)."""
        return self._move(agent_id, now, BUSY, "")

    def wrap_up(self, agent_id: str, now: int) -> list[Decision]:
        """The agent's call ended and it is doing after-call work."""
        return self._move(agent_id, now, WRAP_UP, "")

    def set_skills(self, agent_id: str, now: int, skills: Mapping[str, int]) -> list[Decision]:
        """Replace an agent's skills; a ready agent may be offered a call at once."""
        self._advance(now)
        a = self._agent(agent_id)
        norm = normalize_skills(skills)
        self._drop_members(a)
        a.skills = norm
        self._build_members(a)
        out: list[Decision] = []
        if a.state == READY:
            self._agent_match(a, now, out)
        return out

    # ---------------------------------------------------------------- calls

    def enqueue(self, call_id: str, queue: str, now: int, *, priority: int = 0,
                caller: str = "", skills: Mapping[str, int] | None = None,
                enqueue_time: int | None = None) -> list[Decision]:
        """A call starts waiting in `queue`; it may be offered to a ready agent at once.

        `skills` replaces the queue's required skills for this call only. `enqueue_time`
        (default `now`) is kept by callers that re-queue a call without losing its place.
        A caller who abandoned this queue within the resume window gets the old place back.
        """
        self._advance(now)
        t = check_call(call_id, self._calls, priority, enqueue_time, now)
        q = self._queue(queue)
        pool = self._pool_for(q, skills)
        place = self._resume.take(caller, queue, now)
        if place is not None:
            t, seq = place
        else:
            self._seq += 1
            seq = self._seq
        c = _Call(call_id, q, pool, priority, t, seq, caller)
        self._calls[call_id] = c
        self._link(c)
        self._schedule(c, now)
        out: list[Decision] = []
        self._call_match(c, now, out)
        return out

    def answered(self, call_id: str, now: int) -> list[Decision]:
        """The agent answered an offered call: the agent is busy, the call has left the queue."""
        self._advance(now)
        c = self._call(call_id)
        if c.state != OFFERED:
            raise err_not_offered(call_id, c.state)
        a = c.agent
        assert a is not None
        c.state = ANSWERED
        a.state = BUSY
        a.taken += 1
        a.missed = 0
        a.answered_at = now
        a.answered_q = c.queue
        return []

    def offer_failed(self, call_id: str, now: int, reason: str) -> list[Decision]:
        """An offer did not connect. `no_answer`: the agent stays available (paused "missed"
        after `missed_limit` in a row); `busy`/`unreachable`: the agent is paused with that
        reason. Either way the call goes back to its old place and is offered again."""
        self._advance(now)
        c = self._call(call_id)
        check_fail_reason(reason)
        if c.state != OFFERED:
            raise err_not_offered(call_id, c.state)
        a = c.agent
        assert a is not None
        a.call = None
        out: list[Decision] = []
        if reason == "no_answer":
            a.missed += 1
            if self._missed_limit and a.missed >= self._missed_limit:
                a.missed = 0
                self._pause_by_scheduler(a, "missed", out)
                self._return(c, now, out)
            else:
                # The call is matched before the agent is ready again, so another free agent
                # gets it first; the same agent gets it back only if nobody else can.
                self._return(c, now, out)
                self._become_ready(a, now, out)
        else:
            self._pause_by_scheduler(a, reason, out)
            self._return(c, now, out)
        return out

    def leave(self, call_id: str, now: int, reason: str = "abandoned") -> list[Decision]:
        """A waiting or ringing call left: the caller hung up (`abandoned`) or the daemon sent
        it elsewhere (`overflowed`). A ringing agent becomes ready again."""
        self._advance(now)
        c = self._call(call_id)
        check_leave_reason(reason)
        out: list[Decision] = []
        if c.state == ANSWERED:
            raise err_answered(call_id, c.agent.id if c.agent else "")
        del self._calls[call_id]
        if c.state == WAITING:
            self._unlink(c)
        self._resume.left(reason, c.caller, c.callback, c.queue.name, c.t, c.seq, now)
        c.state = "gone"
        a = c.agent
        if a is not None:
            a.call = None
            self._become_ready(a, now, out)
        return out

    def transfer(self, call_id: str, queue: str, now: int, *,
                 skills: Mapping[str, int] | None = None) -> list[Decision]:
        """Move a waiting or answered call to another queue keeping its enqueue time, sequence
        and priority. An answering agent stays busy until it is put into wrap-up or ready."""
        self._advance(now)
        c = self._call(call_id)
        q = self._queue(queue)
        pool = self._pool_for(q, skills)
        if c.state == OFFERED:
            a = c.agent
            raise err_ringing(a.id if a else "", call_id)
        if c.state == WAITING:
            self._unlink(c)
        else:  # answered: the call leaves the agent, whose busy time keeps running
            a = c.agent
            if a is not None:
                a.call = None
            c.agent = None
        c.queue = q
        c.pool = pool
        self._link(c)
        self._schedule(c, now)
        out: list[Decision] = []
        self._call_match(c, now, out)
        return out

    def to_callback(self, call_id: str, now: int) -> list[Decision]:
        """Turn a waiting call into a callback request that keeps its place in the queue.

        It is offered like any call (Offer.callback is true) only when an agent is free for
        it, so callbacks in flight never outnumber the agents reserved for them; max_wait no
        longer applies."""
        self._advance(now)
        c = self._call(call_id)
        if c.state != WAITING:
            raise err_not_waiting(call_id, c.state, "become a callback")
        c.callback = True
        return []

    def tick(self, now: int) -> list[Decision]:
        """Apply the time rules due by `now`: overflow after max_wait, skill expansion after
        expand_after. Call it about once a second."""
        self._advance(now)
        out: list[Decision] = []
        marked: list[_Pool] = []
        dl = self._deadlines
        while dl and dl[0][0] <= now:
            _, kind, _, version, c = heappop(dl)
            if c.version != version or c.state != WAITING:
                continue
            if kind == OVERFLOW:
                if c.callback:
                    continue
                q = c.queue
                if q.target == "callback":
                    c.callback = True
                else:
                    self._unlink(c)
                    del self._calls[c.id]
                    c.state = "gone"
                out.append(Overflow(c.id, q.name, q.target))
            elif not c.pool.marked:
                c.pool.marked = True
                marked.append(c.pool)
        for pool in marked:
            pool.marked = False
            self._drain_expanded(pool, now, out)
        self._resume.expire(now)
        return out

    # ---------------------------------------------------------------- queries

    def call_status(self, call_id: str) -> CallStatus:
        """State of a call; for a waiting call its position (1 = next) and estimated wait:
        position × the queue's average handle time ÷ staffed agents of its pool."""
        c = self._call(call_id)
        position = wait = 0
        if c.state == WAITING:
            position = 1
            for pool in c.queue.pools:
                for p in range(c.prio + 1, LEVELS):
                    position += pool.live[p]
                position += _count_before(pool.levels[c.prio], c.t, c.seq)
            wait = position * c.queue.aht // max(1, c.pool.staffed)
        agent_id = c.agent.id if c.agent is not None else None
        return CallStatus(c.id, c.queue.name, c.state, c.prio, c.t, position, wait, agent_id,
                          c.callback)

    def agent_status(self, agent_id: str) -> AgentStatus:
        a = self._agent(agent_id)
        return AgentStatus(a.id, a.state, a.reason, a.call.id if a.call else None,  # type: ignore[arg-type]
                           a.site, dict(a.skills), a.missed, a.taken, a.idle)

    def queue_status(self, queue: str) -> QueueStatus:
        q = self._queue(queue)
        return QueueStatus(q.name, q.waiting, q.default.staffed, q.aht)

    @property
    def now(self) -> int:
        """The latest time the scheduler was given (milliseconds)."""
        return self._now
