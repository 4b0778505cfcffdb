"""The AMI stream reader: the same Messages as panoramisk's parser, faster; events reach
their handlers by name, wildcard patterns included, in registration order."""

from __future__ import annotations

from typing import Any

from panoramisk.message import Message

from callcenter.ami.connection import OneShotManager
from callcenter.ami.protocol import FastAmiProtocol, encode_actions, parse_event

HANGUP = ("Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/8001-0000000a\r\n"
          "Uniqueid: 1767600000.9\r\nCallerIDName: 王芳\r\nCause: 16\r\n"
          "ChanVariable: A=1\r\nChanVariable: B=2\r\nEmpty: ")


def test_an_event_parses_as_panoramisk_parses_it() -> None:
    ours, theirs = parse_event(HANGUP), Message.from_line(HANGUP)
    assert dict(ours) == dict(theirs)
    assert ours["uniqueid"] == ours.Uniqueid == "1767600000.9"  # any case, attributes
    assert ours["ChanVariable"] == ["A=1", "B=2"]
    assert ours.get("Missing", "x") == "x" and ours.Missing == ""


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _protocol(seen: list[Any]) -> FastAmiProtocol:
    proto = FastAmiProtocol()
    proto.connection_made(_Transport())
    proto.encoding = "utf-8"
    proto.factory = type("F", (), {"dispatch": staticmethod(seen.append)})()
    return proto


def test_messages_split_anywhere_even_inside_a_character_come_out_whole() -> None:
    seen: list[Any] = []
    proto = _protocol(seen)
    stream = ("Asterisk Call Manager/9.0.0\r\n" + HANGUP + "\r\n\r\n"
              + "Event: Newstate\r\nUniqueid: 2\r\n\r\n").encode()
    cut = stream.index("王".encode()) + 1  # inside the three bytes of one character
    for part in (stream[:10], stream[10:cut], stream[cut:]):
        proto.data_received(part)
    assert proto.version == "9.0.0"
    assert [m["Event"] for m in seen] == ["Hangup", "Newstate"]
    assert seen[0]["CallerIDName"] == "王芳"


def test_events_reach_their_handlers_by_name_and_pattern() -> None:
    calls: list[str] = []
    manager = OneShotManager(on_lost=lambda exc: None)
    manager.register_event("Hangup", lambda m, e: calls.append("hangup"))
    manager.register_event("*", lambda m, e: calls.append("any"))
    manager.register_event("New*", lambda m, e: calls.append("new"))
    for text in ("Event: Hangup", "Event: Newstate", "Event: Hangup", "Event: DialEnd"):
        manager.dispatch(parse_event(text))
    assert calls == ["hangup", "any", "any", "new", "hangup", "any", "any"]
    manager.register_event("DialEnd", lambda m, e: calls.append("dialend"))  # added later
    manager.dispatch(parse_event("Event: DialEnd"))
    assert calls[-2:] == ["any", "dialend"]


def test_actions_sent_without_waiting_are_numbered_and_cannot_grow_headers() -> None:
    data = encode_actions([{"Action": "Setvar", "Variable": "DEVICE_STATE(Custom:agent-1)",
                            "Value": "INUSE\r\nAction: Originate"}], 7).decode()
    assert data == ("Action: Setvar\r\nActionID: quiet-7\r\n"
                    "Variable: DEVICE_STATE(Custom:agent-1)\r\n"
                    "Value: INUSEAction: Originate\r\n\r\n")


def test_answers_to_quiet_actions_are_counted_not_dispatched(caplog) -> None:
    seen: list[Any] = []
    proto = _protocol(seen)
    proto.data_received(b"Response: Success\r\nActionID: quiet-1\r\nMessage: Variable Set"
                        b"\r\n\r\nResponse: Error\r\nActionID: quiet-2\r\nMessage: No such"
                        b"\r\n\r\nEvent: Newstate\r\nUniqueid: 2\r\n\r\n")
    assert [m["Event"] for m in seen] == ["Newstate"]
    assert (proto.quiet_answers, proto.quiet_errors) == (2, 1)
    assert "AMI action refused (1 so far): Response: Error; ActionID: quiet-2" in caplog.text
