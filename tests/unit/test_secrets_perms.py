"""The secrets file is refused when other users could read or change it, and placeholder or
guessable secrets are refused (finding 5 of issue 10)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
import yaml

from callcenter.errors import SecretsError, SiteError
from callcenter.site import load_site
from callcenter.site.secrets import check_file_safety, generate_secrets, weakness
from tests.fix_asterisk import make_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site")


def _problems(site: Path) -> str:
    with pytest.raises(SiteError) as err:
        load_site(site, env={})
    return str(err.value)


@pytest.mark.security
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_group_or_world_readable_file_is_refused(site: Path, mode: int) -> None:
    secrets = site.parent / "secrets.yaml"
    secrets.chmod(mode)
    text = _problems(site)
    assert f"chmod 600 {secrets.resolve()}" in text
    assert f"{mode:04o}" in text


@pytest.mark.security
def test_symlink_to_open_file_is_refused_by_its_target(site: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "real-secrets.yaml"
    real.parent.mkdir()
    secrets = site.parent / "secrets.yaml"
    real.write_bytes(secrets.read_bytes())
    real.chmod(0o666)
    secrets.unlink()
    secrets.symlink_to(real)
    assert f"chmod 600 {real.resolve()}" in _problems(site)
    real.chmod(0o600)
    assert load_site(site, env={}).secrets is not None


@pytest.mark.security
@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_file_of_another_user_is_refused(site: Path) -> None:
    secrets = site.parent / "secrets.yaml"
    nobody = pwd.getpwnam("nobody")
    os.chown(secrets, nobody.pw_uid, nobody.pw_gid)
    assert "belongs to user nobody" in _problems(site)


def test_private_file_is_accepted(site: Path) -> None:
    assert (site.parent / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert load_site(site, env={}).secrets is not None


def test_check_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="cannot read"):
        check_file_safety(tmp_path / "absent.yaml")


def _edit(site: Path, change) -> None:
    path = site.parent / "secrets.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.mark.security
@pytest.mark.parametrize("value", ["CHANGE-ME-please", "changeme123", "password",
                                   "Password1", "12345678", "aaaaaaaa"])
def test_placeholder_ami_secret_is_refused(site: Path, value: str) -> None:
    _edit(site, lambda d: d.update(ami_secret=value))
    assert "AMI secret is guessable" in _problems(site)


@pytest.mark.security
def test_placeholder_sip_password_and_env_override_are_refused(site: Path) -> None:
    agent = next(iter(yaml.safe_load((site.parent / "secrets.yaml").read_text())["agents"]))
    _edit(site, lambda d: d["agents"][agent].update(sip_password="changeme"))
    assert f"SIP password for agent {agent} is guessable" in _problems(site)
    with pytest.raises(SiteError, match="guessable"):
        load_site(site, env={f"CALLCENTER_SIP_PASSWORD_{agent}": "Str0ng-but-unique",
                             "CALLCENTER_AMI_SECRET": "CallCenter"})


@pytest.mark.security
@pytest.mark.parametrize("pin", ["1234", "4321", "123456", "0000", "999999", "12"])
def test_trivial_pins_are_refused(site: Path, pin: str) -> None:
    agent = next(iter(yaml.safe_load((site.parent / "secrets.yaml").read_text())["agents"]))
    _edit(site, lambda d: d["agents"][agent].update(pin=pin))
    text = _problems(site)
    assert f"login PIN for agent {agent}" in text


@pytest.mark.security
def test_generated_trunk_placeholder_must_be_replaced(tmp_path: Path) -> None:
    site = make_site(tmp_path / "s")
    data = yaml.safe_load(site.read_text(encoding="utf-8"))
    data["trunks"]["unicom"].update(identify="password", username="acct01")
    site.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    from callcenter.site import load_site_file

    generate_secrets(load_site_file(site), site.parent / "secrets.yaml")
    text = _problems(site)
    assert "password for trunk 'unicom' is guessable" in text
    assert "set the carrier's real one" in text
    _edit(site, lambda d: d["trunks"]["unicom"].update(password="Vq8-carrier-xk2"))
    assert load_site(site, env={}).secrets.trunk_passwords["unicom"] == "Vq8-carrier-xk2"


@pytest.mark.parametrize(("value", "pin", "weak"), [
    ("482913", True, False), ("135790", True, False), ("2468", True, False),
    ("Wd8kq2Lx0pZr", False, False), ("CHANGE-ME", False, True), ("s3cret", False, False),
])
def test_weakness(value: str, pin: bool, weak: bool) -> None:
    assert (weakness(value, pin=pin) is not None) is weak
