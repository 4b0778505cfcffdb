"""The wallboard's drawing, and `callcenter top` against a real status socket."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from callcenter.cli import main
from callcenter.daemon.app import status_socket
from callcenter.daemon.status import StatusServer
from callcenter.reports.wallboard import render_wallboard

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


def text_of(board: dict, now: float) -> str:
    console = Console(record=True, width=140, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_wallboard(board, now=now))
    return console.export_text()


def test_frame_shows_queues_and_agents() -> None:
    text = text_of(BOARD, now=1760.0)
    assert "Tech support" in text and "85.5%" in text and "72.7%" in text
    assert "00:35" in text  # longest wait
    assert "Li Lei" in text and "lunch" in text and "12:40" in text  # 760 s paused
    assert "01:00" in text  # Li Na on a call for 60 s
    assert "–" in text  # nothing offered yet in sales: no rate


def test_top_once_reads_the_daemon_socket(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    server = StatusServer(status_socket(conf), lambda: {"wallboard": BOARD})
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
        res = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf)])
        assert res.exit_code == 0, res.output
        assert "Tech" in res.output and "Li Na" in res.output and "Queues" in res.output
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    gone = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf)])
    assert gone.exit_code == 1 and "is 'callcenter run' running" in gone.output
