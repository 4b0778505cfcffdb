"""The agent state file: a wrong-shaped file never stops the daemon; writes are atomic."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from callcenter.agents import AgentBook, AgentState

IDS = ["a1", "a2"]


def _clock() -> float:
    return 1000.0


def _good(agent_id: str, state: str = "ready", **extra: object) -> dict[str, object]:
    return {"agent_id": agent_id, "state": state, "since": 10.0, "device": "1001",
            "pause_reason": "", "misses": 0, **extra}


def _write(tmp_path: Path, doc: object, raw: str | None = None) -> Path:
    path = tmp_path / "db" / "agents.json"
    path.parent.mkdir()
    path.write_text(raw if raw is not None else json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.security
@pytest.mark.parametrize("doc,raw", [
    (None, "{not json"),
    ([_good("a1")], None),
    ({"agents": {"a1": "ready"}}, None),
    ({"agents": [_good("a1", state="dancing")]}, None),
    ({"agents": [_good("a1", extra_key=1)]}, None),
    ({"agents": [{**_good("a1"), "misses": "3"}]}, None),
    ({"agents": ["a1"]}, None),
], ids=["not-json", "a-list", "agents-not-a-list", "unknown-state", "extra-key",
        "wrong-type", "record-not-an-object"])
def test_wrong_shaped_file_is_skipped_and_kept_aside(tmp_path: Path, doc: object,
                                                     raw: str | None,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, doc, raw)
    original = path.read_bytes()
    book = AgentBook(IDS, path, clock=_clock)
    assert {r.state for r in book.agents.values()} == {AgentState.LOGGED_OUT}
    assert (path.parent / "agents.json.bad-1").read_bytes() == original
    assert any("agent state file" in r.getMessage() for r in caplog.records)
    book.login("a1", "1001")  # and the book works: the file is rewritten whole
    assert json.loads(path.read_text())["agents"][0]["state"] == "ready"
    assert AgentBook(IDS, path, clock=_clock).get("a1").state == AgentState.READY


@pytest.mark.security
def test_good_records_survive_beside_a_bad_one(tmp_path: Path) -> None:
    path = _write(tmp_path, {"agents": [_good("a1", state="paused", pause_reason="lunch"),
                                        _good("a2", state="nonsense")]})
    _write_again = path.parent / "agents.json.bad-1"
    _write_again.write_text("older")  # an earlier bad file is not overwritten
    book = AgentBook(IDS, path, clock=_clock)
    assert book.get("a1").state == AgentState.PAUSED
    assert book.get("a1").pause_reason == "lunch"
    assert book.get("a2").state == AgentState.LOGGED_OUT
    assert _write_again.read_text() == "older"
    assert (path.parent / "agents.json.bad-2").exists()


def test_a_good_file_is_not_kept_aside(tmp_path: Path) -> None:
    path = _write(tmp_path, {"agents": [_good("a1"), _good("gone-from-site")]})
    book = AgentBook(IDS, path, clock=_clock)
    assert book.get("a1").state == AgentState.READY
    assert not list(path.parent.glob("*.bad-*"))


def test_a_call_up_at_a_crash_is_believed_until_ami_says_otherwise(tmp_path: Path) -> None:
    path = _write(tmp_path, {"agents": [_good("a1", state="on_call"),
                                        _good("a2", state="wrap_up")]})
    book = AgentBook(IDS, path, clock=_clock)
    assert book.get("a1").state == AgentState.ON_CALL
    assert book.get("a2").state == AgentState.READY
    book.relearn_call("a2")  # its phone is on a live channel
    assert book.get("a2").state == AgentState.ON_CALL
    book.call_ended("a2", False)
    assert book.get("a2").state == AgentState.READY


def test_file_is_written_atomically_with_private_modes(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "db" / "agents.json"
    book = AgentBook(IDS, path, clock=_clock)
    book.login("a1", "1001")
    book.ringing("a1")  # journalled
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_suffix(".journal").stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.read_bytes()
    synced: list[int] = []
    import os

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))

    def crash(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    assert book.files is not None
    with pytest.raises(OSError):
        book.files.compact([])  # the snapshot is rewritten whole when the journal is long
    assert path.read_bytes() == before  # the old file, whole: never half of a new one
    assert synced  # the temporary file was flushed to disk before the rename
    assert sorted(p.name for p in path.parent.iterdir()) == [".agents.json.tmp",
                                                             "agents.journal", "agents.json"]
    assert AgentBook(IDS, path, clock=_clock).get("a1").state == AgentState.ON_CALL


@pytest.mark.parametrize("reason,after", [
    ("lunch", ("paused", "lunch")),  # the agent chose it: kept
    ("break", ("paused", "break")),
    ("unreachable", ("ready", "")),  # the system made them: lifted, re-evaluated
    ("busy", ("ready", "")),
    ("missed", ("ready", "")),
])
def test_a_restart_keeps_the_agents_pauses_and_lifts_the_systems(
        tmp_path: Path, reason: str, after: tuple[str, str]) -> None:
    path = _write(tmp_path, {"agents": [_good("a1", "paused", pause_reason=reason)]})
    rec = AgentBook(IDS, path, clock=_clock).get("a1")
    assert (rec.state.value, rec.pause_reason) == after
    assert rec.device == "1001"  # still logged in at the same phone


def test_an_unanswered_ring_counts_a_miss_and_an_answer_resets_it(tmp_path: Path) -> None:
    book = AgentBook(IDS, tmp_path / "agents.json", clock=_clock)
    book.login("a1", "1001")
    for _ in range(2):
        book.ringing("a1")
        book.missed("a1")
        book.ready("a1")
    assert book.get("a1").misses == 2
    assert AgentBook(IDS, tmp_path / "agents.json", clock=_clock).get("a1").misses == 2
    book.ringing("a1")
    book.answered("a1")
    assert book.get("a1").misses == 0


def test_restore_takes_another_daemons_last_states(tmp_path: Path) -> None:
    """A take-over of the lead: the book follows what the other daemon recorded, the
    listeners hear it, no transition is recorded, and it is saved for a restart."""
    from callcenter.agents.state import AgentRecord

    book = AgentBook(["1001", "1002", "1003"], tmp_path / "agents.json", clock=lambda: 50.0)
    heard: list[tuple[str, str]] = []
    moved: list[str] = []
    book.listeners.append(lambda r: heard.append((r.agent_id, r.state.value)))
    book.transitions.append(lambda r, *_: moved.append(r.agent_id))
    changed = book.restore([
        AgentRecord("1001", AgentState.READY, 10.0, "8001"),
        AgentRecord("1002", AgentState.RINGING, 11.0, "8002"),  # believed up: not rung
        AgentRecord("1003", AgentState.LOGGED_OUT, 12.0),  # as it is: no change
        AgentRecord("9999", AgentState.READY, 13.0, "8009"),  # not in the site: ignored
    ])
    assert changed == 2
    assert heard == [("1001", "ready"), ("1002", "on_call")]
    assert moved == []
    assert book.get("1001").device == "8001" and book.get("1001").since == 10.0
    book.close()
    again = AgentBook(["1001", "1002", "1003"], tmp_path / "agents.json")
    assert again.get("1001").state == AgentState.READY
    assert again.get("1002").state == AgentState.ON_CALL


def test_the_agent_at_a_device_follows_logins_moves_and_restarts(tmp_path: Path) -> None:
    """`at_device` is an index kept by every change (not a walk of 20,000 agents)."""
    book = AgentBook(IDS, tmp_path / "agents.json", clock=_clock)
    assert book.at_device("8001") is None
    book.login("a1", "8001")
    assert book.at_device("8001").agent_id == "a1"
    book.login("a1", "8002")  # hot-desking: the agent moved
    assert book.at_device("8001") is None and book.at_device("8002").agent_id == "a1"
    book.login("a2", "8002")  # another agent at that phone: a1 is logged out
    assert book.at_device("8002").agent_id == "a2"
    assert book.get("a1").state == AgentState.LOGGED_OUT
    book.pause("a2", "lunch")
    assert book.at_device("8002").agent_id == "a2"
    book.close()
    again = AgentBook(IDS, tmp_path / "agents.json", clock=_clock)
    assert again.at_device("8002").agent_id == "a2"
    again.logout("a2")
    assert again.at_device("8002") is None
