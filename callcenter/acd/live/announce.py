"""What a waiting caller hears every `announce.every` seconds: their place in the queue and the
estimated wait, in the company's language, as a sequence of built-in prompt pieces
(callcenter.ivr.system_prompts; built by callcenter.ivr.prompts.build_prompts).

Every language is spoken from its own pieces, numbers included (十二, 一百零五; "twelve"), so
one voice speaks the whole sentence; Asterisk's English SAY NUMBER is not used."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from callcenter.acd.live.wake import WAKE_DIGIT
from callcenter.agi.protocol import AgiResponse
from callcenter.agi.session import AgiSession
from callcenter.contract import Var
from callcenter.errors import CallcenterError
from callcenter.site.model import Announce

__all__ = ["MAX_NUMBER", "announcement", "chinese_number", "english_number",
           "invite_to_survey", "number_pieces", "play_announcement", "sound_path"]

Run = Callable[..., Awaitable[AgiResponse]]  # Wakeable.run: a command a decision may end

# the largest number the pieces can say (千 is the highest unit); bigger ones are said as this
MAX_NUMBER = 9999

_UNITS = (1000, 100, 10, 1)
_UNIT_PIECE = {1000: "num_1000", 100: "num_100", 10: "num_10"}


def _check(n: int) -> None:
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0…{MAX_NUMBER}, the numbers the prompt pieces can say")


def chinese_number(n: int) -> list[str]:
    """The pieces of n (0…9999) in Mandarin or Cantonese counting: 十 for 10, 十二, 二十,
    一百零五 (one 零 for any run of zeros inside), 一百一十; 两 for a count of 2 and before
    百/千 when it leads (两位, 两百), 二 elsewhere (二十, 一千二百)."""
    _check(n)
    if n == 0:
        return ["num_0"]
    if n == 2:
        return ["num_2liang"]
    out: list[str] = []
    started = zero = False
    for unit in _UNITS:
        d = n // unit % 10
        if d == 0:
            zero = started  # a gap after the first digit is spoken as one 零
            continue
        if zero:
            out.append("num_0")
            zero = False
        if unit == 10 and d == 1 and not started:
            out.append("num_10")  # 十二, not 一十二
        else:
            out.append("num_2liang" if d == 2 and not started and unit >= 100 else f"num_{d}")
            if unit in _UNIT_PIECE:
                out.append(_UNIT_PIECE[unit])
        started = True
    return out


def english_number(n: int) -> list[str]:
    """The pieces of n (0…9999) in English words: 'two thousand', 'one hundred five',
    'forty two' (no 'and': each word is its own piece)."""
    _check(n)
    thousands, rest = divmod(n, 1000)
    hundreds, r = divmod(rest, 100)
    out: list[str] = []
    if thousands:
        out += [f"num_{thousands}", "num_1000"]
    if hundreds:
        out += [f"num_{hundreds}", "num_100"]
    if r >= 20:
        out.append(f"num_{r // 10 * 10}")
        if r % 10:
            out.append(f"num_{r % 10}")
    elif r or not out:
        out.append(f"num_{r}")
    return out


_NUMBERS = {"zh": chinese_number, "yue": chinese_number, "en": english_number}


def number_pieces(n: int, language: str) -> list[str]:
    """n said in `language`; numbers above MAX_NUMBER are said as MAX_NUMBER."""
    try:
        say = _NUMBERS[language]
    except KeyError:
        raise CallcenterError(f"announcements cannot be spoken in {language!r}; "
                              f"known: {', '.join(sorted(_NUMBERS))}") from None
    return say(min(max(n, 0), MAX_NUMBER))


def announcement(position: int, estimated_wait_ms: int, settings: Announce,
                 language: str) -> list[str]:
    """The prompt names to play, in order, for a caller at `position` (1 = next) with
    `estimated_wait_ms` to go. The position part is said when settings.position is on; the
    wait when settings.estimated_wait is on and it is at least one whole minute (rounded
    down: 150 s is "2 minutes", 59 s is not said). Empty when the call is not waiting
    (position < 1) or nothing is to be said."""
    if position < 1:
        return []
    items: list[str] = []
    if settings.position:
        if position == 1:
            items.append("ann_next")
        elif position == 2:
            items.append("ann_one_ahead")
        else:
            items += ["ann_ahead", *number_pieces(position - 1, language), "ann_callers"]
    minutes = estimated_wait_ms // 60000
    if settings.estimated_wait and minutes >= 1:
        if minutes == 1:
            items += ["ann_wait", "ann_one_minute"]
        else:
            items += ["ann_wait", *number_pieces(minutes, language), "ann_minutes"]
    return items


def sound_path(sounds: Path, name: str) -> str:
    """What STREAM FILE is given for a prompt: its built file without the extension, or
    Asterisk's own beep if it has not been built (a gap in the sentence, not silence)."""
    path = sounds / f"{name}.wav"
    return str(path.with_suffix("")) if path.exists() else "beep"


async def play_announcement(session: AgiSession, items: list[str], sounds: Path, *,
                            music_class: str = "", run: Run | None = None,
                            stop: Callable[[], bool] = lambda: False) -> None:
    """Play `items` (from announcement) with the hold music paused, then resume the music
    (in `music_class` when given, so the queue's own class comes back). Nothing is sent
    when there is nothing to say. AgiHangup propagates: the caller has gone. With `run`
    (a Wakeable's), each piece ends at the wake digit, and the rest is skipped once `stop()`
    (the decision has come)."""
    if not items:
        return
    await session.command("SET MUSIC", "off")
    for name in items:
        if stop():
            break
        if run is None:
            await session.command("STREAM FILE", sound_path(sounds, name), "")
        else:
            await run("STREAM FILE", sound_path(sounds, name), WAKE_DIGIT)
    if music_class:
        await session.command("SET MUSIC", "on", music_class)
    else:
        await session.command("SET MUSIC", "on")


async def invite_to_survey(session: AgiSession, sounds: Path, music_class: str, *,
                           run: Run | None = None) -> str:
    """A survey-first queue's question ("survey_invite": press 1 to rate the service after
    the call), once per call: the channel's CC_SURVEY remembers it through requeues,
    overflow and transfers. Returns "pressed" (1 during the question: CC_SURVEY=yes),
    "asked" (a 1 from now on opts in) or "" (already answered)."""
    state = await session.get_variable(Var.SURVEY) or ""
    if state:
        return "asked" if state == "asked" else ""
    await session.set_variable(Var.SURVEY, "asked")
    await session.command("SET MUSIC", "off")
    if run is None:
        resp = await session.command("STREAM FILE", sound_path(sounds, "survey_invite"), "1")
    else:  # the decision may cut the question short: the caller is then "asked"
        resp = await run("STREAM FILE", sound_path(sounds, "survey_invite"), "1" + WAKE_DIGIT)
    await session.command("SET MUSIC", "on", music_class)
    if resp.value == ord("1"):
        await session.set_variable(Var.SURVEY, "yes")
        return "pressed"
    return "asked"
