"""Real SIPp calls through the rendered site: inbound fallback, outbound failover."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import pytest

from callcenter.sipp import Sipp, SippServer, uac_scenario
from tests.fix_asterisk import CARRIER_PORTS, RunningAsterisk

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]


def test_inbound_call_follows_fallback_to_the_end(asterisk: RunningAsterisk,
                                                  sipp: Sipp) -> None:
    """No daemon listens: the 400 number's call takes the static fallback, hears the prompt,
    rings the fallback extensions (none registered) and is hung up by Asterisk."""
    events: list[dict] = []

    async def go() -> None:
        manager = await asterisk.ami()
        manager.register_event("UserEvent", lambda m, msg: events.append(dict(msg)))
        try:
            result = await asyncio.to_thread(
                sipp.run, uac_scenario(caller_number="13800138000"), service="4008001234",
                calls=3, rate=3, timeout=40)
            assert result.returncode == 0, result.errors
            assert (result.successful, result.failed) == (3, 0)
            await asyncio.sleep(0.5)
        finally:
            manager.close()

    asyncio.run(go())
    fallback = [e for e in events if e.get("UserEvent") == "CallcenterFallback"]
    assert len(fallback) == 3
    assert all(e["Number"] == "4008001234" and e["Reason"] == "FAILURE" for e in fallback)
    dials = [e for e in events if e.get("UserEvent") == "CallcenterFallbackDial"]
    assert [e["Status"] for e in dials] == ["CHANUNAVAIL"] * 3


def test_international_form_of_the_number_lands_on_the_same_flow(asterisk: RunningAsterisk,
                                                                 sipp: Sipp) -> None:
    result = sipp.run(uac_scenario(), service="+864008001234", calls=1, timeout=30)
    assert result.successful == 1, result.errors
    assert re.search(r"callcenter inbound 4008001234", asterisk.log())


def test_unknown_number_is_refused(asterisk: RunningAsterisk, sipp: Sipp) -> None:
    result = sipp.run(uac_scenario(), service="4009999999", calls=1, timeout=20)
    assert result.successful == 0 and result.failed == 1


def wait_contacts(asterisk: RunningAsterisk, want: dict[str, str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = asterisk.cli("pjsip show contacts")
        if all(re.search(rf"trunk-{t}/\S+\s+\S+\s+{s}", shown) for t, s in want.items()):
            return
        time.sleep(0.5)
    raise AssertionError(f"contacts never reached {want}:\n{shown}")


def originate(asterisk: RunningAsterisk, number: str, dest: str) -> list[dict]:
    events: list[dict] = []

    async def go() -> None:
        manager = await asterisk.ami()
        manager.register_event("UserEvent", lambda m, msg: events.append(dict(msg)))
        try:
            reply = await asyncio.wait_for(manager.send_action({
                "Action": "Originate", "Channel": f"Local/{dest}@cc-out-{number}",
                "Application": "Wait", "Data": "1", "Async": "true", "Timeout": "15000",
                # the dialling policy's approval, as the daemon gives it (docs/dialling.md)
                "Variable": f"CC_DIAL_OK={dest}"}), 20)
            assert any(getattr(m, "Response", "") == "Success" for m in
                       (reply if isinstance(reply, list) else [reply]))
            await asyncio.sleep(3)
        finally:
            manager.close()

    asyncio.run(go())
    return events


def test_outbound_fails_over_to_second_route(asterisk: RunningAsterisk,
                                             sipp_server: Callable[..., SippServer]) -> None:
    """The 400 number's first route (telecom) is down: the call leaves by unicom."""
    unicom = sipp_server(CARRIER_PORTS["unicom"])
    wait_contacts(asterisk, {"telecom": "Unavail", "unicom": "Avail"})
    events = originate(asterisk, "4008001234", "13900139000")
    failover = [e for e in events if e.get("UserEvent") == "CallcenterRouteFailover"]
    assert [(e["Failed"], e["Status"]) for e in failover] == [("telecom", "CHANUNAVAIL")]
    deadline = time.monotonic() + 10
    while unicom.count("SuccessfulCall") < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert unicom.count("SuccessfulCall") == 1


def test_outbound_uses_first_route_when_it_is_up(asterisk: RunningAsterisk,
                                                 sipp_server: Callable[..., SippServer]
                                                 ) -> None:
    telecom = sipp_server(CARRIER_PORTS["telecom"])
    unicom = sipp_server(CARRIER_PORTS["unicom"])
    wait_contacts(asterisk, {"telecom": "Avail", "unicom": "Avail"})
    events = originate(asterisk, "4008001234", "13900139000")
    assert not [e for e in events if e.get("UserEvent") == "CallcenterRouteFailover"]
    deadline = time.monotonic() + 10
    while telecom.count("SuccessfulCall") < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert telecom.count("SuccessfulCall") == 1
    assert unicom.count("SuccessfulCall") == 0
    # the 95 number is routed the other way round: unicom first
    events = originate(asterisk, "95123", "13900139000")
    deadline = time.monotonic() + 10
    while unicom.count("SuccessfulCall") < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert unicom.count("SuccessfulCall") == 1
