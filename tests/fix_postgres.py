"""pytest plugin: a throwaway PostgreSQL cluster on a Unix socket for the session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.store import Cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    # outside pytest's 0700 temp root: as root the cluster runs as the postgres user
    base = Path(tempfile.mkdtemp(prefix="cc-pg-"))
    base.chmod(0o755)
    cluster = Cluster(base / "cluster", port=15432)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
