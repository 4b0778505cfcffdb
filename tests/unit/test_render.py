"""The rendered configuration, parsed back (pyst2's config parser), says what the site says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from asterisk.config import Config

from callcenter.errors import RenderError
from callcenter.render import render_files, render_site
from callcenter.site import Site, load_site
from tests.fix_asterisk import make_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_site(tmp_path_factory.mktemp("site")), env={})


@pytest.fixture(scope="module")
def out(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("render")
    render_site(site, d)
    return d


def sections(path: Path) -> dict[str, list[dict[str, list[str]]]]:
    """Category name -> list of its instances (pjsip repeats names), each key -> values."""
    out: dict[str, list[dict[str, list[str]]]] = {}
    for cat in Config(str(path)).categories:
        items: dict[str, list[str]] = {}
        for item in cat.items:
            items.setdefault(item.name.strip(), []).append(item.value.strip().lstrip(">").strip())
        out.setdefault(cat.name, []).append(items)
    return out


def of_type(secs: dict, name: str, kind: str) -> dict[str, list[str]]:
    for inst in secs[name]:
        if inst.get("type") == [kind]:
            return inst
    raise AssertionError(f"no [{name}] of type {kind}")


def test_every_agent_has_endpoint_auth_and_aor(site: Site, out: Path) -> None:
    secs = sections(out / "pjsip.conf")
    for agent in site.spec.agents:
        ep = of_type(secs, agent.extension, "endpoint")
        assert ep["context"] == ["cc-agents"]
        assert ep["auth"] == [f"{agent.extension}-auth"]
        auth = of_type(secs, f"{agent.extension}-auth", "auth")
        assert auth["password"] == [site.secrets.sip_passwords[agent.id]]
        assert of_type(secs, agent.extension, "aor")["max_contacts"] == ["1"]


def test_trunks_have_identify_and_qualify(site: Site, out: Path) -> None:
    secs = sections(out / "pjsip.conf")
    for name, trunk in site.spec.trunks.items():
        ep = of_type(secs, f"trunk-{name}", "endpoint")
        assert ep["context"] == [f"cc-from-trunk-{name}"]
        aor = of_type(secs, f"trunk-{name}", "aor")
        assert aor["contact"] == [f"sip:{trunk.host}:{trunk.port}"]
        assert aor["qualify_frequency"] == [str(trunk.qualify_seconds)]
        assert of_type(secs, f"trunk-{name}", "identify")["match"] == [trunk.host]


def test_password_trunk_registers(tmp_path: Path) -> None:
    import yaml

    path = make_site(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["trunks"]["unicom"].update(identify="password", username="acct01", register=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    env = {"CALLCENTER_TRUNK_PASSWORD_UNICOM": "carrierpw1"}
    s = load_site(path, env=env)
    secs = sections(_write(render_files(s, tmp_path / "r"), tmp_path / "r") / "pjsip.conf")
    reg = of_type(secs, "trunk-unicom-reg", "registration")
    assert reg["client_uri"] == ["sip:acct01@127.0.0.12:15072"]
    assert of_type(secs, "trunk-unicom-auth", "auth")["password"] == ["carrierpw1"]


def _write(files: dict[str, str], d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def test_manager_is_loopback_only_with_generated_secret(site: Site, out: Path) -> None:
    secs = sections(out / "manager.conf")
    assert secs["general"][0]["bindaddr"] == ["127.0.0.1"]
    user = secs["callcenter"][0]
    assert user["secret"] == [site.secrets.ami_secret]
    assert len(site.secrets.ami_secret) >= 24
    assert user["deny"] == ["0.0.0.0/0.0.0.0"]
    assert user["permit"] == ["127.0.0.1/255.255.255.255"]
    assert (out / "manager.conf").stat().st_mode & 0o077 == 0


def test_modules_load_only_what_is_used(out: Path) -> None:
    secs = sections(out / "modules.conf")["modules"][0]
    assert secs["autoload"] == ["no"]
    loaded = secs["load"]
    assert "chan_pjsip.so" in loaded and "res_agi.so" in loaded
    assert "app_queue.so" not in loaded and "chan_iax2.so" not in loaded
    assert len(loaded) == len(set(loaded))


def test_asterisk_directories_point_into_the_output(out: Path) -> None:
    dirs = sections(out / "asterisk.conf")["directories"][0]
    assert dirs["astetcdir"] == [str(out.resolve())]
    assert dirs["astlogdir"] == [f"{out.resolve()}/log"]


def test_inbound_numbers_hand_over_to_agi_then_fallback(site: Site, out: Path) -> None:
    text = (out / "extensions.conf").read_text()
    secs = sections(out / "extensions.conf")
    inbound = secs["cc-inbound"][0]["exten"]
    for number in site.spec.numbers:
        mine = [line for line in inbound if line.startswith(f"{number.number},")]
        assert mine and f"AGI(${{CC_AGI}}/flow/{number.flow},{number.number})" in mine[0] + \
            " ".join(secs["cc-inbound"][0].get("same", []))
    assert "Goto(cc-fallback,s,1)" in text
    fb = " ".join(secs["cc-fallback"][0]["same"])
    assert "PJSIP/8001&PJSIP/8002&PJSIP/8003,20" in fb
    assert secs["globals"][0]["CC_AGI"] == [f"agi://127.0.0.1:14573/{site.secrets.agi_secret}"]
    assert len(site.secrets.agi_secret) >= 32  # the daemon refuses AGI paths without it
    assert oct((out / "extensions.conf").stat().st_mode & 0o777) == "0o600"


def test_outbound_routes_fail_over_in_order(site: Site, out: Path) -> None:
    secs = sections(out / "extensions.conf")
    for number in site.spec.numbers:
        body = " ".join(secs[f"cc-out-{number.number}"][0]["same"])
        first = body.index(f"cc-dial-trunk,s,1({number.first_route},")
        second = body.index(f"cc-dial-trunk,s,1({number.second_route},")
        assert first < body.index("CHANUNAVAIL") < second


def test_feature_codes_and_hints(site: Site, out: Path) -> None:
    secs = sections(out / "extensions.conf")
    agents = secs["cc-agents"][0]["exten"]
    for code in ("*21", "*22", "*23", "*24"):
        assert any(line.startswith(f"{code},1,Answer()") for line in agents)
    hints = secs["cc-hints"][0]["exten"]
    assert "8001,hint,PJSIP/8001" in hints


def test_render_is_deterministic(site: Site, tmp_path: Path) -> None:
    a = render_files(site, tmp_path / "x")
    b = render_files(site, tmp_path / "x")
    assert a == b
    render_site(site, tmp_path / "x")
    before = {p.name: p.read_bytes() for p in (tmp_path / "x").glob("*.conf")}
    assert render_site(site, tmp_path / "x") == []
    assert before == {p.name: p.read_bytes() for p in (tmp_path / "x").glob("*.conf")}


def test_failed_render_leaves_old_directory_untouched(site: Site, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "conf"
    render_site(site, d)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    monkeypatch.setattr(site.spec.company, "name", "evil; exten => 1,1,System(x)")
    with pytest.raises(RenderError, match="refusing to write unsafe text"):
        render_site(site, d)
    assert before == {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]


def test_music_on_hold_has_a_file_per_class(site: Site, out: Path) -> None:
    secs = sections(out / "musiconhold.conf")
    for cls, inst in secs.items():
        folder = Path(inst[0]["directory"][0])
        assert any(folder.iterdir()), cls


def test_stale_rendered_files_are_removed(site: Site, tmp_path: Path) -> None:
    d = tmp_path / "conf"
    render_site(site, d)
    manifest = d / ".callcenter-rendered"
    manifest.write_text(manifest.read_text() + "old.conf\n")
    (d / "old.conf").write_text("; stale")
    render_site(site, d)
    assert not (d / "old.conf").exists()
    assert os.path.exists(d / "pjsip.conf")


def test_carriers_are_known_by_address_only_and_phones_by_their_network(tmp_path: Path) -> None:
    import yaml

    path = make_site(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["trunks"]["telecom"]["match"] = ["198.51.100.7"]
    data["agents"][0]["networks"] = ["203.0.113.7"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    s = load_site(path, env={})
    secs = sections(_write(render_files(s, tmp_path / "r"), tmp_path / "r") / "pjsip.conf")
    assert secs["global"][0]["endpoint_identifier_order"] == ["ip,username"]
    ident = of_type(secs, "trunk-telecom", "identify")
    assert ident["match"] == sorted([s.spec.trunks["telecom"].host, "198.51.100.7"])
    assert of_type(secs, "trunk-telecom", "endpoint")["identify_by"] == ["ip"]
    first = s.spec.agents[0]
    phone = of_type(secs, first.extension, "endpoint")
    assert phone["identify_by"] == ["username"]
    assert phone["deny"] == ["0.0.0.0/0.0.0.0", "::/0"]
    assert phone["permit"] == sorted(["127.0.0.1/32", "203.0.113.7/32"])
    assert phone["contact_permit"] == phone["permit"]


def test_dtmf_modes_come_from_the_site_file(site: Site, out: Path, tmp_path: Path) -> None:
    import yaml

    secs = sections(out / "pjsip.conf")  # defaults: RFC 4733 everywhere
    assert of_type(secs, "trunk-telecom", "endpoint")["dtmf_mode"] == ["rfc4733"]
    assert of_type(secs, site.spec.agents[0].extension, "endpoint")["dtmf_mode"] == ["rfc4733"]
    path = make_site(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["trunks"]["unicom"]["dtmf_mode"] = "inband"
    data["asterisk"]["phone_dtmf_mode"] = "info"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    s = load_site(path, env={})
    secs = sections(_write(render_files(s, tmp_path / "r"), tmp_path / "r") / "pjsip.conf")
    assert of_type(secs, "trunk-unicom", "endpoint")["dtmf_mode"] == ["inband"]
    assert of_type(secs, "trunk-telecom", "endpoint")["dtmf_mode"] == ["rfc4733"]
    for agent in s.spec.agents:
        assert of_type(secs, agent.extension, "endpoint")["dtmf_mode"] == ["info"]


def test_a_single_carrier_renders_without_failover(tmp_path: Path) -> None:
    import yaml

    path = make_site(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["trunks"]["unicom"]
    for number in data["numbers"]:
        number["first_route"] = "telecom"
        number.pop("second_route")
    out = data["outbound"]
    out["caller_ids"] = [c for c in out["caller_ids"] if c["trunk"] != "unicom"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    s = load_site(path, env={})
    d = _write(render_files(s, tmp_path / "r"), tmp_path / "r")
    secs = sections(d / "extensions.conf")
    assert "cc-from-trunk-unicom" not in secs
    assert any(line.startswith("_X.,") or line.startswith("_+X.,")
               for line in secs["cc-from-trunk-telecom"][0]["exten"])
    inbound = secs["cc-inbound"][0]["exten"]
    for number in s.spec.numbers:
        assert any(line.startswith(f"{number.number},1,") for line in inbound)
        body = " ".join(secs[f"cc-out-{number.number}"][0]["same"])
        # one attempt through the one trunk, then hang up: no failover to the same carrier
        assert body.count("cc-dial-trunk,s,1(") == 1
        assert "cc-dial-trunk,s,1(telecom,${EXTEN},first)" in body
        assert "CallcenterRouteFailover" not in body and "(second)" not in body
        assert body.endswith("Hangup()")
    # a callback's customer leg fails over only to a second route that is another trunk
    callback = " ".join(secs["cc-callback"][0]["same"])
    assert '& "${CC_SECOND}" != "${CC_FIRST}"]?second)' in callback
    assert "trunk-unicom" not in (d / "pjsip.conf").read_text()
