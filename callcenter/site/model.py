"""The site description as typed dataclasses: what an IT person writes in one YAML file."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

from callcenter.site.fields import (
    AgentId,
    Digits,
    Extension,
    Host,
    Key,
    Level,
    Network,
    PhoneNumber,
    Text,
)
from callcenter.site.outbound import Outbound
from callcenter.site.topology import DaemonDef, NodeDef, Proxy

if TYPE_CHECKING:  # flownodes types its fields with this package's validators
    from callcenter.site.flownodes import Flow

__all__ = [
    "AcdSettings",
    "Agent",
    "Announce",
    "AsteriskSettings",
    "Company",
    "Dialling",
    "Fallback",
    "FeatureCodes",
    "Hours",
    "NumberDef",
    "Prompt",
    "Queue",
    "Secrets",
    "Site",
    "SiteDef",
    "SiteFile",
    "Skill",
    "Trunk",
]

# what outbound calls may reach when the site file says nothing: domestic, ordinary-rate
# numbers; international and premium never unless a site says so (docs/dialling.md)
DEFAULT_ALLOWED: tuple[str, ...] = ("internal", "local", "national", "mobile", "freephone")

_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# how Asterisk sends and reads keypad digits on a SIP endpoint (PJSIP dtmf_mode)
DtmfMode = Literal["rfc4733", "inband", "info", "auto", "auto_info"]


@dataclass(config=_STRICT)
class Company:
    name: Text
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"


@dataclass(config=_STRICT)
class SiteDef:
    """A 职场: a place where agents work."""

    name: Text
    caller_id: PhoneNumber
    kind: Literal["hq", "branch", "outsourced", "remote"] = "branch"
    description: Text = ""
    hours: Key | None = None
    region: Text = ""
    # caller number prefixes (area codes, mobile segments) that belong to this site's region
    area_codes: list[Digits] = field(default_factory=list)
    # provinces this site serves (Chinese short names, e.g. [四川]): a mobile caller whose
    # number area_codes does not place is routed by its 号码归属地 (outbound/region.py)
    provinces: list[Text] = field(default_factory=list)
    # where this site's desk phones may register and call from (the office network); empty:
    # from anywhere (check warns)
    phone_networks: list[Network] = field(default_factory=list)


@dataclass(config=_STRICT)
class Skill:
    description: Text = ""


@dataclass(config=_STRICT)
class Agent:
    id: AgentId
    name: Text
    extension: Extension
    site: Key
    skills: dict[Key, Level] = field(default_factory=dict)
    # the dialling policy's role (dialling.roles): which numbers this agent's phone may dial
    role: Key = "agent"
    # a remote agent's own addresses, allowed besides the site's phone_networks
    networks: list[Network] = field(default_factory=list)


@dataclass(config=_STRICT)
class SiteDialling:
    """One site's override of the dialling policy (docs/dialling.md)."""

    allow: list[Key] | None = None
    roles: dict[Key, list[Key]] = field(default_factory=dict)


@dataclass(config=_STRICT)
class Dialling:
    """Which number classes outbound calls may reach (docs/dialling.md): `allow` for
    transfers, callbacks and campaigns, `roles` for agents' desk phones, per-site overrides;
    international and premium are refused unless listed."""

    allow: list[Key] = field(default_factory=lambda: list(DEFAULT_ALLOWED))
    roles: dict[Key, list[Key]] = field(default_factory=lambda: {
        "agent": list(DEFAULT_ALLOWED)})
    agent_emergency: bool = True
    sites: dict[Key, SiteDialling] = field(default_factory=dict)
    # the caller name customers see on outbound calls; None: the company's name, "": none
    caller_name: Text | None = None


@dataclass(config=_STRICT)
class Announce:
    """When a waiting caller hears position and estimated wait (seconds; 0 = never)."""

    first_after: int = 30
    every: int = 60
    position: bool = True
    estimated_wait: bool = True


@dataclass(config=_STRICT)
class Queue:
    name: Text
    skills: dict[Key, Level]
    site: Key | None = None
    strategy: Literal["longest_idle", "fewest_calls", "highest_skill", "round_robin"] = (
        "longest_idle")
    service_level_seconds: int = 20
    max_wait_seconds: int = 300
    # where a call goes after max_wait: queue:NAME, site:NAME, voicemail:NAME, callback, hangup
    overflow: str = "voicemail:default"
    expand_after_seconds: int | None = None
    # under skill expansion: how many levels below each minimum, and a second site's agents
    expand_levels: int = 1
    overflow_site: Key | None = None
    # the average handle time estimated waits start from, before real calls move it
    handle_time_seconds: int = 180
    wrap_up_seconds: int = 10
    music_class: Key = "default"
    announce: Announce = field(default_factory=Announce)
    callback_offer_after_seconds: int | None = None
    weight: int = 1
    ring_seconds: int = 15
    # agents blind-transfer a caller into this queue by dialling *8 + code (keeps the wait)
    code: Digits | None = None
    # an unanswered callback customer is dialled again after this long (3 attempts in all)
    callback_retry_seconds: int = 120
    # a flow asking the caller about the call, run when the agent hangs up first
    survey: Key | None = None
    # ask while waiting (press 1 to take part): only callers who pressed 1 get the survey
    survey_ask_first: bool = False


@dataclass(config=_STRICT)
class Trunk:
    """A SIP carrier peer (中继)."""

    host: Host
    port: int = 5060
    transport: Literal["udp", "tcp"] = "udp"
    # ip: the carrier is recognised by its address; password: we authenticate/register
    identify: Literal["ip", "password"] = "ip"
    username: Text | None = None
    register: bool = False
    match: list[Host] = field(default_factory=list)
    channels: int = 30
    qualify_seconds: int = 30
    codecs: list[Literal["alaw", "ulaw", "g722", "gsm"]] = field(
        default_factory=lambda: ["alaw", "ulaw"])
    dtmf_mode: DtmfMode = "rfc4733"
    # new calls the dialler may start on this trunk per second (the carrier's CPS limit)
    calls_per_second: int = 10


@dataclass(config=_STRICT)
class NumberDef:
    """A national service number (400/95/1010) or ordinary DID with its routes: calls go
    out through the first trunk and fail over to the second. One carrier only: leave
    `second_route` out (it becomes the first; check warns)."""

    number: Digits
    flow: Key
    first_route: Key
    second_route: Key | None = None
    kind: Literal["400", "95", "1010", "did"] | None = None
    site: Key | None = None
    description: Text = ""

    def __post_init__(self) -> None:
        if self.second_route is None:
            self.second_route = self.first_route

    @property
    def one_route(self) -> bool:
        """True when both routes are the same trunk: no failover to another carrier."""
        return self.second_route == self.first_route


@dataclass(config=_STRICT)
class Hours:
    """Opening hours per weekday ("08:00-12:00,13:00-21:00" or "closed"), holidays and
    make-up working days (调休) that open a weekend day on the weekday's hours."""

    weekly: dict[Weekday, str]
    holidays: list[dt.date] = field(default_factory=list)
    workdays: list[dt.date] = field(default_factory=list)
    timezone: str | None = None


@dataclass(config=_STRICT)
class Prompt:
    """A recorded file (relative to the site file) or a text spoken by espeak-ng; a file wins."""

    file: str | None = None
    text: Text | None = None
    language: Literal["zh", "en", "yue"] = "zh"


@dataclass(config=_STRICT)
class Fallback:
    """What a caller gets when the daemon cannot be reached: a prompt, then ring these
    extensions together, then the closing prompt and hang up."""

    prompt: Key
    extensions: list[Extension] = field(default_factory=list)
    ring_seconds: int = 30
    final_prompt: Key | None = None


@dataclass(config=_STRICT)
class FeatureCodes:
    """Keypad codes agents dial from a desk phone."""

    login: str = "*21"
    logout: str = "*22"
    pause: str = "*23"
    unpause: str = "*24"


@dataclass(config=_STRICT)
class AsteriskSettings:
    # the address phones and carriers reach Asterisk on: no silent 0.0.0.0 (write it to mean it)
    sip_bind: Host | None = None
    sip_port: int = 5060
    ami_port: int = 5038
    agi_host: Host = "127.0.0.1"
    agi_port: int = 4573
    rtp_start: int = 10000
    rtp_end: int = 20000
    # addresses the daemon accepts FastAGI connections from
    addresses: list[Host] = field(default_factory=lambda: ["127.0.0.1"])
    # how often Asterisk sends OPTIONS to agents' phones (0: never; unreachable phones pause
    # their agent until they answer again)
    phone_qualify_seconds: int = 30
    # how the desk phones send keypad digits (menus, PINs, feature codes)
    phone_dtmf_mode: DtmfMode = "rfc4733"


@dataclass(config=_STRICT)
class AcdSettings:
    """The call distributor's agent rules (docs/routing.md)."""

    # unanswered rings in a row before an agent is paused as "missed" (0: never)
    missed_limit: int = 3
    # a caller who hangs up and calls the same queue again within this long gets the old
    # place back (0: never)
    resume_window_seconds: int = 60


@dataclass(config=_STRICT)
class StoreSettings:
    """Where call events go. Without a dsn, a private PostgreSQL cluster under the state
    directory; a password belongs in ~/.pgpass or $PGPASSFILE, never here."""

    dsn: str | None = None
    # an abandon within this many seconds is a "short abandon" (misdial, changed mind)
    short_abandon_seconds: int = 5


@dataclass(config=_STRICT)
class MetricsSettings:
    """Prometheus metrics served by the daemon (port 0: off)."""

    host: Host = "127.0.0.1"
    port: int = 9464


@dataclass(config=_STRICT)
class SiteFile:
    """The YAML document as written (before secrets and flows are attached)."""

    company: Company
    sites: dict[Key, SiteDef]
    agents: list[Agent]
    skills: dict[Key, Skill]
    queues: dict[Key, Queue]
    trunks: dict[Key, Trunk]
    numbers: list[NumberDef]
    hours: dict[Key, Hours]
    flows: dict[Key, str]
    prompts: dict[Key, Prompt]
    fallback: Fallback
    features: FeatureCodes = field(default_factory=FeatureCodes)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    database: StoreSettings = field(default_factory=StoreSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    acd: AcdSettings = field(default_factory=AcdSettings)
    dialling: Dialling = field(default_factory=Dialling)
    outbound: Outbound = field(default_factory=Outbound)
    # several servers (docs/cluster.md): none of them on one server
    nodes: dict[Key, NodeDef] = field(default_factory=dict)
    proxy: Proxy | None = None
    daemons: dict[Key, DaemonDef] = field(default_factory=dict)
    secrets: str | None = None
    contacts: str | None = None


@dataclasses.dataclass
class Secrets:
    """Passwords that never sit in the site file."""

    ami_secret: str
    sip_passwords: dict[str, str]  # agent id -> password
    pins: dict[str, str]  # agent id -> keypad PIN
    trunk_passwords: dict[str, str]  # trunk name -> password
    agi_secret: str = ""  # first part of every FastAGI request path (CC_AGI)
    # HTTP API clients: name -> (bearer token, scopes: reminders, leads, read)
    api_clients: dict[str, tuple[str, frozenset[str]]] = dataclasses.field(
        default_factory=dict)
    webhook_secrets: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Site:
    """A checked site: the file's content plus where it lives, its flows and secrets."""

    path: Path
    spec: SiteFile
    secrets: Secrets
    # flow name -> its nodes, compiled when the site was loaded (a flow file edited since
    # changes nothing until the site is loaded again)
    flows: dict[str, Flow]
    flow_files: dict[str, Path]
    # the node this copy is rendered for (callcenter/render/nodes.py); "" on one server
    node: str = ""

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def clustered(self) -> bool:
        """Several Asterisk nodes behind a proxy rather than one server."""
        return bool(self.spec.nodes)
