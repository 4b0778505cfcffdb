"""The pure-Python twin's machinery: pools, memberships, waiting-call heaps and matching.

`_Core` holds the scheduler's state and the steps the public methods (`_scheduler_py`) are
built from. `_c_core.pxi` mirrors it step for step over C heaps; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from heapq import heappush

from ._control import Resume, next_handle_time
from ._py_objects import (
    EXPAND,
    EXPANDED,
    NORMAL,
    OFFERED,
    OVERFLOW,
    PAUSED,
    READY,
    RINGING,
    ROUND_ROBIN,
    WAITING,
    _Agent,
    _Call,
    _Member,
    _member_key,
    _peek,
    _Pool,
    _prune,
    _Queue,
)
from .rules import serves
from .types import (
    MAX_PRIORITY,
    AgentPaused,
    Decision,
    Offer,
    err_no_agent,
    err_no_call,
    err_no_queue,
    err_time,
    normalize_skills,
)


class _Core:
    """State and internal steps; `Scheduler` adds the checked public API on top."""

    def __init__(self, missed_limit: int, resume_ms: int) -> None:
        self._missed_limit = missed_limit
        self._now = 0
        self._seq = 0  # global arrival order
        self._tok = 0  # lazy-deletion tokens and deadline versions
        self._ord = 0
        self._queues: dict[str, _Queue] = {}
        self._pools: dict[tuple[str, tuple[tuple[str, int], ...]], _Pool] = {}
        self._by_skill: dict[str, list[_Pool]] = {}  # pools indexed by first required skill
        self._no_skill: list[_Pool] = []
        self._agents: dict[str, _Agent] = {}
        self._calls: dict[str, _Call] = {}
        self._deadlines: list[tuple[int, int, int, int, _Call]] = []
        self._resume = Resume(resume_ms)

    def _pool(self, q: _Queue, reqs: tuple[tuple[str, int], ...]) -> _Pool:
        key = (q.name, reqs)
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        # A new skill combination: the only place that looks at every logged-in agent.
        pool = _Pool(q, reqs)
        self._pools[key] = pool
        q.pools.append(pool)
        if reqs:
            self._by_skill.setdefault(reqs[0][0], []).append(pool)
        else:
            self._no_skill.append(pool)
        for a in self._agents.values():
            tier = self._tier(pool, a)
            if tier >= 0:
                self._join(a, pool, tier)
        return pool

    # ---------------------------------------------------------------- membership

    @staticmethod
    def _tier(pool: _Pool, a: _Agent) -> int:
        q = pool.queue
        if serves(a.site, a.skills, q.site, pool.req_map):
            return NORMAL
        if q.expand_ms < 0:
            return -1
        if not (q.site is None or a.site == q.site
                or (q.overflow_site is not None and a.site == q.overflow_site)):
            return -1
        return EXPANDED if all(a.skills.get(s, 0) >= m for s, m in pool.xreqs) else -1

    def _join(self, a: _Agent, pool: _Pool, tier: int) -> None:
        m = _Member(a, pool, tier)
        a.members.append(m)
        if tier == NORMAL and a.state != PAUSED:
            pool.staffed += 1
        if a.state == READY:
            self._push_member(m)

    def _build_members(self, a: _Agent) -> None:
        # Each pool is filed under exactly one skill, so no pool is seen twice.
        candidates: list[_Pool] = list(self._no_skill)
        for s in a.skills:
            candidates.extend(self._by_skill.get(s, ()))
        for pool in candidates:
            tier = self._tier(pool, a)
            if tier >= 0:
                self._join(a, pool, tier)

    def _drop_members(self, a: _Agent) -> None:
        for m in a.members:
            if m.token >= 0:
                self._pop_member(m)
            if m.tier == NORMAL and a.state != PAUSED:
                m.pool.staffed -= 1
        a.members = []

    def _push_member(self, m: _Member) -> None:
        self._tok += 1
        m.token = self._tok
        pool = m.pool
        k1, k2, k3 = _member_key(m)
        entry = (k1, k2, k3, m.token, m)
        if m.tier == NORMAL:
            heap = pool.ready
            pool.ready_live += 1
            live = pool.ready_live
        else:
            heap = pool.xready
            pool.xready_live += 1
            live = pool.xready_live
        heappush(heap, entry)
        _prune(heap, live)

    def _pop_member(self, m: _Member) -> None:
        m.token = -1
        if m.tier == NORMAL:
            m.pool.ready_live -= 1
        else:
            m.pool.xready_live -= 1

    def _become_ready(self, a: _Agent, now: int, out: list[Decision]) -> None:
        """The agent is free: it takes its best waiting call at once, or else waits in the
        ready heaps of its pools (matching first saves pushing and popping them)."""
        a.state = READY
        if not self._agent_match(a, now, out):
            for m in a.members:
                self._push_member(m)

    def _leave_ready(self, a: _Agent) -> None:
        for m in a.members:
            if m.token >= 0:
                self._pop_member(m)

    # ---------------------------------------------------------------- waiting calls

    def _link(self, c: _Call) -> None:
        pool = c.pool
        self._tok += 1
        c.token = self._tok
        c.state = WAITING
        heap = pool.levels[c.prio]
        heappush(heap, (c.t, c.seq, c.token, c))
        pool.live[c.prio] += 1
        c.queue.waiting += 1
        _prune(heap, pool.live[c.prio])

    def _unlink(self, c: _Call) -> None:
        c.token = -1
        c.pool.live[c.prio] -= 1
        c.queue.waiting -= 1

    def _schedule(self, c: _Call, now: int) -> None:
        """Queue the call's expansion and max_wait moments for tick()."""
        self._tok += 1
        c.version = self._tok
        q = c.queue
        if q.expand_ms >= 0 and c.t + q.expand_ms > now:
            heappush(self._deadlines, (c.t + q.expand_ms, EXPAND, c.seq, c.version, c))
        if q.max_ms >= 0 and not c.callback:
            heappush(self._deadlines, (max(c.t + q.max_ms, now), OVERFLOW, c.seq, c.version, c))

    @staticmethod
    def _top_call(pool: _Pool) -> _Call | None:
        for p in range(MAX_PRIORITY, -1, -1):
            if pool.live[p]:
                return _peek(pool.levels[p])
        return None

    @staticmethod
    def _top_old_call(pool: _Pool, threshold: int) -> _Call | None:
        """Best call that has waited long enough for expanded agents (t <= threshold)."""
        for p in range(MAX_PRIORITY, -1, -1):
            if pool.live[p]:
                c = _peek(pool.levels[p])
                if c is not None and c.t <= threshold:
                    return c
        return None

    # ---------------------------------------------------------------- matching

    def _offer(self, c: _Call, a: _Agent, expanded: bool, out: list[Decision]) -> None:
        self._unlink(c)
        c.state = OFFERED
        c.agent = a
        self._leave_ready(a)
        a.state = RINGING
        a.call = c
        q = c.queue
        if q.strategy == ROUND_ROBIN:
            q.rr += 1
            a.rr[q] = q.rr
        out.append(Offer(c.id, a.id, q.name, expanded, c.callback))

    def _call_match(self, c: _Call, now: int, out: list[Decision]) -> None:
        """A call became available: give it the best ready agent of its pool, if any."""
        pool = c.pool
        m = _peek(pool.ready)
        if m is not None:
            self._offer(c, m.agent, False, out)
            return
        q = pool.queue
        if q.expand_ms >= 0 and now - c.t >= q.expand_ms:
            # Expanded agents choose by the order rule, so an older expanded call of the
            # same pool is not overtaken by this one.
            self._drain_expanded(pool, now, out)

    def _drain_expanded(self, pool: _Pool, now: int, out: list[Decision]) -> None:
        """Let the pool's ready expanded agents, best first, take calls while it has calls
        old enough for them."""
        threshold = now - pool.queue.expand_ms
        while self._top_old_call(pool, threshold) is not None:
            m = _peek(pool.xready)
            if m is None or not self._agent_match(m.agent, now, out):
                break

    def _agent_match(self, a: _Agent, now: int, out: list[Decision]) -> bool:
        """An agent became ready: give it the best call of all the pools it serves.

        Priority first, then weight × waited milliseconds, then arrival sequence."""
        best: _Call | None = None
        best_tier = NORMAL
        bp = bw = bs = 0
        for m in a.members:
            pool = m.pool
            q = pool.queue
            if m.tier == NORMAL:
                c = self._top_call(pool)
            else:
                c = self._top_old_call(pool, now - q.expand_ms)
            if c is None:
                continue
            w = q.weight * (now - c.t)
            if (best is None or c.prio > bp
                    or (c.prio == bp and (w > bw or (w == bw and c.seq < bs)))):
                best, best_tier, bp, bw, bs = c, m.tier, c.prio, w, c.seq
        if best is None:
            return False
        self._offer(best, a, best_tier == EXPANDED, out)
        return True

    def _end_call(self, a: _Agent, now: int) -> None:
        """The agent leaves busy: its call is over (feeds the queue's handle-time average)."""
        q = a.answered_q
        if q is not None:
            q.aht = next_handle_time(q.aht, now - a.answered_at)
            a.answered_q = None
            a.answered_at = -1
        c = a.call
        if c is not None:
            del self._calls[c.id]
            a.call = None
        a.idle = now

    def _set_staffed(self, a: _Agent, delta: int) -> None:
        for m in a.members:
            if m.tier == NORMAL:
                m.pool.staffed += delta

    def _return(self, c: _Call, now: int, out: list[Decision]) -> None:
        """An offered call goes back to exactly its old place (same time and sequence)."""
        c.agent = None
        self._link(c)
        self._schedule(c, now)
        self._call_match(c, now, out)

    def _pause_by_scheduler(self, a: _Agent, reason: str, out: list[Decision]) -> None:
        a.state = PAUSED
        a.reason = reason
        self._set_staffed(a, -1)
        out.append(AgentPaused(a.id, reason))

    # ---------------------------------------------------------------- look-ups

    def _advance(self, now: int) -> None:
        if not isinstance(now, int):  # as the compiled twin's C integer argument does
            raise TypeError(f"now must be integer milliseconds, not {type(now).__name__}")
        if now < self._now:
            raise err_time(now, self._now)
        self._now = now

    def _agent(self, agent_id: str) -> _Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise err_no_agent(agent_id)
        return a

    def _call(self, call_id: str) -> _Call:
        c = self._calls.get(call_id)
        if c is None:
            raise err_no_call(call_id)
        return c

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            raise err_no_queue(name)
        return q

    def _pool_for(self, q: _Queue, skills: Mapping[str, int] | None) -> _Pool:
        if skills is None:
            return q.default
        return self._pool(q, tuple(sorted(normalize_skills(skills, "required skill").items())))
