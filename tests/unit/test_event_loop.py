"""The daemon's loop choice: uvloop unless CALLCENTER_EVENT_LOOP=asyncio says otherwise."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.daemon import loop


async def _which() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_uvloop_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loop.ENV, raising=False)
    assert loop.loop_name() == "uvloop"
    assert loop.run(_which()) == "uvloop"


def test_the_environment_forces_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.ENV, "asyncio")
    assert loop.loop_name() == "asyncio"
    assert loop.run(_which()) == "asyncio"
