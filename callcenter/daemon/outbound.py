"""The daemon's outbound part: once the event store's database is known, the job store, the
dialler, the answered-call script, the webhook sender and the HTTP API start together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.agi import AgiSession
from callcenter.clock import SYSTEM, Clock
from callcenter.errors import CallcenterError
from callcenter.site import Site

__all__ = ["OutboundPart"]

log = logging.getLogger(__name__)

TTS_KEEP_SECONDS = 7 * 86400


class OutboundPart:
    def __init__(self, site: Site, conf_dir: Path, *, recorder: Any, ami: Any, acd: Any,
                 queues: Callable[[], Any], agents: Callable[[], Any],
                 clock: Clock = SYSTEM) -> None:
        self.site = site
        self.conf_dir = conf_dir
        self.recorder = recorder
        self.ami = ami
        self.acd = acd
        self.queues = queues
        self.agents = agents
        self.clock = clock
        self.store: Any = None
        self.dialler: Any = None
        self.answered: Any = None
        self.webhooks: Any = None
        self.api_port: int | None = None
        # several daemons: the leader's term, which fences each attempt (docs/cluster.md)
        self.term: Callable[[], int] | None = None
        self.ready = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        ami.on_event("UserEvent", self.on_user_event)
        ami.on_event("OriginateResponse", self.on_originate_response)
        ami.on_ready(self.on_ami_ready)

    @property
    def cache_dir(self) -> Path:
        """Spoken reminders (caller data): Asterisk reads them, nobody else."""
        return self.conf_dir / "sounds" / "tts"

    async def run_forever(self) -> None:
        """Wait for the store's DSN, then run the dialler and the webhooks until cancelled."""
        while not self.recorder.dsn:
            if self.recorder.dsn_factory is None:
                log.info("no event store: outbound calls and the HTTP API are off")
                await asyncio.Event().wait()
            await asyncio.sleep(0.5)
        if self.store is None:
            await self._open(self.recorder.dsn)
        tasks = [asyncio.create_task(self.dialler.run_forever(), name="dialler"),
                 asyncio.create_task(self._prune_forever(), name="tts-prune")]
        if self.webhooks is not None:
            tasks.append(asyncio.create_task(self.webhooks.run_forever(), name="webhooks"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _prune_forever(self) -> None:
        """Spoken reminders hold children's names: gone a week after their last use."""
        from callcenter.outbound.tts import prune

        while True:
            try:
                await asyncio.to_thread(prune, self.cache_dir, TTS_KEEP_SECONDS,
                                        clock=self.clock)
            except OSError as exc:
                log.warning("spoken-reminder cache not pruned: %s", exc)
            await asyncio.sleep(3600)

    async def _open(self, dsn: str) -> None:
        from callcenter.outbound.answered import AnsweredCalls
        from callcenter.outbound.dialler import Dialler
        from callcenter.outbound.jobs import JobStore

        store = JobStore(dsn, clock=self.clock, term=self.term)
        await store.open()
        self._stack.push_async_callback(store.close)
        self.store = store
        self.dialler = Dialler(self.site, store, self.ami, emit=self.recorder.emit,
                               clock=self.clock,
                               ready_for=self.acd.ready_for if self.acd else lambda q: 0)
        self._stack.push_async_callback(self.dialler.close)
        st = self.conf_dir.stat()
        # a rendered folder shared with Asterisk's group (set-group-id): it reads the audio
        group = st.st_gid if st.st_mode & 0o2000 else None
        self.answered = AnsweredCalls(self.dialler, self.acd, cache_dir=self.cache_dir,
                                      clock=self.clock, group=group)
        if self.site.spec.outbound.webhooks:
            from callcenter.outbound.webhooks import WebhookSender

            self.webhooks = WebhookSender(self.site, dsn, clock=self.clock)
            self._stack.push_async_callback(self.webhooks.close)
        api = self.site.spec.outbound.api
        if api.port:
            from callcenter.api.app import create_app
            from callcenter.api.server import ApiServer

            app = create_app(self.site, store, clock=self.clock, queues=self.queues,
                             agents=self.agents)
            try:
                await self._stack.enter_async_context(ApiServer(app, api.host, api.port))
                self.api_port = api.port
                log.info("HTTP API on %s:%d", api.host, api.port)
            except (OSError, CallcenterError) as exc:
                log.error("HTTP API not served on %s:%d: %s", api.host, api.port, exc)
        self.ready.set()

    def on_user_event(self, msg: Any) -> None:
        if self.dialler is not None:
            self.dialler.on_user_event(msg)

    def on_originate_response(self, msg: Any) -> None:
        if self.dialler is not None:
            self.dialler.on_originate_response(msg)

    async def on_ami_ready(self) -> None:
        if self.dialler is not None:
            self.dialler.on_ami_lost()  # endings may have been missed: reconcile first

    async def handle(self, session: AgiSession, attempt_id: str) -> None:
        if self.answered is None:
            from callcenter.contract import Next, Var

            await session.set_variable(Var.NEXT, Next.HANGUP)
            return
        await self.answered.run(session, attempt_id)

    def snapshot(self) -> dict[str, Any]:
        return {"store": self.store is not None, "api_port": self.api_port,
                "dialler": self.dialler.snapshot() if self.dialler else None}

    async def close(self) -> None:
        await self._stack.aclose()
