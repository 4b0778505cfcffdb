"""Queue announcements: numbers and sentences in the company's language, played over a real
AgiSession, and the built-in pieces built with the site's prompts."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from itertools import product
from pathlib import Path

import pytest
import yaml

from callcenter.acd.live.announce import (
    MAX_NUMBER,
    announcement,
    chinese_number,
    english_number,
    number_pieces,
    play_announcement,
)
from callcenter.agi.session import AgiHangup
from callcenter.ivr.prompts import build_prompts
from callcenter.ivr.system_prompts import system_texts
from callcenter.site import load_site
from callcenter.site.model import Announce
from tests.fix_acdscript import AgiCommand, ScriptedAgi
from tests.fix_asterisk import make_site


def said(items: list[str], language: str) -> str:
    """The text the pieces speak (KeyError if a piece has no built-in prompt)."""
    texts = system_texts(language)
    return (" " if language == "en" else "").join(texts[i] for i in items)


ZH_NUMBERS = {0: "零", 1: "一", 2: "两", 3: "三", 9: "九", 10: "十", 11: "十一", 12: "十二",
              19: "十九", 20: "二十", 22: "二十二", 99: "九十九", 100: "一百", 101: "一百零一",
              105: "一百零五", 110: "一百一十", 119: "一百一十九", 200: "两百", 202: "两百零二",
              250: "两百五十", 1000: "一千", 1001: "一千零一", 1010: "一千零一十",
              1200: "一千二百", 2000: "两千", 2222: "两千二百二十二", 9999: "九千九百九十九"}
EN_NUMBERS = {0: "zero", 2: "two", 13: "thirteen", 20: "twenty", 42: "forty two",
              100: "one hundred", 105: "one hundred five", 110: "one hundred ten",
              2000: "two thousand", 3019: "three thousand nineteen",
              9999: "nine thousand nine hundred ninety nine"}


@pytest.mark.parametrize(("n", "text"), ZH_NUMBERS.items())
def test_mandarin_numbers(n: int, text: str) -> None:
    assert said(chinese_number(n), "zh") == text


@pytest.mark.parametrize(("n", "text"), EN_NUMBERS.items())
def test_english_numbers(n: int, text: str) -> None:
    assert said(english_number(n), "en") == text


def test_numbers_out_of_range() -> None:
    for say in (chinese_number, english_number):
        with pytest.raises(ValueError, match="outside 0…9999"):
            say(MAX_NUMBER + 1)
        with pytest.raises(ValueError):
            say(-1)
    # announcements never fail on a huge queue: they say the largest number they can
    assert number_pieces(123456, "zh") == chinese_number(MAX_NUMBER)


@pytest.mark.parametrize("language", ["zh", "yue", "en"])
def test_every_piece_has_a_built_in_prompt(language: str) -> None:
    texts = system_texts(language)
    names = {p for n in range(MAX_NUMBER + 1) for p in number_pieces(n, language)}
    names |= {p for pos, ms in product(range(1, 4), (0, 60000, 120000))
              for p in announcement(pos, ms, Announce(), language)}
    assert names <= set(texts), names - set(texts)


ZH_POSITION = {1: "下一位就是您", 2: "您前面还有一位", 5: "您前面还有四位", 12: "您前面还有十一位"}
ZH_WAIT = {0: "", 59: "", 61: "预计等待一分钟", 150: "预计等待两分钟"}
EN_POSITION = {1: "You are next in line.", 2: "There is one caller ahead of you.",
               5: "There are four callers ahead of you.",
               12: "There are eleven callers ahead of you."}
EN_WAIT = {0: "", 59: "", 61: "Your estimated wait is one minute.",
           150: "Your estimated wait is two minutes."}
CASES = [(lang, pos, secs, p_on, w_on)
         for lang, (positions, waits) in {"zh": (ZH_POSITION, ZH_WAIT),
                                          "en": (EN_POSITION, EN_WAIT)}.items()
         for pos, secs, p_on, w_on in product(positions, waits, (True, False), (True, False))]


@pytest.mark.parametrize(("language", "position", "seconds", "pos_on", "wait_on"), CASES)
def test_sentence(language: str, position: int, seconds: int, pos_on: bool,
                  wait_on: bool) -> None:
    positions, waits = {"zh": (ZH_POSITION, ZH_WAIT), "en": (EN_POSITION, EN_WAIT)}[language]
    parts = [positions[position] if pos_on else "", waits[seconds] if wait_on else ""]
    expected = (" " if language == "en" else "").join(p for p in parts if p)
    settings = Announce(position=pos_on, estimated_wait=wait_on)
    assert said(announcement(position, seconds * 1000, settings, language), language) == expected


def test_not_waiting_says_nothing() -> None:
    assert announcement(0, 600000, Announce(), "zh") == []


def test_cantonese_sentence() -> None:
    items = announcement(3, 125000, Announce(), "yue")
    assert said(items, "yue") == "你前面仲有兩位預計等候兩分鐘"


# ---- playing over a real AgiSession (Asterisk's side scripted) ----------------------------

class _HangsUpAt(ScriptedAgi):
    """A caller who hangs up when the prompt `at` starts."""

    at: str | None = None

    def _answer(self, cmd: AgiCommand) -> None:
        if self.at and cmd.name == "STREAM FILE" and cmd.args[0].endswith(self.at):
            self.hang_up()
        super()._answer(cmd)


async def _played(items: list[str], sounds: Path, *, hang_up_at: str = "",
                  **kw: str) -> tuple[list[AgiCommand], BaseException | None]:
    """The commands play_announcement sent, and what it raised."""
    agi = _HangsUpAt("1700000000.1")
    agi.at = hang_up_at
    session = await agi.open()
    try:
        await play_announcement(session, items, sounds, **kw)
    except AgiHangup as exc:
        return agi.sent, exc
    finally:
        agi.close()
    return agi.sent, None


def test_play_pauses_music_and_falls_back_to_beep(tmp_path: Path) -> None:
    (tmp_path / "ann_ahead.wav").write_bytes(b"")
    (tmp_path / "num_4.wav").write_bytes(b"")
    items = ["ann_ahead", "num_4", "ann_callers"]
    sent, error = asyncio.run(_played(items, tmp_path, music_class="vip"))
    assert error is None
    assert sent == [("SET MUSIC", ("off",)), ("STREAM FILE", (f"{tmp_path}/ann_ahead", "")),
                    ("STREAM FILE", (f"{tmp_path}/num_4", "")), ("STREAM FILE", ("beep", "")),
                    ("SET MUSIC", ("on", "vip"))]
    sent, _ = asyncio.run(_played(["ann_next"], tmp_path))
    assert sent[-1] == ("SET MUSIC", ("on",))


def test_nothing_to_say_sends_nothing(tmp_path: Path) -> None:
    assert asyncio.run(_played([], tmp_path)) == ([], None)


def test_caller_hangs_up_mid_announcement(tmp_path: Path) -> None:
    (tmp_path / "num_4.wav").write_bytes(b"")
    sent, error = asyncio.run(_played(["ann_ahead", "num_4", "ann_callers"], tmp_path,
                                      hang_up_at="num_4"))
    assert isinstance(error, AgiHangup)
    assert len(sent) == 3 and sent[-1].args[0].endswith("num_4")  # nothing after it


# ---- the pieces are built with the site's prompts ------------------------------------------

def _seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / 8000


def _site(tmp_path: Path, language: str, **prompts: dict[str, str]) -> Path:
    path = make_site(tmp_path / "s")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["company"]["language"] = language
    data["prompts"].update(prompts)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_built_in_pieces_are_built_trimmed_and_a_site_prompt_wins(tmp_path: Path) -> None:
    rec = tmp_path / "s" / "five.wav"
    rec.parent.mkdir()
    subprocess.run(["sox", "-n", "-r", "16000", str(rec), "synth", "0.5", "sine", "440"],
                   check=True)
    site = load_site(_site(tmp_path, "zh", num_5={"file": "five.wav"},
                           plain_zero={"text": "零", "language": "zh"}), env={})
    out = tmp_path / "conf"
    result = build_prompts(site, out)
    assert set(system_texts("zh")) <= set(result) and set(result.values()) == {"built"}
    sounds = out / "sounds"
    for name in system_texts("zh"):
        assert _seconds(sounds / f"{name}.wav") > 0.1, name
    assert abs(_seconds(sounds / "num_5.wav") - 0.5) < 0.05  # the recording, not 五
    # espeak-ng's silence around a piece is cut; a site prompt is left as spoken
    assert _seconds(sounds / "num_0.wav") < _seconds(sounds / "plain_zero.wav") - 0.1
    assert set(build_prompts(site, out).values()) == {"unchanged"}


def test_english_site_gets_english_pieces(tmp_path: Path) -> None:
    site = load_site(_site(tmp_path, "en"), env={})
    result = build_prompts(site, tmp_path / "conf")
    assert {"num_19", "num_90", "ann_one_minute"} <= set(result)
    assert "num_2liang" not in result
