"""English words outside the lexicon, matched by the shipped sentence-embedding model."""

from __future__ import annotations

import pytest

from generation import understand
from generation.embedding import (
    SIMILARITY_THRESHOLD,
    embeddings_available,
    nearest_topic_word,
)

pytestmark = pytest.mark.skipif(
    not embeddings_available(), reason="the embeddings extra is part of the test extras"
)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("seashore", "sea"), ("woods", "forest"), ("mandolin", "guitar"), ("trombone", "trumpet")],
)
def test_topic_words_find_their_nearest_lexicon_word(word: str, expected: str) -> None:
    match = nearest_topic_word(word)
    assert match is not None and match[0] == expected
    assert SIMILARITY_THRESHOLD <= match[1] <= 1.0


@pytest.mark.parametrize("word", ["sunset", "zorblax", "jubilant", "morose", "wistful"])
def test_weak_matches_and_moods_are_not_guessed(word: str) -> None:
    assert nearest_topic_word(word) is None


def test_understanding_reports_the_match_and_its_similarity() -> None:
    style = understand("a mandolin tune by the seashore")
    assert "acoustic_guitar" in style.instruments
    assert "beach" in style.place_tags and "sea" in style.ambience_tags
    matched = {e.word: e.value for e in style.evidence if e.attribute == "nearest word"}
    assert matched["mandolin"].startswith("guitar (0.")
    assert matched["seashore"].startswith("sea (0.")
    assert style.unknown_words == ()
    still_unknown = understand("ukulele vibes")
    assert "ukulele" in still_unknown.unknown_words
