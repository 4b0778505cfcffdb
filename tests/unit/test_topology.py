"""The topology keys (`nodes`, `proxy`, `daemons`): `init --cluster`, located errors for a
half-described or clashing centre, warnings for single points of failure, and each node's
own rendering (docs/cluster.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.errors import RenderError, SiteError
from callcenter.render import render_files
from callcenter.render.nodes import node_site
from callcenter.site import load_site
from callcenter.site.advice import site_warnings


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("centre")
    res = CliRunner().invoke(main, ["init", "--cluster", str(directory)])
    assert res.exit_code == 0, res.output
    return directory / "site.yaml"


def edited(centre: Path, tmp_path: Path, edit) -> Path:
    for item in centre.parent.iterdir():
        if item.is_dir():
            (tmp_path / item.name).mkdir(exist_ok=True)
            for sub in item.iterdir():
                (tmp_path / item.name / sub.name).write_bytes(sub.read_bytes())
        elif item.name != "site.yaml":
            (tmp_path / item.name).write_bytes(item.read_bytes())
    (tmp_path / "secrets.yaml").chmod(0o600)
    data: dict[str, Any] = yaml.safe_load(centre.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SiteError) as info:
        load_site(path)
    return [str(p) for p in info.value.problems]


def test_init_cluster_writes_a_centre_that_checks_clean(centre: Path) -> None:
    res = CliRunner().invoke(main, ["check", str(centre)])
    assert res.exit_code == 0, res.output
    assert "3 nodes, 2 proxies, 2 daemons" in res.output
    assert "warning" not in res.output
    # the example keeps its comments for the reader
    assert "# Several servers, one call centre" in centre.read_text(encoding="utf-8")


def test_plain_init_has_no_topology(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path)]).exit_code == 0
    assert not load_site(tmp_path / "site.yaml").clustered


def test_nodes_without_a_proxy_or_daemons_are_errors(centre: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        del d["proxy"], d["daemons"]

    found = problems(edited(centre, tmp_path, edit))
    assert any("need the Kamailio proxy" in p and "addresses" in p for p in found), found
    assert any("need 'daemons:'" in p for p in found), found


def test_a_proxy_without_nodes_is_an_error(centre: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        del d["nodes"], d["daemons"]

    found = problems(edited(centre, tmp_path, edit))
    assert len(found) == 1 and "a proxy without nodes" in found[0], found


def test_clashing_ports_name_the_other_user(centre: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["nodes"]["media-2"]["address"] = "127.0.0.21"

    found = problems(edited(centre, tmp_path, edit))
    assert any("127.0.0.21:5060 is already used by nodes.media-1.sip_port" in p
               for p in found), found
    # the file and line of the clash: media-2's entry (its ports are the defaults)
    lines = (tmp_path / "site.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i + 1 for i, ln in enumerate(lines) if ln.strip().startswith("media-2:"))
    assert all(f"site.yaml:{line}:" in p for p in found), (found, line)


def test_overlapping_media_ports_on_one_address(centre: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["nodes"]["media-2"].update(address="127.0.0.21", sip_port=5070, ami_port=5039,
                                     rtp_start=13000)

    found = problems(edited(centre, tmp_path, edit))
    assert len(found) == 1 and "media ports overlap" in found[0], found
    assert "above 13999" in found[0]


def test_the_private_database_knows_the_proxies_by_one_role(centre: Path,
                                                            tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["proxy"]["db_role"] = "sipfront"

    found = problems(edited(centre, tmp_path, edit))
    assert len(found) == 1 and "as 'kamailio' only, not as 'sipfront'" in found[0], found

    def with_dsn(d: dict[str, Any]) -> None:
        edit(d)
        d.setdefault("database", {})["dsn"] = "host=db.example user=cc dbname=callcenter"

    site = load_site(edited(centre, tmp_path, with_dsn))  # the site's own server: any role
    assert site.spec.proxy is not None and site.spec.proxy.db_role == "sipfront"


def test_capacity_out_of_range(centre: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["nodes"]["media-3"]["capacity"] = 0

    found = problems(edited(centre, tmp_path, edit))
    assert len(found) == 1 and "capacity 0 is out of range" in found[0], found


def test_single_points_of_failure_are_warned(centre: Path, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["proxy"]["addresses"] = d["proxy"]["addresses"][:1]
        del d["daemons"]["acd-2"]

    warned = [str(w) for w in site_warnings(load_site(edited(centre, tmp_path, edit)))]
    assert any("one proxy address" in w for w in warned), warned
    assert any("no standby" in w for w in warned), warned


def test_each_node_renders_its_own_addresses(centre: Path, tmp_path: Path) -> None:
    site = load_site(centre)
    one = render_files(node_site(site, "media-1"), tmp_path / "1")
    two = render_files(node_site(site, "media-2"), tmp_path / "2")
    assert "bind = 127.0.0.21:5060" in one["pjsip.conf"]
    assert "bind = 127.0.0.22:5060" in two["pjsip.conf"]
    assert "rtpstart = 14000" in two["rtp.conf"]
    # calls go to the first daemon until the leader says otherwise, and wait for a leader
    assert "CC_AGI = agi://127.0.0.41:4573/" in one["extensions.conf"]
    assert "Gosub(cc-await-leader,s,1)" in one["extensions.conf"]
    # fencing: an offer from an older term rings nobody
    assert "GLOBAL(CC_TERM)" in one["extensions.conf"]
    # two nodes never give two channels the same unique id (the call's id)
    assert "systemname = media-1" in one["asterisk.conf"]
    assert "systemname = media-2" in two["asterisk.conf"]


def test_one_server_renders_no_cluster_parts(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path / "s")]).exit_code == 0
    files = render_files(load_site(tmp_path / "s" / "site.yaml"), tmp_path / "out")
    assert "cc-await-leader" not in files["extensions.conf"]
    assert "CC_TERM" not in files["extensions.conf"]
    assert "systemname" not in files["asterisk.conf"]


def test_an_unknown_node_is_a_clear_error(centre: Path) -> None:
    with pytest.raises(RenderError, match=r"no node 'media-9'.*media-1, media-2, media-3"):
        node_site(load_site(centre), "media-9")
