"""A callback whose customer did not answer is queued again without wedging its agent."""

from __future__ import annotations

from types import ModuleType

import pytest

from callcenter.acd.live.callbacks import requeue_callback
from callcenter.acd.types import Offer, QueueConfig, SchedulerError

S = 1000


def _after_failed_callback(impl: ModuleType):  # type: ignore[no-untyped-def]
    """Agent 1001 took callback cb-1, the customer did not answer, the agent wrapped up and is
    ready again: the situation in which the daemon queues the retry."""
    s = impl.Scheduler([QueueConfig("sales", {"sales": 1})])
    s.login("1001", 0, skills={"sales": 5})
    s.pause("1001", 0, "break")
    assert s.enqueue("cb-1", "sales", 1 * S, caller="13800000000") == []
    s.to_callback("cb-1", 1 * S)
    (offer,) = s.ready("1001", 2 * S)
    assert offer.callback and offer.agent_id == "1001"
    s.answered("cb-1", 3 * S)
    s.wrap_up("1001", 40 * S)
    s.ready("1001", 50 * S)
    return s


@pytest.mark.security
def test_the_old_sequence_left_the_agent_reserved(impl: ModuleType) -> None:
    """The defect, shown on the scheduler: enqueue offers the retry at once, to_callback
    refuses the offered call, and the offer is lost with the exception."""
    s = _after_failed_callback(impl)
    s.enqueue("cb-1-r1", "sales", 160 * S, enqueue_time=1 * S)
    with pytest.raises(SchedulerError):
        s.to_callback("cb-1-r1", 160 * S)
    assert s.agent_status("1001").state == "ringing"  # what the daemon never learnt


@pytest.mark.security
def test_retry_offered_at_once_keeps_its_offer(impl: ModuleType) -> None:
    s = _after_failed_callback(impl)
    decisions = requeue_callback(s, "cb-1-r1", "sales", 160 * S, priority=0,
                                 enqueue_time=1 * S)
    assert [(d.call_id, d.agent_id) for d in decisions if isinstance(d, Offer)] == [
        ("cb-1-r1", "1001")]
    # the customer does not answer again: the agent is free and takes the next inbound call
    s.offer_failed("cb-1-r1", 170 * S, "no_answer")
    s.leave("cb-1-r1", 170 * S, "abandoned")
    assert s.agent_status("1001").state == "ready"
    (offer,) = s.enqueue("in-2", "sales", 171 * S)
    assert (offer.call_id, offer.agent_id) == ("in-2", "1001")


@pytest.mark.security
def test_retry_with_no_free_agent_waits_as_callback_in_its_place(impl: ModuleType) -> None:
    s = _after_failed_callback(impl)
    s.pause("1001", 55 * S, "lunch")
    s.enqueue("in-9", "sales", 100 * S)
    assert requeue_callback(s, "cb-1-r1", "sales", 160 * S, priority=0,
                            enqueue_time=1 * S) == []
    status = s.call_status("cb-1-r1")
    assert status.callback and status.position == 1  # ahead of in-9: its old enqueue time
    (offer,) = s.ready("1001", 170 * S)
    assert (offer.call_id, offer.callback) == ("cb-1-r1", True)
