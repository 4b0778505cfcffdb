"""The agent's Dial in the rendered dialplan (cc-connect): `g` keeps the caller when the
agent hangs up first; after an answered call the daemon's survey route runs (never a
requeue), and a Dial that did not connect reports its status as before."""

from __future__ import annotations

import re

import pytest

from callcenter.render import render_files
from callcenter.site import load_site
from tests.fix_asterisk import make_site


@pytest.fixture(scope="module")
def connect(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    site = load_site(make_site(tmp_path_factory.mktemp("site")), env={})
    plan = render_files(site, tmp_path_factory.mktemp("out"))["extensions.conf"]
    body = plan.split("\n[cc-connect]\n", 1)[1].split("\n[", 1)[0]
    return [line for line in body.splitlines() if line.startswith(("exten", " same"))]


def test_the_agents_dial_continues_when_the_agent_hangs_up(connect: list[str]) -> None:
    [dial] = [line for line in connect if ",Dial(PJSIP/" in line]
    options = dial.rsplit(",", 1)[1]
    assert options.startswith("gtb(cc-agent-leg^s^1)")
    assert "T" not in options  # the customer still cannot transfer


def test_an_answered_call_goes_to_the_survey_route_and_then_hangs_up(
        connect: list[str]) -> None:
    after = connect[next(i for i, line in enumerate(connect) if ",Dial(" in line) + 1:]
    assert after[0] == ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?answered)'
    assert after[1] == " same => n,AGI(${CC_AGI}/offer/${DIALSTATUS})"  # not connected
    assert after[2] == " same => n,Goto(cc-after-flow,s,1)"
    answered = after[3:]
    # CC_NEXT is hangup before the AGI: without the daemon the caller is hung up, never
    # put back in the queue it was answered from
    assert answered[0] == " same => n(answered),Set(CC_NEXT=hangup)"
    assert re.search(r"GotoIf\(.*GLOBAL\(CC_ALIVE\).*\?done\)", answered[1])
    assert answered[2] == " same => n,AGI(${CC_AGI}/survey)"
    assert answered[3] == " same => n(done),Hangup()"
    assert len(answered) == 4
