"""The Kamailio proxies' configuration (callcenter/render/kamailio.py) and the nodes'
side of it (pjsip.conf in cluster mode): deterministic, accepted by `kamailio -c`, secrets
0600, every node rendered with its own addresses and trusting only the proxies."""

from __future__ import annotations

import dataclasses
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from callcenter.errors import RenderError
from callcenter.render import render_files
from callcenter.render.kamailio import (
    AGENT_HEADER,
    TRUNK_HEADER,
    check_config,
    config_name,
    db_url,
    kamailio_files,
    write_kamailio,
)
from callcenter.render.nodes import node_site, render_cluster
from callcenter.site import Site, load_site
from tests.fix_cluster import NODES, PROXIES, make_cluster_site

KAMAILIO = shutil.which("kamailio") or (
    "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_cluster_site(tmp_path_factory.mktemp("centre")))


def edited_site(tmp_path: Path, edit) -> Site:
    path = make_cluster_site(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return load_site(path)


def test_rendering_is_deterministic(centre: Site, tmp_path: Path) -> None:
    first = kamailio_files(centre)
    again = kamailio_files(load_site(centre.path))
    assert first == again
    assert sorted(first) == sorted([config_name(a) for a in PROXIES]
                                   + ["credentials.cfg", "dispatcher.list"])
    # the same files written twice: nothing changes the second time
    out = tmp_path / "kamailio"
    assert write_kamailio(first, out)
    assert write_kamailio(again, out) == []


def test_each_proxy_listens_on_its_own_address(centre: Site) -> None:
    files = kamailio_files(centre)
    port = centre.spec.proxy.sip_port
    for i, addr in enumerate(PROXIES, start=1):
        text = files[config_name(addr)]
        assert f"listen=udp:{addr}:{port}\n" in text
        assert f"server_id={i}\n" in text
        others = [a for a in PROXIES if a != addr]
        assert not any(f"listen=udp:{o}" in text for o in others)


def test_dispatcher_lists_every_node_weighted_by_capacity(tmp_path: Path) -> None:
    def edit(data: dict) -> None:
        data["nodes"]["media-2"]["capacity"] = 50

    files = kamailio_files(edited_site(tmp_path, edit))
    lines = [ln for ln in files["dispatcher.list"].splitlines() if ln and ln[0] != "#"]
    assert lines == [f"1 sip:{NODES['media-1']}:15160 0 0 rweight=100;node=media-1",
                     f"1 sip:{NODES['media-2']}:15160 0 0 rweight=50;node=media-2"]


def test_probing_follows_the_site(centre: Site) -> None:
    text = kamailio_files(centre)[config_name(PROXIES[0])]
    assert 'modparam("dispatcher", "ds_ping_interval", 1)' in text
    assert 'modparam("dispatcher", "ds_probing_threshold", 1)' in text
    assert 'modparam("usrloc", "db_mode", 3)' in text
    assert 'failure_route[NODE_FAILED]' in text


def test_carriers_are_known_by_address_and_stamped(centre: Site) -> None:
    text = kamailio_files(centre)[config_name(PROXIES[0])]
    for name, trunk in centre.spec.trunks.items():
        block = f'if (is_in_subnet("$si", "{trunk.host}/32")) {{\n\t\t$var(trunk) = "{name}";'
        assert block in text
    # a sender's own header never reaches a node
    assert f'remove_hf("{TRUNK_HEADER}");' in text and f'remove_hf("{AGENT_HEADER}");' in text
    assert f'append_hf("{TRUNK_HEADER}: $var(trunk)\\r\\n");' in text


def test_credentials_hold_digests_not_passwords(centre: Site, tmp_path: Path) -> None:
    files = kamailio_files(centre)
    creds = files["credentials.cfg"]
    for agent in centre.spec.agents:
        assert f"$sht(cc_ha1=>{agent.extension}) = " in creds
    for password in centre.secrets.sip_passwords.values():
        assert all(password not in text for text in files.values())
    assert centre.secrets.ami_secret not in creds


def test_secrets_file_is_0600_and_the_rest_closed_to_others(centre: Site,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "kamailio"
    write_kamailio(kamailio_files(centre), out)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes["credentials.cfg"] == 0o600
    assert all(m & 0o007 == 0 for m in modes.values()), modes
    assert stat.S_IMODE(out.stat().st_mode) & 0o007 == 0
    # the folder's own path, for the dispatcher list
    assert f'"{out.resolve()}/dispatcher.list"' in (out / "paths.cfg").read_text()


def test_a_proxy_dropped_from_the_site_loses_its_file(centre: Site, tmp_path: Path) -> None:
    out = tmp_path / "kamailio"
    write_kamailio(kamailio_files(centre), out)
    spec = centre.spec
    one = dataclasses.replace(spec, proxy=dataclasses.replace(spec.proxy,
                                                              addresses=PROXIES[:1]))
    write_kamailio(kamailio_files(dataclasses.replace(centre, spec=one)), out)
    assert (out / config_name(PROXIES[0])).exists()
    assert not (out / config_name(PROXIES[1])).exists()


@pytest.mark.skipif(KAMAILIO is None, reason="kamailio is not installed (scripts/"
                    "install-kamailio): its own check of the rendered configuration skipped")
def test_kamailio_accepts_every_rendered_config(centre: Site, tmp_path: Path) -> None:
    out = tmp_path / "kamailio"
    write_kamailio(kamailio_files(centre), out)
    for addr in PROXIES:
        check_config(out / config_name(addr))


@pytest.mark.skipif(KAMAILIO is None, reason="kamailio is not installed (scripts/"
                    "install-kamailio): its own check of the rendered configuration skipped")
def test_kamailio_check_reports_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text('#!KAMAILIO\nloadmodule "no_such_module.so"\n', encoding="utf-8")
    with pytest.raises(RenderError, match="kamailio refuses"):
        check_config(bad)


def test_database_url_names_the_proxies_database_and_role(centre: Site) -> None:
    # the proxies' own role, never the daemon's (which owns the call events)
    assert db_url(centre) == "postgres://kamailio@/kamailio"
    spec = dataclasses.replace(centre.spec, database=dataclasses.replace(
        centre.spec.database, dsn="host=db.example port=6432 user=cc dbname=callcenter "
                                  "password=never-written"))
    url = db_url(dataclasses.replace(centre, spec=spec))
    assert url == "postgres://kamailio@db.example:6432/kamailio"
    spec = dataclasses.replace(spec, proxy=dataclasses.replace(spec.proxy, db_role="sipfront"))
    url = db_url(dataclasses.replace(centre, spec=spec))
    assert url == "postgres://sipfront@db.example:6432/kamailio"


def test_each_proxy_drops_root_for_its_own_user(centre: Site) -> None:
    files = kamailio_files(centre)
    for address in PROXIES:
        lines = files[config_name(address)].splitlines()
        assert 'user="kamailio"' in lines and 'group="kamailio"' in lines
    spec = dataclasses.replace(centre.spec, proxy=dataclasses.replace(centre.spec.proxy,
                                                                      run_as="sipproxy"))
    text = kamailio_files(dataclasses.replace(centre, spec=spec))[config_name(PROXIES[0])]
    assert 'user="sipproxy"' in text.splitlines()


def test_render_cluster_writes_every_node_with_its_own_addresses(centre: Site,
                                                                tmp_path: Path) -> None:
    changed = render_cluster(centre, tmp_path)
    assert set(changed) == {f"nodes/{n}" for n in NODES} | {"kamailio"}
    for name, addr in NODES.items():
        pjsip = (tmp_path / "nodes" / name / "pjsip.conf").read_text(encoding="utf-8")
        assert f"bind = {addr}:15160" in pjsip
        assert not any(f"bind = {other}:" in pjsip for other in NODES.values() if other != addr)
        manager = (tmp_path / "nodes" / name / "manager.conf").read_text(encoding="utf-8")
        assert addr in manager
    assert (tmp_path / "kamailio" / config_name(PROXIES[1])).exists()


def test_a_node_trusts_only_the_proxies(centre: Site) -> None:
    pjsip = render_files(node_site(centre, "media-1"), Path("/tmp/unused"))["pjsip.conf"]
    assert "endpoint_identifier_order = header,ip" in pjsip
    agent = centre.spec.agents[0].extension
    # the agent: no password of its own on the node, named by the proxies' header, reached
    # through either proxy
    assert f"match_header = {AGENT_HEADER}: {agent}\n" in pjsip
    assert f"[{agent}-auth]" not in pjsip
    for addr in PROXIES:
        assert f"contact = sip:{agent}@{addr}:15260\n" in pjsip
        assert f"permit = {addr}\n" in pjsip
    # a carrier's calls: only by the trunk's name in the proxies' header, never its address
    for name, trunk in centre.spec.trunks.items():
        assert f"match_header = {TRUNK_HEADER}: {name}\n" in pjsip
        assert f"match = {trunk.host}\n" not in pjsip
    assert "\nrewrite_contact" not in pjsip
    assert not any(name.startswith("kamailio") for name in
                   render_files(node_site(centre, "media-1"), Path("/tmp/unused")))


def test_one_server_keeps_its_phones_and_carriers(centre: Site, tmp_path: Path) -> None:
    single = load_site(make_cluster_site(tmp_path))
    spec = dataclasses.replace(single.spec, nodes={}, proxy=None, daemons={})
    pjsip = render_files(dataclasses.replace(single, spec=spec), tmp_path)["pjsip.conf"]
    assert "endpoint_identifier_order = ip,username" in pjsip
    assert "cc-proxy" not in pjsip and AGENT_HEADER not in pjsip


def test_a_registering_trunk_cannot_sit_behind_the_proxies(centre: Site,
                                                           tmp_path: Path) -> None:
    spec = centre.spec
    trunks = {**spec.trunks, "telecom": dataclasses.replace(spec.trunks["telecom"],
                                                            register=True)}
    site = dataclasses.replace(centre, spec=dataclasses.replace(spec, trunks=trunks))
    with pytest.raises(RenderError, match="register: false"):
        render_files(node_site(site, "media-1"), tmp_path)
