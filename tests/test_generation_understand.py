"""Instruction -> Style, in English and Chinese."""

from __future__ import annotations

import pytest

from generation import understand


def test_founding_example_is_a_light_cheerful_beach() -> None:
    style = understand("在海滩上播放一首轻快的音乐")
    assert style.language == "zh"
    assert style.valence > 0.3 and style.arousal > 0.2 and style.tempo_tendency > 0
    assert style.place_tags == ("beach",)
    assert "sea" in style.ambience_tags
    words = {e.word for e in style.evidence}
    assert {"轻快", "海滩"} <= words
    assert style.unknown_words == ()


@pytest.mark.parametrize(
    ("happy", "sad"),
    [
        ("energetic, happy dance music", "a slow, sad, melancholic piece"),
        ("欢快的舞曲", "缓慢忧伤的音乐"),
    ],
)
def test_opposite_moods_land_in_opposite_quadrants(happy: str, sad: str) -> None:
    up, down = understand(happy), understand(sad)
    assert up.valence > 0.3 > -0.3 > down.valence
    assert up.arousal > 0.3 > -0.3 > down.arousal
    assert up.tempo_tendency > 0 > down.tempo_tendency


def test_gentle_guitar_is_heard_in_both_languages() -> None:
    for text in ("a gentle guitar by the sea", "轻柔的吉他弹奏"):
        style = understand(text)
        assert "acoustic_guitar" in style.instruments, text
        assert style.arousal < 0, text


def test_explicit_values_are_taken_exactly() -> None:
    style = understand("a folk tune at 90 bpm in D minor, 3/4")
    assert (style.tempo_bpm, style.key_tonic, style.mode, style.meter) == (
        90.0,
        "D",
        "minor",
        (3, 4),
    )
    assert understand("每分钟90拍的钢琴曲").tempo_bpm == 90.0
    chinese_key = understand("A小调的忧伤旋律")
    assert (chinese_key.key_tonic, chinese_key.mode) == ("A", "minor")
    assert understand("an F sharp major waltz").key_tonic == "F#"
    assert understand("a waltz").meter == (3, 4)


def test_negation_leans_the_other_way_without_flipping_fully() -> None:
    fast = understand("fast music")
    not_too_fast = understand("not too fast music")
    assert fast.tempo_tendency > 0.5
    assert -0.6 < not_too_fast.tempo_tendency < 0
    assert understand("不要太快的音乐").tempo_tendency < 0


def test_degree_words_scale() -> None:
    assert (
        understand("very calm").arousal
        < understand("calm").arousal
        < understand("a little calm").arousal
        < 0
    )


def test_mixed_language_and_unknown_words_are_reported_not_fatal() -> None:
    style = understand("一首 happy 的 zorblax 音乐")
    assert style.language == "mixed"
    assert style.valence > 0
    assert "zorblax" in style.unknown_words


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_instruction_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"instruction: got .*must contain words"):
        understand(text)


def test_modes_from_words() -> None:
    assert understand("a tune in D dorian").mode == "dorian"
    assert understand("a pentatonic melody").mode == "major_pentatonic"
    assert understand("商调的古筝曲").mode == "shang"


def test_key_words_are_read_not_reported_unknown() -> None:
    style = understand("用C大调弹一首钢琴曲")
    assert (style.key_tonic, style.mode) == ("C", "major")
    assert style.unknown_words == ()


def test_a_negated_tempo_word_leaves_the_room_free_to_slow_the_music() -> None:
    assert understand("fast music").tempo_named
    assert not understand("not too fast music").tempo_named
    assert not understand("不要太快的音乐").tempo_named


def test_a_mood_word_outside_the_lexicon_borrows_valence_from_vader() -> None:
    from generation.mood_fallback import mood_of_unknown_word

    jubilant = mood_of_unknown_word("jubilant")
    stressful = mood_of_unknown_word("stressful")
    assert jubilant is not None and stressful is not None
    assert jubilant.valence == pytest.approx(3.0 / 4)  # VADER rates it +3.0 of 4
    assert stressful.valence == pytest.approx(-2.3 / 4)
    assert "VADER" in jubilant.because
    assert mood_of_unknown_word("terrace") is None  # no rating: no mood
    style = understand("a frantic, stressful soundtrack")
    assert style.valence < 0 < style.arousal  # tense: valence from VADER, arousal borrowed
    assert any(e.attribute == "borrowed mood" and e.word == "frantic" for e in style.evidence)


def test_a_hyphenated_word_is_rated_whole_when_vader_knows_it() -> None:
    style = understand("a heavy-hearted ballad")
    assert style.valence < 0  # "heavyhearted" is -2.1; "hearted" alone would read as "heart"
    assert understand("a slow-moving tune").tempo_tendency < 0  # parts: "slow", "moving"


def test_a_chinese_word_borrows_the_mood_its_characters_carry() -> None:
    from generation.mood_fallback import mood_of_unknown_word

    festive = mood_of_unknown_word("欢天喜地")
    assert festive is not None and festive.valence > 0 and festive.arousal > 0
    assert "欢" in festive.because
    # 乐 is in 快乐 ("happy") and also in 音乐 ("music"): it carries no mood by itself.
    assert mood_of_unknown_word("打击乐") is None


def test_a_chinese_place_name_the_lexicon_lacks_is_kept_as_the_place() -> None:
    style = understand("在故宫博物院里播放庄严的古典音乐")
    assert "故宫博物院" in style.place_tags  # jieba tags it a place name (ns)
    assert any(e.word == "故宫博物院" and e.attribute == "place word" for e in style.evidence)
    assert style.genre == "classical"
