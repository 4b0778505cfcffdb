"""What the templates see: the site, flattened into plain values in a fixed order."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from callcenter.errors import RenderError
from callcenter.render.kamailio import AGENT_HEADER, TRUNK_HEADER
from callcenter.site.model import Site
from callcenter.site.numbers import classify, dial_forms

__all__ = ["MODULES", "build_context"]

# a daemon heartbeat (CC_ALIVE) older than this sends new calls to the static fallback
ALIVE_SECONDS = 3
# the standby leads within 5 s of the leader's death (callcenter/cluster/lease.py): twice that
AWAIT_LEADER_SECONDS = 10

# Only what the rendered configuration uses; anything else stays unloaded.
MODULES: tuple[str, ...] = (
    "res_timing_timerfd.so", "res_sorcery_config.so", "res_sorcery_memory.so",
    "res_sorcery_astdb.so", "res_pjproject.so", "res_pjsip.so", "res_pjsip_session.so",
    "chan_pjsip.so", "res_pjsip_authenticator_digest.so",
    "res_pjsip_outbound_authenticator_digest.so", "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_endpoint_identifier_ip.so", "res_pjsip_registrar.so",
    "res_pjsip_outbound_registration.so", "res_pjsip_sdp_rtp.so", "res_pjsip_caller_id.so",
    "res_pjsip_dtmf_info.so", "res_pjsip_nat.so", "res_pjsip_rfc3326.so",
    "res_pjsip_pubsub.so", "res_pjsip_exten_state.so",
    "res_pjsip_dialog_info_body_generator.so", "res_pjsip_pidf_body_generator.so",
    "res_pjsip_logger.so", "res_pjsip_acl.so", "res_rtp_asterisk.so",
    "codec_alaw.so", "codec_ulaw.so", "codec_gsm.so", "codec_g722.so", "codec_resample.so",
    "format_wav.so", "format_gsm.so", "format_pcm.so", "format_sln.so",
    "pbx_config.so", "res_speech.so", "res_agi.so", "res_pjsip_outbound_publish.so",
    "res_musiconhold.so", "bridge_simple.so",
    "bridge_native_rtp.so", "bridge_holding.so", "bridge_builtin_features.so",
    "app_dial.so", "app_playback.so", "app_stack.so", "app_exec.so", "app_verbose.so",
    "app_read.so", "app_record.so", "app_echo.so", "app_originate.so", "app_userevent.so",
    "app_sayunixtime.so", "app_senddtmf.so", "app_transfer.so",
    "func_strings.so", "func_env.so", "func_callerid.so", "func_channel.so",
    "func_logic.so", "func_global.so", "func_devstate.so", "func_hangupcause.so",
    "func_uuid.so", "func_groupcount.so", "func_cut.so", "func_timeout.so", "func_db.so",
    "res_manager_devicestate.so", "res_clioriginate.so",
    # security events (failed auth, ACL refusals) into log/security.log, for fail2ban
    "res_security_log.so",
)


def build_context(site: Site, out_dir: Path) -> dict[str, Any]:
    spec = site.spec
    out = out_dir.resolve()
    agents = sorted(spec.agents, key=lambda a: a.extension)
    numbers = []
    for n in spec.numbers:
        numbers.append({
            "number": n.number, "kind": n.kind or classify(n.number), "flow": n.flow,
            # one carrier only: second is first, and the dialplan does not fail over
            "first": n.first_route, "second": n.second_route, "one_route": n.one_route,
            "caller_id": n.number, "description": n.description,
            # +86…, 86… (trunk prefix 0 dropped) and the local number: the carrier's choice
            "forms": dial_forms(n.number),
        })
    trunks = []
    for name, t in sorted(spec.trunks.items()):
        trunks.append({
            "name": name, "host": t.host, "port": t.port, "transport": t.transport,
            "identify": t.identify, "username": t.username or "", "register": t.register,
            # the carrier's own address always identifies it; `match` adds its other ones
            "match": sorted({t.host, *t.match}), "channels": t.channels,
            "qualify": t.qualify_seconds, "codecs": ",".join(t.codecs),
            "dtmf_mode": t.dtmf_mode,
            "password": site.secrets.trunk_passwords.get(name, ""),
        })
    proxies = _trusted_proxies(site)
    music = sorted({q.music_class for q in spec.queues.values()} | {"default"})
    return {
        "company": spec.company,
        # the caller name customers see on outbound calls (docs/dialling.md); dialplan
        # argument separators and brackets dropped
        "out_caller_name": "".join(
            c for c in (spec.dialling.caller_name if spec.dialling.caller_name is not None
                        else spec.company.name) if c not in ",()|"),
        "out": str(out),
        "sounds": str(out / "sounds"),
        "ast": spec.asterisk,
        "ami_secret": site.secrets.ami_secret,
        "agi_secret": site.secrets.agi_secret,
        "alive_seconds": ALIVE_SECONDS,
        # a node of several (docs/cluster.md): calls wait this long for a leading daemon
        "cluster": bool(site.node),
        "node": site.node,
        "await_leader_seconds": AWAIT_LEADER_SECONDS,
        # one server: AMI on the loopback address; a node: on its address, for the daemons
        "ami_bind": spec.asterisk.sip_bind if site.node else "127.0.0.1",
        "ami_permit": sorted({"127.0.0.1", *(d.address for d in spec.daemons.values())})
        if site.node else ["127.0.0.1"],
        "agents": [{"id": a.id, "name": a.name, "extension": a.extension, "site": a.site,
                    "password": site.secrets.sip_passwords[a.id],
                    "callerid": spec.sites[a.site].caller_id,
                    # the office network and the agent's own addresses; empty: anywhere
                    "networks": sorted(set(spec.sites[a.site].phone_networks) | set(a.networks))}
                   for a in agents],
        "trunks": trunks,
        "numbers": numbers,
        "default_number": numbers[0],
        "fallback": spec.fallback,
        "features": spec.features,
        "music_classes": music,
        "queues": [{"name": k, "code": q.code} for k, q in sorted(spec.queues.items())
                   if q.code],
        "modules": MODULES,
        # a node of several: the Kamailio proxies it trusts, and the headers they stamp
        "proxies": proxies,
        "proxy_port": spec.proxy.sip_port if proxies and spec.proxy else 0,
        "trunk_header": TRUNK_HEADER,
        "agent_header": AGENT_HEADER,
    }


def _trusted_proxies(site: Site) -> list[str]:
    """The proxies' addresses a node admits (IP literals: they go into ACLs); none on one
    server."""
    spec = site.spec
    if not site.node or spec.proxy is None:
        return []
    for addr in spec.proxy.addresses:
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise RenderError(f"proxy address {addr!r}: a node admits its proxies by address "
                              "— write proxy.addresses as IP addresses") from None
    for name, t in sorted(spec.trunks.items()):
        if t.register:
            raise RenderError(f"trunk {name} registers (register: true), so the carrier "
                              "would call the node itself; behind the proxies carriers call "
                              "the proxies' addresses — set register: false and give the "
                              "carrier both proxy addresses")
    return list(spec.proxy.addresses)
