"""The site file's `outbound:` section: caller-ID pool, callee limits, voice templates,
campaigns, webhooks and the HTTP API (docs/outbound.md)."""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

from callcenter.site.fields import Digits, Host, Key, Text

__all__ = [
    "CALL_KINDS",
    "WEBHOOK_EVENTS",
    "ApiSettings",
    "CallKind",
    "CalleeLimits",
    "Campaign",
    "Outbound",
    "PoolNumber",
    "VoiceTemplate",
    "Webhook",
]

_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)

# every kind of outbound call the caller-ID choice and the limits know
CallKind = Literal["reminder", "lead", "survey", "callback", "agent"]
CALL_KINDS: tuple[str, ...] = ("reminder", "lead", "survey", "callback", "agent")
# service calls the callee asked for need no consent; marketing-like ones do
SERVICE_KINDS: frozenset[str] = frozenset({"reminder", "callback", "agent"})

WebhookEvent = Literal["call.offered", "call.answered", "call.ended", "reminder.result",
                       "lead.result", "survey.answer"]
WEBHOOK_EVENTS: tuple[str, ...] = ("call.offered", "call.answered", "call.ended",
                                   "reminder.result", "lead.result", "survey.answer")


@dataclass(config=_STRICT)
class PoolNumber:
    """A number the company owns (with its carrier) that outbound calls may present."""

    number: Digits
    trunk: Key
    city: Text = ""
    province: Text = ""
    # calls presenting this number per day (0: no cap); past it the next best number is used
    daily_cap: int = 1000
    kinds: list[CallKind] = field(default_factory=lambda: list(CALL_KINDS))


@dataclass(config=_STRICT)
class CalleeLimits:
    """What one callee may receive, failed calls included (defaults: the Chinese clouds'
    published rules), and when: quiet hours in the callee's local time."""

    per_minute: int = 1
    per_hour: int = 5
    per_day: int = 20
    quiet_hours: str = "21:00-08:00"


@dataclass(config=_STRICT)
class VoiceTemplate:
    """What an automatic call says: `text` with {variables} (student, course, start_time,
    start_date, minutes, name), spoken by espeak-ng at call time, or a recorded `file` played
    before the spoken text. Keys: 1 confirm, 2 a person, 9 no more such calls."""

    text: Text
    file: str | None = None
    language: Literal["zh", "en"] = "zh"
    # reminders: placed this long before the lesson starts
    lead_minutes: int = 20
    # unanswered or failed calls are tried again this many times, this far apart
    retries: int = 2
    retry_minutes: int = 3
    # pressing 2 puts the callee into this queue with priority
    person_queue: Key | None = None
    person_priority: int = 5


@dataclass(config=_STRICT)
class Campaign:
    """A stream of automatic calls of one kind, with its window and pace."""

    kind: Literal["reminder", "lead", "survey"]
    template: Key | None = None
    # when calls may be placed, in the callee's local time
    window: str = "08:00-21:00"
    concurrency: int = 10
    # how long a callee's phone rings before the attempt counts as no answer
    ring_seconds: int = 40
    # trunks the campaign may use (empty: every trunk of the pool's numbers)
    trunks: list[Key] = field(default_factory=list)
    # leads: the sales queue, how the call is placed, and how fast
    queue: Key | None = None
    mode: Literal["preview", "customer_first"] = "preview"
    target_minutes: int = 5
    # customer-first: answered leads left without an agent, at most this share
    abandon_ceiling: float = 0.03
    # surveys: the flow that asks the questions
    flow: Key | None = None
    # non-service calls only reach contacts who agreed (None: per kind, reminders need none)
    consent_required: bool | None = None


@dataclass(config=_STRICT)
class Webhook:
    """Where the CRM hears about calls: a POST signed with HMAC-SHA256 (the secret comes
    from the secrets file's `webhooks:` under this webhook's name)."""

    url: str
    events: list[WebhookEvent] = field(default_factory=lambda: list(WEBHOOK_EVENTS))
    timeout_seconds: int = 5


@dataclass(config=_STRICT)
class ApiSettings:
    """The HTTP API for the booking system and the CRM (port 0: off)."""

    host: Host = "127.0.0.1"
    port: int = 8480


@dataclass(config=_STRICT)
class Outbound:
    caller_ids: list[PoolNumber] = field(default_factory=list)
    # sites whose agents' manual calls present the site's caller_id instead of a pool number
    agent_site_caller_id: list[Key] = field(default_factory=list)
    # prefixes the phonenumbers data does not place: CSV prefix,province,city
    region_overrides: str | None = None
    limits: CalleeLimits = field(default_factory=CalleeLimits)
    templates: dict[Key, VoiceTemplate] = field(default_factory=dict)
    campaigns: dict[Key, Campaign] = field(default_factory=dict)
    webhooks: dict[Key, Webhook] = field(default_factory=dict)
    api: ApiSettings = field(default_factory=ApiSettings)
    # numbers an automatic call may never reach besides the do-not-call list
    never_call: list[Digits] = field(default_factory=list)
