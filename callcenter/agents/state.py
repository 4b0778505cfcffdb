"""Agent states and the rules for moving between them; saved to disk on every change.

logged_out → ready → ringing → on_call → wrap_up → ready, and paused (with a reason) from
any idle point (ready, wrap_up). A ring that is not answered returns the agent to ready, and
after `max_misses` misses in a row the agent is paused with the reason "missed"."""

from __future__ import annotations

import json
import logging
import os
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
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable agent state file %s: %s", path, exc)
            return
        for doc in saved.get("agents", []):
            if doc.get("agent_id") in self.agents:
                rec = AgentRecord(**{**doc, "state": AgentState(doc["state"])})
                # a call that was ringing or up when we stopped is re-learnt from AMI; the
                # agent keeps being logged in
                if rec.state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP):
                    rec.state = AgentState.READY
                self.agents[rec.agent_id] = rec

    def _save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        doc = {"agents": [{**asdict(r), "state": r.state.value} for r in self.agents.values()]}
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

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
