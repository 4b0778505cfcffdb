"""The daemon's task supervisor, its systemd notifications and its systemd units."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from callcenter.daemon.notify import Notifier, watchdog_interval
from callcenter.daemon.supervisor import Supervisor, SupervisorError

UNITS = Path(__file__).resolve().parents[2] / "scripts" / "systemd"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.security
def test_a_dying_task_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    steady = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError(f"tick bug {len(runs)}")
        steady.set()
        await asyncio.Event().wait()

    async def go() -> Supervisor:
        sup = Supervisor(backoff=(0.01, 0.05), max_failures=5, window=60, clock=FakeClock())
        sup.add("acd-tick", flaky)
        sup.start()
        await asyncio.wait_for(steady.wait(), 2)
        await sup.stop()
        return sup

    with caplog.at_level(logging.ERROR, logger="callcenter.daemon.supervisor"):
        sup = asyncio.run(go())
    assert len(runs) == 3
    assert sup.snapshot() == {"acd-tick": 2}
    assert not sup.failed.is_set()
    died = [r for r in caplog.records if "task acd-tick died" in r.getMessage()]
    assert len(died) == 2 and all(r.exc_info for r in died)  # with the traceback
    assert "tick bug 2" in caplog.text


@pytest.mark.security
def test_too_many_deaths_in_the_window_give_up_so_systemd_restarts() -> None:
    clock = FakeClock()

    async def broken() -> None:
        clock.now += 1  # each run lasts a second of the injected clock
        raise ValueError("always")

    async def go() -> Supervisor:
        sup = Supervisor(backoff=(0.001, 0.002), max_failures=3, window=60, clock=clock)
        sup.add("board", broken)
        sup.start()
        await asyncio.wait_for(sup.failed.wait(), 2)
        await sup.stop()
        return sup

    sup = asyncio.run(go())
    assert "board died 4 times within 60 s" in sup.reason
    with pytest.raises(SupervisorError, match="service manager restarts"):
        sup.check()


def test_deaths_spread_over_time_do_not_give_up() -> None:
    clock = FakeClock()
    runs = []

    async def rare() -> None:
        runs.append(1)
        clock.now += 100  # healthy for longer than the window before each failure
        if len(runs) < 8:
            raise ValueError("rare")
        await asyncio.Event().wait()

    async def go() -> Supervisor:
        sup = Supervisor(backoff=(0.001, 0.002), max_failures=2, window=60, clock=clock)
        sup.add("heartbeat", rare)
        sup.start()
        while len(runs) < 8:
            await asyncio.sleep(0.005)
        await sup.stop()
        return sup

    sup = asyncio.run(go())
    assert not sup.failed.is_set() and sup.snapshot() == {"heartbeat": 7}


def test_tasks_start_in_order_and_stop_in_reverse() -> None:
    events: list[str] = []

    def task(name: str):
        async def run() -> None:
            events.append(f"start {name}")
            try:
                await asyncio.Event().wait()
            finally:
                events.append(f"stop {name}")
        return run

    async def go() -> None:
        sup = Supervisor()
        for name in ("writer", "ami", "tick"):
            sup.add(name, task(name))
        sup.start()
        await asyncio.sleep(0.01)
        await sup.stop()

    asyncio.run(go())
    assert events == ["start writer", "start ami", "start tick",
                      "stop tick", "stop ami", "stop writer"]


def test_ready_and_watchdog_reach_the_notify_socket(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s: pings every 0.1 s
    healthy = [True]
    notifier = Notifier(alive=lambda: healthy[0])
    assert notifier.interval == pytest.approx(0.1)

    async def go() -> None:
        notifier.ready("FastAGI on port 4573")
        dog = asyncio.create_task(notifier.watchdog_forever())
        await asyncio.sleep(0.25)
        healthy[0] = False  # a supervisor that gave up: no more pings, systemd steps in
        await asyncio.sleep(0.2)
        dog.cancel()

    asyncio.run(go())
    notifier.close()
    sock.settimeout(0.2)
    got = []
    try:
        while True:
            got.append(sock.recv(256).decode())
    except TimeoutError:
        pass
    sock.close()
    assert got[0] == "READY=1\nSTATUS=FastAGI on port 4573"
    assert 2 <= got.count("WATCHDOG=1") <= 4
    assert set(got[1:]) == {"WATCHDOG=1"}


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    notifier.ready()
    assert (notifier.enabled, notifier.sent) == (False, 0)
    assert watchdog_interval({}) == 3.0 and watchdog_interval({"WATCHDOG_USEC": "x"}) == 3.0


def test_the_units_are_hardened_notify_services() -> None:
    text = (UNITS / "callcenter.service").read_text()
    for line in ("Type=notify", "WatchdogSec=10", "User=callcenter", "Group=callcenter",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "ProtectHome=yes", "CapabilityBoundingSet=\n",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert line in text


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # the units name the installed path; point them at this checkout's executable
    exe = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "callcenter"
    if not exe.exists():
        pytest.skip(f"{exe} is missing: install the package into .venv first")
    for unit in UNITS.glob("*.service"):
        (tmp_path / unit.name).write_text(unit.read_text().replace(
            "/opt/callcenter/.venv/bin/callcenter", str(exe)))
    res = subprocess.run([tool, "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stderr.strip() == "", res.stderr
