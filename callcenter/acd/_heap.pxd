# cython: language_level=3
"""The compiled twin's one binary heap, used for waiting calls and for ready agents.

A heap holds pointers to `Node`s embedded in their owners (a call, an agent's membership);
each node knows its index, so removal is an exact O(log n) sift instead of the pure-Python
twin's lazy deletion. Nodes compare by (k1, k2, k3), smaller first: a call is
(enqueue time, sequence, 0), an agent its strategy key (see _c_core.pxi `_push_member`).
The deadline heap (tick()'s moments) is apart: it holds entries by value with an owned
reference to their call, and stale entries are skipped, as in the pure-Python twin.
Inline functions only, so cimporting this file adds no module at run time.
"""

from cpython.mem cimport PyMem_Realloc
from cpython.ref cimport PyObject, Py_XINCREF


ctypedef struct Node:
    long long k1
    long long k2
    long long k3
    Py_ssize_t pos  # index in its heap, -1 when in none
    void* owner  # borrowed: the _Call or _Agent the node is embedded in


ctypedef struct Heap:
    Node** a
    Py_ssize_t n
    Py_ssize_t cap


cdef inline bint node_less(Node* x, Node* y) noexcept nogil:
    if x.k1 != y.k1:
        return x.k1 < y.k1
    if x.k2 != y.k2:
        return x.k2 < y.k2
    return x.k3 < y.k3


cdef inline void heap_up(Heap* h, Py_ssize_t i) noexcept nogil:
    cdef Node* x = h.a[i]
    cdef Py_ssize_t p
    while i > 0:
        p = (i - 1) >> 1
        if not node_less(x, h.a[p]):
            break
        h.a[i] = h.a[p]
        h.a[i].pos = i
        i = p
    h.a[i] = x
    x.pos = i


cdef inline void heap_down(Heap* h, Py_ssize_t i) noexcept nogil:
    cdef Node* x = h.a[i]
    cdef Py_ssize_t n = h.n
    cdef Py_ssize_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and node_less(h.a[c + 1], h.a[c]):
            c += 1
        if not node_less(h.a[c], x):
            break
        h.a[i] = h.a[c]
        h.a[i].pos = i
        i = c
    h.a[i] = x
    x.pos = i


cdef inline int heap_push(Heap* h, Node* x) except -1:
    cdef Py_ssize_t cap
    cdef Node** a
    if h.n == h.cap:
        cap = h.cap * 2 if h.cap else 8
        a = <Node**>PyMem_Realloc(h.a, cap * sizeof(Node*))
        if a == NULL:
            raise MemoryError()
        h.a = a
        h.cap = cap
    h.a[h.n] = x
    h.n += 1
    heap_up(h, h.n - 1)
    return 0


cdef inline void heap_remove(Heap* h, Node* x) noexcept nogil:
    cdef Py_ssize_t i = x.pos
    cdef Node* y
    h.n -= 1
    if i != h.n:
        y = h.a[h.n]
        h.a[i] = y
        y.pos = i
        if i > 0 and node_less(y, h.a[(i - 1) >> 1]):
            heap_up(h, i)
        else:
            heap_down(h, i)
    x.pos = -1


cdef inline Py_ssize_t heap_count_before(Heap* h, Py_ssize_t i, Node* x) noexcept nogil:
    """Entries of the subtree at `i` ordered before `x`: a pruned walk costing O(answer)."""
    if i >= h.n or not node_less(h.a[i], x):
        return 0
    return 1 + heap_count_before(h, 2 * i + 1, x) + heap_count_before(h, 2 * i + 2, x)


# ------------------------------------------------------------------------- deadlines

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


cdef inline bint d_less(DEntry* x, DEntry* y) noexcept nogil:
    if x.deadline != y.deadline:
        return x.deadline < y.deadline
    if x.kind != y.kind:
        return x.kind < y.kind
    if x.seq != y.seq:
        return x.seq < y.seq
    return x.version < y.version


cdef inline int d_push(DHeap* h, long long deadline, long long kind, long long seq,
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


cdef inline DEntry d_pop(DHeap* h) noexcept nogil:
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
