"""Automatic calls, live: the daemon's dialler places reminders through the real Asterisk to
SIPp carriers playing the callees, and stores every attempt in the real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.outbound.jobs import Job, JobStore, NewJob
from callcenter.sipp import SippServer, dtmf, pause, uas_scenario
from callcenter.sipp.scenarios import uas_keys_scenario
from tests.fix_asterisk import CARRIER_PORTS, RunningAsterisk
from tests.fix_daemon import OPEN_AT, RunningDaemon, start_daemon, wait_events

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.postgres]

TZ = ZoneInfo("Asia/Shanghai")
AT = dt.datetime.fromisoformat(OPEN_AT).replace(tzinfo=TZ)  # the daemon's clock (--at)
BEIJING_MOBILE = "13800138000"
FINAL = ("done", "refused", "expired", "cancelled")


def run(coro):
    return asyncio.run(coro)


async def _submit(dsn: str, jobs: list[NewJob]) -> list[uuid.UUID]:
    async with JobStore(dsn) as store:
        return [job.id for job, _ in await store.submit_many(jobs)]


def reminder(number: str, *, attempts: int = 1, retry_seconds: int = 3,
             lesson: str = "L-1") -> NewJob:
    start = AT + dt.timedelta(minutes=20)
    return NewJob(kind="reminder", campaign="reminders", number=number,
                  not_before=AT - dt.timedelta(minutes=5), deadline=start,
                  external_id=lesson, template="lesson", max_attempts=attempts,
                  retry_seconds=retry_seconds,
                  variables={"student": "王小明", "course": "英语课",
                             "start_time": start.isoformat(),
                             "start_date": start.isoformat()})


def submit(daemon: RunningDaemon, *jobs: NewJob) -> list[uuid.UUID]:
    return run(_submit(daemon.dsn, list(jobs)))


async def _get(dsn: str, job_id: uuid.UUID) -> tuple[Job | None, list]:
    async with JobStore(dsn) as store:
        return await store.get(job_id), await store.attempts(job_id)


def settled(daemon: RunningDaemon, job_id: uuid.UUID, timeout: float = 60) -> tuple[Job, list]:
    """The job once final, and its attempts."""
    deadline = time.monotonic() + timeout
    job, attempts = run(_get(daemon.dsn, job_id))
    while time.monotonic() < deadline:
        job, attempts = run(_get(daemon.dsn, job_id))
        if job is not None and job.state in FINAL and all(a.state != "dialling"
                                                          for a in attempts):
            return job, attempts
        time.sleep(0.5)
    raise AssertionError(f"job never settled: {job} {attempts}\n{daemon.log()[-3000:]}")


def invites(carrier: SippServer) -> list[tuple[str, str]]:
    """(callee, presented number) of every INVITE the carrier received."""
    out = []
    for block in carrier.messages().split("INVITE sip:")[1:]:
        callee = block.split("@", 1)[0]
        caller = re.search(r"From:[^\n]*<sip:([^@>]+)@", block)
        out.append((callee, caller.group(1) if caller else ""))
    return out


def test_a_reminder_answered_and_confirmed(asterisk: RunningAsterisk, daemon: RunningDaemon,
                                           sipp_server: Callable[..., SippServer]) -> None:
    """A Beijing mobile hears the reminder and presses 1; the Beijing pool number (carried by
    telecom) is shown; the result is stored and recorded as an event."""
    telecom = sipp_server(CARRIER_PORTS["telecom"],
                          uas_keys_scenario([pause(6000), dtmf("1", 0)]))
    sipp_server(CARRIER_PORTS["unicom"])
    (job_id,) = submit(daemon, reminder(BEIJING_MOBILE))
    job, attempts = settled(daemon, job_id)
    assert (job.state, job.result, job.attempts) == ("done", "confirmed", 1)
    assert attempts[0].caller_id == "01080001000"
    assert attempts[0].caller_id_kind == "local_city"
    assert invites(telecom) == [(BEIJING_MOBILE, "01080001000")]
    results = [e["data"] for e in wait_events(daemon.dsn, "outbound.result")]
    assert [(r["job"], r["result"]) for r in results] == [(str(job_id), "confirmed")]
    # the reminder was spoken from the student's own words, cached for Asterisk only
    spoken = list((asterisk.conf_dir / "sounds" / "tts").glob("*.wav"))
    assert spoken and all(p.stat().st_mode & 0o007 == 0 for p in spoken)


def test_busy_then_retried_and_a_503_then_success(daemon: RunningDaemon,
                                                  sipp_server: Callable[..., SippServer]
                                                  ) -> None:
    telecom = sipp_server(CARRIER_PORTS["telecom"], uas_scenario("busy"))
    unicom = sipp_server(CARRIER_PORTS["unicom"])
    (busy,) = submit(daemon, reminder(BEIJING_MOBILE, attempts=2))
    job, attempts = settled(daemon, busy)
    assert (job.result, job.attempts) == ("busy", 2)
    assert [a.result for a in attempts] == ["busy", "busy"]
    assert len(invites(telecom)) == 2 and invites(unicom) == []  # busy: no failover
    telecom.stop()
    unicom.stop()

    # both carriers refuse (503; the second route is tried too) the first time; the retry
    # 3 s later is answered and confirmed
    refusing = [sipp_server(CARRIER_PORTS[name], uas_scenario("unavailable"))
                for name in ("telecom", "unicom")]
    (job_id,) = submit(daemon, reminder("13800138001", attempts=3, lesson="L-2"))
    deadline = time.monotonic() + 30
    while not invites(refusing[1]) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)
    for carrier in refusing:
        carrier.stop()
    for name in ("telecom", "unicom"):
        sipp_server(CARRIER_PORTS[name], uas_keys_scenario([pause(6000), dtmf("1", 0)]))
    job, attempts = settled(daemon, job_id)
    assert job.result == "confirmed"
    assert attempts[0].result == "rejected"
    assert attempts[-1].result == "confirmed"


def test_press_9_opts_out_for_good(daemon: RunningDaemon,
                                   sipp_server: Callable[..., SippServer]) -> None:
    telecom = sipp_server(CARRIER_PORTS["telecom"],
                          uas_keys_scenario([pause(6000), dtmf("9", 0)]))
    sipp_server(CARRIER_PORTS["unicom"])
    (first,) = submit(daemon, reminder(BEIJING_MOBILE))
    job, _ = settled(daemon, first)
    assert job.result == "opted_out"
    (second,) = submit(daemon, reminder(BEIJING_MOBILE, lesson="L-9"))
    job, attempts = settled(daemon, second)
    assert (job.state, attempts) == ("refused", [])
    assert "do-not-call" in (job.reason or "")
    assert len(invites(telecom)) == 1  # never rung again
    refusals = wait_events(daemon.dsn, "dial.refused")
    assert refusals and "do-not-call" in refusals[-1]["data"]["reason"]


def test_silence_and_hanging_up_mid_prompt(daemon: RunningDaemon,
                                           sipp_server: Callable[..., SippServer]) -> None:
    sipp_server(CARRIER_PORTS["telecom"], uas_scenario("answer", hangup_after_ms=1500))
    sipp_server(CARRIER_PORTS["unicom"])
    (hung,) = submit(daemon, reminder(BEIJING_MOBILE))
    job, _ = settled(daemon, hung)
    assert job.result == "hangup"


def test_the_second_route_carries_the_reminder_when_the_first_is_down(
        asterisk: RunningAsterisk, daemon: RunningDaemon,
        sipp_server: Callable[..., SippServer]) -> None:
    """No telecom carrier: the Beijing number it carries cannot be shown; unicom carries
    the call with the national number."""
    unicom = sipp_server(CARRIER_PORTS["unicom"],
                         uas_keys_scenario([pause(6000), dtmf("1", 0)]))
    deadline = time.monotonic() + 15  # qualify (every 2 s) finds telecom unreachable
    while "Unavail" not in asterisk.cli("pjsip show aor trunk-telecom") and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    (job_id,) = submit(daemon, reminder(BEIJING_MOBILE))
    job, _ = settled(daemon, job_id)
    assert job.result == "confirmed"
    national = asterisk.site.spec.numbers[0].number
    assert invites(unicom) == [(BEIJING_MOBILE, national)]
    trunks = [e["data"] for e in wait_events(daemon.dsn, "trunk.attempt", 2)]
    assert [(t["trunk"], t["route"]) for t in trunks][-2:] == [("telecom", "first"),
                                                              ("unicom", "second")]


def test_quiet_hours_defer_the_call(asterisk: RunningAsterisk, tmp_path: Path,
                                    daemon: RunningDaemon,
                                    sipp_server: Callable[..., SippServer]) -> None:
    """At 21:30 (the daemon's injected clock) nobody is called: the job waits for 08:00."""
    telecom = sipp_server(CARRIER_PORTS["telecom"])
    daemon.stop()
    late = start_daemon(asterisk, tmp_path / "late.log", at="2026-11-24 21:30", dsn=daemon.dsn)
    try:
        start = AT.replace(hour=23)
        job = NewJob(kind="reminder", campaign="reminders", number=BEIJING_MOBILE,
                     not_before=AT, deadline=start + dt.timedelta(days=1), template="lesson",
                     variables={"student": "王小明", "course": "英语课",
                                "start_time": start.isoformat(),
                                "start_date": start.isoformat()})
        (job_id,) = submit(late, job)
        deadline = time.monotonic() + 20
        stored = None
        while time.monotonic() < deadline:
            stored, _ = run(_get(late.dsn, job_id))
            if stored is not None and stored.reason:
                break
            time.sleep(0.5)
        assert stored is not None and stored.state == "pending"
        assert "quiet hours" in (stored.reason or "")
        assert stored.next_at.astimezone(TZ).hour == 8
        assert invites(telecom) == []
    finally:
        late.stop()


def test_a_killed_daemon_rings_nobody_twice(asterisk: RunningAsterisk, tmp_path: Path,
                                            daemon: RunningDaemon,
                                            sipp_server: Callable[..., SippServer]) -> None:
    """SIGKILL while reminders are ringing and playing; the next daemon reconciles the
    attempts in flight from Asterisk and finishes the campaign; every callee got one call."""
    telecom = sipp_server(CARRIER_PORTS["telecom"],
                          uas_keys_scenario([pause(6000), dtmf("1", 0)]))
    unicom = sipp_server(CARRIER_PORTS["unicom"],
                         uas_keys_scenario([pause(6000), dtmf("1", 0)]))
    numbers = [f"1380013{n:04d}" for n in range(10, 16)]
    ids = submit(daemon, *[reminder(n, attempts=2, lesson=f"K-{n}") for n in numbers])
    deadline = time.monotonic() + 30
    while len(invites(telecom) + invites(unicom)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    again = start_daemon(asterisk, tmp_path / "again.log", dsn=daemon.dsn)
    try:
        jobs = [settled(again, i, timeout=90)[0] for i in ids]
        assert all(j.state == "done" for j in jobs)
        rung = [callee for callee, _ in invites(telecom) + invites(unicom)]
        assert sorted(rung) == sorted(set(rung))  # nobody twice
        assert set(rung) <= set(numbers)
        assert "reconcil" in again.log().lower() or "ended while unobserved" in again.log()
    finally:
        again.stop()


def _lead(number: str, name: str = "李女士") -> NewJob:
    return NewJob(kind="lead", campaign="signups", number=number,
                  not_before=AT - dt.timedelta(minutes=1), deadline=AT + dt.timedelta(hours=2),
                  external_id=f"lead-{number}", variables={"name": name})


def test_press_2_reaches_a_person_and_a_lead_waits_for_a_free_agent(
        asterisk: RunningAsterisk, sipp, daemon: RunningDaemon,
        sipp_server: Callable[..., SippServer]) -> None:
    """A reminder callee pressing 2 is put through to a course agent (a SIPp desk phone);
    a new sign-up is only dialled once a sales agent is ready, and then reaches that agent."""
    from tests.integration.test_acd_live import phone_up

    # each callee talks a few seconds with the agent, then hangs up (keys land inside the
    # prompt: one pressed before it starts, while the first call synthesises it, is lost)
    sipp_server(CARRIER_PORTS["telecom"], uas_keys_scenario([pause(6000), dtmf("2", 0)],
                                                            hangup_after_ms=6000))
    sipp_server(CARRIER_PORTS["unicom"], uas_scenario("answer", hangup_after_ms=15000))
    course = phone_up(asterisk, sipp, sipp_server, "8001", "answer", daemon)  # 1001: course
    (job_id,) = submit(daemon, reminder(BEIJING_MOBILE))
    job, _ = settled(daemon, job_id, timeout=90)
    assert job.result == "person"
    answers = wait_events(daemon.dsn, "queue.answer")
    assert [(a["queue"], a["agent_id"]) for a in answers] == [("course-bj", "1001")]
    assert course.count("SuccessfulCall") + course.count("IncomingCall") >= 1

    # no sales agent logged in: the lead is due but nobody is dialled
    (lead_id,) = submit(daemon, _lead("13980000000"))  # a Chengdu mobile: unicom's number
    time.sleep(4)
    lead, attempts = run(_get(daemon.dsn, lead_id))
    assert lead is not None and lead.state == "pending" and attempts == []
    phone_up(asterisk, sipp, sipp_server, "8003", "answer", daemon)  # 1003: sales
    lead, attempts = settled(daemon, lead_id, timeout=90)
    assert lead.result == "connected", daemon.log()[-4000:]
    assert attempts[0].caller_id == "02880002000"  # 成都, carried by unicom
    answers = wait_events(daemon.dsn, "queue.answer", 2)
    assert ("sales", "1003") in [(a["queue"], a["agent_id"]) for a in answers]


def test_a_survey_call_records_the_score_only_with_consent(
        daemon: RunningDaemon, sipp_server: Callable[..., SippServer]) -> None:
    import psycopg

    telecom = sipp_server(CARRIER_PORTS["telecom"],
                          uas_keys_scenario([pause(6000), dtmf("4", 0)]))
    sipp_server(CARRIER_PORTS["unicom"])
    with psycopg.connect(daemon.dsn) as conn:
        conn.execute("INSERT INTO contacts (number, name, consent) VALUES (%s, %s, true)",
                     ("13800138002", "张先生"))

    def survey(number: str) -> NewJob:
        return NewJob(kind="survey", campaign="satisfaction", number=number,
                      not_before=AT - dt.timedelta(minutes=1),
                      deadline=AT + dt.timedelta(hours=1), template="survey")

    asked, unasked = submit(daemon, survey("13800138002"), survey(BEIJING_MOBILE))
    job, _ = settled(daemon, asked)
    assert job.result == "confirmed"
    scores = [e["data"] for e in wait_events(daemon.dsn, "survey.answer")]
    assert [(s["score"], s["outcome"], s["job"]) for s in scores] == [
        (4, "answered", str(asked))]
    job, attempts = settled(daemon, unasked)
    assert (job.state, attempts) == ("refused", [])
    assert "consent" in (job.reason or "")
    assert [callee for callee, _ in invites(telecom)] == ["13800138002"]
