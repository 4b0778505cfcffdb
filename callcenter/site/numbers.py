"""China's national service numbers (400 / 95 / 1010) and ordinary DIDs."""

from __future__ import annotations

__all__ = ["area_code", "classify", "dial_forms", "format_error"]

_RULES = {
    "400": ("400", 10, 10, "400 followed by 7 digits, e.g. 4008001234"),
    "95": ("95", 5, 8, "95 followed by 3–6 digits, e.g. 95123"),
    "1010": ("1010", 8, 8, "1010 followed by 4 digits, e.g. 10101234"),
}


def classify(number: str) -> str:
    """The kind a number's prefix implies: '400', '95', '1010' or 'did'."""
    for kind in ("1010", "400", "95"):
        if number.startswith(kind):
            return kind
    return "did"


def format_error(number: str, kind: str | None) -> str | None:
    """Why `number` is not a valid number of `kind` (or of its prefix's kind); None if it is."""
    kind = kind or classify(number)
    if kind == "did":
        if not 5 <= len(number) <= 15:
            return "a DID must have 5–15 digits"
        return None
    prefix, lo, hi, example = _RULES[kind]
    if not number.startswith(prefix) or not lo <= len(number) <= hi:
        return f"malformed {kind} number — write {example}"
    return None


def area_code(number: str) -> str:
    """The trunk prefix and area code of a Chinese fixed-line number ("" if none): 010 and
    02X are three digits, every other 0XXX four."""
    if not number.startswith("0") or number.startswith("00"):
        return ""
    size = 3 if number[1] in "12" else 4
    # what remains must still be a subscriber number (7–8 digits)
    return number[:size] if 7 <= len(number) - size <= 8 else ""


def dial_forms(number: str) -> list[str]:
    """The other ways a carrier may deliver `number`: international with and without '+'
    (the trunk prefix 0 dropped: 027… → +8627…) and, for a fixed line, the local number
    without its area code. The number itself is not included."""
    national = number[1:] if number.startswith("0") and not number.startswith("00") else number
    forms = [f"+86{national}", f"86{national}"]
    code = area_code(number)
    if code:
        forms.append(number[len(code):])
    return forms
