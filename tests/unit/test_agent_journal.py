"""The agent journal: a change is one appended line whatever the number of agents; a SIGKILL
loses nothing; what the agent is told of is fsynced first; compaction keeps it bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from callcenter.agents import AgentBook, AgentState
from callcenter.agents.journal import COMPACT_MIN

IDS = ["a1", "a2"]


def _clock() -> float:
    return 1000.0


def test_a_change_appends_one_line_and_leaves_the_snapshot_alone(tmp_path: Path) -> None:
    ids = [f"a{n}" for n in range(20_000)]
    path = tmp_path / "agents.json"
    book = AgentBook(ids, path, clock=_clock)
    book.login("a7", "1007")  # the first change writes the snapshot (and its epoch)
    snapshot = path.stat()
    journal = path.with_suffix(".journal")
    for _ in range(3):
        book.ringing("a7")
        book.answered("a7")
        book.call_ended("a7", wrap_up=True)
        book.ready("a7")
    assert path.stat().st_mtime_ns == snapshot.st_mtime_ns  # not rewritten
    assert path.stat().st_ino == snapshot.st_ino
    lines = journal.read_bytes().splitlines()
    assert len(lines) == 12
    assert max(len(line) for line in lines) < 200  # one agent's record, not 20,000


def test_a_sigkill_loses_no_change(tmp_path: Path) -> None:
    """A child changes states inside an event loop (call progress is then fsynced only
    later) and kills itself with SIGKILL: every change is back on the next start."""
    path = tmp_path / "agents.json"
    child = textwrap.dedent(f"""
        import asyncio, os, signal
        from pathlib import Path
        from callcenter.agents import AgentBook

        async def main():
            book = AgentBook({IDS!r}, Path({str(path)!r}))
            book.login("a1", "1001")
            book.login("a2", "1002")
            book.pause("a2", "lunch")
            book.ringing("a1")
            book.missed("a1")
            book.ready("a1")
            book.ringing("a1")
            book.answered("a1")
            book.call_ended("a1", wrap_up=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    book = AgentBook(IDS, path, clock=_clock)
    # wrap-up is lifted by a restart (as before the journal); the rest is as it was
    assert (book.get("a1").state, book.get("a1").device) == (AgentState.READY, "1001")
    assert (book.get("a2").state, book.get("a2").pause_reason) == (AgentState.PAUSED,
                                                                   "lunch")
    assert book.get("a1").misses == 0  # the answer reset the count


def test_what_the_agent_is_told_is_fsynced_before_it_returns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))

    async def agent_day() -> None:
        book = AgentBook(IDS, tmp_path / "agents.json", clock=_clock)
        assert book.files is not None
        book.files.sync_seconds = 0  # the timer's next turn of the loop
        book.login("a1", "1001")  # the snapshot (fsynced whole)
        book.pause("a1", "break")
        assert len(synced) == 1  # the pause: on disk before the keypad confirms it
        book.ready("a1")
        assert len(synced) == 2
        book.ringing("a1")
        book.answered("a1")
        assert len(synced) == 2  # call progress: coalesced ...
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(synced) == 3  # ... into one fsync a moment later
        book.logout("a1")
        assert len(synced) == 4

    asyncio.run(agent_day())


def test_the_journal_is_compacted_into_a_new_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    book = AgentBook(IDS, path, clock=_clock)
    book.login("a1", "1001")
    for _ in range(COMPACT_MIN // 2 + 10):
        book.ringing("a1")
        book.ready("a1")
    assert book.files is not None and book.files.compactions == 2
    journal = path.with_suffix(".journal")
    assert len(journal.read_bytes().splitlines()) < COMPACT_MIN
    book.ringing("a1")
    assert AgentBook(IDS, path, clock=_clock).get("a1").state == AgentState.ON_CALL


def test_a_deleted_snapshot_resets_every_agent_despite_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    book = AgentBook(IDS, path, clock=_clock)
    book.login("a1", "1001")
    book.pause("a1", "lunch")
    path.unlink()  # how a person (or a test fixture) starts afresh
    fresh = AgentBook(IDS, path, clock=_clock)
    assert fresh.get("a1").state == AgentState.LOGGED_OUT
    fresh.login("a2", "1002")  # a new snapshot under a new epoch: the old lines stay dead
    again = AgentBook(IDS, path, clock=_clock)
    assert again.get("a1").state == AgentState.LOGGED_OUT
    assert again.get("a2").state == AgentState.READY


@pytest.mark.security
def test_a_torn_or_foreign_journal_line_is_skipped(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "agents.json"
    book = AgentBook(IDS, path, clock=_clock)
    book.login("a1", "1001")
    book.login("a2", "1002")
    book.pause("a2", "lunch")
    journal = path.with_suffix(".journal")
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"nonsense": 1}\n' + b'{"epoch": "x", "ag')  # torn at a crash
    again = AgentBook(IDS, path, clock=_clock)
    assert again.get("a2").pause_reason == "lunch"
    assert (tmp_path / "agents.journal.bad-1").exists()  # kept for a person
    assert any("torn" in r.getMessage() for r in caplog.records)
