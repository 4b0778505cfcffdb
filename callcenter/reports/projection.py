"""Queue entries folded from the events: one row per entry (docs/events.md), so reports on a
million calls read one narrow indexed table instead of re-deriving every call.

`refresh` takes the events stored since the last fold (by `seq`), recomputes just the entries
they touch from all of those entries' events, and moves the mark — in one transaction, under
an advisory lock, so two reports never fold twice and a fold is all or nothing.

The mark is only safe if no event can still commit below it, so the fold holds a SHARE lock
on `events`: it waits for open inserts to commit and holds new ones (daemons' recorders keep
them in their spools) until it is done."""

from __future__ import annotations

from typing import Any

__all__ = ["refresh"]

_LOCK = 4243

_TOUCHED = """
CREATE TEMP TABLE touched ON COMMIT DROP AS
    SELECT DISTINCT data->>'entry' AS entry FROM events
    WHERE seq > %(lo)s AND seq <= %(hi)s AND kind LIKE 'queue.%%' AND data ? 'entry'
"""
_DELETE = "DELETE FROM queue_entries q USING touched t WHERE q.entry = t.entry"
_INSERT = """
INSERT INTO queue_entries
SELECT entry, call_id, queue, site, entered_at, reason, from_queue, priority, caller,
       outcome,
       CASE outcome WHEN 'answered' THEN answer_wait WHEN 'abandoned' THEN abandon_wait
                    WHEN 'overflowed' THEN overflow_wait WHEN 'callback' THEN callback_wait
       END,
       answered_at, agent_id, ring_ms, talk_ms, wrap_ms, completed_by, transferred_to,
       missed_rings, abandoned_ringing, overflow_target, callback_result, last_seq
FROM (
"""
# one entry's events -> its row; `e` is the entry's events
_AGGREGATES = """
        (array_agg(e.call_id ORDER BY e.seq) FILTER (WHERE e.kind = 'queue.enter'))[1] AS call_id,
        (array_agg(e.queue ORDER BY e.seq) FILTER (WHERE e.kind = 'queue.enter'))[1] AS queue,
        (array_agg(e.site ORDER BY e.seq) FILTER (WHERE e.kind = 'queue.enter'))[1] AS site,
        min(e.at) FILTER (WHERE e.kind = 'queue.enter') AS entered_at,
        (array_agg(e.data->>'reason' ORDER BY e.seq)
            FILTER (WHERE e.kind = 'queue.enter'))[1] AS reason,
        (array_agg(e.data->>'from_queue' ORDER BY e.seq)
            FILTER (WHERE e.kind = 'queue.enter'))[1] AS from_queue,
        (array_agg((e.data->>'priority')::int ORDER BY e.seq)
            FILTER (WHERE e.kind = 'queue.enter'))[1] AS priority,
        (array_agg(e.data->>'caller' ORDER BY e.seq)
            FILTER (WHERE e.kind = 'queue.enter'))[1] AS caller,
        CASE WHEN bool_or(e.kind = 'queue.callback_request') THEN 'callback'
             WHEN bool_or(e.kind = 'queue.answer') THEN 'answered'
             WHEN bool_or(e.kind = 'queue.abandon') THEN 'abandoned'
             WHEN bool_or(e.kind = 'queue.overflow') THEN 'overflowed'
             ELSE 'unfinished' END AS outcome,
        min((e.data->>'wait_ms')::bigint) FILTER (WHERE e.kind = 'queue.answer') AS answer_wait,
        max((e.data->>'wait_ms')::bigint) FILTER (WHERE e.kind = 'queue.abandon') AS abandon_wait,
        max((e.data->>'wait_ms')::bigint) FILTER (WHERE e.kind = 'queue.overflow')
            AS overflow_wait,
        max((e.data->>'wait_ms')::bigint) FILTER (WHERE e.kind = 'queue.callback_request')
            AS callback_wait,
        min(e.at) FILTER (WHERE e.kind = 'queue.answer') AS answered_at,
        (array_agg(e.agent_id ORDER BY e.seq) FILTER (WHERE e.kind = 'queue.answer'))[1]
            AS agent_id,
        min((e.data->>'ring_ms')::bigint) FILTER (WHERE e.kind = 'queue.answer') AS ring_ms,
        sum((e.data->>'talk_ms')::bigint)
            FILTER (WHERE e.kind IN ('queue.complete', 'queue.transfer')) AS talk_ms,
        sum((e.data->>'wrap_ms')::bigint) FILTER (WHERE e.kind = 'queue.wrapup') AS wrap_ms,
        (array_agg(e.data->>'by' ORDER BY e.seq) FILTER (WHERE e.kind = 'queue.complete'))[1]
            AS completed_by,
        (array_agg(e.data->>'to_queue' ORDER BY e.seq)
            FILTER (WHERE e.kind = 'queue.transfer'))[1] AS transferred_to,
        count(*) FILTER (WHERE e.kind = 'queue.ringnoanswer') AS missed_rings,
        coalesce(bool_or(e.kind = 'queue.abandon' AND coalesce(e.data->>'ringing', '') <> ''),
                 false) AS abandoned_ringing,
        (array_agg(e.data->>'target' ORDER BY e.seq)
            FILTER (WHERE e.kind = 'queue.overflow'))[1] AS overflow_target,
        (array_agg(e.data->>'result' ORDER BY e.seq DESC)
            FILTER (WHERE e.kind = 'queue.callback_result'))[1] AS callback_result,
        max(e.seq) AS last_seq
"""
_EVENTS = "e.data ? 'entry' AND e.kind LIKE 'queue.%%' AND e.seq <= %(hi)s"
# every touched entry at once: one pass over the events, grouped (the first fold)
_FOLD_ALL = (_INSERT + "    SELECT e.data->>'entry' AS entry," + _AGGREGATES
             + "    FROM events e JOIN touched t ON e.data->>'entry' = t.entry\n"
             + "    WHERE " + _EVENTS + " GROUP BY e.data->>'entry'\n"
             + ") folded WHERE entered_at IS NOT NULL")
# a few touched entries among millions: each looked up through the entry index (a
# lateral aggregate is not flattened, so the planner cannot turn it into a full scan)
_FOLD_SOME = (_INSERT + "    SELECT t.entry AS entry, x.*\n"
              + "    FROM touched t CROSS JOIN LATERAL (SELECT" + _AGGREGATES
              + "        FROM events e WHERE e.data->>'entry' = t.entry AND " + _EVENTS
              + ") x\n) folded WHERE entered_at IS NOT NULL")


def refresh(conn: Any, *, per_entry: bool | None = None) -> int:
    """Fold the events stored since the last refresh; return how many were new.

    `per_entry` picks how touched entries are refolded — each through the entry index, or all
    in one grouped pass over the events; by default, per entry when they are under 5 % of the
    entries already folded."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        # seq is handed out at insert but visible at commit: with two writers, or a writer
        # whose batch is still open, a later seq can be visible first and the mark skip it
        conn.execute("LOCK TABLE events IN SHARE MODE")
        row = conn.execute("SELECT seq FROM projections WHERE name = 'queue_entries'"
                           ).fetchone()
        lo = row[0] if row else 0
        hi = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if hi <= lo:
            return 0
        touched = conn.execute(_TOUCHED, {"lo": lo, "hi": hi}).rowcount
        conn.execute("ANALYZE touched")
        if per_entry is None:
            folded = conn.execute("SELECT reltuples FROM pg_class "
                                  "WHERE oid = 'queue_entries'::regclass").fetchone()[0]
            per_entry = touched * 20 < folded
        conn.execute(_DELETE)
        if per_entry:
            conn.execute("SET LOCAL jit = off")  # compiling costs more than the few rows
            conn.execute(_FOLD_SOME, {"hi": hi})
        else:
            conn.execute(_FOLD_ALL, {"hi": hi})
        conn.execute("INSERT INTO projections VALUES ('queue_entries', %s) "
                     "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq", (hi,))
        return hi - lo
