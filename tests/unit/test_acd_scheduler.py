"""The ACD scheduler's routing rules (docs/routing.md), checked on both implementations."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from callcenter.acd.types import (
    AgentPaused,
    CallStatus,
    Offer,
    Overflow,
    QueueConfig,
    SchedulerError,
)

try:
    from callcenter.acd import _scheduler_c
except ImportError:
    _scheduler_c = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
S = 1000  # the scheduler's clock is in milliseconds


def offers(decisions: list) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, Offer)]


# --------------------------------------------------------------------- who gets the call

def test_arriving_call_goes_to_the_longest_idle_qualified_agent(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("sales", {"sales": 3})])
    s.login("low", 0, skills={"sales": 2})  # below the minimum: never offered
    s.login("a", 0, skills={"sales": 5})
    s.login("b", 0, skills={"sales": 3})
    for agent in ("a", "b"):  # both take a call; b finishes first
        s.busy(agent, 1 * S)
    s.ready("b", 5 * S)
    s.ready("a", 9 * S)
    assert s.enqueue("c1", "sales", 10 * S) == [Offer("c1", "b", "sales", False, False)]
    assert s.agent_status("b").state == "ringing"
    assert s.call_status("c1").state == "offered"
    assert offers(s.enqueue("c2", "sales", 11 * S)) == [("c2", "a")]
    assert s.enqueue("c3", "sales", 12 * S) == []  # "low" stays out of it
    assert s.call_status("c3").position == 1


def test_fewest_calls_strategy(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {"x": 1}, strategy="fewest_calls")])
    s.login("a", 0, skills={"x": 1})
    s.login("b", 0, skills={"x": 1})
    assert offers(s.enqueue("c1", "q", 1)) == [("c1", "a")]  # tie: login order
    s.answered("c1", 2)
    s.ready("a", 3)
    assert offers(s.enqueue("c2", "q", 4)) == [("c2", "b")]
    s.answered("c2", 5)
    s.ready("b", 6)
    s.pause("a", 7)  # a takes another call, b still has 1
    s.ready("a", 8)
    assert offers(s.enqueue("c3", "q", 9)) == [("c3", "a")]  # equal counts: longest idle


def test_highest_skill_strategy_sums_levels_of_the_required_skills(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {"x": 1, "y": 1}, strategy="highest_skill")])
    s.login("a", 0, skills={"x": 5, "y": 5, "z": 10})
    s.login("b", 0, skills={"x": 9, "y": 2})
    s.login("c", 0, skills={"x": 3, "y": 8})
    assert offers(s.enqueue("c1", "q", 1)) == [("c1", "b")]  # 11 beats 10 and 11 (later login)
    assert offers(s.enqueue("c2", "q", 2)) == [("c2", "c")]
    assert offers(s.enqueue("c3", "q", 3)) == [("c3", "a")]


def test_round_robin_strategy_rotates(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {}, strategy="round_robin")])
    for a in ("a", "b", "c"):
        s.login(a, 0)
    got = []
    for i in range(6):
        (call, agent), = offers(s.enqueue(f"c{i}", "q", i))
        got.append(agent)
        s.answered(call, i)
        s.ready(agent, i)
    assert got == ["a", "b", "c", "a", "b", "c"]


def test_site_restriction(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("bj-sales", {"sales": 1}, site="bj")])
    s.login("sh1", 0, site="sh", skills={"sales": 9})
    assert s.enqueue("c1", "bj-sales", 1) == []
    assert offers(s.login("bj1", 2, site="bj", skills={"sales": 1})) == [("c1", "bj1")]


def test_call_skill_override(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("service", {"course": 1})])
    s.login("a", 0, skills={"course": 5})
    s.login("b", 0, skills={"course": 2, "tech": 6})
    assert offers(s.enqueue("c1", "service", 1, skills={"tech": 5})) == [("c1", "b")]
    assert offers(s.enqueue("c2", "service", 2, skills={"tech": 5})) == []
    assert offers(s.enqueue("c3", "service", 3)) == [("c3", "a")]


# --------------------------------------------------------------------- order of waiting calls

def test_vip_priority_overtakes_and_fifo_among_equals(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.enqueue("c1", "q", 1 * S)
    s.enqueue("c2", "q", 2 * S)
    s.enqueue("vip", "q", 3 * S, priority=5)
    s.enqueue("c3", "q", 3 * S)
    assert [s.call_status(c).position for c in ("vip", "c1", "c2", "c3")] == [1, 2, 3, 4]
    assert offers(s.login("a", 4 * S)) == [("vip", "a")]
    order = []
    for i in range(3):
        s.answered(s.agent_status("a").call_id, (10 + i) * S)
        order += offers(s.ready("a", (10 + i) * S))
    assert order == [("c1", "a"), ("c2", "a"), ("c3", "a")]


def test_cross_queue_rule_weight_times_waiting_then_arrival(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("light", {}, weight=1), QueueConfig("heavy", {}, weight=2),
                        QueueConfig("vip", {}, weight=1)])
    s.enqueue("old", "light", 0)          # at 30 s: 1 × 30,000 = 30,000
    s.enqueue("young", "heavy", 10 * S)   # at 30 s: 2 × 20,000 = 40,000 → first
    s.enqueue("tie", "light", 10 * S)     # 1 × 20,000
    s.enqueue("tie2", "heavy", 20 * S)    # 2 × 10,000 = 20,000: same score, arrived later
    assert offers(s.login("a", 30 * S)) == [("young", "a")]
    s.answered("young", 30 * S)
    assert offers(s.ready("a", 30 * S)) == [("old", "a")]
    s.answered("old", 30 * S)
    assert offers(s.ready("a", 30 * S)) == [("tie", "a")]
    s.answered("tie", 30 * S)
    s.enqueue("p1", "vip", 30 * S, priority=1)  # priority before any waiting time
    assert offers(s.ready("a", 30 * S)) == [("p1", "a")]


# --------------------------------------------------------------------- offers and outcomes

def test_ring_no_answer_returns_the_call_to_its_exact_place(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    for i in range(3):
        s.enqueue(f"c{i}", "q", i * S)
    assert offers(s.login("a", 5 * S)) == [("c0", "a")]
    assert s.call_status("c1").position == 1  # an offered call is out of the line
    # nobody else is free: the same agent is rung again for the same caller
    assert offers(s.offer_failed("c0", 20 * S, "no_answer")) == [("c0", "a")]
    assert s.offer_failed("c0", 35 * S, "busy") == [AgentPaused("a", "busy")]
    st = s.call_status("c0")
    assert (st.state, st.position, st.enqueue_time) == ("waiting", 1, 0)
    assert [s.call_status(c).position for c in ("c1", "c2")] == [2, 3]


def test_no_answer_prefers_another_free_agent(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.login("a", 0)
    s.enqueue("c0", "q", 1)
    s.login("b", 2)
    out = s.offer_failed("c0", 3, "no_answer")
    assert offers(out) == [("c0", "b")]
    assert s.agent_status("a").state == "ready"
    assert s.agent_status("a").missed == 1


def test_consecutive_misses_pause_the_agent(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})], missed_limit=2)
    s.login("a", 0)
    s.login("b", 0)
    s.busy("b", 0)
    s.enqueue("c0", "q", 1)
    out = s.offer_failed("c0", 2, "no_answer")
    assert offers(out) == [("c0", "a")]
    s.answered("c0", 3)  # an answer resets the count
    assert s.agent_status("a").missed == 0
    s.ready("a", 4)
    s.enqueue("c1", "q", 5)
    s.offer_failed("c1", 6, "no_answer")
    out = s.offer_failed("c1", 7, "no_answer")
    assert out == [AgentPaused("a", "missed")]
    st = s.agent_status("a")
    assert (st.state, st.reason, st.missed) == ("paused", "missed", 0)
    assert s.call_status("c1").state == "waiting"
    assert offers(s.ready("b", 8)) == [("c1", "b")]


@pytest.mark.parametrize("reason", ["busy", "unreachable"])
def test_busy_or_unreachable_phone_skips_the_agent(impl: ModuleType, reason: str) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.login("a", 0)
    s.login("b", 0)
    s.enqueue("c0", "q", 1)
    out = s.offer_failed("c0", 2, reason)
    assert out == [AgentPaused("a", reason), Offer("c0", "b", "q", False, False)]
    assert s.agent_status("a").missed == 0


def test_answered_call_keeps_agent_busy_until_wrap_up(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {}, handle_time=100)])
    s.login("a", 0)
    s.enqueue("c0", "q", 0)
    assert s.answered("c0", 10 * S) == []
    assert s.call_status("c0") == CallStatus("c0", "q", "answered", 0, 0, 0, 0, "a", False)
    assert s.agent_status("a").state == "busy"
    s.enqueue("c1", "q", 20 * S)
    assert s.wrap_up("a", 50 * S) == []
    # 7/8 × 100 s + 1/8 × 40 s, in integer milliseconds
    assert s.queue_status("q").handle_time == (100_000 * 7 + 40_000) // 8
    with pytest.raises(SchedulerError, match="not in the scheduler"):
        s.call_status("c0")
    assert offers(s.ready("a", 60 * S)) == [("c1", "a")]
    assert s.agent_status("a").idle_since == 50 * S  # idle since the call ended


def test_caller_hanging_up_while_ringing_frees_the_agent(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.login("a", 0)
    s.enqueue("c0", "q", 1)
    s.enqueue("c1", "q", 2)
    assert offers(s.leave("c0", 3)) == [("c1", "a")]


def test_logout_while_ringing_returns_the_call(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.login("a", 0)
    s.login("b", 0)
    s.busy("b", 0)
    s.enqueue("c0", "q", 1)
    assert s.logout("a", 2) == []
    assert s.call_status("c0").state == "waiting"
    with pytest.raises(SchedulerError, match="not logged in"):
        s.agent_status("a")
    assert offers(s.ready("b", 3)) == [("c0", "b")]


def test_skill_change_makes_an_agent_eligible(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("tech", {"tech": 4})])
    s.login("a", 0, skills={"tech": 2})
    s.enqueue("c0", "tech", 1)
    assert offers(s.set_skills("a", 2, {"tech": 4})) == [("c0", "a")]
    with pytest.raises(SchedulerError, match="level 11 is out of range"):
        s.set_skills("a", 3, {"tech": 11})


# --------------------------------------------------------------------- time rules

def test_expansion_to_lower_levels_and_overflow_site(impl: ModuleType) -> None:
    q = QueueConfig("q", {"sales": 5}, site="bj", expand_after=30, expand_levels=2,
                    overflow_site="sh", max_wait=120)
    s = impl.Scheduler([q])
    s.login("bj-low", 0, site="bj", skills={"sales": 3})
    s.login("bj-too-low", 0, site="bj", skills={"sales": 2})
    s.enqueue("c0", "q", 1 * S)
    assert s.tick(30 * S) == []  # waited 29 s
    assert s.tick(31 * S) == [Offer("c0", "bj-low", "q", True, False)]
    s.login("sh1", 32 * S, site="sh", skills={"sales": 4})
    s.enqueue("c1", "q", 33 * S)
    assert s.tick(62 * S) == []
    assert s.tick(63 * S) == [Offer("c1", "sh1", "q", True, False)]
    s.login("gz1", 64 * S, site="gz", skills={"sales": 9})  # neither bj nor sh
    s.enqueue("c2", "q", 64 * S)
    assert s.tick(200 * S) == [Overflow("c2", "q", "voicemail:default")]
    with pytest.raises(SchedulerError):
        s.call_status("c2")


def test_transferred_old_call_is_expanded_at_once(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("a", {}), QueueConfig("b", {"x": 3}, expand_after=10)])
    s.login("low", 0, skills={"x": 2})
    s.busy("low", 0)
    s.enqueue("c0", "a", 0)
    s.ready("low", 1)  # takes c0 from queue a
    s.answered("c0", 2)
    s.transfer("c0", "b", 20 * S)  # waited 20 s in all: expansion applies immediately
    s.login("low2", 21 * S, skills={"x": 2})
    assert s.agent_status("low2").call_id == "c0"


def test_overflow_to_callback_keeps_the_place(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {}, max_wait=60, overflow="callback")])
    s.enqueue("c0", "q", 0)
    s.enqueue("c1", "q", 10 * S)
    assert s.tick(61 * S) == [Overflow("c0", "q", "callback")]
    assert s.tick(200 * S) == [Overflow("c1", "q", "callback")]
    assert s.tick(400 * S) == []  # callbacks no longer time out
    assert [s.call_status(c).position for c in ("c0", "c1")] == [1, 2]
    assert s.login("a", 401 * S) == [Offer("c0", "a", "q", False, True)]


# --------------------------------------------------------------------- callers

def test_transfer_keeps_enqueue_time_and_priority(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("course", {}), QueueConfig("tech", {"tech": 1})])
    s.login("a", 0)
    s.enqueue("c0", "course", 1 * S)
    s.answered("c0", 2 * S)  # a answers, then hands the caller to tech support
    s.enqueue("early", "tech", 5 * S)
    s.enqueue("other", "tech", 8 * S)
    assert s.transfer("c0", "tech", 10 * S) == []
    st = s.call_status("c0")
    assert (st.queue, st.enqueue_time, st.position, st.agent_id) == ("tech", 1 * S, 1, None)
    assert s.agent_status("a").state == "busy"  # until it is put into wrap-up
    s.enqueue("v", "course", 11 * S, priority=3)
    s.transfer("v", "tech", 12 * S)  # a waiting call moves too
    assert [s.call_status(c).position for c in ("v", "c0", "early", "other")] == [1, 2, 3, 4]
    assert s.call_status("v").priority == 3
    with pytest.raises(SchedulerError, match="is being offered call"):
        s.login("t", 13 * S, skills={"tech": 1})
        s.transfer("v", "course", 14 * S)


def test_position_and_estimated_wait(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {"x": 1}, handle_time=120)])
    for a in ("a", "b", "c"):
        s.login(a, 0, skills={"x": 1})
        s.busy(a, 0)
    s.pause("c", 0)  # paused agents do not count
    for i in range(5):
        s.enqueue(f"c{i}", "q", i * S)
    st = s.call_status("c3")
    assert st.position == 4
    assert st.estimated_wait == 4 * 120_000 // 2
    assert s.queue_status("q").waiting == 5
    assert s.queue_status("q").staffed == 2


def test_callbacks_are_launched_only_for_free_agents(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.enqueue("c0", "q", 0)
    s.enqueue("c1", "q", 1 * S)
    s.enqueue("c2", "q", 2 * S)
    assert s.to_callback("c1", 3 * S) == []
    assert s.to_callback("c2", 3 * S) == []
    assert s.call_status("c1").position == 2  # kept its place, no jump ahead
    s.login("a", 4 * S)
    assert s.agent_status("a").call_id == "c0"
    s.answered("c0", 5 * S)
    # one free agent: exactly one callback in flight, the oldest
    assert s.ready("a", 6 * S) == [Offer("c1", "a", "q", False, True)]
    assert s.call_status("c2").state == "waiting"
    with pytest.raises(SchedulerError, match="only a waiting call can become a callback"):
        s.to_callback("c1", 7 * S)


def test_queue_added_later_sees_agents_already_logged_in(impl: ModuleType) -> None:
    s = impl.Scheduler()
    s.login("a", 0, skills={"x": 2})
    s.add_queue(QueueConfig("late", {"x": 2}))
    assert offers(s.enqueue("c0", "late", 1)) == [("c0", "a")]
    assert s.now == 1
