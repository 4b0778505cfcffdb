"""The dialling policy: number classes and decisions (no Asterisk)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from callcenter.dialling import classify, decide
from callcenter.dialling.sitecheck import dialling_problems
from callcenter.errors import SiteError
from callcenter.ivr.engine import Outcome
from callcenter.ivr.simulate import simulate
from callcenter.render import render_site
from callcenter.site import Site, load_site
from callcenter.site.model import Dialling, SiteDialling, SiteFile
from tests.fix_asterisk import make_site

EXT = frozenset({"8001", "8002"})


@pytest.mark.parametrize(("number", "cls", "digits"), [
    ("8001", "internal", "8001"),
    ("80001000", "local", "80001000"),
    ("01080001000", "local", "80001000"),
    ("02880002000", "national", "02880002000"),
    ("081612345678", "national", "081612345678"),
    ("13800138000", "mobile", "13800138000"),
    ("+8613800138000", "mobile", "13800138000"),
    ("8613800138000", "mobile", "13800138000"),
    ("008613800138000", "mobile", "13800138000"),
    ("16612345678", "mobile", "16612345678"),
    ("4008001234", "freephone", "4008001234"),
    ("8008101234", "freephone", "8008101234"),
    ("00441234567", "international", "00441234567"),
    ("+441234567", "international", "00441234567"),
    ("+862880002000", "national", "02880002000"),
    ("16812345", "premium", "16812345"),
    ("12590123", "premium", "12590123"),
    ("9001234", "premium", "9001234"),
    ("01016812345", "premium", "01016812345"),
    ("110", "emergency", "110"),
    ("120", "emergency", "120"),
    ("", "invalid", ""),
    ("12a45", "invalid", ""),
    ("123", "invalid", ""),
    ("1380013800", "invalid", ""),
])
def test_classify(number: str, cls: str, digits: str) -> None:
    assert classify(number, extensions=EXT, area_codes=["010"]) == (cls, digits)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> SiteFile:
    return load_site(make_site(tmp_path_factory.mktemp("site")), env={}).spec


def test_defaults_refuse_international_and_premium(spec: SiteFile) -> None:
    agent = spec.agents[0]
    events: list[tuple[str, dict]] = []
    emit = lambda kind, **d: events.append((kind, d))  # noqa: E731
    for origin in ("agent", "callback", "flow_transfer", "transfer"):
        d = decide(spec, origin, "00441234567", agent=agent if origin == "agent" else None,
                   site_name="bj-hq", emit=emit)
        assert not d.allowed and d.number_class == "international" and d.dial_digits == ""
    assert decide(spec, "agent", "16812345", agent=agent).allowed is False
    assert [e[1]["origin"] for e in events] == ["agent", "callback", "flow_transfer",
                                                "transfer"]
    assert events[0][0] == "dial.refused" and events[0][1]["number"] == "00441**4567"
    ok = decide(spec, "agent", "13800138000", agent=agent, emit=emit)
    assert ok.allowed and ok.dial_digits == "13800138000" and len(events) == 4


def test_emergency_only_from_a_desk_phone(spec: SiteFile) -> None:
    assert decide(spec, "agent", "110", agent=spec.agents[0]).allowed
    assert not decide(spec, "callback", "110", site_name="bj-hq").allowed


def test_role_and_site_override(spec: SiteFile) -> None:
    pol = Dialling(roles={"agent": ["internal"], "intl": ["international", "mobile"]},
                   sites={"cd-out": SiteDialling(allow=["internal"])})
    spec = dataclasses.replace(spec, dialling=pol)
    boss = dataclasses.replace(spec.agents[0], role="intl")
    assert decide(spec, "agent", "00441234567", agent=boss).allowed
    assert not decide(spec, "agent", "13800138000", agent=spec.agents[0]).allowed
    assert decide(spec, "callback", "13800138000", site_name="bj-hq").allowed
    assert not decide(spec, "callback", "13800138000", site_name="cd-out").allowed
    assert not decide(spec, "nonsense", "13800138000").allowed


def test_unknown_class_and_role_are_located(spec: SiteFile) -> None:
    pol = Dialling(allow=["mobil"], sites={"nowhere": SiteDialling()})
    bad = dataclasses.replace(spec, dialling=pol,
                              agents=[dataclasses.replace(spec.agents[0], role="boss")])
    problems = list(dialling_problems(bad))
    assert (("dialling", "allow", 0), "unknown number class 'mobil'",
            "did you mean 'mobile'?") in problems
    assert any(p[0] == ("dialling", "sites", "nowhere") for p in problems)
    assert any(p[0] == ("agents", 0, "role") for p in problems)


OPEN_TRANSFER = """\
entry: ask
nodes:
  ask:
    type: input
    prompt: main_menu
    var: callback_number
    next: out
    on_fail: bye
  bye: {type: hangup}
  out: {type: transfer, to: "${callback_number}"RESTRICT}
"""


def _flow_site(tmp_path: Path, restrict: str) -> Path:
    site = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(OPEN_TRANSFER.replace("RESTRICT", restrict))
    return site


@pytest.mark.security
def test_check_refuses_a_transfer_to_keyed_digits(tmp_path: Path) -> None:
    with pytest.raises(SiteError) as info:
        load_site(_flow_site(tmp_path, ""), env={})
    text = "\n".join(str(p) for p in info.value.problems)
    assert "nodes.out.to: transfer to '${callback_number}'" in text and "pattern" in text


@pytest.mark.security
def test_check_refuses_a_transfer_to_the_callers_own_number(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(
        "entry: s\nnodes:\n  s: {type: set, vars: {n: '${caller}'}, next: t}\n"
        "  t: {type: transfer, to: '${n}'}\n")
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    assert any("transfer to '${n}'" in str(p) for p in info.value.problems)


def test_check_refuses_unknown_transfer_class(tmp_path: Path) -> None:
    with pytest.raises(SiteError) as info:
        load_site(_flow_site(tmp_path, ", classes: [mobil]"), env={})
    assert any("unknown number class 'mobil'" in str(p) for p in info.value.problems)


def _run(site: Site, digits: str, caller: str = "13900139000") -> Outcome:
    return asyncio.run(simulate(site, "main", caller=caller, presses=[digits],
                                at=dt.datetime(2026, 11, 24, 10, 0), echo=lambda _: None))


@pytest.mark.security
@pytest.mark.parametrize(("digits", "kind", "target"), [
    ("13800138000", "transfer", "13800138000"),
    ("00441234567", "hangup", "transfer refused: the target does not match the node's pattern"),
    ("9001234", "hangup", "transfer refused: the target does not match the node's pattern"),
])
def test_engine_enforces_a_restricted_transfer(tmp_path: Path, digits: str, kind: str,
                                               target: str) -> None:
    site = load_site(_flow_site(tmp_path, ', pattern: "1[3-9][0-9]{9}"'), env={})
    out = _run(site, digits)
    assert (out.kind, out.target) == (kind, target)


@pytest.mark.security
def test_engine_applies_the_site_policy_under_a_loose_pattern(tmp_path: Path) -> None:
    site = load_site(_flow_site(tmp_path, ', pattern: "[0-9]+", classes: [mobile, premium]'),
                     env={})
    out = _run(site, "16812345")  # the node lists premium, the site policy still refuses
    assert out.kind == "hangup" and "premium numbers are not allowed" in out.target
    assert _run(site, "4008001234").target.endswith("not in the node's classes")


@pytest.mark.security
def test_rendered_dialplan_dials_only_what_the_daemon_approved(tmp_path: Path) -> None:
    site = load_site(make_site(tmp_path / "s"), env={})
    render_site(site, tmp_path / "out")
    text = (tmp_path / "out" / "extensions.conf").read_text(encoding="utf-8")
    agents = text.split("[cc-agents]")[1].split("\n[")[0]
    outside = agents[agents.index("exten => _XXXXXXX."):]
    assert "AGI(${CC_AGI}/dial/${EXTEN})" in outside
    # only the digits the daemon set leave; the refusal tone otherwise
    assert outside.index("AGI(") < outside.index(
        '"${CC_DIAL_OK}" != ""]?cc-outbound-dial,${FILTER(0-9,${CC_DIAL_OK})},1)')
    assert "Playback(beeperr)" in outside
    for ctx in ("cc-out-4008001234", "cc-callback", "cc-outbound-dial"):
        body = text.split(f"[{ctx}]")[1].split("\n[")[0]
        first = body.splitlines()[1]
        assert 'GotoIf($["${CC_DIAL_OK}" = "${EXTEN}"]?approved)' in first
        assert f"Set(CALLERID(name)={site.spec.company.name})" in body
        assert not any(a.name in body for a in site.spec.agents)
