"""Serving the app with uvicorn inside the daemon's event loop: no signal handlers (the
daemon owns signals), no logging configuration of its own, and a bind error that says what
to change instead of uvicorn's exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from callcenter.errors import CallcenterError

__all__ = ["ApiError", "ApiServer", "serve"]

log = logging.getLogger(__name__)


class ApiError(CallcenterError):
    """The HTTP API cannot be served."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the daemon handles SIGTERM/SIGINT
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise ApiError(f"the HTTP API cannot listen on {host}:{port} ({exc.strerror}) — "
                       "change outbound.api.host/port in the site file, or stop what uses "
                       "that port") from exc
    sock.setblocking(False)
    return sock


def _server(app: FastAPI) -> _Server:
    # lifespan off: the daemon opens and closes the store; log_config None keeps the
    # daemon's logging; no access log (a request line per reminder is noise at volume)
    return _Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                  server_header=False, proxy_headers=False))


async def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` on host:port until cancelled."""
    async with ApiServer(app, host, port) as server:
        await server.wait()


class ApiServer:
    """`async with ApiServer(app, host, port) as api:` serves `app` while the block runs
    (api.port is the bound port, useful with port 0); leaving the block stops it."""

    def __init__(self, app: FastAPI, host: str, port: int):
        self.app, self.host, self.port = app, host, port
        self._server = _server(app)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ApiServer:
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]),
                                         name="http-api")
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # its exception, if any
                raise ApiError("the HTTP API stopped while starting")
            await asyncio.sleep(0.01)
        log.info("HTTP API on http://%s:%d (OpenAPI at /openapi.json)", self.host, self.port)
        return self

    async def wait(self) -> None:
        """Until the server stops (a crash raises here)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._task is None:
            return
        if self._task.done():  # it stopped by itself: say why
            task, self._task = self._task, None
            if not task.cancelled() and task.exception() is not None:
                log.error("the HTTP API stopped: %r", task.exception())
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 10)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
