"""Agent states and the rules for moving between them; saved to disk on every change.

logged_out → ready → ringing → on_call → wrap_up → ready, and paused (with a reason) from
any idle point (ready, wrap_up). A ring that is not answered returns the agent to ready, and
after `max_misses` misses in a row the agent is paused with the reason "missed"."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from callcenter.errors import CallcenterError

__all__ = ["PAUSE_REASONS", "AgentBook", "AgentRecord", "AgentState", "AgentStateError"]

log = logging.getLogger(__name__)

PAUSE_REASONS: dict[str, str] = {"1": "break", "2": "lunch", "3": "training",
                                 "4": "after_call_work"}


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


_ALLOWED: dict[AgentState, frozenset[AgentState]] = {
    AgentState.LOGGED_OUT: frozenset({AgentState.READY}),
    AgentState.READY: frozenset({AgentState.RINGING, AgentState.PAUSED, AgentState.LOGGED_OUT}),
    AgentState.RINGING: frozenset({AgentState.ON_CALL, AgentState.READY, AgentState.PAUSED,
                                   AgentState.LOGGED_OUT}),
    AgentState.ON_CALL: frozenset({AgentState.WRAP_UP, AgentState.READY,
                                   AgentState.LOGGED_OUT}),
    AgentState.WRAP_UP: frozenset({AgentState.READY, AgentState.PAUSED,
                                   AgentState.LOGGED_OUT}),
    AgentState.PAUSED: frozenset({AgentState.READY, AgentState.LOGGED_OUT}),
}

# what a desk phone's lamp (BLF) shows for each state, as an Asterisk device state
DEVICE_STATES: dict[AgentState, str] = {
    AgentState.LOGGED_OUT: "UNAVAILABLE", AgentState.READY: "NOT_INUSE",
    AgentState.RINGING: "RINGING", AgentState.ON_CALL: "INUSE",
    AgentState.WRAP_UP: "BUSY", AgentState.PAUSED: "ONHOLD",
}


class AgentStateError(CallcenterError):
    """A transition the agent state machine does not allow."""


@dataclass
class AgentRecord:
    agent_id: str
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    device: str = ""  # the extension of the desk phone the agent logged in at
    pause_reason: str = ""
    misses: int = 0


_FIELDS = {"agent_id": str, "state": str, "since": (int, float), "device": str,
           "pause_reason": str, "misses": int}


def _record(doc: object) -> AgentRecord | None:
    """The saved record as an AgentRecord, or None when it is not exactly what _save wrote."""
    if not isinstance(doc, dict) or set(doc) != set(_FIELDS):
        return None
    for key, kind in _FIELDS.items():
        if not isinstance(doc[key], kind) or isinstance(doc[key], bool):
            return None
    try:
        state = AgentState(doc["state"])
    except ValueError:
        return None
    if doc["misses"] < 0:
        return None
    return AgentRecord(doc["agent_id"], state, float(doc["since"]), doc["device"],
                       doc["pause_reason"], doc["misses"])


class AgentBook:
    """Every agent's state; `on_change(record)` runs after each change (BLF, events)."""

    def __init__(self, agent_ids: list[str], path: Path | None = None, *,
                 max_misses: int = 3, clock: Callable[[], float] = time.time):
        self.path = path
        self.max_misses = max_misses
        self.clock = clock
        self.agents = {a: AgentRecord(a, since=clock()) for a in agent_ids}
        self.listeners: list[Callable[[AgentRecord], None]] = []
        # (record, previous state, its start time, its pause reason): for call events
        self.transitions: list[Callable[[AgentRecord, AgentState, float, str], None]] = []
        if path and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        """Take back what was saved; a record that is not what `_save` writes is skipped with
        a warning (never a refusal to start: under Restart=always that is a crash loop), and
        a file with anything wrong in it is kept aside as agents.json.bad-N for a person."""
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable agent state file %s: %s", path, exc)
            self._keep_aside(path)
            return
        docs = saved.get("agents") if isinstance(saved, dict) else None
        if not isinstance(docs, list):
            log.warning("ignoring agent state file %s: not an {\"agents\": [...]} document",
                        path)
            self._keep_aside(path)
            return
        bad = 0
        for n, doc in enumerate(docs):
            rec = _record(doc)
            if rec is None or rec.agent_id not in self.agents:
                bad += rec is None
                if rec is None:
                    log.warning("agent state file %s: record %d skipped (not a valid agent "
                                "record): %.200r", path, n, doc)
                continue
            # a call that was ringing or up when we stopped is believed to be up until AMI
            # says which phones are on a channel (QueueService.relearn_phones): an agent
            # still talking must not be rung with a second caller
            if rec.state in (AgentState.RINGING, AgentState.ON_CALL):
                rec.state = AgentState.ON_CALL
            elif rec.state == AgentState.WRAP_UP:
                rec.state = AgentState.READY
            self.agents[rec.agent_id] = rec
        if bad:
            self._keep_aside(path)

    @staticmethod
    def _keep_aside(path: Path) -> None:
        n = 1
        while path.with_name(f"{path.name}.bad-{n}").exists():
            n += 1
        target = path.with_name(f"{path.name}.bad-{n}")
        try:
            shutil.copy2(path, target)
            os.chmod(target, 0o600)
            log.warning("the agent state file was kept as %s for inspection", target)
        except OSError as exc:
            log.warning("could not keep %s aside: %s", path, exc)

    def _save(self) -> None:
        """Write the file atomically (temp file, fsync, rename, fsync of the folder), mode
        0600 in a 0700 folder: a crash leaves the old or the new file, never half of one."""
        if not self.path:
            return
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        doc = {"agents": [{**asdict(r), "state": r.state.value} for r in self.agents.values()]}
        data = json.dumps(doc, indent=1).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def get(self, agent_id: str) -> AgentRecord:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AgentStateError(f"no agent {agent_id} in the site file") from None

    def at_device(self, device: str) -> AgentRecord | None:
        for rec in self.agents.values():
            if rec.device == device and rec.state != AgentState.LOGGED_OUT:
                return rec
        return None

    def _move(self, rec: AgentRecord, to: AgentState, **changes: object) -> AgentRecord:
        if to != rec.state and to not in _ALLOWED[rec.state]:
            raise AgentStateError(f"agent {rec.agent_id} cannot go from {rec.state} to {to}")
        return self._enter(rec, to, **changes)

    def _enter(self, rec: AgentRecord, to: AgentState, **changes: object) -> AgentRecord:
        """Put `rec` in state `to` now, save, and tell the transitions and listeners."""
        prev, prev_since, prev_reason = rec.state, rec.since, rec.pause_reason
        rec.state = to
        rec.since = self.clock()
        for key, value in changes.items():
            setattr(rec, key, value)
        self._save()
        for transition in self.transitions:
            transition(rec, prev, prev_since, prev_reason)
        for listener in self.listeners:
            listener(rec)
        return rec

    def login(self, agent_id: str, device: str) -> AgentRecord:
        """Log in at `device` (hot-desking: any phone); a login elsewhere moves the agent."""
        rec = self.get(agent_id)
        other = self.at_device(device)
        if other and other.agent_id != agent_id:
            self._move(other, AgentState.LOGGED_OUT, device="", pause_reason="")
        if rec.state == AgentState.LOGGED_OUT:
            return self._move(rec, AgentState.READY, device=device, misses=0, pause_reason="")
        rec.device = device
        self._save()
        return rec

    def logout(self, agent_id: str) -> AgentRecord:
        return self._move(self.get(agent_id), AgentState.LOGGED_OUT, device="",
                          pause_reason="")

    def pause(self, agent_id: str, reason: str) -> AgentRecord:
        return self._move(self.get(agent_id), AgentState.PAUSED, pause_reason=reason)

    def ready(self, agent_id: str) -> AgentRecord:
        return self._move(self.get(agent_id), AgentState.READY, pause_reason="")

    def ringing(self, agent_id: str) -> AgentRecord:
        return self._move(self.get(agent_id), AgentState.RINGING)

    def answered(self, agent_id: str) -> AgentRecord:
        return self._move(self.get(agent_id), AgentState.ON_CALL, misses=0)

    def no_answer(self, agent_id: str) -> AgentRecord:
        """A ring went unanswered: ready again, or paused "missed" after too many in a row."""
        rec = self.get(agent_id)
        misses = rec.misses + 1
        if misses >= self.max_misses:
            return self._move(rec, AgentState.PAUSED, pause_reason="missed", misses=misses)
        return self._move(rec, AgentState.READY, misses=misses)

    def call_ended(self, agent_id: str, wrap_up: bool) -> AgentRecord:
        rec = self.get(agent_id)
        return self._move(rec, AgentState.WRAP_UP if wrap_up else AgentState.READY)

    def relearn_call(self, agent_id: str) -> AgentRecord:
        """AMI shows the agent's phone on a live channel the book did not know of (a restart
        after a crash, a call while AMI was away): the agent is on a call, whatever it was."""
        rec = self.get(agent_id)
        if rec.state in (AgentState.ON_CALL, AgentState.LOGGED_OUT):
            return rec
        return self._enter(rec, AgentState.ON_CALL, pause_reason="")  # from any state
