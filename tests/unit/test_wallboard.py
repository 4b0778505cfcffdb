"""The wallboard's drawing, and `callcenter top` against a real status socket."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from callcenter.acd.live.staffing import COLUMNS, Staffing
from callcenter.agents import AgentBook
from callcenter.cli import main
from callcenter.daemon.app import status_socket
from callcenter.daemon.status import StatusServer
from callcenter.reports.wallboard import render_wallboard
from callcenter.site import load_site_file

EXAMPLE = Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml"

pytestmark = pytest.mark.clock  # dates and hours: also run under a fake date

BOARD = {"at": "2026-11-24T12:00:00+00:00", "day": "2026-11-24",
         "queues": {"tech": {"name": "Tech support", "waiting": 2, "longest_wait_s": 35.2,
                             "ready": 1, "busy": 3, "paused": 1, "logged_in": 5,
                             "offered": 120, "answered": 100, "abandoned": 15,
                             "short_abandoned": 3, "answered_within_sl": 80,
                             "sl_seconds": 20, "answer_rate": 0.8547,
                             "service_level": 0.7273},
                    "sales": {"name": "Sales", "waiting": 0, "longest_wait_s": 0,
                              "ready": 2, "busy": 0, "paused": 0, "logged_in": 2,
                              "offered": 0, "answered": 0, "abandoned": 0,
                              "sl_seconds": 20, "answer_rate": None, "service_level": None}},
         "agents": [{"id": "1001", "name": "Li Lei", "site": "bj-hq", "state": "paused",
                     "reason": "lunch", "since": 1000.0, "device": "8001"},
                    {"id": "1002", "name": "Li Na", "site": "bj-hq", "state": "on_call",
                     "reason": "", "since": 1700.0, "device": "8002"}]}


@contextmanager
def serving(conf: Path, doc: dict) -> Iterator[None]:
    """A status socket under `conf` answering `doc`, as the running daemon's would."""
    server = StatusServer(status_socket(conf), lambda: doc)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()  # its self-pipe sockets: a ResourceWarning (an error) if left open


def text_of(board: dict, now: float) -> str:
    console = Console(record=True, width=140, file=io.StringIO())
    console.print(render_wallboard(board, now=now))
    return console.export_text()


def test_frame_shows_queues_and_agents() -> None:
    text = text_of(BOARD, now=1760.0)
    assert "tech" in text and "85.5%" in text and "72.7%" in text
    assert "00:35" in text  # longest wait
    assert "Li Lei" in text and "lunch" in text and "12:40" in text  # 760 s paused
    assert "01:00" in text  # Li Na on a call for 60 s
    assert "–" in text  # nothing offered yet in sales: no rate


def test_top_once_reads_the_daemon_socket(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    with serving(conf, {"wallboard": BOARD}):
        res = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf)])
        assert res.exit_code == 0, res.output
        assert "tech" in res.output and "Li Na" in res.output and "Queues" in res.output
    gone = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf)])
    assert gone.exit_code == 1 and "is 'callcenter run' running" in gone.output


def test_staff_is_who_the_scheduler_counts() -> None:
    """Site and skills both decide (acd.rules.serves): with every example agent logged in,
    a site-bound queue counts only its own site's agents."""
    spec = load_site_file(EXAMPLE)
    book = AgentBook([a.id for a in spec.agents], clock=lambda: 1.0)
    staffing = Staffing(spec, book)
    for a in spec.agents:
        book.login(a.id, a.extension)
    logged = {q: staffing.counts(q)["logged_in"] for q in spec.queues}
    assert (logged["course-bj"], logged["course-cd"], logged["tech"]) == (2, 3, 1)
    assert staffing.staff["tech"] == ["1002"]  # 2003 has the skill but works in Chengdu
    assert logged["sales"] == 2  # a national queue takes both sites
    book.pause("1001", "unreachable")
    book.ringing("1002")
    book.answered("1002")
    assert staffing.counts("course-bj") == {
        "ready": 0, "busy": 1, "paused": 1, "logged_in": 2, "unreachable": 1}
    assert "course-bj" not in staffing.unreachable_queues()  # 1002 is on a call
    book.call_ended("1002", False)
    book.pause("1002", "unreachable")
    assert "course-bj" in staffing.unreachable_queues()
    for a in spec.agents:
        book.logout(a.id)
    assert all(staffing.counts(q) == dict.fromkeys(COLUMNS, 0) for q in spec.queues)
    assert staffing.unreachable_queues() == []


def board_of_example() -> dict:
    queues = {q: dict(BOARD["queues"]["tech"], name=n) for q, n in
              (("sales", "试听课预约 Trial-lesson sales"),
               ("course-bj", "北京校区课程服务 Course service, Beijing campus"),
               ("course-cd", "成都校区课程服务 Course service, Chengdu campus"),
               ("tech", "技术支持 Tech support"), ("complaints", "投诉 Complaints (HQ)"))}
    return dict(BOARD, queues=queues)


@pytest.mark.parametrize("lang, headers", [
    ("en", ["waiting", "longest", "ready", "busy", "paused", "logged in", "offered",
            "answered", "abandoned", "answer rate", "service level"]),
    ("zh", ["排队", "最长等待", "空闲", "忙碌", "小休", "已登录", "呼入量", "接通量", "放弃",
            "接通率", "服务水平"])])
@pytest.mark.parametrize("width", [80, 140])
def test_headers_and_queues_fit_the_terminal(lang: str, headers: list[str],
                                             width: int) -> None:
    from rich.cells import cell_len

    console = Console(record=True, width=width, file=io.StringIO())
    console.print(render_wallboard(board_of_example(), now=1760.0, lang=lang))
    text = console.export_text()
    assert "…" not in text
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= width
    assert all(f" {h} " in text for h in headers)  # whole, between the column gaps
    rows = [line.split()[0] for line in text.splitlines() if line.strip()]
    assert rows.count("course-bj") == rows.count("course-cd") >= 1  # told apart
    if lang == "zh":
        assert "小休" in text.split("坐席")[-1]  # the agents' states too


def test_top_speaks_the_sites_language_at_80_columns(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    doc = {"wallboard": board_of_example(), "site": str(EXAMPLE)}  # example: language zh
    with serving(conf, doc):
        run = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf)],
                                 env={"COLUMNS": "80", "LINES": "50"})
        assert run.exit_code == 0, run.output
        assert "接通率" in run.output and "服务水平" in run.output and "…" not in run.output
        assert "course-bj" in run.output and "course-cd" in run.output
        en = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf), "--lang", "en"],
                                env={"COLUMNS": "80", "LINES": "50"})
        assert "answer rate" in en.output and "接通率" not in en.output
