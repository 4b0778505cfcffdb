"""The callee's region from phonenumbers' Chinese data and the override CSV."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import pytest

from callcenter.errors import SiteError
from callcenter.ivr.engine import region_of
from callcenter.ivr.simulate import simulate
from callcenter.outbound.region import (
    BadNumber,
    Region,
    load_overrides,
    lookup,
    national_digits,
    overrides_for,
    short_name,
)
from callcenter.site import load_site
from callcenter.site.outbound import Outbound
from tests.fix_asterisk import make_site


@pytest.mark.parametrize("number,province,city,kind", [
    ("13800138000", "北京", "北京", "mobile"),        # 1380013: Beijing
    ("13880801234", "四川", "成都", "mobile"),        # 1388080: Chengdu
    ("13881101234", "四川", "绵阳", "mobile"),        # 1388110: Mianyang
    ("01062345678", "北京", "北京", "landline"),
    ("02886661234", "四川", "成都", "landline"),      # 028 names 成都、资阳、眉山: the first
    ("08161234567", "四川", "绵阳", "landline"),
    ("08341234567", "四川", "凉山", "landline"),      # 凉山彝族自治州
    ("04331234567", "吉林", "延边", "landline"),      # 延边朝鲜族自治州
    ("02212345678", "天津", "天津", "landline"),      # a municipality: province = city
    ("075512345678", "广东", "深圳", "landline"),
])
def test_phonenumbers_places_mobiles_and_landlines(number: str, province: str, city: str,
                                                   kind: str) -> None:
    assert lookup(number) == Region(province, city, kind, "phonenumbers")  # type: ignore[arg-type]


@pytest.mark.parametrize("written", ["+86 138 8080 1234", "8613880801234", "0086-13880801234",
                                     "(138) 8080-1234"])
def test_country_prefixes_and_separators(written: str) -> None:
    assert national_digits(written) == "13880801234"
    assert lookup(written).city == "成都"


def test_an_international_landline_gets_its_trunk_zero_back() -> None:
    assert national_digits("+86 28 8666 1234") == "02886661234"
    assert national_digits("+861062345678") == "01062345678"
    assert lookup("+861062345678").city == "北京"


def test_newer_ranges_are_unknown_without_an_override() -> None:
    assert lookup("19912345678") == Region("", "", "mobile", "none")
    assert not lookup("19912345678").known


def test_numbers_without_a_region() -> None:
    assert lookup("4008001234").kind == "unknown"
    assert lookup("86661234") == Region("", "", "unknown", "none")  # no area code


@pytest.mark.parametrize("bad", ["abc", "12", "1388080123x", "", "+", "1" * 16])
def test_what_is_not_a_number_is_refused(bad: str) -> None:
    with pytest.raises(BadNumber):
        lookup(bad)


def test_short_names() -> None:
    names = {"四川省": "四川", "成都市": "成都", "广西壮族自治区": "广西", "内蒙古": "内蒙古",
             "锡林郭勒盟": "锡林郭勒", "湘西土家族苗族自治州": "湘西", "大兴安岭地区": "大兴安岭",
             "神农架林区": "神农架", "成都": "成都"}
    assert {n: short_name(n) for n in names} == names


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_override_places_a_new_range_longest_prefix_wins_and_beats_the_data(
        tmp_path: Path) -> None:
    csv = write(tmp_path / "regions.csv", "prefix,province,city\n"
                "199,四川省,\n1990028,四川,成都市\n1388080,重庆,\n# a comment\n\n")
    ov = load_overrides(csv)
    assert lookup("19900281234", ov) == Region("四川", "成都", "mobile", "override")
    assert lookup("19912345678", ov) == Region("四川", "", "mobile", "override")
    assert lookup("13880801234", ov) == Region("重庆", "重庆", "mobile", "override")
    assert lookup("13800138000", ov).source == "phonenumbers"


def test_override_csv_is_loaded_once_and_again_when_edited(tmp_path: Path) -> None:
    csv = write(tmp_path / "regions.csv", "199,四川,成都\n")
    os.utime(csv, ns=(10**18, 10**18))  # explicit times: no dependence on the clock
    first = load_overrides(csv)
    assert load_overrides(csv) is first
    write(csv, "199,北京,北京\n")
    os.utime(csv, ns=(10**18 + 10**9, 10**18 + 10**9))
    assert lookup("19912345678", first).province == "四川"
    assert lookup("19912345678", load_overrides(csv)).province == "北京"


def test_override_relative_to_the_site_file(tmp_path: Path) -> None:
    write(tmp_path / "regions.csv", "170,湖北,武汉\n")
    ov = overrides_for(Outbound(region_overrides="regions.csv"), tmp_path)
    assert lookup("17012345678", ov).city == "武汉"
    assert overrides_for(Outbound(), tmp_path).entries == {}


def test_override_csv_in_gb18030(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes("199,湖北,武汉\n".encode("gb18030"))
    assert lookup("19912345678", load_overrides(tmp_path / "r.csv")).city == "武汉"


def test_bad_override_lines_are_located_and_say_how_to_fix(tmp_path: Path) -> None:
    csv = write(tmp_path / "regions.csv", "prefix,province,city\n"
                "199,四川,成都\n2x9,四川,成都\n170,Atlantis,\n199,北京,\n171,湖北,武汉,extra\n")
    with pytest.raises(SiteError) as err:
        load_overrides(csv)
    got = [(p.line, p.column, p.file) for p in err.value.problems]
    assert got == [(3, 1, str(csv.resolve())), (4, 2, str(csv.resolve())),
                   (5, 1, str(csv.resolve())), (6, 4, str(csv.resolve()))]
    text = str(err.value)
    assert "'2x9' is not a number prefix" in text and "area code with its 0" in text
    assert "'Atlantis' is not a Chinese province" in text
    assert "199 is already on line 2" in text


def test_a_missing_override_csv_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match=r"region_overrides.*cannot read the region override"):
        overrides_for(Outbound(region_overrides="nowhere.csv"), tmp_path)


def test_a_chengdu_mobile_reaches_the_chengdu_branch(tmp_path: Path) -> None:
    site = load_site(make_site(tmp_path), env={})
    assert region_of(site, "13880801234") == "cd-out"        # 1388080: Chengdu (phonenumbers)
    assert region_of(site, "+86 138 0013 8000") == "bj-hq"   # 1380013: Beijing
    assert region_of(site, "13900139000") == ""              # Shanghai: no site serves it
    assert region_of(site, "19912345678") == ""              # not placed: the city menu
    out = asyncio.run(simulate(site, "main", caller="13880801234", presses=["2"],
                               at=dt.datetime(2026, 11, 24, 20, 5), echo=lambda _: None))
    assert (out.kind, out.target) == ("queue", "course-cd")
    assert "city" not in out.path  # the press-your-city menu is skipped


def test_area_codes_still_win_over_provinces(tmp_path: Path) -> None:
    site = load_site(make_site(tmp_path), env={})
    site.spec.sites["bj-hq"].area_codes.append("1388080")  # a mobile segment, by prefix
    assert region_of(site, "13880801234") == "bj-hq"
