"""Toll fraud and brute force at the SIP edge, against the real Asterisk rendering the example
site: carriers known by address only, phones only from their network, no user enumeration,
and a security log that the shipped fail2ban filter reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.fix_asterisk import CARRIER_IPS, PHONE_IP, SIP_PORT, RunningAsterisk

from .sipraw import request

pytestmark = [pytest.mark.security, pytest.mark.asterisk]

TARGET = ("127.0.0.1", SIP_PORT)
FILTER = Path(__file__).parents[2] / "scripts/fail2ban/filter.d/callcenter-asterisk.conf"


def password_of(asterisk: RunningAsterisk, ext: str) -> str:
    agent = next(a for a in asterisk.site.spec.agents if a.extension == ext)
    return asterisk.site.secrets.sip_passwords[agent.id]


def test_a_stranger_posing_as_the_carrier_is_not_let_in(asterisk: RunningAsterisk) -> None:
    mark = len(asterisk.log())
    ans = request("INVITE", "trunk-telecom", to_user="4008001234", src="127.0.0.2",
                  target=TARGET)
    assert ans.code in (401, 403), ans.text[:300]
    # nor with the carrier's own From user and a number of the site
    ans = request("INVITE", "trunk-unicom", to_user="95123", src="127.0.0.2", target=TARGET)
    assert ans.code in (401, 403), ans.text[:300]
    time.sleep(0.5)
    assert "callcenter inbound" not in asterisk.log()[mark:]


def test_a_caller_id_equal_to_an_extension_is_still_the_carrier(
        asterisk: RunningAsterisk) -> None:
    """From the carrier's address, a From of 8001 is a customer, not agent 8001's phone."""
    ans = request("OPTIONS", "8001", src=CARRIER_IPS["telecom"], target=TARGET)
    assert ans.code == 200, ans.text[:300]  # the trunk endpoint answers; no challenge


def test_responses_do_not_tell_existing_from_missing_users(asterisk: RunningAsterisk) -> None:
    for src in (PHONE_IP, CARRIER_IPS["telecom"], "127.0.0.3"):
        codes = {user: request("REGISTER", user, src=src, target=TARGET).code
                 for user in ("8001", "9999", "trunk-telecom")}
        assert len(set(codes.values())) == 1, (src, codes)
        wrong = {user: request("REGISTER", user, src=src, target=TARGET,
                               password="not-the-password").code for user in ("8001", "9999")}
        assert len(set(wrong.values())) == 1 and 200 not in wrong.values(), (src, wrong)


def test_a_phone_registers_only_from_its_network(asterisk: RunningAsterisk) -> None:
    pw = password_of(asterisk, "8003")
    ok = request("REGISTER", "8003", src=PHONE_IP, target=TARGET, password=pw)
    assert ok.code == 200, ok.text[:300]
    away = request("REGISTER", "8003", src="127.0.0.4", target=TARGET, password=pw)
    assert away.code != 200, away.text[:300]


def test_fail2ban_filter_reads_the_security_log(asterisk: RunningAsterisk) -> None:
    """Wrong passwords and unknown users from one address all show up as that address."""
    fail2ban = shutil.which("fail2ban-regex")
    assert fail2ban, "fail2ban-regex is needed (Debian package fail2ban; make install)"
    attempts = 40
    t0 = time.monotonic()
    answers = [request("REGISTER", "8002" if i % 2 else f"77{i:02d}", src="127.0.0.5",
                       target=TARGET, password=f"guess{i}").code for i in range(attempts)]
    rate = attempts / (time.monotonic() - t0)
    assert 200 not in answers
    # the right password from the phones' address still works meanwhile
    assert request("REGISTER", "8002", src=PHONE_IP, target=TARGET,
                   password=password_of(asterisk, "8002")).code == 200
    log = asterisk.conf_dir / "log" / "security.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and log.exists() and \
            log.read_text(errors="replace").count("127.0.0.5") < attempts:
        time.sleep(0.2)
    text = log.read_text(errors="replace")
    mine = [line for line in text.splitlines() if "/127.0.0.5/" in line]
    own = log.parent / "attack.log"
    own.write_text("\n".join(mine) + "\n")
    run = subprocess.run([fail2ban, "--out", "ip", str(own), str(FILTER)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    hosts = run.stdout.split()
    matched = len(hosts)
    assert matched >= attempts and set(hosts) == {"127.0.0.5"}, run.stdout[-2000:]
    # successful registrations and challenges are not failures
    ok = [line for line in text.splitlines() if f"/{PHONE_IP}/" in line
          and ("SuccessfulAuth" in line or "ChallengeSent" in line)]
    if ok:
        clean = log.parent / "ok.log"
        clean.write_text("\n".join(ok) + "\n")
        run = subprocess.run([fail2ban, str(clean), str(FILTER)], capture_output=True,
                             text=True, timeout=60)
        assert re.search(r"Failregex: 0 total", run.stdout), run.stdout[-2000:]
    print(f"{attempts} wrong registrations at {rate:.0f}/s, {matched} matched by the filter")
