"""`callcenter asterisk start|status|cli|stop` on a second rendered folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main
from tests.fix_asterisk import make_site

pytestmark = pytest.mark.asterisk


def test_start_status_cli_stop(tmp_path: Path) -> None:
    site = make_site(tmp_path / "s", asterisk={
        "sip_bind": "127.0.0.1", "sip_port": 16060, "ami_port": 16038, "agi_port": 16573})
    conf = tmp_path / "conf"
    runner = CliRunner()
    assert runner.invoke(main, ["render", str(site), "--out", str(conf)]).exit_code == 0
    res = runner.invoke(main, ["asterisk", "start", str(conf)])
    try:
        assert res.exit_code == 0, res.output
        assert "Asterisk running on" in res.output
        again = runner.invoke(main, ["asterisk", "start", str(conf)])
        assert again.exit_code == 0  # idempotent: already running
        status = runner.invoke(main, ["asterisk", "status", str(conf)])
        assert status.exit_code == 0 and "System uptime" in status.output
        shown = runner.invoke(main, ["asterisk", "cli", str(conf), "pjsip", "show",
                                     "transports"])
        assert "127.0.0.1:16060" in shown.output
    finally:
        stopped = runner.invoke(main, ["asterisk", "stop", str(conf)])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert runner.invoke(main, ["asterisk", "status", str(conf)]).exit_code == 3
