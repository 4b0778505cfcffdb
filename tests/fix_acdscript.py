"""pytest plugin: the live ACD driven by a scripted Asterisk, no Asterisk running (issue 11).

In the manner of panoramisk's `testing.py`, which replays an AMI conversation: a caller is a
REAL `AgiSession` over in-memory streams whose every command line is answered by a script
(`ScriptedAgi`), AMI events are real panoramisk `Message`s fed to the handlers the daemon
registers (`FakeAmi`), and events land in a list. Everything runs on an event loop whose clock
is virtual: `asyncio.sleep(20)` (a wrap-up) and the 1 s WAIT FOR DIGIT of the wait loop take
no real time, so a test of minutes of call-centre time runs in milliseconds.

`async def` tests that take the `acd` fixture run on that loop. `@pytest.mark.acd_site(...)`
changes the example site for one test: `queues={"sales": {"wrap_up_seconds": 5}}`."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import shutil
from collections.abc import Callable, Coroutine, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from panoramisk.message import Message

# the one name of the service under test
from callcenter.acd.live.service import LiveAcd
from callcenter.agents import AgentBook
from callcenter.ami.channels import LiveChannels
from callcenter.site import Site, load_site, load_site_file
from callcenter.site.secrets import generate_secrets
from callcenter.store.events import Event
from callcenter.store.recorder import NullRecorder
from tests.scripted_asterisk import (
    GUARD_SECONDS,
    AgiCommand,
    FakeAmi,
    ScriptedAgi,
    VirtualClockLoop,
    settle,
)

__all__ = ["START", "AcdHarness", "AgiCommand", "FakeAmi", "ScriptedAgi", "settle"]

START = 1_767_600_000.0  # the epoch second virtual time 0 stands for (a Monday, 08:00 UTC)


# ---- the harness ---------------------------------------------------------------------------
class _LoopClock:
    """The loop's virtual clock as a callcenter Clock: tests never read the wall clock."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock

    def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), tz)


class AcdHarness:
    """The service under test with its agent book, events, AMI and callers."""

    def __init__(self, site: Site, runner: asyncio.Runner):
        self.site = site
        self.runner = runner
        self.loop = runner.get_loop()
        self.events: list[Event] = []
        self.recorder = NullRecorder()
        self.recorder.listeners.append(self.events.append)
        self.ami = FakeAmi()
        self.callers: list[ScriptedAgi] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.book = AgentBook([a.id for a in site.spec.agents], clock=self.clock)
        self.channels = LiveChannels(self.ami)  # type: ignore[arg-type]
        self.service = self.restart()

    def restart(self, book: AgentBook | None = None) -> LiveAcd:
        """A fresh service (a daemon start) on `book`, wired to AMI as the daemon does."""
        self.book = book or self.book
        self.ami.handlers = [h for h in self.ami.handlers if h[0] in _CHANNEL_EVENTS]
        svc = LiveAcd(self.site, self.book, ami=self.ami, recorder=self.recorder,
                      clock=_LoopClock(self.clock))
        # the order of callcenter/daemon/app.py's registrations
        for name, handler in (("DialEnd", svc.on_dial_end), ("Hangup", svc.on_hangup),
                              ("OriginateResponse", svc.on_originate_response),
                              ("UserEvent", svc.on_user_event),
                              ("AttendedTransfer", svc.on_attended_transfer),
                              ("ContactStatus", svc.on_contact_status),
                              ("DeviceStateChange", svc.on_device_state)):
            self.ami.on_event(name, handler)
        self.channels.resynced[:] = [lambda: svc.relearn_phones(self.channels)]
        self.channels.gone[:] = [svc.phone_hung_up]
        self.service = svc
        return svc

    def clock(self) -> float:
        """Epoch seconds on the virtual clock: the agent book's and the service's time."""
        return START + self.loop.time()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def state(self, agent: str) -> tuple[str, str]:
        rec = self.book.get(agent)
        return rec.state.value, rec.pause_reason

    def agent_phone(self, agent: str) -> str:
        """The phone an agent is rung at: where it logged in, else its own extension."""
        return self.book.get(agent).device or self.service.ctx.agents[agent].extension

    async def caller(self, uniqueid: str, callerid: str = "13800138000",
                     **variables: str) -> ScriptedAgi:
        agi = ScriptedAgi(uniqueid, variables=dict(variables), callerid=callerid)
        session = await agi.open()
        self.ami.channels[session.channel] = agi.family  # reached by AMI PlayDTMF
        self.callers.append(agi)
        return agi

    async def queued(self, uniqueid: str, queue: str, *, priority: int = 0,
                     caller: str = "13800138000", contact: str = "", vip: int = 0,
                     **variables: str) -> tuple[ScriptedAgi, asyncio.Task[None]]:
        """A caller the flow hands to `queue`: its session and the running `wait`."""
        agi = await self.caller(uniqueid, caller, **variables)
        task = self.start(self.service.wait(agi.session, queue=queue, priority=priority,
                                            caller=caller, contact=contact, vip=vip))
        await settle()
        return agi, task

    async def answered(self, uniqueid: str, queue: str, agent: str,
                       **kwargs: Any) -> ScriptedAgi:
        """A caller offered to `agent` (who must be the one free) and talking to it."""
        agi, task = await self.queued(uniqueid, queue, **kwargs)
        await task
        assert agi.variables["CC_NEXT"] == "connect", agi.sent
        assert self.service.by_agent.get(agent) == uniqueid, self.service.by_agent
        self.event("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
        return agi

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = self.loop.create_task(coro)
        self.tasks.append(task)
        return task

    def ticking(self) -> None:
        """Run the scheduler's once-a-second tick (timeouts, overflow) as the daemon does."""
        self.start(self.service.tick_forever())

    def event(self, name: str, **headers: str) -> Message:
        return self.ami.emit({"Event": name, **headers})

    async def aclose(self) -> None:
        """End what the test left running (callers still waiting, the tick, timers)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for agi in self.callers:
            agi.close()
        await asyncio.sleep(0)


_CHANNEL_EVENTS = frozenset({"Newchannel", "Newstate", "Hangup"})
_SITES: dict[str, Site] = {}


def _site(tmp_path_factory: pytest.TempPathFactory, overrides: dict[str, Any]) -> Site:
    """The shipped example site, with `overrides` merged into its sections (cached)."""
    key = repr(sorted(overrides.items()))
    if key not in _SITES:
        folder = tmp_path_factory.mktemp("acd-site")
        with resources.as_file(resources.files("callcenter") / "example") as src:
            shutil.copytree(src, folder, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        path = folder / "site.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for section, changes in overrides.items():
            for name, fields in changes.items():
                data[section].setdefault(name, {}).update(fields)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        generate_secrets(load_site_file(path), Path(folder) / "secrets.yaml")
        _SITES[key] = load_site(path, env={})
    return _SITES[key]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "acd_site(**sections): the example site, changed "
                            "for this test (tests/fix_acdscript.py)")


@pytest.fixture
def acd(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[AcdHarness]:
    marker = request.node.get_closest_marker("acd_site")
    site = _site(tmp_path_factory, dict(marker.kwargs) if marker else {})
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        harness = runner.run(_in_loop(lambda: AcdHarness(site, runner)))
        yield harness
        runner.run(harness.aclose())


async def _in_loop(make: Callable[[], AcdHarness]) -> AcdHarness:
    return make()  # built inside the loop: the service's futures need a running one


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an `async def` test that takes `acd` on the harness's virtual-clock loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj) or "acd" not in pyfuncitem.funcargs:
        return None
    harness: AcdHarness = pyfuncitem.funcargs["acd"]  # type: ignore[assignment]
    kwargs = {name: pyfuncitem.funcargs[name]
              for name in inspect.signature(pyfuncitem.obj).parameters}

    async def guarded() -> None:
        async with asyncio.timeout(GUARD_SECONDS):
            await pyfuncitem.obj(**kwargs)

    harness.runner.run(guarded())
    return True
