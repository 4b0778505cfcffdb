"""Agent states and the rules for moving between them; every change is journalled to disk
before it returns (callcenter.agents.journal: what a crash can lose, and why nothing an
agent was told of).

logged_out → ready → ringing → on_call → wrap_up → ready, and paused (with a reason) from
any idle point (ready, wrap_up). The book is the one owner of agent state: the scheduler and
the desk-phone lamps follow it. A ring that is not answered returns the agent to ready and
counts a miss; after the site's `acd.missed_limit` misses in a row the scheduler pauses the
agent with the reason "missed".

What a daemon restart keeps: logins, the phone each agent is at, and the pauses agents
chose (break, lunch…). The pauses the system made (phone unreachable or busy, too many
misses) are lifted: the phone's next qualify pauses it again if it is still away."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from callcenter.agents.journal import AgentFiles, keep_aside
from callcenter.errors import CallcenterError

__all__ = ["PAUSE_REASONS", "PHONE_PAUSES", "SYSTEM_PAUSES", "AgentBook", "AgentRecord",
           "AgentState", "AgentStateError"]

log = logging.getLogger(__name__)

PAUSE_REASONS: dict[str, str] = {"1": "break", "2": "lunch", "3": "training",
                                 "4": "after_call_work"}
# pauses the system made for the phone: lifted when the phone is reachable again
PHONE_PAUSES = frozenset({"unreachable", "busy"})
# every pause the system made (not the agent): a restart lifts them (see above)
SYSTEM_PAUSES = PHONE_PAUSES | {"missed"}


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

# a change into or out of these is one the agent is told of (see _enter)
_TOLD = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED})

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


def _resume(rec: AgentRecord) -> None:
    """A state read back from before a restart or a take-over, as it stands now: a call that
    was ringing or up is believed up until AMI says which phones are on a channel
    (Phones.relearn): an agent still talking must not be rung with a second caller; wrap-up
    and system pauses are over."""
    if rec.state in (AgentState.RINGING, AgentState.ON_CALL):
        rec.state = AgentState.ON_CALL
    elif rec.state == AgentState.WRAP_UP or (
            rec.state == AgentState.PAUSED and rec.pause_reason in SYSTEM_PAUSES):
        rec.state, rec.pause_reason = AgentState.READY, ""


def _doc(rec: AgentRecord) -> dict[str, object]:
    return {**asdict(rec), "state": rec.state.value}


class AgentBook:
    """Every agent's state; `on_change(record)` runs after each change (BLF, events)."""

    def __init__(self, agent_ids: list[str], path: Path | None = None, *,
                 clock: Callable[[], float] = time.time):
        self.path = path
        self.files = AgentFiles(path) if path else None
        self.clock = clock
        self.agents = {a: AgentRecord(a, since=clock()) for a in agent_ids}
        # device -> the agent logged in at it, and back: `at_device` without a walk
        self._at: dict[str, str] = {}
        self._device_of: dict[str, str] = {}
        self.listeners: list[Callable[[AgentRecord], None]] = []
        # (record, previous state, its start time, its pause reason): for call events
        self.transitions: list[Callable[[AgentRecord, AgentState, float, str], None]] = []
        if self.files and self.files.path.exists():
            self._load(self.files)

    def _load(self, files: AgentFiles) -> None:
        """Take back what was saved (the snapshot, then the journal's later changes); a
        record that is not what `_save` writes is skipped with a warning (never a refusal to
        start: under Restart=always that is a crash loop), and a file with anything wrong in
        it is kept aside as NAME.bad-N for a person."""
        path = files.path
        try:
            saved = files.read_snapshot()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable agent state file %s: %s", path, exc)
            keep_aside(path)
            return
        docs = saved.get("agents") if isinstance(saved, dict) else None
        if not isinstance(docs, list):
            log.warning("ignoring agent state file %s: not an {\"agents\": [...]} document",
                        path)
            keep_aside(path)
            return
        if self._take(path, docs):
            keep_aside(path)
        changes, bad = files.read_journal()
        if self._take(files.journal, changes) + bad:
            if bad:
                log.warning("agent journal %s: %d lines skipped (not journal lines)",
                            files.journal, bad)
            keep_aside(files.journal)
        for rec in self.agents.values():
            _resume(rec)
            self._index(rec)

    def restore(self, records: Iterable[AgentRecord]) -> int:
        """Take each agent's state as another daemon last recorded it (a take-over of the
        lead, docs/cluster.md): the listeners (scheduler, lamps) follow; nothing is recorded
        as a transition, it happened on the other daemon. Returns how many changed."""
        changed = 0
        for saved in records:
            rec = self.agents.get(saved.agent_id)
            if rec is None:
                continue
            _resume(saved)
            if (rec.state, rec.device, rec.pause_reason) == (saved.state, saved.device,
                                                             saved.pause_reason):
                continue
            rec.state, rec.device, rec.pause_reason = saved.state, saved.device, \
                saved.pause_reason
            rec.since = saved.since or self.clock()
            rec.misses = 0
            self._save(rec)
            for listener in self.listeners:
                listener(rec)
            changed += 1
        return changed

    def _take(self, path: Path, docs: list[object]) -> int:
        """Put the valid records of the site's agents in the book; the invalid ones count."""
        bad = 0
        for n, doc in enumerate(docs):
            rec = _record(doc)
            if rec is None:
                bad += 1
                log.warning("agent state file %s: record %d skipped (not a valid agent "
                            "record): %.200r", path, n, doc)
            elif rec.agent_id in self.agents:
                self.agents[rec.agent_id] = rec
        return bad

    def _index(self, rec: AgentRecord) -> None:
        aid = rec.agent_id
        old = self._device_of.pop(aid, "")
        if old and self._at.get(old) == aid:
            del self._at[old]
        if rec.device and rec.state != AgentState.LOGGED_OUT:
            self._at[rec.device] = aid
            self._device_of[aid] = rec.device

    def _save(self, rec: AgentRecord, durable: bool = True) -> None:
        """Index and journal `rec` (see callcenter.agents.journal); `durable`: fsynced before
        this returns, for what the agent is told of — else within a fraction of a second."""
        self._index(rec)
        if self.files is None:
            return
        self.files.append(_doc(rec), durable=durable, agents=len(self.agents),
                          everything=lambda: [_doc(r) for r in self.agents.values()])

    def close(self) -> None:
        """fsync what is journalled and close the journal (a stopping daemon)."""
        if self.files is not None:
            self.files.close()

    def get(self, agent_id: str) -> AgentRecord:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AgentStateError(f"no agent {agent_id} in the site file") from None

    def at_device(self, device: str) -> AgentRecord | None:
        """The agent logged in at `device`, if any."""
        aid = self._at.get(device)
        return self.agents[aid] if aid is not None else None

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
        # logins, logouts and pauses are confirmed to the agent: on disk before that
        self._save(rec, durable=bool({prev, to} & _TOLD))
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
        if rec.device != device:  # the same state at another phone: lamps and views follow
            rec.device = device
            self._save(rec)
            for listener in self.listeners:
                listener(rec)
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

    def missed(self, agent_id: str) -> AgentRecord:
        """A ring went unanswered: one more miss in a row (`callcenter status` shows them;
        an answered call starts the count again)."""
        rec = self.get(agent_id)
        rec.misses += 1
        self._save(rec, durable=False)
        return rec

    def call_ended(self, agent_id: str, wrap_up: bool) -> AgentRecord:
        """The agent's call is over: wrap-up or ready. An agent no longer on a call (it
        logged out while talking) stays as it is: a call's end never logs an agent in."""
        rec = self.get(agent_id)
        if rec.state not in (AgentState.ON_CALL, AgentState.RINGING):
            return rec
        return self._move(rec, AgentState.WRAP_UP if wrap_up else AgentState.READY)

    def relearn_call(self, agent_id: str) -> AgentRecord:
        """AMI shows the agent's phone on a live channel the book did not know of (a restart
        after a crash, a call while AMI was away): the agent is on a call, whatever it was."""
        rec = self.get(agent_id)
        if rec.state in (AgentState.ON_CALL, AgentState.LOGGED_OUT):
            return rec
        return self._enter(rec, AgentState.ON_CALL, pause_reason="")  # from any state
