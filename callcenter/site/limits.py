"""The one table of numeric bounds: the site checker, the scheduler and the templates agree.

The scheduler (callcenter/acd/types.py) refuses a queue outside these bounds at start-up, so
`callcenter check` must refuse it first with the same words; both read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "MAX_ALIASES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_VALUES", "Limit",
           "out_of_range"]


@dataclass(frozen=True)
class Limit:
    """Whole numbers lo..hi (inclusive); `why` tells the reader what the value is for."""

    lo: int
    hi: int
    why: str = ""

    def allows(self, value: object) -> bool:
        return type(value) is int and self.lo <= value <= self.hi

    def use(self) -> str:
        return f"use {self.lo} to {self.hi}" + (f" ({self.why})" if self.why else "")


DAY = 86400

# Keys are "section.field" as written in the site file (queue fields also bound the
# scheduler's QueueConfig of the same meaning).
LIMITS: dict[str, Limit] = {
    # the scheduler multiplies waiting milliseconds by the weight; the cap keeps it in int64
    "queue.weight": Limit(1, 1000),
    "skill.level": Limit(1, 10, "1 lowest, 10 highest"),
    # VIP tiers: the C scheduler keeps one heap per tier
    "call.priority": Limit(0, 9, "0 normal, 9 highest VIP tier"),
    "queue.expand_levels": Limit(0, 9, "levels below each minimum under skill expansion"),
    "queue.service_level_seconds": Limit(0, 3600),
    "queue.max_wait_seconds": Limit(0, DAY, "0: never overflow"),
    "queue.expand_after_seconds": Limit(0, DAY),
    "queue.handle_time_seconds": Limit(0, DAY),
    "queue.wrap_up_seconds": Limit(0, 3600),
    # an agent's phone rings this long (Dial timeout and the AMI originate timeout)
    "queue.ring_seconds": Limit(1, 600),
    "queue.callback_offer_after_seconds": Limit(0, DAY),
    "queue.callback_retry_seconds": Limit(1, DAY),
    "announce.first_after": Limit(0, 3600, "0: never"),
    "announce.every": Limit(0, 3600, "0: never"),
    "trunk.port": Limit(1, 65535),
    # compared with GROUP_COUNT in the dialplan
    "trunk.channels": Limit(1, 10000),
    "trunk.qualify_seconds": Limit(0, 3600, "0: off"),
    "fallback.ring_seconds": Limit(1, 600),
    "asterisk.port": Limit(1, 65535),
    "asterisk.phone_qualify_seconds": Limit(0, 3600, "0: off"),
    "metrics.port": Limit(0, 65535, "0: off"),
    "database.short_abandon_seconds": Limit(0, 600),
    # the scheduler's Scheduler(missed_limit=, resume_window=)
    "acd.missed_limit": Limit(0, 100, "0: never pause an agent for missed calls"),
    "acd.resume_window_seconds": Limit(0, 3600, "0: a caller who hangs up loses the place"),
    # the outbound section (callcenter/site/outboundcheck.py, docs/outbound.md)
    "trunk.calls_per_second": Limit(1, 1000, "the carrier's calls-per-second limit"),
    "outbound.caller_ids.daily_cap": Limit(0, 1_000_000, "0: no cap"),
    "outbound.limits.per_minute": Limit(1, 60),
    "outbound.limits.per_hour": Limit(1, 1000),
    "outbound.limits.per_day": Limit(1, 10000),
    "outbound.templates.lead_minutes": Limit(1, 240, "minutes before the lesson"),
    "outbound.templates.retries": Limit(0, 5, "tries after the first"),
    "outbound.templates.retry_minutes": Limit(1, 120),
    "outbound.campaigns.concurrency": Limit(1, 1000, "calls at once"),
    # the Originate timeout: how long the callee's phone rings
    "outbound.campaigns.ring_seconds": Limit(5, 300),
    "outbound.campaigns.target_minutes": Limit(1, 1440),
    "outbound.webhooks.timeout_seconds": Limit(1, 60),
    "outbound.api.port": Limit(0, 65535, "0: off"),
    # the topology (callcenter/site/topologycheck.py, docs/cluster.md)
    "nodes.capacity": Limit(1, 10000, "concurrent calls with media on the node"),
    "port": Limit(1, 65535),
    "proxy.probe_seconds": Limit(1, 60, "seconds between the proxy's OPTIONS to a node"),
}


def out_of_range(key: str, value: object, what: str = "") -> str | None:
    """None if `value` fits LIMITS[key], else "WHAT VALUE is out of range — use LO to HI"."""
    limit = LIMITS[key]
    if limit.allows(value):
        return None
    name = what or key.rpartition(".")[2].replace("_", " ")
    return f"{name} {value!r} is out of range — {limit.use()}"

# What a site or flow file may be at most, so a hostile or broken file is refused quickly:
# a site file of 1000 agents is ~150 kB and ~15 000 values, nested 6 deep, so these admit
# a centre of about 40,000 agents (20,000: docs/scale.md).
MAX_FILE_BYTES = 16 << 20
MAX_ALIASES = 1000  # uses of '*name' in one file
MAX_VALUES = 600_000  # values after every alias is expanded (billion laughs stops here)
MAX_DEPTH = 40  # nesting of mappings and lists, aliases included
