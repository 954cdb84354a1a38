"""The built-in lyrics generator: a bilingual phrase grammar over a word bank.

A line is ``[opener] body [joiner body] end`` (bank/en.yaml, bank/zh.yaml): "oh, | the
waves roll in | by the sea", "你听 | 海浪轻轻唱 | 在沙滩". The generator draws (seeded)
combinations of the theme's phrases, keeps those with exactly the syllables of the
melody's phrase and an end that rhymes with the line's group, and of those prefers the
one whose stressed syllables fall on strong beats. Every choice can be explained: which
phrases, why this end (its rhyme), how well the stresses fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from generation.lyrics.phonetics import chinese_final, chinese_rhyme_class, english_word

__all__ = ["THEMES", "Bank", "Phrase", "bank", "choose_line", "syllables_of", "words_of"]

#: The themes of the bank; every line may also draw on ``general``.
THEMES: tuple[str, ...] = ("beach", "museum", "forest", "night", "general")
_BANK = Path(__file__).resolve().parent / "bank"
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_DRAWS = 6000
# Lines of the right length compared for their fit of stresses to strong beats.
_CANDIDATES = 400
_THEME_WEIGHT = 4.0


@dataclass(frozen=True)
class Phrase:
    """A phrase of the bank with what the grammar needs to know about it.

    Attributes
    ----------
    text
        As written.
    syllables
        Sung syllables (English: CMU; Chinese: characters).
    stresses
        Per syllable, 1 stressed or 0 (all 1 for Chinese).
    rhyme
        The rhyme of its last syllable: CMU rhyming part, or the 十三辙 class.
    last
        Its last word (an end word is not repeated within a rhyme group).
    theme
        The theme it belongs to.
    """

    text: str
    syllables: int
    stresses: tuple[int, ...]
    rhyme: str
    last: str
    theme: str


@dataclass(frozen=True)
class Bank:
    """One language's phrases by kind, read from its YAML file."""

    language: str
    openers: tuple[Phrase, ...]
    joiners: tuple[Phrase, ...]
    bodies: tuple[Phrase, ...]
    ends: tuple[Phrase, ...]


def words_of(text: str, language: str) -> list[str]:
    """The sung units of a text: English words, or Chinese characters."""
    if language == "en":
        return _EN_WORD.findall(text)
    return [c for c in text if "\u4e00" <= c <= "\u9fff"]


def syllables_of(text: str, language: str) -> int:
    """How many notes a text needs: CMU syllables, or Chinese characters."""
    if language == "en":
        return sum(english_word(w).syllables for w in words_of(text, "en"))
    return len(words_of(text, "zh"))


def _phrase(text: str, language: str, theme: str) -> Phrase:
    words = words_of(text, language)
    if not words:
        raise ValueError(f"lyrics bank {language}.yaml: phrase {text!r} has no words")
    if language == "en":
        stresses = tuple(s for w in words for s in english_word(w).stresses)
        rhyme = english_word(words[-1]).rhyme
        last = words[-1].lower()
    else:
        stresses = (1,) * len(words)
        rhyme = chinese_rhyme_class(chinese_final(words[-1], context="".join(words)))
        last = words[-1]
    return Phrase(text, len(stresses), stresses, rhyme, last, theme)


@lru_cache(maxsize=2)
def bank(language: str) -> Bank:
    """The word bank of ``"en"`` or ``"zh"``, read once."""
    if language not in ("en", "zh"):
        raise ValueError(f"language={language!r}; the lyrics banks are 'en' and 'zh'")
    data = yaml.safe_load((_BANK / f"{language}.yaml").read_text(encoding="utf-8"))
    themes = data["themes"]
    unknown = set(themes) - set(THEMES)
    if unknown:
        raise ValueError(f"lyrics bank {language}.yaml: unknown themes {sorted(unknown)}")
    return Bank(
        language=language,
        openers=tuple(_phrase(t, language, "general") for t in data["openers"]),
        joiners=tuple(_phrase(t, language, "general") for t in data["joiners"]),
        bodies=tuple(
            _phrase(t, language, theme) for theme, spec in themes.items() for t in spec["bodies"]
        ),
        ends=tuple(
            _phrase(t, language, theme) for theme, spec in themes.items() for t in spec["ends"]
        ),
    )


@dataclass(frozen=True)
class ChosenLine:
    """A line the grammar chose, and why."""

    phrases: tuple[Phrase, ...]
    text: str
    rhyme: str
    stress_fit: float


def rhymes_available(
    language: str, themes: tuple[str, ...], *, size: int, exclude: frozenset[str] = frozenset()
) -> list[str]:
    """Rhymes with at least ``size`` different end words among the themes' ends."""
    words: dict[str, set[str]] = {}
    for end in bank(language).ends:
        if end.theme in themes and end.rhyme not in exclude:
            words.setdefault(end.rhyme, set()).add(end.last)
    return sorted(r for r, w in words.items() if len(w) >= size)


def choose_line(
    *,
    language: str,
    themes: tuple[str, ...],
    syllables: int,
    strong: tuple[bool, ...],
    rhyme: str | None,
    used_ends: frozenset[str],
    rng: np.random.Generator,
    reject: frozenset[str] = frozenset(),
    avoid: frozenset[str] = frozenset(),
) -> ChosenLine | None:
    """Draw a line of exactly ``syllables`` syllables that ends on ``rhyme``.

    Parameters
    ----------
    language
        ``"en"`` or ``"zh"``.
    themes
        Themes to draw from, the first weighted most.
    syllables
        Notes of the melodic phrase.
    strong
        Per note, True on a strong beat; English stresses are fitted to them.
    rhyme
        The rhyme of the line's group, or None for the first line of a group (any rhyme).
    used_ends
        End words already used in the group (not repeated).
    rng
        The seeded generator of every choice.
    reject
        Line texts not to return (a line the safety check refused, a line already sung).
    avoid
        Clauses already sung in this section (not used again while others fit).

    Returns
    -------
    ChosenLine or None
        None when no combination of the bank fits (the caller pads or shortens).
    """
    data = bank(language)
    weight = {t: (_THEME_WEIGHT if i == 0 else 1.0) for i, t in enumerate(themes)}
    bodies = [b for b in data.bodies if b.theme in weight and b.text not in avoid]
    if len(bodies) < 4:
        bodies = [b for b in data.bodies if b.theme in weight]
    ends = [
        e
        for e in data.ends
        if e.theme in weight and (rhyme is None or e.rhyme == rhyme) and e.last not in used_ends
    ]
    if not ends or not bodies:
        return None
    body_p = _weights(bodies, weight)
    end_p = _weights(ends, weight)
    candidates: dict[str, ChosenLine] = {}
    shapes = _shapes(syllables, language)
    for _ in range(_DRAWS):
        shape = shapes[int(rng.integers(len(shapes)))]
        phrases = []
        for kind in shape:
            if kind == "O":
                phrases.append(data.openers[int(rng.integers(len(data.openers)))])
            elif kind == "J":
                phrases.append(data.joiners[int(rng.integers(len(data.joiners)))])
            elif kind == "B":
                phrases.append(bodies[int(rng.choice(len(bodies), p=body_p))])
            else:
                phrases.append(ends[int(rng.choice(len(ends), p=end_p))])
        if sum(p.syllables for p in phrases) != syllables:
            continue
        if len({p.text for p in phrases if p in bodies}) < sum(1 for k in shape if k == "B"):
            continue  # the same clause twice in one line
        text = _join(phrases, language)
        if text in reject or text in candidates:
            continue
        stresses = tuple(s for p in phrases for s in p.stresses)
        candidates[text] = ChosenLine(
            tuple(phrases), text, phrases[-1].rhyme, _stress_fit(stresses, strong)
        )
        if len(candidates) >= _CANDIDATES:
            break
    if not candidates:
        return None
    best = max(c.stress_fit for c in candidates.values())
    top = sorted(t for t, c in candidates.items() if c.stress_fit >= best - 1e-9)
    return candidates[top[int(rng.integers(len(top)))]]


def _weights(phrases: list[Phrase], weight: dict[str, float]) -> np.ndarray:
    w = np.array([weight[p.theme] for p in phrases], dtype=float)
    return w / w.sum()


def _shapes(syllables: int, language: str) -> list[str]:
    # Chinese lines of two clauses stand side by side (a comma between), without a joiner.
    joined = "BJBE" if language == "en" else "BBE"
    if syllables <= 4:
        return ["E", "OE", "BE"]
    if syllables <= 8:
        return ["BE", "OBE", "BE", "OBE", joined]
    return ["OBE", joined, "O" + joined, joined]


def _join(phrases: list[Phrase], language: str) -> str:
    if language == "zh":
        # A comma after the first of two clauses: 浪花拍岸，夕阳西下的晚霞.
        texts = [p.text for p in phrases]
        kinds = sum(1 for p in phrases if p.syllables > 1)
        if kinds >= 3 and len(texts) >= 3:
            split = len(texts) - 2
            return "".join(texts[:split]) + "，" + "".join(texts[split:])
        return "".join(texts)
    text = " ".join(p.text for p in phrases)
    return text[:1].upper() + text[1:]


def _stress_fit(stresses: tuple[int, ...], strong: tuple[bool, ...]) -> float:
    """Share of strong-beat notes that carry a stressed syllable (1.0 when there are none)."""
    on_strong = [s for s, is_strong in zip(stresses, strong, strict=True) if is_strong]
    if not on_strong:
        return 1.0
    return sum(on_strong) / len(on_strong)
