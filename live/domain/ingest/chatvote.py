"""Which chat messages are votes: a strict grammar, so chat stays chat.

A vote names a contestant's number (编号) in one of four forms: ``投3``, ``选3``, ``#3``,
``3号`` (``投3号`` too), after Unicode NFKC (full-width ``３`` and ``＃`` become ``3``, ``#``),
with the number in digits or as 一…十. A bare number ("666", "3") is applause, not a vote; so
is anything else around the form ("我投3给他" is chat).
"""

from __future__ import annotations

import re
import unicodedata

CHINESE = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CHINESE_TEN = "十"
_NUMBER = r"([0-9A-Za-z-]{1,12}|[一二两三四五六七八九十]{1,3})"
_FORMS = (
    re.compile(rf"^[投选]\s*{_NUMBER}\s*号?$"),
    re.compile(rf"^#\s*{_NUMBER}$"),
    re.compile(rf"^{_NUMBER}\s*号$"),
)


def _chinese(numeral: str) -> int | None:
    """一…十 (and 十一…九十九) as a number; None if not one."""
    if CHINESE_TEN not in numeral:
        return CHINESE.get(numeral) if len(numeral) == 1 else None
    tens, _, ones = numeral.partition(CHINESE_TEN)
    if CHINESE_TEN in ones:
        return None
    high = CHINESE.get(tens, 0) if tens else 1
    low = CHINESE.get(ones, 0) if ones else 0
    if (tens and not high) or (ones and not low):
        return None
    return high * 10 + low


def number_key(number: str) -> str:
    """How a contestant's number is compared: digits by value (``03`` is ``3``), letters
    without case."""
    return str(int(number)) if number.isdigit() else number.lower()


def parse_vote(text: str) -> str | None:
    """The number a chat message votes for (as :func:`number_key` gives it), or None."""
    norm = unicodedata.normalize("NFKC", text).strip()
    if len(norm) > 20:
        return None
    for form in _FORMS:
        m = form.match(norm)
        if m:
            numeral = m.group(1)
            if numeral.isdigit() or not any("\u4e00" <= ch <= "\u9fff" for ch in numeral):
                return number_key(numeral)
            value = _chinese(numeral)
            return None if value is None else str(value)
    return None
