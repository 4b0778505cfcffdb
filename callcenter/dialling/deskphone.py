"""An agent's manual call from a desk phone (FastAGI `dial/DIGITS`): allowed only with an
agent logged in at that phone, within the agent's role; the dialplan dials only the digits
this sets in CC_DIAL_OK, presenting what the caller-ID rule chooses (outbound.present)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.agents.features import device_of
from callcenter.agents.state import AgentBook
from callcenter.agi import AgiSession
from callcenter.contract import Var
from callcenter.dialling.policy import Decision, decide, refuse
from callcenter.site.model import SiteFile

__all__ = ["agent_dial"]

log = logging.getLogger(__name__)


async def agent_dial(session: AgiSession, spec: SiteFile, book: AgentBook, dialled: str,
                     emit: Callable[..., Any] | None = None,
                     base_dir: Path = Path(".")) -> bool:
    """Approve or refuse `dialled` from the calling desk phone; True when approved."""
    await session.set_variable(Var.DIAL_OK, "")
    device = device_of(session.channel)
    digits = dialled if re.fullmatch(r"\+?\d{1,24}", dialled) else ""
    rec = book.at_device(device) if device else None
    agent = next((a for a in spec.agents if rec and a.id == rec.agent_id), None)
    if agent is None:
        refuse(Decision(False, "", "", "no agent logged in at the phone"), "agent", "",
               emit=emit, call_id=session.uniqueid or None, device=device)
        return False
    verdict = decide(spec, "agent", digits, agent=agent, emit=emit,
                     call_id=session.uniqueid or None, device=device)
    if not verdict.allowed:
        return False
    from callcenter.outbound.present import present

    # the local pool number through its own carrier, or the site's own number where the
    # site file says so; caps are the dialler's (a person's calls are not counted)
    shown = present(spec, base_dir, verdict.dial_digits, "agent", {}, site=agent.site)
    for var, value in ((Var.PRESENT, shown.number), (Var.PRESENT2, shown.fallback),
                       (Var.FIRST, shown.first), (Var.SECOND, shown.second)):
        await session.set_variable(var, value)
    await session.set_variable(Var.DIAL_OK, verdict.dial_digits)
    log.info("agent %s at %s dials a %s number", agent.id, device, verdict.number_class)
    return True
