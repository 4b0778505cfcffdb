# The compiled twin's objects (included by _scheduler_c.pyx): states, pools, agents, calls.
# Mirrors _py_objects.py; what differs is only for speed (C arrays, interned skill ids, nodes
# embedded in their owners, see _heap.pxd). Keep the two in step.

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
    Node node  # node.owner is the _Agent

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
        self.site = queue_site(cfg)
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
    cdef Heap levels[NLEVELS]  # waiting calls per priority tier
    cdef Heap ready  # ready agents serving the pool fully
    cdef Heap xready  # ready agents serving it only by skill expansion
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


cdef long long LEVEL_LO = LIMITS["skill.level"].lo
cdef long long LEVEL_HI = LIMITS["skill.level"].hi


cdef dict fast_skills(object skills, str what):
    """normalize_skills() for the common case (a plain dict of valid levels) without the
    Python call; anything else goes through normalize_skills for its exact messages."""
    cdef object name, level
    if type(skills) is dict:
        for name, level in (<dict>skills).items():
            if type(name) is not str or not name or type(level) is not int \
                    or not LEVEL_LO <= level <= LEVEL_HI:
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
    cdef Node node  # (enqueue time, sequence, 0) in its tier's heap
    cdef int prio
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
    c.prio = prio
    c.node.k1 = t
    c.node.k2 = seq
    c.node.k3 = 0
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
