"""The one IVR engine: live calls (over FastAGI) and `callcenter ivr simulate` both run it.

The engine talks to the call only through a `CallIO` (below: play, say, read digits, record,
set a variable; `now` is the clock, live or simulated).

A caller hanging up surfaces as callcenter.errors.CallerHangup from any of these; the engine
turns it into a `caller_hangup` outcome at the node where it happened."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callcenter.errors import CallcenterError, CallerHangup
from callcenter.ivr.contacts import ContactBook, normalise_number
from callcenter.ivr.place import Place
from callcenter.ivr.regions import region_of
from callcenter.site import flownodes as n
from callcenter.site.hours import is_open
from callcenter.site.model import Site

__all__ = ["CallIO", "FlowError", "Outcome", "region_of", "run_flow", "site_contacts"]

log = logging.getLogger(__name__)
_DTMF = re.compile(r"[^0-9*#]")
MAX_STEPS = 500


class FlowError(CallcenterError):
    """A flow could not be run (a broken flow that `check` would have refused, or a loop)."""


class CallIO(Protocol):
    caller_number: str
    caller_name: str

    def now(self) -> dt.datetime: ...
    async def play(self, prompts: list[str], interruptible: bool = True) -> str | None: ...
    async def say(self, kind: str, value: str) -> None: ...
    async def read_digits(self, prompt: str | None, max_digits: int, timeout: float,
                          terminator: str = "#") -> str: ...
    async def record(self, box: str, max_seconds: int, prompt: str | None = None) -> str: ...
    async def set_variable(self, name: str, value: str) -> None: ...


@dataclass
class Outcome:
    """How a flow ended: queue, transfer, voicemail, hangup or caller_hangup."""

    kind: str
    target: str = ""
    priority: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    node: str = ""


def site_contacts(site: Site) -> ContactBook | None:
    if not site.spec.contacts:
        return None
    p = Path(site.spec.contacts)
    return ContactBook.load(p if p.is_absolute() else site.base_dir / p)


def _subst(text: str, variables: dict[str, str]) -> str:
    return n.VAR.sub(lambda m: variables.get(m[1], ""), text)


def _priority(text: str | None, variables: dict[str, str], current: int) -> int:
    if text is None:
        return current
    try:
        return max(0, min(9, int(_subst(text, variables) or current)))
    except ValueError:
        return current


class _Run:
    def __init__(self, site: Site, io: CallIO, number: str,
                 on_node: Callable[[str], None] | None, contacts: ContactBook | None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None):
        self.site = site
        self.io = io
        self.on_node = on_node
        self.on_event = on_event
        self.flow = ""  # the flow the current node belongs to (goto changes it)
        self.contacts = contacts
        self.priority = 0
        self.path: list[str] = []
        self.digits: list[str] = []
        self.pending: str | None = None  # a key pressed during a play, for the next menu
        caller = io.caller_number
        self.vars: dict[str, str] = {"caller": caller, "caller_name": io.caller_name,
                                     "number": number, "caller_region": region_of(site, caller)}

    def emit(self, kind: str, **data: Any) -> None:
        """Tell the caller of run_flow about something worth recording (a call event)."""
        if self.on_event is not None:
            self.on_event(kind, data)

    def outcome(self, kind: str, target: str = "", node: str = "") -> Outcome:
        return Outcome(kind, target, self.priority, dict(self.vars), list(self.path),
                       list(self.digits), node or (self.path[-1] if self.path else ""))

    def test(self, c: n.Condition) -> bool:
        now = self.io.now()
        spec = self.site.spec
        checks: list[bool] = []
        for key, want_open in ((c.open, True), (c.closed, False)):
            if key is not None:
                hours_key = spec.sites[key].hours
                opened = True if hours_key is None else is_open(
                    spec.hours[hours_key], now, spec.company.timezone)
                checks.append(opened == want_open)
        if c.region is not None:
            checks.append(self.vars.get("caller_region") == c.region)
        if c.caller_prefix is not None:
            checks.append(normalise_number(self.vars["caller"]).startswith(
                c.caller_prefix.lstrip("0")) or self.vars["caller"].startswith(c.caller_prefix))
        if c.var is not None:
            value = self.vars.get(c.var, "")
            if c.equals is not None:
                checks.append(value == c.equals)
            if c.one_of is not None:
                checks.append(value in c.one_of)
            if c.matches is not None:
                checks.append(re.fullmatch(c.matches, value) is not None)
            if c.min is not None:
                checks.append(value.lstrip("-").isdigit() and int(value) >= c.min)
            if c.equals is None and c.one_of is None and c.matches is None and c.min is None:
                checks.append(bool(value))
        if c.contact is not None:
            checks.append(bool(self.vars.get("contact_name")) == c.contact)
        return all(checks)

    async def key(self, prompt: str, timeout: float) -> str:
        if self.pending:
            digit, self.pending = self.pending, None
            return digit
        digit = await self.io.play([prompt])
        if not digit:
            digit = await self.io.read_digits(None, 1, timeout)
        return _DTMF.sub("", digit or "")[:1]

    async def step(self, name: str, node: Any) -> str | Outcome:
        """Run one node; return the next node's name or the flow's outcome."""
        io = self.io
        if isinstance(node, n.Play):
            digit = await io.play(node.prompts)
            self.pending = _DTMF.sub("", digit or "")[:1] or None
            return node.next
        if isinstance(node, n.Say):
            await io.say(node.kind, _subst(node.value, self.vars))
            return node.next
        if isinstance(node, n.Menu):
            attempts = 0
            while True:
                digit = await self.key(node.prompt, node.timeout)
                if digit:
                    self.digits.append(digit)
                if digit in node.options:
                    return node.options[digit]
                attempts += 1
                if not digit and node.on_timeout:
                    return node.on_timeout
                if attempts > node.retries:
                    if node.on_fail:
                        return node.on_fail
                    return self.outcome("hangup", "menu: no valid choice", name)
                if digit and node.invalid_prompt:
                    await io.play([node.invalid_prompt], interruptible=False)
        if isinstance(node, n.Input):
            for attempt in range(node.retries + 1):
                # a key pressed during an earlier prompt is the first digit of the answer
                first, self.pending = self.pending or "", None
                got = first + _DTMF.sub("", await io.read_digits(
                    node.prompt, node.max_digits - len(first), node.timeout, node.terminator))
                got = got.split(node.terminator, 1)[0]
                if got:
                    self.digits.append(got)
                if got and re.fullmatch(node.pattern, got):
                    self.vars[node.var] = got
                    return node.next
                if attempt < node.retries and node.invalid_prompt:
                    await io.play([node.invalid_prompt], interruptible=False)
            return node.on_fail
        if isinstance(node, n.Survey):
            for attempt in range(node.retries + 1):
                first, self.pending = self.pending or "", None
                got = (first or _DTMF.sub("", await io.read_digits(
                    node.prompt, 1, node.timeout, "#")))[:1]
                if got:
                    self.digits.append(got)
                ok = got.isdigit() and 1 <= int(got) <= node.scale
                # every try is recorded: a silent or wrong one too (docs/surveys.md)
                self.emit("survey.answer", flow=self.flow, question=node.question,
                          score=int(got) if ok else None, scale=node.scale,
                          outcome="answered" if ok else "invalid" if got else "timeout",
                          attempt=attempt + 1)
                if ok:
                    self.vars[f"survey_{node.question}"] = got
                    return node.next
                if attempt < node.retries and node.invalid_prompt:
                    await io.play([node.invalid_prompt], interruptible=False)
            return node.on_fail or node.next
        if isinstance(node, n.Branch):
            for case in node.cases:
                if self.test(case.when):
                    return case.next
            return node.otherwise
        if isinstance(node, n.Lookup):
            found = self.contacts.find(self.vars["caller"]) if self.contacts else None
            if inspect.isawaitable(found):  # the live calls' source asks PostgreSQL
                found = await found
            if found is None:
                return node.on_missing or node.next
            self.vars.update(contact_name=found.name, vip=str(found.vip), region=found.region,
                             language=found.language)
            self.emit("contact.match", number=found.number, name=found.name, vip=found.vip,
                      region=found.region)
            self.priority = max(self.priority, found.vip)
            return node.next
        if isinstance(node, n.Set):
            for key, value in node.vars.items():
                self.vars[key] = _subst(value, self.vars)
            self.priority = _priority(node.priority, self.vars, self.priority)
            return node.next
        if isinstance(node, n.Queue):
            self.priority = _priority(node.priority, self.vars, self.priority)
            return self.outcome("queue", node.queue, name)
        if isinstance(node, n.Transfer):
            target = re.sub(r"\D", "", _subst(node.to, self.vars))
            if not target:
                return self.outcome("hangup", "transfer: empty target", name)
            from callcenter.dialling.flows import flow_transfer

            verdict = flow_transfer(self.site.spec, target, number=self.vars["number"],
                                    pattern=node.pattern, classes=node.classes,
                                    emit=self.emit)
            if not verdict.allowed:
                return self.outcome("hangup", f"transfer refused: {verdict.reason}", name)
            target = verdict.dial_digits
            if node.prompt:
                await io.play([node.prompt], interruptible=False)
            return self.outcome("transfer", target, name)
        if isinstance(node, n.Voicemail):
            path = await io.record(node.box, node.max_seconds, node.prompt)
            self.vars["voicemail_file"] = path
            return self.outcome("voicemail", node.box, name)
        if isinstance(node, n.Hangup):
            if node.prompt:
                await io.play([node.prompt], interruptible=False)
            return self.outcome("hangup", "", name)
        raise FlowError(f"node {name}: unknown node {type(node).__name__}")


# the nodes a caller spends time in: where a hand-over resumes (the others take no time)
_HEARD = (n.Play, n.Say, n.Menu, n.Input, n.Survey)


async def run_flow(site: Site, flow: str, io: CallIO, *, number: str = "",
                   on_node: Callable[[str], None] | None = None,
                   contacts: ContactBook | None = None,
                   on_event: Callable[[str, dict[str, Any]], None] | None = None,
                   resume: Place | None = None,
                   on_place: Callable[[Place], Awaitable[None]] | None = None) -> Outcome:
    """Run `flow` for one call until it ends in a queue, transfer, voicemail or hang-up.
    `on_event(kind, data)` hears each step ("ivr.step": flow, node, digits) and what the
    flow learnt ("contact.match", "survey.answer"). `resume`: start at that place (a call
    handed over from a daemon that died); `on_place` hears the place before each node."""
    flows = site.flows  # compiled once, when the site was loaded
    run = _Run(site, io, number, on_node, contacts if contacts is not None else site_contacts(site),
               on_event)
    base = set(run.vars)
    current_flow = flows[flow]
    node_name = current_flow.entry
    if resume is not None:
        current_flow, node_name = flows[resume.flow], resume.node
        run.priority = resume.priority
        run.vars.update({k: v for k, v in resume.variables.items() if k not in base})
    for _ in range(MAX_STEPS):
        node = current_flow.nodes[node_name]
        run.path.append(node_name if current_flow.name == flow else
                        f"{current_flow.name}.{node_name}")
        if on_node:
            on_node(node_name)
        if isinstance(node, n.Goto):
            current_flow = flows[node.flow]
            node_name = current_flow.entry
            continue
        mark = len(run.digits)
        run.flow = current_flow.name
        if on_place is not None and isinstance(node, _HEARD):
            await on_place(Place(current_flow.name, node_name, run.priority,
                                 {k: v for k, v in run.vars.items() if k not in base}))
        try:
            result = await run.step(node_name, node)
        except CallerHangup:
            return run.outcome("caller_hangup", "", node_name)
        finally:
            run.emit("ivr.step", flow=current_flow.name, node=node_name,
                     digits="".join(run.digits[mark:]))
        if isinstance(result, Outcome):
            return result
        node_name = result
    raise FlowError(f"flow {flow} ran {MAX_STEPS} steps without ending — it loops")
