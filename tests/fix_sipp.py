"""pytest plugin: SIPp callers aimed at the test Asterisk, and SIPp carriers/phones."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from callcenter.sipp import Sipp, SippServer

from .fix_asterisk import SIP_PORT


@pytest.fixture
def sipp(tmp_path) -> Sipp:
    """Places calls at the test Asterisk."""
    return Sipp(f"127.0.0.1:{SIP_PORT}", workdir=tmp_path / "sipp")


@pytest.fixture
def sipp_server(tmp_path) -> Iterator[Callable[..., SippServer]]:
    """Factory of SIPp UAS peers (carriers, phones) stopped at the end of the test."""
    servers: list[SippServer] = []

    def make(port: int, scenario: str | None = None) -> SippServer:
        server = SippServer(port, scenario=scenario, workdir=tmp_path / f"uas{port}")
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
