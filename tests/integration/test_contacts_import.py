"""Contact import from CSV into a real PostgreSQL, and the live calls' lookup against it."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.store import Cluster
from callcenter.store.contacts import PgContacts
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

GOOD_AND_BAD = """number,name,vip,region,language
13800138000,Zhao Lei,2,Beijing,zh
+86 139-0013-9000,Sun Li,0,Sichuan,zh
12,Too Short,0,,zh
13700137000,Wrong Tier,12,,zh
13600136000,Wrong Language,0,,fr
13800138000,Zhao Lei again,1,,zh
13500135000,"Qian, Hong",1,Sichuan,yue
13400134000,Extra,0,,zh,surplus
1.38001E+10,Excel Mangled,0,,zh
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM contacts").fetchone()[0]


def test_import_reports_bad_rows_and_stores_good_ones(pg_cluster: Cluster,
                                                      tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "contacts_import")
    f = tmp_path / "contacts.csv"
    f.write_text(GOOD_AND_BAD, encoding="utf-8")
    dry = invoke("contacts", "import", str(f), "--dsn", dsn, "--dry-run")
    assert dry.exit_code == 1 and "3 good rows, 6 rejected" in dry.output and count(dsn) == 0
    res = invoke("contacts", "import", str(f), "--dsn", dsn, "--errors",
                 str(tmp_path / "errors.csv"))
    assert res.exit_code == 1
    out = res.output
    assert f"{f}:4: number: '12' is not a phone number" in out
    assert f"{f}:5: vip: '12' is not a VIP tier" in out
    assert f"{f}:6: language: 'fr'" in out
    assert f"{f}:7: number: 13800138000 is already on line 2" in out
    assert f"{f}:9: -: more cells than columns" in out
    assert f"{f}:10: number: Excel wrote '1.38001E+10' in scientific notation" in out
    assert "imported 3, updated 0, removed 0, rejected 6" in out
    assert len((tmp_path / "errors.csv").read_text().splitlines()) == 7
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT name, vip, language FROM contacts WHERE number = "
                            "'13500135000'").fetchone() == ("Qian, Hong", 1, "yue")
        assert conn.execute("SELECT 1 FROM contacts WHERE number = '13900139000'").fetchone()
    # again, cleaned, with one change: updates, and --replace removes what is gone
    f.write_text("number,name,vip\n13800138000,Zhao Lei,3\n13900139000,Sun Li,0\n",
                 encoding="utf-8")
    again = invoke("contacts", "import", str(f), "--dsn", dsn, "--replace")
    assert again.exit_code == 0, again.output
    assert "imported 0, updated 2, removed 1, rejected 0" in again.output
    assert invoke("contacts", "count", "--dsn", dsn).output.strip() == "2 contacts, 1 VIP"
    exported = invoke("contacts", "export", "--dsn", dsn).output.splitlines()
    assert exported[0] == "number,name,vip,region,language" and len(exported) == 3


def test_file_level_errors_write_nothing(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "contacts_file")
    f = tmp_path / "c.csv"
    f.write_text("phone,name\n13800138000,x\n", encoding="utf-8")
    res = invoke("contacts", "import", str(f), "--dsn", dsn)
    assert res.exit_code == 1 and "no 'number' column" in res.output and count(dsn) == 0
    f.write_text("number,name,email\n13800138000,x,a@b\n", encoding="utf-8")
    res = invoke("contacts", "import", str(f), "--dsn", dsn)
    assert "unknown column(s) email" in res.output and count(dsn) == 0
    # a sheet saved by Excel on Chinese Windows
    f.write_bytes("number,name\n13800138000,赵磊\n".encode("gb18030"))
    res = invoke("contacts", "import", str(f), "--dsn", dsn)
    assert res.exit_code == 0 and "(GB18030)" in res.output
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT name FROM contacts").fetchone() == ("赵磊",)


def test_live_lookup_is_quick_cached_and_gives_up_on_a_stuck_database(
        pg_cluster: Cluster) -> None:
    from psycopg_pool import AsyncConnectionPool

    from callcenter.ivr.engine import run_flow
    from callcenter.ivr.simulate import ScriptedIO
    from callcenter.site import load_site
    from tests.fix_asterisk import make_site

    dsn = fresh_database(pg_cluster, "contacts_lookup")
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO contacts VALUES ('13700137000', 'Wu Fang', 3, 'Beijing', "
                     "'zh')")
    import tempfile

    site = load_site(make_site(Path(tempfile.mkdtemp()) / "site"))

    async def go() -> None:
        pool = AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False)
        await pool.open()
        contacts = PgContacts(lambda: pool, timeout=0.3)
        try:
            found = await contacts.find("+86 137 0013 7000")
            assert found is not None and found.name == "Wu Fang" and found.vip == 3
            # the flow's lookup node uses it: the VIP tier becomes the call's priority
            io = ScriptedIO("13700137000", ["3"], dt.datetime(2026, 11, 24, 20, 5),
                            echo=lambda s: None, silent_after=False)
            outcome = await run_flow(site, "main", io, number="4008001234",
                                     contacts=contacts)
            assert outcome.variables["contact_name"] == "Wu Fang" and outcome.priority == 3
            # a database that holds a lock: the caller waits 0.3 s at most, as unknown
            blocker = threading.Event()
            release = threading.Event()

            def hold_lock() -> None:
                with psycopg.connect(dsn) as conn:
                    conn.execute("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")
                    blocker.set()
                    release.wait(10)

            t = threading.Thread(target=hold_lock)
            t.start()
            blocker.wait(5)
            t0 = time.monotonic()
            assert await contacts.find("13800138000") is None
            assert time.monotonic() - t0 < 0.8 and contacts.timeouts == 1
            # the cached answer needs no database at all
            assert (await contacts.find("13700137000")).name == "Wu Fang"
            release.set()
            t.join(10)
        finally:
            await pool.close()

    asyncio.run(go())
