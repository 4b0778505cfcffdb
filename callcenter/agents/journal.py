"""Where the agent book keeps its states: a snapshot (agents.json) and an append-only journal
beside it (agents.journal), one JSON line per change of one agent.

Every change is one `os.write` of one line before the change returns, so the kernel holds it:
a daemon killed at any moment (SIGKILL included) loses nothing. Changes an agent is told of
(login, logout, pause, unpause: the keypad confirms them) are also fsynced before they
return; call progress (ringing, on a call, wrap-up, misses) is fsynced within SYNC_SECONDS, so
only a power cut or a kernel crash can lose that much of it — and a restart relearns the
calls from AMI. Once the journal holds twice as many lines as there are agents (at least
COMPACT_MIN) the snapshot is written again whole, atomically, and the journal starts afresh:
the cost of a change does not grow with the number of agents.

A journal line counts only for the snapshot whose `epoch` it carries: lines of another epoch
(a crash between a new snapshot and the journal's truncation, or agents.json deleted to
reset every agent) are ignored."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.jsonline import to_json

__all__ = ["COMPACT_MIN", "SYNC_SECONDS", "AgentFiles"]

log = logging.getLogger(__name__)

COMPACT_MIN = 1000
SYNC_SECONDS = 0.2


def keep_aside(path: Path) -> None:
    """Copy a file with something wrong in it to NAME.bad-N (0600) for a person to read."""
    n = 1
    while path.with_name(f"{path.name}.bad-{n}").exists():
        n += 1
    target = path.with_name(f"{path.name}.bad-{n}")
    try:
        shutil.copy2(path, target)
        os.chmod(target, 0o600)
        log.warning("the agent state file was kept as %s for inspection", target)
    except OSError as exc:
        log.warning("could not keep %s aside: %s", path, exc)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class AgentFiles:
    """The snapshot `path` and its journal (`path` with the suffix .journal)."""

    def __init__(self, path: Path, *, sync_seconds: float = SYNC_SECONDS):
        self.path = path
        self.journal = path.with_suffix(".journal")
        self.sync_seconds = sync_seconds
        self.epoch = ""  # the snapshot's; "" until one with an epoch is read or written
        self.lines = 0  # journal lines since the snapshot
        self.compactions = 0
        self._fd = -1
        self._fd_lock = threading.Lock()  # the deferred fsync runs in a worker thread
        self._size = 0
        self._dirty = False
        self._timer: asyncio.TimerHandle | None = None

    # ---- reading ---------------------------------------------------------------------
    def read_snapshot(self) -> object:
        """The snapshot document as parsed (ValueError/OSError when it cannot be read)."""
        doc = json.loads(self.path.read_text(encoding="utf-8"))
        epoch = doc.get("epoch") if isinstance(doc, dict) else None
        self.epoch = epoch if isinstance(epoch, str) else ""
        return doc

    def read_journal(self) -> tuple[list[object], int]:
        """The journal's records of this snapshot's epoch, in order, and how many lines were
        not what `append` writes (a torn last line from a crash is dropped, not counted)."""
        if not self.epoch:
            return [], 0
        try:
            raw = self.journal.read_bytes()
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            log.warning("ignoring unreadable agent journal %s: %s", self.journal, exc)
            return [], 0
        lines = raw.split(b"\n")
        if lines[-1]:
            log.warning("agent journal %s: dropping a torn last line (a crash mid-write)",
                        self.journal)
        records: list[object] = []
        bad = 0
        for line in lines[:-1]:
            try:
                doc = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(doc, dict) or set(doc) != {"epoch", "agent"}:
                bad += 1
            elif doc["epoch"] == self.epoch:
                records.append(doc["agent"])
        self.lines = len(records)
        return records, bad

    # ---- writing ---------------------------------------------------------------------
    def append(self, record: dict[str, Any], *, durable: bool,
               everything: Callable[[], list[Any]], agents: int) -> None:
        """Journal one agent's new record; when the journal is due for it (or not open yet)
        `everything()` (every agent's record) is written as a new snapshot instead."""
        if self._fd < 0 or self.lines >= self.compact_at(agents):
            self.compact(everything())
            return
        data = (to_json({"epoch": self.epoch, "agent": record}) + "\n").encode()
        try:
            _write_all(self._fd, data)
        except OSError:
            try:  # never leave half a line for the next one to be glued to
                os.ftruncate(self._fd, self._size)
            except OSError:
                self.lines = 1 << 62  # the next change writes a whole new snapshot
            raise
        self._size += len(data)
        self.lines += 1
        self._dirty = True
        if durable:
            self.sync()
        else:
            self._sync_soon()

    @staticmethod
    def compact_at(agents: int) -> int:
        return max(COMPACT_MIN, 2 * agents)

    def compact(self, everything: list[Any]) -> None:
        """Write the snapshot whole under a new epoch (temp file, fsync, rename, fsync of
        the folder; 0600 in a 0700 folder), then empty the journal."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        epoch = secrets.token_hex(8)
        data = json.dumps({"epoch": epoch, "agents": everything}, indent=1).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        # from here the old journal's lines are of another epoch: ignored even if the
        # truncation below never reaches the disk
        self.epoch = epoch
        if self._fd < 0:
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(self._fd, 0o600)
        os.ftruncate(self._fd, 0)
        self._size = self.lines = 0
        self._dirty = False
        self.compactions += 1

    def _sync_soon(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a CLI command, a unit test): at once
            self.sync()
            return
        self._timer = loop.call_later(self.sync_seconds, self._sync_in_thread, loop)

    def _sync_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """The deferred fsync of call progress, off the event loop (it waits for the disk)."""
        self._timer = None
        loop.run_in_executor(None, self._flush)

    def sync(self) -> None:
        """fsync what is journalled (a power cut then loses none of it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flush()

    def _flush(self) -> None:
        with self._fd_lock:
            if self._dirty and self._fd >= 0:
                self._dirty = False  # a line journalled meanwhile marks it dirty again
                try:
                    os.fdatasync(self._fd)
                except OSError as exc:
                    self._dirty = True
                    log.error("agent journal %s: fsync failed: %s", self.journal, exc)

    def close(self) -> None:
        self.sync()
        with self._fd_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
