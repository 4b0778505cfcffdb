"""Pure-Python ACD scheduler: the reference the compiled `_scheduler_c` must match decision
for decision. docs/routing.md states the rules; the comments here say how they are kept fast.

Data layout (every event costs O(k log n), k = routing pools an agent belongs to):
- a *pool* is a queue plus the required skills its calls carry (the queue's own, or a call's
  override). Each pool keeps one heap of waiting calls per priority tier, ordered by
  (enqueue time, sequence), and two heaps of ready agents (fully qualified / qualified only by
  skill expansion), ordered by the queue's strategy key;
- heaps use lazy deletion: an entry carries a token that must still match its object;
- time-driven rules (expansion, max_wait) come from one deadline heap drained by `tick()`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from heapq import heapify, heappop, heappush

from .types import (
    MAX_PRIORITY,
    STRATEGIES,
    AgentPaused,
    AgentStatus,
    CallStatus,
    Decision,
    Offer,
    Overflow,
    QueueConfig,
    QueueStatus,
    SchedulerError,
    err_agent_exists,
    err_answered,
    err_call_exists,
    err_enqueue_time,
    err_fail_reason,
    err_leave_reason,
    err_no_agent,
    err_no_call,
    err_no_queue,
    err_not_offered,
    err_not_waiting,
    err_option,
    err_priority,
    err_queue_exists,
    err_ringing,
    err_time,
    normalize_skills,
)

__all__ = ["Scheduler"]

READY, RINGING, BUSY, WRAP_UP, PAUSED = "ready", "ringing", "busy", "wrap_up", "paused"
WAITING, OFFERED, ANSWERED = "waiting", "offered", "answered"
LONGEST_IDLE, FEWEST_CALLS, HIGHEST_SKILL, ROUND_ROBIN = range(4)
OVERFLOW, EXPAND = 0, 1  # deadline kinds; at equal deadlines overflow is handled first
NORMAL, EXPANDED = 0, 1
LEVELS = MAX_PRIORITY + 1


class _Queue:
    __slots__ = ("aht", "default", "expand_ms", "max_ms", "name", "overflow_site", "pools",
                 "rr", "site", "strategy", "target", "waiting", "weight", "xlevels")

    def __init__(self, cfg: QueueConfig) -> None:
        self.name = cfg.name
        self.strategy = STRATEGIES.index(cfg.strategy)
        self.weight = cfg.weight
        self.site = cfg.site
        self.overflow_site = cfg.overflow_site
        self.expand_ms = -1 if cfg.expand_after is None else cfg.expand_after * 1000
        self.xlevels = cfg.expand_levels
        self.max_ms = -1 if cfg.max_wait is None else cfg.max_wait * 1000
        self.target = cfg.overflow
        self.aht = cfg.handle_time * 1000
        self.rr = 0  # round-robin turn counter
        self.waiting = 0
        self.pools: list[_Pool] = []
        self.default: _Pool


class _Pool:
    __slots__ = ("levels", "live", "marked", "queue", "ready", "ready_live", "reqs", "staffed",
                 "xready", "xready_live", "xreqs")

    def __init__(self, queue: _Queue, reqs: tuple[tuple[str, int], ...]) -> None:
        self.queue = queue
        self.reqs = reqs
        self.xreqs = tuple((s, max(1, m - queue.xlevels)) for s, m in reqs)
        self.levels: list[list[tuple[int, int, int, _Call]]] = [[] for _ in range(LEVELS)]
        self.live = [0] * LEVELS
        self.ready: list[tuple[int, int, int, int, _Member]] = []
        self.xready: list[tuple[int, int, int, int, _Member]] = []
        self.ready_live = 0
        self.xready_live = 0
        self.staffed = 0  # fully qualified members logged in and not paused
        self.marked = False


class _Agent:
    __slots__ = ("answered_at", "answered_q", "call", "id", "idle", "members", "missed", "ord",
                 "reason", "rr", "site", "skills", "state", "taken")

    def __init__(self, agent_id: str, ord_: int, site: str, skills: dict[str, int],
                 now: int) -> None:
        self.id = agent_id
        self.ord = ord_  # login order: the last tie-breaker between agents
        self.site = site
        self.skills = skills
        self.state = PAUSED  # becomes ready right after its memberships exist
        self.reason = ""
        self.idle = now  # end of the last call (or login): the longest_idle key
        self.taken = 0
        self.missed = 0
        self.call: _Call | None = None
        self.answered_at = -1
        self.answered_q: _Queue | None = None
        self.members: list[_Member] = []
        self.rr: dict[_Queue, int] = {}  # round-robin turn of this agent's last offer, per queue


class _Member:
    """An agent's place in one pool: fully qualified (NORMAL) or by expansion (EXPANDED)."""

    __slots__ = ("agent", "pool", "sum", "tier", "token")

    def __init__(self, agent: _Agent, pool: _Pool, tier: int) -> None:
        self.agent = agent
        self.pool = pool
        self.tier = tier
        self.sum = sum(agent.skills.get(s, 0) for s, _ in pool.reqs)
        self.token = -1


class _Call:
    __slots__ = ("agent", "callback", "caller", "id", "pool", "prio", "queue", "seq", "state",
                 "t", "token", "version")

    def __init__(self, call_id: str, queue: _Queue, pool: _Pool, prio: int, t: int, seq: int,
                 caller: str) -> None:
        self.id = call_id
        self.queue = queue
        self.pool = pool
        self.prio = prio
        self.t = t
        self.seq = seq
        self.caller = caller
        self.state = WAITING
        self.agent: _Agent | None = None
        self.callback = False
        self.token = -1
        self.version = 0


def _member_key(m: _Member) -> tuple[int, int, int]:
    """Smaller is better; the agent's login order breaks every tie."""
    a = m.agent
    st = m.pool.queue.strategy
    if st == LONGEST_IDLE:
        return (a.idle, 0, a.ord)
    if st == FEWEST_CALLS:
        return (a.taken, a.idle, a.ord)
    if st == HIGHEST_SKILL:
        return (-m.sum, a.idle, a.ord)
    return (a.rr.get(m.pool.queue, 0), 0, a.ord)


def _peek_agent(heap: list[tuple[int, int, int, int, _Member]]) -> _Member | None:
    while heap:
        e = heap[0]
        if e[3] == e[4].token:
            return e[4]
        heappop(heap)
    return None


def _peek_call(heap: list[tuple[int, int, int, _Call]]) -> _Call | None:
    while heap:
        e = heap[0]
        if e[2] == e[3].token:
            return e[3]
        heappop(heap)
    return None


def _count_before(heap: list[tuple[int, int, int, _Call]], t: int, seq: int) -> int:
    """Live entries ordered before (t, seq): a pruned walk that costs O(answer + stale)."""
    n = 0
    stack = [0]
    size = len(heap)
    while stack:
        i = stack.pop()
        if i >= size:
            continue
        e = heap[i]
        if e[0] > t or (e[0] == t and e[1] >= seq):
            continue  # heap order: nothing below this entry comes earlier
        if e[2] == e[3].token:
            n += 1
        stack.append(2 * i + 1)
        stack.append(2 * i + 2)
    return n


class Scheduler:
    """Automatic call distribution: who gets which call, decided in O(log n) per event.

    Times are integer milliseconds from one monotonic clock; every mutating method returns
    the decisions it took (`Offer`, `Overflow`, `AgentPaused`), in the order taken.
    """

    def __init__(self, queues: Iterable[QueueConfig] = (), *, missed_limit: int = 3,
                 resume_window: int = 60) -> None:
        for name, value in (("missed_limit", missed_limit), ("resume_window", resume_window)):
            if type(value) is not int or value < 0:
                raise err_option(name, value)
        self._missed_limit = missed_limit
        self._resume_ms = resume_window * 1000
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
        self._resume: dict[str, tuple[str, int, int, int]] = {}
        self._resume_order: deque[tuple[int, str]] = deque()
        for cfg in queues:
            self.add_queue(cfg)

    # ---------------------------------------------------------------- configuration

    def add_queue(self, config: QueueConfig) -> None:
        """Add a queue; agents already logged in join it at once (one pass over them)."""
        if not isinstance(config, QueueConfig):
            raise SchedulerError(f"add_queue() needs a QueueConfig, not {type(config).__name__}")
        if config.name in self._queues:
            raise err_queue_exists(config.name)
        q = _Queue(config)
        self._queues[q.name] = q
        q.default = self._pool(q, tuple(sorted(config.skills.items())))

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
        skills = a.skills
        site_ok = q.site is None or a.site == q.site
        if site_ok and all(skills.get(s, 0) >= m for s, m in pool.reqs):
            return NORMAL
        if q.expand_ms < 0:
            return -1
        if not (site_ok or (q.overflow_site is not None and a.site == q.overflow_site)):
            return -1
        if all(skills.get(s, 0) >= m for s, m in pool.xreqs):
            return EXPANDED
        return -1

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
        if len(heap) > 2 * live + 32:
            # Too many dead entries: rebuild so memory stays proportional to ready agents.
            heap[:] = [e for e in heap if e[3] == e[4].token]
            heapify(heap)

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
        if len(heap) > 2 * pool.live[c.prio] + 32:
            heap[:] = [e for e in heap if e[2] == e[3].token]
            heapify(heap)

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
                return _peek_call(pool.levels[p])
        return None

    @staticmethod
    def _top_old_call(pool: _Pool, threshold: int) -> _Call | None:
        """Best call that has waited long enough for expanded agents (t <= threshold)."""
        for p in range(MAX_PRIORITY, -1, -1):
            if pool.live[p]:
                c = _peek_call(pool.levels[p])
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
        m = _peek_agent(pool.ready)
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
            m = _peek_agent(pool.xready)
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

    # ---------------------------------------------------------------- agent state

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

    def _end_call(self, a: _Agent, now: int) -> None:
        """The agent leaves busy: its call is over (feeds the queue's handle-time average)."""
        q = a.answered_q
        if q is not None:
            # Integer running average (7/8 old + 1/8 new) so both twins round the same way.
            q.aht = (q.aht * 7 + (now - a.answered_at)) // 8
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
        if agent_id in self._agents:
            raise err_agent_exists(agent_id)
        if not isinstance(agent_id, str) or not agent_id:
            raise SchedulerError(f"agent id {agent_id!r} is not a non-empty string")
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

    def enqueue(self, call_id: str, queue: str, now: int, *, priority: int = 0,
                caller: str = "", skills: Mapping[str, int] | None = None,
                enqueue_time: int | None = None) -> list[Decision]:
        """A call starts waiting in `queue`; it may be offered to a ready agent at once.

        `skills` replaces the queue's required skills for this call only. `enqueue_time`
        (default `now`) is kept by callers that re-queue a call without losing its place.
        A caller who abandoned this queue within the resume window gets the old place back.
        """
        self._advance(now)
        if call_id in self._calls:
            raise err_call_exists(call_id)
        if not isinstance(call_id, str) or not call_id:
            raise SchedulerError(f"call id {call_id!r} is not a non-empty string")
        if type(priority) is not int or not 0 <= priority <= MAX_PRIORITY:
            raise err_priority(priority)
        t = now if enqueue_time is None else enqueue_time
        if not isinstance(t, int):
            raise TypeError(f"enqueue_time must be integer milliseconds, not {type(t).__name__}")
        if t > now:
            raise err_enqueue_time(t, now)
        q = self._queue(queue)
        pool = self._pool_for(q, skills)
        seq = -1
        if caller:
            old = self._resume.pop(caller, None)
            if old is not None and old[0] == queue and now <= old[3]:
                t, seq = old[1], old[2]
        if seq < 0:
            self._seq += 1
            seq = self._seq
        c = _Call(call_id, q, pool, priority, t, seq, caller)
        self._calls[call_id] = c
        self._link(c)
        self._schedule(c, now)
        out: list[Decision] = []
        self._call_match(c, now, out)
        return out

    def _return(self, c: _Call, now: int, out: list[Decision]) -> None:
        """An offered call goes back to exactly its old place (same time and sequence)."""
        c.agent = None
        self._link(c)
        self._schedule(c, now)
        self._call_match(c, now, out)

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
        if reason not in ("no_answer", "busy", "unreachable"):
            raise err_fail_reason(reason)
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

    def _pause_by_scheduler(self, a: _Agent, reason: str, out: list[Decision]) -> None:
        a.state = PAUSED
        a.reason = reason
        self._set_staffed(a, -1)
        out.append(AgentPaused(a.id, reason))

    def leave(self, call_id: str, now: int, reason: str = "abandoned") -> list[Decision]:
        """A waiting or ringing call left: the caller hung up (`abandoned`) or the daemon sent
        it elsewhere (`overflowed`). A ringing agent becomes ready again."""
        self._advance(now)
        c = self._call(call_id)
        if reason not in ("abandoned", "overflowed"):
            raise err_leave_reason(reason)
        out: list[Decision] = []
        if c.state == ANSWERED:
            raise err_answered(call_id, c.agent.id if c.agent else "")
        del self._calls[call_id]
        if c.state == WAITING:
            self._unlink(c)
        if reason == "abandoned" and c.caller and self._resume_ms and not c.callback:
            expires = now + self._resume_ms
            self._resume[c.caller] = (c.queue.name, c.t, c.seq, expires)
            self._resume_order.append((expires, c.caller))
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
        order = self._resume_order
        while order and order[0][0] < now:
            _, caller = order.popleft()
            old = self._resume.get(caller)
            if old is not None and old[3] < now:
                del self._resume[caller]
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
