# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=False, infer_types=True
"""Compiled ACD scheduler: the same API and the same decisions as `_scheduler_py`.

Where it differs from the reference, only for speed:
- waiting calls and ready agents live in C binary heaps of pointers to C structs (a node
  embedded in each call; an agent's memberships in one C array it owns); each node knows its
  heap index, so removal is an exact O(log n) sift instead of lazy deletion, and comparisons
  never touch Python objects;
- one heap per priority tier and a bit mask of non-empty tiers per pool;
- skills are interned to small integers, so membership tests are C loops;
- the deadline heap is an array of C structs holding a strong reference to its call;
- decisions are built by writing the dataclass slots directly (see _Maker).
Every decision is built from the same keys as the reference, so the two cannot disagree;
the hypothesis tests replay random event streams through both to check it.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF, PyObject, Py_XDECREF, Py_XINCREF


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(PyTypeObject* t, Py_ssize_t n)

from collections import deque

from .types import (
    MAX_PRIORITY,
    STRATEGIES,
    AgentPaused,
    AgentStatus,
    CallStatus,
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

cdef enum:
    NLEVELS = 10  # MAX_PRIORITY + 1; checked at import below

if MAX_PRIORITY + 1 != NLEVELS:
    raise ImportError("callcenter.acd._scheduler_c was built for another MAX_PRIORITY; rebuild it")

cdef enum:
    READY = 0
    RINGING = 1
    BUSY = 2
    WRAP_UP = 3
    PAUSED = 4

cdef enum:
    WAITING = 0
    OFFERED = 1
    ANSWERED = 2
    GONE = 3

cdef enum:
    LONGEST_IDLE = 0
    FEWEST_CALLS = 1
    HIGHEST_SKILL = 2
    ROUND_ROBIN = 3

cdef enum:
    NORMAL = 0
    EXPANDED = 1

cdef enum:
    K_OVERFLOW = 0
    K_EXPAND = 1

AGENT_STATES = ("ready", "ringing", "busy", "wrap_up", "paused")


@cython.final
cdef class _Maker:
    """Builds instances of a slots dataclass without running its Python __init__.

    A frozen dataclass __init__ costs ~1.8 us (object.__setattr__ per field), more than the
    whole routing decision; writing the slots directly costs ~0.1 us. The offsets come from
    the class's own slot descriptors, and a self-check falls back to calling the class."""

    cdef object cls
    cdef Py_ssize_t off[8]
    cdef int n
    cdef bint fast

    def __init__(self, cls, tuple names, tuple sample):
        self.cls = cls
        self.n = len(names)
        self.fast = False
        for i, name in enumerate(names):
            d = cls.__dict__.get(name)
            if type(d).__name__ != "member_descriptor":
                return
            self.off[i] = (<PyMemberDescrObject*>d).d_member.offset
        self.fast = True
        padded = sample + (None,) * (5 - len(sample))
        if self.make(padded[0], padded[1], padded[2], padded[3], padded[4]) != cls(*sample):
            self.fast = False

    cdef object make(self, object a, object b, object c=None, object d=None, object e=None):
        cdef object o
        cdef PyObject* values[5]
        cdef PyObject** slot
        cdef int i
        if not self.fast:
            return self.cls(*(a, b, c, d, e)[:self.n])
        values[0] = <PyObject*>a
        values[1] = <PyObject*>b
        values[2] = <PyObject*>c
        values[3] = <PyObject*>d
        values[4] = <PyObject*>e
        o = PyType_GenericAlloc(<PyTypeObject*>self.cls, 0)
        for i in range(self.n):
            Py_INCREF(<object>values[i])
            slot = <PyObject**>((<char*><PyObject*>o) + self.off[i])
            slot[0] = values[i]
        return o


cdef _Maker OFFER = _Maker(Offer, ("call_id", "agent_id", "queue", "expanded", "callback"),
                           ("c", "a", "q", False, True))
cdef _Maker OVERFLOW = _Maker(Overflow, ("call_id", "queue", "target"), ("c", "q", "t"))
cdef _Maker PAUSED_BY = _Maker(AgentPaused, ("agent_id", "reason"), ("a", "r"))
# True when decisions are built by writing slots (the self-check passed for all three).
FAST_DECISIONS = OFFER.fast and OVERFLOW.fast and PAUSED_BY.fast

CALL_STATES = ("waiting", "offered", "answered", "gone")


# ------------------------------------------------------------------------- C heaps

ctypedef struct CNode:  # a waiting call, embedded in its _Call
    long long t
    long long seq
    Py_ssize_t pos
    int prio
    void* owner

ctypedef struct MNode:  # a ready agent in one pool, embedded in its Member
    long long k1
    long long k2
    long long k3
    Py_ssize_t pos
    void* owner

ctypedef struct Head:  # the (enqueue time, sequence) of the first call of one priority tier
    long long t
    long long seq

ctypedef struct PoolHot:  # what matching reads of a pool, kept together in one place
    unsigned int mask  # bit p set: tier p has waiting calls
    long long weight
    long long expand_ms  # -1: no expansion
    Head heads[NLEVELS]  # valid where the mask bit is set

ctypedef struct Member:  # an agent's place in one pool, in a C array owned by the agent
    void* pool  # borrowed: pools live as long as the scheduler
    PoolHot* hot  # &pool.hot, so matching reads C memory only
    int tier
    long long sum  # the agent's levels summed over the pool's skills (highest_skill)
    MNode node  # node.owner is the _Agent

ctypedef struct CHeap:
    CNode** a
    Py_ssize_t n
    Py_ssize_t cap

ctypedef struct MHeap:
    MNode** a
    Py_ssize_t n
    Py_ssize_t cap

ctypedef struct DEntry:  # a moment at which tick() must look at a call
    long long deadline
    long long kind
    long long seq
    long long version
    PyObject* call  # owned reference

ctypedef struct DHeap:
    DEntry* a
    Py_ssize_t n
    Py_ssize_t cap


cdef inline bint c_less(CNode* x, CNode* y) noexcept nogil:
    return x.t < y.t or (x.t == y.t and x.seq < y.seq)


cdef inline void c_up(CHeap* h, Py_ssize_t i) noexcept nogil:
    cdef CNode* x = h.a[i]
    cdef Py_ssize_t p
    while i > 0:
        p = (i - 1) >> 1
        if not c_less(x, h.a[p]):
            break
        h.a[i] = h.a[p]
        h.a[i].pos = i
        i = p
    h.a[i] = x
    x.pos = i


cdef inline void c_down(CHeap* h, Py_ssize_t i) noexcept nogil:
    cdef CNode* x = h.a[i]
    cdef Py_ssize_t n = h.n
    cdef Py_ssize_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and c_less(h.a[c + 1], h.a[c]):
            c += 1
        if not c_less(h.a[c], x):
            break
        h.a[i] = h.a[c]
        h.a[i].pos = i
        i = c
    h.a[i] = x
    x.pos = i


cdef int c_push(CHeap* h, CNode* x) except -1:
    cdef Py_ssize_t cap
    cdef CNode** a
    if h.n == h.cap:
        cap = h.cap * 2 if h.cap else 8
        a = <CNode**>PyMem_Realloc(h.a, cap * sizeof(CNode*))
        if a == NULL:
            raise MemoryError()
        h.a = a
        h.cap = cap
    h.a[h.n] = x
    h.n += 1
    c_up(h, h.n - 1)
    return 0


cdef inline void c_remove(CHeap* h, CNode* x) noexcept nogil:
    cdef Py_ssize_t i = x.pos
    cdef CNode* y
    h.n -= 1
    if i != h.n:
        y = h.a[h.n]
        h.a[i] = y
        y.pos = i
        if i > 0 and c_less(y, h.a[(i - 1) >> 1]):
            c_up(h, i)
        else:
            c_down(h, i)
    x.pos = -1


cdef Py_ssize_t c_count(CHeap* h, Py_ssize_t i, long long t, long long seq) noexcept nogil:
    """Entries ordered before (t, seq): a pruned walk costing O(answer)."""
    cdef CNode* x
    if i >= h.n:
        return 0
    x = h.a[i]
    if x.t > t or (x.t == t and x.seq >= seq):
        return 0
    return 1 + c_count(h, 2 * i + 1, t, seq) + c_count(h, 2 * i + 2, t, seq)


cdef inline bint m_less(MNode* x, MNode* y) noexcept nogil:
    if x.k1 != y.k1:
        return x.k1 < y.k1
    if x.k2 != y.k2:
        return x.k2 < y.k2
    return x.k3 < y.k3


cdef inline void m_up(MHeap* h, Py_ssize_t i) noexcept nogil:
    cdef MNode* x = h.a[i]
    cdef Py_ssize_t p
    while i > 0:
        p = (i - 1) >> 1
        if not m_less(x, h.a[p]):
            break
        h.a[i] = h.a[p]
        h.a[i].pos = i
        i = p
    h.a[i] = x
    x.pos = i


cdef inline void m_down(MHeap* h, Py_ssize_t i) noexcept nogil:
    cdef MNode* x = h.a[i]
    cdef Py_ssize_t n = h.n
    cdef Py_ssize_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and m_less(h.a[c + 1], h.a[c]):
            c += 1
        if not m_less(h.a[c], x):
            break
        h.a[i] = h.a[c]
        h.a[i].pos = i
        i = c
    h.a[i] = x
    x.pos = i


cdef int m_push(MHeap* h, MNode* x) except -1:
    cdef Py_ssize_t cap
    cdef MNode** a
    if h.n == h.cap:
        cap = h.cap * 2 if h.cap else 8
        a = <MNode**>PyMem_Realloc(h.a, cap * sizeof(MNode*))
        if a == NULL:
            raise MemoryError()
        h.a = a
        h.cap = cap
    h.a[h.n] = x
    h.n += 1
    m_up(h, h.n - 1)
    return 0


cdef inline void m_remove(MHeap* h, MNode* x) noexcept nogil:
    cdef Py_ssize_t i = x.pos
    cdef MNode* y
    h.n -= 1
    if i != h.n:
        y = h.a[h.n]
        h.a[i] = y
        y.pos = i
        if i > 0 and m_less(y, h.a[(i - 1) >> 1]):
            m_up(h, i)
        else:
            m_down(h, i)
    x.pos = -1


cdef inline bint d_less(DEntry* x, DEntry* y) noexcept nogil:
    if x.deadline != y.deadline:
        return x.deadline < y.deadline
    if x.kind != y.kind:
        return x.kind < y.kind
    if x.seq != y.seq:
        return x.seq < y.seq
    return x.version < y.version


cdef int d_push(DHeap* h, long long deadline, long long kind, long long seq,
                long long version, object call) except -1:
    cdef Py_ssize_t cap, i, p
    cdef DEntry* a
    cdef DEntry x
    if h.n == h.cap:
        cap = h.cap * 2 if h.cap else 64
        a = <DEntry*>PyMem_Realloc(h.a, cap * sizeof(DEntry))
        if a == NULL:
            raise MemoryError()
        h.a = a
        h.cap = cap
    x.deadline = deadline
    x.kind = kind
    x.seq = seq
    x.version = version
    x.call = <PyObject*>call
    Py_XINCREF(x.call)
    i = h.n
    h.n += 1
    while i > 0:
        p = (i - 1) >> 1
        if not d_less(&x, &h.a[p]):
            break
        h.a[i] = h.a[p]
        i = p
    h.a[i] = x
    return 0


cdef DEntry d_pop(DHeap* h) noexcept nogil:
    """Remove and return the earliest entry; its reference now belongs to the caller."""
    cdef DEntry top = h.a[0]
    cdef DEntry x
    cdef Py_ssize_t i = 0, c, n
    h.n -= 1
    n = h.n
    if n > 0:
        x = h.a[n]
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and d_less(&h.a[c + 1], &h.a[c]):
                c += 1
            if not d_less(&h.a[c], &x):
                break
            h.a[i] = h.a[c]
            i = c
        h.a[i] = x
    return top


# ------------------------------------------------------------------------- objects

@cython.final
cdef class _Queue:
    cdef str name
    cdef int strategy
    cdef long long weight
    cdef object site
    cdef object overflow_site
    cdef long long expand_ms
    cdef int xlevels
    cdef long long max_ms
    cdef str target
    cdef bint target_callback
    cdef long long aht
    cdef long long rr
    cdef Py_ssize_t waiting
    cdef list pools
    cdef _Pool default

    def __cinit__(self, cfg):
        self.name = cfg.name
        self.strategy = STRATEGIES.index(cfg.strategy)
        self.weight = cfg.weight
        self.site = cfg.site
        self.overflow_site = cfg.overflow_site
        self.expand_ms = -1 if cfg.expand_after is None else cfg.expand_after * 1000
        self.xlevels = cfg.expand_levels
        self.max_ms = -1 if cfg.max_wait is None else cfg.max_wait * 1000
        self.target = cfg.overflow
        self.target_callback = cfg.overflow == "callback"
        self.aht = cfg.handle_time * 1000
        self.rr = 0
        self.waiting = 0
        self.pools = []


@cython.final
cdef class _Pool:
    cdef _Queue queue
    cdef tuple reqs
    cdef int nreq
    cdef int* req_id  # interned skill ids
    cdef int* req_min  # minimum levels
    cdef int* xreq_min  # minimum levels under skill expansion
    cdef PoolHot hot
    cdef CHeap levels[NLEVELS]
    cdef MHeap ready
    cdef MHeap xready
    cdef Py_ssize_t staffed
    cdef bint marked

    def __cinit__(self, _Queue queue, tuple reqs, list ids):
        cdef int i
        self.queue = queue
        self.reqs = reqs
        self.hot.weight = queue.weight
        self.hot.expand_ms = queue.expand_ms
        self.nreq = len(reqs)
        self.req_id = <int*>PyMem_Malloc((self.nreq + 1) * sizeof(int))
        self.req_min = <int*>PyMem_Malloc((self.nreq + 1) * sizeof(int))
        self.xreq_min = <int*>PyMem_Malloc((self.nreq + 1) * sizeof(int))
        if self.req_id == NULL or self.req_min == NULL or self.xreq_min == NULL:
            raise MemoryError()
        for i in range(self.nreq):
            self.req_id[i] = ids[i]
            self.req_min[i] = reqs[i][1]
            self.xreq_min[i] = max(1, self.req_min[i] - queue.xlevels)
        # __cinit__ starts from zeroed memory: every heap is empty with no array yet.

    def __dealloc__(self):
        cdef int p
        for p in range(NLEVELS):
            PyMem_Free(self.levels[p].a)
        PyMem_Free(self.ready.a)
        PyMem_Free(self.xready.a)
        PyMem_Free(self.req_id)
        PyMem_Free(self.req_min)
        PyMem_Free(self.xreq_min)


@cython.final
cdef class _Agent:
    cdef str id
    cdef long long ord
    cdef object site
    cdef dict skills
    cdef int state
    cdef str reason
    cdef long long idle
    cdef long long taken
    cdef long long missed
    cdef _Call call
    cdef long long answered_at
    cdef _Queue answered_q
    cdef dict rr
    cdef int nsk
    cdef int* sk_id  # interned skill ids, parallel to sk_lv
    cdef int* sk_lv
    cdef Member* mem  # memberships, contiguous so matching walks one array
    cdef Py_ssize_t nmem
    cdef Py_ssize_t capmem

    def __cinit__(self, str agent_id, long long ord_, site, long long now):
        self.id = agent_id
        self.ord = ord_
        self.site = site
        self.state = PAUSED
        self.reason = ""
        self.idle = now
        self.answered_at = -1
        self.rr = {}

    def __dealloc__(self):
        PyMem_Free(self.sk_id)
        PyMem_Free(self.sk_lv)
        PyMem_Free(self.mem)


cdef dict fast_skills(object skills, str what):
    """normalize_skills() for the common case (a plain dict of valid levels) without the
    Python call; anything else goes through normalize_skills for its exact messages."""
    cdef object name, level
    if type(skills) is dict:
        for name, level in (<dict>skills).items():
            if type(name) is not str or not name or type(level) is not int \
                    or not 1 <= level <= 10:
                break
        else:
            return dict(<dict>skills)
    return normalize_skills(skills, what)


cdef inline long long as_ms(object now) except? -1:
    """The clock argument: a Python int (a float would be silently truncated by C)."""
    if not isinstance(now, int):
        raise TypeError(f"now must be integer milliseconds, not {type(now).__name__}")
    return now


cdef inline int level_of(_Agent a, int skill) noexcept:
    cdef int i
    for i in range(a.nsk):
        if a.sk_id[i] == skill:
            return a.sk_lv[i]
    return 0


# Calls are never in reference cycles the collector must find (the agent <-> call link is cut
# when the call ends, and at teardown), so they stay out of the garbage collector, which would
# otherwise rescan every waiting call on each full collection.
@cython.final
@cython.no_gc
@cython.freelist(512)  # calls come and go all day: reuse their memory
cdef class _Call:
    cdef str id
    cdef _Queue queue
    cdef _Pool pool
    cdef CNode node
    cdef str caller
    cdef int state
    cdef _Agent agent
    cdef bint callback
    cdef long long version

    def __cinit__(self):
        self.node.pos = -1
        self.node.owner = <void*>self
        self.state = WAITING


cdef _Call new_call(str call_id, _Queue queue, _Pool pool, int prio, long long t,
                    long long seq, str caller):
    cdef _Call c = _Call.__new__(_Call)
    c.id = call_id
    c.queue = queue
    c.pool = pool
    c.node.prio = prio
    c.node.t = t
    c.node.seq = seq
    c.caller = caller
    return c


cdef inline int top_level(PoolHot* h) noexcept nogil:
    """Highest priority tier with waiting calls, or -1."""
    cdef int p = NLEVELS - 1
    if h.mask == 0:
        return -1
    while not (h.mask >> p) & 1:
        p -= 1
    return p


cdef inline int top_old_level(PoolHot* h, long long threshold) noexcept nogil:
    """Highest tier whose first call has waited long enough for expanded agents
    (enqueue time <= threshold), or -1; the first call of a tier is its oldest."""
    cdef int p
    for p in range(NLEVELS - 1, -1, -1):
        if (h.mask >> p) & 1 and h.heads[p].t <= threshold:
            return p
    return -1


# ------------------------------------------------------------------------- scheduler

@cython.final  # no subclasses: cdef methods are called directly, not through a vtable
cdef class Scheduler:
    """Automatic call distribution: who gets which call, decided in O(log n) per event.

    Times are integer milliseconds from one monotonic clock; every mutating method returns
    the decisions it took (`Offer`, `Overflow`, `AgentPaused`), in the order taken.
    """

    cdef long long _missed_limit
    cdef long long _resume_ms
    cdef long long _now
    cdef long long _seq
    cdef long long _tok
    cdef long long _ord
    cdef dict _queues
    cdef dict _pools
    cdef dict _skill_ids  # skill name -> small int, so membership tests are C loops
    cdef list _by_skill  # skill id -> pools whose first required skill it is
    cdef list _no_skill
    cdef dict _agents
    cdef dict _calls
    cdef DHeap _dl
    cdef dict _resume
    cdef object _resume_order

    def __init__(self, queues=(), *, missed_limit=3, resume_window=60):
        for name, value in (("missed_limit", missed_limit), ("resume_window", resume_window)):
            if type(value) is not int or value < 0:
                raise err_option(name, value)
        self._missed_limit = missed_limit
        self._resume_ms = resume_window * 1000
        self._queues = {}
        self._pools = {}
        self._skill_ids = {}
        self._by_skill = []
        self._no_skill = []
        self._agents = {}
        self._calls = {}
        self._resume = {}
        self._resume_order = deque()
        for cfg in queues:
            self.add_queue(cfg)

    def __dealloc__(self):
        cdef Py_ssize_t i
        cdef _Agent a
        for i in range(self._dl.n):
            Py_XDECREF(self._dl.a[i].call)
        PyMem_Free(self._dl.a)
        if self._agents is not None:
            for a in self._agents.values():  # cut the cycles the collector cannot see
                a.call = None

    # ---------------------------------------------------------------- configuration

    def add_queue(self, config):
        """Add a queue; agents already logged in join it at once (one pass over them)."""
        if not isinstance(config, QueueConfig):
            raise SchedulerError(f"add_queue() needs a QueueConfig, not {type(config).__name__}")
        if config.name in self._queues:
            raise err_queue_exists(config.name)
        q = _Queue(config)
        self._queues[q.name] = q
        q.default = self._pool(q, tuple(sorted(config.skills.items())))

    cdef int _skill_id(self, str name) except -1:
        cdef object sid = self._skill_ids.get(name)
        if sid is None:
            sid = len(self._by_skill)
            self._skill_ids[name] = sid
            self._by_skill.append([])
        return sid

    cdef _Pool _pool(self, _Queue q, tuple reqs):
        key = (q.name, reqs)
        cdef _Pool pool = self._pools.get(key)
        cdef _Agent a
        cdef int tier
        if pool is not None:
            return pool
        # A new skill combination: the only place that looks at every logged-in agent.
        pool = _Pool(q, reqs, [self._skill_id(name) for name, _ in reqs])
        self._pools[key] = pool
        q.pools.append(pool)
        if reqs:
            (<list>self._by_skill[pool.req_id[0]]).append(pool)
        else:
            self._no_skill.append(pool)
        for a in self._agents.values():
            tier = self._tier(pool, a)
            if tier >= 0:
                # The member array may move when it grows: take its nodes out of the heaps
                # first and put them back after.
                if a.state == READY:
                    self._leave_ready(a)
                self._join(a, pool, tier)
                if a.state == READY:
                    self._push_all(a)
        return pool

    # ---------------------------------------------------------------- membership

    cdef int _set_agent_skills(self, _Agent a, dict skills) except -1:
        cdef int n = len(skills), i = 0
        a.skills = skills
        PyMem_Free(a.sk_id)
        PyMem_Free(a.sk_lv)
        a.sk_id = <int*>PyMem_Malloc((n + 1) * sizeof(int))
        a.sk_lv = <int*>PyMem_Malloc((n + 1) * sizeof(int))
        if a.sk_id == NULL or a.sk_lv == NULL:
            raise MemoryError()
        for name, level in skills.items():
            a.sk_id[i] = self._skill_id(name)
            a.sk_lv[i] = level
            i += 1
        a.nsk = n
        return 0

    cdef int _tier(self, _Pool pool, _Agent a) except -2:
        cdef _Queue q = pool.queue
        cdef bint site_ok = q.site is None or a.site == q.site
        cdef bint ok
        cdef int i
        if site_ok:
            ok = True
            for i in range(pool.nreq):
                if level_of(a, pool.req_id[i]) < pool.req_min[i]:
                    ok = False
                    break
            if ok:
                return NORMAL
        if q.expand_ms < 0:
            return -1
        if not (site_ok or (q.overflow_site is not None and a.site == q.overflow_site)):
            return -1
        for i in range(pool.nreq):
            if level_of(a, pool.req_id[i]) < pool.xreq_min[i]:
                return -1
        return EXPANDED

    cdef int _join(self, _Agent a, _Pool pool, int tier) except -1:
        """Append a membership; the caller pushes it if the agent is ready."""
        cdef Py_ssize_t cap
        cdef Member* arr
        cdef Member* m
        cdef long long total = 0
        cdef int i
        if a.nmem == a.capmem:
            cap = a.capmem * 2 if a.capmem else 8
            arr = <Member*>PyMem_Realloc(a.mem, cap * sizeof(Member))
            if arr == NULL:
                raise MemoryError()
            a.mem = arr
            a.capmem = cap
        m = &a.mem[a.nmem]
        a.nmem += 1
        for i in range(pool.nreq):
            total += level_of(a, pool.req_id[i])
        m.pool = <void*>pool
        m.hot = &pool.hot
        m.tier = tier
        m.sum = total
        m.node.pos = -1
        m.node.owner = <void*>a
        if tier == NORMAL and a.state != PAUSED:
            pool.staffed += 1
        return 0

    cdef int _build_members(self, _Agent a) except -1:
        cdef _Pool pool
        cdef int tier, i
        # Each pool is filed under exactly one skill, so no pool is seen twice.
        for pool in self._no_skill:
            tier = self._tier(pool, a)
            if tier >= 0:
                self._join(a, pool, tier)
        for i in range(a.nsk):
            for pool in <list>self._by_skill[a.sk_id[i]]:
                tier = self._tier(pool, a)
                if tier >= 0:
                    self._join(a, pool, tier)
        return 0

    cdef int _drop_members(self, _Agent a) except -1:
        cdef Py_ssize_t i
        cdef Member* m
        for i in range(a.nmem):
            m = &a.mem[i]
            if m.node.pos >= 0:
                self._pop_member(m)
            if m.tier == NORMAL and a.state != PAUSED:
                (<_Pool>m.pool).staffed -= 1
        a.nmem = 0
        return 0

    cdef int _push_member(self, _Agent a, Member* m) except -1:
        cdef _Pool pool = <_Pool>m.pool
        cdef int st = pool.queue.strategy
        # Smaller is better; the agent's login order breaks every tie.
        if st == LONGEST_IDLE:
            m.node.k1 = a.idle
            m.node.k2 = 0
        elif st == FEWEST_CALLS:
            m.node.k1 = a.taken
            m.node.k2 = a.idle
        elif st == HIGHEST_SKILL:
            m.node.k1 = -m.sum
            m.node.k2 = a.idle
        else:
            m.node.k1 = a.rr.get(pool.queue, 0)
            m.node.k2 = 0
        m.node.k3 = a.ord
        if m.tier == NORMAL:
            m_push(&pool.ready, &m.node)
        else:
            m_push(&pool.xready, &m.node)
        return 0

    cdef inline void _pop_member(self, Member* m) noexcept:
        if m.tier == NORMAL:
            m_remove(&(<_Pool>m.pool).ready, &m.node)
        else:
            m_remove(&(<_Pool>m.pool).xready, &m.node)

    cdef int _push_all(self, _Agent a) except -1:
        cdef Py_ssize_t i
        for i in range(a.nmem):
            self._push_member(a, &a.mem[i])
        return 0

    cdef int _become_ready(self, _Agent a, long long now, list out) except -1:
        """The agent is free: it takes its best waiting call at once, or else waits in the
        ready heaps of its pools (matching first saves pushing and popping them)."""
        a.state = READY
        if not self._agent_match(a, now, out):
            self._push_all(a)
        return 0

    cdef int _leave_ready(self, _Agent a) except -1:
        cdef Py_ssize_t i
        for i in range(a.nmem):
            if a.mem[i].node.pos >= 0:
                self._pop_member(&a.mem[i])
        return 0

    # ---------------------------------------------------------------- waiting calls

    cdef int _link(self, _Call c) except -1:
        cdef _Pool pool = c.pool
        cdef int p = c.node.prio
        c.state = WAITING
        c_push(&pool.levels[p], &c.node)
        pool.hot.mask |= (1u << p)
        pool.hot.heads[p].t = pool.levels[p].a[0].t
        pool.hot.heads[p].seq = pool.levels[p].a[0].seq
        c.queue.waiting += 1
        return 0

    cdef inline void _unlink(self, _Call c) noexcept:
        cdef _Pool pool = c.pool
        cdef int p = c.node.prio
        c_remove(&pool.levels[p], &c.node)
        if pool.levels[p].n == 0:
            pool.hot.mask &= ~(1u << p)
        else:
            pool.hot.heads[p].t = pool.levels[p].a[0].t
            pool.hot.heads[p].seq = pool.levels[p].a[0].seq
        c.queue.waiting -= 1

    cdef int _schedule(self, _Call c, long long now) except -1:
        """Queue the call's expansion and max_wait moments for tick()."""
        cdef _Queue q = c.queue
        cdef long long t = c.node.t
        self._tok += 1
        c.version = self._tok
        if q.expand_ms >= 0 and t + q.expand_ms > now:
            d_push(&self._dl, t + q.expand_ms, K_EXPAND, c.node.seq, c.version, c)
        if q.max_ms >= 0 and not c.callback:
            d_push(&self._dl, max(t + q.max_ms, now), K_OVERFLOW, c.node.seq, c.version, c)
        return 0

    # ---------------------------------------------------------------- matching

    cdef int _offer(self, _Call c, _Agent a, bint expanded, list out) except -1:
        cdef _Queue q = c.queue
        self._unlink(c)
        c.state = OFFERED
        c.agent = a
        self._leave_ready(a)
        a.state = RINGING
        a.call = c
        if q.strategy == ROUND_ROBIN:
            q.rr += 1
            a.rr[q] = q.rr
        out.append(OFFER.make(c.id, a.id, q.name, True if expanded else False,
                              True if c.callback else False))
        return 0

    cdef int _call_match(self, _Call c, long long now, list out) except -1:
        """A call became available: give it the best ready agent of its pool, if any."""
        cdef _Pool pool = c.pool
        cdef _Queue q
        if pool.ready.n:
            self._offer(c, <_Agent>pool.ready.a[0].owner, False, out)
            return 0
        q = pool.queue
        if q.expand_ms >= 0 and now - c.node.t >= q.expand_ms:
            # Expanded agents choose by the order rule, so an older expanded call of the
            # same pool is not overtaken by this one.
            self._drain_expanded(pool, now, out)
        return 0

    cdef int _drain_expanded(self, _Pool pool, long long now, list out) except -1:
        """Let the pool's ready expanded agents, best first, take calls while it has calls
        old enough for them."""
        cdef long long threshold = now - pool.hot.expand_ms
        while top_old_level(&pool.hot, threshold) >= 0:
            if pool.xready.n == 0:
                break
            if not self._agent_match(<_Agent>pool.xready.a[0].owner, now, out):
                break
        return 0

    cdef int _agent_match(self, _Agent a, long long now, list out) except -1:
        """An agent became ready: give it the best call of all the pools it serves.

        Priority first, then weight x waited milliseconds, then arrival sequence."""
        cdef Member* best = NULL
        cdef Member* m
        cdef PoolHot* h
        cdef int p, bp = -1
        cdef long long w, bw = 0, bs = 0
        cdef Py_ssize_t i
        cdef CNode* x
        for i in range(a.nmem):
            m = &a.mem[i]
            h = m.hot
            if h.mask == 0:
                continue
            if m.tier == NORMAL:
                p = top_level(h)
            else:
                p = top_old_level(h, now - h.expand_ms)
            if p < 0:
                continue
            w = h.weight * (now - h.heads[p].t)
            if (best == NULL or p > bp
                    or (p == bp and (w > bw or (w == bw and h.heads[p].seq < bs)))):
                best = m
                bp = p
                bw = w
                bs = h.heads[p].seq
        if best == NULL:
            return 0
        x = (<_Pool>best.pool).levels[bp].a[0]
        self._offer(<_Call>x.owner, a, best.tier == EXPANDED, out)
        return 1

    # ---------------------------------------------------------------- agent state

    cdef inline int _advance(self, long long now) except -1:
        if now < self._now:
            raise err_time(now, self._now)
        self._now = now
        return 0

    cdef _Agent _agent(self, str agent_id):
        cdef object a = self._agents.get(agent_id)
        if a is None:
            raise err_no_agent(agent_id)
        return <_Agent>a

    cdef int _end_call(self, _Agent a, long long now) except -1:
        """The agent leaves busy: its call is over (feeds the queue's handle-time average)."""
        cdef _Queue q = a.answered_q
        if q is not None:
            # Integer running average (7/8 old + 1/8 new) so both twins round the same way.
            q.aht = (q.aht * 7 + (now - a.answered_at)) // 8
            a.answered_q = None
            a.answered_at = -1
        if a.call is not None:
            del self._calls[a.call.id]
            a.call = None
        a.idle = now
        return 0

    cdef int _set_staffed(self, _Agent a, int delta) except -1:
        cdef Py_ssize_t i
        for i in range(a.nmem):
            if a.mem[i].tier == NORMAL:
                (<_Pool>a.mem[i].pool).staffed += delta
        return 0

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
        if agent_id in self._agents:
            raise err_agent_exists(agent_id)
        if not agent_id:
            raise SchedulerError(f"agent id {agent_id!r} is not a non-empty string")
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

    cdef _Call _call(self, str call_id):
        cdef object c = self._calls.get(call_id)
        if c is None:
            raise err_no_call(call_id)
        return <_Call>c

    cdef _Queue _queue(self, str name):
        cdef object q = self._queues.get(name)
        if q is None:
            raise err_no_queue(name)
        return <_Queue>q

    cdef _Pool _pool_for(self, _Queue q, skills):
        if skills is None:
            return q.default
        return self._pool(q, tuple(sorted(fast_skills(skills, "required skill").items())))

    def enqueue(self, str call_id, str queue, now, *, priority=0, str caller="",
                skills=None, enqueue_time=None):
        """A call starts waiting in `queue`; it may be offered to a ready agent at once.

        `skills` replaces the queue's required skills for this call only. `enqueue_time`
        (default `now`) is kept by callers that re-queue a call without losing its place.
        A caller who abandoned this queue within the resume window gets the old place back.
        """
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        if call_id in self._calls:
            raise err_call_exists(call_id)
        if not call_id:
            raise SchedulerError(f"call id {call_id!r} is not a non-empty string")
        if type(priority) is not int or not 0 <= priority <= MAX_PRIORITY:
            raise err_priority(priority)
        cdef long long t = t_now if enqueue_time is None else as_ms(enqueue_time)
        if t > t_now:
            raise err_enqueue_time(t, t_now)
        cdef _Queue q = self._queue(queue)
        cdef _Pool pool = self._pool_for(q, skills)
        cdef long long seq = -1
        if caller and self._resume:
            old = self._resume.pop(caller, None)
            if old is not None and old[0] == queue and t_now <= old[3]:
                t = old[1]
                seq = old[2]
        if seq < 0:
            self._seq += 1
            seq = self._seq
        cdef _Call c = new_call(call_id, q, pool, priority, t, seq, caller)
        self._calls[call_id] = c
        self._link(c)
        self._schedule(c, t_now)
        cdef list out = []
        self._call_match(c, t_now, out)
        return out

    cdef int _return(self, _Call c, long long now, list out) except -1:
        """An offered call goes back to exactly its old place (same time and sequence)."""
        c.agent = None
        self._link(c)
        self._schedule(c, now)
        self._call_match(c, now, out)
        return 0

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
        if reason not in ("no_answer", "busy", "unreachable"):
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

    cdef int _pause_by_scheduler(self, _Agent a, str reason, list out) except -1:
        a.state = PAUSED
        a.reason = reason
        self._set_staffed(a, -1)
        out.append(PAUSED_BY.make(a.id, reason))
        return 0

    def leave(self, str call_id, now, reason="abandoned"):
        """A waiting or ringing call left: the caller hung up (`abandoned`) or the daemon sent
        it elsewhere (`overflowed`). A ringing agent becomes ready again."""
        cdef long long t_now = as_ms(now)
        self._advance(t_now)
        cdef _Call c = self._call(call_id)
        if reason not in ("abandoned", "overflowed"):
            raise err_leave_reason(reason)
        cdef list out = []
        if c.state == ANSWERED:
            raise err_answered(call_id, c.agent.id if c.agent is not None else "")
        del self._calls[call_id]
        if c.state == WAITING:
            self._unlink(c)
        if reason == "abandoned" and c.caller and self._resume_ms and not c.callback:
            expires = t_now + self._resume_ms
            self._resume[c.caller] = (c.queue.name, c.node.t, c.node.seq, expires)
            self._resume_order.append((expires, c.caller))
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
        order = self._resume_order
        while order and order[0][0] < t_now:
            _, caller = order.popleft()
            old = self._resume.get(caller)
            if old is not None and old[3] < t_now:
                del self._resume[caller]
        return out

    # ---------------------------------------------------------------- queries

    def call_status(self, str call_id):
        """State of a call; for a waiting call its position (1 = next) and estimated wait:
        position x the queue's average handle time / staffed agents of its pool."""
        cdef _Call c = self._call(call_id)
        cdef long long position = 0, wait = 0
        cdef _Pool pool
        cdef int p, prio = c.node.prio
        if c.state == WAITING:
            position = 1
            for pool in c.queue.pools:
                for p in range(prio + 1, NLEVELS):
                    position += pool.levels[p].n
                position += c_count(&pool.levels[prio], 0, c.node.t, c.node.seq)
            wait = position * c.queue.aht // max(1, c.pool.staffed)
        agent_id = c.agent.id if c.agent is not None else None
        return CallStatus(c.id, c.queue.name, CALL_STATES[c.state], prio, c.node.t, position,
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
