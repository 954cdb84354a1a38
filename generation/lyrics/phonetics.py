"""Syllables, stress, rhymes and sung vowels of English (CMU) and Chinese (pinyin) words.

English words are read in the CMU Pronouncing Dictionary (``pronouncing``); a word it
lacks ("guzheng") gets a spelling rule: vowel groups, less a silent final e. Chinese is
one syllable per character; its final (pypinyin, strict finals: 雨 ``v``, 月 ``ve``) gives
the vowel sung and the rhyme class, one of the thirteen of 十三辙, the rhyme classes of
Chinese song and opera.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "RHYME_CLASSES",
    "EnglishWord",
    "chinese_final",
    "chinese_initial",
    "chinese_rhyme_class",
    "english_word",
    "split_written_syllables",
]

#: 十三辙: the thirteen rhyme classes of Chinese song, by the pinyin finals (strict mode)
#: that belong to each. Finals of one class rhyme.
RHYME_CLASSES: dict[str, tuple[str, ...]] = {
    "发花": ("a", "ia", "ua"),
    "梭波": ("o", "e", "uo"),
    "乜斜": ("ie", "ve", "ue"),
    "一七": ("i", "v", "er", "-i"),
    "姑苏": ("u",),
    "怀来": ("ai", "uai"),
    "灰堆": ("ei", "uei", "ui"),
    "遥条": ("ao", "iao"),
    "由求": ("ou", "iou", "iu"),
    "言前": ("an", "ian", "uan", "van"),
    "人辰": ("en", "in", "uen", "un", "vn"),
    "江阳": ("ang", "iang", "uang"),
    "中东": ("eng", "ing", "ong", "iong", "ueng"),
}
_CLASS_OF_FINAL = {final: name for name, finals in RHYME_CLASSES.items() for final in finals}

_FUNCTION_WORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be am "
    "my your our their his her its we you they i it me us them so oh o".split()
)


@dataclass(frozen=True)
class EnglishWord:
    """One English word as sung.

    Attributes
    ----------
    word
        Lower case.
    phones
        CMU phones (ARPAbet with stress digits), or () when the dictionary lacks the word.
    syllables
        Number of syllables (CMU, or the spelling rule when ``phones`` is empty).
    stresses
        Per syllable: 1 stressed, 0 not. A one-syllable function word ("the") counts 0.
    rhyme
        The rhyming part: the phones from the last stressed vowel on (``"AY1 T"``), or
        the word's last letters when the dictionary lacks it.
    vowels
        The CMU vowel of each syllable without stress digits (``"IY"``); guessed from the
        spelling when the dictionary lacks the word.
    onsets
        The consonant phones before each syllable's vowel (``("S", "T")`` for "stone").
    in_dictionary
        False when the spelling rule was used.
    """

    word: str
    phones: tuple[str, ...]
    syllables: int
    stresses: tuple[int, ...]
    rhyme: str
    vowels: tuple[str, ...]
    onsets: tuple[tuple[str, ...], ...]
    in_dictionary: bool


@lru_cache(maxsize=8192)
def english_word(word: str) -> EnglishWord:
    """Read one English word (letters and apostrophes; case ignored)."""
    import pronouncing

    plain = word.lower().strip("'")
    options = pronouncing.phones_for_word(plain)
    if not options:
        return _spelled(plain)
    phones = tuple(options[0].split())
    vowels, stresses, onsets = [], [], []
    onset: list[str] = []
    for phone in phones:
        if phone[-1].isdigit():
            vowels.append(phone[:-1])
            stresses.append(0 if phone[-1] == "0" else 1)
            onsets.append(tuple(onset))
            onset = []
        else:
            onset.append(phone)
    if len(stresses) == 1 and plain in _FUNCTION_WORDS:
        stresses = [0]
    return EnglishWord(
        word=plain,
        phones=phones,
        syllables=len(vowels),
        stresses=tuple(stresses),
        rhyme=pronouncing.rhyming_part(options[0]),
        vowels=tuple(vowels),
        onsets=tuple(onsets),
        in_dictionary=True,
    )


_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_SPELLED_VOWEL = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH", "y": "IY"}


def _spelled(word: str) -> EnglishWord:
    """The spelling rule for a word the dictionary lacks: one syllable per vowel group."""
    groups = [m for m in _VOWEL_GROUP.finditer(word)]
    # A final e after a consonant is silent (stone, shore), unless the word is "-le".
    if len(groups) > 1 and word.endswith("e") and not word.endswith(("le", "ee", "ye")):
        if groups[-1].group() == "e":
            groups = groups[:-1]
    count = max(1, len(groups))
    vowels = tuple(_SPELLED_VOWEL.get(g.group()[0], "AH") for g in groups) or ("AH",)
    onsets = []
    previous_end = 0
    for g in groups or []:
        consonants = word[previous_end : g.start()]
        onsets.append(tuple(c.upper() for c in consonants[-1:]) if consonants else ())
        previous_end = g.end()
    stresses = (1,) + (0,) * (count - 1)
    return EnglishWord(
        word=word,
        phones=(),
        syllables=count,
        stresses=stresses if word not in _FUNCTION_WORDS else (0,) * count,
        rhyme=word[-3:],
        vowels=vowels[:count],
        onsets=tuple(onsets[:count]) or ((),),
        in_dictionary=False,
    )


def split_written_syllables(word: str, count: int) -> tuple[str, ...]:
    """Split a written word into ``count`` pieces for the notes it is sung on.

    Breaks fall between vowel groups: one consonant goes with the next syllable
    (``"o-cean"``), of two or more the first stays behind (``"gar-den"``). When the
    spelling has fewer vowel groups than syllables, the last piece is divided.
    """
    if count <= 1:
        return (word,)
    if len(word) < 2:
        # A letter read as a word ("w" is "double-u"): sung on each of its notes.
        return (word,) * count
    groups = list(_VOWEL_GROUP.finditer(word.lower()))
    if len(groups) > 1 and word.lower().endswith("e") and groups[-1].group() == "e":
        if not word.lower().endswith(("le", "ee", "ye")):
            groups = groups[:-1]
    cuts = []
    for left, right in itertools.pairwise(groups):
        gap = right.start() - left.end()
        cuts.append(left.end() + (0 if gap <= 1 else 1))
    while len(cuts) > count - 1:
        # Too many vowel groups for the CMU count (e.g. "every" read as two): merge the
        # shortest pieces' boundary.
        pieces = [b - a for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
        shortest = min(range(len(cuts)), key=lambda k: pieces[k] + pieces[k + 1])
        cuts.pop(shortest)
    while len(cuts) < count - 1:
        bounds = [0, *cuts, len(word)]
        widest = max(range(len(bounds) - 1), key=lambda k: bounds[k + 1] - bounds[k])
        middle = (bounds[widest] + bounds[widest + 1]) // 2
        if middle in bounds:
            break
        cuts.insert(widest, middle)
        cuts.sort()
    bounds = [0, *cuts, len(word)]
    pieces = tuple(word[a:b] for a, b in itertools.pairwise(bounds) if b > a)
    # A word too short to split into as many pieces sings its last piece on the rest.
    return pieces + (pieces[-1],) * (count - len(pieces)) if len(pieces) < count else pieces


def chinese_final(char: str, *, context: str | None = None) -> str:
    """The pinyin final of one character (strict finals; ``"-i"`` for zhi chi shi ri zi ci si).

    ``context`` is the phrase the character stands in, which decides readings of
    characters with more than one (长 in 长城, 长大).
    """
    from pypinyin import Style, lazy_pinyin

    if context:
        index = context.find(char)
        finals = lazy_pinyin(context, style=Style.FINALS, strict=True)
        initials = lazy_pinyin(context, style=Style.INITIALS, strict=True)
        if index >= 0 and len(finals) == len(context):
            return _apical(finals[index], initials[index])
    final = lazy_pinyin(char, style=Style.FINALS, strict=True)[0]
    return _apical(final, lazy_pinyin(char, style=Style.INITIALS, strict=True)[0])


def _apical(final: str, initial: str) -> str:
    if final == "i" and initial in ("zh", "ch", "sh", "r", "z", "c", "s"):
        return "-i"
    return final


def chinese_initial(char: str) -> str:
    """The pinyin initial of one character (``""`` for none, e.g. 爱)."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(char, style=Style.INITIALS, strict=True)[0]


def chinese_rhyme_class(final: str) -> str:
    """The 十三辙 class of a final, e.g. ``"ang"`` -> ``"江阳"``.

    Raises
    ------
    ValueError
        For a final outside the table.
    """
    try:
        return _CLASS_OF_FINAL[final]
    except KeyError:
        raise ValueError(
            f"final={final!r} is in none of the 13 rhyme classes; known finals: "
            f"{', '.join(sorted(_CLASS_OF_FINAL))}"
        ) from None
