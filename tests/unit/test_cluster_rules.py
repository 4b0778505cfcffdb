"""The lease's and the fence's rules apart from PostgreSQL and Asterisk: when a leader must
stop acting (an injected clock), and what reaches a node."""

from __future__ import annotations

import pytest

from callcenter.cluster.fencing import OFFER_GUARD, FencedError, term_action
from callcenter.cluster.lease import LeaderLease, LeaseError
from callcenter.errors import ClusterError


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_deadline_follows_the_last_renewal_sent() -> None:
    clock = Clock(100.0)
    lease = LeaderLease("", "acd-1", ttl_seconds=3.0, margin=0.5, clock=clock)
    lease._held = True  # as step() leaves it on taking the lease
    lease.renewed(100.0)
    clock.now = 102.4
    assert lease.leading and not lease.expired()
    clock.now = 102.5  # ttl - margin after the renewal was *sent*, not answered
    assert lease.expired()
    # it says so itself at once, before its lease loop next runs (a leader resumed after
    # a pause asks before acting)
    assert not lease.leading and lease.status()["leading"] is False
    lease.renewed(101.0)  # a later renewal moves the deadline on
    assert not lease.expired()
    clock.now = 103.5
    assert lease.expired()


def test_a_standby_has_no_deadline() -> None:
    lease = LeaderLease("", "acd-2", clock=Clock(1e9))
    assert not lease.leading and not lease.expired()


def test_renewals_must_fit_well_inside_the_lease() -> None:
    with pytest.raises(LeaseError, match="not well inside"):
        LeaderLease("", "x", ttl_seconds=1.0, renew_seconds=0.6, margin=0.5)
    with pytest.raises(LeaseError):
        LeaderLease("", "x", renew_seconds=0)
    assert issubclass(LeaseError, ClusterError)


def test_term_action_publishes_the_term_to_astdb() -> None:
    assert term_action(7) == {"Action": "DBPut", "Family": "cc-cluster", "Key": "term",
                              "Val": "7"}
    with pytest.raises(ClusterError, match="terms start at 1"):
        term_action(0)


def test_the_offer_guard_compares_the_offer_term_with_the_nodes() -> None:
    assert OFFER_GUARD == "$[0${CC_TERM} >= 0${DB(cc-cluster/term)}]"


def test_a_fenced_error_says_who_leads_now() -> None:
    err = FencedError(3, 4)
    assert isinstance(err, ClusterError) and (err.term, err.current) == (3, 4)
    assert "term 3" in str(err) and "now term 4" in str(err)
    assert "no lease row" in str(FencedError(1, None))
