"""The app factory: the FastAPI application the daemon serves (docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from callcenter import __version__
from callcenter.api import leads, read, reminders
from callcenter.api.auth import Authenticator
from callcenter.api.problems import ApiProblem, install, problem_response
from callcenter.api.read import EventReader
from callcenter.api.state import ApiState, CallEvents, Snapshot
from callcenter.clock import SYSTEM, Clock
from callcenter.outbound.jobs import JobStore
from callcenter.site.model import Site

__all__ = ["MAX_BODY", "create_app"]

MAX_BODY = 4 * 1024 * 1024  # a bulk request of MAX_BULK lessons fits easily


def _none() -> list[dict[str, Any]]:
    return []


def create_app(site: Site, store: JobStore, *, clock: Clock = SYSTEM,
               queues: Snapshot = _none, agents: Snapshot = _none,
               call_events: CallEvents | None = None) -> FastAPI:
    """The API over `store` for `site`'s clients; `queues` and `agents` give the daemon's
    live views, `call_events` a call's stored events (default: read from the store's
    database)."""
    app = FastAPI(title="callcenter API", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url="/openapi.json",
                  description="Reminders, leads and read endpoints of the call centre. "
                              "Errors are application/problem+json (RFC 9457).")
    app.state.api = ApiState(site=site, store=store, clock=clock,
                             auth=Authenticator(site.secrets.api_clients),
                             queues=queues, agents=agents,
                             call_events=call_events or EventReader(store.dsn))
    install(app)
    for module in (reminders, leads, read):
        app.include_router(module.router)
    app.add_middleware(_BodyLimit)
    return app


class _BodyLimit:
    """Refuse a body declared larger than MAX_BODY before reading it (413), and a body of
    undeclared size (chunked: 411)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if b"transfer-encoding" in headers and b"content-length" not in headers:
                # a chunked body has no declared size to check: it could be endless
                resp = problem_response(ApiProblem(
                    411, "length-required", "Length required",
                    "send the body with a Content-Length header, not chunked"))
                await resp(scope, receive, send)
                return
            length = headers.get(b"content-length", b"0")
            if not length.isdigit() or int(length) > MAX_BODY:
                resp = problem_response(ApiProblem(
                    413, "too-large", "Request too large",
                    f"the body is over {MAX_BODY // 1024 // 1024} MB — send the lessons in "
                    "several bulk requests"))
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)

