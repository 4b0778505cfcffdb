"""The private PostgreSQL's access rules (callcenter/store/cluster.py), read from the files it
writes: which OS user may log in as which role, and who may reach the socket."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from callcenter.store.cluster import OWNER_ROLE, PROXY_ROLE, Cluster, StoreError


def _ident(cluster: Cluster) -> set[tuple[str, str]]:
    cluster.data.mkdir(parents=True, exist_ok=True)
    cluster._write_access()
    lines = (cluster.data / "pg_ident.conf").read_text(encoding="utf-8").splitlines()
    return {(u, r) for _m, u, r in (ln.split() for ln in lines if not ln.startswith("#"))}


def test_the_proxy_user_is_let_in_as_the_proxy_role_only(tmp_path: Path) -> None:
    if os.geteuid() == 0 and "postgres" not in {p.pw_name for p in pwd.getpwall()}:
        pytest.fail("PostgreSQL's user 'postgres' is needed: apt-get install postgresql")
    cluster = Cluster(tmp_path / "pg", client="nobody", proxy_client="daemon")
    pairs = _ident(cluster)
    assert ("daemon", PROXY_ROLE) in pairs
    assert ("daemon", OWNER_ROLE) not in pairs and ("nobody", PROXY_ROLE) not in pairs
    assert ("nobody", OWNER_ROLE) in pairs
    # without a proxy, nobody is mapped to the proxies' role
    assert not {r for _u, r in _ident(Cluster(tmp_path / "pg2", client="nobody"))
                if r == PROXY_ROLE}


def test_the_socket_group_is_the_proxys_when_the_daemon_needs_none(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    cluster = Cluster(tmp_path / "pg", client=me, run_as=me, proxy_client="daemon")
    assert cluster._client_group() == grp.getgrgid(pwd.getpwnam("daemon").pw_gid).gr_name
    assert Cluster(tmp_path / "pg", client=me, run_as=me)._client_group() is None


def test_a_proxy_outside_the_daemons_group_is_told_how_to_join(tmp_path: Path) -> None:
    client = "nobody"
    group = grp.getgrgid(pwd.getpwnam(client).pw_gid).gr_name
    cluster = Cluster(tmp_path / "pg", client=client, proxy_client="daemon")
    if "daemon" in grp.getgrnam(group).gr_mem:
        pytest.fail(f"this machine has 'daemon' in group {group}: the test needs it outside")
    with pytest.raises(StoreError, match=f"adduser daemon {group}"):
        cluster._client_group()


def test_an_unknown_proxy_user_is_a_clear_error(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "pg", client="nobody", proxy_client="no-such-user-cc")
    with pytest.raises(StoreError, match="install Kamailio"):
        cluster._client_group()
