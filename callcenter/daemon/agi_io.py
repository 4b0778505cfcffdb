"""The IVR engine's call I/O over a live FastAGI session (the simulator is the other one).

Everything the caller controls — caller ID number and name, DTMF — is checked here before the
engine sees it, and everything the engine asks for reaches Asterisk only as quoted AGI
arguments (callcenter.agi.protocol.quote)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.agi import AgiHangup, AgiSession
from callcenter.site.flownodes import box_folder

__all__ = ["AgiCallIO", "clean_caller_name", "clean_caller_number"]

log = logging.getLogger(__name__)

_DTMF = re.compile(r"[^0-9*#]")
_ESCAPE_DIGITS = "0123456789*#"


def clean_caller_number(raw: str) -> str:
    """Digits (and a leading +) of a caller ID number; anything else is dropped."""
    raw = raw.strip()
    digits = re.sub(r"\D", "", raw)[:32]
    return ("+" + digits) if raw.startswith("+") and digits else digits


def clean_caller_name(raw: str) -> str:
    """A caller name safe to log and display: printable, no quotes or expansions, short."""
    text = "".join(c for c in raw if c.isprintable())
    for bad in ('"', "\\", "${", "$[", ";", "<", ">"):
        text = text.replace(bad, "")
    return text[:40]


class AgiCallIO:
    """Plays, collects digits and records over one AGI session, for one call."""

    def __init__(self, session: AgiSession, *, sounds: Path, voicemail: Path, timezone: str,
                 clock_offset: dt.timedelta = dt.timedelta(0)):
        self.session = session
        self.sounds = sounds
        self.voicemail = voicemail
        self.tz = ZoneInfo(timezone)
        self.clock_offset = clock_offset
        env = session.env
        self.caller_number = clean_caller_number(env.get("callerid", ""))
        self.caller_name = clean_caller_name(env.get("calleridname", ""))
        self.steps = 0

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz) + self.clock_offset

    def _file(self, prompt: str) -> str:
        # built prompts are wav files under sounds/; until built, a beep stands in
        path = self.sounds / f"{prompt}.wav"
        return str(path.with_suffix("")) if path.exists() else "beep"

    async def play(self, prompts: list[str], interruptible: bool = True) -> str | None:
        """Play prompts in order; the first key pressed (if interruptible) stops them."""
        for prompt in prompts:
            self.steps += 1
            resp = await self.session.command("STREAM FILE", self._file(prompt),
                                              _ESCAPE_DIGITS if interruptible else "")
            if resp.value > 0:
                digit = _DTMF.sub("", chr(resp.value))
                if digit:
                    return digit
        return None

    async def say(self, kind: str, value: str) -> None:
        self.steps += 1
        if kind == "digits":
            await self.session.command("SAY DIGITS", _DTMF.sub("", value), "")
        elif kind == "number":
            await self.session.command("SAY NUMBER", int(value), "")
        elif kind == "time":
            await self.session.command("SAY TIME", int(float(value)), "")
        else:
            raise ValueError(f"cannot say {kind!r}")

    async def read_digits(self, prompt: str | None, max_digits: int, timeout: float,
                          terminator: str = "#") -> str:
        """Collect up to `max_digits` keys; "" when the caller pressed nothing in time."""
        self.steps += 1
        resp = await self.session.command(
            "GET DATA", self._file(prompt) if prompt else "silence/1",
            int(timeout * 1000), max_digits)
        if resp.result == "-1":
            raise AgiHangup(f"{self.session.channel} hung up")
        digits = _DTMF.sub("", resp.result)
        if terminator != "#" and terminator in digits:
            digits = digits.split(terminator, 1)[0]
        return digits

    async def record(self, box: str, max_seconds: int, prompt: str | None = None) -> str:
        """Record a message into voicemail/<box>/ and return its path ("" when the caller
        ended it before the beep finished); the file name never comes from the caller."""
        if prompt:
            await self.play([prompt], interruptible=False)
        folder = self.voicemail / box_folder(box)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
        self.steps += 1
        resp = await self.session.command("RECORD FILE", str(folder / name), "wav", "#",
                                          max_seconds * 1000, "BEEP", "s=5")
        if resp.data == "randomerror":
            # a key pressed during the beep stops RECORD FILE before it opens the file
            return ""
        return str(folder / f"{name}.wav")

    async def set_variable(self, name: str, value: str) -> None:
        await self.session.set_variable(name, value)
