#!/usr/bin/env python3
"""`make demo`: the example site, rendered, in a running Asterisk, with a few SIPp calls.

Usage: scripts/demo.py [WORKDIR]   (default ~/.local/state/callcenter/demo)
Leaves Asterisk running and says how to stop it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from callcenter.asterisk import cli, start
from callcenter.render import render_site
from callcenter.sipp import Sipp, SippServer, uac_scenario
from callcenter.site import load_site


def run(*args: str) -> None:
    print("$", " ".join(args))
    subprocess.run(args, check=True)


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else
                Path.home() / ".local/state/callcenter/demo").resolve()
    site_dir, conf_dir = work / "site", work / "asterisk"
    exe = str(Path(sys.executable).with_name("callcenter"))
    if not (site_dir / "site.yaml").exists():
        run(exe, "init", str(site_dir))
    site_file = site_dir / "site.yaml"
    run(exe, "check", str(site_file))
    run(exe, "render", str(site_file), "--out", str(conf_dir))
    if shutil.which("espeak-ng") and _has_command(exe, "prompts"):
        run(exe, "prompts", "build", str(site_file), "--out", str(conf_dir))
    site = load_site(site_file)
    render_site(site, conf_dir)
    pid = start(conf_dir)
    print(f"Asterisk is running on {conf_dir} (pid {pid})")

    ast = site.spec.asterisk
    number = site.spec.numbers[0].number
    sipp = Sipp(f"127.0.0.1:{ast.sip_port}", workdir=work / "sipp")
    print(f"\nplacing 3 SIPp calls to {number} ...")
    mark = _log_size(conf_dir)
    result = sipp.run(uac_scenario(caller_number="13800138000"), service=number, calls=3,
                      rate=2, timeout=60)
    print(f"SIPp: {result.successful} calls completed, {result.failed} failed, "
          f"{result.retransmissions} retransmissions")
    _show_path(conf_dir, mark)

    trunk = site.spec.trunks[site.spec.numbers[0].second_route]
    print(f"\nan outbound call presenting {number}: first route down, second route "
          f"played by a SIPp carrier on port {trunk.port} ...")
    with SippServer(trunk.port, workdir=work / "carrier") as carrier:
        _wait_qualified(conf_dir)
        mark = _log_size(conf_dir)
        cli(conf_dir, f"channel originate Local/13900139000@cc-out-{number} application Wait 2")
        import time

        time.sleep(4)
        print(f"carrier answered {carrier.count('SuccessfulCall')} call(s)")
        _show_path(conf_dir, mark)

    print(f"\nAsterisk keeps running. Console: callcenter asterisk cli {conf_dir} 'core show "
          f"channels'\nStop it with:   make demo-stop   (or callcenter asterisk stop {conf_dir})")
    return 0 if result.failed == 0 else 1


def _has_command(exe: str, name: str) -> bool:
    res = subprocess.run([exe, name, "--help"], capture_output=True)
    return res.returncode == 0


def _log_size(conf_dir: Path) -> int:
    log = conf_dir / "log" / "messages.log"
    return log.stat().st_size if log.exists() else 0


def _show_path(conf_dir: Path, since: int) -> None:
    """Print the dialplan steps the calls took, from Asterisk's own log."""
    with (conf_dir / "log" / "messages.log").open("rb") as fh:
        fh.seek(since)
        text = fh.read().decode("utf-8", "replace")
    by_channel: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.search(r"Executing \[(\S+)\] (\w+)\(\"([^\"]+)\", \"(.*)\"\) in new stack", line)
        if m and m[2] in ("NoOp", "UserEvent", "Dial", "AGI", "Playback", "Hangup"):
            by_channel.setdefault(m[3], []).append(f"    {m[1]:<28} {m[2]}({m[4][:70]})")
    for channel, steps in by_channel.items():
        print(f"  {channel}")
        print("\n".join(steps))


def _wait_qualified(conf_dir: Path) -> None:
    import time

    for _ in range(40):
        if re.search(r"trunk-unicom/\S+\s+\S+\s+Avail", cli(conf_dir, "pjsip show contacts")):
            return
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
