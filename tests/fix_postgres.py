"""pytest plugin: a throwaway PostgreSQL cluster on a Unix socket for the session."""

from __future__ import annotations

import pwd
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from callcenter.store import Cluster, upgrade


def fresh_database(cluster: Cluster, name: str) -> str:
    """An empty database of the current schema in the session's throwaway cluster."""
    name = "t_" + re.sub(r"[^a-z0-9_]", "_", name.lower())[-40:]
    # owned by the daemon's role, which runs the migrations (no superuser)
    dsn = cluster.create_database(name, replace=True)
    upgrade(dsn)
    return dsn


def _proxy_user() -> str | None:
    """Kamailio's OS user (made by its package), let in as the proxies' role."""
    try:
        return pwd.getpwnam("kamailio").pw_name
    except KeyError:
        return None


@contextmanager
def throwaway_cluster(port: int) -> Iterator[Cluster]:
    """A started cluster in a temporary folder, removed afterwards."""
    # outside pytest's 0700 temp root: as root the cluster runs as the postgres user
    base = Path(tempfile.mkdtemp(prefix="cc-pg-"))
    base.chmod(0o755)
    cluster = Cluster(base / "cluster", port=port, proxy_client=_proxy_user())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    with throwaway_cluster(15432) as cluster:
        yield cluster


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of the test's own, for tests that stop and start it."""
    with throwaway_cluster(15433) as cluster:
        yield cluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"pg_cluster", "own_cluster"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
