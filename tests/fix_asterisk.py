"""pytest plugin: the example site, rendered, and a real Asterisk running it.

Tests use their own ports (SIP 15060, AMI 15038, FastAGI 14573, carriers 15071/15072) so a
demo Asterisk left running on the standard ports does not disturb them."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest
import yaml

from callcenter.asterisk import cli, locate, start, stop
from callcenter.errors import AsteriskError
from callcenter.render import render_site
from callcenter.site import Site, load_site, load_site_file
from callcenter.site.secrets import generate_secrets

SIP_PORT = 15060
AMI_PORT = 15038
AGI_PORT = 14573
METRICS_PORT = 15090
API_PORT = 15480
CARRIER_PORTS = {"telecom": 15071, "unicom": 15072}
# carriers are recognised by their address alone, so in the tests they get addresses of their
# own on the loopback network; desk phones register from 127.0.0.1
CARRIER_IPS = {"telecom": "127.0.0.11", "unicom": "127.0.0.12"}
PHONE_IP = "127.0.0.1"


def make_site(directory: Path, **overrides: object) -> Path:
    """Copy the shipped example site into `directory` with the test ports and secrets."""
    with resources.as_file(resources.files("callcenter") / "example") as src:
        shutil.copytree(src, directory, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    path = directory / "site.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["asterisk"].update(sip_port=SIP_PORT, ami_port=AMI_PORT, agi_port=AGI_PORT)
    data["metrics"] = {"port": METRICS_PORT}
    for name, port in CARRIER_PORTS.items():
        data["trunks"][name]["port"] = port
        data["trunks"][name]["host"] = CARRIER_IPS[name]
        data["trunks"][name]["qualify_seconds"] = 2
    for office in data["sites"].values():  # desk phones only from the phones' address
        office["phone_networks"] = [f"{PHONE_IP}/32"]
    for queue in data["queues"].values():  # short rings and wrap-ups keep the tests quick
        queue.update(ring_seconds=4, wrap_up_seconds=2)
    data["queues"]["sales"]["callback_offer_after_seconds"] = 2
    data["queues"]["complaints"]["max_wait_seconds"] = 6
    out = data["outbound"]
    out["api"] = {"host": "127.0.0.1", "port": API_PORT}
    # automatic calls: short rings, and a retry within the minute stays within the limits
    out["limits"]["per_minute"] = 3
    for campaign in out["campaigns"].values():
        campaign["ring_seconds"] = 6
    for key, value in overrides.items():
        data[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    generate_secrets(load_site_file(path), directory / "secrets.yaml")
    return path


@dataclass
class RunningAsterisk:
    """An Asterisk started by the tests on a rendered folder."""

    site: Site
    conf_dir: Path
    boot_log: str = ""

    def cli(self, command: str) -> str:
        return cli(self.conf_dir, command)

    def restart(self) -> None:
        """`core restart now`, then wait until Asterisk is fully booted again."""
        import time

        self.cli("core restart now")
        time.sleep(1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if "fully booted" in self.cli("core waitfullybooted").lower():
                    return
            except AsteriskError:  # still coming back
                time.sleep(0.5)
        raise AssertionError("Asterisk did not come back after a restart")

    def log(self) -> str:
        path = self.conf_dir / "log" / "messages.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    async def ami(self, username: str = "callcenter", secret: str | None = None):
        """A logged-in panoramisk Manager (close it when done)."""
        from panoramisk import Manager

        manager = Manager(host="127.0.0.1", port=AMI_PORT, username=username,
                          secret=secret if secret is not None else self.site.secrets.ami_secret,
                          ping_delay=0, reconnect_timeout=1)
        await asyncio.wait_for(manager.connect(), 10)
        return manager


def require_asterisk() -> None:
    """Fail (never skip) a test that needs Asterisk on a machine without it."""
    try:
        locate()
    except AsteriskError as exc:
        pytest.fail(f"Asterisk is needed for this test: {exc}")


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_site(tmp_path_factory.mktemp("site")))


@pytest.fixture(scope="session")
def asterisk(example_site: Site, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[RunningAsterisk]:
    """A real Asterisk running the rendered example site for the whole session."""
    require_asterisk()
    conf_dir = tmp_path_factory.mktemp("asterisk")
    render_site(example_site, conf_dir)
    start(conf_dir, timeout=90)
    running = RunningAsterisk(example_site, conf_dir)
    running.boot_log = running.log()
    try:
        yield running
    finally:
        stop(conf_dir)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "asterisk" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asterisk)
