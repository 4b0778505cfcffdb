"""The survey node: one key on a 1..scale satisfaction question, recorded as an event."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from callcenter.ivr.engine import run_flow
from callcenter.ivr.simulate import ScriptedIO
from callcenter.site import load_site
from tests.fix_asterisk import make_site
from tests.unit.test_ivr_check import problems

pytestmark = pytest.mark.clock  # dates and hours: also run under a fake date

SURVEY = """
entry: ask
nodes:
  ask:
    type: survey
    question: satisfaction
    prompt: main_menu
    invalid_prompt: invalid
    scale: 5
    retries: 1
    next: thanks
    on_fail: bye
  thanks: {type: play, prompts: [welcome], next: bye}
  bye: {type: hangup}
"""


def run(tmp_path: Path, presses: list[str]) -> tuple[object, list[tuple[str, dict]]]:
    path = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(SURVEY, encoding="utf-8")
    site = load_site(path, env={})
    events: list[tuple[str, dict]] = []
    io = ScriptedIO("13900139000", presses, dt.datetime(2026, 11, 24, 20, 5),
                    echo=lambda s: None, silent_after=False)
    out = asyncio.run(run_flow(site, "main", io, on_event=lambda k, d: events.append((k, d))))
    return out, events


def test_answer_is_kept_and_recorded(tmp_path: Path) -> None:
    out, events = run(tmp_path, ["4"])
    assert out.variables["survey_satisfaction"] == "4"  # type: ignore[attr-defined]
    assert out.path == ["ask", "thanks", "bye"]  # type: ignore[attr-defined]
    answers = [d for k, d in events if k == "survey.answer"]
    assert answers == [{"flow": "main", "question": "satisfaction", "score": 4, "scale": 5,
                        "outcome": "answered", "attempt": 1}]
    steps = [d for k, d in events if k == "ivr.step"]
    assert steps[0] == {"flow": "main", "node": "ask", "digits": "4"}


def test_out_of_scale_is_retried_then_fails(tmp_path: Path) -> None:
    out, events = run(tmp_path, ["7", "0"])
    assert out.path == ["ask", "bye"]  # type: ignore[attr-defined]
    assert [(d["score"], d["outcome"]) for k, d in events if k == "survey.answer"] == [
        (None, "invalid"), (None, "invalid")]  # a wrong key is kept apart from the scores


def test_checker_knows_the_survey_node(tmp_path: Path) -> None:
    (scale,) = problems(tmp_path / "a", SURVEY.replace("scale: 5", "scale: 12"))
    assert "main.yaml:9:5: nodes.ask.scale: Input should be less than or equal to 9" in scale
    (prompt,) = problems(tmp_path / "b", SURVEY.replace("prompt: main_menu", "prompt: nosuch"))
    assert "nodes.ask.prompt: unknown prompt 'nosuch'" in prompt
