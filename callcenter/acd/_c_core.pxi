# The compiled twin's machinery (included by _scheduler_c.pyx): pools, memberships, waiting
# calls and matching over the C heaps of _heap.pxd. Mirrors _py_core.py step for step (the
# docstrings are there); shared rules come from acd._control and acd.rules. Every method is
# final so calls are direct C calls, not through the vtable a base class would otherwise use.


cdef class _Core:
    """State and internal steps; `Scheduler` adds the checked public API on top."""

    cdef long long _missed_limit
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
    cdef object _resume  # acd._control.Resume

    def __init__(self, long long missed_limit, long long resume_ms):
        self._missed_limit = missed_limit
        self._queues = {}
        self._pools = {}
        self._skill_ids = {}
        self._by_skill = []
        self._no_skill = []
        self._agents = {}
        self._calls = {}
        self._resume = Resume(resume_ms)

    def __dealloc__(self):
        cdef Py_ssize_t i
        cdef _Agent a
        for i in range(self._dl.n):
            Py_XDECREF(self._dl.a[i].call)
        PyMem_Free(self._dl.a)
        if self._agents is not None:
            for a in self._agents.values():  # cut the cycles the collector cannot see
                a.call = None

    @cython.final
    cdef int _skill_id(self, str name) except -1:
        cdef object sid = self._skill_ids.get(name)
        if sid is None:
            sid = len(self._by_skill)
            self._skill_ids[name] = sid
            self._by_skill.append([])
        return sid

    @cython.final
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

    @cython.final
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

    @cython.final
    cdef int _tier(self, _Pool pool, _Agent a) except -2:
        # The NORMAL test mirrors acd.rules.serves (queue site None or equal, every required
        # level met); the twin-comparison tests hold the two to the same answers.
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

    @cython.final
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

    @cython.final
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

    @cython.final
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

    @cython.final
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
            heap_push(&pool.ready, &m.node)
        else:
            heap_push(&pool.xready, &m.node)
        return 0

    @cython.final
    cdef inline void _pop_member(self, Member* m) noexcept:
        if m.tier == NORMAL:
            heap_remove(&(<_Pool>m.pool).ready, &m.node)
        else:
            heap_remove(&(<_Pool>m.pool).xready, &m.node)

    @cython.final
    cdef int _push_all(self, _Agent a) except -1:
        cdef Py_ssize_t i
        for i in range(a.nmem):
            self._push_member(a, &a.mem[i])
        return 0

    @cython.final
    cdef int _become_ready(self, _Agent a, long long now, list out) except -1:
        a.state = READY
        if not self._agent_match(a, now, out):
            self._push_all(a)
        return 0

    @cython.final
    cdef int _leave_ready(self, _Agent a) except -1:
        cdef Py_ssize_t i
        for i in range(a.nmem):
            if a.mem[i].node.pos >= 0:
                self._pop_member(&a.mem[i])
        return 0

    # ---------------------------------------------------------------- waiting calls

    @cython.final
    cdef int _link(self, _Call c) except -1:
        cdef _Pool pool = c.pool
        cdef int p = c.prio
        c.state = WAITING
        heap_push(&pool.levels[p], &c.node)
        pool.hot.mask |= (1u << p)
        pool.hot.heads[p].t = pool.levels[p].a[0].k1
        pool.hot.heads[p].seq = pool.levels[p].a[0].k2
        c.queue.waiting += 1
        return 0

    @cython.final
    cdef inline void _unlink(self, _Call c) noexcept:
        cdef _Pool pool = c.pool
        cdef int p = c.prio
        heap_remove(&pool.levels[p], &c.node)
        if pool.levels[p].n == 0:
            pool.hot.mask &= ~(1u << p)
        else:
            pool.hot.heads[p].t = pool.levels[p].a[0].k1
            pool.hot.heads[p].seq = pool.levels[p].a[0].k2
        c.queue.waiting -= 1

    @cython.final
    cdef int _schedule(self, _Call c, long long now) except -1:
        cdef _Queue q = c.queue
        cdef long long t = c.node.k1
        self._tok += 1
        c.version = self._tok
        if q.expand_ms >= 0 and t + q.expand_ms > now:
            d_push(&self._dl, t + q.expand_ms, K_EXPAND, c.node.k2, c.version, c)
        if q.max_ms >= 0 and not c.callback:
            d_push(&self._dl, max(t + q.max_ms, now), K_OVERFLOW, c.node.k2, c.version, c)
        return 0

    # ---------------------------------------------------------------- matching

    @cython.final
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

    @cython.final
    cdef int _call_match(self, _Call c, long long now, list out) except -1:
        cdef _Pool pool = c.pool
        cdef _Queue q
        if pool.ready.n:
            self._offer(c, <_Agent>pool.ready.a[0].owner, False, out)
            return 0
        q = pool.queue
        if q.expand_ms >= 0 and now - c.node.k1 >= q.expand_ms:
            # Expanded agents choose by the order rule, so an older expanded call of the
            # same pool is not overtaken by this one.
            self._drain_expanded(pool, now, out)
        return 0

    @cython.final
    cdef int _drain_expanded(self, _Pool pool, long long now, list out) except -1:
        cdef long long threshold = now - pool.hot.expand_ms
        while top_old_level(&pool.hot, threshold) >= 0:
            if pool.xready.n == 0:
                break
            if not self._agent_match(<_Agent>pool.xready.a[0].owner, now, out):
                break
        return 0

    @cython.final
    cdef int _agent_match(self, _Agent a, long long now, list out) except -1:
        # Priority first, then weight x waited milliseconds, then arrival sequence.
        cdef Member* best = NULL
        cdef Member* m
        cdef PoolHot* h
        cdef int p, bp = -1
        cdef long long w, bw = 0, bs = 0
        cdef Py_ssize_t i
        cdef Node* x
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

    @cython.final
    cdef int _end_call(self, _Agent a, long long now) except -1:
        cdef _Queue q = a.answered_q
        if q is not None:
            q.aht = next_handle_time(q.aht, now - a.answered_at)
            a.answered_q = None
            a.answered_at = -1
        if a.call is not None:
            del self._calls[a.call.id]
            a.call = None
        a.idle = now
        return 0

    @cython.final
    cdef int _set_staffed(self, _Agent a, int delta) except -1:
        cdef Py_ssize_t i
        for i in range(a.nmem):
            if a.mem[i].tier == NORMAL:
                (<_Pool>a.mem[i].pool).staffed += delta
        return 0

    @cython.final
    cdef int _return(self, _Call c, long long now, list out) except -1:
        c.agent = None
        self._link(c)
        self._schedule(c, now)
        self._call_match(c, now, out)
        return 0

    @cython.final
    cdef int _pause_by_scheduler(self, _Agent a, str reason, list out) except -1:
        a.state = PAUSED
        a.reason = reason
        self._set_staffed(a, -1)
        out.append(PAUSED_BY.make(a.id, reason))
        return 0

    # ---------------------------------------------------------------- look-ups

    @cython.final
    cdef inline int _advance(self, long long now) except -1:
        if now < self._now:
            raise err_time(now, self._now)
        self._now = now
        return 0

    @cython.final
    cdef _Agent _agent(self, str agent_id):
        cdef object a = self._agents.get(agent_id)
        if a is None:
            raise err_no_agent(agent_id)
        return <_Agent>a

    @cython.final
    cdef _Call _call(self, str call_id):
        cdef object c = self._calls.get(call_id)
        if c is None:
            raise err_no_call(call_id)
        return <_Call>c

    @cython.final
    cdef _Queue _queue(self, str name):
        cdef object q = self._queues.get(name)
        if q is None:
            raise err_no_queue(name)
        return <_Queue>q

    @cython.final
    cdef _Pool _pool_for(self, _Queue q, skills):
        if skills is None:
            return q.default
        return self._pool(q, tuple(sorted(fast_skills(skills, "required skill").items())))
