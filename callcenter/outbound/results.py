"""What an automatic call's ending means: the dialplan's DIALSTATUS and hangup cause, or
what the callee pressed, turned into one attempt result (docs/outbound.md)."""

from __future__ import annotations

__all__ = ["KEY_RESULTS", "dial_result", "stored_result"]

# the keys of every automatic call (the prompts say so): 1 confirm, 2 a person, 9 no more
KEY_RESULTS: dict[str, str] = {"1": "confirmed", "2": "person", "9": "opted_out"}

# ISDN causes a carrier sends for a number it will not connect (Q.850): unallocated,
# no route, call rejected, number changed, invalid format, facility rejected
_REJECTED_CAUSES = frozenset({1, 2, 3, 21, 22, 28, 29})


def dial_result(status: str, cause: str | int = "") -> str:
    """The result of a leg that never reached the daemon's script (not answered)."""
    try:
        code = int(cause)
    except (TypeError, ValueError):
        code = 0
    status = status.upper()
    if status in ("NOANSWER", "CANCEL"):
        # CANCEL: the Originate's ring time ran out and Asterisk gave up on the callee
        return "no_answer"
    if status == "BUSY" or code == 17:
        return "busy"
    if status == "CONGESTION" or code in _REJECTED_CAUSES:
        return "rejected"
    if status == "ANSWER":
        # answered, yet the script never said how it went: the callee heard the call
        return "hangup"
    return "failed"


def stored_result(value: str) -> tuple[str, str]:
    """`DIALSTATUS:HANGUPCAUSE` as the dialplan keeps it in AstDB -> (result, status)."""
    status, _, cause = value.partition(":")
    return dial_result(status, cause), status.upper()
