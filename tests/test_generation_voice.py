"""The singing voice: formants of sustained vowels by LPC, pitch by pYIN, consonants, the stem."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest

import generation
from generation.lyrics import write_lyrics
from generation.lyrics.types import LyricLine, Lyrics, Syllable
from generation.types import Note
from generation.voice import FORMANTS_HZ, sing, vowel_targets
from loci.compose import placeless_environment

SR = 48_000
# CMU monophthongs and the Peterson & Barney vowel each is sung on.
CMU_VOWELS = {
    "IY": "i",
    "IH": "ɪ",
    "EH": "ɛ",
    "AE": "æ",
    "AA": "ɑ",
    "AO": "ɔ",
    "UH": "ʊ",
    "UW": "u",
    "AH": "ʌ",
    "ER": "ɝ",
}
# Pinyin finals sung on one target.
PINYIN_VOWELS = {"a": "ɑ", "o": "ɔ", "e": "ʌ", "i": "i", "u": "u", "v": "y", "er": "ɝ"}


def formants_by_lpc(segment: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """F1 and F2 of a sustained vowel: LPC of order 8 at 8 kHz over a Hamming window.

    The poles above 150 Hz with bandwidths under 400 Hz, lowest first, as is usual for
    formant tracking (order about the sample rate in kHz for a man's vocal tract).
    """
    y = librosa.resample(segment.astype(np.float64), orig_sr=sample_rate, target_sr=8000)
    a = librosa.lpc(y * np.hamming(y.size), order=8)
    roots = [r for r in np.roots(a) if np.imag(r) > 0]
    poles = sorted(
        (np.angle(r) * 8000 / (2 * np.pi), -8000 / np.pi * np.log(abs(r))) for r in roots
    )
    freqs = [f for f, bandwidth in poles if f > 150 and bandwidth < 400]
    return freqs[0], freqs[1]


def _sustained(vowels: dict[str, str], pitch: int, language: str) -> tuple[Lyrics, list]:
    syllables = []
    start = 0.1
    for symbol in vowels:
        note = Note(pitch, start, start + 0.8, 90)
        syllables.append(Syllable(symbol, symbol, "single", note, True, True, symbol, ()))
        start += 1.0
    line = LyricLine("verse 1", " ".join(vowels), tuple(syllables), "")
    return Lyrics(language, (line,), (), "test"), syllables


@pytest.mark.parametrize("pitch", [43, 48, 53, 58])
def test_english_vowel_formants_within_15_percent(pitch: int) -> None:
    lyrics, syllables = _sustained(CMU_VOWELS, pitch, "en")
    audio = sing(lyrics, duration_s=11.0, seed=0).audio
    for syllable in syllables:
        a = round((syllable.note.start_s + 0.25) * SR)
        f1, f2 = formants_by_lpc(audio[a : a + round(0.4 * SR)], SR)
        target = FORMANTS_HZ[CMU_VOWELS[syllable.vowel]]
        assert abs(f1 - target[0]) <= 0.15 * target[0], (syllable.vowel, f1, target)
        assert abs(f2 - target[1]) <= 0.15 * target[1], (syllable.vowel, f2, target)


def test_mandarin_vowel_formants_within_15_percent() -> None:
    lyrics, syllables = _sustained(PINYIN_VOWELS, 50, "zh")
    audio = sing(lyrics, duration_s=8.0, seed=0).audio
    for syllable in syllables:
        a = round((syllable.note.start_s + 0.25) * SR)
        f1, f2 = formants_by_lpc(audio[a : a + round(0.4 * SR)], SR)
        target = FORMANTS_HZ[PINYIN_VOWELS[syllable.vowel]]
        assert abs(f1 - target[0]) <= 0.15 * target[0], (syllable.vowel, f1, target)
        assert abs(f2 - target[1]) <= 0.15 * target[1], (syllable.vowel, f2, target)


@pytest.fixture(scope="module")
def sung_song():
    style = generation.understand("play a light, cheerful piece on the beach")
    plan = generation.make_plan(style, placeless_environment(("beach",)), seed=7, duration_s=30)
    score = generation.compose(plan)
    result = write_lyrics(plan, score, style, language="en", places=("beach",))
    return result, sing(result.lyrics, duration_s=plan.duration_s, seed=plan.seed)


def test_pitch_follows_the_melody_within_20_cents(sung_song) -> None:
    result, stem = sung_song
    y = librosa.resample(stem.audio.astype(np.float64), orig_sr=SR, target_sr=16000)
    f0, voiced, _ = librosa.pyin(y, fmin=60, fmax=500, sr=16000, frame_length=1024, hop_length=160)
    times = librosa.times_like(f0, sr=16000, hop_length=160)
    errors = []
    for note in result.vocal.notes:
        inside = (times > note.start_s + 0.1) & (times < note.end_s - 0.05) & voiced
        if inside.sum() >= 3:
            hz = 440.0 * 2 ** ((note.pitch - 69) / 12)
            errors.append(1200 * np.log2(np.median(f0[inside]) / hz))
    assert len(errors) >= 0.8 * len(result.vocal.notes)
    assert np.mean(np.abs(errors)) <= 20.0, np.mean(np.abs(errors))


def test_vibrato_moves_the_pitch_of_long_notes() -> None:
    note = Note(48, 0.1, 1.6, 90)
    line = LyricLine("v", "a", (Syllable("a", "a", "single", note, True, True, "AA", ()),), "")
    audio = sing(Lyrics("en", (line,), (), "t"), duration_s=2.0, seed=0).audio
    y = librosa.resample(audio.astype(np.float64), orig_sr=SR, target_sr=16000)
    f0, voiced, _ = librosa.pyin(y, fmin=60, fmax=400, sr=16000, frame_length=1024, hop_length=80)
    times = librosa.times_like(f0, sr=16000, hop_length=80)
    cents = 1200 * np.log2(f0[(times > 0.6) & (times < 1.5) & voiced] / 130.81)
    # A 14-cent vibrato at 5.5 Hz: the pitch swings, and comes back to the note.
    assert 6.0 < np.std(cents) < 20.0 and abs(np.median(cents)) < 5.0


def _band_energy(audio: np.ndarray, low: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size))) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / SR)
    return float(spectrum[freqs > low].sum() / spectrum.sum())


def test_fricative_onset_adds_noise_where_the_syllable_starts() -> None:
    def sung(onset: tuple[str, ...]) -> np.ndarray:
        note = Note(48, 0.1, 0.7, 90)
        syllable = Syllable("sa", "sa", "single", note, True, True, "AA", onset)
        line = LyricLine("v", "sa", (syllable,), "")
        return sing(Lyrics("en", (line,), (), "t"), duration_s=1.0, seed=0).audio

    with_s, without = sung(("S",)), sung(())
    head = slice(round(0.1 * SR), round(0.16 * SR))
    assert _band_energy(with_s[head], 4000) > 0.3
    assert _band_energy(without[head], 4000) < 0.05
    tail = slice(round(0.35 * SR), round(0.6 * SR))
    assert _band_energy(with_s[tail], 4000) < 0.05  # the vowel itself is voiced


def test_stem_length_level_and_finiteness(sung_song) -> None:
    _, stem = sung_song
    assert stem.role == "vocal" and stem.audio.dtype == np.float32
    assert stem.audio.shape == (30 * SR,)
    assert np.all(np.isfinite(stem.audio)) and np.max(np.abs(stem.audio)) < 1.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(stem.audio.astype(np.float64) ** 2)))
    assert abs(rms_db - -20.0) < 0.5


def test_unknown_vowel_is_refused() -> None:
    syllable = Syllable("x", "x", "single", Note(48, 0, 1, 80), True, True, "QQ", ())
    with pytest.raises(ValueError, match="no vowel targets for 'QQ'"):
        vowel_targets(syllable, "en")
    with pytest.raises(ValueError, match="no vowel targets for final 'QQ'"):
        vowel_targets(syllable, "zh")


@pytest.mark.slow
def test_render_beach_with_lyrics_places_a_sung_vocal(tmp_path: Path) -> None:
    from loci.cli import main

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "beach"
    args = ["render", str(root / "examples" / "beach.yaml"), "--lyrics", "-o", str(out)]
    assert main([*args, "--duration", "10", "-q"]) == 0
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    vocal = next(s for s in plan["sources"] if s["name"] == "vocal")
    listener = np.array([0.0, 0.0, 1.7])  # examples/beach.yaml
    assert np.linalg.norm(np.array(vocal["position"]) - listener) == pytest.approx(2.0, abs=0.01)
    assert vocal["placed_by"].startswith("automatic: vocal")
    assert plan["lyrics"]["language"] == "zh" and (out / "stems" / "vocal.wav").is_file()
    assert (out / "lyrics.lrc").is_file() and (out / "mix.wav").is_file()
