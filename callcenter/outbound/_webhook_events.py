"""Which stored events a webhook sends and what it says about each (docs/webhooks.md)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["BATCH", "STORED_KINDS", "Delivery", "delivery", "webhook_event"]

# stored event kind -> the webhook event it becomes (outbound.result: by the job's kind)
_BY_KIND = {"queue.offer": "call.offered", "queue.answer": "call.answered",
            "call.end": "call.ended", "survey.answer": "survey.answer"}
_RESULTS = {"reminder": "reminder.result", "lead": "lead.result"}
STORED_KINDS = (*_BY_KIND, "outbound.result")

# events after the cursor, up to a mark every event below has committed; an offer carries
# who is calling for the CRM's screen pop (the entry's caller, the call's contact)
BATCH = """
SELECT e.seq, e.id, e.at, e.kind, e.call_id, e.queue, e.agent_id, e.site, e.data,
       enter.caller, start.caller_name, contact.data AS contact
FROM events e
LEFT JOIN LATERAL (SELECT q.data->>'caller' AS caller FROM events q
                   WHERE e.kind = 'queue.offer' AND q.data->>'entry' = e.data->>'entry'
                     AND q.data ? 'entry' AND q.kind = 'queue.enter'
                   ORDER BY q.seq LIMIT 1) enter ON true
LEFT JOIN LATERAL (SELECT s.data->>'caller_name' AS caller_name FROM events s
                   WHERE e.kind = 'queue.offer' AND s.call_id = e.call_id
                     AND s.kind = 'call.start' ORDER BY s.seq LIMIT 1) start ON true
LEFT JOIN LATERAL (SELECT c.data FROM events c
                   WHERE e.kind = 'queue.offer' AND c.call_id = e.call_id
                     AND c.kind = 'contact.match' ORDER BY c.seq DESC LIMIT 1) contact ON true
WHERE e.seq > %(after)s AND e.seq <= %(upto)s AND e.kind = ANY(%(kinds)s)
ORDER BY e.seq LIMIT %(limit)s
"""


def webhook_event(kind: str, data: dict[str, Any]) -> str | None:
    """The webhook event name of a stored event, or None when no webhook sends it."""
    if kind == "outbound.result":
        return _RESULTS.get(str(data.get("job_kind") or data.get("kind") or ""))
    return _BY_KIND.get(kind)


@dataclass(frozen=True)
class Delivery:
    """One POST: the stored event's seq (the cursor), id (the delivery id) and body."""

    seq: int
    id: uuid.UUID
    event: str
    at: dt.datetime
    body: bytes


def delivery(row: tuple[Any, ...], wanted: frozenset[str]) -> Delivery | None:
    """The POST for one row of the batch query, None when this webhook does not send it."""
    seq, event_id, at, kind, call_id, queue, agent_id, site, data, caller, caller_name, \
        contact = row
    name = webhook_event(kind, data)
    if name is None or name not in wanted:
        return None
    body: dict[str, Any] = {k: v for k, v in (("call_id", call_id), ("queue", queue),
                                               ("agent_id", agent_id), ("site", site))
                            if v is not None}
    body.update(data)
    if kind == "queue.offer":
        contact = contact or {}
        body["caller"] = caller or contact.get("number") or ""
        body["caller_name"] = contact.get("name") or caller_name or ""
        body["contact"] = ({k: contact[k] for k in ("number", "name", "vip", "region")
                            if k in contact} or None)
    doc = {"id": str(event_id), "event": name, "at": at.astimezone(dt.UTC).isoformat(),
           "data": body}
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
    return Delivery(seq, event_id, name, at, raw.encode())
