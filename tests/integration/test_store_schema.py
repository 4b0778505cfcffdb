"""The versioned schema against a real throwaway PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from callcenter.store import SCHEMA_VERSION, Cluster, current_version, upgrade
from callcenter.store.cluster import StoreError

pytestmark = pytest.mark.postgres


def fresh_db(cluster: Cluster, name: str) -> str:
    return cluster.create_database(name, replace=True)


def test_fresh_upgrade_then_idempotent(pg_cluster: Cluster) -> None:
    dsn = fresh_db(pg_cluster, "mig_fresh")
    assert upgrade(dsn) == list(range(1, SCHEMA_VERSION + 1))
    assert upgrade(dsn) == []
    with psycopg.connect(dsn) as conn:
        assert current_version(conn) == SCHEMA_VERSION
        conn.execute("INSERT INTO contacts (number, name, vip) VALUES ('138', 'x', 2)")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO contacts (number, vip) VALUES ('139', 12)")


def test_upgrade_path_from_version_1(pg_cluster: Cluster) -> None:
    from callcenter.store.migrations import MIGRATIONS

    dsn = fresh_db(pg_cluster, "mig_old")
    with psycopg.connect(dsn) as conn:
        current_version(conn)
        conn.execute(MIGRATIONS[0])
        conn.execute("INSERT INTO schema_version VALUES (1)")
    assert upgrade(dsn) == list(range(2, SCHEMA_VERSION + 1))


def test_refuses_a_newer_schema(pg_cluster: Cluster) -> None:
    dsn = fresh_db(pg_cluster, "mig_new")
    upgrade(dsn)
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this callcenter"):
        upgrade(dsn)


def test_db_upgrade_command(pg_cluster: Cluster) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main

    dsn = fresh_db(pg_cluster, "mig_cli")
    first = CliRunner().invoke(main, ["db", "upgrade", "--dsn", dsn])
    assert first.exit_code == 0 and "applied 1, 2, 3, 4" in first.output
    again = CliRunner().invoke(main, ["db", "upgrade", "--dsn", dsn])
    assert again.exit_code == 0 and "nothing to do" in again.output
