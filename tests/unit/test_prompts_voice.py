"""The espeak-ng voice of each language speaks its texts in that language, not as English."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from callcenter.ivr.prompts import VOICES
from callcenter.ivr.system_prompts import system_texts
from callcenter.site import load_site
from tests.fix_asterisk import make_site


def phonemes(language: str, text: str) -> str:
    res = subprocess.run(["espeak-ng", "-q", "-x", "-v", VOICES[language], text],
                         capture_output=True, text=True, check=True, timeout=30)
    return res.stdout


@pytest.mark.parametrize("language", ["zh", "yue"])
def test_chinese_pieces_are_not_spoken_as_english(language: str) -> None:
    # espeak-ng marks a switch to English as "(en)": the plain cmn voice does it for 两, 百…
    wrong = {name: text for name, text in system_texts(language).items()
             if "(en)" in phonemes(language, text)}
    assert not wrong


def test_example_site_prompts_are_spoken_in_mandarin(tmp_path: Path) -> None:
    site = load_site(make_site(tmp_path), env={})
    texts = {n: p.text for n, p in site.spec.prompts.items() if p.text and p.language == "zh"}
    assert texts
    wrong = [n for n, text in texts.items() if "(en)" in phonemes("zh", text)]
    assert not wrong
