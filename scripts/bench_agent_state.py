#!/usr/bin/env python3
"""Micro-benchmark of the agent book's writes (not a test): CPU per state change with 100
and with 20,000 agents, the journal (compaction included) against rewriting agents.json
whole on every change as before.

Usage: scripts/bench_agent_state.py [--changes 3000]"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

from callcenter.agents import AgentBook
from callcenter.agents.journal import AgentFiles


async def cycle(book: AgentBook, agents: list[str], changes: int) -> None:
    """Calls in a row over the agents: ringing, on a call, wrap-up, ready (4 changes), in
    an event loop as in the daemon (call progress is fsynced on a short timer)."""
    for n in range(changes // 4):
        a = agents[n % len(agents)]
        book.ringing(a)
        book.answered(a)
        book.call_ended(a, wrap_up=True)
        book.ready(a)
        await asyncio.sleep(0)


def measure(n_agents: int, changes: int, whole: bool) -> float:
    """CPU µs per change (process time: what the daemon pays, not the disk's wait)."""
    work = Path(tempfile.mkdtemp(prefix="cc-bench-agents-"))
    ids = [f"a{i}" for i in range(n_agents)]
    book = AgentBook(ids, work / "agents.json")
    for i, a in enumerate(ids[:200]):
        book.login(a, str(10000 + i))
    if whole:  # the old way: the snapshot written whole on every change
        files = book.files
        assert files is not None
        files.append = lambda rec, *, durable, everything, agents: files.compact(  # type: ignore[method-assign]
            everything())
    t0 = time.process_time()
    asyncio.run(cycle(book, ids[:200], changes))
    spent = time.process_time() - t0
    book.close()
    shutil.rmtree(work, ignore_errors=True)
    return spent / changes * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=3000)
    ap.add_argument("--json", default="bench-agent-state.json")
    args = ap.parse_args()
    out = {}
    for n in (100, 20_000):
        # at least two compactions' worth: their cost is spread over the changes between
        journal = measure(n, max(args.changes, 2 * AgentFiles.compact_at(n) + 8), whole=False)
        whole = measure(n, max(40, args.changes // (1 if n <= 100 else 30)), whole=True)
        out[n] = {"journal_us_per_change": round(journal, 1),
                  "rewrite_us_per_change": round(whole, 1),
                  "compact_every": AgentFiles.compact_at(n)}
        print(f"{n:>6} agents: journal {journal:8.1f} µs CPU per change (compaction "
              f"every {AgentFiles.compact_at(n)} changes included); rewriting agents.json "
              f"whole {whole:10.1f} µs")
    Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
