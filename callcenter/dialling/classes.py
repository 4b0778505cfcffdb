"""Number classes for Chinese numbering: what a dialled string is, before any policy.

Our own table (docs/dialling.md lists it); premium ranges are the ones Chinese carriers bill
above a normal call, which toll fraud aims at."""

from __future__ import annotations

import re

__all__ = ["CLASSES", "EMERGENCY", "classify", "national_form"]

CLASSES: tuple[str, ...] = (
    "internal", "local", "national", "mobile", "freephone", "international", "premium",
    "emergency", "invalid")
EMERGENCY = frozenset({"110", "119", "120", "122"})
# 声讯/paid information (16x short numbers, also behind an area code), SP value-added
# services (12590–12599), 900 paid lines and 106 SP gateways
_PREMIUM = re.compile(r"(16\d{3,8}|1259\d+|900\d*|106\d+)$")
_MOBILE = re.compile(r"1[3-9]\d{9}$")
_FREEPHONE = re.compile(r"(400|800)\d{7}$")
# three-digit area codes (01x: Beijing 010, 02x: the big cities); others are four digits
_LANDLINE_3 = re.compile(r"0(10|2\d)(\d{8})$")
_LANDLINE_4 = re.compile(r"0([3-9]\d{2})(\d{7,8})$")


def national_form(number: str) -> str:
    """Digits in national form: +86/0086/86 dropped before a mobile or area code."""
    digits = number.strip()
    if digits.startswith("+86"):
        return "0" + digits[3:] if not _MOBILE.match(digits[3:]) else digits[3:]
    if digits.startswith("0086"):
        rest = digits[4:]
        return rest if _MOBILE.match(rest) else "0" + rest
    if digits.startswith("86") and len(digits) == 13 and _MOBILE.match(digits[2:]):
        return digits[2:]
    return digits


def classify(number: str, *, extensions: frozenset[str] | set[str] = frozenset(),
             area_codes: tuple[str, ...] | list[str] = ()) -> tuple[str, str]:
    """(class, digits to dial) of a dialled string; `extensions` are the site's agent
    extensions, `area_codes` the site's own (e.g. "010"). Digits are "" when invalid."""
    raw = number.strip()
    if not re.fullmatch(r"\+?\d{1,20}", raw):
        return "invalid", ""
    if raw in extensions:
        return "internal", raw
    if raw.startswith("+") and not raw.startswith("+86"):
        return "international", "00" + raw[1:]
    if raw.startswith("00") and not raw.startswith("0086"):
        return "international", raw
    digits = national_form(raw)
    if not digits.isdigit():
        return "invalid", ""
    if digits in EMERGENCY:
        return "emergency", digits
    if _MOBILE.match(digits):  # before premium: 166… and 167… are mobile ranges
        return "mobile", digits
    if _PREMIUM.match(digits):
        return "premium", digits
    if _FREEPHONE.match(digits):
        return "freephone", digits
    own = {c if c.startswith("0") else "0" + c for c in area_codes}
    m = _LANDLINE_3.match(digits) or _LANDLINE_4.match(digits)
    if m:
        code = "0" + m[1]
        if m[2].startswith("16"):  # a regional 声讯 line behind an area code
            return "premium", digits
        # own area: dial the local number alone, as the carrier expects within the area
        return ("local", m[2]) if code in own else ("national", digits)
    if re.fullmatch(r"16\d{6}", digits):
        return "premium", digits
    if re.fullmatch(r"[2-8]\d{6,7}", digits):
        return "local", digits
    return "invalid", ""
