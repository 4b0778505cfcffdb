"""China's national service numbers (400 / 95 / 1010) and ordinary DIDs."""

from __future__ import annotations

__all__ = ["classify", "format_error"]

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
