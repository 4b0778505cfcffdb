"""The dialler's pacers: trunk channels and calls per second, campaign concurrency, and the
abandon guard for customer-first leads (monotonic seconds passed in)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.outbound.pacing import AbandonGuard, CampaignPacer, PacingError, TrunkPacer
from callcenter.site.model import Trunk
from callcenter.site.outbound import Campaign


def trunks(**caps: tuple[int, int]) -> dict[str, Trunk]:
    return {name: Trunk(host="10.0.0.1", channels=ch, calls_per_second=cps)
            for name, (ch, cps) in caps.items()}


# --- TrunkPacer --------------------------------------------------------------------------

def test_channels_and_rate_by_example() -> None:
    p = TrunkPacer(trunks(ct=(3, 2)))
    assert p.acquire("ct", 10.0) and p.acquire("ct", 10.1)
    assert not p.acquire("ct", 10.5)  # 2 starts in the last second
    assert p.wait_time("ct", 10.5) == pytest.approx(0.5, abs=1e-5)
    assert p.acquire("ct", 11.0)  # the 10.0 start has aged out
    assert p.in_progress("ct") == 3
    assert p.wait_time("ct", 20.0) == math.inf and not p.acquire("ct", 20.0)
    p.release("ct")
    assert p.wait_time("ct", 20.0) == 0.0 and p.acquire("ct", 20.0)


def test_sleeping_the_wait_time_is_enough_despite_float_rounding() -> None:
    p = TrunkPacer(trunks(ct=(5, 1)))
    assert p.acquire("ct", 255.294)
    now = 256.135  # 256.135 + (255.294 + 1 - 256.135) falls just short of 256.294
    assert not p.acquire("ct", now)
    now += p.wait_time("ct", now)
    assert now - 255.294 >= 1.0  # a full second apart, as the rate check measures it
    assert p.wait_time("ct", now) == 0.0 and p.acquire("ct", now)


def test_pick_takes_the_first_trunk_with_room_in_route_order() -> None:
    p = TrunkPacer(trunks(first=(1, 5), second=(2, 5)))
    assert p.pick(["first", "second"], 0.0) == "first"
    assert p.acquire_first(["first", "second"], 0.0) == "first"
    assert p.pick(["first", "second"], 0.0) == "second"
    assert p.acquire_first(["second", "first"], 0.0) == "second"
    assert p.acquire_first(["first", "second"], 0.0) == "second"
    assert p.acquire_first(["first", "second"], 0.0) is None
    assert (p.in_progress("first"), p.in_progress("second")) == (1, 2)
    assert p.pick([], 0.0) is None


def test_unknown_trunks_and_stray_releases_are_refused() -> None:
    p = TrunkPacer(trunks(ct=(1, 1)))
    with pytest.raises(PacingError, match=r"no trunk named 'cu'.*known: ct"):
        p.acquire("cu", 0.0)
    assert p.acquire("ct", 0.0)
    with pytest.raises(PacingError, match="no trunk named"):  # ct is full: cu is asked
        p.pick(["ct", "cu"], 0.0)
    p.release("ct")
    with pytest.raises(PacingError, match="no call in progress"):
        p.release("ct")


def test_adopted_calls_hold_channels_and_reload_keeps_counts() -> None:
    p = TrunkPacer(trunks(ct=(2, 10)))
    for _ in range(3):  # found in AMI after a restart: more than the site now allows
        p.adopt("ct")
    assert p.in_progress("ct") == 3 and not p.acquire("ct", 0.0)
    p.update(trunks(ct=(5, 10)))
    assert p.in_progress("ct") == 3 and p.acquire("ct", 0.0)
    # a trunk taken out of the site keeps its calls until they end, and starts none
    p.update(trunks(cu=(1, 1)))
    assert not p.acquire("ct", 5.0)
    p.release("ct")
    assert p.in_progress("ct") == 3


def test_a_zero_cap_allows_nothing() -> None:
    p = TrunkPacer(trunks(off=(0, 10), slow=(5, 0)))
    assert not p.acquire("off", 0.0) and not p.acquire("slow", 0.0)
    assert p.wait_time("slow", 0.0) == math.inf


ops = st.lists(st.tuples(st.sampled_from(["acquire", "acquire", "acquire", "release", "wait"]),
                         st.sampled_from(["a", "b"]),
                         st.sampled_from([0.0, 0.0, 0.001, 0.05, 0.3, 0.999, 1.0, 2.5])),
               min_size=1, max_size=150)


@settings(max_examples=150, deadline=None)
@given(ops, st.integers(0, 4), st.integers(0, 5))
def test_trunk_caps_hold_under_any_sequence(steps: list[tuple[str, str, float]],
                                            channels: int, cps: int) -> None:
    p = TrunkPacer(trunks(a=(channels, cps), b=(channels + 1, cps + 1)))
    caps = {"a": (channels, cps), "b": (channels + 1, cps + 1)}
    held = {"a": 0, "b": 0}
    started: dict[str, list[float]] = {"a": [], "b": []}
    now = 100.0
    for op, trunk, step in steps:
        now += step
        if op == "release":
            if held[trunk]:
                p.release(trunk)
                held[trunk] -= 1
            continue
        wait = p.wait_time(trunk, now)
        if op == "wait" and 0 < wait < math.inf:
            now += wait  # the dialler sleeps exactly as long as told: then it must fit
            assert p.wait_time(trunk, now) == 0.0
        expected = p.wait_time(trunk, now) == 0.0
        assert p.acquire(trunk, now) is expected
        if expected:
            held[trunk] += 1
            started[trunk].append(now)
        assert p.in_progress(trunk) == held[trunk] <= caps[trunk][0]
    for trunk, times in started.items():
        for i, t in enumerate(times):
            assert sum(1 for u in times[i:] if u - t < 1.0) <= caps[trunk][1]


# --- CampaignPacer -----------------------------------------------------------------------

def test_campaign_concurrency() -> None:
    p = CampaignPacer({"reminders": Campaign(kind="reminder", concurrency=2)})
    assert p.acquire("reminders") and p.acquire("reminders")
    assert not p.acquire("reminders") and p.in_flight("reminders") == 2
    p.release("reminders")
    assert p.in_flight("reminders") == 1 and p.acquire("reminders")
    p.update({"reminders": Campaign(kind="reminder", concurrency=1)})
    assert not p.acquire("reminders") and p.in_flight("reminders") == 2
    with pytest.raises(PacingError, match="no campaign named 'leads'"):
        p.acquire("leads")
    p.release("reminders")
    p.release("reminders")
    with pytest.raises(PacingError, match="no call in progress"):
        p.release("reminders")


@given(st.lists(st.booleans(), max_size=80), st.integers(0, 5))
def test_campaign_concurrency_holds(steps: list[bool], concurrency: int) -> None:
    p = CampaignPacer({"c": Campaign(kind="survey", concurrency=concurrency)})
    held = 0
    for take in steps:
        if take:
            held += p.acquire("c")
        elif held:
            p.release("c")
            held -= 1
        assert p.in_flight("c") == held <= concurrency


# --- AbandonGuard ------------------------------------------------------------------------

def test_abandon_guard_by_example() -> None:
    g = AbandonGuard(0.05, over_dial=1.5, sample=100, min_sample=20)
    assert g.rate is None and g.allowed(ready_agents=4, dialling=1) == 3  # no data: 1:1
    for _ in range(19):
        g.record("connected")
    assert g.allowed(4, 0) == 4  # still fewer than min_sample answered
    g.record("connected")
    assert g.over_dialling() and g.allowed(4, 0) == 6 and g.allowed(4, 5) == 1
    assert g.allowed(4, 9) == 0 and g.allowed(0, 0) == 0
    g.record("abandoned")  # 1 of 21: under 5 %
    assert g.allowed(4, 0) == 6
    g.record("abandoned")  # 2 of 22 = 9 %: back to one line per ready agent
    assert g.allowed(4, 0) == 4
    g = AbandonGuard(0.05, over_dial=1.5, min_sample=20)
    for i in range(20):
        g.record("abandoned" if i == 0 else "connected")
    assert g.rate == 0.05 and g.allowed(4, 0) == 4  # at the ceiling is not under it
    g.record("connected")
    assert g.allowed(4, 0) == 6
    g.record("abandoned")
    assert g.rate == pytest.approx(2 / 22) and g.allowed(4, 0) == 4
    for _ in range(100):  # the sample is the last 100: old abandons age out
        g.record("connected")
    assert g.rate == 0.0 and g.allowed(4, 0) == 6


def test_abandon_guard_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="share"):
        AbandonGuard(3.0)
    with pytest.raises(ValueError, match="over_dial"):
        AbandonGuard(0.03, over_dial=0.5)
    with pytest.raises(ValueError, match="'connected' or 'abandoned'"):
        AbandonGuard(0.03).record("no_answer")  # type: ignore[arg-type]


@given(st.lists(st.booleans(), max_size=150), st.floats(0.0, 0.5),
       st.integers(0, 30), st.integers(0, 40))
def test_never_more_lines_than_agents_at_or_over_the_ceiling(
        abandoned: list[bool], ceiling: float, ready: int, dialling: int) -> None:
    g = AbandonGuard(ceiling, over_dial=1.3, min_sample=10)
    for a in abandoned:
        g.record("abandoned" if a else "connected")
    more = g.allowed(ready, dialling)
    assert more >= 0
    assert dialling + more <= max(dialling, math.floor(ready * 1.3))
    recent = abandoned[-100:]
    if len(recent) < 10 or sum(recent) / len(recent) >= ceiling:
        assert dialling + more <= max(dialling, ready)
    else:
        assert more == max(0, math.floor(ready * 1.3) - dialling)
