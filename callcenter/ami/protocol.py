"""A faster reader of the AMI stream for panoramisk's Manager (one Message per event).

panoramisk parses every message through `Message.from_line` and a dict per line; here an event
(the bulk of the stream) is split once and its store filled directly, giving the same
`Message` (case-insensitive keys, repeated keys as a list, a `content` key). Anything else
(responses, command output) still goes through `Message.from_line`. Bytes are kept until a
message is whole, so a UTF-8 character split across two reads is decoded whole."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

__all__ = ["QUIET_ID", "FastAmiProtocol", "encode_actions", "parse_event"]

_END = b"\r\n\r\n"
_GREETING = b"Asterisk Call Manager/"
_QUOTED = frozenset(Message.quoted_keys)

# the ActionID prefix of actions sent without waiting (encode_actions): their responses are
# counted, and logged when they are errors, instead of resolving a future
QUIET_ID = "quiet-"
_QUIET_LINE = "\r\nActionID: " + QUIET_ID


def encode_actions(actions: list[dict[str, str]], first_id: int) -> bytes:
    """Actions as AMI text, one after another, numbered from `first_id` under QUIET_ID. A
    line break in a value would start a header of its own: it is dropped."""
    out: list[str] = []
    for n, action in enumerate(actions, first_id):
        out.append(f"Action: {action['Action']}\r\nActionID: {QUIET_ID}{n}\r\n")
        out.extend(f"{k}: {str(v).replace(chr(13), '').replace(chr(10), '')}\r\n"
                   for k, v in action.items() if k != "Action")
        out.append("\r\n")
    return "".join(out).encode("utf-8")


def parse_event(block: str) -> Message:
    """One event ("Event: X\\r\\nKey: value…", no blank line) as panoramisk's Message."""
    store: dict[str, tuple[str, Any]] = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        low = key.lower()
        if low in _QUOTED:
            value = unquote(value).strip()
        old = store.get(low)
        if old is not None:  # a repeated key (ChanVariable…): every value, in order
            prev = old[1]
            store[low] = (old[0], [*prev, value] if isinstance(prev, list) else [prev, value])
        else:
            store[low] = (key, value)
    store["content"] = ("content", "")
    msg = Message.__new__(Message)
    msg._store = store
    msg.manager = None
    return msg


class FastAmiProtocol(AMIProtocol):
    """AMIProtocol whose `data_received` parses events with `parse_event`."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._pending = b""
        self.quiet_answers = self.quiet_errors = 0

    def _quiet(self, block: str) -> None:
        """The response to an action sent without waiting (encode_actions)."""
        self.quiet_answers += 1
        if not block.startswith("Response: Success"):
            self.quiet_errors += 1
            # a wake for a caller who just hung up is refused now and then: not every one
            # is worth a warning
            level = logging.WARNING if self.quiet_errors % 100 == 1 else logging.DEBUG
            self.log.log(level, "AMI action refused (%d so far): %s", self.quiet_errors,
                         block.replace("\r\n", "; "))

    def data_received(self, data: bytes) -> None:
        buffer = self._pending + data
        if self.version is None and buffer[:len(_GREETING)] == _GREETING[:len(buffer)]:
            if b"\r\n" not in buffer:  # the greeting line is not whole yet
                self._pending = buffer
                return
            first, _, buffer = buffer.partition(b"\r\n")
            self.version = first.decode("ascii", "replace").partition("/")[2].strip()
            self.log.info("protocol version: '%s'", self.version)
        *blocks, self._pending = buffer.split(_END)
        encoding = getattr(self, "encoding", "ascii")
        for raw in blocks:
            block = raw.decode(encoding, "replace").strip()
            if block.startswith("Event: "):
                message: Message | None = parse_event(block)
            elif block.startswith("Response: ") and _QUIET_LINE in block[:80]:
                self._quiet(block)
                continue
            else:
                message = Message.from_line(block)
            if message is not None:
                self.handle_message(message)
