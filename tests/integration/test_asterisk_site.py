"""The rendered example site in a real Asterisk: it boots clean and has what the site says."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.fix_asterisk import AMI_PORT, RunningAsterisk

pytestmark = pytest.mark.asterisk


def test_boot_log_has_no_errors_or_warnings(asterisk: RunningAsterisk) -> None:
    assert asterisk.boot_log  # Asterisk logged its start
    bad = [line for line in asterisk.boot_log.splitlines()
           if re.search(r"\b(ERROR|WARNING)\[", line)]
    assert bad == []


def test_every_configured_module_is_running(asterisk: RunningAsterisk) -> None:
    conf = (asterisk.conf_dir / "modules.conf").read_text()
    wanted = re.findall(r"^load = (\S+)$", conf, re.M)
    shown = asterisk.cli("module show")
    running = set(re.findall(r"^(\S+\.so)\s.*\bRunning\b", shown, re.M))
    assert set(wanted) <= running, set(wanted) - running


def test_endpoints_and_trunks_exist(asterisk: RunningAsterisk) -> None:
    shown = asterisk.cli("pjsip show endpoints")
    for agent in asterisk.site.spec.agents:
        assert re.search(rf"Endpoint:\s+{agent.extension}/", shown), agent.extension
    for trunk in asterisk.site.spec.trunks:
        assert f"trunk-{trunk}" in shown
    aors = asterisk.cli("pjsip show aors")
    assert "trunk-telecom/sip:127.0.0.11:15071" in aors


def test_contexts_exist(asterisk: RunningAsterisk) -> None:
    for ctx in ("cc-inbound", "cc-fallback", "cc-agents", "cc-out-4008001234", "cc-out-95123",
                "cc-from-trunk-telecom", "cc-from-trunk-unicom"):
        assert f"Context '{ctx}'" in asterisk.cli(f"dialplan show {ctx}")
    assert "'4008001234'" in asterisk.cli("dialplan show 4008001234@cc-inbound")


def test_ami_login_with_rendered_secret(asterisk: RunningAsterisk) -> None:
    async def go() -> None:
        manager = await asterisk.ami()
        try:
            reply = await asyncio.wait_for(manager.send_action({"Action": "CoreStatus"}), 5)
            assert reply.Response == "Success"
            # the daemon's AMI user has no `command` class (tests/integration/test_privilege.py)
            reply = await asyncio.wait_for(
                manager.send_action({"Action": "Command", "Command": "pjsip show endpoints"}), 5)
            assert reply.Response == "Error"
        finally:
            manager.close()

    asyncio.run(go())


def test_ami_refuses_a_wrong_secret(asterisk: RunningAsterisk) -> None:
    async def go() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", AMI_PORT)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: callcenter\r\nSecret: wrong-secret\r\n\r\n")
        await writer.drain()
        reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
        return reply.decode()

    assert "Authentication failed" in asyncio.run(go())
