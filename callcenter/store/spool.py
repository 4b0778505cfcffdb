"""The local append-only spool: every event is written here first, one JSON line each, and
read back in order by the writer that stores it in PostgreSQL.

A line written with one `os.write` is in the kernel when `append` returns, so a daemon killed
at any moment keeps it; `sync` (fsync) protects against a power cut too. The checkpoint says
how far the database has everything; segments wholly before it are deleted."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from callcenter.store.events import Event

__all__ = ["Position", "Spool"]

log = logging.getLogger(__name__)

SEGMENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, order=True)
class Position:
    segment: str  # file name; names sort in writing order
    offset: int


class Spool:
    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)  # events hold callers' numbers
        self.segment_bytes = segment_bytes
        self._fd = -1
        self._name = ""
        self._fd_lock = threading.Lock()  # `sync` runs in a worker thread (the recorder's)
        self._size = 0
        self._dirty = False
        self._torn = False
        self.appended = 0
        self.corrupt = 0
        # never append to a segment left by an earlier process: its last line may be torn
        self._open_new()

    # ---- writing ---------------------------------------------------------------------
    def _open_new(self) -> None:
        if self._fd >= 0:
            with self._fd_lock:
                try:
                    os.fsync(self._fd)
                finally:
                    os.close(self._fd)
                    self._fd = -1
        name = f"events-{time.time_ns():020d}.jsonl"
        while (self.dir / name).exists():  # two segments within one clock tick
            name = f"events-{int(name[7:27]) + 1:020d}.jsonl"
        self._fd = os.open(self.dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._name, self._size = name, 0

    def append(self, event: Event, line: str | None = None) -> tuple[Position, Position]:
        """Write one whole line (`line`: event.to_line() if the caller has it already) and
        return where it starts and ends, or raise OSError (ENOSPC, EIO…) having written
        nothing: a short write is cut off again, so no torn line can swallow the next
        event."""
        data = ((line if line is not None else event.to_line()) + "\n").encode()
        full = self._size and self._size + len(data) > self.segment_bytes
        if self._fd < 0 or self._torn or full:
            self._open_new()
            self._torn = False
        start = Position(self._name, self._size)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            if len(view) != len(data):
                try:
                    os.ftruncate(self._fd, self._size)
                except OSError:
                    self._torn = True  # the next line starts a new segment
            raise
        self._size += len(data)
        self._dirty = True
        self.appended += 1
        return start, Position(self._name, self._size)

    def end(self) -> Position:
        """Where the next line goes (in this process's own segment)."""
        return Position(self._name, self._size)

    def written(self) -> Position:
        """The end of everything written so far, by this process or an earlier one: the
        point a reader has stored all of once it reaches it."""
        names = self.segments()
        if not names or (self._name and self._name >= names[-1]):
            return self.end()
        try:
            return Position(names[-1], (self.dir / names[-1]).stat().st_size)
        except FileNotFoundError:  # committed and removed meanwhile
            return self.end()

    def sync(self) -> None:
        """fsync what is appended; safe from another thread (the event loop must not wait
        for the disk). A line appended meanwhile marks the spool dirty again."""
        with self._fd_lock:
            if self._dirty and self._fd >= 0:
                self._dirty = False
                try:
                    os.fsync(self._fd)
                except OSError:
                    self._dirty = True
                    raise

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            with self._fd_lock:
                os.close(self._fd)
                self._fd = -1

    # ---- reading ---------------------------------------------------------------------
    def segments(self) -> list[str]:
        return sorted(p.name for p in self.dir.glob("events-*.jsonl"))

    def checkpoint(self) -> Position:
        path = self.dir / "checkpoint.json"
        try:
            doc = json.loads(path.read_text())
            return Position(doc["segment"], int(doc["offset"]))
        except FileNotFoundError:
            return Position("", 0)
        except (ValueError, KeyError) as exc:
            # replaying from the start is safe: event ids make inserts idempotent
            log.warning("unreadable spool checkpoint (%s); replaying the whole spool", exc)
            return Position("", 0)

    def read(self, start: Position, limit: int) -> tuple[list[Event], Position]:
        """Up to `limit` whole events after `start`, and the position after the last one."""
        events: list[Event] = []
        pos = start
        for name in self.segments():
            if name < pos.segment:
                continue
            offset = pos.offset if name == pos.segment else 0
            live = name == self._name
            with open(self.dir / name, "rb") as fh:
                fh.seek(offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        if not live:  # torn by a crash mid-write: never completed
                            log.warning("spool %s: dropping a torn last line", name)
                            self.corrupt += 1
                            offset += len(raw)
                        break
                    offset += len(raw)
                    try:
                        events.append(Event.from_line(raw.decode()))
                    except (ValueError, KeyError) as exc:
                        self.corrupt += 1
                        log.error("spool %s: unreadable event skipped: %s", name, exc)
                    if len(events) >= limit:
                        return events, Position(name, offset)
            pos = Position(name, offset)
        return events, pos

    def commit(self, pos: Position) -> None:
        """Everything up to `pos` is stored: remember it, and delete finished segments."""
        path = self.dir / "checkpoint.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump({"segment": pos.segment, "offset": pos.offset}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        for name in self.segments():
            if name < pos.segment and name != self._name:
                (self.dir / name).unlink(missing_ok=True)

    def backlog_bytes(self, pos: Position) -> int:
        """Bytes written but not yet stored (the spool's depth, for status and metrics)."""
        total = 0
        for name in self.segments():
            if name < pos.segment:
                continue
            try:
                size = (self.dir / name).stat().st_size
            except FileNotFoundError:
                continue
            total += size - (pos.offset if name == pos.segment else 0)
        return total
