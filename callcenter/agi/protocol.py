"""The AGI wire format: the request header, command quoting and response lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from callcenter.errors import CallcenterError

__all__ = ["AgiError", "AgiResponse", "parse_header", "parse_response", "quote"]

MAX_HEADER_BYTES = 16 * 1024
_RESPONSE = re.compile(r"^(\d{3})(?:[ -](.*))?$")
_RESULT = re.compile(r"result=(\S*)(?:\s+\((.*)\))?(?:\s+(.*))?$")


class AgiError(CallcenterError):
    """The AGI conversation broke: bad header, timeout, or Asterisk said no."""


@dataclass(frozen=True)
class AgiResponse:
    code: int
    result: str
    data: str
    extra: str
    raw: str

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int:
        """The result as a number (-1 when it is not one)."""
        try:
            return int(self.result)
        except ValueError:
            return -1


def parse_header(raw: bytes) -> dict[str, str]:
    """`agi_key: value` lines → {"key": value}; bytes decoded as UTF-8 with replacement, so a
    caller name that is not UTF-8 cannot make the request fail."""
    env: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            raise AgiError(f"not an AGI header line: {line[:80]!r}")
        env[key[4:].strip()] = value.strip()
    if "channel" not in env:
        raise AgiError("AGI header without agi_channel")
    return env


def parse_response(line: str) -> AgiResponse:
    """`200 result=1 (data) endpos=1234` and friends."""
    m = _RESPONSE.match(line.strip())
    if not m:
        raise AgiError(f"unexpected AGI response {line[:80]!r}")
    code, rest = int(m[1]), m[2] or ""
    r = _RESULT.search(rest)
    if r:
        return AgiResponse(code, r[1], r[2] or "", r[3] or "", line)
    return AgiResponse(code, "", "", rest, line)


def quote(arg: str | int) -> str:
    """One AGI argument, double-quoted so spaces and quotes cannot split or end it.

    Control characters (a newline would end the command and start another) are removed, and
    backslashes and double quotes are escaped the way Asterisk's AGI parser unescapes them."""
    text = "".join(c for c in str(arg) if ord(c) >= 32 and ord(c) != 127)
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
