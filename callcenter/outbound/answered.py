"""What an answered automatic call does (FastAGI `outbound/ATTEMPT`): speak the template
with its variables, read the key — 1 confirm, 2 a person (the callee joins a queue with
priority), 9 no more such calls (the do-not-call list) — and tell the dialler."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from callcenter.agi import AgiHangup, AgiSession
from callcenter.clock import SYSTEM, Clock
from callcenter.contract import Next, Var
from callcenter.errors import CallcenterError
from callcenter.outbound.results import KEY_RESULTS

if TYPE_CHECKING:
    from callcenter.acd.live.service import LiveAcd
    from callcenter.outbound.dialler import Dialler

__all__ = ["SCRIPT_TEXTS", "AnsweredCalls"]

log = logging.getLogger(__name__)

KEY_SECONDS = 6  # how long the callee has to press a key after the prompt
ROUNDS = 2  # the prompt is said again once when nothing was pressed
LEAD_PRIORITY = 8  # a new sign-up goes ahead of ordinary callers (VIPs stay at 9)

# what the callee hears after a key, per language
SCRIPT_TEXTS: dict[str, dict[str, str]] = {
    "zh": {"confirmed": "好的，已为您确认，再见。",
           "person": "正在为您转接人工服务，请稍候。",
           "opted_out": "好的，以后不再给您拨打此类电话，再见。",
           "no_input": "感谢您的接听，再见。",
           "thanks": "感谢您的评价，再见。",
           "lead": "您好，感谢您报名试听课，正在为您接通课程顾问，请稍候。",
           "lead_label": "新线索"},
    "en": {"confirmed": "Thank you, that is confirmed. Goodbye.",
           "person": "Connecting you to a person, please hold.",
           "opted_out": "We will not call you with these messages again. Goodbye.",
           "no_input": "Thank you for listening. Goodbye.",
           "thanks": "Thank you for your rating. Goodbye.",
           "lead": "Hello, thank you for signing up. Connecting you to an adviser now.",
           "lead_label": "New lead"},
}


class AnsweredCalls:
    def __init__(self, dialler: Dialler, acd: LiveAcd | None, *, cache_dir: Path,
                 clock: Clock = SYSTEM, group: int | None = None) -> None:
        self.dialler = dialler
        self.acd = acd
        self.cache_dir = cache_dir
        self.group = group  # Asterisk's group, which must read the spoken files
        self.clock = clock
        self.site = dialler.site
        self.tz = ZoneInfo(self.site.spec.company.timezone)

    async def run(self, session: AgiSession, attempt_id: str) -> None:
        flight = self.dialler.live.get(attempt_id)
        if flight is None:
            log.warning("answered call %s belongs to no attempt in progress: hung up",
                        attempt_id[:40])
            await session.set_variable(Var.NEXT, Next.HANGUP)
            return
        job = flight.job
        if job.kind == "lead":
            await self._lead(session, flight)
            return
        out = self.site.spec.outbound
        template = out.templates.get(job.template or "") if job.template else None
        if template is None:
            campaign = out.campaigns.get(job.campaign)
            name = campaign.template if campaign else None
            template = out.templates.get(name or "")
        result = "no_input"
        try:
            if template is None:
                log.warning("attempt %s: no template to speak", attempt_id)
                result = "failed"
                return
            await session.command("ANSWER")
            from callcenter.outbound.speech import fill

            text = fill(template.text, dict(job.variables), now=self.clock.now(self.tz),
                        tz=self.tz, language=template.language)
            prompt = await self._speak(text, template.language)
            digit = ""
            for _ in range(ROUNDS):
                digit = await self._ask(session, prompt, template.file)
                if digit:
                    break
            if job.kind == "survey":
                result = await self._survey(session, job, digit, template.language)
            else:
                result = KEY_RESULTS.get(digit, "no_input")
                await self._after_key(session, job, result, template, digit)
        except AgiHangup:
            # hung up before the end: a key already pressed still counts
            if result == "no_input":
                result = "hangup"
        except CallcenterError as exc:  # a template or speech fault
            log.warning("attempt %s: %s", attempt_id, exc)
            if result == "no_input":  # nothing was heard; a key already pressed stands
                result = "failed"
            await session.set_variable(Var.NEXT, Next.HANGUP)
        finally:
            self.dialler.script_finished(attempt_id, result)

    async def _lead(self, session: AgiSession, flight: Any) -> None:
        """A new sign-up answered: a short greeting, then the next sales agent, ahead of
        ordinary callers; the agent's screen shows it is a lead and the name."""
        spec = self.site.spec
        job, attempt_id = flight.job, flight.attempt_id
        campaign = spec.outbound.campaigns[job.campaign]
        lang = spec.company.language
        result = "abandoned"
        try:
            await session.command("ANSWER")
            name = str(job.variables.get("name", ""))[:30]
            await self._say(session, SCRIPT_TEXTS[lang]["lead"], lang)
            if self.acd is None or campaign.queue is None:
                return
            self.dialler.leads.handed(flight)
            await self.acd.wait(session, queue=campaign.queue, priority=LEAD_PRIORITY,
                                caller=job.number, contact=name, reason="lead",
                                label=f"{SCRIPT_TEXTS[lang]['lead_label']} {name}".strip())
            if await session.get_variable(Var.NEXT) == Next.CONNECT:
                result = "connected"
        except AgiHangup:
            pass
        except CallcenterError as exc:
            log.warning("lead attempt %s: %s", attempt_id, exc)
            result = "failed"
        finally:
            self.dialler.leads.handed(flight, result == "connected")
            self.dialler.script_finished(attempt_id, result)

    async def _ask(self, session: AgiSession, prompt: str, recorded: str | None) -> str:
        if recorded:
            await session.command("STREAM FILE", str(Path(recorded).with_suffix("")), "129")
        resp = await session.command("GET DATA", prompt, KEY_SECONDS * 1000, 1)
        if resp.result == "-1":
            raise AgiHangup("hung up during the prompt")
        return "".join(c for c in resp.result if c.isdigit())[:1]

    async def _after_key(self, session: AgiSession, job: Any, result: str, template: Any,
                         digit: str) -> None:
        lang = template.language
        if result == "opted_out":  # the dialler stores it on the do-not-call list
            self.dialler.emit("outbound.opt_out", job=str(job.id), number=job.number,
                              campaign=job.campaign, job_kind=job.kind)
        await self._say(session, SCRIPT_TEXTS[lang][result if result in (
            "confirmed", "person", "opted_out") else "no_input"], lang)
        if result == "person" and template.person_queue and self.acd is not None:
            # the callee waits like any caller, ahead of ordinary ones
            await self.acd.wait(session, queue=template.person_queue,
                                priority=template.person_priority, caller=job.number,
                                contact=str(job.variables.get("student", ""))[:40],
                                reason="reminder")
        else:
            await session.set_variable(Var.NEXT, Next.HANGUP)

    async def _survey(self, session: AgiSession, job: Any, digit: str, lang: str) -> str:
        """A survey call's one question: a score 1–5 (any other key is a wrong key)."""
        if digit == "9":
            await self._say(session, SCRIPT_TEXTS[lang]["opted_out"], lang)
            return "opted_out"
        if digit in ("1", "2", "3", "4", "5"):
            self.dialler.emit("survey.answer", flow=job.campaign, question="csat",
                              score=int(digit), scale=5, call_id=session.uniqueid,
                              job=str(job.id), outcome="answered")
            await self._say(session, SCRIPT_TEXTS[lang]["thanks"], lang)
            return "confirmed"
        self.dialler.emit("survey.answer", flow=job.campaign, question="csat", score=None,
                          scale=5, call_id=session.uniqueid, job=str(job.id),
                          outcome="invalid" if digit else "timeout")
        await session.set_variable(Var.NEXT, Next.HANGUP)
        return "no_input"

    async def _say(self, session: AgiSession, text: str, lang: str) -> None:
        await session.command("STREAM FILE", await self._speak(text, lang), "")

    async def _speak(self, text: str, lang: str) -> str:
        from callcenter.outbound.tts import speak

        return str(await speak(text, lang, self.cache_dir, clock=self.clock,
                               group=self.group))
