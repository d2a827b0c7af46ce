"""A word filter built for Chinese comments. Pure.

What a comment is matched as (each view keeps, per character, where it came from in the original
text, so a match is masked where the viewer typed it):

1. **Folded**: NFKC per character (full-width letters and digits, circled digits, compatibility
   forms become plain), lower case, format characters (zero-width spaces and joiners) dropped,
   then traditional -> simplified (OpenCC ``t2s``: phrase-aware on the whole text, per character
   when a phrase conversion would change the length).
2. **Normalised**: only letters, digits and CJK characters of the folded text (spaces, symbols,
   punctuation and emoji between characters are gone), each run of one repeated character
   collapsed to one (``赌赌赌博`` is ``赌博``). Listed words and allowed phrases go through the
   same steps, so a word listed as ``赌 博`` or ``賭博`` is ``赌博`` too.
3. **Pinyin**: the normalised text as toneless pinyin (pypinyin, one reading per character,
   letters as typed, digits dropped), matched against the pinyin of every listed word of at least
   two Chinese characters: homophones (``堵博``), typed pinyin (``dubo``) and mixtures
   (``du博``) are caught. A match must begin and end on a syllable's edge (``sha`` never matches
   inside ``shang``). One-character words are not matched by sound (their homophones are
   everyday characters), nor words listed as ``=word``.

Matching is three Aho-Corasick automata (pyahocorasick, C): listed words and allowed phrases on
the normalised text, listed words' pinyin on the pinyin text. A listed word's match that lies
inside an allowed phrase's match (``反赌博``) does not count. Links (``http``, ``www.``, a name
with a common top-level domain, also written with ``点`` or ``。``), mainland phone numbers
(digits also written as ``一二三`` or ``〇``, with anything between them) and QQ numbers (a number
after ``qq``, ``扣扣``, ``企鹅``) are found by pattern, whatever the lists say.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick
import opencc
from pypinyin import lazy_pinyin

MAX_WORD = 40
"""Characters of one listed word or allowed phrase (longer lines are refused)."""

_T2S = opencc.OpenCC("t2s")
_DIGITS = str.maketrans("〇零一二三四五六七八九壹贰叁肆伍陆柒捌玖", "0012345678912345678" + "9")
_URL_DOTS = str.maketrans({"。": ".", "点": ".", "點": ".", "·": "."})
_URL = re.compile(
    r"(?:https?://|www\.)[a-z0-9./?=&%_~#:-]+"
    r"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\."
    r"(?:com|cn|net|org|top|xyz|cc|io|vip|me|info|tv|shop|site|club|live|link|app)(?![a-z])"
)
_PHONE = re.compile(r"(?<!\d)(?:86)?1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}\d{7,8}(?!\d)")
_QQ = re.compile(r"(?:qq|扣扣|企鹅|q号|qq号)[^0-9]{0,4}[1-9]\d{4,10}(?!\d)")

REASONS = ("word", "link", "phone", "qq")
"""Why a comment is refused, in the order they are reported: a listed word (or its sound), a
link, a phone number, a QQ number."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One match: ``text[start:end]`` of the original text."""

    start: int
    end: int
    kind: str
    """``word`` (as written), ``pinyin`` (by sound), ``link``, ``phone`` or ``qq``."""
    word: str
    """The listed word (normalised) or the pattern's name."""

    @property
    def reason(self) -> str:
        return "word" if self.kind == "pinyin" else self.kind


@dataclass(frozen=True, slots=True)
class Verdict:
    text: str
    hits: tuple[Hit, ...]

    @property
    def clean(self) -> bool:
        return not self.hits

    @property
    def reason(self) -> str:
        """The first of :data:`REASONS` a hit gives ('' when clean)."""
        found = {h.reason for h in self.hits}
        return next((r for r in REASONS if r in found), "")

    def masked(self, mask: str = "*") -> str:
        """The text with every matched character replaced by ``mask``."""
        hidden = [False] * len(self.text)
        for hit in self.hits:
            for i in range(hit.start, hit.end):
                hidden[i] = True
        return "".join(mask if h else ch for ch, h in zip(self.text, hidden, strict=True))


@functools.lru_cache(maxsize=65536)
def _fold(ch: str) -> str:
    if unicodedata.category(ch) == "Cf":  # zero-width space/joiner, BOM, direction marks
        return ""
    return unicodedata.normalize("NFKC", ch).lower()


@functools.lru_cache(maxsize=65536)
def _t2s_char(ch: str) -> str:
    out = _T2S.convert(ch)
    return out if len(out) == 1 else ch


def _han(ch: str) -> bool:
    return ch >= "\u3400" and ch.isalpha() and not ("\u3040" <= ch <= "\u30ff")


@functools.lru_cache(maxsize=65536)
def _syllable(ch: str) -> str:
    """The toneless pinyin of one Chinese character ('' if pypinyin has none)."""
    out = lazy_pinyin(ch, errors="ignore")
    return out[0] if out and out[0].isascii() and out[0].isalpha() else ""


def folded(text: str) -> tuple[str, list[int]]:
    """Step 1: the folded text and, per character, its index in ``text``."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = _fold(ch)
        if len(f) == 1:
            chars.append(f)
            origin.append(i)
        else:
            for c in f:
                chars.append(c)
                origin.append(i)
    joined = "".join(chars)
    simple = _T2S.convert(joined)
    if len(simple) != len(joined):  # a phrase changed length: convert character by character
        simple = "".join(_t2s_char(c) for c in joined)
    return simple, origin


def normalised(text: str) -> str:
    """Steps 1 and 2 (no offsets): how a listed word or an allowed phrase is compared."""
    out: list[str] = []
    for ch in folded(text)[0]:
        if ch.isalnum() and (not out or out[-1] != ch):
            out.append(ch)
    return "".join(out)


def pinyin_of(word: str) -> str:
    """The pinyin key of a normalised word: its characters' syllables, letters as they are."""
    return "".join(_syllable(c) if _han(c) else c for c in word if c.isalpha())


class WordFilter:
    """Built once per word list (about 0.1 s for 10,000 words); :meth:`check` is thread-safe."""

    def __init__(self, words: Iterable[str], allowed: Iterable[str] = ()) -> None:
        """``words`` as listed: one that starts with ``=`` is matched as written only (not by
        sound), for a word whose homophones are everyday words."""
        by_sound: dict[str, bool] = {}
        for x in words:
            exact = x.startswith("=")
            w = normalised(x[1:] if exact else x)
            if w:
                by_sound[w] = by_sound.get(w, True) and not exact
        self.words = frozenset(by_sound)
        self.allowed = frozenset(a for a in (normalised(x) for x in allowed) if a)
        self._words = _automaton((w, w) for w in self.words)
        self._allowed = _automaton((a, a) for a in self.allowed)
        self._sounds = _automaton(
            (pinyin_of(w), w) for w, sound in by_sound.items() if sound and _sounds_alike(w)
        )

    def check(self, text: str) -> Verdict:
        """Every match in ``text`` (in the original text's offsets), allowed phrases left out."""
        fold, origin = folded(text)
        kept: list[str] = []  # step 2 before collapsing (the patterns' view)
        kept_at: list[int] = []
        norm: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for ch, at in zip(fold, origin, strict=True):
            if not ch.isalnum():
                continue
            kept.append(ch)
            kept_at.append(at)
            if norm and norm[-1] == ch:
                ends[-1] = at + 1
            else:
                norm.append(ch)
                starts.append(at)
                ends.append(at + 1)
        hits: list[Hit] = []
        line = "".join(norm)
        if self._words is not None:
            for end, (word, size) in self._words.iter(line):
                hits.append(Hit(starts[end - size + 1], ends[end], "word", word))
        if self._sounds is not None:
            hits += self._by_sound(norm, starts, ends)
        hits += _patterns(fold, origin, kept, kept_at)
        if hits and self._allowed is not None:
            spans = [
                (starts[end - size + 1], ends[end]) for end, (_, size) in self._allowed.iter(line)
            ]
            hits = [
                h
                for h in hits
                if h.kind not in ("word", "pinyin")
                or not any(a <= h.start and h.end <= b for a, b in spans)
            ]
        seen: set[tuple[int, int]] = set()
        unique = []
        for h in sorted(hits, key=lambda h: (h.start, -h.end)):
            if (h.start, h.end) not in seen:
                seen.add((h.start, h.end))
                unique.append(h)
        return Verdict(text, tuple(unique))

    def _by_sound(self, norm: list[str], starts: list[int], ends: list[int]) -> list[Hit]:
        assert self._sounds is not None
        letters: list[str] = []
        at: list[int] = []  # per letter: its index in ``norm``
        edge_in: list[bool] = []  # a match may begin here
        edge_out: list[bool] = []  # a match may end here
        for j, ch in enumerate(norm):
            if _han(ch):
                syl = _syllable(ch)
                for n, c in enumerate(syl):
                    letters.append(c)
                    at.append(j)
                    edge_in.append(n == 0)
                    edge_out.append(n == len(syl) - 1)
            elif ch.isascii() and ch.isalpha():
                letters.append(ch)
                at.append(j)
                edge_in.append(True)
                edge_out.append(True)
        hits = []
        for end, (word, size) in self._sounds.iter("".join(letters)):
            start = end - size + 1
            if edge_in[start] and edge_out[end]:
                hits.append(Hit(starts[at[start]], ends[at[end]], "pinyin", word))
        return hits


def _sounds_alike(word: str) -> bool:
    """Whether a listed word is matched by sound: two or more Chinese characters, each with a
    reading (a character pypinyin cannot read would shrink the key to fewer syllables)."""
    han = [c for c in word if _han(c)]
    return len(han) >= 2 and all(_syllable(c) for c in han)


def _automaton(entries: Iterable[tuple[str, str]]) -> ahocorasick.Automaton | None:
    auto = ahocorasick.Automaton()
    for key, word in entries:
        if key:
            auto.add_word(key, (word, len(key)))
    if len(auto) == 0:
        return None
    auto.make_automaton()
    return auto


def _patterns(fold: str, origin: list[int], kept: list[str], kept_at: list[int]) -> list[Hit]:
    """Links on the folded text without spaces; phone and QQ numbers on the letters and digits
    (Chinese numerals as digits)."""
    hits = []
    url_chars = [(c, o) for c, o in zip(fold.translate(_URL_DOTS), origin, strict=True)]
    url_chars = [(c, o) for c, o in url_chars if not c.isspace()]
    url = "".join(c for c, _ in url_chars)
    if "." in url or "/" in url:
        for m in _URL.finditer(url):
            hits.append(Hit(url_chars[m.start()][1], url_chars[m.end() - 1][1] + 1, "link", "link"))
    digits = "".join(kept).translate(_DIGITS)
    if sum(c.isdigit() for c in digits) >= 5:
        for kind, pattern in (("phone", _PHONE), ("qq", _QQ)):
            for m in pattern.finditer(digits):
                hits.append(Hit(kept_at[m.start()], kept_at[m.end() - 1] + 1, kind, kind))
    return hits


def read_list(text: str) -> tuple[list[str], list[str], list[str]]:
    """A word-list file: one word per line (``=word``: matched as written only, not by sound);
    ``#`` starts a comment line; a line ``!phrase`` allows a phrase. Returns (words, allowed,
    problems)."""
    words: list[str] = []
    allowed: list[str] = []
    problems: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        target = allowed if line.startswith("!") else words
        entry = line[1:].strip() if line.startswith("!") else line
        if len(entry) > MAX_WORD:
            problems.append(f"line {n}: longer than {MAX_WORD} characters")
        elif not normalised(entry):
            problems.append(f"line {n}: no letters, digits or Chinese characters")
        else:
            target.append(entry)
    return words, allowed, problems
