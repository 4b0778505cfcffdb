"""The command line: exit status, messages a person can act on, nothing written on error."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from callcenter.cli import main
from tests.fix_asterisk import make_site


def test_init_writes_a_checkable_site_with_private_secrets(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["init", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s" / "secrets.yaml").stat().st_mode & 0o077 == 0
    res = runner.invoke(main, ["check", str(tmp_path / "s" / "site.yaml")])
    assert res.exit_code == 0, res.output
    assert "OK — 2 sites, 6 agents, 5 queues, 2 trunks, 2 numbers" in res.output
    again = runner.invoke(main, ["init", str(tmp_path / "s")])
    assert again.exit_code == 2 and "--force" in again.output


def test_check_reports_every_problem_and_fails(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    text = site.read_text().replace("first_route: telecom", "first_route: telekom")
    text = text.replace("strategy: longest_idle", "strategy: loudest")
    site.write_text(text)
    res = CliRunner().invoke(main, ["check", str(site)])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.startswith(str(site))]
    assert len(lines) == 1  # type errors first; references are checked once types are right
    assert "'loudest' is not allowed" in lines[0]
    site.write_text(text.replace("strategy: loudest", "strategy: longest_idle"))
    res = CliRunner().invoke(main, ["check", str(site)])
    assert "unknown trunk 'telekom' — did you mean 'telecom'?" in res.output
    assert "nothing was written" in res.output


def test_render_writes_nothing_on_error(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    out = tmp_path / "out"
    site.write_text(site.read_text().replace("extension: '8002'", "extension: '8001'"))
    res = CliRunner().invoke(main, ["render", str(site), "--out", str(out)])
    assert res.exit_code == 1
    assert "duplicate extension 8001" in res.output
    assert not out.exists()


def test_render_then_rerender_reports_no_changes(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(main, ["render", str(site), "--out", str(out)])
    assert first.exit_code == 0 and "pjsip.conf" in first.output
    second = runner.invoke(main, ["render", str(site), "--out", str(out)])
    assert second.exit_code == 0 and "no changes" in second.output


def test_secrets_generate_fills_only_what_is_missing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    secrets = tmp_path / "secrets.yaml"
    before = secrets.read_text()
    res = CliRunner().invoke(main, ["secrets", "generate", str(site)])
    assert res.exit_code == 0 and "nothing missing" in res.output
    assert secrets.read_text() == before


def test_asterisk_status_without_asterisk_running(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["render", str(site), "--out", str(tmp_path / "conf")])
    res = runner.invoke(main, ["asterisk", "status", str(tmp_path / "conf")])
    assert res.exit_code == 3 and "not running" in res.output
    res = runner.invoke(main, ["asterisk", "cli", str(tmp_path / "nowhere"), "core show uptime"])
    assert res.exit_code == 1 and "callcenter render" in res.output
