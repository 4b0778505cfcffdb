"""Rendering the Kamailio proxies in front of the nodes (docs/cluster.md, "Kamailio in
front"): one configuration per proxy address, each listening on its own address, beside the
dispatcher list of the nodes and the agents' credentials (0600).

Same rules as the Asterisk templates: strict (an undefined name fails), deterministic (the
same site gives the same bytes), everything rendered in memory, then written to temporary
names and renamed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from callcenter.errors import RenderError
from callcenter.render.templates import template_dirs
from callcenter.site.model import Site
from callcenter.store.cluster import PROXY_ROLE

__all__ = ["AGENT_HEADER", "FR_TIMER_MS", "REALM", "SECRET_FILES", "TRUNK_HEADER",
           "check_config", "config_name", "db_url", "kamailio_files", "write_kamailio"]

# the headers a proxy stamps on what it passes to a node (and strips from anything else):
# the carrier a call came from, the agent whose phone authenticated
TRUNK_HEADER = "X-CC-Trunk"
AGENT_HEADER = "X-CC-Agent"
# the digest realm of the phones' passwords (their HA1 is MD5 of extension:realm:password)
REALM = "callcenter"
# no answer at all within this long: the node or phone is gone (failover, probe missed)
FR_TIMER_MS = 2000
# a ringing phone (after a provisional answer) may ring this long
FR_INV_TIMER_MS = 120000
CREDENTIALS = "credentials.cfg"
PATHS = "paths.cfg"
SECRET_FILES = frozenset({CREDENTIALS})
MANIFEST = ".callcenter-rendered"


def config_name(address: str) -> str:
    """The configuration file of the proxy on `address`."""
    return f"proxy-{address.replace(':', '_')}.cfg"


def _value(value: Any) -> Any:
    """Refuse text that could end a Kamailio string or line (the site model already refuses
    it; this is the last line of defence)."""
    if isinstance(value, str) and (any(ord(c) < 32 for c in value) or '"' in value
                                   or "\\" in value):
        raise RenderError(f"refusing to write unsafe text {value!r} into the Kamailio "
                          "configuration — remove quotes, backslashes and line breaks")
    return value


def _environment() -> jinja2.Environment:
    folder = template_dirs()[0] / "kamailio"
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=True, trim_blocks=True,
                              lstrip_blocks=True, finalize=_value)


def _ha1(user: str, password: str) -> str:
    return hashlib.md5(f"{user}:{REALM}:{password}".encode(), usedforsecurity=False).hexdigest()


def _weights(capacities: dict[str, int]) -> dict[str, int]:
    """Kamailio's relative weights (1–100) in proportion to each node's capacity."""
    top = max(capacities.values())
    return {name: max(1, min(100, round(100 * cap / top))) for name, cap in capacities.items()}


def _addresses(hosts: list[str]) -> tuple[list[str], list[str]]:
    """A trunk's addresses as Kamailio matches them: IP literals as one-address subnets,
    host names (resolved by the system at each match)."""
    subnets, names = [], []
    for host in sorted(set(hosts)):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
            continue
        subnets.append(f"{ip}/{ip.max_prefixlen}")
    return subnets, names


def db_url(site: Site) -> str:
    """The proxies' PostgreSQL as Kamailio names it: the site's database server, the
    database `proxy.database`, the role `proxy.db_role` (the private cluster's proxy role
    when the site has no DSN). The password stays in the proxy user's ~/.pgpass (libpq reads
    it); a Unix socket cannot be written in the URL, so then the host is empty and PGHOST
    names it."""
    from psycopg.conninfo import conninfo_to_dict

    spec = site.spec
    assert spec.proxy is not None
    name = spec.proxy.database
    if not spec.database.dsn:  # the daemon's private cluster: its socket, given by PGHOST
        return f"postgres://{PROXY_ROLE}@/{name}"
    try:
        parts = conninfo_to_dict(spec.database.dsn)
    except Exception as exc:  # psycopg.ProgrammingError: a DSN it cannot read
        raise RenderError(f"database.dsn cannot be read ({exc}) — write it as "
                          "'host=H port=P user=U dbname=D'") from None
    host = str(parts.get("host") or "")
    host = "" if host.startswith("/") else host
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgres://{spec.proxy.db_role}@{host}{port}/{name}"


def _context(site: Site) -> dict[str, Any]:
    spec = site.spec
    if spec.proxy is None or not spec.proxy.addresses or not spec.nodes:
        raise RenderError("the Kamailio proxies need 'nodes:' and 'proxy: {addresses: [...]}' "
                          "in the site file (docs/cluster.md)")
    weights = _weights({name: n.capacity for name, n in spec.nodes.items()})
    trunks = []
    for name, t in sorted(spec.trunks.items()):
        subnets, names = _addresses([t.host, *t.match])
        trunks.append({"name": name, "subnets": subnets, "hostnames": names})
    agents = []
    for a in sorted(spec.agents, key=lambda a: a.extension):
        nets = set(spec.sites[a.site].phone_networks) | set(a.networks)
        agents.append({
            "extension": a.extension,
            "ha1": _ha1(a.extension, site.secrets.sip_passwords[a.id]),
            "networks": ",".join(sorted(str(ipaddress.ip_network(n, strict=False))
                                        for n in nets)),
        })
    # one secret for both proxies (a nonce of one is good at the other), derived so that
    # the AMI secret cannot be recovered from it
    nonce = hmac.new(site.secrets.ami_secret.encode(), b"callcenter kamailio nonce",
                     hashlib.sha256).hexdigest()[:32]
    proxies = [{"index": i, "address": addr, "port": spec.proxy.sip_port,
                "file": config_name(addr)}
               for i, addr in enumerate(spec.proxy.addresses, start=1)]
    return {
        "company": "".join(c for c in spec.company.name if c.isprintable() and c not in '"\\'),
        "nodes": [{"name": name, "address": n.address, "port": n.sip_port,
                   "rweight": weights[name]} for name, n in spec.nodes.items()],
        "proxies": proxies,
        "probe_seconds": spec.proxy.probe_seconds,
        "fr_timer_ms": FR_TIMER_MS,
        "fr_inv_timer_ms": FR_INV_TIMER_MS,
        "realm": REALM,
        "db_url": db_url(site),
        "run_as": spec.proxy.run_as,
        "trunks": trunks,
        "agents": agents,
        "nonce_secret": nonce,
        "trunk_header": TRUNK_HEADER,
        "agent_header": AGENT_HEADER,
    }


def kamailio_files(site: Site) -> dict[str, str]:
    """File name → text of every Kamailio file of the site's proxies, in memory; raises
    RenderError. paths.cfg is added by write_kamailio, which knows the folder."""
    env = _environment()
    ctx = _context(site)
    files: dict[str, str] = {}
    try:
        for proxy in ctx["proxies"]:
            files[proxy["file"]] = env.get_template("proxy.cfg.j2").render(ctx, proxy=proxy)
        files["dispatcher.list"] = env.get_template("dispatcher.list.j2").render(ctx)
        files[CREDENTIALS] = env.get_template("credentials.cfg.j2").render(ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"Kamailio template: {exc}") from exc
    return dict(sorted(files.items()))


def _paths(out: Path) -> str:
    return ("# Written by callcenter: where this folder is (Kamailio opens the dispatcher "
            "list by\n# its full path)\n"
            f'#!define CALLCENTER_DISPATCHER_LIST "{_value(str(out / "dispatcher.list"))}"\n')


def write_kamailio(files: dict[str, str], out_dir: str | Path) -> list[str]:
    """Write `files` (from kamailio_files) and paths.cfg into `out_dir`; return the names of
    the files that changed. Each is written to a temporary name first and all are renamed
    together; credentials.cfg is 0600, the rest 0640; files of a proxy no longer in the
    site are removed."""
    out = Path(out_dir).resolve()
    texts = {**files, PATHS: _paths(out)}
    staged: dict[str, Path] = {}
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o750)
        os.chmod(out, 0o750)
        manifest = out / MANIFEST
        old = set(manifest.read_text(encoding="utf-8").split()) if manifest.exists() else set()
        for name, text in sorted(texts.items()):
            data = text.encode("utf-8")
            if _same(out / name, data):
                os.chmod(out / name, _mode(name))
            else:
                staged[name] = _staged(out, name, data)
        for name, tmp in staged.items():  # only once every file is written
            os.replace(tmp, out / name)
        for stale in sorted(old - set(texts)):
            (out / stale).unlink(missing_ok=True)
        manifest.write_text("\n".join(sorted(texts)) + "\n", encoding="utf-8")
        os.chmod(manifest, 0o640)
    except OSError as exc:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise RenderError(f"cannot write {out}: {exc.strerror} — check the folder's "
                          "permissions and free space") from exc
    return list(staged)


def _mode(name: str) -> int:
    return 0o600 if name in SECRET_FILES else 0o640


def _same(path: Path, data: bytes) -> bool:
    return path.exists() and path.read_bytes() == data


def _staged(out: Path, name: str, data: bytes) -> Path:
    """`data` in a temporary file beside `name`, with the file's mode whatever the umask."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), _mode(name))
        fh.write(data)
    return Path(tmp)


def check_config(path: Path) -> None:
    """`kamailio -c` on a written configuration; raises RenderError with its complaint."""
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(binary).exists():
        raise RenderError("kamailio is not installed — run scripts/install-kamailio")
    res = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True,
                         timeout=60)
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr + res.stdout).splitlines()
                 if "ERROR" in ln or "CRITICAL" in ln]
        raise RenderError(f"kamailio refuses {path}: " + "; ".join(lines[-5:]))
