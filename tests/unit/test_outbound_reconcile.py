"""Reconciling an earlier daemon's attempts (callcenter/outbound/reconcile.py): an attempt
whose ending could not be read at one pass (an AMI action timed out) is read again at the
next, not taken for one just sent and left in flight for the 15-minute silence check."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from panoramisk.message import Message

from callcenter.ami import AmiError
from callcenter.outbound.reconcile import reconcile
from tests.scripted_asterisk import FakeAmi


class Dialler:
    """What reconcile uses of the dialler: its AMI, store, attempts in flight, pacers."""

    def __init__(self, attempt: Any, job: Any) -> None:
        self.ami = FakeAmi()
        self.live: dict[str, Any] = {}
        self.reconciled = False
        self.finished: list[tuple[str, str, str]] = []
        self.trunks = self.campaigns = SimpleNamespace(adopt=lambda name: None)
        self._attempt, self._job = attempt, job
        self.store = SimpleNamespace(in_flight=self._in_flight, get=self._get)

    async def _in_flight(self) -> list[Any]:
        return [] if self.finished else [self._attempt]

    async def _get(self, job_id: uuid.UUID) -> Any:
        return self._job

    def monotonic(self) -> float:
        return 1000.0  # the clock does not move between the two passes

    async def finish(self, flight: Any, result: str, status: str) -> None:
        self.finished.append((flight.attempt_id, result, status))
        self.live.pop(flight.attempt_id, None)


def _timeout(action: dict[str, str]) -> Message:
    raise AmiError("AMI DBGet got no answer within 5 s")


def test_an_ending_unread_at_one_pass_is_read_at_the_next() -> None:
    job = SimpleNamespace(id=uuid.uuid4(), campaign="reminders")
    attempt = SimpleNamespace(id=uuid.uuid4(), job_id=job.id, trunk="telecom",
                              caller_id="01080001000", caller_id_kind="local_city")
    d = Dialler(attempt, job)
    no_channels = {"Response": "Success", "EventList": "Complete"}
    d.ami.script("CoreShowChannels", no_channels, no_channels)
    d.ami.script("DBGet", _timeout, lambda a: [Message({"Event": "DBGetResponse",
                                                         "Val": "ANSWER:16"})])

    async def main() -> None:
        with pytest.raises(AmiError):  # the dialler logs it, reconciles again before dialling
            await reconcile(d)
        assert not d.reconciled and not d.finished
        await reconcile(d)

    asyncio.run(main())
    assert d.reconciled
    assert [(a, s) for a, _, s in d.finished] == [(str(attempt.id), "ANSWER")]
    assert not d.live
