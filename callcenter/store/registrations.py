"""The desk phones' registrations the Kamailio proxies share (docs/cluster.md): Kamailio's own
`location` table in the database `proxy.database`, made from the SQL shipped beside the
Kamailio templates (asterisk_conf/kamailio/location.sql, Kamailio 5.6's schema)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from callcenter.render.templates import template_dirs
from callcenter.store.cluster import PROXY_ROLE, StoreError

__all__ = ["Registration", "ensure_location_tables", "location_sql", "registrations"]


@dataclass(frozen=True)
class Registration:
    """One phone's binding as a proxy saved it."""

    extension: str
    contact: str
    expires: dt.datetime
    server_id: int  # the proxy that took the REGISTER (its position in proxy.addresses)


def location_sql() -> str:
    """The statements that create the tables usrloc needs; each may run again."""
    path = template_dirs()[0] / "kamailio" / "location.sql"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot read Kamailio's schema {path}: {exc.strerror}") from exc


def ensure_location_tables(dsn: str, proxy_role: str = PROXY_ROLE) -> None:
    """Create Kamailio's `version` and `location` tables in `dsn` unless they exist, and
    grant `proxy_role` (the role the proxies log in as, which must exist) what usrloc needs
    of them: reading `version`, reading and writing `location`; nothing else."""
    import psycopg
    from psycopg import sql

    try:
        # one transaction (committed when the block ends), under a lock: two proxies
        # started together cannot interleave their CREATEs
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('kamailio location'))")
            for statement in location_sql().split(";"):
                body = "\n".join(ln for ln in statement.splitlines()
                                 if not ln.lstrip().startswith("--")).strip()
                if body:
                    conn.execute(body)
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                (proxy_role,)).fetchone():
                raise StoreError(f"the proxies' role {proxy_role!r} does not exist — create "
                                 f"it ('CREATE ROLE {proxy_role} LOGIN', its password in the "
                                 "proxy user's ~/.pgpass) and run this again")
            role = sql.Identifier(proxy_role)
            conn.execute(sql.SQL("GRANT SELECT ON version TO {}").format(role))
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON location TO {}")
                         .format(role))
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE location_id_seq TO {}").format(role))
    except psycopg.Error as exc:
        raise StoreError(f"cannot create Kamailio's location table: "
                         f"{str(exc).strip().splitlines()[0]}") from exc


def registrations(dsn: str) -> list[Registration]:
    """Every phone binding in the shared table, by extension."""
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute("SELECT username, contact, expires, server_id FROM location "
                                "ORDER BY username, contact").fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"cannot read the phones' registrations: "
                         f"{str(exc).strip().splitlines()[0]}") from exc
    return [Registration(*row) for row in rows]
