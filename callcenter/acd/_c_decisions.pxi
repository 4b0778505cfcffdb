# Decisions of the compiled twin (included by _scheduler_c.pyx): Offer, Overflow and
# AgentPaused built by writing their slots. No pure-Python counterpart: _scheduler_py calls
# the dataclasses. A self-check falls back to calling the class (FAST_DECISIONS says which).

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(PyTypeObject* t, Py_ssize_t n)



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
