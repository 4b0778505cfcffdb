"""Webhooks for the CRM (docs/webhooks.md): the stored events a webhook asks for, POSTed in
events.seq order, signed with HMAC-SHA256, each retried with backoff until the receiver
answers 2xx, behind a durable cursor per webhook (`projections`, 'webhook:<name>'), so
nothing recorded is lost or skipped in an outage of the receiver, the database or the
daemon. A delivery may repeat after a crash between the 2xx and the cursor's update:
receivers deduplicate on X-Callcenter-Delivery (the event's id)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from callcenter.clock import SYSTEM, Clock
from callcenter.outbound._webhook_events import BATCH, STORED_KINDS, Delivery, delivery
from callcenter.site.outbound import Webhook

__all__ = ["HookStats", "WebhookSender", "sign", "verify"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """X-Callcenter-Signature: "sha256=" + hex HMAC-SHA256(secret, f"{timestamp}.{body}")."""
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int | str, body: bytes | str, signature: str, *,
           now: float | None = None, tolerance: float = 300) -> bool:
    """A receiver's check of a delivery: the signature matches the exact body bytes and,
    when `now` (epoch seconds) is given, the timestamp is within `tolerance` seconds."""
    if now is not None:
        try:
            if abs(now - int(timestamp)) > tolerance:
                return False
        except ValueError:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass
class HookStats:
    """What one webhook has done since the sender started."""

    delivered: int = 0
    failures: int = 0
    cursor: int = 0
    last_error: str = ""


class WebhookSender:
    """Delivers every configured webhook's events; `run_forever()` then `close()`."""

    def __init__(self, site: Any, dsn: str, *, clock: Clock = SYSTEM,
                 sleep: Sleep = asyncio.sleep, poll_seconds: float = 1.0,
                 first_retry: float = 2.0, max_retry: float = 600.0, batch: int = 100,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.dsn = dsn
        self.clock = clock
        self.sleep = sleep
        self.poll_seconds = poll_seconds
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.batch = batch
        self.hooks: dict[str, tuple[Webhook, str]] = {}
        secrets = site.secrets.webhook_secrets
        for name, hook in site.spec.outbound.webhooks.items():
            if not secrets.get(name):
                # never send unsigned: the CRM could not tell our calls from anyone's
                log.error("webhook %s is not sent: the secrets file has no webhooks: %s: "
                          "secret", name, name)
                continue
            self.hooks[name] = (hook, secrets[name])
        self.stats = {name: HookStats() for name in self.hooks}
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def run_forever(self) -> None:
        """One delivery loop per webhook, so a receiver that is down holds up only its own."""
        if self.hooks:
            await asyncio.gather(*(self._hook_loop(name) for name in self.hooks))

    async def close(self) -> None:
        await self._client.aclose()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: vars(s).copy() for name, s in self.stats.items()}

    # -- one webhook ----------------------------------------------------------------------

    async def _hook_loop(self, name: str) -> None:
        wait = self.first_retry
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.dsn, autocommit=True, connect_timeout=5) as conn:
                    wait = self.first_retry
                    await self._deliver_all(conn, name)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("webhook %s: the database is unreachable (%s); trying again in "
                            "%.0f s", name, exc, wait)
                self.stats[name].last_error = f"database: {exc}"
                await self.sleep(wait)
                wait = min(wait * 2, self.max_retry)

    async def _deliver_all(self, conn: psycopg.AsyncConnection[Any], name: str) -> None:
        hook, _ = self.hooks[name]
        wanted = frozenset(hook.events)
        cursor = await self._cursor(conn, name)
        while True:
            upto = await self._committed_end(conn)
            cur = await conn.execute(BATCH, {"after": cursor, "upto": upto,
                                             "kinds": list(STORED_KINDS),
                                             "limit": self.batch})
            rows = await cur.fetchall()
            for row in rows:
                item = delivery(row, wanted)
                if item is not None:
                    await self._deliver(name, item)
                    await self._save(conn, name, item.seq)
                cursor = row[0]
            full = len(rows) == self.batch
            if not full:  # read up to `upto`: nothing this webhook sends lies before it
                cursor = upto
            if cursor > self.stats[name].cursor:  # past events it does not send
                await self._save(conn, name, cursor)
            if not full:
                await self.sleep(self.poll_seconds)

    async def _cursor(self, conn: psycopg.AsyncConnection[Any], name: str) -> int:
        """Where this webhook stopped; a new webhook starts after the events stored so far
        (a CRM added today is not sent a year of calls)."""
        cur = await conn.execute("SELECT seq FROM projections WHERE name = %s",
                                 (f"webhook:{name}",))
        row = await cur.fetchone()
        if row is not None:
            seq = int(row[0])
        else:
            seq = await self._committed_end(conn)
            await self._save(conn, name, seq)
        self.stats[name].cursor = seq
        return seq

    async def _committed_end(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """The highest seq below which every event has committed: seq is handed out at
        insert but visible at commit, so the SHARE lock waits out open inserts (as the
        reports' projection does); it is held only for this one statement."""
        async with conn.transaction():
            await conn.execute("LOCK TABLE events IN SHARE MODE")
            cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM events")
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _save(self, conn: psycopg.AsyncConnection[Any], name: str, seq: int) -> None:
        await conn.execute(
            "INSERT INTO projections (name, seq) VALUES (%s, %s) ON CONFLICT (name) "
            "DO UPDATE SET seq = greatest(projections.seq, EXCLUDED.seq)",
            (f"webhook:{name}", seq))
        self.stats[name].cursor = seq

    async def _deliver(self, name: str, item: Delivery) -> None:
        """POST until the receiver answers 2xx, waiting 2 s, 4 s, ... up to max_retry."""
        wait = self.first_retry
        while True:
            error = await self._post(name, item)
            stats = self.stats[name]
            if error is None:
                stats.delivered += 1
                return
            stats.failures += 1
            stats.last_error = error
            log.warning("webhook %s: %s %s not delivered (%s); trying again in %.0f s",
                        name, item.event, item.id, error, wait)
            await self.sleep(wait)
            wait = min(wait * 2, self.max_retry)

    async def _post(self, name: str, item: Delivery) -> str | None:
        """One try; None on a 2xx, else what went wrong."""
        hook, secret = self.hooks[name]
        timestamp = int(self.clock.now().timestamp())
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "callcenter-webhooks",
                   "X-Callcenter-Event": item.event,
                   "X-Callcenter-Delivery": str(item.id),
                   "X-Callcenter-Timestamp": str(timestamp),
                   "X-Callcenter-Signature": sign(secret, timestamp, item.body)}
        try:
            response = await self._client.post(hook.url, content=item.body, headers=headers,
                                               timeout=hook.timeout_seconds)
        except httpx.TimeoutException:
            return f"no answer within {hook.timeout_seconds} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
