"""The flow language: one dataclass per node type, parsed from a flow file with located errors.

A flow file is `entry: NODE` and `nodes: {NAME: {type: TYPE, ...}}`; docs/flows.md has an
example of every node type."""

from __future__ import annotations

import difflib
import re
from dataclasses import field
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from callcenter.errors import Problem
from callcenter.site.fields import Digits, Key
from callcenter.site.schema import pydantic_problem
from callcenter.site.yamlsrc import Source

__all__ = ["NODE_TYPES", "Flow", "Node", "box_folder", "parse_flow"]

_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)
VAR = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")


@dataclass(config=_STRICT)
class Play:
    """Play prompts in order; a key pressed during them is kept for a following menu."""

    type: Literal["play"]
    prompts: list[Key]
    next: Key


@dataclass(config=_STRICT)
class Say:
    """Speak digits, a number or a time (value may be ${var})."""

    type: Literal["say"]
    kind: Literal["digits", "number", "time"]
    value: str
    next: Key


@dataclass(config=_STRICT)
class Menu:
    """Prompt, then one key: options map keys to nodes. A timeout goes to on_timeout (if set)
    or repeats; a wrong key plays invalid_prompt and repeats; after `retries` repeats the call
    goes to on_fail."""

    type: Literal["menu"]
    prompt: Key
    options: dict[str, Key]
    timeout: float = 5.0
    retries: int = 2
    on_timeout: Key | None = None
    on_fail: Key | None = None
    invalid_prompt: Key | None = None


@dataclass(config=_STRICT)
class Input:
    """Collect up to max_digits keys (ended by the terminator) into `var`; retried while the
    pattern does not match, then on_fail."""

    type: Literal["input"]
    prompt: Key
    var: Key
    next: Key
    on_fail: Key
    max_digits: int = 11
    terminator: Literal["#", "*"] = "#"
    pattern: str = r"[0-9]+"
    timeout: float = 8.0
    retries: int = 2
    invalid_prompt: Key | None = None


@dataclass(config=_STRICT)
class Survey:
    """Ask one satisfaction question: one key 1..scale, kept in `survey_<question>` and
    recorded as a survey answer; retried on a wrong key, then on_fail (or next)."""

    type: Literal["survey"]
    question: Key
    prompt: Key
    next: Key
    scale: Annotated[int, Field(ge=2, le=9)] = 5
    timeout: float = 6.0
    retries: int = 1
    invalid_prompt: Key | None = None
    on_fail: Key | None = None


@dataclass(config=_STRICT)
class Condition:
    """One test; all given keys must hold. open: SITE (its business hours, holidays),
    region: SITE (the caller's number matches the site's area_codes), caller_prefix,
    var/equals|in|matches|min (a variable), contact: true|false (a contact was found)."""

    open: Key | None = None
    closed: Key | None = None
    region: Key | None = None
    caller_prefix: Digits | None = None
    var: Key | None = None
    equals: str | None = None
    one_of: list[str] | None = None
    matches: str | None = None
    min: int | None = None
    contact: bool | None = None


@dataclass(config=_STRICT)
class Case:
    when: Condition
    next: Key


@dataclass(config=_STRICT)
class Branch:
    """The first case whose condition holds decides; otherwise `else`."""

    type: Literal["branch"]
    cases: list[Case]
    otherwise: Key


@dataclass(config=_STRICT)
class Lookup:
    """Find the caller in the site's contact source: sets contact_name, vip, region,
    language; a VIP tier raises the call's priority to it."""

    type: Literal["lookup"]
    next: Key
    on_missing: Key | None = None


@dataclass(config=_STRICT)
class Set:
    """Set variables (values may use ${var}) and/or the call's priority (0–9)."""

    type: Literal["set"]
    next: Key
    vars: dict[Key, str] = field(default_factory=dict)
    priority: str | None = None


@dataclass(config=_STRICT)
class Queue:
    """Hand the call to a queue (ends the flow)."""

    type: Literal["queue"]
    queue: Key
    priority: str | None = None


@dataclass(config=_STRICT)
class Transfer:
    """To an agent's extension, or an outside number through a number's routes (ends the
    flow). `to` may be ${var}; a target from caller input needs `pattern` (a regex the
    digits must match in full) and/or `classes` (number classes, docs/dialling.md)."""

    type: Literal["transfer"]
    to: str
    prompt: Key | None = None
    pattern: str | None = None
    classes: list[Key] | None = None


def box_folder(box: str) -> str:
    """The folder name under voicemail/ of a box (a flow's or an overflow's): render makes
    it, the daemon records into it; nothing else from the name reaches the path."""
    return re.sub(r"[^a-z0-9_-]", "", box.lower())


@dataclass(config=_STRICT)
class Voicemail:
    """Play the prompt, record up to max_seconds into the box (ends the flow)."""

    type: Literal["voicemail"]
    box: Key
    prompt: Key | None = None
    max_seconds: int = 120


@dataclass(config=_STRICT)
class Goto:
    """Continue in another flow of the site, at its entry."""

    type: Literal["goto"]
    flow: Key


@dataclass(config=_STRICT)
class Hangup:
    """Optionally play a prompt, then hang up (ends the flow)."""

    type: Literal["hangup"]
    prompt: Key | None = None


Node = (Play | Say | Menu | Input | Survey | Branch | Lookup | Set | Queue | Transfer
        | Voicemail | Goto | Hangup)
NODE_TYPES: dict[str, type] = {
    "play": Play, "say": Say, "menu": Menu, "input": Input, "survey": Survey,
    "branch": Branch,
    "lookup": Lookup, "set": Set, "queue": Queue, "transfer": Transfer,
    "voicemail": Voicemail, "goto": Goto, "hangup": Hangup,
}
_ADAPTERS = {name: TypeAdapter(cls) for name, cls in NODE_TYPES.items()}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}\Z")


@dataclass
class Flow:
    name: str
    entry: str
    nodes: dict[str, Any]


def parse_flow(name: str, src: Source) -> tuple[Flow | None, list[Problem]]:
    """Type-check every node of a flow file; return the flow and all problems found."""
    doc = src.data
    problems: list[Problem] = []
    nodes: dict[str, Any] = {}
    for key in doc:
        if key not in ("entry", "nodes", "description"):
            problems.append(src.problem((key,), f"unknown key '{key}'",
                                        "a flow file has 'entry:', 'nodes:' and 'description:'"))
    for node_name, raw in doc.get("nodes", {}).items():
        path = ("nodes", node_name)
        if not _NAME.match(node_name):
            problems.append(src.problem(path, f"{node_name!r} is not a valid node name",
                                        "use lower-case letters, digits, '-' or '_'"))
            continue
        if not isinstance(raw, dict):
            problems.append(src.problem(path, "a node must be a mapping",
                                        "write e.g. {type: hangup}"))
            continue
        kind = raw.get("type")
        if kind not in NODE_TYPES:
            close = difflib.get_close_matches(str(kind), NODE_TYPES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "use one of " + ", ".join(
                NODE_TYPES)
            problems.append(src.problem((*path, "type"), f"unknown node type {kind!r}", hint))
            continue
        data = dict(raw)
        if kind == "branch" and "else" in data:
            data["otherwise"] = data.pop("else")
        if kind == "branch":
            data["cases"] = [
                {("when" if k == "if" else k): v for k, v in c.items()} if isinstance(c, dict)
                else c for c in data.get("cases", [])]
        try:
            nodes[node_name] = _ADAPTERS[kind].validate_python(data)
        except ValidationError as exc:
            for err in exc.errors():
                err = dict(err)
                err["loc"] = tuple("else" if p == "otherwise" else "if" if p == "when" else p
                                   for p in err["loc"])
                problems.append(pydantic_problem(src, err, NODE_TYPES[kind], path))
    if problems:
        return None, problems
    return Flow(name, str(doc.get("entry")), nodes), []
