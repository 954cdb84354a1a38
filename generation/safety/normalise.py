"""Text -> the views that the safety rules read: obfuscations undone, one view each.

A blocked word can hide behind full-width letters (ｋｉｌｌ), look-alike letters of other
scripts (Cyrillic кіll), spacing (k i l l, k.i.l.l),
leetspeak (k1ll, $ex), stretched letters (kiiiill), masks (f*ck), Traditional characters
(殺人) or pinyin (sha ren). Each is undone here once; the rules then match plain words:

- ``words``: lower-case Latin words after NFKC (full-width -> ASCII), accents stripped,
  intra-word punctuation removed, runs of single letters joined, leetspeak decoded;
- ``hanzi``: the Chinese characters in Simplified form (OpenCC t2s), with the spaces and
  punctuation between them removed;
- ``syllables``: Latin words that read as pinyin, split into syllables (``sharen`` ->
  ``sha ren``), for the Chinese rules written in pinyin.

Every view remembers which obfuscation it undid, so that a refusal can say how it saw it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "TextViews",
    "Word",
    "pinyin_of_words",
    "pinyin_syllables",
    "split_pinyin",
    "squeeze",
    "to_views",
]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Characters that hide inside a word without changing it: k.i.l.l, k-i-l-l, k_i_l_l.
_JOINERS = ".-_'`~^"
# Characters that stand for a masked letter: f*ck, sh#t.
_MASKS = "*#"
_LEET: dict[str, str] = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
    "+": "t",
}
# "1" is as often an l as an i (ki11, 1ynch): a word with a 1 is read both ways.
_LEET_ALTERNATIVES: dict[str, str] = {"1": "l", "!": "l"}
_TOKEN = re.compile(r"[a-z0-9@$!|+*#" + re.escape(_JOINERS) + r"]+")


@dataclass(frozen=True)
class Word:
    """A word of the ``words`` view.

    Attributes
    ----------
    text
        The plain word (``"kill"``); may hold ``?`` for a masked letter (``"f?ck"``).
    alternatives
        Other readings of the same characters (``k1ll`` reads ``kill`` and ``kill``;
        ``ki11`` reads ``kiii`` and ``kill``), the first being ``text``.
    undone
        The obfuscations undone to read it (``"leetspeak"``, ``"spacing"`` ...).
    """

    text: str
    alternatives: tuple[str, ...]
    undone: tuple[str, ...] = ()

    @property
    def stretched(self) -> bool:
        """Letters were stretched (kiiill): compare with repeated letters squeezed."""
        return "stretched letters" in self.undone


@dataclass(frozen=True)
class TextViews:
    """One text, read the ways that the rules need; see the module docstring."""

    original: str
    words: tuple[Word, ...]
    hanzi: str
    hanzi_undone: tuple[str, ...]
    syllables: tuple[str, ...]


def to_views(text: str) -> TextViews:
    """Undo the obfuscations of a text and return its views.

    Parameters
    ----------
    text
        Any text (an instruction, a line of lyrics), in English, Chinese or both.

    Returns
    -------
    TextViews
    """
    undone_global: list[str] = []
    if _FULL_WIDTH_ALNUM.search(text):
        undone_global.append("full-width")
    folded = unicodedata.normalize("NFKC", text)
    if any(c in _LOOK_ALIKES for c in folded):
        undone_global.append("look-alike letters")
        folded = folded.translate(_LOOK_ALIKE_TABLE)
    # Accents off (kíll -> kill): NFKD splits letters from their combining marks.
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
    )
    stripped = unicodedata.normalize("NFC", stripped)
    hanzi, hanzi_undone = _hanzi_view(unicodedata.normalize("NFC", text))
    latin = _CJK.sub(" ", stripped).lower()
    words = _words(latin, tuple(undone_global))
    return TextViews(
        original=text,
        words=words,
        hanzi=hanzi,
        hanzi_undone=hanzi_undone,
        syllables=pinyin_of_words(words),
    )


# Chinese sentence punctuation always ends a clause; an ASCII comma, semicolon or mark only
# before a space or the end. Dots, stars and dashes are filler (杀.人, 杀 . 人).
_CLAUSE = re.compile(r"[,;!?]+(?=\s|$)|[，。！？；：、\n]+")
# Cyrillic and Greek letters drawn like Latin ones (кill with a Cyrillic к, ρorn with a
# Greek rho): read as the Latin letter. Words wholly in those scripts are left unmatched
# by the Latin rules either way.
_LOOK_ALIKES: dict[str, str] = {
    **dict(zip("аеорсухкмтнвіјѕһӏԁԛԝё", "aeopcyxkmthbijshldqwe", strict=True)),
    **dict(zip("АВЕКМНОРСТХУІЈЅ", "ABEKMHOPCTXYIJS", strict=True)),
    **dict(zip("αβεικνορτυχ", "abeiknoptux", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
}
_LOOK_ALIKE_TABLE = str.maketrans(_LOOK_ALIKES)
_FULL_WIDTH_ALNUM = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


def _hanzi_view(text: str) -> tuple[str, tuple[str, ...]]:
    """Chinese characters, Simplified, with clause breaks kept as ``|`` and all else dropped."""
    if not _CJK.search(text):
        return "", ()
    undone: list[str] = []
    # Sentence punctuation ends a clause (a rule never spans two); anything else between
    # two characters (spaces, dots, stars, Latin filler) is dropped: 杀 . 人 reads 杀人.
    clauses = _CLAUSE.sub("|", text)
    if re.search(f"[{_HAN}][^{_HAN}|]+[{_HAN}]", clauses):
        undone.append("spacing")
    chars = re.sub(f"[^{_HAN}|]", "", clauses)
    chars = re.sub(r"\|+", "|", chars).strip("|")
    simplified = _t2s().convert(chars)
    if simplified != chars:
        undone.append("Traditional characters")
    return simplified, tuple(undone)


def _words(latin: str, undone_global: tuple[str, ...]) -> tuple[Word, ...]:
    raw = _TOKEN.findall(latin)
    # Runs of single characters are one spelled-out word: "k i l l", "k.i.l.l".
    pieces: list[tuple[str, tuple[str, ...]]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 3:
            pieces.append(("".join(run), ("spacing",)))
        else:
            pieces.extend((letter, ()) for letter in run)
        run.clear()

    for token in raw:
        bare = token.strip(_JOINERS)
        parts = [p for p in re.split("[" + re.escape(_JOINERS) + "]", bare) if p]
        if len(parts) >= 3 and all(len(p) == 1 for p in parts):
            flush()
            pieces.append(("".join(parts), ("spacing",)))
            continue
        if len(bare) == 1:
            run.append(bare)
            continue
        flush()
        if not bare:
            continue
        joined = "".join(parts)
        pieces.append((joined, ("spacing",) if len(parts) > 1 and _has_letters(joined) else ()))
    flush()
    words = []
    for piece, undone in pieces:
        if not _has_letters(piece) and not any(c in _LEET for c in piece):
            continue
        if piece.isdigit():
            words.append(Word(piece, (piece,), undone_global + undone))
            continue
        readings = _leet_readings(piece)
        notes = undone_global + undone
        if readings[0] != piece.replace("*", "?").replace("#", "?"):
            notes += ("leetspeak",)
        # Stretched (kiiill) only when no reading is plain: ki11 reads "kill" as it stands.
        stretched = all(re.search(r"(.)\1\1", r) for r in readings)
        if stretched:
            notes += ("stretched letters",)
        if any(c in _MASKS for c in piece):
            notes += ("masked letters",)
        words.append(Word(readings[0], tuple(dict.fromkeys(readings)), notes))
    return tuple(words)


def _leet_readings(token: str) -> tuple[str, ...]:
    if not any(c in _LEET or c in _MASKS for c in token):
        return (token,)
    plain = "".join("?" if c in _MASKS else _LEET.get(c, c) for c in token)
    other = "".join(
        "?" if c in _MASKS else _LEET_ALTERNATIVES.get(c, _LEET.get(c, c)) for c in token
    )
    return (plain, other) if other != plain else (plain,)


def squeeze(word: str) -> str:
    """Repeated letters as one (``"kiiill"`` -> ``"kil"``)."""
    return re.sub(r"(.)\1+", r"\1", word)


def _has_letters(text: str) -> bool:
    return any("a" <= c <= "z" for c in text)


def pinyin_of_words(words: tuple[Word | None, ...]) -> tuple[str, ...]:
    """The runs of words that all read as pinyin, as syllables; runs split by ``|``.

    A None (a word removed as exempt) ends a run.
    """
    syllables: list[str] = []
    for word in words:
        split = split_pinyin(word.text) if word is not None and word.text.isalpha() else None
        if split is None:
            if syllables and syllables[-1] != "|":
                syllables.append("|")
            continue
        syllables.extend(split)
    return tuple(syllables)


@lru_cache(maxsize=4096)
def split_pinyin(word: str) -> tuple[str, ...] | None:
    """Split a toneless pinyin word into syllables (``"sharen"`` -> ``("sha", "ren")``).

    Returns None when the word is not pinyin. Of several splits the one with the fewest
    syllables wins (``"xian"`` stays one syllable, not ``xi an``).
    """
    known = pinyin_syllables()
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            if head is not None and word[start:end] in known:
                candidate = (*head, word[start:end])
                if best[end] is None or len(candidate) < len(best[end]):  # type: ignore[arg-type]
                    best[end] = candidate
    return best[len(word)]


@lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset[str]:
    """Every toneless Mandarin syllable that pypinyin knows (about 410), ``ü`` written ``v``.

    Kept in the cache folder (:mod:`assets.cache`): importing pypinyin and reading its
    whole dictionary took most of a second in every fresh process.
    """
    from assets.cache import memoised

    return memoised("pinyin-syllables", pypinyin_key(__file__), _pinyin_syllables)


def pypinyin_key(maker_file: str) -> str:
    """A cache key for data made from pypinyin's by the code in ``maker_file``."""
    import hashlib
    from importlib.metadata import version

    source = hashlib.sha256(Path(maker_file).read_bytes()).hexdigest()
    return f"pypinyin {version('pypinyin')}\nsource {source}"


def _pinyin_syllables() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    syllables = set()
    for readings in set(pinyin_dict.values()):
        for reading in readings.split(","):
            # Tone marks off (pīn -> pin); ü is written v, as pypinyin's strict finals do.
            plain = unicodedata.normalize("NFKD", reading).replace("u\u0308", "v")
            syllables.add("".join(c for c in plain if not unicodedata.combining(c)))
    return frozenset(s for s in syllables if s.isascii() and s.isalpha() and s != "m")


@lru_cache(maxsize=1)
def _t2s():  # an opencc.OpenCC converter, built once
    import opencc

    return opencc.OpenCC("t2s")
