"""Settling attempts whose ending the dialler did not hear — after a start, a crash, an AMI
reconnect, or an attempt silent for too long — from what Asterisk knows: a live channel
with the attempt's id (followed again), the ending the dialplan kept in AstDB, or neither
(the callee's leg never started: unknown, so it may be tried again)."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from callcenter.ami import AmiError
from callcenter.outbound.pacing import PacingError
from callcenter.outbound.results import stored_result

if TYPE_CHECKING:
    from callcenter.outbound.dialler import Dialler
    from callcenter.outbound.flight import InFlight

__all__ = ["DB_FAMILY", "reconcile", "settle"]

log = logging.getLogger(__name__)

DB_FAMILY = "cc-outbound"  # the dialplan's AstDB family for attempt endings
FRESH_SECONDS = 10.0


async def reconcile(dialler: Dialler) -> None:
    """Every attempt the store has in flight, before the first new Originate."""
    live_ids = await _live_channel_ids(dialler.ami)
    for attempt in await dialler.store.in_flight():
        key = str(attempt.id)
        flight = dialler.live.get(key)
        if (flight is not None and not flight.adopted
                and dialler.monotonic() - flight.started < FRESH_SECONDS):
            continue  # just sent: its channel may not exist yet; the silence check follows
        if flight is None:
            flight = await _follow(dialler, key, attempt)
            if flight is None:
                continue
        if key in live_ids:
            if flight.started:
                log.info("attempt %s still in progress in Asterisk: followed", key)
            continue
        await _settle(dialler, key, flight)
    dialler.reconciled = True


async def settle(dialler: Dialler, key: str, flight: InFlight) -> None:
    """One attempt silent for long: still a channel (a long talk) or ended unobserved."""
    if key in await _live_channel_ids(dialler.ami):
        flight.started = dialler.monotonic()  # still going: look again later
        return
    await _settle(dialler, key, flight)


async def _follow(dialler: Dialler, key: str, attempt: Any) -> InFlight | None:
    """An attempt of an earlier daemon: known again, counted in the pacers (the release
    when it ends balances)."""
    from callcenter.outbound.flight import InFlight

    job = await dialler.store.get(attempt.job_id)
    if job is None:
        return None
    flight = InFlight(key, job, job.campaign, attempt.trunk or "", attempt.caller_id or "",
                      attempt.caller_id_kind or "", dialler.monotonic(), adopted=True)
    with contextlib.suppress(PacingError):  # a trunk or campaign the site file dropped
        dialler.trunks.adopt(flight.trunk)
        dialler.campaigns.adopt(flight.campaign)
    dialler.live[key] = flight
    return flight


async def _settle(dialler: Dialler, key: str, flight: InFlight) -> None:
    stored = await _db_get(dialler.ami, key)
    if stored is not None:
        result, status = stored_result(stored)
        result = flight.script_result or result
        log.info("attempt %s ended while unobserved: %s (%s)", key, result, status)
        await dialler.finish(flight, result, status)
    else:
        log.info("attempt %s never reached the dialplan: unknown, may be tried again", key)
        await dialler.finish(flight, "unknown", "")


async def _db_get(ami: Any, key: str) -> str | None:
    try:
        reply = await ami.action({"Action": "DBGet", "Family": DB_FAMILY, "Key": key},
                                 as_list=True, timeout=5)
    except AmiError as exc:
        # AMI answers an unknown key with an error; anything else (a timeout) must not
        # pass for "never dialled", which would ring the callee again
        if "not found" in str(exc).lower():
            return None
        raise
    for msg in reply if isinstance(reply, list) else [reply]:
        if msg.get("Event") == "DBGetResponse" and msg.get("Val"):
            return str(msg.get("Val"))
    return None


async def _live_channel_ids(ami: Any) -> set[str]:
    reply = await ami.action({"Action": "CoreShowChannels"}, as_list=True, timeout=10)
    return {str(msg.get("Uniqueid", "")) for msg in (reply if isinstance(reply, list)
                                                      else [reply])
            if msg.get("Event") == "CoreShowChannel"}
