"""Flows that hand the call to each other through `goto` without ever waiting for the caller.

A goto always lands on the target flow's entry, so a silent loop across flows is a cycle
in the graph "flow A, before any menu/input/survey, can reach a goto to flow B"."""

from __future__ import annotations

from typing import Any

from callcenter.errors import Problem
from callcenter.site.yamlsrc import Source

__all__ = ["goto_loops"]


def _silent_gotos(flow: Any, edges: Any, waits: tuple[type, ...], goto: type
                  ) -> dict[str, str]:
    """Target flow → the goto node that reaches it, from the entry through nodes that do
    not wait for the caller."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    todo = [flow.entry]
    while todo:
        name = todo.pop()
        node = flow.nodes.get(name)
        if name in seen or node is None or isinstance(node, waits):
            continue
        seen.add(name)
        if isinstance(node, goto):
            out.setdefault(node.flow, name)
        todo += sorted((t for _, t, _ in edges(node)), reverse=True)
    return out


def goto_loops(flows: dict[str, Any], sources: dict[str, Source], edges: Any,
               waits: tuple[type, ...], goto: type) -> list[Problem]:
    """One problem per cycle of flows that go to each other with no caller input between;
    `edges`, `waits` and `goto` come from the flow language (site/flownodes.py, flowcheck.py)."""
    graph = {name: _silent_gotos(f, edges, waits, goto) for name, f in flows.items()}
    out: list[Problem] = []
    reported: set[str] = set()
    for start in sorted(graph):
        # depth-first search for a path back to `start` (flows are few: a plain DFS is fine)
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        cycle: list[str] | None = None
        while stack and cycle is None:
            name, path = stack.pop()
            for target in sorted(graph.get(name, {})):
                if target == start:
                    cycle = path
                    break
                if target in graph and target not in seen and target not in reported:
                    seen.add(target)
                    stack.append((target, [*path, target]))
        if cycle is None or reported & set(cycle):
            continue
        reported |= set(cycle)
        ring = [*cycle, start]
        node = graph[start][ring[1]]
        what = ("the flow goes to itself" if len(cycle) == 1 else
                "flows go to each other") + " without waiting for the caller: " + \
            " → ".join(ring)
        out.append(sources[start].problem(("nodes", node), what,
                                          "put a menu or input node on the way, or end "
                                          "with queue, transfer, voicemail or hangup"))
    return out
