"""The callee's region (号码归属地): province and city of a Chinese number, offline.

Mobiles are placed by their 7-digit prefix and landlines by their area code, from the
`phonenumbers` package's Chinese geocoding data; an override CSV (the site file's
`outbound.region_overrides`: prefix,province,city) places what that data does not know
(it answers only "中国" for newer ranges such as 199) and wins over it."""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import phonenumbers
from phonenumbers import geocoder

from callcenter.errors import CallcenterError, Problem, SiteError
from callcenter.site.numbers import area_code
from callcenter.site.outbound import Outbound

__all__ = ["PROVINCES", "BadNumber", "Overrides", "Region", "load_overrides", "lookup",
           "national_digits", "overrides_for", "short_name"]

# the 34 provincial-level divisions by their short names; the data writes them long
# (四川省, 广西壮族自治区) or short (广西, 内蒙古)
PROVINCES: tuple[str, ...] = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港",
    "澳门")
MUNICIPALITIES = frozenset({"北京", "天津", "上海", "重庆"})
_PROVINCE_SUFFIX = re.compile(r"^(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)")
# peoples named in autonomous prefectures' names (凉山彝族自治州 -> 凉山)
_PEOPLES = ("彝族", "藏族", "羌族", "苗族", "侗族", "布依族", "土家族", "哈尼族", "白族", "傣族",
            "景颇族", "傈僳族", "壮族", "朝鲜族", "回族", "蒙古族", "蒙古", "哈萨克", "柯尔克孜")
_MOBILE = re.compile(r"1[3-9]\d{9}")

Kind = Literal["mobile", "landline", "unknown"]
Source = Literal["phonenumbers", "override", "none"]


class BadNumber(CallcenterError, ValueError):
    """A string that is not a telephone number at all."""


@dataclass(frozen=True)
class Region:
    """Where a number belongs: short Chinese names ("" when unknown)."""

    province: str
    city: str
    kind: Kind
    source: Source

    @property
    def known(self) -> bool:
        return bool(self.province)

    def describe(self) -> str:
        """'成都, 四川' / '北京' / 'unknown region'."""
        if not self.province:
            return "unknown region"
        if not self.city or self.city == self.province:
            return self.province
        return f"{self.city}, {self.province}"


@dataclass(frozen=True, eq=False)  # hashed by identity: lookup() caches per Overrides
class Overrides:
    """Prefixes (national form: 199…, 0816…) placed by the site's override CSV."""

    entries: dict[str, tuple[str, str]] = field(default_factory=dict)
    source: str = ""

    def match(self, digits: str) -> tuple[str, str] | None:
        """(province, city) of the longest prefix of `digits`, if any."""
        for n in range(len(digits), 0, -1):
            hit = self.entries.get(digits[:n])
            if hit is not None:
                return hit
        return None


NO_OVERRIDES = Overrides()


def short_name(name: str) -> str:
    """A city's or province's short name: 成都市 -> 成都, 凉山彝族自治州 -> 凉山,
    四川省 -> 四川, 锡林郭勒盟 -> 锡林郭勒 (pool entries are compared in this form too)."""
    name = name.strip()
    for p in PROVINCES:
        if name.startswith(p) and _PROVINCE_SUFFIX.sub("", name[len(p):]) == "":
            return p
    if name.endswith("自治州"):
        name = name[:-3]
        stripped = True
        while stripped:
            stripped = False
            for people in _PEOPLES:
                if name.endswith(people) and len(name) > len(people):
                    name, stripped = name[:-len(people)], True
    for suffix in ("林区", "地区", "市", "盟"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[:-len(suffix)]
    return name


def _split(text: str) -> tuple[str, str]:
    """'四川省成都市、资阳市、眉山市' -> (四川, 成都): the first city named wins."""
    text = text.split("、", 1)[0].strip()
    for p in sorted(PROVINCES, key=len, reverse=True):
        if text.startswith(p):
            rest = _PROVINCE_SUFFIX.sub("", text[len(p):], count=1)
            if p in MUNICIPALITIES:
                return p, p
            return p, short_name(rest) if rest else ""
    return "", ""  # "中国": the data knows the country only


def national_digits(number: str) -> str:
    """Digits in national form (0 + area code for landlines); raises BadNumber."""
    raw = number.strip()
    if not re.fullmatch(r"\+?[\d\s()-]{3,24}", raw):
        raise BadNumber(f"{number!r} is not a telephone number — give digits, e.g. "
                        "13880001234 or 02880002000 (+86 / 86 / 0086 in front are fine)")
    digits = re.sub(r"\D", "", raw)
    for prefix in ("0086", "86"):
        rest = digits[len(prefix):]
        if digits.startswith(prefix) and (_MOBILE.fullmatch(rest) or (
                raw.startswith("+") or prefix == "0086" or len(rest) >= 10)):
            # a landline written internationally drops its trunk 0: +86 10… is 010…
            digits = rest if _MOBILE.fullmatch(rest) or rest.startswith("0") else "0" + rest
            break
    if not 3 <= len(digits) <= 15:
        raise BadNumber(f"{number!r} has {len(digits)} digits — a Chinese number has 11 "
                        "(mobile) or 10–12 with its area code (landline)")
    return digits


@functools.lru_cache(maxsize=65536)
def _geocode(digits: str) -> str:
    try:
        parsed = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return ""
    # description_for_valid_number: a number the metadata calls invalid (an unassigned
    # subscriber range) still belongs to its area code's city
    return geocoder.description_for_valid_number(parsed, "zh")


@functools.lru_cache(maxsize=65536)
def lookup(number: str, overrides: Overrides | None = None) -> Region:
    """The region of `number` (with or without 0 / +86 / 86); raises BadNumber for what is
    not a telephone number. Override CSV first, then phonenumbers' data."""
    digits = national_digits(number)
    if _MOBILE.fullmatch(digits):
        kind: Kind = "mobile"
    elif area_code(digits):
        kind = "landline"
    else:  # a local number without its area code, a 400 line: no region to speak of
        return Region("", "", "unknown", "none")
    hit = (overrides or NO_OVERRIDES).match(digits)
    if hit is not None:
        return Region(hit[0], hit[1], kind, "override")
    province, city = _split(_geocode(digits))
    return Region(province, city, kind, "phonenumbers" if province else "none")


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # spreadsheets on Chinese Windows: GB18030
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SiteError([Problem(str(path), 1, 1, "", "neither UTF-8 nor GB18030 text",
                             "save the sheet as 'CSV UTF-8'")])


def _check_row(path: Path, line: int, row: list[str], seen: dict[str, int]
               ) -> tuple[str, tuple[str, str]] | Problem:
    file = str(path)
    cells = [c.strip() for c in row] + ["", ""]
    prefix, province, city = cells[0], short_name(cells[1]), short_name(cells[2])
    if len(row) > 3:
        return Problem(file, line, 4, "", f"{len(row)} cells, expected 3",
                       "write prefix,province,city (quote a name that holds a comma)")
    if not re.fullmatch(r"[01]\d{1,10}", prefix):
        return Problem(file, line, 1, "prefix", f"{prefix!r} is not a number prefix",
                       "write a mobile prefix (e.g. 1990028) or an area code with its 0 "
                       "(e.g. 0816)")
    if province not in PROVINCES:
        return Problem(file, line, 2, "province", f"{cells[1]!r} is not a Chinese province",
                       "write its name, e.g. 四川 or 四川省 (北京, 上海, 天津, 重庆 for the "
                       "municipalities)")
    if prefix in seen:
        return Problem(file, line, 1, "prefix", f"{prefix} is already on line {seen[prefix]}",
                       "keep one row per prefix")
    seen[prefix] = line
    return prefix, (province, province if province in MUNICIPALITIES and not city else city)


@functools.lru_cache(maxsize=16)
def _load(path: Path, mtime_ns: int) -> Overrides:
    text = _decode(path)
    entries: dict[str, tuple[str, str]] = {}
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    for row in reader:
        line = reader.line_num
        if not any(c.strip() for c in row) or row[0].strip().startswith("#"):
            continue
        if line == 1 and row[0].strip().lower() == "prefix":  # the header
            continue
        checked = _check_row(path, line, row, seen)
        if isinstance(checked, Problem):
            problems.append(checked)
        else:
            entries[checked[0]] = checked[1]
    if problems:
        raise SiteError(problems)
    return Overrides(entries, str(path))


def load_overrides(path: Path) -> Overrides:
    """The override CSV (prefix,province,city; an optional header line), read once per
    version of the file; SiteError lists every bad line."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise SiteError([Problem(str(path), 0, 0, "outbound.region_overrides",
                                 f"cannot read the region override CSV: {exc.strerror}",
                                 "give a path relative to the site file, or remove "
                                 "region_overrides")]) from None
    return _load(path.resolve(), mtime)


def overrides_for(outbound: Outbound, base_dir: Path) -> Overrides:
    """The site's override CSV (its path relative to the site file), or none."""
    if not outbound.region_overrides:
        return NO_OVERRIDES
    p = Path(outbound.region_overrides)
    return load_overrides(p if p.is_absolute() else base_dir / p)
