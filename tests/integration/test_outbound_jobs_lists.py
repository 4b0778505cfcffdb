"""The job store's do-not-call list and contacts' consent, against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from callcenter.outbound.jobs import JobError, JobStore
from callcenter.store import Cluster
from callcenter.store.contacts import import_contacts, read_contacts_csv
from tests.integration.test_outbound_jobs import run

pytestmark = pytest.mark.postgres


def test_dnc_and_consent(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        assert not await store.dnc_has("13700000001")
        await store.dnc_add("13700000001", "press9", "pressed 9")
        assert await store.dnc_has("13700000001")
        assert await store.dnc_import([("13700000001", "again"), ("13700000002", ""),
                                       ("13700000003", "csv")]) == 2
        assert await store.dnc_has("13700000003")
        assert await store.dnc_remove("13700000001")
        assert not await store.dnc_remove("13700000001")
        assert not await store.dnc_has("13700000001")
        with pytest.raises(JobError, match="row 2"):
            await store.dnc_import([("13700000004", ""), ("137-x", "")])
        assert not await store.dnc_has("13700000004")  # nothing of a bad file taken
        async with await psycopg.AsyncConnection.connect(store.dsn) as conn:
            await conn.execute("INSERT INTO contacts (number, consent) VALUES "
                               "('13600000001', true), ('13600000002', false)")
        assert await store.consent("13600000001")
        assert not await store.consent("13600000002")
        assert not await store.consent("13600000003")

    run(pg_cluster, "jobs_dnc", body)


def test_consent_from_the_contacts_csv(pg_cluster: Cluster, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("number,name,consent\n13600000001,A,yes\n13600000002,B,No\n"
                     "13600000003,C,\n13600000004,D,maybe\n13600000005,E,1\n",
                     encoding="utf-8")
    good, problems, _ = read_contacts_csv(first)
    assert [(p.line, p.column) for p in problems] == [(5, "consent")]
    assert "yes/no" in problems[0].message
    # later: the consent of 1 withdrawn, 5 not mentioned (kept), no consent column at all
    second = tmp_path / "second.csv"
    second.write_text("number,name,consent\n13600000001,A,0\n13600000005,E,\n",
                      encoding="utf-8")
    third = tmp_path / "third.csv"
    third.write_text("number,name\n13600000002,B2\n13600000003,C2\n", encoding="utf-8")

    async def body(store: JobStore) -> None:
        with psycopg.connect(store.dsn) as conn:
            import_contacts(conn, good)
        assert [await store.consent(f"1360000000{n}") for n in range(1, 6)] == [
            True, False, False, False, True]
        with psycopg.connect(store.dsn) as conn:
            assert import_contacts(conn, read_contacts_csv(second)[0]).updated == 2
            import_contacts(conn, read_contacts_csv(third)[0])
            assert conn.execute("SELECT name FROM contacts WHERE number = '13600000003'"
                                ).fetchone() == ("C2",)
        assert [await store.consent(f"1360000000{n}") for n in range(1, 6)] == [
            False, False, False, False, True]

    run(pg_cluster, "jobs_consent_csv", body)
