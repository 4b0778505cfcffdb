"""Checking flows against the site: every problem located to file, line and column.

The site loader compiles each flow file here once; the IVR (callcenter.ivr) runs the
result from `Site.flows`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from callcenter.errors import Problem
from callcenter.site import flownodes as n
from callcenter.site.flowloops import goto_loops
from callcenter.site.model import SiteFile
from callcenter.site.yamlsrc import Source

__all__ = ["BUILTIN_VARS", "LOOKUP_VARS", "compile_flows", "edges"]

BUILTIN_VARS = frozenset({"caller", "caller_name", "number", "caller_region"})
LOOKUP_VARS = frozenset({"contact_name", "vip", "region", "language"})
_PROMPT_FIELDS = ("prompt", "invalid_prompt")


def edges(node: Any) -> Iterator[tuple[str, str, tuple]]:
    """(label, target node, path of the field) for every way out of a node."""
    if isinstance(node, n.Menu):
        for digit, target in node.options.items():
            yield digit, target, ("options", digit)
        if node.on_timeout:
            yield "timeout", node.on_timeout, ("on_timeout",)
        if node.on_fail:
            yield "fail", node.on_fail, ("on_fail",)
    elif isinstance(node, n.Input):
        yield "ok", node.next, ("next",)
        yield "fail", node.on_fail, ("on_fail",)
    elif isinstance(node, n.Survey):
        yield "answered", node.next, ("next",)
        if node.on_fail:
            yield "fail", node.on_fail, ("on_fail",)
    elif isinstance(node, n.Branch):
        for i, case in enumerate(node.cases):
            yield _describe(case.when), case.next, ("cases", i, "next")
        yield "else", node.otherwise, ("else",)
    elif isinstance(node, n.Lookup):
        yield "found", node.next, ("next",)
        if node.on_missing:
            yield "missing", node.on_missing, ("on_missing",)
    elif hasattr(node, "next"):
        yield "", node.next, ("next",)


def _describe(c: n.Condition) -> str:
    parts = [f"{k}={v}" for k, v in (("open", c.open), ("closed", c.closed),
                                      ("region", c.region), ("caller_prefix", c.caller_prefix),
                                      ("contact", c.contact)) if v is not None]
    if c.var:
        test = (f"={c.equals}" if c.equals is not None else f" in {c.one_of}" if c.one_of
                else f"~{c.matches}" if c.matches else f">={c.min}" if c.min is not None
                else " set")
        parts.append(f"{c.var}{test}")
    return " and ".join(parts) or "always"


def _vars_used(node: Any) -> list[tuple[str, tuple]]:
    out: list[tuple[str, tuple]] = []
    texts: list[tuple[str, tuple]] = []
    if isinstance(node, n.Say):
        texts.append((node.value, ("value",)))
    if isinstance(node, n.Set):
        texts += [(v, ("vars", k)) for k, v in node.vars.items()]
    if isinstance(node, n.Set | n.Queue) and node.priority:
        texts.append((node.priority, ("priority",)))
    if isinstance(node, n.Transfer):
        texts.append((node.to, ("to",)))
    for text, path in texts:
        out += [(m[1], path) for m in n.VAR.finditer(text)]
    if isinstance(node, n.Branch):
        out += [(c.when.var, ("cases", i, "if", "var")) for i, c in enumerate(node.cases)
                if c.when.var]
    return out


def _vars_set(node: Any, label: str) -> set[str]:
    if isinstance(node, n.Input) and label == "ok":
        return {node.var}
    if isinstance(node, n.Survey) and label == "answered":
        return {f"survey_{node.question}"}
    if isinstance(node, n.Set):
        return set(node.vars)
    if isinstance(node, n.Lookup) and label == "found":
        return set(LOOKUP_VARS)
    return set()


def check_flow(src: Source, flow: n.Flow, spec: SiteFile, flow_names: set[str]
               ) -> list[Problem]:
    out: list[Problem] = []
    nodes = flow.nodes
    extensions = {a.extension for a in spec.agents}

    def add(name: str, path: tuple, message: str, hint: str) -> None:
        out.append(src.problem(("nodes", name, *path), message, hint))

    for name, node in nodes.items():
        for _label, target, path in edges(node):
            if target not in nodes:
                add(name, path, f"'{target}' is not a node of this flow",
                    "define it under 'nodes:' or fix the name")
        for fld in _PROMPT_FIELDS:
            prompt = getattr(node, fld, None)
            if prompt and prompt not in spec.prompts:
                add(name, (fld,), f"unknown prompt '{prompt}'", "define it under 'prompts:' "
                    "in the site file")
        if isinstance(node, n.Play):
            for i, prompt in enumerate(node.prompts):
                if prompt not in spec.prompts:
                    add(name, ("prompts", i), f"unknown prompt '{prompt}'",
                        "define it under 'prompts:' in the site file")
        if isinstance(node, n.Menu):
            if not node.on_timeout and not node.on_fail:
                add(name, (), "the menu has no timeout path",
                    "add 'on_timeout:' or 'on_fail:' for callers who press nothing")
            for digit in node.options:
                if len(digit) != 1 or digit not in "0123456789*#":
                    add(name, ("options", digit), f"option {digit!r} is not one keypad key",
                        "use a single digit, * or #")
        if isinstance(node, n.Input):
            _regex(add, name, ("pattern",), node.pattern)
        if isinstance(node, n.Branch):
            for i, case in enumerate(node.cases):
                c = case.when
                for key in ("open", "closed", "region"):
                    site = getattr(c, key)
                    if site is not None and site not in spec.sites:
                        add(name, ("cases", i, "if", key), f"unknown site '{site}'",
                            "use a key under 'sites:'")
                if c.matches is not None:
                    _regex(add, name, ("cases", i, "if", "matches"), c.matches)
        if isinstance(node, n.Queue) and node.queue not in spec.queues:
            add(name, ("queue",), f"unknown queue '{node.queue}'", "use a key under 'queues:'")
        if isinstance(node, n.Goto) and node.flow not in flow_names:
            add(name, ("flow",), f"unknown flow '{node.flow}'", "use a key under 'flows:'")
        if isinstance(node, n.Transfer) and node.to.isdigit() and len(node.to) <= 8 \
                and node.to not in extensions:
            add(name, ("to",), f"{node.to} is not an agent extension",
                "use an extension under 'agents:' or a full outside number")
    from callcenter.dialling.flowcheck import transfer_problems

    for name, path, message, hint in transfer_problems(flow):
        add(name, path, message, hint)
    if out:
        return out
    reachable = _reachable(flow)
    for name in nodes:
        if name not in reachable:
            add(name, (), f"node '{name}' can never be reached",
                "connect it from another node or remove it")
    for cycle in _silent_cycles(flow):
        add(cycle[0], (), "loop without waiting for input: " + " → ".join(cycle),
            "put a menu or input node in the loop, or end it")
    out += _undefined_vars(src, flow)
    return out


def _regex(add: Any, name: str, path: tuple, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        add(name, path, f"bad pattern {pattern!r}: {exc}", "write a Python regular expression")


def _reachable(flow: n.Flow) -> set[str]:
    seen: set[str] = set()
    todo = [flow.entry]
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.nodes:
            continue
        seen.add(name)
        todo += [t for _, t, _ in edges(flow.nodes[name])]
    return seen


def _silent_cycles(flow: n.Flow) -> list[list[str]]:
    """Cycles made only of nodes that never wait for the caller (menu and input wait)."""
    silent = {k for k, v in flow.nodes.items() if not isinstance(v, n.Menu | n.Input | n.Survey)}
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        stack.append(name)
        for _, target, _ in edges(flow.nodes[name]):
            if target not in silent:
                continue
            if state.get(target) == 1:
                found.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[name] = 2

    for name in sorted(silent):
        if name not in state:
            visit(name, [])
    return found


def _undefined_vars(src: Source, flow: n.Flow) -> list[Problem]:
    """Variables read on some path before any node sets them (a must-be-set dataflow)."""
    everything = set(BUILTIN_VARS) | set(LOOKUP_VARS)
    for node in flow.nodes.values():
        everything |= _vars_set(node, "ok") | _vars_set(node, "found")
    defined: dict[str, set[str]] = {k: set(everything) for k in flow.nodes}
    defined[flow.entry] = set(BUILTIN_VARS)
    changed = True
    while changed:
        changed = False
        incoming: dict[str, list[set[str]]] = {k: [] for k in flow.nodes}
        for name, node in flow.nodes.items():
            for label, target, _ in edges(node):
                if target in incoming:
                    incoming[target].append(defined[name] | _vars_set(node, label))
        for name in flow.nodes:
            ins = incoming[name] + ([set(BUILTIN_VARS)] if name == flow.entry else [])
            new = set.intersection(*ins) if ins else set(BUILTIN_VARS)
            if new != defined[name]:
                defined[name] = new
                changed = True
    out = []
    for name, node in flow.nodes.items():
        for var, path in _vars_used(node):
            if var not in defined[name]:
                out.append(src.problem(("nodes", name, *path),
                                       f"variable '{var}' may be used before it is set",
                                       "set it on every path to this node (input, set or "
                                       "lookup), or use a built-in: " +
                                       ", ".join(sorted(BUILTIN_VARS))))
    return out


def compile_flows(spec: SiteFile, flows: dict[str, Source]
                  ) -> tuple[dict[str, n.Flow], list[Problem]]:
    """The site's flow files as node objects, and every problem in them (then the flows
    are not to be run)."""
    problems: list[Problem] = []
    parsed: dict[str, n.Flow] = {}
    for name, src in flows.items():
        flow, errs = n.parse_flow(name, src)
        problems += errs
        if flow is not None and flow.entry in flow.nodes:
            problems += check_flow(src, flow, spec, set(spec.flows))
            parsed[name] = flow
    if not problems:
        problems += goto_loops(parsed, flows, edges, (n.Menu, n.Input, n.Survey), n.Goto)
    return parsed, problems
