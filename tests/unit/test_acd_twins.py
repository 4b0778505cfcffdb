"""What the scheduler twins share: which one is loaded, how the compiled one is built, the
checks and rules both take from acd._control and acd.rules, and their error messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import callcenter.acd as acd
from callcenter.acd import _control
from callcenter.acd.rules import serves
from callcenter.acd.types import QueueConfig, SchedulerError
from callcenter.site.limits import LIMITS

try:
    from callcenter.acd import _scheduler_c
except ImportError:
    _scheduler_c = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
ACD = ROOT / "callcenter" / "acd"
C_SOURCES = [ACD / "_scheduler_c.pyx", ACD / "_heap.pxd", *sorted(ACD.glob("_c_*.pxi"))]
S = 1000  # the scheduler's clock is in milliseconds


# --------------------------------------------------------------------- implementation choice

def test_compiled_scheduler_is_loaded_when_built() -> None:
    if os.environ.get("CALLCENTER_NO_EXTENSIONS"):
        assert acd.IMPLEMENTATION == "py"
        pytest.skip("CALLCENTER_NO_EXTENSIONS is set: the pure-Python twin is expected")
    assert _scheduler_c is not None, "callcenter.acd._scheduler_c is not built — run " \
        "`python setup.py build_ext --inplace` or reinstall with a C compiler"
    assert acd.IMPLEMENTATION == "c"
    assert acd.Scheduler is _scheduler_c.Scheduler
    assert _scheduler_c.FAST_DECISIONS


def test_environment_variable_forces_the_pure_python_twin() -> None:
    code = "import callcenter.acd as a; print(a.IMPLEMENTATION, a.Scheduler.__module__)"
    env = dict(os.environ, CALLCENTER_NO_EXTENSIONS="1", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["py", "callcenter.acd._scheduler_py"]
    assert set(acd.__all__) >= {"Scheduler", "Offer", "Overflow", "AgentPaused", "QueueConfig",
                                "SchedulerError", "IMPLEMENTATION"}


@pytest.mark.slow
def test_install_succeeds_without_a_working_compiler(tmp_path: Path) -> None:
    shutil.copy(ROOT / "setup.py", tmp_path / "setup.py")
    (tmp_path / "callcenter" / "acd").mkdir(parents=True)
    for src in C_SOURCES:  # everything the extension is built from, so only the compiler fails
        shutil.copy(src, tmp_path / "callcenter" / "acd" / src.name)
    env = dict(os.environ, CC="false", LDSHARED="false")
    res = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "pure-Python" in res.stdout + res.stderr
    assert not list((tmp_path / "callcenter" / "acd").glob("*.so"))



# --------------------------------------------------------------------- mistakes

def test_errors_say_what_to_do(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {})])
    s.login("a", 10)
    with pytest.raises(SchedulerError, match="time went backwards"):
        s.tick(5)
    with pytest.raises(SchedulerError, match="not logged in — log it in first"):
        s.ready("ghost", 10)
    with pytest.raises(SchedulerError, match="already logged in"):
        s.login("a", 10)
    with pytest.raises(SchedulerError, match="queue 'nowhere' is not configured"):
        s.enqueue("c0", "nowhere", 10)
    with pytest.raises(SchedulerError, match="priority 10 is out of range — use 0 to 9"):
        s.enqueue("c0", "q", 10, priority=10)
    with pytest.raises(SchedulerError, match="cannot have been waiting since the future"):
        s.enqueue("c0", "q", 10, enqueue_time=11)
    s.enqueue("c0", "q", 10)
    with pytest.raises(SchedulerError, match="already in the scheduler — use transfer"):
        s.enqueue("c0", "q", 10)
    with pytest.raises(SchedulerError, match="report answered\\(\\) or offer_failed\\(\\)"):
        s.pause("a", 10)
    with pytest.raises(SchedulerError, match="unknown offer failure 'late'"):
        s.offer_failed("c0", 10, "late")
    with pytest.raises(SchedulerError, match="unknown leave reason"):
        s.leave("c0", 10, "bored")
    s.answered("c0", 11)
    with pytest.raises(SchedulerError, match="is answered, not offered"):
        s.answered("c0", 12)
    with pytest.raises(SchedulerError, match="was answered by 'a'"):
        s.leave("c0", 12)
    with pytest.raises(SchedulerError, match="already configured"):
        s.add_queue(QueueConfig("q"))
    with pytest.raises(SchedulerError, match=r"missed_limit -1 is out of range — use 0 to 100"):
        impl.Scheduler([], missed_limit=-1)
    # the site checker's bounds (site/limits.py), not a second copy of them
    with pytest.raises(SchedulerError, match=r"resume_window 3601 is out of range — use 0 "):
        impl.Scheduler([], resume_window=3601)
    with pytest.raises(TypeError):
        s.tick(20.5)  # type: ignore[arg-type]  # milliseconds are integers


def test_queue_config_is_validated() -> None:
    with pytest.raises(SchedulerError, match="unknown strategy 'loudest'"):
        QueueConfig("q", strategy="loudest")  # type: ignore[arg-type]
    with pytest.raises(SchedulerError, match="must be shorter than max_wait"):
        QueueConfig("q", expand_after=60, max_wait=60)
    with pytest.raises(SchedulerError, match="weight 0 is out of range"):
        QueueConfig("q", weight=0)
    with pytest.raises(SchedulerError, match="level 0 is out of range"):
        QueueConfig("q", {"x": 0})


def test_the_compiled_twin_is_built_from_every_c_source() -> None:
    """setup.py builds one extension from the .pyx; the .pyx must include every .pxi."""
    pyx = (ACD / "_scheduler_c.pyx").read_text(encoding="utf-8")
    for pxi in C_SOURCES[2:]:
        assert f'include "{pxi.name}"' in pyx
    assert "cimport" in pyx and "_heap" in pyx
    for src in [*C_SOURCES, *ACD.glob("_*.py")]:
        assert src.stat().st_size < 15_000, f"{src.name} is over 15 kB: split it"


# --------------------------------------------------------------------- shared rules

@pytest.mark.parametrize("queue_site", [None, "", "bj", "sh"])
@pytest.mark.parametrize("levels", [{}, {"x": 1}, {"x": 3}, {"x": 3, "y": 2}])
def test_staff_of_a_queue_is_who_acd_rules_serves_says(impl: ModuleType, queue_site: str | None,
                                                       levels: dict[str, int]) -> None:
    need = {"x": 2}
    s = impl.Scheduler([QueueConfig("q", need, site=queue_site)])
    s.login("a", 0, site="bj", skills=levels)
    staff = serves("bj", levels, queue_site, need)
    assert s.queue_status("q").staffed == int(staff)
    offered = [d.agent_id for d in s.enqueue("c", "q", 1)]
    assert offered == (["a"] if staff else [])


def test_control_checks_read_their_bounds_from_limits() -> None:
    hi = LIMITS["call.priority"].hi
    assert _control.check_call("c", {}, hi, None, 5) == 5
    assert _control.check_call("c", {}, 0, 3, 5) == 3
    with pytest.raises(SchedulerError, match=LIMITS["call.priority"].use().replace("(", r"\(")
                       .replace(")", r"\)")):
        _control.check_call("c", {}, hi + 1, None, 5)
    with pytest.raises(SchedulerError, match="already in the scheduler"):
        _control.check_call("c", {"c": object()}, 0, None, 5)
    assert _control.check_options(0, 60) == (0, 60_000)
    assert _control.next_handle_time(8000, 16000) == 9000


def test_resume_rule_keeps_a_place_only_for_abandons_within_the_window() -> None:
    r = _control.Resume(60 * S)
    r.left("abandoned", "n1", False, "q", 100, 7, 1 * S)
    r.left("overflowed", "n2", False, "q", 200, 8, 1 * S)  # sent away: no place kept
    r.left("abandoned", "n3", True, "q", 300, 9, 1 * S)  # a callback keeps its own place
    r.left("abandoned", "n4", False, "q", 400, 10, 1 * S)
    assert r.take("n1", "other", 2 * S) is None  # another queue: the place is gone
    assert r.take("n2", "q", 2 * S) is None and r.take("n3", "q", 2 * S) is None
    r.expire(62 * S)
    assert r.take("n4", "q", 62 * S) is None
    r.left("abandoned", "n5", False, "q", 500, 11, 70 * S)
    assert r.take("n5", "q", 130 * S) == (500, 11)
    assert _control.Resume(0).take("n5", "q", 0) is None


def test_abandon_resume_within_the_window(impl: ModuleType) -> None:
    s = impl.Scheduler([QueueConfig("q", {}), QueueConfig("other", {})], resume_window=60)
    s.enqueue("c0", "q", 0, caller="13800000000")
    s.enqueue("c1", "q", 1 * S)
    s.leave("c0", 20 * S)
    s.enqueue("c2", "q", 30 * S)
    s.enqueue("again", "q", 75 * S, caller="13800000000")  # 55 s after hanging up
    st = s.call_status("again")
    assert (st.position, st.enqueue_time) == (1, 0)
    # too late, or another queue: a new place at the back
    s.enqueue("d0", "q", 80 * S, caller="13900000000")
    s.leave("d0", 81 * S)
    s.tick(142 * S)
    s.enqueue("d1", "q", 142 * S, caller="13900000000")
    assert s.call_status("d1").enqueue_time == 142 * S
    s.enqueue("e0", "q", 150 * S, caller="13700000000")
    s.leave("e0", 151 * S)
    s.enqueue("e1", "other", 152 * S, caller="13700000000")
    assert s.call_status("e1").enqueue_time == 152 * S
