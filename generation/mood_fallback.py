"""A mood for a word the lexicon lacks, from evidence that can tell good from bad.

Sentence embeddings place opposite moods close together ("melancholy" is nearer
"cheerful" than "sad" is to "mournful"), so they cannot say whether an unknown mood word
is pleasant. Two steps keep polarity and intensity apart:

- **English.** The word's valence comes from VADER's lexicon (Hutto and Gilbert, 2014:
  7,500 words rated by ten people each, -4 to +4, MIT licence; shipped by the
  ``vaderSentiment`` package and read here as a file), scaled to the lexicon's range
  (rating / 4). Its arousal and tempo come from the lexicon's mood word of the *same
  polarity* nearest in meaning (the embedding model of :mod:`generation.embedding`), damped
  by :data:`BORROWED_WEIGHT`, when that word is at least :data:`AROUSAL_SIMILARITY`
  similar. Without a VADER rating, the word stays unknown.
- **Chinese.** A word jieba gives whole (an idiom such as 欢天喜地) takes the mood its
  characters carry in the lexicon: a character counts when every lexicon mood word that
  contains it agrees on the signs of valence and arousal (欢 in 欢快 and 欢乐) and no word
  without a mood contains it (乐 is in 音乐, "music", as well as in 快乐, "happy"); the
  word takes the mean of its characters' words, damped by :data:`BORROWED_WEIGHT`.

Every value found this way is reported as evidence with where it came from.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from generation.lexicon import LEXICON, STOP_WORDS

__all__ = [
    "AROUSAL_SIMILARITY",
    "BORROWED_WEIGHT",
    "BorrowedMood",
    "is_rated_compound",
    "mood_of_unknown_word",
]

#: Share of a neighbour's arousal and tempo an unknown word takes: indirect evidence.
BORROWED_WEIGHT = 0.7
#: Least cosine similarity to a same-polarity mood word for its arousal to be taken.
AROUSAL_SIMILARITY = 0.35
#: VADER ratings nearer zero than this are taken as neutral (no mood).
_MIN_RATING = 0.8
_MOODS = ("valence", "arousal", "tempo")


@dataclass(frozen=True)
class BorrowedMood:
    """Mood deltas for an unknown word and how they were found.

    Attributes
    ----------
    valence, arousal, tempo
        Deltas in [-1, 1], as a lexicon entry's.
    because
        E.g. ``"VADER +3.0; arousal of 'joyful' (0.61)"`` or ``"characters 欢 喜"``.
    """

    valence: float
    arousal: float
    tempo: float
    because: str

    def effects(self) -> dict[str, float]:
        """The deltas as a lexicon entry's effects."""
        return {"valence": self.valence, "arousal": self.arousal, "tempo": self.tempo}


def mood_of_unknown_word(word: str) -> BorrowedMood | None:
    """The mood an English or Chinese word the lexicon lacks most likely carries.

    Parameters
    ----------
    word
        One token: a lower-case English word or a jieba word in Simplified Chinese.

    Returns
    -------
    BorrowedMood or None
        None when nothing reliable is known about the word's mood.
    """
    if any("\u4e00" <= ch <= "\u9fff" for ch in word):
        return _chinese(word)
    return _english(word)


def is_rated_compound(word: str) -> bool:
    """True for a hyphenated English word VADER rates whole ("heavy-hearted")."""
    return "-" in word and word.replace("-", "") in _vader_lexicon()


def _english(word: str) -> BorrowedMood | None:
    rating = _vader_rating(word)
    if rating is None or abs(rating) < _MIN_RATING:
        return None
    valence = round(max(-1.0, min(1.0, rating / 4.0)), 3)
    because = f"VADER {rating:+.1f}"
    arousal = tempo = 0.0
    neighbour = _nearest_same_polarity(word, positive=rating > 0)
    if neighbour is not None:
        name, similarity = neighbour
        arousal = round(BORROWED_WEIGHT * float(LEXICON[name].get("arousal", 0.0)), 3)
        tempo = round(BORROWED_WEIGHT * float(LEXICON[name].get("tempo", 0.0)), 3)
        because += f"; arousal and tempo of {name!r} ({similarity:.2f})"
    return BorrowedMood(valence, arousal, tempo, because)


def _vader_rating(word: str) -> float | None:
    ratings = _vader_lexicon()
    word = word.replace("-", "")
    for form in (word, *_stems(word)):
        if form in ratings:
            return ratings[form]
    return None


def _stems(word: str) -> tuple[str, ...]:
    forms = []
    for suffix, replacement in (("ly", ""), ("ness", ""), ("s", ""), ("ed", ""), ("ing", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + replacement)
    return tuple(forms)


@lru_cache(maxsize=1)
def _vader_lexicon() -> dict[str, float]:
    spec = importlib.util.find_spec("vaderSentiment")
    if spec is None or spec.origin is None:
        return {}
    ratings = {}
    path = Path(spec.origin).parent / "vader_lexicon.txt"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].isalpha():
            ratings[fields[0].lower()] = float(fields[1])
    return ratings


def _nearest_same_polarity(word: str, *, positive: bool) -> tuple[str, float] | None:
    from generation.embedding import embed_words, embeddings_available

    if not embeddings_available():
        return None
    names, vectors = _mood_words(positive)
    similarity = vectors @ embed_words((word,))[0]
    best = int(np.argmax(similarity))
    score = float(similarity[best])
    return (names[best], score) if score >= AROUSAL_SIMILARITY else None


@lru_cache(maxsize=2)
def _mood_words(positive: bool) -> tuple[list[str], np.ndarray]:
    from generation.embedding import embed_words

    names = [
        word
        for word, effects in LEXICON.items()
        if word.isascii()
        and "genre" not in effects
        and "arousal" in effects
        and (float(effects.get("valence", 0.0)) > 0) == positive
        and abs(float(effects.get("valence", 0.0))) >= 0.1
    ]
    return names, embed_words(tuple(names))


def _chinese(word: str) -> BorrowedMood | None:
    carriers = _mood_characters()
    found = [ch for ch in dict.fromkeys(word) if ch in carriers]
    if not found:
        return None
    mean = np.mean([carriers[ch] for ch in found], axis=0)
    valence, arousal, tempo = (round(BORROWED_WEIGHT * float(v), 3) for v in mean)
    return BorrowedMood(valence, arousal, tempo, "characters " + " ".join(found))


@lru_cache(maxsize=1)
def _mood_characters() -> dict[str, tuple[float, float, float]]:
    """Characters whose lexicon mood words all agree on the signs of valence and arousal."""
    words: dict[str, list[tuple[float, float, float]]] = {}
    ambiguous = {ch for entry in STOP_WORDS for ch in entry}
    for entry, effects in LEXICON.items():
        if entry.isascii():
            continue
        if "valence" not in effects or "genre" in effects:
            ambiguous.update(entry)
            continue
        mood = tuple(float(effects.get(name, 0.0)) for name in _MOODS)
        if abs(mood[0]) < 0.2 or abs(mood[1]) < 0.2:
            continue
        for ch in dict.fromkeys(entry):
            words.setdefault(ch, []).append(mood)  # type: ignore[arg-type]
    carriers = {}
    for ch, moods in words.items():
        if ch in ambiguous:
            continue
        signs = {(np.sign(v), np.sign(a)) for v, a, _ in moods}
        if len(signs) == 1:
            carriers[ch] = tuple(float(x) for x in np.mean(moods, axis=0))
    return carriers  # type: ignore[return-value]
