"""Plan -> Score -> stems, checked by music21 (key) and librosa (tempo)."""

from __future__ import annotations

from pathlib import Path

import librosa
import music21
import numpy as np
import pytest

from generation import (
    SAMPLE_RATE,
    compose,
    make_ambience,
    make_plan,
    synthesize,
    understand,
    write_midi,
)
from generation.harmony import PARENT_MODE, equivalent_keys, scale_pitch_classes
from scene.environment import Environment, Feature

DRY = Environment(kind=Feature("free_field", "", "test"), indoor=Feature(False, "", "test"))
INSTRUCTIONS = (
    "a happy pop song",
    "a sad, slow piano piece",
    "欢快的舞曲",
    "缓慢忧伤的音乐",
    "a calm folk tune with guitar",
    "an elegant classical waltz",
    "宁静的古筝",
    "悲伤的二胡",
    "a mysterious tune in D dorian",
    "a folk song in G mixolydian",
)


def _plan(text: str, seed: int, duration_s: float = 40.0):
    return make_plan(understand(text), DRY, seed=seed, duration_s=duration_s)


def _names_the_key(plan, key: music21.key.Key) -> bool:
    return (key.tonic.pitchClass, key.mode) in equivalent_keys(plan.key_tonic, plan.mode)


@pytest.mark.parametrize("text", INSTRUCTIONS)
@pytest.mark.parametrize("seed", [1, 2])
def test_music21_finds_the_plan_key_in_score_mid(text: str, seed: int, tmp_path: Path) -> None:
    plan = _plan(text, seed)
    write_midi(compose(plan), tmp_path / "score.mid")
    found = music21.converter.parse(tmp_path / "score.mid").analyze("key")
    assert _names_the_key(plan, found), f"plan {plan.key}, music21 {found}"


@pytest.mark.parametrize("text", INSTRUCTIONS)
def test_melody_stays_in_the_scale_and_inside_the_piece(text: str) -> None:
    plan = _plan(text, seed=5)
    score = compose(plan)
    scale = set(scale_pitch_classes(plan.key_tonic, plan.mode))
    melody = next(part for part in score.parts if part.stem.role == "melody")
    assert len(melody.notes) >= 8
    parent = set(scale_pitch_classes(plan.key_tonic, PARENT_MODE[plan.mode]))
    beat_s = 60.0 / plan.tempo_bpm
    for previous, note in zip(melody.notes, melody.notes[1:], strict=False):
        if note.pitch % 12 in scale:
            continue
        # Only a pentatonic melody may leave its scale, and only for a passing tone of its
        # parent scale, on a weak beat, a step away from the note before it.
        assert len(scale) == 5 and note.pitch % 12 in parent, (plan.mode, note)
        assert abs(note.start_s / beat_s - round(note.start_s / beat_s)) > 0.1 or (
            round(note.start_s / beat_s) % 2 == 1
        ), note
        assert 1 <= abs(note.pitch - previous.pitch) <= 2, (previous, note)
    assert melody.notes[0].pitch % 12 in scale
    low, high = melody.stem.register
    assert all(low <= n.pitch <= high for n in melody.notes)
    final_tonic = scale_pitch_classes(plan.key_tonic, plan.mode)[0]
    assert melody.notes[-1].pitch % 12 == final_tonic
    for part in score.parts:
        assert all(0 <= n.start_s < n.end_s <= plan.duration_s for n in part.notes)


def test_motifs_return() -> None:
    """The rhythm of an A section's first bar comes back when A returns."""
    plan = _plan("a happy pop song", seed=3, duration_s=90.0)
    melody = next(p for p in compose(plan).parts if p.stem.role == "melody")
    bar_s = plan.bar_seconds
    starts: list[int] = []
    bar = 0
    for section in plan.sections:
        if section.name == "A":
            starts.append(bar)
        bar += section.bars

    def rhythm(bar_index: int) -> tuple[float, ...]:
        t0 = bar_index * bar_s
        # Onsets to the nearest sixteenth of a bar: the performance moves them by a few ms.
        slack = bar_s / 32
        return tuple(
            round((n.start_s - t0) / bar_s * 16) / 16
            for n in melody.notes
            if t0 - slack <= n.start_s < t0 + bar_s - slack
        )

    assert len(starts) >= 2
    assert rhythm(starts[0]) == rhythm(starts[1])


def test_librosa_hears_the_tempo_of_the_drums_and_of_a_drumless_mix() -> None:
    with_drums = _plan("energetic, happy dance music", seed=2, duration_s=30.0)
    without = _plan("a calm classical piece", seed=2, duration_s=30.0)
    assert "drums" in {s.role for s in with_drums.stems}
    assert "drums" not in {s.role for s in without.stems}
    drums = {s.name: s for s in synthesize(compose(with_drums))}["drums"].audio
    mix = np.sum([s.audio for s in synthesize(compose(without))], axis=0)
    for plan, audio in ((with_drums, drums), (without, mix)):
        tempo = float(np.atleast_1d(librosa.feature.tempo(y=audio, sr=SAMPLE_RATE))[0])
        error = min(abs(tempo / (plan.tempo_bpm * f) - 1) for f in (0.5, 1, 2))
        assert error <= 0.05, (tempo, plan.tempo_bpm)


def test_stems_are_exact_finite_and_never_clip() -> None:
    plan = make_plan(understand("在海滩上播放一首轻快的音乐"), DRY, seed=7, duration_s=12.5)
    stems = synthesize(compose(plan))
    assert [s.name for s in stems] == [s.name for s in plan.stems]
    for stem in stems:
        assert stem.audio.dtype == np.float32 and stem.audio.shape == (round(12.5 * SAMPLE_RATE),)
        assert np.all(np.isfinite(stem.audio))
        assert 0 < np.max(np.abs(stem.audio)) < 1.0
        # The last 10 ms fade to silence: the stem ends without a click.
        assert np.max(np.abs(stem.audio[-480:])) < 0.05


def test_same_seed_same_audio_other_seed_other_melody() -> None:
    a = synthesize(compose(_plan("a happy pop song", seed=11, duration_s=10.0)))
    b = synthesize(compose(_plan("a happy pop song", seed=11, duration_s=10.0)))
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(a, b, strict=True))
    melodies = set()
    for seed in range(6):
        plan = _plan("a happy pop song", seed=seed, duration_s=20.0)
        melody = next(p for p in compose(plan).parts if p.stem.role == "melody")
        melodies.add(
            tuple((n.pitch - melody.notes[0].pitch, round(n.start_s, 3)) for n in melody.notes)
        )
    assert len(melodies) == 6


def test_a_missing_sound_font_is_named() -> None:
    plan = _plan("a happy pop song", seed=1, duration_s=4.0)
    with pytest.raises(FileNotFoundError, match=r"no_such\.sf2"):
        synthesize(compose(plan), soundfont="no_such.sf2")


def test_the_sea_swells_slowly_and_irregularly() -> None:
    sea = make_ambience("sea", duration_s=40.0, seed=3)
    assert sea.dtype == np.float32 and np.all(np.isfinite(sea))
    rms_db = 20 * np.log10(np.sqrt(np.mean(sea.astype(np.float64) ** 2)))
    assert -27 < rms_db < -21
    window = SAMPLE_RATE // 2
    frames = sea[5 * SAMPLE_RATE : 35 * SAMPLE_RATE].reshape(-1, window)
    envelope_db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1))
    assert envelope_db.max() - envelope_db.min() > 6.0
    # The strongest slow modulation has a period of a sea swell (4 to 15 s).
    spectrum = np.abs(np.fft.rfft(envelope_db - envelope_db.mean()))
    frequencies = np.fft.rfftfreq(envelope_db.size, d=0.5)
    period = 1.0 / frequencies[1 + np.argmax(spectrum[1:])]
    assert 4.0 <= period <= 15.0, period
    assert not np.array_equal(sea, make_ambience("sea", duration_s=40.0, seed=4))


def test_unknown_ambience_lists_the_allowed_kinds() -> None:
    with pytest.raises(ValueError, match="ambience: got 'lava'; allowed: sea, wind, rain, birds"):
        make_ambience("lava", duration_s=1.0, seed=0)


def _band_share(audio: np.ndarray, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    frequencies = np.fft.rfftfreq(audio.size, 1 / SAMPLE_RATE)
    return float(power[(frequencies >= low) & (frequencies < high)].sum() / power.sum())


@pytest.mark.parametrize(
    ("kind", "low", "high", "share"),
    [
        ("birds", 2000, 8000, 0.8),  # song birds chirp between 2 and 8 kHz
        ("crowd", 200, 3000, 0.8),  # voices: the speech band
        ("water", 400, 8000, 0.8),  # bubbles and the brook's hiss
        ("sea", 20, 1000, 0.5),  # the roar of the swell is low
    ],
)
def test_each_ambience_sounds_where_it_should(
    kind: str, low: float, high: float, share: float
) -> None:
    audio = make_ambience(kind, duration_s=10.0, seed=2)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) < 1.0
    assert _band_share(audio, low, high) > share


def test_birds_sing_in_phrases_with_silence_between() -> None:
    birds = make_ambience("birds", duration_s=20.0, seed=5)
    frames = birds[: 20 * SAMPLE_RATE // 2400 * 2400].reshape(-1, 2400).astype(np.float64)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    assert np.percentile(level_db, 90) - np.percentile(level_db, 20) > 15.0


def test_places_bring_their_ambience() -> None:
    for text, kind in (
        ("a walk in the forest", "birds"),
        ("咖啡馆里的午后", "crowd"),
        ("by the river", "water"),
    ):
        plan = make_plan(understand(text), DRY, seed=1, duration_s=10.0)
        assert kind in {s.ambience for s in plan.stems}, text


@pytest.mark.parametrize("text", ["在海滩上播放一首轻快的音乐", "a calm classical piece"])
def test_a_loop_is_whole_bars_and_its_end_flows_into_its_start(text: str) -> None:
    environment = Environment(
        kind=Feature("outdoor", "", "test"),
        indoor=Feature(False, "", "test"),
        place_tags=Feature(("beach",), "", "test"),
    )
    plan = make_plan(understand(text), environment, seed=4, duration_s=15.0, loop=True)
    bars = sum(section.bars for section in plan.sections)
    assert plan.loop and plan.duration_s == pytest.approx(bars * plan.bar_seconds)
    assert [s.name for s in plan.sections if s.name in ("intro", "outro")] == []
    assert plan.sections[-1].chords[-1] == "V"  # leads back into the first bar's I
    mix = np.sum([stem.audio for stem in synthesize(compose(plan))], axis=0)
    largest_step_inside = np.max(np.abs(np.diff(mix)))
    assert abs(float(mix[0]) - float(mix[-1])) <= largest_step_inside
    # The wrapped tail really sounds at the start: the loop does not begin in silence.
    assert np.max(np.abs(mix[:480])) > 1e-4


@pytest.mark.parametrize(
    ("text", "genre", "kicks_per_bar", "must_have", "must_not_have"),
    [
        ("energetic dance music", "dance", 4, {39, 46}, {38}),  # four on the floor, claps
        ("a happy pop song with drums", "pop", 2.5, {38, 42}, {39}),  # backbeat on the snare
        ("a cheerful folk song with drums", "folk", 1.5, {37, 70}, {38}),  # side stick, shaker
    ],
)
def test_drum_grooves_follow_the_style(
    text: str, genre: str, kicks_per_bar: float, must_have: set[int], must_not_have: set[int]
) -> None:
    plan = make_plan(understand(text), DRY, seed=3, duration_s=30.0)
    assert plan.genre == genre
    drums = next(p for p in compose(plan).parts if p.stem.role == "drums")
    body = [n for n in drums.notes if n.start_s >= 2 * plan.bar_seconds]  # after the intro
    keys = {n.pitch for n in body}
    assert must_have <= keys and not (must_not_have & keys)
    bars = (plan.duration_s - 2 * plan.bar_seconds) / plan.bar_seconds
    kicks = sum(1 for n in body if n.pitch == 36) / bars
    assert kicks == pytest.approx(kicks_per_bar, abs=0.6)


def test_swing_delays_the_off_beats_and_playing_is_humanised() -> None:
    straight = _plan("a happy pop song with drums", seed=6, duration_s=20.0)
    swung = make_plan(understand("a happy swing song with drums"), DRY, seed=6, duration_s=20.0)
    assert straight.swing == 0 and swung.swing == pytest.approx(0.33)
    beat_s = 60.0 / swung.tempo_bpm
    hats = [
        n
        for n in next(p for p in compose(swung).parts if p.stem.role == "drums").notes
        if n.pitch == 42
    ]
    positions = np.array([(n.start_s / beat_s) % 1.0 for n in hats])
    off_beats = positions[(positions > 0.3) & (positions < 0.9)]
    # Straight off-beats sit at 0.5 of the beat; swung ones near 0.5 + 0.33 / 2.
    assert abs(float(np.median(off_beats)) - (0.5 + 0.33 / 2)) < 0.03
    melody = next(p for p in compose(straight).parts if p.stem.role == "melody")
    beat_s = 60.0 / straight.tempo_bpm
    grid_error_s = [
        abs(n.start_s / beat_s - round(n.start_s / beat_s * 2) / 2) * beat_s for n in melody.notes
    ]
    assert 0.001 < float(np.median(grid_error_s)) < 0.01  # a few ms off the grid, not more


def test_the_numba_filter_gives_scipys_sosfilt() -> None:
    from scipy.signal import butter, sosfilt

    from generation.ambience import _sosfilt

    x = np.random.default_rng(8).standard_normal(20_000)
    for sos in (
        butter(2, [250, 2500], "band", fs=SAMPLE_RATE, output="sos"),
        butter(1, 0.3, "low", fs=SAMPLE_RATE, output="sos"),
        butter(4, 2000, "high", fs=SAMPLE_RATE, output="sos"),
    ):
        np.testing.assert_allclose(_sosfilt(sos, x), sosfilt(sos, x), rtol=1e-9, atol=1e-12)


def test_the_crowd_murmurs_at_the_rate_of_syllables() -> None:
    crowd = make_ambience("crowd", duration_s=20.0, seed=4).astype(np.float64)
    hop = SAMPLE_RATE // 100
    frames = crowd[2 * SAMPLE_RATE : 18 * SAMPLE_RATE].reshape(-1, hop)
    envelope = np.sqrt(np.mean(frames**2, axis=1))
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2
    frequencies = np.fft.rfftfreq(envelope.size, d=hop / SAMPLE_RATE)
    # Most of the level's movement lies below 8 Hz (syllables, a few a second), and it is
    # a murmur: the level moves, by several decibels, but never falls silent.
    assert spectrum[(frequencies > 0) & (frequencies < 8)].sum() > 0.6 * spectrum[1:].sum()
    level_db = 20 * np.log10(envelope)
    assert 3.0 < np.percentile(level_db, 90) - np.percentile(level_db, 10) < 20.0
