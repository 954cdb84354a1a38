"""(S, E, seed) -> MusicPlan: the words and the place both act, and the plan says why."""

from __future__ import annotations

import json

import pytest

from generation import make_plan, plan_to_dict, style_to_dict, understand
from scene.environment import Environment, Feature


def _environment(
    *,
    rt60: float | None = None,
    brightness: float | None = None,
    warmth: float | None = None,
    places: tuple[str, ...] = (),
) -> Environment:
    indoor = rt60 is not None
    return Environment(
        kind=Feature("shoebox" if indoor else "outdoor", "", "test"),
        indoor=Feature(indoor, "", "test"),
        rt60_mid_s=None if rt60 is None else Feature(rt60, "s", "test"),
        brightness=None if brightness is None else Feature(brightness, "0..1", "test"),
        warmth=None if warmth is None else Feature(warmth, "-1..1", "test"),
        place_tags=Feature(places, "", "test") if places else None,
    )


DRY = _environment()


@pytest.mark.parametrize(
    ("happy", "sad"),
    [
        ("energetic, happy dance music", "a slow, sad, melancholic piece"),
        ("欢快的舞曲", "缓慢忧伤的音乐"),
    ],
)
def test_happy_is_faster_and_major_sad_is_slower_and_minor(happy: str, sad: str) -> None:
    up = make_plan(understand(happy), DRY, seed=1, duration_s=60)
    down = make_plan(understand(sad), DRY, seed=1, duration_s=60)
    assert up.mode == "major" and down.mode == "minor"
    assert up.tempo_bpm >= down.tempo_bpm + 30


def test_founding_example_brings_the_sea_a_guitar_and_a_rhythm() -> None:
    plan = make_plan(
        understand("在海滩上播放一首轻快的音乐"),
        _environment(places=("beach",)),
        seed=7,
        duration_s=60,
    )
    by_role = {stem.role: stem for stem in plan.stems}
    assert by_role["ambience"].ambience == "sea"
    assert by_role["harmony"].program in (24, 25)  # acoustic guitars in General MIDI
    assert "drums" in by_role
    assert plan.mode == "major" and plan.tempo_bpm > 100


def test_a_long_reverberation_slows_and_thins_the_music_and_says_so() -> None:
    style = understand("a gentle piano piece")
    dry = make_plan(style, DRY, seed=3, duration_s=60)
    hall = make_plan(style, _environment(rt60=2.5), seed=3, duration_s=60)
    assert hall.tempo_bpm < dry.tempo_bpm * 0.9
    assert hall.density < dry.density
    reasons = [d for d in hall.explanation if "rt60_mid_s" in d.features]
    assert {d.attribute for d in reasons} >= {"tempo", "density"}


def test_explicit_words_win_over_the_room() -> None:
    style = understand("fast, energetic music")
    dry = make_plan(style, DRY, seed=3, duration_s=60)
    hall = make_plan(style, _environment(rt60=2.5), seed=3, duration_s=60)
    assert hall.tempo_bpm == dry.tempo_bpm
    kept = [d for d in hall.explanation if d.attribute == "tempo" and "kept" in d.because]
    assert kept


def test_explicit_values_win_over_everything() -> None:
    style = understand("happy music at 84 bpm in D minor, 3/4")
    plan = make_plan(
        style, _environment(rt60=3.0, brightness=0.9, warmth=0.5), seed=5, duration_s=30
    )
    assert (plan.key, plan.tempo_bpm, plan.meter) == ("D minor", 84.0, (3, 4))


def test_bright_warm_surroundings_brighten_a_neutral_mood() -> None:
    style = understand("some music")  # no mood words
    dark = make_plan(style, _environment(brightness=0.2, warmth=-0.4), seed=2, duration_s=30)
    bright = make_plan(style, _environment(brightness=0.8, warmth=0.3), seed=2, duration_s=30)
    melody = {p.role: p for p in bright.stems}["melody"]
    dark_melody = {p.role: p for p in dark.stems}["melody"]
    assert bright.mode == "major"
    assert melody.register[0] > dark_melody.register[0]
    assert any("brightness" in d.features for d in bright.explanation)


def test_long_hall_drops_the_drums_unless_asked() -> None:
    calm = make_plan(understand("a lively pop song"), _environment(rt60=2.5), seed=1, duration_s=30)
    asked = make_plan(
        understand("a lively pop song with drums"), _environment(rt60=2.5), seed=1, duration_s=30
    )
    assert "drums" not in {s.role for s in calm.stems}
    assert "drums" in {s.role for s in asked.stems}


def test_form_fills_the_duration_and_ends_on_the_tonic() -> None:
    for duration in (8.0, 30.0, 60.0, 300.0):
        plan = make_plan(understand("happy pop"), DRY, seed=4, duration_s=duration)
        bars = sum(section.bars for section in plan.sections)
        assert duration - plan.bar_seconds < bars * plan.bar_seconds <= duration
        assert plan.sections[-1].chords[-1] in ("I", "i")
        for section in plan.sections:
            assert len(section.chords) == section.bars


def test_the_seed_chooses_the_tonic_and_nothing_else_changes() -> None:
    style = understand("calm folk music")
    tonics = {make_plan(style, DRY, seed=s, duration_s=30).key_tonic for s in range(12)}
    assert len(tonics) > 2
    assert make_plan(style, DRY, seed=9, duration_s=30) == make_plan(
        style, DRY, seed=9, duration_s=30
    )


def test_plan_and_style_serialise_to_json_with_the_headline_keys() -> None:
    style = understand("在海滩上播放一首轻快的音乐")
    data = plan_to_dict(make_plan(style, DRY, seed=7, duration_s=60))
    text = json.dumps({**data, "style": style_to_dict(style)}, ensure_ascii=False)
    loaded = json.loads(text)
    assert {"key", "tempo_bpm", "meter", "explanation"} <= set(loaded)
    assert loaded["meter"] == "4/4"
    assert all(
        set(d) == {"attribute", "value", "because", "features"} for d in loaded["explanation"]
    )
    assert -1 <= loaded["style"]["valence"] <= 1


def test_bad_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="duration_s: got -1"):
        make_plan(understand("music"), DRY, seed=0, duration_s=-1)


@pytest.mark.parametrize(("text", "mode"), [("宁静的古筝", "gong"), ("悲伤的二胡", "yu")])
def test_chinese_style_is_pentatonic_with_chinese_voices(text: str, mode: str) -> None:
    plan = make_plan(understand(text), DRY, seed=2, duration_s=30)
    assert plan.mode == mode
    programs = {stem.program for stem in plan.stems if not stem.is_drum}
    assert programs & {107, 110}  # koto (guzheng) or fiddle (erhu) in General MIDI
    assert any("pentatonic" in d.because for d in plan.explanation)
