"""Running a flow with no Asterisk: scripted key presses, a chosen clock, a printed path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from callcenter.clock import SYSTEM, Clock
from callcenter.errors import CallerHangup
from callcenter.ivr.contacts import ContactBook
from callcenter.ivr.engine import Outcome, run_flow
from callcenter.site.model import Site

__all__ = ["EXIT_CODES", "ScriptedIO", "simulate"]

# `callcenter ivr simulate` exit status by outcome
EXIT_CODES = {"queue": 0, "transfer": 10, "voicemail": 11, "hangup": 12, "caller_hangup": 13}


class ScriptedIO:
    """A CallIO whose caller presses the scripted keys: one entry per time the flow waits
    for keys ("" = presses nothing). When the script runs out the caller hangs up, unless
    `silent_after` is set, in which case they press nothing."""

    def __init__(self, caller: str, presses: list[str], at: dt.datetime, *,
                 caller_name: str = "", echo: Callable[[str], None] = print,
                 silent_after: bool = True):
        self.caller_number = caller
        self.caller_name = caller_name
        self.presses = list(presses)
        self.at = at
        self.echo = echo
        self.silent_after = silent_after
        self.played: list[str] = []
        self.variables: dict[str, str] = {}

    def now(self) -> dt.datetime:
        return self.at

    def _next(self) -> str:
        if self.presses:
            return self.presses.pop(0)
        if self.silent_after:
            return ""
        raise CallerHangup("the scripted caller hung up")

    async def play(self, prompts: list[str], interruptible: bool = True) -> str | None:
        for p in prompts:
            self.played.append(p)
            self.echo(f"    ♪ {p}")
        return None

    async def say(self, kind: str, value: str) -> None:
        self.played.append(f"say:{kind}:{value}")
        self.echo(f"    ♪ says {kind} {value}")

    async def read_digits(self, prompt: str | None, max_digits: int, timeout: float,
                          terminator: str = "#") -> str:
        if prompt:
            self.played.append(prompt)
            self.echo(f"    ♪ {prompt}")
        keys = self._next()
        self.echo(f"    ⌨ {keys!r}" if keys else f"    ⌨ (nothing for {timeout:g} s)")
        return keys[:max_digits]

    async def record(self, box: str, max_seconds: int, prompt: str | None = None) -> str:
        if prompt:
            self.played.append(prompt)
            self.echo(f"    ♪ {prompt}")
        self.echo(f"    ● records a message in box {box} (up to {max_seconds} s)")
        return f"voicemail/{box}/simulated.wav"

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


async def simulate(site: Site, flow: str, *, caller: str, presses: list[str],
                   at: dt.datetime | None = None, contacts: ContactBook | None = None,
                   echo: Callable[[str], None] = print, clock: Clock = SYSTEM) -> Outcome:
    tz = ZoneInfo(site.spec.company.timezone)
    when = (at.replace(tzinfo=tz) if at and at.tzinfo is None else at) or clock.now(tz)
    io = ScriptedIO(caller, presses, when, echo=echo)
    echo(f"flow {flow}, caller {caller}, at {when:%Y-%m-%d %H:%M %Z} ({when:%a})")
    outcome = await run_flow(site, flow, io, on_node=lambda node: echo(f"  → {node}"),
                             contacts=contacts)
    shown = {k: v for k, v in outcome.variables.items() if v}
    echo(f"variables: {shown}")
    echo(f"priority: {outcome.priority}")
    echo(f"outcome: {outcome.kind}" + (f" {outcome.target}" if outcome.target else "")
         + f" (at node {outcome.node})")
    return outcome
