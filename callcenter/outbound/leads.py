"""How fast lead calls go out: only as fast as sales agents can take them. Preview
(progressive) never has more leads ringing than ready agents; customer-first may over-dial
a little while the abandon rate stays under the campaign's ceiling (pacing.AbandonGuard)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from callcenter.outbound.pacing import AbandonGuard
from callcenter.site.outbound import Campaign

__all__ = ["LeadPacing"]


class LeadPacing:
    def __init__(self, campaigns: Mapping[str, Campaign],
                 ready_for: Callable[[str], int]) -> None:
        self.campaigns = campaigns
        self.ready_for = ready_for  # ready agents who are staff of a queue
        self.guards = {name: AbandonGuard(c.abandon_ceiling) for name, c in campaigns.items()
                       if c.kind == "lead" and c.mode == "customer_first"}

    def room(self, name: str, flights: Iterable[Any]) -> bool:
        """May one more lead of campaign `name` be dialled now?"""
        campaign = self.campaigns[name]
        if campaign.queue is None:
            return False
        dialling = sum(1 for f in flights if f.campaign == name and not f.connected)
        ready = self.ready_for(campaign.queue)
        guard = self.guards.get(name)
        if guard is None:
            return ready - dialling > 0
        return guard.allowed(ready, dialling) > 0

    def handed(self, flight: Any, connected: bool | None = None) -> None:
        """An answered lead is in the sales queue (no longer dialling); with `connected`,
        whether it reached an agent or hung up first (the guard learns the abandon rate)."""
        flight.connected = True
        guard = self.guards.get(flight.campaign)
        if guard is not None and connected is not None:
            guard.record("connected" if connected else "abandoned")
