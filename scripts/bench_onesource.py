#!/usr/bin/env python3
"""Measures the layout the scheduler did not keep: one Python source compiled by Cython with
a .pxd adding types (as aiohttp builds its websocket reader), against the same workload as
scripts/bench_scheduler.py. Not a test; docs/scheduler.md has the figures and the choice.

The pure-Python twin's three modules are joined into one module in a temporary directory
(relative imports made absolute, static methods made plain methods, which Cython needs to
call them as cdef methods), compiled with ONESOURCE_PXD below, imported and benchmarked in a
child process. Needs Cython and a C compiler in this Python (`pip install Cython`).

Usage: scripts/bench_onesource.py [--events N] [--repeat R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACD = ROOT / "callcenter" / "acd"
PARTS = ["_py_objects.py", "_py_core.py", "_scheduler_py.py"]
MODULE = "cc_onesource"

# Types for the joined source: every class a cdef class, the internal steps cdef methods.
ONESOURCE_PXD = """
cimport cython

cdef class _Queue:
    cdef public long long aht, expand_ms, max_ms, rr, weight
    cdef public Py_ssize_t waiting
    cdef public int strategy, xlevels
    cdef public object default, name, overflow_site, site, target
    cdef public list pools

cdef class _Pool:
    cdef public list levels, live, ready, xready
    cdef public _Queue queue
    cdef public tuple reqs, xreqs
    cdef public dict req_map
    cdef public Py_ssize_t ready_live, xready_live, staffed
    cdef public bint marked

cdef class _Agent:
    cdef public long long answered_at, idle, missed, ord, taken
    cdef public object answered_q, call, id, reason, site, state
    cdef public dict skills, rr
    cdef public list members

cdef class _Member:
    cdef public _Agent agent
    cdef public _Pool pool
    cdef public long long sum, token
    cdef public int tier

cdef class _Call:
    cdef public object agent, caller, id, state
    cdef public bint callback
    cdef public _Pool pool
    cdef public _Queue queue
    cdef public int prio
    cdef public long long seq, t, token, version

@cython.locals(a=_Agent, st=cython.int)
cdef tuple _member_key(_Member m)

@cython.locals(e=tuple)
cdef object _peek(list heap)

cdef _prune(list heap, Py_ssize_t live)

cdef class _Core:
    cdef long long _missed_limit, _now, _seq, _tok, _ord
    cdef dict _queues, _pools, _by_skill, _agents, _calls
    cdef list _no_skill, _deadlines
    cdef object _resume

    cdef _Pool _pool(self, _Queue q, tuple reqs)
    @cython.locals(q=_Queue)
    cdef int _tier(self, _Pool pool, _Agent a)
    @cython.locals(m=_Member)
    cdef _join(self, _Agent a, _Pool pool, int tier)
    @cython.locals(pool=_Pool, tier=cython.int)
    cdef _build_members(self, _Agent a)
    @cython.locals(m=_Member)
    cdef _drop_members(self, _Agent a)
    @cython.locals(pool=_Pool, live=cython.Py_ssize_t, heap=list)
    cdef _push_member(self, _Member m)
    cdef _pop_member(self, _Member m)
    @cython.locals(m=_Member)
    cdef _become_ready(self, _Agent a, long long now, list out)
    @cython.locals(m=_Member)
    cdef _leave_ready(self, _Agent a)
    @cython.locals(pool=_Pool, heap=list)
    cdef _link(self, _Call c)
    cdef _unlink(self, _Call c)
    @cython.locals(q=_Queue)
    cdef _schedule(self, _Call c, long long now)
    @cython.locals(p=cython.int)
    cdef _Call _top_call(self, _Pool pool)
    @cython.locals(p=cython.int, c=_Call)
    cdef _Call _top_old_call(self, _Pool pool, long long threshold)
    @cython.locals(q=_Queue)
    cdef _offer(self, _Call c, _Agent a, bint expanded, list out)
    @cython.locals(pool=_Pool, m=_Member, q=_Queue)
    cdef _call_match(self, _Call c, long long now, list out)
    @cython.locals(threshold=cython.longlong, m=_Member)
    cdef _drain_expanded(self, _Pool pool, long long now, list out)
    @cython.locals(best=_Call, c=_Call, m=_Member, pool=_Pool, q=_Queue, best_tier=cython.int,
                   bp=cython.int, bw=cython.longlong, bs=cython.longlong, w=cython.longlong)
    cdef bint _agent_match(self, _Agent a, long long now, list out) except -1
    @cython.locals(q=_Queue, c=_Call)
    cdef _end_call(self, _Agent a, long long now)
    @cython.locals(m=_Member)
    cdef _set_staffed(self, _Agent a, int delta)
    cdef _return(self, _Call c, long long now, list out)
    cdef _pause_by_scheduler(self, _Agent a, reason, list out)
    cdef _advance(self, now)
    cdef _Agent _agent(self, agent_id)
    cdef _Call _call(self, call_id)
    cdef _Queue _queue(self, name)
    cdef _Pool _pool_for(self, _Queue q, skills)

cdef class Scheduler(_Core):
    @cython.locals(a=_Agent)
    cdef list _move(self, agent_id, long long now, state, reason)
"""


def joined_source() -> str:
    """The three pure-Python modules as one importable module."""
    out: list[str] = ["from __future__ import annotations"]
    for name in PARTS:
        text = (ACD / name).read_text(encoding="utf-8")
        text = text.replace("from __future__ import annotations\n", "")
        # imports of the other parts: their names are now in this module
        text = re.sub(r"from \._py_(objects|core) import \([^)]*\)\n", "", text)
        text = re.sub(r"from \._py_(objects|core) import [^\n]*\n", "", text)
        text = text.replace("from .", "from callcenter.acd.")
        text = re.sub(r"    @staticmethod\n    def (\w+)\(", r"    def \1(self, ", text)
        out.append(text)
    return "\n".join(out)


def build(where: Path) -> None:
    (where / f"{MODULE}.py").write_text(joined_source(), encoding="utf-8")
    (where / f"{MODULE}.pxd").write_text(ONESOURCE_PXD, encoding="utf-8")
    (where / "setup_onesource.py").write_text(
        "from Cython.Build import cythonize\nfrom setuptools import Extension, setup\n"
        f"setup(ext_modules=cythonize([Extension({MODULE!r}, [{MODULE + '.py'!r}], "
        "extra_compile_args=['-O2'])], language_level=3, quiet=True, compiler_directives="
        "{'annotation_typing': False, 'boundscheck': False}))\n",
        encoding="utf-8")
    res = subprocess.run([sys.executable, "setup_onesource.py", "build_ext", "--inplace"],
                         cwd=where, capture_output=True, text=True)
    if res.returncode != 0 or not list(where.glob(f"{MODULE}*.so")):
        sys.exit(f"building the one-source module failed:\n{res.stdout}\n{res.stderr}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        build(where)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(where), str(ROOT)]))
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_scheduler.py"),
                               "--only", MODULE, "--events", str(args.events), "--seed",
                               str(args.seed), "--repeat", str(args.repeat)],
                              capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"benchmark failed:\n{proc.stderr}")
    r = json.loads(proc.stdout)
    print(f"one source + .pxd: {r['events_per_s']:,} events/s (replays "
          f"{r['events_per_s_each_replay']}), median {r['median_us']} µs, p99 {r['p99_us']} µs, "
          f"decisions digest {r['decisions_digest']}, load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
