"""Settings the ACD reads from the site file (issue 11): the queue's expansion and handle
time, the `acd:` section, one-carrier numbers and DTMF modes — typed, bounded, located."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.site import load_site
from callcenter.site.advice import site_warnings
from callcenter.site.limits import LIMITS
from tests.unit.test_site_hostile import SITE, problems, write

QUEUE = "sales: {name: Sales, skills: {sales: 2}, overflow: voicemail:sales}"
TWO_SITES = SITE.replace(
    '  hq: {name: HQ, caller_id: "01080001000", phone_networks: [10.8.0.0/16]}',
    '  hq: {name: HQ, caller_id: "01080001000", phone_networks: [10.8.0.0/16]}\n'
    '  cd: {name: CD, caller_id: "02880001000", phone_networks: [10.9.0.0/16]}')


def queue(extra: str, text: str = SITE) -> str:
    assert QUEUE in text
    return text.replace(QUEUE, QUEUE[:-1] + ", " + extra + "}")


def test_defaults_match_the_schedulers(tmp_path: Path) -> None:
    spec = load_site(write(tmp_path), env={}).spec
    q = spec.queues["sales"]
    assert (q.expand_levels, q.overflow_site, q.handle_time_seconds) == (1, None, 180)
    assert (spec.acd.missed_limit, spec.acd.resume_window_seconds) == (3, 60)
    assert spec.trunks["ct"].dtmf_mode == "rfc4733"
    assert spec.asterisk.phone_dtmf_mode == "rfc4733"


def test_queue_and_acd_settings_are_read(tmp_path: Path) -> None:
    text = queue("expand_after_seconds: 30, expand_levels: 2, overflow_site: cd, "
                 "handle_time_seconds: 240", TWO_SITES)
    text += "acd: {missed_limit: 0, resume_window_seconds: 120}\n"
    spec = load_site(write(tmp_path, text), env={}).spec
    q = spec.queues["sales"]
    assert (q.expand_levels, q.overflow_site, q.handle_time_seconds) == (2, "cd", 240)
    assert (spec.acd.missed_limit, spec.acd.resume_window_seconds) == (0, 120)


def test_overflow_site_must_be_a_known_site(tmp_path: Path) -> None:
    found = problems(tmp_path, queue("expand_after_seconds: 30, overflow_site: cdd",
                                     TWO_SITES))
    assert len(found) == 1, found
    assert ":10:97: " in found[0]  # the queue's line, the value's column
    assert "queues.sales.overflow_site: unknown site 'cdd' — did you mean 'cd'?" in found[0]


@pytest.mark.parametrize(("extra", "key", "fragment"), [
    ("expand_levels: 10", "queues.sales.expand_levels", "expand levels 10 is out of range"),
    ("handle_time_seconds: -1", "queues.sales.handle_time_seconds",
     "handle time seconds -1 is out of range"),
])
def test_queue_bounds_come_from_the_one_table(tmp_path: Path, extra: str, key: str,
                                              fragment: str) -> None:
    found = problems(tmp_path, queue(extra))
    assert len(found) == 1, found
    limit = LIMITS[key.replace("queues.sales", "queue")]
    assert f"{key}: {fragment} — use {limit.lo} to {limit.hi}" in found[0]


@pytest.mark.parametrize(("extra", "fragment"), [
    ("missed_limit: 101", "acd.missed_limit: missed limit 101 is out of range — use 0 to 100"),
    ("resume_window_seconds: 7200",
     "acd.resume_window_seconds: resume window seconds 7200 is out of range — use 0 to 3600"),
    ("missed_limt: 2", "acd.missed_limt: unknown key 'missed_limt' — did you mean "
     "'missed_limit'?"),
])
def test_acd_section_is_checked(tmp_path: Path, extra: str, fragment: str) -> None:
    found = problems(tmp_path, SITE + "acd: {" + extra + "}\n")
    assert len(found) == 1, found
    assert fragment in found[0]
    assert found[0].startswith(str(tmp_path / "site.yaml") + ":22:")


def test_expansion_levels_and_overflow_site_decide_who_serves(tmp_path: Path) -> None:
    # the only sales agent (level 5) is at hq; a cd-only queue wanting 6 is served by nobody
    text = queue("site: cd, expand_after_seconds: 30", TWO_SITES).replace(
        "skills: {sales: 2}", "skills: {sales: 6}")
    assert "no agent at site 'cd' has sales ≥ 6" in problems(tmp_path, text)[0]
    # hq as overflow site with expansion of one level: Wang (5) serves it once expanded
    site = load_site(write(tmp_path, text.replace("site: cd,", "site: cd, overflow_site: hq,")),
                     env={})
    assert any("no agent has the required levels" in str(w) for w in site_warnings(site))
    # expand_levels 0: the overflow site's agents need the full level, so nobody again
    found = problems(tmp_path, text.replace("site: cd,",
                                            "site: cd, overflow_site: hq, expand_levels: 0,"))
    assert "no agent at site 'cd' has sales ≥ 6" in found[0]


def test_expansion_settings_without_expansion_are_warned(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, queue("overflow_site: cd, expand_levels: 2", TWO_SITES)),
                     env={})
    warnings = [str(w) for w in site_warnings(site)]
    assert [w.split(": ", 2)[1] for w in warnings if "skill expansion is off" in w] == [
        "queues.sales.overflow_site", "queues.sales.expand_levels"]


# ---------------------------------------------------------------- one carrier

@pytest.mark.parametrize("route", ["", ", second_route: ct"])
def test_one_route_loads_with_a_warning(tmp_path: Path, route: str) -> None:
    text = SITE.replace(", second_route: cu}", route + "}")
    site = load_site(write(tmp_path, text), env={})
    num = site.spec.numbers[0]
    assert (num.first_route, num.second_route, num.one_route) == ("ct", "ct", True)
    warnings = [str(w) for w in site_warnings(site)]
    assert len(warnings) == 1, warnings
    assert ":14:5: numbers[0]: one route only (trunk 'ct')" in warnings[0]
    assert "second_route" in warnings[0]


def test_two_routes_have_no_one_route_warning(tmp_path: Path) -> None:
    site = load_site(write(tmp_path), env={})
    assert not site.spec.numbers[0].one_route
    assert not [w for w in site_warnings(site) if "one route" in str(w)]


def test_unknown_first_route_is_reported_once_when_second_is_omitted(tmp_path: Path) -> None:
    found = problems(tmp_path, SITE.replace("first_route: ct, second_route: cu}",
                                            "first_route: cx}"))
    assert len(found) == 1, found
    assert "numbers[0].first_route: unknown trunk 'cx'" in found[0]


# ---------------------------------------------------------------- DTMF modes

def test_dtmf_modes_are_read_and_checked(tmp_path: Path) -> None:
    text = SITE.replace("cu: {host: 127.0.0.1, port: 5072}",
                        "cu: {host: 127.0.0.1, port: 5072, dtmf_mode: inband}").replace(
        "asterisk: {sip_bind: 127.0.0.1}", "asterisk: {sip_bind: 127.0.0.1, "
        "phone_dtmf_mode: info}")
    spec = load_site(write(tmp_path, text), env={}).spec
    assert (spec.trunks["cu"].dtmf_mode, spec.asterisk.phone_dtmf_mode) == ("inband", "info")
    found = problems(tmp_path, text.replace("dtmf_mode: inband", "dtmf_mode: rfc2833"))
    assert len(found) == 1, found
    assert "trunks.cu.dtmf_mode: 'rfc2833' is not allowed — use 'rfc4733', 'inband', " \
        "'info', 'auto' or 'auto_info'" in found[0]
