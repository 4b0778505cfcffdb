"""Versioned schema: `callcenter db upgrade` applies what is missing, safe to run twice, and
refuses a database whose schema is newer than this callcenter."""

from __future__ import annotations

import psycopg

from callcenter.store.cluster import StoreError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "current_version", "upgrade"]

# Each entry moves the schema one version up; never edit a released one, add a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: call events, each with a unique id so that spool replays are idempotent
    """
    CREATE TABLE events (
        id uuid PRIMARY KEY,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        call_id text,
        queue text,
        agent_id text,
        site text,
        data jsonb NOT NULL DEFAULT '{}'::jsonb
    );
    CREATE INDEX events_at ON events (at);
    CREATE INDEX events_call ON events (call_id);
    CREATE INDEX events_kind_at ON events (kind, at);
    """,
    # 2: contacts for the flows' lookup node
    """
    CREATE TABLE contacts (
        number text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        vip smallint NOT NULL DEFAULT 0 CHECK (vip BETWEEN 0 AND 9),
        region text NOT NULL DEFAULT '',
        language text NOT NULL DEFAULT 'zh'
    );
    """,
    # 3: store order and store time: `seq` follows insertion (the spool's order), so readers
    # can fold new events incrementally; `stored_at` shows how late a spooled event arrived
    """
    ALTER TABLE events ADD COLUMN seq bigserial;
    ALTER TABLE events ADD COLUMN stored_at timestamptz NOT NULL DEFAULT now();
    CREATE UNIQUE INDEX events_seq ON events (seq);
    CREATE INDEX events_agent_at ON events (agent_id, at) WHERE agent_id IS NOT NULL;
    """,
    # 4: one row per queue entry, folded from the events by callcenter.reports.projection
    # (reports read this; the events stay the record)
    """
    CREATE TABLE queue_entries (
        entry text PRIMARY KEY,
        call_id text,
        queue text NOT NULL,
        site text,
        entered_at timestamptz NOT NULL,
        reason text,
        from_queue text,
        priority integer,
        caller text,
        outcome text NOT NULL,
        wait_ms bigint,
        answered_at timestamptz,
        agent_id text,
        ring_ms bigint,
        talk_ms bigint,
        wrap_ms bigint,
        completed_by text,
        transferred_to text,
        missed_rings integer NOT NULL DEFAULT 0,
        abandoned_ringing boolean NOT NULL DEFAULT false,
        overflow_target text,
        callback_result text,
        last_seq bigint NOT NULL
    );
    CREATE INDEX queue_entries_at ON queue_entries (entered_at);
    CREATE INDEX queue_entries_queue_at ON queue_entries (queue, entered_at);
    CREATE INDEX queue_entries_agent_at ON queue_entries (agent_id, entered_at);
    CREATE TABLE projections (name text PRIMARY KEY, seq bigint NOT NULL);
    -- a fold finds the events of the entries it recomputes by this
    CREATE INDEX events_entry ON events ((data->>'entry')) WHERE data ? 'entry';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: psycopg.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def upgrade(dsn: str) -> list[int]:
    """Apply every missing migration in one transaction each; return the versions applied."""
    applied: list[int] = []
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(4242)")  # two upgrades never interleave
        have = current_version(conn)
        if have > SCHEMA_VERSION:
            raise StoreError(f"the database schema is version {have}, newer than this "
                             f"callcenter knows ({SCHEMA_VERSION}) — upgrade callcenter first")
        conn.commit()
        for version in range(have + 1, SCHEMA_VERSION + 1):
            with conn.transaction():
                conn.execute(MIGRATIONS[version - 1])
                conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
            applied.append(version)
    return applied
