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
    # 5: outbound (docs/outbound.md): jobs the dialler places, each attempt (its id is the
    # Originate's channel id), the do-not-call list, contacts' consent, campaigns paused by
    # a supervisor and how often each pool number was shown per day (webhooks need no table
    # of their own: they are sent from the events, behind a cursor in `projections`)
    """
    CREATE TABLE outbound_jobs (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('reminder', 'lead', 'survey', 'callback')),
        campaign text NOT NULL,
        client text NOT NULL DEFAULT '',
        idempotency_key text,
        external_id text,
        number text NOT NULL,
        template text,
        variables jsonb NOT NULL DEFAULT '{}'::jsonb,
        not_before timestamptz NOT NULL,
        deadline timestamptz NOT NULL,
        state text NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'dialling', 'done', 'cancelled', 'expired',
                             'refused')),
        result text,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 1,
        retry_seconds integer NOT NULL DEFAULT 180,
        next_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        reason text,
        UNIQUE (client, idempotency_key)
    );
    CREATE INDEX outbound_jobs_due ON outbound_jobs (next_at) WHERE state = 'pending';
    CREATE INDEX outbound_jobs_external ON outbound_jobs (kind, external_id);
    CREATE INDEX outbound_jobs_campaign ON outbound_jobs (campaign, created_at);
    CREATE TABLE outbound_attempts (
        id uuid PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES outbound_jobs (id),
        number text NOT NULL,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        trunk text,
        caller_id text,
        caller_id_kind text,
        state text NOT NULL DEFAULT 'dialling'
            CHECK (state IN ('dialling', 'ended', 'unknown')),
        result text,
        dial_status text,
        amd text,
        lateness_ms bigint,
        data jsonb NOT NULL DEFAULT '{}'::jsonb
    );
    CREATE INDEX outbound_attempts_number ON outbound_attempts (number, started_at);
    CREATE INDEX outbound_attempts_job ON outbound_attempts (job_id);
    CREATE INDEX outbound_attempts_live ON outbound_attempts (started_at)
        WHERE state = 'dialling';
    CREATE TABLE dnc (
        number text PRIMARY KEY,
        added_at timestamptz NOT NULL DEFAULT now(),
        source text NOT NULL,
        note text NOT NULL DEFAULT ''
    );
    ALTER TABLE contacts ADD COLUMN consent boolean NOT NULL DEFAULT false;
    CREATE TABLE campaign_state (
        name text PRIMARY KEY,
        paused boolean NOT NULL DEFAULT false,
        changed_at timestamptz NOT NULL DEFAULT now(),
        changed_by text NOT NULL DEFAULT ''
    );
    CREATE TABLE caller_id_usage (
        day date NOT NULL,
        number text NOT NULL,
        uses integer NOT NULL DEFAULT 0,
        PRIMARY KEY (day, number)
    );
    """,
    # 6: several daemons (docs/cluster.md): the ACD leader's lease. `term` grows with every
    # new holder and fences a deposed leader's late actions; `backend_pid` is the holder's
    # lease connection, so a standby sees at once when that connection is gone
    """
    CREATE TABLE cluster_lease (
        name text PRIMARY KEY,
        holder text NOT NULL,
        term bigint NOT NULL,
        expires_at timestamptz NOT NULL,
        renewed_at timestamptz NOT NULL DEFAULT now(),
        backend_pid integer
    );
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
