"""Property tests of the ACD scheduler: random event streams give identical decisions from
the pure-Python and the compiled twin, and the routing invariants hold after every event."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.acd import _scheduler_py
from callcenter.acd.rules import serves
from callcenter.acd.types import (
    STRATEGIES,
    AgentStatus,
    CallStatus,
    Offer,
    QueueConfig,
    SchedulerError,
)

try:
    from callcenter.acd import _scheduler_c
except ImportError:  # extension not built: the differential test is skipped
    _scheduler_c = None  # type: ignore[assignment]

NEEDS_C = pytest.mark.skipif(_scheduler_c is None, reason="the compiled scheduler is not built")
IMPLS = [pytest.param(_scheduler_py, id="py"),
         pytest.param(_scheduler_c, id="c", marks=pytest.mark.skipif(
             _scheduler_c is None, reason="the compiled scheduler is not built"))]

AGENTS = [f"a{i}" for i in range(8)]
SITES = ["bj", "sh", "gz"]
SKILLS = ["s0", "s1", "s2"]
CALLERS = ["", "n0", "n1", "n2"]
FAIL = ["no_answer", "no_answer", "busy", "unreachable"]
STEPS = [0, 1, 400, 1000, 3000, 7000, 20000]
KINDS = ["login", "logout", "ready", "ready", "pause", "busy", "wrap_up", "set_skills",
         "enqueue", "enqueue", "enqueue", "answered", "answered", "offer_failed", "leave",
         "transfer", "to_callback", "tick", "tick", "bogus"]

Op = tuple[int, int, int, int, int, int]
# Wide integers reduced modulo the choices: hypothesis then spreads its draws evenly instead
# of favouring the first kinds and the smallest steps.
WIDE = st.integers(0, 2**16)
ops_strategy = st.lists(st.tuples(*[WIDE] * 6), min_size=40, max_size=80)
queue_strategy = st.tuples(st.lists(st.sampled_from(STRATEGIES), min_size=5, max_size=5),
                           st.lists(st.integers(1, 4), min_size=5, max_size=5))


def make_queues(strategies: list[str], weights: list[int]) -> list[QueueConfig]:
    return [
        QueueConfig("q0", {"s0": 3}, strategies[0], weights[0], expand_after=20, max_wait=60,
                    overflow="voicemail:x"),
        QueueConfig("q1", {"s1": 2}, strategies[1], weights[1], site="bj", overflow_site="sh",
                    expand_after=10, expand_levels=0, max_wait=40, overflow="callback"),
        # site "": any site, as acd.rules.serves reads it
        QueueConfig("q2", {"s0": 2, "s1": 4}, strategies[2], weights[2], site=""),
        QueueConfig("q3", {"s2": 5}, strategies[3], weights[3], expand_after=5,
                    expand_levels=2, max_wait=30, overflow="queue:q0"),
        QueueConfig("q4", {}, strategies[4], weights[4], site="gz", overflow_site="bj",
                    expand_after=15),
    ]


def skills_from(x: int) -> dict[str, int]:
    out = {}
    for i, s in enumerate(SKILLS):
        level = (x >> (i * 3)) % 12
        if level and level <= 10:
            out[s] = level
    return out


@dataclass
class World:
    """What the test knows about each call beyond the scheduler's own status."""

    configs: dict[str, QueueConfig]
    reqs: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    last_tick: int | None = None


def reqs_of(cfg: QueueConfig, override: dict[str, int] | None) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((cfg.skills if override is None else override).items()))


def tier(cfg: QueueConfig, reqs: tuple[tuple[str, int], ...], a: AgentStatus) -> str | None:
    """The routing rule: staff by acd.rules.serves, expansion restated independently of both
    implementations."""
    if serves(a.site, a.skills, cfg.site, dict(reqs)):
        return "normal"
    site_ok = not cfg.site or a.site == cfg.site
    if cfg.expand_after is None:
        return None
    if not (site_ok or (cfg.overflow_site is not None and a.site == cfg.overflow_site)):
        return None
    if all(a.skills.get(s, 0) >= max(1, m - cfg.expand_levels) for s, m in reqs):
        return "expanded"
    return None


def eligible(w: World, c: CallStatus, a: AgentStatus, now: int | None) -> bool:
    cfg = w.configs[c.queue]
    t = tier(cfg, w.reqs[c.call_id], a)
    if t == "normal":
        return True
    return (t == "expanded" and now is not None and cfg.expand_after is not None
            and now - c.enqueue_time >= cfg.expand_after * 1000)


def outcome(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except SchedulerError as exc:
        return ("error", str(exc))


def snapshot(s: Any, w: World) -> tuple[dict[str, CallStatus], dict[str, AgentStatus]]:
    calls = {}
    for cid in w.calls:
        st_ = outcome(s.call_status, cid)
        if isinstance(st_, CallStatus):
            calls[cid] = st_
    agents = {}
    for aid in AGENTS:
        st_ = outcome(s.agent_status, aid)
        if isinstance(st_, AgentStatus):
            agents[aid] = st_
    return calls, agents


def plan(op: Op, now: int, w: World, calls: dict[str, CallStatus],
         agents: dict[str, AgentStatus]) -> tuple[str, tuple, dict]:
    """Turn drawn integers into one scheduler call aimed mostly at valid targets."""
    kind = KINDS[op[0] % len(KINDS)]
    x, y, z, v = op[2:]
    in_state: dict[str, list[str]] = {"waiting": [], "offered": [], "answered": []}
    for cid, c in calls.items():
        in_state[c.state].append(cid)

    def pick(seq: list[str], fallback: str) -> str:
        return seq[x % len(seq)] if seq else fallback

    logged = sorted(agents)
    if kind == "login":
        free = [a for a in AGENTS if a not in agents]
        return "login", (pick(free, "a0"), now), {"site": SITES[y % 3],
                                                   "skills": skills_from(z)}
    if kind in ("logout", "ready", "busy", "wrap_up"):
        return kind, (pick(logged, "a7"), now), {}
    if kind == "pause":
        return "pause", (pick(logged, "a7"), now, ["break", "lunch"][y % 2]), {}
    if kind == "set_skills":
        return "set_skills", (pick(logged, "a7"), now, skills_from(z)), {}
    if kind == "enqueue":
        cid = f"c{len(w.calls)}"
        queue = f"q{y % 5}"
        kw: dict[str, Any] = {"priority": [0, 0, 0, 1, 2, 9][z % 6], "caller": CALLERS[v % 4]}
        if z % 7 == 3:
            kw["skills"] = skills_from(v) or {"s0": 1}
        if z % 5 == 4:
            kw["enqueue_time"] = max(0, now - (v % 40) * 1000)
        return "enqueue", (cid, queue, now), kw
    if kind == "answered":
        return "answered", (pick(in_state["offered"], "c0"), now), {}
    if kind == "offer_failed":
        return "offer_failed", (pick(in_state["offered"], "c0"), now, FAIL[y % 4]), {}
    if kind == "leave":
        targets = in_state["waiting"] + in_state["offered"]
        return "leave", (pick(targets, "c0"), now, ["abandoned", "abandoned",
                                                    "overflowed"][y % 3]), {}
    if kind == "transfer":
        targets = in_state["waiting"] + in_state["answered"]
        kw = {"skills": {"s2": 1 + v % 10}} if z % 4 == 0 else {}
        return "transfer", (pick(targets, "c0"), f"q{y % 5}", now), kw
    if kind == "to_callback":
        return "to_callback", (pick(in_state["waiting"], "c0"), now), {}
    if kind == "tick":
        return "tick", (now,), {}
    # deliberately wrong: unknown ids, an old clock, bad reasons
    bad = [("answered", ("nope", now), {}), ("ready", ("ghost", now), {}),
           ("tick", (now - 1,), {}), ("offer_failed", (pick(in_state["offered"], "c0"), now,
                                                       "late"), {}),
           ("enqueue", (pick(w.calls, "c0"), "q0", now), {}),
           ("enqueue", ("cx", "nowhere", now), {}),
           ("transfer", (pick(in_state["offered"], "c0"), "q1", now), {}),
           ("leave", (pick(in_state["answered"], "c0"), now), {})]
    return bad[y % len(bad)]


def check_invariants(w: World, op: tuple[str, tuple, dict], now: int, decisions: Any,
                     before: tuple[dict[str, CallStatus], dict[str, AgentStatus]],
                     after: tuple[dict[str, CallStatus], dict[str, AgentStatus]]) -> None:
    name, args, _ = op
    calls0, agents0 = before
    calls, agents = after
    if not isinstance(decisions, list):
        return
    offers = [d for d in decisions if isinstance(d, Offer)]
    # nobody gets two calls, no call is given twice in one event
    assert len({o.call_id for o in offers}) == len(offers)
    assert len({o.agent_id for o in offers}) == len(offers)
    released_calls: set[str] = set()
    released_agents: set[str] = set()
    subject = args[0] if name in ("login", "ready", "set_skills", "pause", "busy",
                                  "wrap_up") else None
    if name in ("offer_failed", "transfer", "leave") and args[0] in calls0:
        released_calls.add(args[0])
        if calls0[args[0]].agent_id:
            released_agents.add(calls0[args[0]].agent_id)
    if name == "logout" and args[0] in agents0 and agents0[args[0]].call_id:
        released_calls.add(agents0[args[0]].call_id)
    waiting_throughout = {cid: c for cid, c in calls.items() if c.state == "waiting"
                          and cid in calls0 and calls0[cid].state == "waiting"}
    for o in offers:
        c, a = calls[o.call_id], agents[o.agent_id]
        prev_c = calls0.get(o.call_id)
        assert prev_c is None or prev_c.state == "waiting" or o.call_id in released_calls
        prev_a = agents0.get(o.agent_id)
        assert (prev_a is None or prev_a.state == "ready" or o.agent_id == subject
                or o.agent_id in released_agents), (o, prev_a)
        assert o.callback == c.callback
        cfg = w.configs[c.queue]
        t = tier(cfg, w.reqs[o.call_id], a)
        if o.expanded:
            # skill minimums may be lowered only by the expansion rule, after expand_after
            assert t == "expanded" and cfg.expand_after is not None
            assert now - c.enqueue_time >= cfg.expand_after * 1000
        else:
            assert t == "normal", (o, a, w.reqs[o.call_id])
        # FIFO within a priority and a skill set; higher priority first
        for d in waiting_throughout.values():
            if (d.queue == c.queue and w.reqs[d.call_id] == w.reqs[o.call_id]
                    and eligible(w, d, a, now)):
                assert d.priority <= c.priority, (o, d)
                assert not (d.priority == c.priority and d.enqueue_time < c.enqueue_time), (o, d)
    # one call per agent, consistent both ways
    holders: dict[str, str] = {}
    for cid, c in calls.items():
        if c.agent_id is not None:
            assert c.agent_id not in holders
            holders[c.agent_id] = cid
            assert agents[c.agent_id].call_id == cid
            assert agents[c.agent_id].state in ("ringing", "busy")
    for aid, a in agents.items():
        if a.state == "ringing":
            assert holders.get(aid) == a.call_id
    # no waiting call starves while an eligible agent is ready
    ready = [a for a in agents.values() if a.state == "ready"]
    for c in calls.values():
        if c.state == "waiting":
            for a in ready:
                assert not eligible(w, c, a, w.last_tick), (c, a)
    # positions in each queue are exactly 1..n
    by_queue: dict[str, list[int]] = {}
    for c in calls.values():
        if c.state == "waiting":
            by_queue.setdefault(c.queue, []).append(c.position)
    for positions in by_queue.values():
        assert sorted(positions) == list(range(1, len(positions) + 1))


def run(impls: list[ModuleType], queues: tuple[list[str], list[int]], ops: list[Op],
        check: bool = True) -> None:
    configs = make_queues(*queues)
    scheds = [m.Scheduler(configs, missed_limit=2, resume_window=30) for m in impls]
    w = World({c.name: c for c in configs})
    now = 0
    for op in ops:
        now += STEPS[op[1] % len(STEPS)]
        before = snapshot(scheds[0], w)
        name, args, kw = plan(op, now, w, *before)
        results = [outcome(getattr(s, name), *args, **kw) for s in scheds]
        for r in results[1:]:
            assert r == results[0], (name, args, kw)
        if isinstance(results[0], list):
            if name == "enqueue":
                w.calls.append(args[0])
                w.reqs[args[0]] = reqs_of(w.configs[args[1]], kw.get("skills"))
            elif name == "transfer":
                w.reqs[args[0]] = reqs_of(w.configs[args[1]], kw.get("skills"))
            elif name == "tick":
                w.last_tick = args[0]
        after = snapshot(scheds[0], w)
        for s in scheds[1:]:
            assert snapshot(s, w) == after
            for q in w.configs:
                assert s.queue_status(q) == scheds[0].queue_status(q)
        if check:
            check_invariants(w, (name, args, kw), now, results[0], before, after)


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@NEEDS_C
@SETTINGS
@given(queues=queue_strategy, ops=ops_strategy)
def test_both_implementations_take_identical_decisions(queues: Any, ops: list[Op]) -> None:
    run([_scheduler_py, _scheduler_c], queues, ops, check=False)


@pytest.mark.parametrize("impl", IMPLS)
@SETTINGS
@given(queues=queue_strategy, ops=ops_strategy)
def test_routing_invariants_hold_after_every_event(impl: ModuleType, queues: Any,
                                                   ops: list[Op]) -> None:
    run([impl], queues, ops)
