"""The dialler: due jobs placed as AMI Originates through the dialling policy, the callee's
limits, the caller-ID rule and the pacers; each call's ending turned into a result. An
attempt is committed before its Originate, which is never sent twice (reconcile.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.clock import SYSTEM, Clock
from callcenter.cluster.fencing import FencedError
from callcenter.contract import Var
from callcenter.dialling.policy import Decision, decide, refuse
from callcenter.outbound.flight import InFlight
from callcenter.outbound.jobs import Job, JobStore, StoreUnavailable
from callcenter.outbound.leads import LeadPacing
from callcenter.outbound.limits import may_call
from callcenter.outbound.pacing import CampaignPacer, PacingError, TrunkPacer
from callcenter.outbound.present import Presentation, present
from callcenter.outbound.reconcile import reconcile, settle
from callcenter.outbound.results import dial_result
from callcenter.site import Site

__all__ = ["Dialler", "InFlight"]

log = logging.getLogger(__name__)

# an answered call's script result may trail the dialplan's report by a moment
SCRIPT_GRACE_SECONDS = 10.0
# an attempt never reported within this long is reconciled from Asterisk
STALE_SECONDS = 900.0


class Dialler:
    """`run_forever` places calls once a second; `on_user_event`/`on_originate_response`
    (AMI) and `script_finished` (the answered call's AGI script) report endings."""

    def __init__(self, site: Site, store: JobStore, ami: Any, *, emit: Callable[..., Any],
                 clock: Clock = SYSTEM, monotonic: Callable[[], float] = time.monotonic,
                 interval: float = 1.0,
                 ready_for: Callable[[str], int] = lambda queue: 0) -> None:
        self.site = site
        self.spec = site.spec
        self.out = site.spec.outbound
        self.store = store
        self.ami = ami
        self.emit = emit
        self.clock = clock
        self.monotonic = monotonic
        self.interval = interval
        self.tz = ZoneInfo(site.spec.company.timezone)
        self.trunks = TrunkPacer(site.spec.trunks)
        self.campaigns = CampaignPacer(site.spec.outbound.campaigns)
        # lead calls are paced by the sales agents free to take them (docs/outbound.md)
        self.leads = LeadPacing(site.spec.outbound.campaigns, ready_for)
        self.live: dict[str, InFlight] = {}
        self.reconciled = False
        self.counts: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run_forever(self) -> None:
        self.reconciled = False  # a restarted loop may have missed endings
        while True:
            try:
                if self.ami.connected.is_set():
                    if not self.reconciled:
                        await reconcile(self)
                    await self.tick()
            except StoreUnavailable as exc:
                log.warning("dialler waits for the database: %s", exc)
            except Exception:
                # one bad job or AMI hiccup must not stop the dialler (nor, restarted five
                # times, the daemon): look again, reconciling first
                log.exception("dialler pass failed; reconciling before the next")
                self.reconciled = False
            await asyncio.sleep(self.interval)

    def on_ami_lost(self) -> None:
        """Endings may be missed while AMI is down: reconcile before dialling again."""
        self.reconciled = False

    async def tick(self) -> int:
        """Place what is due and has room; return how many Originates were sent."""
        for flight in list(self.live.values()):
            if self.monotonic() - flight.started > STALE_SECONDS and not flight.finishing:
                # silent for long: a long talk goes on, an ending missed is settled
                await settle(self, flight.attempt_id, flight)
        now = self.clock.now(self.tz)
        sent = 0
        # each campaign by its own room: a backlog of one (leads waiting for an agent, a
        # full campaign) never holds back another's due calls
        for name, campaign in self.out.campaigns.items():
            room = campaign.concurrency - self.campaigns.in_flight(name)
            if room <= 0 or (campaign.kind == "lead"
                             and not self.leads.room(name, self.live.values())):
                continue
            for job in await self.store.due(now, room, campaign=name):
                try:
                    if await self._place(job, now):
                        sent += 1
                except StoreUnavailable:
                    raise
                except Exception:  # e.g. the job was cancelled meanwhile
                    log.exception("job %s not placed", job.id)
        return sent

    async def _place(self, job: Job, now: dt.datetime) -> bool:
        campaign = self.out.campaigns.get(job.campaign)
        if campaign is None:
            await self._refuse(job, f"campaign {job.campaign!r} is not in the site file", now,
                               None, "invalid")
            return False
        verdict = decide(self.spec, "campaign", job.number, emit=self.emit,
                         job=str(job.id), campaign=job.campaign, job_kind=job.kind)
        if not verdict.allowed:
            await self.store.refuse(job.id, verdict.reason, now=now, retry_at=None)
            self._count("refused_policy")
            return False
        digits = verdict.dial_digits
        previous = await self.store.attempts_since(digits, now - dt.timedelta(days=1))
        rule = may_call(kind=job.kind, campaign=campaign, limits=self.out.limits,
                        previous=previous, now=now, tz=self.tz,
                        on_dnc=await self.store.dnc_has(digits),
                        consent=await self.store.consent(digits),
                        never_call=digits in self.out.never_call)
        if not rule.ok:
            await self._refuse(job, rule.reason, now, rule.retry_at, verdict.number_class)
            return False
        usage = await self.store.usage(now.date())
        shown = present(self.spec, self.site.base_dir, digits, job.kind, usage,
                        trunks=campaign.trunks)
        first = shown.first
        if job.kind == "lead" and not self.leads.room(job.campaign, self.live.values()):
            self._count("waiting_for_agent")
            return False
        mono = self.monotonic()
        if not self.campaigns.acquire(job.campaign):
            return False
        if not self.trunks.acquire(first, mono):
            self.campaigns.release(job.campaign)
            self._count("paced")
            return False
        attempt_id = uuid.uuid4()
        lateness = max(0, int((now - job.not_before).total_seconds() * 1000))
        try:
            started = await self.store.start_attempt(
                job.id, attempt_id, now=now, trunk=first, caller_id=shown.number,
                caller_id_kind=shown.tier, lateness_ms=lateness)
        except FencedError as exc:  # deposed: the new leader dials it; nothing was written
            log.warning("job %s not dialled: %s", job.id, exc)
            self._count("fenced")
            started = None
        except Exception:
            # the commit may have landed (reconciled: unknown); the slots go back now
            self.trunks.release(first)
            self.campaigns.release(job.campaign)
            self.reconciled = False
            raise
        if started is None:  # cancelled since it was read, or this daemon no longer leads
            self.trunks.release(first)
            self.campaigns.release(job.campaign)
            return False
        key = str(attempt_id)
        flight = InFlight(key, started, job.campaign, first, shown.number, shown.tier, mono)
        self.live[key] = flight
        try:
            await self._originate(flight, digits, shown, campaign, lateness)
        except Exception:
            # never sent again blindly: Asterisk may have it; its report tells, or the
            # reconciliation (its database, its channels) that now runs before any dial
            log.exception("attempt %s: Originate not confirmed; reconciled before the "
                          "next dial", key)
            self.reconciled = False
        self._count("placed")
        return True

    async def _originate(self, flight: InFlight, digits: str, shown: Presentation,
                         campaign: Any, lateness: int) -> None:
        job, key, first = flight.job, flight.attempt_id, flight.trunk
        self.emit("outbound.attempt", job=str(job.id), attempt=key, job_kind=job.kind,
                  campaign=job.campaign, number=digits, trunk=first, caller_id=shown.number,
                  caller_id_kind=shown.tier, lateness_ms=lateness,
                  attempt_no=job.attempts)
        log.info("dialling %s for %s %s (attempt %d, presents %s via %s: %s)", digits,
                 job.kind, job.external_id or job.id, job.attempts, shown.number, first,
                 shown.why)
        variables = {Var.ATTEMPT: key, Var.DIAL_OK: digits, Var.PRESENT: shown.number,
                     Var.PRESENT2: shown.fallback, Var.FIRST: first, Var.SECOND: shown.second,
                     Var.OUT_NUMBER: ""}
        await self.ami.action({
            "Action": "Originate", "ActionID": f"ob-{key}",
            "Channel": f"Local/{digits}@cc-outbound-dial/n",
            "Context": "cc-outbound-answered", "Exten": "s", "Priority": "1",
            "ChannelId": key, "OtherChannelId": f"{key}-2",
            "CallerID": f"<{shown.number}>", "Async": "true",
            "Timeout": str(campaign.ring_seconds * 1000),
            "Variable": ",".join(f"{k}={v}" for k, v in variables.items())},
            # as_list=False: the reply is "queued" at once; else panoramisk waits for the
            # OriginateResponse, dialling one call at a time and keeping that event from us
            as_list=False, timeout=10)

    async def _refuse(self, job: Job, reason: str, now: dt.datetime,
                      retry_at: dt.datetime | None, number_class: str) -> None:
        refuse(Decision(False, number_class, "", reason), "campaign", job.number,
               emit=self.emit, job=str(job.id), campaign=job.campaign, job_kind=job.kind,
               retry_at=retry_at.isoformat() if retry_at else None)
        await self.store.refuse(job.id, reason, now=now, retry_at=retry_at)
        self._count("deferred" if retry_at else "refused")

    def on_user_event(self, msg: Any) -> None:
        if msg.get("UserEvent") != "CallcenterOutbound":
            return
        flight = self.live.get(msg.get("Attempt", ""))
        if flight is None:
            return
        flight.dial_status = str(msg.get("Status", "")).upper()
        flight.cause = str(msg.get("Cause", ""))
        self._spawn(self._finish_reported(flight))

    def on_originate_response(self, msg: Any) -> None:
        action = str(msg.get("ActionID", ""))
        if not action.startswith("ob-") or msg.get("Response") == "Success":
            return
        flight = self.live.get(action[3:])
        if flight is not None:
            # no dialplan report follows an Originate Asterisk refused outright
            self._spawn(self._finish_unreported(flight))

    def script_finished(self, attempt_id: str, result: str) -> None:
        """The answered call's script: what the callee did."""
        flight = self.live.get(attempt_id)
        if flight is not None:
            flight.script_result = result
            flight.script_done.set()

    async def _finish_reported(self, flight: InFlight) -> None:
        status = flight.dial_status or ""
        if status == "ANSWER" and flight.script_result is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flight.script_done.wait(), SCRIPT_GRACE_SECONDS)
        result = flight.script_result or dial_result(status, flight.cause)
        await self.finish(flight, result, status)

    async def _finish_unreported(self, flight: InFlight) -> None:
        await asyncio.sleep(2.0)  # a report racing the response wins
        if flight.dial_status is None and not flight.finishing:
            await self.finish(flight, "failed", "ORIGINATE_FAILED")

    async def finish(self, flight: InFlight, result: str, status: str) -> None:
        if flight.finishing:
            return
        flight.finishing = True
        now = self.clock.now(self.tz)
        try:
            if result == "opted_out":  # stored with the result: never lost, never called again
                await self.store.dnc_add(flight.job.number, "keypad",
                                         f"pressed 9 in {flight.job.kind} {flight.campaign}")
            job = await self.store.end_attempt(uuid.UUID(flight.attempt_id), result, now=now,
                                               dial_status=status)
        except StoreUnavailable as exc:
            flight.finishing = False  # AstDB still has it: the reconciliation retries
            self.reconciled = False
            log.warning("attempt %s result not stored yet: %s", flight.attempt_id, exc)
            return
        self.live.pop(flight.attempt_id, None)
        with contextlib.suppress(PacingError):  # a trunk or campaign the site file dropped
            self.trunks.release(flight.trunk)
            self.campaigns.release(flight.campaign)
        self._count(result)
        self.emit("outbound.result", job=str(job.id), attempt=flight.attempt_id,
                  job_kind=job.kind, campaign=job.campaign, external_id=job.external_id,
                  number=job.number, result=result, dial_status=status,
                  caller_id_kind=flight.caller_id_kind, trunk=flight.trunk,
                  final=job.state != "pending", attempts=job.attempts)
        log.info("attempt %s to %s: %s (%s)%s", flight.attempt_id, job.number, result,
                 status or "-", "" if job.state != "pending" else
                 f"; tried again at {job.next_at:%H:%M:%S}")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        return {"in_flight": len(self.live), "reconciled": self.reconciled,
                "counts": dict(self.counts),
                "campaigns": {n: self.campaigns.in_flight(n) for n in self.out.campaigns}}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
