"""The job store's lists: do-not-call, consent, paused campaigns, who was called when and
how often each pool number was shown (a base of jobs.JobStore)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from callcenter.outbound._jobs_base import StoreBase
from callcenter.outbound._jobs_types import JobError


class StoreLists(StoreBase):
    """Lists the dialler consults before each call."""

    async def attempts_since(self, number: str, since: dt.datetime) -> list[dt.datetime]:
        """When each attempt to `number` since `since` started (failed ones included)."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT started_at FROM outbound_attempts WHERE number = %s "
                "AND started_at >= %s ORDER BY started_at", (number, since))
            return [row[0] for row in await cur.fetchall()]

    async def usage(self, day: dt.date) -> dict[str, int]:
        """How often each pool number was presented on `day` (the date of start_attempt's
        `now` as the caller passed it)."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT number, uses FROM caller_id_usage WHERE day = %s", (day,))
            return {number: uses for number, uses in await cur.fetchall()}

    # -- changes by the API ---------------------------------------------------------------

    async def dnc_add(self, number: str, source: str, note: str = "") -> None:
        await self.dnc_import([(number, note)], source=source)

    async def dnc_import(self, rows: Iterable[tuple[str, str]], source: str = "import"
                         ) -> int:
        """Put (number, note) rows on the do-not-call list in one transaction; return how
        many numbers were not on it before."""
        rows = list(rows)
        for line, (number, _) in enumerate(rows, 1):
            if not (number.isdigit() and len(number) <= 32):
                raise JobError(f"do-not-call row {line}: {number!r} is not a phone number "
                               "(digits only)")
        async with self._conn() as conn:
            cur = await conn.execute(
                "INSERT INTO dnc (number, added_at, source, note) "
                "SELECT n, %s, %s, t FROM unnest(%s::text[], %s::text[]) AS r(n, t) "
                "ON CONFLICT (number) DO UPDATE SET note = EXCLUDED.note "
                "RETURNING (xmax = 0)",
                (self.clock.now(), source, [n for n, _ in rows], [t for _, t in rows]))
            return sum(1 for (new,) in await cur.fetchall() if new)

    async def dnc_remove(self, number: str) -> bool:
        async with self._conn() as conn:
            cur = await conn.execute("DELETE FROM dnc WHERE number = %s", (number,))
            return cur.rowcount > 0

    async def dnc_has(self, number: str) -> bool:
        async with self._conn() as conn:
            cur = await conn.execute("SELECT 1 FROM dnc WHERE number = %s", (number,))
            return await cur.fetchone() is not None

    async def consent(self, number: str) -> bool:
        """The contact's consent to non-service calls (no contact: no consent)."""
        async with self._conn() as conn:
            cur = await conn.execute("SELECT consent FROM contacts WHERE number = %s",
                                     (number,))
            row = await cur.fetchone()
            return bool(row and row[0])

    async def set_paused(self, campaign: str, paused: bool, by: str = "") -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO campaign_state (name, paused, changed_at, changed_by) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "paused = EXCLUDED.paused, changed_at = EXCLUDED.changed_at, "
                "changed_by = EXCLUDED.changed_by",
                (campaign, paused, self.clock.now(), by))

    async def paused(self) -> set[str]:
        async with self._conn() as conn:
            cur = await conn.execute("SELECT name FROM campaign_state WHERE paused")
            return {name for (name,) in await cur.fetchall()}
