"""Checks across the site file: names that must resolve, values that must not collide."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.errors import Problem
from callcenter.site.hours import parse_ranges
from callcenter.site.limits import out_of_range
from callcenter.site.model import SiteFile
from callcenter.site.numbers import dial_forms, format_error
from callcenter.site.outboundcheck import check_outbound
from callcenter.site.queuecheck import check_queues
from callcenter.site.topologycheck import check_topology
from callcenter.site.yamlsrc import PathKey, Source

__all__ = ["check_site"]

_FEATURE = re.compile(r"\*?[0-9#]{1,6}\Z")
OVERFLOW_KINDS = ("queue", "site", "voicemail", "callback", "hangup")


class _Checker:
    def __init__(self, src: Source, spec: SiteFile):
        self.src = src
        self.spec = spec
        self.problems: list[Problem] = []

    def add(self, path: PathKey, message: str, hint: str = "") -> None:
        self.problems.append(self.src.problem(path, message, hint))

    def ref(self, path: PathKey, name: str | None, known: Iterable[str], what: str,
            section: str) -> None:
        if name is None:
            return
        known = sorted(known)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = (f"did you mean '{close[0]}'?" if close else
                    f"define it under '{section}:'" + (f" (known: {', '.join(known)})"
                                                       if known else ""))
            self.add(path, f"unknown {what} '{name}'", hint)

    def bounded(self, path: PathKey, key: str, value: object, what: str = "") -> None:
        """Refuse a number outside the shared LIMITS table (the scheduler reads it too)."""
        if value is None:
            return
        err = out_of_range(key, value, what)
        if err:
            message, _, hint = err.partition(" — ")
            self.add(path, message, hint)


def check_site(src: Source, spec: SiteFile) -> list[Problem]:
    """Every cross-reference and collision problem in a type-correct site file."""
    c = _Checker(src, spec)
    base = Path(src.file).parent
    _timezone(c, ("company", "timezone"), spec.company.timezone)

    for key, site in spec.sites.items():
        c.ref(("sites", key, "hours"), site.hours, spec.hours, "hours table", "hours")

    for key, hours in spec.hours.items():
        if hours.timezone:
            _timezone(c, ("hours", key, "timezone"), hours.timezone)
        for day, text in hours.weekly.items():
            try:
                parse_ranges(text)
            except ValueError as exc:
                what, _, hint = str(exc).partition(" — ")
                c.add(("hours", key, "weekly", day), what, hint)

    features = {"login": spec.features.login, "logout": spec.features.logout,
                "pause": spec.features.pause, "unpause": spec.features.unpause}
    seen_codes: dict[str, str] = {}
    for name, code in features.items():
        if not _FEATURE.match(code):
            c.add(("features", name), f"{code!r} is not a keypad code",
                  "use up to 6 digits or '#', optionally after '*', e.g. *21")
        elif code in seen_codes:
            c.add(("features", name), f"code {code} is also the '{seen_codes[code]}' code",
                  "give each feature its own code")
        seen_codes.setdefault(code, name)

    from callcenter.dialling.sitecheck import dialling_problems

    for path, message, hint in dialling_problems(spec):
        c.add(path, message, hint)

    numbers = {n.number for n in spec.numbers}
    ids: dict[str, int] = {}
    exts: dict[str, int] = {}
    for i, agent in enumerate(spec.agents):
        if agent.id in ids:
            c.add(("agents", i, "id"),
                  f"duplicate agent id {agent.id} (also agents[{ids[agent.id]}])",
                  "give every agent its own id")
        ids.setdefault(agent.id, i)
        if agent.extension in exts:
            c.add(("agents", i, "extension"),
                  f"duplicate extension {agent.extension} (also agents[{exts[agent.extension]}])",
                  "give every agent its own extension")
        exts.setdefault(agent.extension, i)
        if agent.extension in seen_codes:
            c.add(("agents", i, "extension"),
                  f"extension {agent.extension} is the "
                  f"'{seen_codes[agent.extension]}' feature code",
                  "choose another extension or change the feature code under 'features:'")
        if agent.extension in numbers:
            c.add(("agents", i, "extension"), f"extension {agent.extension} is also a number "
                  "under 'numbers:'", "choose another extension")
        c.ref(("agents", i, "site"), agent.site, spec.sites, "site", "sites")
        for skill in agent.skills:
            c.ref(("agents", i, "skills", skill), skill, spec.skills, "skill", "skills")

    for key, queue in spec.queues.items():
        c.ref(("queues", key, "site"), queue.site, spec.sites, "site", "sites")
        c.ref(("queues", key, "overflow_site"), queue.overflow_site, spec.sites, "site",
              "sites")
        if not queue.skills:
            c.add(("queues", key, "skills"), "a queue needs at least one required skill",
                  "add e.g. 'sales: 1'")
        for skill in queue.skills:
            c.ref(("queues", key, "skills", skill), skill, spec.skills, "skill", "skills")
        _overflow(c, key, queue.overflow)
        c.ref(("queues", key, "survey"), queue.survey, spec.flows, "flow", "flows")
        if queue.survey_ask_first and queue.survey is None:
            c.add(("queues", key, "survey_ask_first"), "survey_ask_first without a survey",
                  "name the survey flow in 'survey:', or remove survey_ask_first")
        for field_name in ("service_level_seconds", "max_wait_seconds", "wrap_up_seconds",
                           "expand_after_seconds", "callback_offer_after_seconds",
                           "callback_retry_seconds", "weight", "ring_seconds",
                           "expand_levels", "handle_time_seconds"):
            c.bounded(("queues", key, field_name), f"queue.{field_name}",
                      getattr(queue, field_name))
        for field_name in ("first_after", "every"):
            c.bounded(("queues", key, "announce", field_name), f"announce.{field_name}",
                      getattr(queue.announce, field_name))
        if queue.expand_after_seconds is not None and (
                queue.expand_after_seconds >= queue.max_wait_seconds):
            c.add(("queues", key, "expand_after_seconds"),
                  "skill expansion starts after the call has already overflowed",
                  "make it smaller than max_wait_seconds")

    codes: dict[str, str] = {}
    for key, queue in spec.queues.items():
        if queue.code is None:
            continue
        if not 1 <= len(queue.code) <= 4:
            c.add(("queues", key, "code"), "a queue code has 1–4 digits",
                  "agents dial *8 + the code to transfer a caller")
        if queue.code in codes:
            c.add(("queues", key, "code"), f"code {queue.code} is also queue "
                  f"'{codes[queue.code]}'s", "give each queue its own code")
        codes.setdefault(queue.code, key)

    for key, trunk in spec.trunks.items():
        for field_name in ("port", "channels", "qualify_seconds"):
            c.bounded(("trunks", key, field_name), f"trunk.{field_name}",
                      getattr(trunk, field_name))
        if trunk.identify == "password" and not trunk.username:
            c.add(("trunks", key, "username"), "a password-identified trunk needs a username",
                  "add 'username:' (the account the carrier gave you)")
        if trunk.register and trunk.identify != "password":
            c.add(("trunks", key, "register"), "registration needs identify: password",
                  "set 'identify: password' and a username")

    seen_numbers: dict[str, int] = {}
    for i, num in enumerate(spec.numbers):
        err = format_error(num.number, num.kind)
        if err:
            what, _, hint = err.partition(" — ")
            c.add(("numbers", i, "number"), f"{num.number}: {what}", hint or "fix the number")
        if num.number in seen_numbers:
            c.add(("numbers", i, "number"), f"number {num.number} is listed twice",
                  f"remove one (also numbers[{seen_numbers[num.number]}])")
        seen_numbers.setdefault(num.number, i)
        c.ref(("numbers", i, "flow"), num.flow, spec.flows, "flow", "flows")
        c.ref(("numbers", i, "first_route"), num.first_route, spec.trunks, "trunk", "trunks")
        if not num.one_route:  # an omitted second route is the first: reported once
            c.ref(("numbers", i, "second_route"), num.second_route, spec.trunks, "trunk",
                  "trunks")
        c.ref(("numbers", i, "site"), num.site, spec.sites, "site", "sites")
    if not spec.numbers:
        c.add(("numbers",), "no numbers are defined", "add the 400/95 number callers dial")
    _dial_forms(c)
    c.problems += check_queues(src, spec)
    c.problems += check_outbound(src, spec)
    c.problems += check_topology(src, spec)

    for key, prompt in spec.prompts.items():
        if prompt.file is None and prompt.text is None:
            c.add(("prompts", key), "a prompt needs a recorded 'file' or a 'text'",
                  "add 'text:' so it can be spoken until it is recorded")
        elif prompt.file is not None and prompt.text is None:
            p = Path(prompt.file)
            if not (p if p.is_absolute() else base / p).exists():
                c.add(("prompts", key, "file"), f"recording {prompt.file} does not exist",
                      "record it, fix the path, or add a 'text:' fallback")

    fb = spec.fallback
    c.ref(("fallback", "prompt"), fb.prompt, spec.prompts, "prompt", "prompts")
    c.ref(("fallback", "final_prompt"), fb.final_prompt, spec.prompts, "prompt", "prompts")
    for j, ext in enumerate(fb.extensions):
        c.ref(("fallback", "extensions", j), ext, exts, "agent extension", "agents")

    c.bounded(("fallback", "ring_seconds"), "fallback.ring_seconds", fb.ring_seconds)
    c.bounded(("metrics", "port"), "metrics.port", spec.metrics.port)
    c.bounded(("database", "short_abandon_seconds"), "database.short_abandon_seconds",
              spec.database.short_abandon_seconds)
    for name in ("missed_limit", "resume_window_seconds"):
        c.bounded(("acd", name), f"acd.{name}", getattr(spec.acd, name))
    a = spec.asterisk
    for name in ("sip_port", "ami_port", "agi_port", "rtp_start", "rtp_end"):
        c.bounded(("asterisk", name), "asterisk.port", getattr(a, name), "port")
    if a.rtp_start >= a.rtp_end:
        c.add(("asterisk", "rtp_end"), "the RTP range is empty", "make rtp_end > rtp_start")
    c.bounded(("asterisk", "phone_qualify_seconds"), "asterisk.phone_qualify_seconds",
              a.phone_qualify_seconds)
    if len({a.sip_port, a.ami_port, a.agi_port}) < 3:
        c.add(("asterisk",), "sip_port, ami_port and agi_port must differ", "change one")
    if a.sip_bind is None:
        c.add(("asterisk",), "no sip_bind: say which address phones and carriers reach "
              "Asterisk on", "add 'sip_bind: ADDRESS' under asterisk (the server's office or "
              "carrier-facing address; write 0.0.0.0 only if every interface is meant)")

    if spec.contacts is not None:
        p = Path(spec.contacts)
        if not (p if p.is_absolute() else base / p).exists():
            c.add(("contacts",), f"contact file {spec.contacts} does not exist",
                  "fix the path or remove the key")
    return c.problems


def _dial_forms(c: _Checker) -> None:
    """Every form a caller's carrier may send (+86…, 86…, without the area code) must name
    one number only, or the dialplan could not tell which flow the call is for."""
    owner: dict[str, int] = {num.number: i for i, num in enumerate(c.spec.numbers)}
    for i, num in enumerate(c.spec.numbers):
        for form in dial_forms(num.number):
            j = owner.setdefault(form, i)
            if j != i:
                c.add(("numbers", i, "number"),
                      f"{num.number} can also be dialled as {form}, which is also "
                      f"numbers[{j}] ({c.spec.numbers[j].number})",
                      "the carrier would deliver both the same way — keep one of them")


def _timezone(c: _Checker, path: PathKey, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        c.add(path, f"unknown time zone {name!r}", "use an IANA name such as Asia/Shanghai")


def _overflow(c: _Checker, key: str, target: str) -> None:
    kind, _, name = target.partition(":")
    path = ("queues", key, "overflow")
    if kind not in OVERFLOW_KINDS:
        c.add(path, f"unknown overflow target {target!r}",
              "use queue:NAME, site:NAME, voicemail:NAME, callback or hangup")
    elif kind == "queue":
        c.ref(path, name, c.spec.queues, "queue", "queues")
        if name == key:
            c.add(path, "a queue cannot overflow into itself", "name another queue")
    elif kind == "site":
        c.ref(path, name, c.spec.sites, "site", "sites")
    elif kind == "voicemail" and not re.fullmatch(r"[a-z0-9_-]{1,40}", name):
        c.add(path, f"voicemail box {name!r} is not a plain name", "write e.g. voicemail:sales")
