"""The daemon's local status endpoint: a Unix socket (mode 0600) that answers one JSON document.

A client may first send one JSON request line, e.g. {"request": "unlock", "agent": "1001"};
without one (or with {"request": "status"}) the answer is the status snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.errors import CallcenterError

__all__ = ["StatusServer", "query_status", "send_request", "store_state"]

Command = Callable[[dict[str, Any]], dict[str, Any]]
_REQUEST_LIMIT = 4096


class StatusServer:
    """Answers every connection with `snapshot()` as JSON, then closes it."""

    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]],
                 commands: dict[str, Command] | None = None, request_timeout: float = 0.5):
        self.path = path
        self.snapshot = snapshot
        self.commands = commands or {}
        self.request_timeout = request_timeout
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.server = await asyncio.start_unix_server(self._answer, str(self.path))
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:  # an old client sends nothing and waits: it gets the status after the timeout
                line = await asyncio.wait_for(reader.readline(), self.request_timeout)
            except (TimeoutError, ValueError, ConnectionError):
                line = b""
            writer.write(json.dumps(self._reply(line), ensure_ascii=False,
                                    default=str).encode())
            await writer.drain()
        finally:
            writer.close()

    def _reply(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line) if line.strip() else {}
        except ValueError:
            return {"error": "the request is not JSON"}
        kind = req.get("request", "status") if isinstance(req, dict) else None
        if kind == "status":
            return self.snapshot()
        command = self.commands.get(kind) if isinstance(kind, str) else None
        if command is None:
            return {"error": f"unknown request {kind!r}; known: status, "
                             f"{', '.join(sorted(self.commands))}"}
        return command(req)


def query_status(path: Path, timeout: float = 3.0) -> dict[str, Any]:
    """Ask the running daemon what it sees."""
    return send_request(path, {"request": "status"}, timeout)


def send_request(path: Path, request: dict[str, Any], timeout: float = 3.0
                 ) -> dict[str, Any]:
    """Send one request to the running daemon and return its JSON answer."""
    import socket

    if not path.exists():
        raise CallcenterError(f"no daemon status socket at {path} — is 'callcenter run' "
                              "running for this configuration?")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise CallcenterError(f"the daemon does not answer on {path} ({exc.strerror}) — "
                                  "it may have stopped; start it with 'callcenter run'") from exc
        try:
            sock.sendall(json.dumps(request).encode()[:_REQUEST_LIMIT] + b"\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        except OSError as exc:
            raise CallcenterError(f"the daemon at {path} did not answer within {timeout:g} s "
                                  f"({exc}) — it may be hung; see its log") from exc
    try:
        return json.loads(b"".join(chunks))
    except ValueError as exc:
        raise CallcenterError(f"the daemon at {path} sent a broken answer — see its log"
                              ) from exc


def store_state(store: dict[str, Any]) -> str:
    """The store's line of `callcenter status`, from the recorder's snapshot: up, spool only,
    or DOWN with the reason the recorder last saw (an unreachable server, a cluster that did
    not start), or not yet tried (the recorder connects when it has an event to store)."""
    if store.get("db_up"):
        return "up"
    if not store.get("configured", bool(store.get("database"))):
        return "spool only (the daemon runs without a database)"
    if store.get("last_error"):
        where = f" at {store['database']}" if store.get("database") else ""
        return f"DOWN{where}: {store['last_error']}"
    return "not connected yet (the first event to store opens the connection)"
