"""The daemon ↔ dialplan contract: every channel variable and AGI route both sides use.

The Python side sets and reads these names; the renderer hands `TEMPLATE_NAMES` to
`extensions.conf.j2`, so a name changed here changes in both places at once."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["TEMPLATE_NAMES", "Next", "Route", "Var"]


class Var(StrEnum):
    """Channel variables (and globals) the daemon and the dialplan share."""

    NEXT = "CC_NEXT"  # where the dialplan goes when an AGI session ends (a `Next`)
    TARGET = "CC_TARGET"  # the digits a flow's transfer node rings
    QUEUE = "CC_QUEUE"  # the queue a caller waits in
    PRIORITY = "CC_PRIORITY"  # the caller's priority in that queue
    ENQUEUED = "CC_ENQUEUED"  # epoch ms the caller first joined a queue (kept on transfer)
    ENTRY = "CC_ENTRY"  # the id of this stay in this queue
    ENTERED = "CC_ENTERED"  # epoch ms this stay began
    LABEL = "CC_LABEL"  # the screen-pop caller name
    AGENT_EXT = "CC_AGENT_EXT"  # the phone an offer rings
    RING_SECONDS = "CC_RING_SECONDS"  # how long it rings
    AGENT = "CC_AGENT"  # the agent logged in at this desk phone
    NUMBER = "CC_NUMBER"  # the number the caller dialled
    FLOW = "CC_FLOW"  # the flow that number runs
    TRUNK = "CC_TRUNK"  # the carrier the call came in on
    ALIVE = "CC_ALIVE"  # global: the daemon's heartbeat, epoch seconds
    AGI = "CC_AGI"  # global: the daemon's FastAGI URL with its secret
    SOUNDS = "CC_SOUNDS"  # global: the site's prompt folder
    DIAL_OK = "CC_DIAL_OK"  # the digits the dialling policy approved for this channel
    CALLBACK_ID = "CC_CALLBACK_ID"  # the callback an Originate belongs to
    PRESENT = "CC_PRESENT"  # the number a callback, automatic or agent's call presents
    FIRST = "CC_FIRST"  # a number's first route (trunk)
    SECOND = "CC_SECOND"  # its second route
    OUT_NUMBER = "CC_OUT_NUMBER"  # the customer's number a callback dials
    ROUTE_TRUNK = "CC_ROUTE_TRUNK"  # the trunk an outbound attempt uses
    ATTEMPT = "CC_ATTEMPT"  # the automatic call (outbound attempt) a channel belongs to
    PRESENT2 = "CC_PRESENT2"  # the number an automatic call presents on its second route
    SURVEY = "CC_SURVEY"  # a survey-first queue asked this caller: "asked", or "yes" (pressed 1)
    TRIES = "CC_TRIES"  # dialplan-only: requeue attempts while the daemon is away
    STALE = "CC_STALE"  # dialplan-only: the heartbeat is too old
    TERM = "CC_TERM"  # the leader's term: a global on every node; on a channel, the offer's
    HANDS = "CC_HANDS"  # dialplan-only: how often a call was handed to a daemon
    TERM_AT = "CC_TERM_AT"  # dialplan-only: the leader's term a call was last handed to
    DRAIN = "CC_DRAIN"  # global on a node: "1" while `callcenter node drain` empties it
    FLOW_AT = "CC_FLOW_AT"  # a caller's place in its flow (several daemons: ivr/place.py)
    CALL_T0 = "CC_CALL_T0"  # epoch seconds the call reached the centre (for its end's time)


class Next(StrEnum):
    """The values of CC_NEXT: the dialplan's next step after an AGI session."""

    HANGUP = "hangup"
    TRANSFER = "transfer"  # ring CC_TARGET (an extension or an approved outside number)
    CONNECT = "connect"  # ring CC_AGENT_EXT with the waiting caller
    QUEUE = "queue"  # wait (again) in CC_QUEUE
    FALLBACK = "fallback"  # the site's static fallback


class Route(StrEnum):
    """The AGI request paths (after the secret) the daemon serves."""

    FLOW = "flow"  # flow/NAME: run a site flow
    OFFER = "offer"  # offer/DIALSTATUS: the result of ringing an agent
    REQUEUE = "requeue"  # a queued caller whose daemon went away asks again
    FEATURE = "feature"  # feature/NAME: an agent's keypad code (login, pause…)
    TRANSFER_QUEUE = "transfer-queue"  # transfer-queue/NAME: an agent hands the caller over
    DIAL = "dial"  # dial/DIGITS: an agent's outside call from a desk phone
    OUTBOUND = "outbound"  # outbound/ATTEMPT: an automatic call the callee answered
    SURVEY = "survey"  # the agent hung up first: the agent's part ends, the queue's survey


# what extensions.conf.j2 sees: {{ var.NEXT }}, {{ next.CONNECT }}, {{ route.OFFER }}
TEMPLATE_NAMES: Final[dict[str, dict[str, str]]] = {
    "var": {m.name: m.value for m in Var},
    "next": {m.name: m.value for m in Next},
    "route": {m.name: m.value for m in Route},
}
