"""Where a caller is in a flow, kept on the caller's channel (`CC_FLOW_AT`) in a centre of
several daemons: when the leading daemon dies mid-flow the node hands the call to the next
one, which resumes the flow at that node, with the priority and what the flow learnt,
instead of starting it again (docs/cluster.md).

The value is URL-encoded (no comma, quote or space: it travels as an AGI argument) and is
checked against the site's flows when read back; anything else is ignored."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_PLACE_CHARS", "Place", "decode_place", "encode_place"]

MAX_PLACE_CHARS = 1024  # learnt variables are dropped from a longer place
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_MAX_VALUE = 200


@dataclass(frozen=True)
class Place:
    flow: str
    node: str
    priority: int = 0
    variables: dict[str, str] = field(default_factory=dict)  # what the flow learnt


def encode_place(place: Place) -> str:
    base = [("f", place.flow), ("n", place.node), ("p", str(place.priority))]
    learnt = [(f"v.{k}", v) for k, v in sorted(place.variables.items())
              if _NAME.fullmatch(k) and len(v) <= _MAX_VALUE]
    text = urllib.parse.urlencode(base + learnt)
    return text if len(text) <= MAX_PLACE_CHARS else urllib.parse.urlencode(base)


def decode_place(text: str, flows: Any) -> Place | None:
    """The place in `text` if it names a node of one of `flows` (the site's compiled
    flows), else None."""
    if not text or len(text) > MAX_PLACE_CHARS:
        return None
    try:
        pairs = urllib.parse.parse_qsl(text, strict_parsing=True, max_num_fields=64)
    except ValueError:
        return None
    doc = dict(pairs)
    flow, node, priority = doc.get("f", ""), doc.get("n", ""), doc.get("p", "0")
    if flow not in flows or node not in flows[flow].nodes:
        return None
    if not priority.isdigit() or not 0 <= int(priority) <= 9:
        return None
    learnt = {k[2:]: v for k, v in pairs if k.startswith("v.") and _NAME.fullmatch(k[2:])
              and len(v) <= _MAX_VALUE}
    return Place(flow, node, int(priority), learnt)
