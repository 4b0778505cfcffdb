"""SIPp scenario XML rendered from the templates beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

__all__ = ["DTMF_PCAP_DIR", "Step", "dtmf", "pause", "register_scenario", "uac_scenario",
           "uas_scenario"]

DTMF_PCAP_DIR = Path("/usr/share/sip-tester")
_NAMES = {"*": "star", "#": "pound"}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("scenarios"))),
    undefined=jinja2.StrictUndefined, autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Step:
    """One thing the caller does after the call is answered."""

    kind: str  # "pause" or "dtmf"
    ms: int
    pcap: str = ""  # RFC 4733 events from a pcap; empty: SIP INFO
    digit: str = ""
    cseq: int = 0


def pause(ms: int) -> Step:
    return Step("pause", ms)


def dtmf(digit: str, after_ms: int = 400, *, rtp: bool = False) -> Step:
    """Press `digit`, then wait: as SIP INFO (default), or as RFC 4733 events replayed from
    the pcaps sip-tester ships (rtp=True; Asterisk drops a repeated digit there, since every
    pcap carries the same RTP timestamp)."""
    if digit not in "0123456789*#" or len(digit) != 1:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    pcap = str(DTMF_PCAP_DIR / f"dtmf_2833_{_NAMES.get(digit, digit)}.pcap") if rtp else ""
    return Step("dtmf", after_ms, pcap, digit)


def uac_scenario(*, caller_number: str = "13800138000", caller_name: str = "caller",
                 steps: list[Step] | tuple[Step, ...] = (), ending: str = "wait_bye",
                 bye_timeout_ms: int = 30000, name: str = "callcenter-uac",
                 auth: bool = False) -> str:
    """A caller scenario. ending: "wait_bye" (the far end hangs up) or "hangup" (we do).
    auth: answer the 401 challenge (an agent phone; give sipp -au USER -ap PASSWORD)."""
    if ending not in ("wait_bye", "hangup"):
        raise ValueError(f"ending must be wait_bye or hangup, not {ending!r}")
    cseq = 2 if auth else 1
    numbered = []
    for step in steps:
        if step.kind == "dtmf" and not step.pcap:
            cseq_next = cseq + 1 + sum(1 for s in numbered if s.cseq)
            step = Step(step.kind, step.ms, step.pcap, step.digit, cseq_next)
        numbered.append(step)
    bye_cseq = cseq + 1 + sum(1 for s in numbered if s.cseq)
    return _env.get_template("uac.xml.j2").render(
        name=name, caller_number=caller_number, caller_name=caller_name, steps=numbered,
        ending=ending, bye_timeout_ms=bye_timeout_ms, auth=auth, cseq=cseq,
        bye_cseq=bye_cseq)


def uas_scenario(mode: str = "answer", *, answer_after_ms: int = 0,
                 hangup_after_ms: int = 0, answer_after_max_ms: int = 0,
                 hangup_after_max_ms: int = 0, name: str = "callcenter-uas") -> str:
    """A phone or carrier: mode "answer" (then waits for BYE), "busy" (486), "unavailable"
    (503, a carrier refusing) or "noanswer" (rings until cancelled). A `*_max_ms` above its
    `*_ms` makes that pause uniformly random between the two (callees of a benchmark)."""
    if mode not in ("answer", "busy", "unavailable", "noanswer"):
        raise ValueError(f"mode must be answer, busy, unavailable or noanswer, not {mode!r}")
    return _env.get_template("uas.xml.j2").render(
        name=name, mode=mode, answer_after_ms=answer_after_ms,
        answer_after_max_ms=max(answer_after_ms, answer_after_max_ms),
        hangup_after_ms=hangup_after_ms,
        hangup_after_max_ms=max(hangup_after_ms, hangup_after_max_ms))


def register_scenario(user: str, expires: int = 3600) -> str:
    """A desk phone registering as `user` (answers the 401 challenge; sipp -au/-ap)."""
    return _env.get_template("register.xml.j2").render(user=user, expires=expires)


def uas_keys_scenario(steps: list[Step] | tuple[Step, ...], *, hangup_after_ms: int = 0,
                      name: str = "callcenter-uas-keys") -> str:
    """A desk phone that answers, then presses keys (SIP INFO; pauses between): e.g. ## and
    a queue code to transfer. Then it waits for Asterisk's BYE, or hangs up itself
    `hangup_after_ms` later (a consultative transfer completes when the agent hangs up)."""
    if any(s.kind == "dtmf" and s.pcap for s in steps):
        raise ValueError("the keypad phone sends its keys as SIP INFO only")
    return _env.get_template("uas_keys.xml.j2").render(name=name, steps=list(steps),
                                                       hangup_after_ms=hangup_after_ms)
