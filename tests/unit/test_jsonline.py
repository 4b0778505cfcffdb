"""The spool's and the journal's JSON lines (callcenter/jsonline.py) read back as the standard
library's json.dumps(default=str) wrote them: the faster encoder changes no stored value."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import uuid

from callcenter.jsonline import to_json
from callcenter.store.events import Event, new_event


class Colour(enum.StrEnum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


def _old(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def test_values_read_back_as_the_standard_encoder_wrote_them() -> None:
    at = dt.datetime(2026, 12, 3, 17, 0, 1, 250000, tzinfo=dt.UTC)
    value = {"text": "明日 \"quoted\" \\ back\nline\ttab \u2028", "n": 12, "f": 0.1,
             "big": 2**53 + 1, "none": None, "yes": True, "list": [1, "two", [3]],
             "at": at, "day": at.date(), "id": uuid.UUID(int=7), "state": Colour.RED,
             "point": Point(3), "empty": {}}
    assert json.loads(to_json(value)) == json.loads(_old(value))
    assert "\n" not in to_json(value)  # one line, whatever the text holds
    assert "明日" in to_json(value)  # not escaped: the spool stays readable


def test_keys_that_are_not_strings_and_nan() -> None:
    assert json.loads(to_json({1: "a", None: "b"})) == {"1": "a", "null": "b"}
    # json.dumps wrote NaN, which PostgreSQL's jsonb refuses; null is stored
    assert json.loads(to_json({"ratio": math.nan})) == {"ratio": None}


def test_an_event_line_round_trips() -> None:
    event = new_event("queue.enter", call_id="1796319113.7", queue="sales", site="bj-hq",
                      entry=str(uuid.uuid4()), priority=2, caller="13800138000",
                      reason="flow", from_queue="", enqueued_at="2026-12-03T17:00:00+00:00")
    line = event.to_line()
    assert json.loads(line) == json.loads(_old(json.loads(line)))
    assert Event.from_line(line) == event
