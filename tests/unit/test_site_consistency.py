"""What `check` passes, the daemon accepts: shared limits, serveable queues, loops, numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from callcenter.acd.types import QueueConfig, SchedulerError
from callcenter.cli import main
from callcenter.errors import SiteError
from callcenter.render import render_files
from callcenter.site import load_site
from callcenter.site.advice import site_warnings
from callcenter.site.hours import is_open
from callcenter.site.limits import LIMITS
from tests.fix_asterisk import make_site
from tests.unit.test_site_hostile import SITE, problems, write

FLOW_MENU = """\
entry: ask
nodes:
  ask: {type: menu, prompt: hello, options: {"1": go}, on_fail: bye}
  go: {type: goto, flow: other}
  bye: {type: hangup}
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# ---------------------------------------------------------------- one table of limits

def test_weight_2000_is_refused_with_the_schedulers_range(tmp_path: Path) -> None:
    found = problems(tmp_path, edit(SITE, "overflow: voicemail:sales}",
                                    "overflow: voicemail:sales, weight: 2000}"))
    assert len(found) == 1
    assert "queues.sales.weight: weight 2000 is out of range — use 1 to 1000" in found[0]
    with pytest.raises(SchedulerError, match="weight 2000 is out of range — use 1 to 1000"):
        QueueConfig("sales", {"sales": 2}, weight=2000)


def test_weight_at_the_bound_passes_checker_and_scheduler(tmp_path: Path) -> None:
    site = write(tmp_path, edit(SITE, "overflow: voicemail:sales}",
                                "overflow: voicemail:sales, weight: 1000}"))
    q = load_site(site, env={}).spec.queues["sales"]
    assert q.weight == LIMITS["queue.weight"].hi == 1000
    assert QueueConfig("sales", dict(q.skills), weight=q.weight).weight == 1000


@pytest.mark.security
@pytest.mark.parametrize(("old", "new", "message"), [
    ("overflow: voicemail:sales}", "overflow: voicemail:sales, ring_seconds: 0}",
     "ring seconds 0 is out of range — use 1 to 600"),
    ("overflow: voicemail:sales}", "overflow: voicemail:sales, wrap_up_seconds: 99999}",
     "wrap up seconds 99999 is out of range — use 0 to 3600"),
    ("overflow: voicemail:sales}",
     "overflow: voicemail:sales, max_wait_seconds: 100000000000000000000}",
     "max wait seconds 100000000000000000000 is out of range — use 0 to 86400"),
    ("overflow: voicemail:sales}", "overflow: voicemail:sales, announce: {every: -1}}",
     "every -1 is out of range — use 0 to 3600"),
    ("port: 5071}", "port: 5071, channels: 0}", "channels 0 is out of range — use 1 to 10000"),
    ("port: 5072}", "port: 70000}", "port 70000 is out of range — use 1 to 65535"),
    ('extensions: ["8001"]}', 'extensions: ["8001"], ring_seconds: 100000}',
     "ring seconds 100000 is out of range — use 1 to 600"),
    ("skills: {sales: 5}}", "skills: {sales: 11}}", "skill level 11 is out of range — use 1 to "
     "10 (1 lowest, 10 highest)"),
])
def test_every_bounded_value_is_refused_by_check(tmp_path: Path, old: str, new: str,
                                                 message: str) -> None:
    found = problems(tmp_path, edit(SITE, old, new))
    assert any(message in p for p in found), found


def test_scheduler_states_the_same_ranges() -> None:
    for key, name in (("queue.max_wait_seconds", "max_wait"),
                      ("queue.expand_after_seconds", "expand_after")):
        hi = LIMITS[key].hi
        QueueConfig("q", {"s": 1}, **{name: hi})
        with pytest.raises(SchedulerError, match=f"0 to {hi}"):
            QueueConfig("q", {"s": 1}, **{name: 10 ** 20})
    with pytest.raises(SchedulerError, match="use 1 to 10"):
        QueueConfig("q", {"s": 11})


# ---------------------------------------------------------------- queues and hosts

def test_a_queue_no_agent_can_serve_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, edit(SITE, "skills: {sales: 2}", "skills: {sales: 6}"))
    assert found == [f"{tmp_path / 'site.yaml'}:9:24: queues.sales.skills: no agent has "
                     "sales ≥ 6: no call in this queue could ever be answered — lower the "
                     "levels, give an agent these skills"]


def test_a_queue_site_restricts_its_agents_as_the_scheduler_does(tmp_path: Path) -> None:
    hq = '  hq: {name: HQ, caller_id: "01080001000", phone_networks: [10.8.0.0/16]}'
    text = edit(SITE, hq, hq + '\n'
                '  cd: {name: CD, caller_id: "02880001000"}')
    found = problems(tmp_path, edit(text, "skills: {sales: 2},", "skills: {sales: 2}, site: cd,"))
    assert len(found) == 1
    assert "no agent at site 'cd' has sales ≥ 2" in found[0] and "remove 'site:'" in found[0]


def test_a_queue_served_only_through_skill_expansion_is_a_warning(tmp_path: Path) -> None:
    text = edit(SITE, "skills: {sales: 2},", "skills: {sales: 6}, expand_after_seconds: 30,")
    site = load_site(write(tmp_path, text), env={})
    warnings = [str(w) for w in site_warnings(site)]
    assert len(warnings) == 1 and "no agent has the required levels" in warnings[0]
    res = CliRunner().invoke(main, ["check", str(tmp_path / "site.yaml")])
    assert res.exit_code == 0, res.output
    assert "warning: " in res.output and "OK" in res.output and "1 warning" in res.output


def test_an_overflow_cycle_is_an_error(tmp_path: Path) -> None:
    text = edit(SITE, "overflow: voicemail:sales}",
                "overflow: queue:more}\n  more: {name: More, skills: {sales: 1}, "
                "overflow: queue:sales}")
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert "queues.more.overflow: overflow cycle: more → sales → more" in found[0]
    # a queue that never overflows (max_wait 0) ends the chain
    load_site(write(tmp_path, edit(text, "overflow: queue:sales}",
                                   "overflow: queue:sales, max_wait_seconds: 0}")), env={})


@pytest.mark.security
@pytest.mark.parametrize("host", ["1.2.3.400", "999", "10.0.0", "256.1.1.1"])
def test_sip_bind_must_be_an_address_or_a_dns_name(tmp_path: Path, host: str) -> None:
    found = problems(tmp_path, SITE.replace("sip_bind: 127.0.0.1", f"sip_bind: {host}"))
    assert len(found) == 1
    assert f"asterisk.sip_bind: {host!r} is not a valid IP address" in found[0]


def test_sip_bind_accepts_addresses_and_names(tmp_path: Path) -> None:
    for host in ("192.0.2.10", "::", "pbx.school.example"):
        text = SITE.replace("sip_bind: 127.0.0.1", f"sip_bind: '{host}'")
        load_site(write(tmp_path, text), env={})


# ---------------------------------------------------------------- goto loops

def test_a_flow_that_goes_to_itself_is_an_error(tmp_path: Path) -> None:
    flow = ("entry: hi\nnodes:\n  hi: {type: play, prompts: [hello], next: again}\n"
            "  again: {type: goto, flow: main}\n")
    found = problems(tmp_path, SITE, {"main.yaml": flow})
    assert found == [f"{tmp_path / 'main.yaml'}:4:3: nodes.again: the flow goes to itself "
                     "without waiting for the caller: main → main — put a menu or input node "
                     "on the way, or end with queue, transfer, voicemail or hangup"]


def test_two_flows_going_to_each_other_are_an_error(tmp_path: Path) -> None:
    text = edit(SITE, "flows: {main: main.yaml}", "flows: {main: main.yaml, other: o.yaml}")
    flows = {"main.yaml": "entry: g\nnodes:\n  g: {type: goto, flow: other}\n",
             "o.yaml": "entry: s\nnodes:\n  s: {type: set, vars: {x: '1'}, next: g}\n"
                       "  g: {type: goto, flow: main}\n"}
    found = problems(tmp_path, text, flows)
    assert len(found) == 1
    assert "main.yaml:3:3: nodes.g: flows go to each other without waiting for the caller: " \
        "main → other → main" in found[0]


def test_a_goto_loop_through_a_menu_is_fine(tmp_path: Path) -> None:
    text = edit(SITE, "flows: {main: main.yaml}", "flows: {main: main.yaml, other: o.yaml}")
    flows = {"main.yaml": FLOW_MENU, "o.yaml": "entry: g\nnodes:\n  g: {type: goto, flow: main}\n"}
    load_site(write(tmp_path, text, flows), env={})


# ---------------------------------------------------------------- numbers and their forms

def test_a_did_starting_with_0_answers_every_dial_form(tmp_path: Path) -> None:
    path = make_site(tmp_path / "s")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["numbers"].append({"number": "02787654321", "flow": "main", "first_route": "telecom",
                            "second_route": "unicom", "kind": "did"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    conf = render_files(load_site(path, env={}), tmp_path / "out")["extensions.conf"]
    inbound = conf.split("[cc-inbound]")[1].split("\n[")[0]
    for form in ("+862787654321", "862787654321", "87654321"):
        assert f"exten => {form},1,Goto(cc-inbound,02787654321,1)\n" in inbound
    assert "8602787654321" not in conf
    assert "exten => +864008001234,1,Goto(cc-inbound,4008001234,1)\n" in inbound
    assert "exten => 864008001234,1,Goto(cc-inbound,4008001234,1)\n" in inbound


def test_two_numbers_with_the_same_local_form_are_an_error(tmp_path: Path) -> None:
    text = edit(SITE, "numbers:\n", "numbers:\n  - {number: '02787654321', flow: main, "
                "first_route: ct, second_route: cu}\n  - {number: '01087654321', flow: main, "
                "first_route: ct, second_route: cu}\n")
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert "01087654321 can also be dialled as 87654321, which is also numbers[0]" in found[0]


def test_kind_written_as_a_number_is_accepted(tmp_path: Path) -> None:
    text = edit(SITE, "numbers:\n", "numbers:\n  - {number: '95123', kind: 95, flow: main, "
                "first_route: ct, second_route: cu}\n")
    assert load_site(write(tmp_path, text), env={}).spec.numbers[0].kind == "95"


# ---------------------------------------------------------------- holiday ranges

HOURS = '  std: {weekly: {mon: "09:00-18:00"}}'


@pytest.mark.clock
def test_a_holiday_range_expands_to_each_date(tmp_path: Path) -> None:
    text = edit(SITE, HOURS, '  std: {weekly: {mon: "09:00-18:00"}, '
                'holidays: ["2026-10-01..2026-10-07", "2027-02-06"]}')
    hours = load_site(write(tmp_path, text), env={}).spec.hours["std"]
    assert hours.holidays[0] == dt.date(2026, 10, 1) and len(hours.holidays) == 8
    monday_in_range = dt.datetime(2026, 10, 5, 10, 0)
    assert not is_open(hours, monday_in_range, "Asia/Shanghai")
    assert is_open(hours, dt.datetime(2026, 10, 12, 10, 0), "Asia/Shanghai")


@pytest.mark.parametrize(("written", "message"), [
    ("2026-10-01-2026-10-07", "'2026-10-01-2026-10-07' is not a date or a range — write a "
     "range as 2026-10-01..2026-10-07 (two dots), or list each date"),
    ("2026-10-07..2026-10-01", "range '2026-10-07..2026-10-01' covers -5 days — write the "
     "earlier date first; at most 366 days"),
    ("2026-01-01..2036-01-01", "covers 3653 days"),
    ("2026-02-30..2026-03-02", "day is out of range for month"),
])
def test_a_malformed_holiday_range_says_what_to_write(tmp_path: Path, written: str,
                                                      message: str) -> None:
    text = edit(SITE, HOURS, '  std: {weekly: {mon: "09:00-18:00"}, '
                f'holidays: ["2026-05-01", "{written}"]}}')
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert "hours.std.holidays[1]: " in found[0] and message in found[0]


TWO_SITES = edit(edit(
    edit(SITE, '  hq: {name: HQ, caller_id: "01080001000", phone_networks: [10.8.0.0/16]}',
         '  hq: {name: HQ, caller_id: "01080001000", phone_networks: [10.8.0.0/16]}\n'
         '  cd: {name: CD, caller_id: "02880001000", phone_networks: [10.9.0.0/16]}'),
    "  sales: {name: Sales, skills: {sales: 2}, overflow: voicemail:sales}",
    "  sales: {name: Sales, site: hq, skills: {sales: 2}, overflow: site:cd}\n"
    "  sales-cd: {name: Sales CD, site: cd, skills: {sales: 2}, overflow: voicemail:cd}"),
    '  - {id: "1001", name: Wang, extension: "8001", site: hq, skills: {sales: 5}}',
    '  - {id: "1001", name: Wang, extension: "8001", site: hq, skills: {sales: 5}}\n'
    '  - {id: "2001", name: Liu, extension: "8101", site: cd, skills: {sales: 5}}')


def write_two(tmp_path: Path, text: str) -> Path:
    """`text` with secrets for both sites' agents."""
    from callcenter.site import load_site_file
    from callcenter.site.secrets import generate_secrets

    site = write(tmp_path, TWO_SITES)
    generate_secrets(load_site_file(site), tmp_path / "secrets.yaml")
    site.write_text(text, encoding="utf-8")
    return site


def test_site_overflow_goes_to_that_sites_queue_with_the_same_skills(tmp_path: Path) -> None:
    from callcenter.acd.rules import site_overflow_queue

    site = load_site(write_two(tmp_path, TWO_SITES), env={})
    assert site_overflow_queue(site.spec.queues, "sales", "cd") == "sales-cd"
    assert not [w for w in site_warnings(site) if "overflow" in w.path]


def test_a_site_overflow_cycle_is_an_error(tmp_path: Path) -> None:
    site = write_two(tmp_path, edit(TWO_SITES, "overflow: voicemail:cd}", "overflow: site:hq}"))
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    found = [str(p) for p in info.value.problems]
    assert len(found) == 1
    assert "overflow cycle: sales → sales-cd → sales" in found[0]


def test_a_site_overflow_with_no_matching_queue_is_a_warning(tmp_path: Path) -> None:
    text = edit(TWO_SITES, "site: cd, skills: {sales: 2}", "site: cd, skills: {sales: 3}")
    site = load_site(write_two(tmp_path, text), env={})
    (warning,) = [str(w) for w in site_warnings(site) if "overflow" in str(w)]
    assert "queues.sales.overflow: site cd has no queue asking for the same skills " \
           "(sales 2): overflowing calls take the static fallback" in warning
