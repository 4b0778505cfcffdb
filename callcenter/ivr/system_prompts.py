"""The built-in prompts every site gets: the pieces a waiting caller's announcement is made of
(position, estimated wait, numbers) and a survey-first queue's question, in the company's
language. A site prompt of the same name replaces one (a recording of "您前面还有", say)."""

from __future__ import annotations

from callcenter.errors import CallcenterError

__all__ = ["LANGUAGES", "system_texts"]

_DIGITS_ZH = "零一二三四五六七八九"

_ZH = {
    "ann_next": "下一位就是您",
    "ann_one_ahead": "您前面还有一位",
    "ann_ahead": "您前面还有",
    "ann_callers": "位",
    "ann_wait": "预计等待",
    "ann_one_minute": "一分钟",
    "ann_minutes": "分钟",
    "survey_invite": "通话结束后如愿意评价服务请按1",  # a survey-first queue (docs/surveys.md)
    **{f"num_{d}": c for d, c in enumerate(_DIGITS_ZH)},
    "num_2liang": "两",
    "num_10": "十",
    "num_100": "百",
    "num_1000": "千",
}

# Cantonese counts like Mandarin (十二, 一百零五, 兩位); the sentences are its own
_YUE = {
    **_ZH,
    "ann_next": "下一位就係你",
    "ann_one_ahead": "你前面仲有一位",
    "ann_ahead": "你前面仲有",
    "ann_wait": "預計等候",
    "ann_one_minute": "一分鐘",
    "ann_minutes": "分鐘",
    "survey_invite": "通話結束後如願意評價服務請按1",
    "num_2liang": "兩",
}

_EN_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen")
_EN_TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty",
            70: "seventy", 80: "eighty", 90: "ninety"}

_EN = {
    "ann_next": "You are next in line.",
    "ann_one_ahead": "There is one caller ahead of you.",
    "ann_ahead": "There are",
    "ann_callers": "callers ahead of you.",
    "ann_wait": "Your estimated wait is",
    "ann_one_minute": "one minute.",
    "ann_minutes": "minutes.",
    "survey_invite": "To rate our service after the call, press 1.",
    **{f"num_{n}": w for n, w in enumerate(_EN_WORDS)},
    **{f"num_{n}": w for n, w in _EN_TENS.items()},
    "num_100": "hundred",
    "num_1000": "thousand",
}

LANGUAGES: dict[str, dict[str, str]] = {"zh": _ZH, "yue": _YUE, "en": _EN}


def system_texts(language: str) -> dict[str, str]:
    """Prompt name → text for `language` (zh, yue or en)."""
    try:
        return dict(LANGUAGES[language])
    except KeyError:
        raise CallcenterError(f"no built-in prompts in language {language!r}; "
                              f"known: {', '.join(sorted(LANGUAGES))}") from None
