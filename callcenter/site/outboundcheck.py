"""Checks of the site file's `outbound:` section (docs/outbound.md): caller-ID pool, callee
limits, voice templates, campaigns, webhooks and the API, with the same located errors as
the rest of the site file; and the warnings `callcenter check` prints about it."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from callcenter.errors import Problem
from callcenter.outbound.limits import Window
from callcenter.outbound.speech import TemplateError, allowed, unknown_variables
from callcenter.site.model import SiteFile
from callcenter.site.numbers import area_code, classify, dial_forms
from callcenter.site.outbound import Campaign
from callcenter.site.yamlsrc import PathKey, Source

if TYPE_CHECKING:
    from callcenter.site.validate import _Checker

__all__ = ["check_outbound", "outbound_warnings"]

OUT = "outbound"
MAX_ABANDON = 0.2  # customer-first: more than this share of answered leads left alone is abuse
_NATIONAL = ("400", "95", "1010")


def _exists(base: Path, name: str) -> bool:
    p = Path(name)
    return (p if p.is_absolute() else base / p).exists()


def _is_mobile(number: str) -> bool:
    return len(number) == 11 and number[0] == "1" and number[1] in "3456789"


def _window(text: str) -> Window | str | None:
    """The parsed window, None for "" (no window), or why it cannot be parsed."""
    if not text.strip():
        return None
    try:
        return Window.parse(text)
    except ValueError as exc:
        return str(exc)


def check_outbound(src: Source, spec: SiteFile) -> list[Problem]:
    """Every problem in the outbound section (and the trunks' calls per second)."""
    from callcenter.site.validate import _Checker  # validate calls this: no cycle at import

    c = _Checker(src, spec)
    base = Path(src.file).parent
    ob = spec.outbound

    for key, trunk in spec.trunks.items():
        c.bounded(("trunks", key, "calls_per_second"), "trunk.calls_per_second",
                  trunk.calls_per_second)

    seen: dict[str, int] = {}
    for i, pool in enumerate(ob.caller_ids):
        path: PathKey = (OUT, "caller_ids", i)
        c.ref((*path, "trunk"), pool.trunk, spec.trunks, "trunk", "trunks")
        c.bounded((*path, "daily_cap"), "outbound.caller_ids.daily_cap", pool.daily_cap,
                  "daily cap")
        number = pool.number
        if classify(number) == "did" and not (area_code(number) or _is_mobile(number)):
            c.add((*path, "number"), f"{number} is not a Chinese fixed-line number with its "
                  "area code, nor a mobile number", "write it as callees see it, e.g. "
                  "02880002000 (0, the area code, 7–8 digits) — the region is read from it")
        for form in (number, *dial_forms(number)):
            j = seen.setdefault(form, i)
            if j != i:
                c.add((*path, "number"), f"number {number} is also caller_ids[{j}]"
                      + ("" if form == number else f" (dialled as {form})"),
                      "list each number of the pool once")
                break

    lim = ob.limits
    lpath: PathKey = (OUT, "limits")
    for name in ("per_minute", "per_hour", "per_day"):
        c.bounded((*lpath, name), f"outbound.limits.{name}", getattr(lim, name))
    if lim.per_minute > lim.per_hour:
        c.add((*lpath, "per_hour"), f"per_hour {lim.per_hour} is less than per_minute "
              f"{lim.per_minute}", "make per_minute ≤ per_hour ≤ per_day")
    elif lim.per_hour > lim.per_day:
        c.add((*lpath, "per_day"), f"per_day {lim.per_day} is less than per_hour "
              f"{lim.per_hour}", "make per_minute ≤ per_hour ≤ per_day")
    quiet = _window(lim.quiet_hours)
    if isinstance(quiet, str):
        what, _, hint = quiet.partition(" — ")
        c.add((*lpath, "quiet_hours"), what, hint)

    for key, t in ob.templates.items():
        path = (OUT, "templates", key)
        try:
            unknown = unknown_variables(t.text)
        except TemplateError as exc:
            what, _, hint = str(exc).partition(" — ")
            c.add((*path, "text"), what, hint)
            unknown = []
        for name in unknown:
            c.add((*path, "text"), f"unknown variable {{{name}}}", f"use {allowed()}")
        if t.file is not None and not _exists(base, t.file):
            c.add((*path, "file"), f"recording {t.file} does not exist",
                  "record it, fix the path, or remove 'file:' (the text is spoken)")
        c.ref((*path, "person_queue"), t.person_queue, spec.queues, "queue", "queues")
        for name in ("lead_minutes", "retries", "retry_minutes"):
            c.bounded((*path, name), f"outbound.templates.{name}", getattr(t, name))
        c.bounded((*path, "person_priority"), "call.priority", t.person_priority, "priority")

    for key, camp in ob.campaigns.items():
        _campaign(c, (OUT, "campaigns", key), camp)

    for key, hook in ob.webhooks.items():
        _webhook(c, (OUT, "webhooks", key), hook.url)
        c.bounded((OUT, "webhooks", key, "timeout_seconds"),
                  "outbound.webhooks.timeout_seconds", hook.timeout_seconds, "timeout")

    api = ob.api
    c.bounded((OUT, "api", "port"), "outbound.api.port", api.port, "port")
    used = {"metrics.port": spec.metrics.port, "asterisk.sip_port": spec.asterisk.sip_port,
            "asterisk.ami_port": spec.asterisk.ami_port,
            "asterisk.agi_port": spec.asterisk.agi_port}
    for name, port in used.items():
        if api.port and api.port == port:
            c.add((OUT, "api", "port"), f"port {api.port} is also {name}",
                  "give the API a port of its own (default 8480)")
    if ob.region_overrides is not None and not _exists(base, ob.region_overrides):
        c.add((OUT, "region_overrides"), f"region file {ob.region_overrides} does not exist",
              "fix the path or remove the key (CSV: prefix,province,city)")
    for j, site in enumerate(ob.agent_site_caller_id):
        c.ref((OUT, "agent_site_caller_id", j), site, spec.sites, "site", "sites")
    return c.problems


def _campaign(c: _Checker, path: PathKey, camp: Campaign) -> None:
    spec = c.spec
    c.ref((*path, "template"), camp.template, spec.outbound.templates, "template",
          "outbound.templates")
    if camp.template is None and (camp.kind == "reminder"
                                  or (camp.kind == "survey" and camp.flow is None)):
        c.add(path, f"a {camp.kind} campaign needs a template (what the call says)",
              "add 'template: NAME' naming one under outbound.templates"
              + (", or 'flow: NAME' for a survey flow" if camp.kind == "survey" else ""))
    if camp.kind == "lead" and camp.queue is None:
        c.add(path, "a lead campaign needs the sales queue that calls the leads",
              "add 'queue: NAME' (e.g. queue: sales)")
    c.ref((*path, "queue"), camp.queue, spec.queues, "queue", "queues")
    c.ref((*path, "flow"), camp.flow, spec.flows, "flow", "flows")
    for j, trunk in enumerate(camp.trunks):
        c.ref((*path, "trunks", j), trunk, spec.trunks, "trunk", "trunks")
    c.bounded((*path, "concurrency"), "outbound.campaigns.concurrency", camp.concurrency)
    c.bounded((*path, "ring_seconds"), "outbound.campaigns.ring_seconds", camp.ring_seconds)
    c.bounded((*path, "target_minutes"), "outbound.campaigns.target_minutes",
              camp.target_minutes, "target minutes")
    if not 0 <= camp.abandon_ceiling <= MAX_ABANDON:
        c.add((*path, "abandon_ceiling"), f"abandon ceiling {camp.abandon_ceiling} is out of "
              "range", f"use 0 to {MAX_ABANDON} (a share: 0.03 is 3% of answered leads)")
    window = _window(camp.window)
    if isinstance(window, str):
        what, _, hint = window.partition(" — ")
        c.add((*path, "window"), what, hint)


def _webhook(c: _Checker, path: PathKey, url: str) -> None:
    where = (*path, "url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        c.add(where, "the URL contains a space or control character",
              "write the URL on one line, spaces encoded as %20")
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number
    except ValueError as exc:
        c.add(where, f"{url!r} is not a URL ({exc})", "write e.g. https://crm.example.com/hook")
        return
    if parts.scheme not in ("http", "https") or not host:
        c.add(where, f"{url!r} is not an http(s) URL with a host",
              "write e.g. https://crm.example.com/hook")
    elif parts.username is not None or parts.password is not None:
        c.add(where, "the URL carries a user name or password, which would sit in the site "
              "file and in logs", "remove it: deliveries are signed with the webhook's "
              "secret from the secrets file (webhooks:)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def outbound_warnings(src: Source, spec: SiteFile) -> list[Problem]:
    """Things in a valid outbound section that work, but probably not as meant."""
    ob = spec.outbound
    out: list[Problem] = []

    def warn(path: PathKey, message: str, hint: str) -> None:
        out.append(src.problem((OUT, *path), message, hint))

    for i, pool in enumerate(ob.caller_ids):
        kind = classify(pool.number)
        if kind in _NATIONAL:
            warn(("caller_ids", i, "number"), f"{pool.number} is a national {kind} number: "
                 "it is the fallback already and is never local to a callee",
                 "list the company's local numbers here (one per city or province)")
    quiet = _window(ob.limits.quiet_hours)
    if quiet is None:
        warn(("limits", "quiet_hours"), "no quiet hours: callees may be called at night",
             "the carriers' rules expect e.g. 21:00-08:00")
    for key, camp in ob.campaigns.items():
        window = _window(camp.window)
        if isinstance(quiet, Window) and not isinstance(window, str):
            open_minutes = [m for m in range(24 * 60)
                            if (window is None or window.contains(_at(m)))
                            and not quiet.contains(_at(m))]
            if not open_minutes:
                warn(("campaigns", key, "window"), f"the window lies within the quiet hours "
                     f"({quiet}): this campaign would never place a call",
                     "move the window into the day")
        for name, used in (("queue", camp.kind == "lead"), ("flow", camp.kind == "survey")):
            if getattr(camp, name) is not None and not used:
                warn(("campaigns", key, name), f"never used: a {camp.kind} campaign has no "
                     f"{name}", f"remove '{name}:'")
    for key, hook in ob.webhooks.items():
        try:
            parts = urlsplit(hook.url)
            host = parts.hostname or ""
        except ValueError:
            continue  # an error already
        if parts.scheme == "http" and host and not _loopback(host):
            warn(("webhooks", key, "url"), "sent unencrypted: callers' numbers and names "
                 "cross the network in clear (the signature only proves the sender)",
                 "use https, unless the receiver is on this machine")
    if ob.api.port and ob.api.host in ("0.0.0.0", "::"):
        warn(("api", "host"), "the API listens on every interface",
             "bind 127.0.0.1 (the default) or the one address the booking system and CRM "
             "reach, and firewall the port")
    return out


def _at(minute: int) -> dt.time:
    return dt.time(minute // 60, minute % 60)
