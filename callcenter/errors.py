"""The exceptions callcenter raises; each message says what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AsteriskError",
    "CallcenterError",
    "CallerHangup",
    "ClusterError",
    "Problem",
    "RenderError",
    "SecretsError",
    "SiteError",
]


class CallcenterError(Exception):
    """Base class of every error callcenter reports to a person."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a site or flow file, located to file, line and column."""

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class SiteError(CallcenterError):
    """A site description (or a flow file it names) has one or more problems."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(str(p) for p in self.problems))


class SecretsError(CallcenterError):
    """A secrets file cannot be read or written."""


class RenderError(CallcenterError):
    """The Asterisk configuration could not be rendered or written."""


class AsteriskError(CallcenterError):
    """Asterisk is missing, will not start, or did not answer."""


class CallerHangup(CallcenterError):
    """The caller hung up while a flow was talking to them."""


class ClusterError(CallcenterError):
    """The ACD's leadership among several daemons: the lease or its fence (docs/cluster.md)."""
