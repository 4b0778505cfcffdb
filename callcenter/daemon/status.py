"""The daemon's local status endpoint: a Unix socket that answers one JSON document."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.errors import CallcenterError

__all__ = ["StatusServer", "query_status"]


class StatusServer:
    """Answers every connection with `snapshot()` as JSON, then closes it."""

    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]]):
        self.path = path
        self.snapshot = snapshot
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
            writer.write(json.dumps(self.snapshot(), ensure_ascii=False, default=str).encode())
            await writer.drain()
        finally:
            writer.close()


def query_status(path: Path, timeout: float = 3.0) -> dict[str, Any]:
    """Ask the running daemon what it sees."""
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
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return json.loads(b"".join(chunks))
