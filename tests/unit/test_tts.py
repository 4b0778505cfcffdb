"""Text-to-speech at call time with the real espeak-ng and sox: the format Asterisk plays,
a private cache keyed by voice and text, one synthesis for concurrent callers, pruning."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import wave
from pathlib import Path

import pytest

from callcenter.clock import FixedClock
from callcenter.outbound import tts
from callcenter.outbound.tts import TtsError, cache_key, prune, speak, speak_sync

T0 = dt.datetime(2025, 12, 1, 10, 0, tzinfo=dt.UTC)
CLOCK = FixedClock(T0)


def test_spoken_text_is_an_8khz_mono_16bit_wav_named_by_hash(tmp_path: Path) -> None:
    cache = tmp_path / "tts"
    stem = asyncio.run(speak("王小明同学您好", "zh", cache, clock=CLOCK))
    assert stem.suffix == "" and stem.parent == cache
    assert stem.name == cache_key("王小明同学您好", "zh")
    with wave.open(str(stem) + ".wav") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 8000  # over a second of speech
    assert cache.stat().st_mode & 0o777 == 0o700
    assert Path(str(stem) + ".wav").stat().st_mode & 0o777 == 0o600
    assert os.listdir(cache) == [stem.name + ".wav"]  # no work files left, no text in names


def test_voice_and_text_make_the_key(tmp_path: Path) -> None:
    assert cache_key("hello", "en") != cache_key("hello", "zh")
    assert cache_key("hello", "en") != cache_key("hello!", "en")
    a = speak_sync("hello", "en", tmp_path, clock=CLOCK)
    b = speak_sync("hello", "zh", tmp_path, clock=CLOCK)
    assert a != b and len(list(tmp_path.glob("*.wav"))) == 2


def test_a_wide_cache_folder_is_made_private(tmp_path: Path) -> None:
    cache = tmp_path / "tts"
    cache.mkdir(mode=0o755)
    os.chmod(cache, 0o755)
    speak_sync("你好", "zh", cache, clock=CLOCK)
    assert cache.stat().st_mode & 0o777 == 0o700


def test_asterisks_group_may_read_when_given(tmp_path: Path) -> None:
    gid = os.getgid()
    stem = speak_sync("你好", "zh", tmp_path / "g", clock=CLOCK, group=gid)
    st = Path(str(stem) + ".wav").stat()
    assert (st.st_mode & 0o777, st.st_gid) == (0o640, gid)
    assert (tmp_path / "g").stat().st_mode & 0o777 == 0o750


def test_concurrent_callers_synthesise_once(tmp_path: Path, monkeypatch) -> None:
    made: list[str] = []
    real = tts._make

    def counting(text: str, language: str, target: Path, group: int | None) -> None:
        made.append(text)
        real(text, language, target, group)

    # a spy around the real synthesis (espeak-ng and sox still run), counting the calls
    monkeypatch.setattr(tts, "_make", counting)

    async def many() -> list[Path]:
        return await asyncio.gather(*(speak("您预约的英语课将在今天晚上七点半开始", "zh",
                                            tmp_path, clock=CLOCK) for _ in range(6)))

    stems = asyncio.run(many())
    assert len(set(stems)) == 1 and len(made) == 1
    assert [p.name for p in tmp_path.iterdir()] == [stems[0].name + ".wav"]


def test_text_is_never_read_as_an_option(tmp_path: Path) -> None:
    stem = speak_sync(f"-w {tmp_path}/owned --version", "en", tmp_path / "c", clock=CLOCK)
    assert Path(str(stem) + ".wav").stat().st_size > 1000
    assert not (tmp_path / "owned").exists()


def test_empty_and_huge_texts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match="empty"):
        speak_sync("  ", "zh", tmp_path)
    with pytest.raises(TtsError, match="at most 1000"):
        speak_sync("好" * 1001, "zh", tmp_path)


def test_an_unusable_cache_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TtsError, match="cannot be used"):
        speak_sync("你好", "zh", blocker / "tts")


def test_prune_removes_files_unused_for_the_age(tmp_path: Path) -> None:
    old = speak_sync("旧的", "zh", tmp_path, clock=CLOCK)
    later = FixedClock(T0 + dt.timedelta(days=2))
    fresh = speak_sync("新的", "zh", tmp_path, clock=later)
    # using the old one an hour after T0 keeps it an hour longer
    speak_sync("旧的", "zh", tmp_path, clock=FixedClock(T0 + dt.timedelta(hours=1)))
    day = 86400
    assert prune(tmp_path, 2 * day, clock=later) == 0
    assert prune(tmp_path, day, clock=later) == 1
    assert not Path(str(old) + ".wav").exists() and Path(str(fresh) + ".wav").exists()
    assert prune(tmp_path / "missing", day, clock=later) == 0


def test_prune_keeps_a_speak_in_progress(tmp_path: Path) -> None:
    work = tmp_path / ".tmp-abc"
    work.mkdir()
    future = FixedClock(T0 + dt.timedelta(days=365 * 30))
    assert prune(tmp_path, 60, clock=future) == 0
    assert work.exists()  # made just now by the real clock: another speak may own it
