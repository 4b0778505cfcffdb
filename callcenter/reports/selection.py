"""What a report's filters may name: the sites, queues and agents the site file and the
store know. A name nobody knows is a mistake to report, not a selection of zero calls."""

from __future__ import annotations

from typing import Any

__all__ = ["known_names", "store_is_empty", "unknown_filters"]

# distinct values walked through an index (a skip scan), not a scan of every event
_SKIP = """
WITH RECURSIVE v AS (
    SELECT min({col}) AS x FROM {table} WHERE {col} IS NOT NULL
    UNION ALL
    SELECT (SELECT min({col}) FROM {table} WHERE {col} > v.x) FROM v WHERE v.x IS NOT NULL
)
SELECT x FROM v WHERE x IS NOT NULL
"""
_SITES = """
SELECT DISTINCT site FROM queue_entries WHERE site IS NOT NULL
UNION SELECT DISTINCT site FROM events WHERE kind = 'agent.state' AND site IS NOT NULL
"""


def store_is_empty(conn: Any) -> bool:
    """No call event stored yet."""
    return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM events)").fetchone()[0]


def known_names(conn: Any, spec: Any = None) -> dict[str, set[str]]:
    """Sites, queues and agents of the site file (`SiteFile`, if given) and of the store."""
    names: dict[str, set[str]] = {
        "site": {r[0] for r in conn.execute(_SITES).fetchall()},
        "queue": {r[0] for r in conn.execute(
            _SKIP.format(col="queue", table="queue_entries")).fetchall()},
        "agent": {r[0] for r in conn.execute(
            _SKIP.format(col="agent_id", table="events")).fetchall()}}
    if spec is not None:
        names["site"] |= set(spec.sites)
        names["queue"] |= set(spec.queues)
        names["agent"] |= {a.id for a in spec.agents}
    return names


def unknown_filters(asked: dict[str, str | None], known: dict[str, set[str]]) -> list[str]:
    """One message per filter that names nothing known, listing the known names."""
    out = []
    for kind, value in asked.items():
        if value is not None and value not in known[kind]:
            choices = ", ".join(sorted(known[kind])) or "none yet"
            out.append(f"--{kind} {value!r} is not a known {kind} — known: {choices}")
    return out
