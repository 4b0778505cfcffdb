#!/usr/bin/env python3
"""`make demo`: the example site, rendered, in a running Asterisk, with a few SIPp calls.

Usage: scripts/demo.py [WORKDIR]   (default ~/.local/state/callcenter/demo)
Leaves Asterisk running and says how to stop it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

from callcenter.asterisk import cli, start
from callcenter.render import render_site
from callcenter.sipp import (
    Sipp,
    SippServer,
    dtmf,
    pause,
    register_scenario,
    uac_scenario,
    uas_scenario,
)
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
    if shutil.which("espeak-ng"):
        run(exe, "prompts", "build", str(site_file), "--out", str(conf_dir))
    site = load_site(site_file)
    render_site(site, conf_dir)
    pid = start(conf_dir)
    print(f"Asterisk is running on {conf_dir} (pid {pid})")
    daemon_pid = _start_daemon(exe, site_file, conf_dir, work)
    print(f"the callcenter daemon is running (pid {daemon_pid}, log {work / 'daemon.log'})")

    ast = site.spec.asterisk
    number = site.spec.numbers[0].number
    # callers arrive from the first route's carrier address; desk phones from 127.0.0.1
    carrier_ip = site.spec.trunks[site.spec.numbers[0].first_route].host
    sipp = Sipp(f"127.0.0.1:{ast.sip_port}", local_ip=carrier_ip, workdir=work / "sipp")
    calls = [("02866661234", "a Chengdu caller presses 2 (course questions)", ["2"]),
             ("13900139000", "a mobile caller presses 0 (choose a city), then 1 (Beijing)",
              ["0", "1"]),
             ("13800138000", "a VIP parent presses 9 (complaints)", ["9"])]
    phone = _agent_at_desk(sipp, site, conf_dir, work, "2002")
    result = None
    for caller, what, keys in calls:
        print(f"\n{what}: SIPp calls {number} from {caller}")
        steps = [pause(2000)]
        for i, k in enumerate(keys):
            steps += [dtmf(k, 2500 if i < len(keys) - 1 else 0)]
        result = sipp.run(uac_scenario(caller_number=caller, steps=steps), service=number,
                          timeout=90)
        print(f"  SIPp: {result.successful} completed, {result.failed} failed")
        _show_flow(exe, conf_dir)
    print("\nwith the daemon stopped, the same number still answers (static fallback):")
    _stop_daemon(work)
    mark = _log_size(conf_dir)
    result = sipp.run(uac_scenario(caller_number="13800138000"), service=number, calls=1,
                      timeout=60)
    print(f"  SIPp: {result.successful} completed, {result.failed} failed")
    _show_path(conf_dir, mark)
    _start_daemon(exe, site_file, conf_dir, work)

    trunk = site.spec.trunks[site.spec.numbers[0].second_route]
    print(f"\nagent 2002 dials a mobile from the desk phone: first route down, second route "
          f"played by a SIPp carrier on port {trunk.port} ...")
    with SippServer(trunk.port, local_ip=trunk.host, workdir=work / "carrier") as carrier:
        _wait_qualified(conf_dir)
        mark = _log_size(conf_dir)
        # the way an agent calls out: the desk phone dials, the daemon's dialling policy
        # approves the number, the dialplan presents the site's number over the routes
        agent = next(a for a in site.spec.agents if a.id == "2002")
        sipp.run(uac_scenario(caller_number=agent.extension, steps=[pause(3000)], auth=True,
                              ending="hangup"),
                 service="13900139000", local_ip="127.0.0.1", timeout=30,
                 extra=["-au", agent.extension, "-ap", site.secrets.sip_passwords[agent.id]])
        import time

        time.sleep(2)  # SIPp writes its counters once a second
        print(f"carrier answered {carrier.count('SuccessfulCall')} call(s)")
        _show_path(conf_dir, mark)
    if phone is not None:
        print(f"\nagent 2002's desk phone answered {phone.count('SuccessfulCall')} call(s)")
        phone.stop()
    _summary(exe, conf_dir, site_file)

    print(f"\nAsterisk and the daemon keep running.\n"
          f"  what the daemon sees:  callcenter status --conf {conf_dir}\n"
          f"  Asterisk console:      callcenter asterisk cli {conf_dir} 'core show channels'\n"
          f"  simulate the flow:     callcenter ivr simulate main --site {site_file} "
          f"--digits 0,2\n"
          f"  stop both:             make demo-stop")
    return 0 if result is not None and result.failed == 0 else 1


def _agent_at_desk(sipp: Sipp, site, conf_dir: Path, work: Path,
                   agent_id: str) -> SippServer | None:
    """A SIPp desk phone for the agent that answers and hangs up after 4 s; the agent logs
    in from its keypad (*21, id #, PIN #)."""
    import time

    agent = next(a for a in site.spec.agents if a.id == agent_id)
    password = site.secrets.sip_passwords[agent_id]
    port = 5111
    print(f"\nagent {agent_id} ({agent.name}) registers a desk phone {agent.extension} and "
          "logs in with *21")
    reg = sipp.run(register_scenario(agent.extension), service=agent.extension,
                   local_port=port, local_ip="127.0.0.1", timeout=15,
                   extra=["-au", agent.extension, "-ap", password])
    if reg.successful != 1:
        print("  the phone could not register; queued callers take the fallback")
        return None
    phone = SippServer(port, scenario=uas_scenario("answer", answer_after_ms=800,
                                                   hangup_after_ms=4000),
                       workdir=work / "phone")
    phone.start()
    time.sleep(3)
    cli(conf_dir, f"pjsip qualify {agent.extension}")
    steps = [pause(800)] + [dtmf(d, 350) for d in f"{agent_id}#{site.secrets.pins[agent_id]}#"]
    sipp.run(uac_scenario(caller_number=agent.extension, steps=steps, auth=True),
             service="*21", local_ip="127.0.0.1", timeout=30,
             extra=["-au", agent.extension, "-ap", password])
    return phone


def _summary(exe: str, conf_dir: Path, site_file: Path) -> None:
    """The demo's calls, as the supervisor's report shows them (in the site's language, with
    its service-level targets)."""
    import time

    from callcenter.daemon.app import status_socket
    from callcenter.daemon.status import query_status
    from callcenter.store.database import resolve_dsn

    for _ in range(50):  # the daemon writes in the background: let it catch up
        store = query_status(status_socket(conf_dir)).get("store", {})
        if store.get("db_up") and store.get("backlog_bytes") == 0:
            break
        time.sleep(0.2)
    dsn = resolve_dsn(None, None, conf_dir)
    print("\nthe supervisor's summary of today's calls:")
    run(exe, "report", "summary", "--dsn", dsn, "--site-file", str(site_file))


def _start_daemon(exe: str, site_file: Path, conf_dir: Path, work: Path) -> int:
    """(Re)start `callcenter run` in the background; its pid goes to WORK/daemon.pid."""
    import time

    from callcenter.daemon.app import status_socket
    from callcenter.daemon.status import query_status
    from callcenter.errors import CallcenterError

    _stop_daemon(work)
    with (work / "daemon.log").open("ab") as log:
        # the flows' clock at 10:30 today (company time), when the example's sites are
        # open, so the demo shows queued calls answered whatever the hour it runs at
        from zoneinfo import ZoneInfo

        from callcenter.site import load_site

        tz = ZoneInfo(load_site(site_file).spec.company.timezone)
        at = dt.datetime.now(tz).strftime("%Y-%m-%d 10:30")
        proc = subprocess.Popen([exe, "run", str(site_file), "--conf", str(conf_dir),
                                 "--at", at],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (work / "daemon.pid").write_text(str(proc.pid))
    for _ in range(100):
        try:
            if query_status(status_socket(conf_dir))["ami"]["connected"]:
                break
        except CallcenterError:
            pass
        time.sleep(0.1)
    return proc.pid


def _stop_daemon(work: Path) -> None:
    import os
    import signal
    import time

    pidfile = work / "daemon.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
    except ProcessLookupError:
        pass
    pidfile.unlink(missing_ok=True)


def _show_flow(exe: str, conf_dir: Path) -> None:
    import json

    doc = json.loads(subprocess.run([exe, "status", "--conf", str(conf_dir), "--json"],
                                    capture_output=True, text=True).stdout or "{}")
    finished = doc.get("flows", {}).get("finished", [])
    if finished:
        f = finished[-1]
        print(f"  flow path: {f['path'].replace(',', ' → ')}")
        print(f"  outcome:   {f['outcome']} {f['target']}")


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
