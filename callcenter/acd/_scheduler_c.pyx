# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=False, infer_types=True
"""Compiled ACD scheduler: the same API and the same decisions as `_scheduler_py`.

One extension module: this file (mirrors _scheduler_py.py, the public API and its state
machine) plus the files it includes, _c_objects.pxi (mirrors _py_objects.py) and
_c_core.pxi (mirrors _py_core.py), _c_decisions.pxi, and _heap.pxd, the one C heap.
Checks and shared rules are not mirrored: both twins call acd._control and acd.rules
(docs/scheduler.md: where the compiled twin differs, only for speed).
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF, PyObject, Py_XDECREF

from callcenter.acd._heap cimport (
    DEntry,
    DHeap,
    Heap,
    Node,
    d_pop,
    d_push,
    heap_count_before,
    heap_push,
    heap_remove,
)

from callcenter.site.limits import LIMITS

from ._control import (
    FAIL_REASONS,
    LEAVE_REASONS,
    Resume,
    check_agent,
    check_call,
    check_options,
    check_queue,
    next_handle_time,
    queue_site,
)
from .types import (
    MAX_PRIORITY,
    STRATEGIES,
    AgentPaused,
    AgentStatus,
    CallStatus,
    Offer,
    Overflow,
    QueueStatus,
    err_answered,
    err_fail_reason,
    err_leave_reason,
    err_no_agent,
    err_no_call,
    err_no_queue,
    err_not_offered,
    err_not_waiting,
    err_ringing,
    err_time,
    normalize_skills,
)

__all__ = ["Scheduler"]

include "_c_decisions.pxi"
include "_c_objects.pxi"
include "_c_core.pxi"


@cython.final
cdef class Scheduler(_Core):
    """Automatic call distribution: who gets which call, decided in O(log n) per event.

    Times are integer milliseconds from one monotonic clock; every mutating method returns
    the decisions it took (`Offer`, `Overflow`, `AgentPaused`), in the order taken.
    """

    def __init__(self, queues=(), *, missed_limit=3, resume_window=60):
        _Core.__init__(self, *check_options(missed_limit, resume_window))
        for cfg in queues:
            self.add_queue(cfg)

    # ---------------------------------------------------------------- configuration

    def add_queue(self, config):
        """Add a queue; agents already logged in join it at once (one pass over them)."""
        check_queue(config, self._queues)
        q = _Queue(config)
        self._queues[q.name] = q
        q.default = self._pool(q, tuple(sorted(config.skills.items())))

    # ---------------------------------------------------------------- agent state

    cdef list _move(self, str agent_id, long long now, int state, str reason):
        self._advance(now)
        cdef _Agent a = self._agent(agent_id)
        cdef int old = a.state
        if old == RINGING:
            raise err_ringing(agent_id, a.call.id if a.call is not None else "")
        cdef list out = []
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

    def login(self, str agent_id, now, *, site="", skills=None):
        """Log an agent in as ready; it may be offered a waiting call at once."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        check_agent(agent_id, self._agents)
        norm = fast_skills(skills, "skill")
        self._ord += 1
        cdef _Agent a = _Agent(agent_id, self._ord, site, t_now)
        self._set_agent_skills(a, norm)
        self._agents[agent_id] = a
        self._build_members(a)  # built while paused, so no heap entries yet
        self._set_staffed(a, 1)
        cdef list out = []
        self._become_ready(a, t_now, out)
        return out

    def logout(self, str agent_id, now):
        """Log an agent out; a call ringing it goes back to its place in the queue."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Agent a = self._agent(agent_id)
        cdef list out = []
        cdef _Call c = a.call
        if a.state == BUSY:
            self._end_call(a, t_now)
        elif a.state == READY:
            self._leave_ready(a)
        self._drop_members(a)
        del self._agents[agent_id]
        if a.state == RINGING and c is not None:
            a.call = None
            self._return(c, t_now, out)
        a.state = PAUSED
        return out

    def ready(self, str agent_id, now):
        """The agent can take calls; it may be offered one at once."""
        cdef long long t_now = as_ms(now)
        return self._move(agent_id, t_now, READY, "")

    def pause(self, str agent_id, now, str reason="break"):
        """The agent stops taking calls, with a reason code (break, lunch, training, ...)."""
        cdef long long t_now = as_ms(now)
        return self._move(agent_id, t_now, PAUSED, reason)

    def busy(self, str agent_id, now):
        """The agent is on a call the ACD did not give it (direct or outbound)."""
        cdef long long t_now = as_ms(now)
        return self._move(agent_id, t_now, BUSY, "")

    def wrap_up(self, str agent_id, now):
        """The agent's call ended and it is doing after-call work."""
        cdef long long t_now = as_ms(now)
        return self._move(agent_id, t_now, WRAP_UP, "")

    def set_skills(self, str agent_id, now, skills):
        """Replace an agent's skills; a ready agent may be offered a call at once."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Agent a = self._agent(agent_id)
        norm = fast_skills(skills, "skill")
        self._drop_members(a)
        self._set_agent_skills(a, norm)
        self._build_members(a)
        cdef list out = []
        if a.state == READY and not self._agent_match(a, t_now, out):
            self._push_all(a)
        return out

    # ---------------------------------------------------------------- calls

    def enqueue(self, str call_id, str queue, now, *, priority=0, str caller="",
                skills=None, enqueue_time=None):
        """A call starts waiting in `queue`; it may be offered to a ready agent at once.

        `skills` replaces the queue's required skills for this call. `enqueue_time` (default
        `now`) keeps a re-queued call's place; so does calling back within the resume window.
        """
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef long long t = check_call(call_id, self._calls, priority, enqueue_time, t_now)
        cdef _Queue q = self._queue(queue)
        cdef _Pool pool = self._pool_for(q, skills)
        cdef long long seq
        place = self._resume.take(caller, queue, t_now) if caller else None
        if place is not None:
            t, seq = place
        else:
            self._seq += 1
            seq = self._seq
        cdef _Call c = new_call(call_id, q, pool, priority, t, seq, caller)
        self._calls[call_id] = c
        self._link(c)
        self._schedule(c, t_now)
        cdef list out = []
        self._call_match(c, t_now, out)
        return out

    def answered(self, str call_id, now):
        """The agent answered an offered call: the agent is busy, the call has left the queue."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Call c = self._call(call_id)
        if c.state != OFFERED:
            raise err_not_offered(call_id, CALL_STATES[c.state])
        cdef _Agent a = c.agent
        c.state = ANSWERED
        a.state = BUSY
        a.taken += 1
        a.missed = 0
        a.answered_at = t_now
        a.answered_q = c.queue
        return []

    def offer_failed(self, str call_id, now, reason):
        """An offer did not connect. `no_answer`: the agent stays available (paused "missed"
        after `missed_limit` in a row); `busy`/`unreachable`: the agent is paused with that
        reason. Either way the call goes back to its old place and is offered again."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Call c = self._call(call_id)
        if reason not in FAIL_REASONS:
            raise err_fail_reason(reason)
        if c.state != OFFERED:
            raise err_not_offered(call_id, CALL_STATES[c.state])
        cdef _Agent a = c.agent
        a.call = None
        cdef list out = []
        if reason == "no_answer":
            a.missed += 1
            if self._missed_limit and a.missed >= self._missed_limit:
                a.missed = 0
                self._pause_by_scheduler(a, "missed", out)
                self._return(c, t_now, out)
            else:
                # The call is matched before the agent is ready again, so another free agent
                # gets it first; the same agent gets it back only if nobody else can.
                self._return(c, t_now, out)
                self._become_ready(a, t_now, out)
        else:
            self._pause_by_scheduler(a, reason, out)
            self._return(c, t_now, out)
        return out

    def leave(self, str call_id, now, reason="abandoned"):
        """A waiting or ringing call left: the caller hung up (`abandoned`) or the daemon sent
        it elsewhere (`overflowed`). A ringing agent becomes ready again."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Call c = self._call(call_id)
        if reason not in LEAVE_REASONS:
            raise err_leave_reason(reason)
        cdef list out = []
        if c.state == ANSWERED:
            raise err_answered(call_id, c.agent.id if c.agent is not None else "")
        del self._calls[call_id]
        if c.state == WAITING:
            self._unlink(c)
        if c.caller:
            self._resume.left(reason, c.caller, c.callback, c.queue.name, c.node.k1,
                              c.node.k2, t_now)
        c.state = GONE
        cdef _Agent a = c.agent
        if a is not None:
            a.call = None
            self._become_ready(a, t_now, out)
        return out

    def transfer(self, str call_id, str queue, now, *, skills=None):
        """Move a waiting or answered call to another queue keeping its enqueue time, sequence
        and priority. An answering agent stays busy until it is put into wrap-up or ready."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Call c = self._call(call_id)
        cdef _Queue q = self._queue(queue)
        cdef _Pool pool = self._pool_for(q, skills)
        cdef _Agent a = c.agent
        if c.state == OFFERED:
            raise err_ringing(a.id if a is not None else "", call_id)
        if c.state == WAITING:
            self._unlink(c)
        else:  # answered: the call leaves the agent, whose busy time keeps running
            if a is not None:
                a.call = None
            c.agent = None
        c.queue = q
        c.pool = pool
        self._link(c)
        self._schedule(c, t_now)
        cdef list out = []
        self._call_match(c, t_now, out)
        return out

    def to_callback(self, str call_id, now):
        """Turn a waiting call into a callback request that keeps its place in the queue.

        It is offered like any call (Offer.callback is true) only when an agent is free for
        it, so callbacks in flight never outnumber the agents reserved for them; max_wait no
        longer applies."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Call c = self._call(call_id)
        if c.state != WAITING:
            raise err_not_waiting(call_id, CALL_STATES[c.state], "become a callback")
        c.callback = True
        return []

    def tick(self, now):
        """Apply the time rules due by `now`: overflow after max_wait, skill expansion after
        expand_after. Call it about once a second."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef list out = []
        cdef list marked = []
        cdef DEntry e
        cdef _Call c
        cdef _Queue q
        cdef _Pool pool
        while self._dl.n > 0 and self._dl.a[0].deadline <= t_now:
            e = d_pop(&self._dl)
            c = <_Call>e.call
            Py_XDECREF(e.call)  # `c` holds its own reference t_now
            if c.version != e.version or c.state != WAITING:
                continue
            if e.kind == K_OVERFLOW:
                if c.callback:
                    continue
                q = c.queue
                if q.target_callback:
                    c.callback = True
                else:
                    self._unlink(c)
                    del self._calls[c.id]
                    c.state = GONE
                out.append(OVERFLOW.make(c.id, q.name, q.target))
            elif not c.pool.marked:
                c.pool.marked = True
                marked.append(c.pool)
        for pool in marked:
            pool.marked = False
            self._drain_expanded(pool, t_now, out)
        self._resume.expire(t_now)
        return out

    # ---------------------------------------------------------------- queries

    def call_status(self, str call_id):
        """State of a call; for a waiting call its position (1 = next) and estimated wait:
        position x the queue's average handle time / staffed agents of its pool."""
        cdef _Call c = self._call(call_id)
        cdef long long position = 0, wait = 0
        cdef _Pool pool
        cdef int p, prio = c.prio
        if c.state == WAITING:
            position = 1
            for pool in c.queue.pools:
                for p in range(prio + 1, NLEVELS):
                    position += pool.levels[p].n
                position += heap_count_before(&pool.levels[prio], 0, &c.node)
            wait = position * c.queue.aht // max(1, c.pool.staffed)
        agent_id = c.agent.id if c.agent is not None else None
        return CallStatus(c.id, c.queue.name, CALL_STATES[c.state], prio, c.node.k1, position,
                          wait, agent_id, bool(c.callback))

    def agent_status(self, str agent_id):
        cdef _Agent a = self._agent(agent_id)
        return AgentStatus(a.id, AGENT_STATES[a.state], a.reason,
                           a.call.id if a.call is not None else None, a.site, dict(a.skills),
                           a.missed, a.taken, a.idle)

    def queue_status(self, str queue):
        cdef _Queue q = self._queue(queue)
        return QueueStatus(q.name, q.waiting, q.default.staffed, q.aht)

    @property
    def now(self):
        """The latest time the scheduler was given (milliseconds)."""
        return self._now
