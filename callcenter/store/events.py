"""Call events: what the daemon records, one immutable row each (docs/events.md lists them).

Every event carries a unique id (replays of the spool are idempotent on it), the time it
happened (`at`, UTC) and, where they apply, the call, queue, agent and site it concerns.
Everything else sits in `data`; the keys each kind carries are listed in KINDS."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from callcenter.jsonline import to_json

__all__ = ["KINDS", "Event", "new_event"]

# kind -> the `data` keys it carries (documented in docs/events.md)
KINDS: dict[str, tuple[str, ...]] = {
    "call.start": ("number", "caller", "caller_name", "trunk", "route", "flow"),
    "call.end": ("duration_ms", "outcome"),
    "ivr.step": ("flow", "node", "digits"),
    "ivr.end": ("flow", "outcome", "target", "node", "path"),
    "contact.match": ("number", "name", "vip", "region"),
    "queue.enter": ("entry", "priority", "caller", "reason", "from_queue", "enqueued_at"),
    "queue.unstaffed": ("caller",),
    "queue.offer": ("entry", "attempt"),
    "queue.ringnoanswer": ("entry", "ring_ms", "status"),
    "queue.answer": ("entry", "wait_ms", "ring_ms"),
    "queue.complete": ("entry", "talk_ms", "by"),
    "queue.wrapup": ("entry", "wrap_ms"),
    "queue.abandon": ("entry", "wait_ms", "ringing"),
    "queue.overflow": ("entry", "wait_ms", "target"),
    "queue.transfer": ("entry", "to_queue", "talk_ms"),
    "queue.callback_request": ("entry", "wait_ms", "number"),
    "queue.callback_result": ("entry", "attempt", "status", "result"),
    "agent.state": ("state", "reason", "prev", "prev_reason", "since", "device"),
    "agent.login_locked": ("device", "scope", "failures", "until"),
    "trunk.attempt": ("number", "route", "trunk", "status", "purpose"),
    # surveys (docs/surveys.md). The columns call_id, queue, agent_id and site of a post-call
    # survey's events are the surveyed call's (the caller's first channel) and the agent,
    # queue and site that answered it. survey.answer is one per try of a question:
    # outcome "answered" (score 1..scale), or "timeout"/"invalid" (score null: no key, or
    # a key outside the scale); `attempt` counts from 1; `job`: a dialler survey call's job.
    "survey.optin": ("entry",),  # a survey-first queue's caller pressed 1 while waiting
    "survey.start": ("flow", "entry", "opted_in"),  # the survey flow begins (offered)
    "survey.answer": ("flow", "question", "score", "scale", "outcome", "attempt", "entry",
                      "job"),
    "survey.end": ("flow", "entry", "outcome", "answers"),  # completed|caller_hangup|failed
    "dial.refused": ("origin", "number_class", "number", "reason", "device"),
    # automatic calls (docs/outbound.md): one attempt placed, how it ended (`final`: the
    # job is over), a callee who pressed 9
    "outbound.attempt": ("job", "attempt", "job_kind", "campaign", "number", "trunk",
                         "caller_id", "caller_id_kind", "lateness_ms", "attempt_no"),
    "outbound.result": ("job", "attempt", "job_kind", "campaign", "external_id", "number",
                        "result", "dial_status", "caller_id_kind", "trunk", "final",
                        "attempts"),
    "outbound.opt_out": ("job", "number", "campaign", "job_kind"),
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    at: dt.datetime = field(default_factory=_utc_now)
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    call_id: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    site: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_line(self) -> str:
        """One spool line (JSON, no newline inside: JSON escapes control characters)."""
        return to_json({"id": str(self.id), "at": self.at.isoformat(), "kind": self.kind,
                        "call_id": self.call_id, "queue": self.queue,
                        "agent_id": self.agent_id, "site": self.site, "data": self.data})

    @classmethod
    def from_line(cls, line: str) -> Event:
        doc = json.loads(line)
        return cls(kind=doc["kind"], at=dt.datetime.fromisoformat(doc["at"]),
                   id=uuid.UUID(doc["id"]), call_id=doc.get("call_id"),
                   queue=doc.get("queue"), agent_id=doc.get("agent_id"),
                   site=doc.get("site"), data=doc.get("data") or {})

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.at, self.kind, self.call_id, self.queue, self.agent_id,
                self.site, json.dumps(self.data, ensure_ascii=False, default=str))


def new_event(kind: str, *, call_id: str | None = None, queue: str | None = None,
              agent_id: str | None = None, site: str | None = None,
              at: dt.datetime | None = None, **data: Any) -> Event:
    """An event of a known kind; unknown kinds are a programming error."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return Event(kind=kind, at=at or _utc_now(), call_id=call_id, queue=queue,
                 agent_id=agent_id, site=site, data=data)
