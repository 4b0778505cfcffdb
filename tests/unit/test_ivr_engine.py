"""The IVR engine through the simulator: every node type and every branch."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from callcenter.ivr.contacts import ContactBook, normalise_number
from callcenter.ivr.engine import Outcome
from callcenter.ivr.simulate import simulate
from callcenter.site import Site, load_site
from tests.fix_asterisk import make_site

pytestmark = pytest.mark.clock  # dates and hours: also run under a fake date

TUE_EVENING = dt.datetime(2026, 11, 24, 20, 5)
TUE_NIGHT = dt.datetime(2026, 11, 24, 23, 30)
NATIONAL_DAY = dt.datetime(2026, 10, 1, 10, 0)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_site(tmp_path_factory.mktemp("site")), env={})


def with_flow(tmp_path: Path, flow: str) -> Site:
    path = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(flow, encoding="utf-8")
    return load_site(path, env={})


def run(site: Site, presses: list[str], caller: str = "13900139000",
        at: dt.datetime = TUE_EVENING, contacts: ContactBook | None = None) -> Outcome:
    lines: list[str] = []
    return asyncio.run(simulate(site, "main", caller=caller, presses=presses, at=at,
                                contacts=contacts, echo=lines.append))


def test_menu_digit_then_city_menu(site: Site) -> None:
    out = run(site, ["0", "2"])
    assert (out.kind, out.target) == ("queue", "course-cd")
    assert out.path[-3:] == ["menu", "city", "campus-cd"]
    assert out.digits == ["0", "2"]


@pytest.mark.parametrize("digit,queue", [("1", "sales"), ("3", "tech"), ("9", "complaints")])
def test_menu_options(site: Site, digit: str, queue: str) -> None:
    out = run(site, [digit])
    assert (out.kind, out.target) == ("queue", queue)


def test_complaints_get_priority_from_set_node(site: Site) -> None:
    assert run(site, ["9"]).priority == 5


def test_region_from_callers_number(site: Site) -> None:
    assert run(site, ["2"], caller="01062345678").target == "course-bj"
    assert run(site, ["2"], caller="+862886661234").target == "course-cd"
    assert run(site, ["2"], caller="08161234567").target == "course-cd"  # a 4-digit area code


def test_timeout_path_and_final_branch(site: Site) -> None:
    out = run(site, ["", ""])
    assert out.path[:5] == ["welcome", "lookup", "open", "menu", "course"]
    assert out.path[-2:] == ["city", "campus-bj"]  # city menu's on_fail after its retry


def test_invalid_key_plays_invalid_prompt_and_retries(site: Site) -> None:
    lines: list[str] = []
    out = asyncio.run(simulate(site, "main", caller="13900139000", presses=["7", "3"],
                               at=TUE_EVENING, echo=lines.append))
    assert out.target == "tech"
    assert any("invalid" in line for line in lines)


def test_closed_at_night_and_on_holidays(site: Site) -> None:
    assert run(site, [], at=TUE_NIGHT).kind == "voicemail"
    assert run(site, [], at=NATIONAL_DAY).kind == "voicemail"


def test_lookup_sets_contact_and_vip_priority(site: Site) -> None:
    out = run(site, ["1"], caller="+86 138 0013 8000")
    assert out.variables["contact_name"].startswith("Zhao Lei")
    assert out.priority == 2
    contacts = ContactBook.load(Path(site.base_dir / "contacts.csv"))
    assert contacts.find("008613800138000") is not None
    assert normalise_number("+86 139-0013-9000") == "13900139000"


def test_caller_hangup(site: Site) -> None:
    from callcenter.errors import CallerHangup
    from callcenter.ivr.engine import run_flow
    from callcenter.ivr.simulate import ScriptedIO

    io = ScriptedIO("13900139000", [], TUE_EVENING, echo=lambda s: None, silent_after=False)
    out = asyncio.run(run_flow(site, "main", io))
    assert (out.kind, out.node) == ("caller_hangup", "menu")
    assert issubclass(CallerHangup, Exception)


FLOW_ALL = """\
entry: start
nodes:
  start: {type: play, prompts: [welcome, welcome], next: ask}
  ask:
    type: input
    prompt: main_menu
    var: student
    max_digits: 8
    pattern: "[0-9]{6,8}"
    retries: 1
    invalid_prompt: invalid
    next: say
    on_fail: bye
  say: {type: say, kind: digits, value: "${student}", next: mark}
  mark: {type: set, vars: {tag: "s-${student}"}, priority: "3", next: check}
  check:
    type: branch
    cases:
      - if: {var: tag, matches: "s-12.*"}
        next: agent
      - if: {var: student, one_of: ["654321"]}
        next: other
      - if: {caller_prefix: "138", contact: false}
        next: vm
    else: bye
  agent: {type: transfer, to: "8001"}
  other: {type: goto, flow: second}
  vm: {type: voicemail, box: students, max_seconds: 30}
  bye: {type: hangup, prompt: goodbye}
"""
SECOND = "entry: out\nnodes:\n  out: {type: transfer, to: '13912345678', prompt: goodbye}\n"


@pytest.fixture
def all_nodes(tmp_path: Path) -> Site:
    path = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(FLOW_ALL)
    (tmp_path / "flows" / "second.yaml").write_text(SECOND)
    text = path.read_text().replace("flows:\n  main: flows/main.yaml",
                                    "flows:\n  main: flows/main.yaml\n  second: flows/second.yaml")
    path.write_text(text)
    return load_site(path, env={})


def test_input_say_set_branch_transfer(all_nodes: Site) -> None:
    out = run(all_nodes, ["123456"])
    assert (out.kind, out.target, out.priority) == ("transfer", "8001", 3)
    assert out.variables["tag"] == "s-123456"


def test_goto_other_flow(all_nodes: Site) -> None:
    out = run(all_nodes, ["654321"])
    assert (out.kind, out.target) == ("transfer", "13912345678")
    assert out.path[-1] == "second.out"


def test_branch_on_caller_prefix_and_missing_contact_to_voicemail(all_nodes: Site) -> None:
    out = run(all_nodes, ["999999"], caller="13812345678")
    assert (out.kind, out.target) == ("voicemail", "students")


def test_input_retries_then_fails(all_nodes: Site) -> None:
    out = run(all_nodes, ["12", "x"], caller="13912345678")
    assert out.kind == "hangup" and out.path[-1] == "bye"


def test_else_branch(all_nodes: Site) -> None:
    out = run(all_nodes, ["999999"], caller="13912345678")
    assert out.kind == "hangup"


def test_cli_exit_codes(site: Site) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main

    args = ["ivr", "simulate", "main", "--site", str(site.path), "--at", "2026-11-24 20:05"]
    r = CliRunner().invoke(main, [*args, "--digits", "0,1"])
    assert r.exit_code == 0 and "outcome: queue course-bj" in r.output
    r = CliRunner().invoke(main, ["ivr", "simulate", "main", "--site", str(site.path), "--at",
                                  "2026-11-24 23:30"])
    assert r.exit_code == 11 and "→ closed" in r.output


def test_key_pressed_during_welcome_reaches_the_menu(site: Site) -> None:
    """A caller who knows the menu presses during the welcome prompt (barge-in)."""
    from callcenter.ivr.engine import run_flow
    from callcenter.ivr.simulate import ScriptedIO

    class BargeIn(ScriptedIO):
        async def play(self, prompts: list[str], interruptible: bool = True) -> str | None:
            await super().play(prompts, interruptible)
            return "9" if prompts == ["welcome"] else None

    io = BargeIn("13900139000", [], TUE_EVENING, echo=lambda s: None)
    out = asyncio.run(run_flow(site, "main", io))
    assert (out.kind, out.target) == ("queue", "complaints")
