"""The pure-Python twin's objects and heap helpers (queues, pools, agents, memberships,
calls). `_c_objects.pxi` holds the compiled twin's counterparts; docs/scheduler.md maps them.

Data layout (every event costs O(k log n), k = routing pools an agent belongs to):
- a *pool* is a queue plus the required skills its calls carry (the queue's own, or a call's
  override). Each pool keeps one heap of waiting calls per priority tier, ordered by
  (enqueue time, sequence), and two heaps of ready agents (fully qualified / qualified only by
  skill expansion), ordered by the queue's strategy key;
- heaps use lazy deletion: an entry carries a token that must still match its object;
- time-driven rules (expansion, max_wait) come from one deadline heap drained by `tick()`.
"""

from __future__ import annotations

from heapq import heapify, heappop

from ._control import queue_site
from .types import MAX_PRIORITY, STRATEGIES, QueueConfig

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
        self.site = queue_site(cfg)
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
    __slots__ = ("levels", "live", "marked", "queue", "ready", "ready_live", "req_map", "reqs",
                 "staffed", "xready", "xready_live", "xreqs")

    def __init__(self, queue: _Queue, reqs: tuple[tuple[str, int], ...]) -> None:
        self.queue = queue
        self.reqs = reqs
        self.req_map = dict(reqs)  # as acd.rules.serves takes it
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


def _peek(heap: list) -> _Call | _Member | None:
    """The live object at the top of a lazily deleted heap, dropping dead entries on the way.
    Every entry ends with (token, object): it is live while the object still holds the token.
    Waiting calls and ready agents use this one heap (_heap.pxd is the compiled one)."""
    while heap:
        e = heap[0]
        if e[-2] == e[-1].token:
            return e[-1]
        heappop(heap)
    return None


def _prune(heap: list, live: int) -> None:
    """Rebuild a heap that holds too many dead entries, so memory stays proportional to the
    live ones."""
    if len(heap) > 2 * live + 32:
        heap[:] = [e for e in heap if e[-2] == e[-1].token]
        heapify(heap)


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
