"""The local caller-ID choice: city, then province, then the national number."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.outbound.callerid import Choice, choose, national_number, site_caller_id_for
from callcenter.outbound.region import Region, load_overrides, lookup
from callcenter.site import load_site_file
from callcenter.site.outbound import Outbound, PoolNumber

EXAMPLE = Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml"
NATIONAL = "4008001234"
BJ = PoolNumber(number="01080001000", trunk="telecom", city="北京", province="北京")
CD = PoolNumber(number="02880002000", trunk="unicom", city="成都", province="四川")
MY = PoolNumber(number="08162000100", trunk="unicom", city="绵阳市", province="四川省",
                daily_cap=300)
CD2 = PoolNumber(number="02880002001", trunk="telecom", city="成都", province="四川",
                 kinds=["reminder", "survey"])
POOL = Outbound(caller_ids=[BJ, CD, MY, CD2])


def pick(number: str, kind: str = "reminder", usage: dict[str, int] | None = None,
         outbound: Outbound = POOL, region: Region | None = None) -> Choice:
    return choose(outbound, region or lookup(number), kind, usage or {}, national=NATIONAL)


@pytest.mark.parametrize("callee", ["13800138000", "01062345678", "+86 10 6234 5678"])
def test_beijing_mobile_and_landline_get_the_beijing_number(callee: str) -> None:
    got = pick(callee)
    assert (got.number, got.trunk, got.tier) == ("01080001000", "telecom", "local_city")
    assert "北京" in got.why and "same city" in got.why


def test_a_mianyang_landline_gets_the_mianyang_number() -> None:
    got = pick("08161234567")
    assert (got.number, got.trunk, got.tier) == ("08162000100", "unicom", "local_city")


def test_a_chengdu_mobile_gets_the_least_used_chengdu_number() -> None:
    assert pick("13880801234").number == "02880002000"  # tie: pool order
    got = pick("13880801234", usage={"02880002000": 7, "02880002001": 3})
    assert (got.number, got.tier) == ("02880002001", "local_city")
    assert "least used of 2" in got.why and "used 3 of its daily cap 1000" in got.why


def test_another_sichuan_city_gets_the_least_used_sichuan_number() -> None:
    got = pick("08341234567", usage={"02880002000": 50, "08162000100": 20,
                                     "02880002001": 60})  # 凉山
    assert (got.number, got.trunk, got.tier) == ("08162000100", "unicom", "local_province")
    assert "凉山" in got.why and "same province" in got.why


def test_an_unknown_prefix_gets_the_national_number(tmp_path: Path) -> None:
    got = pick("19912345678")
    assert (got.number, got.trunk, got.tier) == (NATIONAL, None, "national")
    assert "unknown" in got.why and "override CSV" in got.why
    (tmp_path / "r.csv").write_text("1990028,四川,成都\n", encoding="utf-8")
    placed = lookup("19900281234", load_overrides(tmp_path / "r.csv"))
    assert pick("", region=placed).number == "02880002000"


def test_a_province_without_a_pool_number_gets_the_national_number() -> None:
    got = pick("075512345678")
    assert (got.number, got.tier) == (NATIONAL, "national")
    assert "深圳, 广东" in got.why


def test_a_number_at_its_daily_cap_is_passed_over() -> None:
    got = pick("08161234567", usage={"08162000100": 300})
    assert (got.number, got.tier) == ("02880002000", "local_province")
    assert "08162000100 reached its daily cap of 300" in got.why
    full = {"08162000100": 300, "02880002000": 1000, "02880002001": 1000}
    assert pick("08161234567", usage=full).tier == "national"
    assert pick("08161234567", usage={"08162000100": 299}).number == "08162000100"


def test_no_cap_means_no_limit() -> None:
    pool = Outbound(caller_ids=[PoolNumber(number="01080001000", trunk="telecom",
                                           city="北京", province="北京", daily_cap=0)])
    assert pick("13800138000", outbound=pool, usage={"01080001000": 10**6}).tier == "local_city"


def test_kinds_filter_the_pool() -> None:
    # 02880002001 may present reminders and surveys only: a lead sees 02880002000
    assert pick("13880801234", "lead", usage={"02880002000": 9}).number == "02880002000"
    assert pick("13880801234", "survey", usage={"02880002000": 9}).number == "02880002001"
    only_reminders = Outbound(caller_ids=[PoolNumber(
        number="02880002000", trunk="unicom", city="成都", province="四川", kinds=["reminder"])])
    got = pick("13880801234", "lead", outbound=only_reminders)
    assert got.tier == "national" and "02880002000 is not for lead calls" in got.why


def test_an_agent_at_a_site_with_its_own_caller_id() -> None:
    spec = load_site_file(EXAMPLE)
    spec.outbound.agent_site_caller_id = ["cd-out"]
    own = site_caller_id_for(spec, "cd-out")
    assert own == "02880002000"
    assert site_caller_id_for(spec, "bj-hq") is None  # not listed: the pool chooses
    got = choose(spec.outbound, lookup("13800138000"), "agent", {}, national=NATIONAL,
                 site_caller_id=own)
    assert (got.number, got.trunk, got.tier) == ("02880002000", None, "site")
    assert "agent_site_caller_id" in got.why
    pooled = choose(spec.outbound, lookup("13800138000"), "agent", {}, national=NATIONAL)
    assert (pooled.number, pooled.tier) == ("01080001000", "local_city")
    # the site's own number is for agents' calls only
    reminder = choose(spec.outbound, lookup("13800138000"), "reminder", {},
                      national=NATIONAL, site_caller_id=own)
    assert reminder.tier == "local_city"


def test_the_national_number_is_the_first_400_or_95() -> None:
    spec = load_site_file(EXAMPLE)
    assert national_number(spec) == "4008001234"
