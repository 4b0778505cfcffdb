"""Desk-phone logins (*21) lock after wrong PINs, per agent id and per phone."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from callcenter.agents.features import FeatureCodes, LoginLockout
from callcenter.agents.state import AgentBook, AgentState
from callcenter.agi.protocol import AgiResponse
from callcenter.daemon.status import StatusServer, send_request

PINS = {"1001": "482913", "1002": "775120"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Phone:
    """A fake AgiSession: the keypad answers GET DATA from `typed`; commands are kept."""

    def __init__(self, extension: str, typed: list[str]):
        self.channel = f"PJSIP/{extension}-0000002a"
        self.uniqueid = "1.1"
        self.typed = list(typed)
        self.sent: list[str] = []
        self.variables: dict[str, str] = {}

    async def command(self, name: str, *args: object, timeout: float | None = None
                      ) -> AgiResponse:
        self.sent.append(" ".join([name, *map(str, args)]))
        if name == "GET DATA":
            digits = self.typed.pop(0) if self.typed else ""
            return AgiResponse(200, digits, "", "", f"200 result={digits}")
        return AgiResponse(200, "0", "", "", "200 result=0")

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


def features(clock: Clock, events: list[tuple[str, dict]]) -> FeatureCodes:
    book = AgentBook(list(PINS), clock=clock)
    return FeatureCodes(book, PINS, {"8001", "8002", "8003"},
                        lockout=LoginLockout(max_failures=5, window=900, lock_seconds=900,
                                             clock=clock),
                        emit=lambda kind, **kw: events.append((kind, kw)))


def login(codes: FeatureCodes, extension: str, *attempts: tuple[str, str]) -> Phone:
    phone = Phone(extension, [d for pair in attempts for d in pair])
    asyncio.run(codes.handle(phone, "login"))
    return phone


def test_lockout_rules() -> None:
    clock = Clock()
    lock = LoginLockout(max_failures=3, window=60, lock_seconds=900, clock=clock)
    assert lock.fail("1001", "8001") == []
    clock.now += 61  # outside the window: forgotten
    assert lock.fail("1001", "8001") == [] and lock.fail("1001", "8001") == []
    newly = lock.fail("1001", "8001")
    assert [(s, n, f) for s, n, f, _ in newly] == [("agent", "1001", 3), ("phone", "8001", 3)]
    assert lock.locked("1001", "") and lock.locked("", "8001")
    assert not lock.locked("1002", "8002")
    clock.now += 899
    assert lock.locked("1001")
    clock.now += 1
    assert not lock.locked("1001") and not lock.locked(phone="8001")
    assert lock.fail("1001", "8001") == []  # a fresh count after the lock ran out


def test_success_clears_the_count() -> None:
    clock = Clock()
    lock = LoginLockout(max_failures=2, clock=clock)
    lock.fail("1001", "8001")
    lock.succeed("1001", "8001")
    assert lock.fail("1001", "8001") == []


@pytest.mark.security
def test_five_wrong_pins_lock_the_agent_and_the_right_pin_then_fails() -> None:
    clock, events = Clock(), []
    codes = features(clock, events)
    bad = ("1001", "000000")
    login(codes, "8001", bad, bad, bad)  # three tries per call, then a hang-up
    phone = login(codes, "8002", bad, bad, ("1001", PINS["1001"]))
    assert codes.book.agents["1001"].state == AgentState.LOGGED_OUT
    assert phone.sent[-2:] == ["STREAM FILE beeperr ", "HANGUP"]  # the error tone
    assert [(k, e["scope"], e["failures"]) for k, e in events] == [
        ("agent.login_locked", "agent", 5)]
    assert events[0][1]["agent_id"] == "1001" and events[0][1]["device"] == "8002"
    assert "CC_AGENT" not in phone.variables
    # another agent at another phone is not affected
    ok = login(codes, "8003", ("1002", PINS["1002"]))
    assert codes.book.agents["1002"].state == AgentState.READY and "HANGUP" not in ok.sent
    # after the lock period the right PIN works again
    clock.now += 901
    login(codes, "8003", ("1001", PINS["1001"]))
    assert codes.book.agents["1001"].state == AgentState.READY


@pytest.mark.security
def test_guessing_many_agent_ids_from_one_phone_locks_the_phone() -> None:
    clock, events = Clock(), []
    codes = features(clock, events)
    login(codes, "8001", ("1001", "1"), ("1002", "2"), ("9999", "3"))
    phone = login(codes, "8001", ("1001", "4"), ("1002", "5"), ("1002", PINS["1002"]))
    assert [e["scope"] for _, e in events] == ["phone"]
    assert events[0][1]["agent_id"] is None
    assert codes.book.agents["1002"].state == AgentState.LOGGED_OUT
    # a locked phone is refused before a single prompt
    again = login(codes, "8001", ("1002", PINS["1002"]))
    assert again.sent == ["STREAM FILE beeperr ", "HANGUP"]
    # unlocking the phone lets the agent in
    assert codes.unlock(phone="8001") is True
    assert codes.unlock(phone="8001") is False
    login(codes, "8001", ("1002", PINS["1002"]))
    assert codes.book.agents["1002"].state == AgentState.READY
    assert phone.sent.count("STREAM FILE agent-incorrect ") == 2


@pytest.mark.security
def test_a_brute_force_run_is_refused_after_five_tries() -> None:
    """1,500 guesses in a row: five are checked, every later one hears the error tone."""
    clock, events = Clock(), []
    codes = features(clock, events)
    checked = 0
    for n in range(500):  # 500 calls × 3 guesses
        phone = login(codes, "8001", *[("1001", f"{n * 3 + i:06d}") for i in range(3)])
        checked += phone.sent.count("STREAM FILE agent-incorrect ")
    assert checked == 5
    assert codes.book.agents["1001"].state == AgentState.LOGGED_OUT


def test_unlock_over_the_status_socket(tmp_path: Path) -> None:
    clock, events = Clock(), []
    codes = features(clock, events)
    login(codes, "8001", *[("1001", "0")] * 3)
    login(codes, "8002", *[("1001", "0")] * 2)
    assert codes.lockout.locked("1001")
    path = tmp_path / "cc.sock"

    def unlock(req: dict) -> dict:
        return {"unlocked": codes.unlock(req.get("agent", ""), req.get("phone", ""))}

    async def go() -> tuple[dict, dict, dict, dict]:
        server = StatusServer(path, lambda: {"ok": True}, {"unlock": unlock})
        await server.start()
        loop = asyncio.get_running_loop()
        try:
            first = await loop.run_in_executor(None, send_request, path,
                                               {"request": "unlock", "agent": "1001"})
            second = await loop.run_in_executor(None, send_request, path,
                                                {"request": "unlock", "agent": "1001"})
            bogus = await loop.run_in_executor(None, send_request, path, {"request": "rm"})
            plain = await loop.run_in_executor(None, _old_client, path)
        finally:
            await server.stop()
        return first, second, bogus, plain

    first, second, bogus, plain = asyncio.run(go())
    assert first == {"unlocked": True} and second == {"unlocked": False}
    assert "unknown request 'rm'" in bogus["error"]
    assert plain == {"ok": True}  # a client sending nothing still gets the status
    assert not codes.lockout.locked("1001")


def _old_client(path: Path) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect(str(path))
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return json.loads(b"".join(chunks))


def test_agent_unlock_command_without_a_daemon_says_so(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main

    res = CliRunner().invoke(main, ["agent", "unlock", "1001", "--conf", str(tmp_path)])
    assert res.exit_code == 1 and "no daemon status socket" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(main, ["agent", "unlock", "10;01", "--conf", str(tmp_path)])
    assert res.exit_code == 2 and "not an agent id" in res.output
    res = CliRunner().invoke(main, ["agent", "unlock", "--conf", str(tmp_path)])
    assert res.exit_code == 2 and "give an agent id" in res.output
