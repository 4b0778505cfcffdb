"""The store: every call event in PostgreSQL (issue 5; the cluster and schema come first)."""

from callcenter.store.cluster import Cluster
from callcenter.store.migrations import SCHEMA_VERSION, current_version, upgrade

__all__ = ["SCHEMA_VERSION", "Cluster", "current_version", "upgrade"]
