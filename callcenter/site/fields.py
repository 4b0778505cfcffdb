"""Constrained string types of the site model, with messages that say how to fix a value."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator

from callcenter.site.limits import LIMITS

__all__ = [
    "AgentId",
    "Digits",
    "Extension",
    "Host",
    "Key",
    "Level",
    "Network",
    "PhoneNumber",
    "Text",
    "check_text",
]

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}\Z")
_PHONE = re.compile(r"\+?[0-9]{3,20}\Z")
_HOST = re.compile(r"(?=.{1,253}\Z)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
                   r"(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\Z")
# Characters that mean something to Asterisk's config parser or its dialplan:
# ';' starts a comment, '"' ends a quoted caller ID, '${' / '$[' expand, '\' escapes,
# '<' '>' frame a caller ID number, '[' ']' frame a context.
_UNSAFE_TEXT = ('"', ";", "\\", "${", "$[", "<", ">", "[", "]", "`")


def check_key(value: str) -> str:
    if not _KEY.match(value):
        raise ValueError(
            f"{value!r} is not a valid name — use 1–40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit")
    return value


def check_text(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("text contains a line break or control character — write it on one line")
    bad = [s for s in _UNSAFE_TEXT if s in value]
    if bad:
        raise ValueError(
            f"text contains {', '.join(repr(b) for b in bad)}, which Asterisk would read as "
            "syntax — remove those characters")
    if len(value) > 200:
        raise ValueError("text is longer than 200 characters — shorten it")
    return value


def check_phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError(
            f"{value!r} is not a telephone number — write 3–20 digits, optionally after a '+', "
            "with no spaces or dashes")
    return value


def check_digits(value: str) -> str:
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"{value!r} must be digits only — remove other characters")
    return value


def check_extension(value: str) -> str:
    if not (value.isascii() and value.isdigit() and 2 <= len(value) <= 8):
        raise ValueError(f"{value!r} is not an extension — use 2–8 digits")
    return value


def check_agent_id(value: str) -> str:
    if not (value.isascii() and value.isdigit() and 3 <= len(value) <= 8):
        raise ValueError(f"{value!r} is not an agent id — use 3–8 digits (agents type it on "
                         "the keypad to log in)")
    return value


def check_host(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    # a name whose last label is all digits is no DNS name (no top-level domain is numeric):
    # it is a mistyped address such as 1.2.3.400
    last = value.rstrip(".").rpartition(".")[2]
    if last.isdigit() or all(c in "0123456789." for c in value):
        raise ValueError(f"{value!r} is not a valid IP address — write four numbers 0–255 "
                         "separated by dots, e.g. 192.0.2.10, or a host name")
    if not _HOST.match(value):
        raise ValueError(f"{value!r} is not a host name or IP address — write e.g. 192.0.2.10 "
                         "or sip.carrier.example")
    return value


def check_network(value: str) -> str:
    """An address or a network (CIDR) a phone may register from, e.g. 10.8.0.0/16."""
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an address or network — write it like "
                         "10.8.0.0/16 or 203.0.113.7") from None


def check_level(value: int) -> int:
    limit = LIMITS["skill.level"]
    if not limit.allows(value):
        raise ValueError(f"skill level {value} is out of range — {limit.use()}")
    return value


Key = Annotated[str, AfterValidator(check_key)]
Text = Annotated[str, AfterValidator(check_text)]
PhoneNumber = Annotated[str, AfterValidator(check_phone)]
Digits = Annotated[str, AfterValidator(check_digits)]
Extension = Annotated[str, AfterValidator(check_extension)]
AgentId = Annotated[str, AfterValidator(check_agent_id)]
Host = Annotated[str, AfterValidator(check_host)]
Level = Annotated[int, AfterValidator(check_level)]
Network = Annotated[str, AfterValidator(check_network)]
