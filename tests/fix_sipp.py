"""pytest plugin: SIPp callers aimed at the test Asterisk, and SIPp carriers/phones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from callcenter.sipp import Sipp, SippResult, SippServer

from .fix_asterisk import CARRIER_IPS, CARRIER_PORTS, PHONE_IP, SIP_PORT


class TestSipp(Sipp):
    """Calls that authenticate (`-au`) are desk phones and come from the phones' address;
    the rest are customers, arriving from the first carrier's address."""

    __test__ = False

    def run(self, scenario: str, **kw: Any) -> SippResult:
        if kw.get("local_ip") is None:
            phone = "-au" in (kw.get("extra") or []) or "REGISTER" in scenario
            kw["local_ip"] = PHONE_IP if phone else CARRIER_IPS["telecom"]
        return super().run(scenario, **kw)


@pytest.fixture
def sipp(tmp_path) -> Sipp:
    """Places calls at the test Asterisk: as a carrier, or as a desk phone (see TestSipp)."""
    return TestSipp(f"127.0.0.1:{SIP_PORT}", workdir=tmp_path / "sipp")


@pytest.fixture
def sipp_server(tmp_path) -> Iterator[Callable[..., SippServer]]:
    """Factory of SIPp UAS peers (carriers, phones) stopped at the end of the test."""
    servers: list[SippServer] = []

    def make(port: int, scenario: str | None = None) -> SippServer:
        ip = next((CARRIER_IPS[n] for n, p in CARRIER_PORTS.items() if p == port), PHONE_IP)
        server = SippServer(port, scenario=scenario, local_ip=ip, workdir=tmp_path / f"uas{port}")
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "sipp" in names or "sipp_server" in names:
            item.add_marker(pytest.mark.sipp)
