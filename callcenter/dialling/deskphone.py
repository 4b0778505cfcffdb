"""An agent's manual call from a desk phone (FastAGI `dial/DIGITS`): allowed only with an
agent logged in at that phone, within the agent's role; the dialplan dials only the digits
this sets in CC_DIAL_OK, presenting CC_OUT_PRESENT."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from callcenter.agents.features import device_of
from callcenter.agents.state import AgentBook
from callcenter.agi import AgiSession
from callcenter.dialling.policy import decide
from callcenter.site.model import SiteFile

__all__ = ["agent_dial", "presented_number"]

log = logging.getLogger(__name__)


def presented_number(spec: SiteFile, site: str) -> str:
    """The number customers see: the agent's site's caller_id, else the first number."""
    s = spec.sites.get(site)
    return s.caller_id if s is not None and s.caller_id else spec.numbers[0].number


async def agent_dial(session: AgiSession, spec: SiteFile, book: AgentBook, dialled: str,
                     emit: Callable[..., Any] | None = None) -> bool:
    """Approve or refuse `dialled` from the calling desk phone; True when approved."""
    await session.set_variable("CC_DIAL_OK", "")
    device = device_of(session.channel)
    digits = dialled if re.fullmatch(r"\+?\d{1,24}", dialled) else ""
    rec = book.at_device(device) if device else None
    agent = next((a for a in spec.agents if rec and a.id == rec.agent_id), None)
    if agent is None:
        log.warning("outside call from phone %s with no agent logged in: refused",
                    device or session.channel)
        if emit is not None:
            emit("dial.refused", call_id=session.uniqueid or None, origin="agent",
                 number_class="", number="", reason="no agent logged in at the phone",
                 device=device)
        return False
    verdict = decide(spec, "agent", digits, agent=agent, emit=emit,
                     call_id=session.uniqueid or None, device=device)
    if not verdict.allowed:
        return False
    await session.set_variable("CC_OUT_PRESENT", presented_number(spec, agent.site))
    await session.set_variable("CC_DIAL_OK", verdict.dial_digits)
    log.info("agent %s at %s dials a %s number", agent.id, device, verdict.number_class)
    return True
