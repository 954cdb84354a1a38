"""The shipped examples, rendered whole through ``loci render`` and checked by third parties.

music21 names the key of score.mid, librosa measures the tempo, pyloudnorm the loudness.
"""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import music21
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from loci.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("beach", "museum")


@pytest.fixture(scope="module", params=EXAMPLES)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param) / "out"
    scene = ROOT / "examples" / f"{request.param}.yaml"
    assert main(["render", str(scene), "-o", str(out), "-q"]) == 0
    return out


def _relative(key: music21.key.Key) -> str:
    return f"{key.relative.tonic.name} {key.relative.mode}"


def _same_key(name: str, key: music21.key.Key) -> bool:
    tonic, mode = name.split()
    wanted = music21.key.Key(tonic, mode)
    return key.tonic.pitchClass == wanted.tonic.pitchClass and key.mode == wanted.mode


@pytest.mark.slow
def test_outputs_are_all_there_and_well_formed(rendered: Path) -> None:
    plan = json.loads((rendered / "plan.json").read_text(encoding="utf-8"))
    for key in ("key", "tempo_bpm", "meter", "explanation", "style", "environment"):
        assert key in plan, key
    assert plan["explanation"] and all("because" in d for d in plan["explanation"])
    env = json.loads((rendered / "environment.json").read_text(encoding="utf-8"))
    assert all("source" in feature for feature in env.values() if isinstance(feature, dict))
    info = sf.info(rendered / "mix.wav")
    assert (info.channels, info.samplerate) == (2, 48_000)
    assert info.duration == pytest.approx(60.0, abs=1e-3)
    stems = sorted((rendered / "stems").glob("*.wav"))
    assert len(stems) >= 3
    for stem in stems:
        stem_info = sf.info(stem)
        assert (stem_info.channels, stem_info.samplerate) == (1, 48_000)
    midi = music21.converter.parse(rendered / "score.mid")
    assert len(midi.parts) == len([s for s in plan["stems"] if s["role"] != "ambience"])


@pytest.mark.slow
def test_mix_is_at_target_loudness_and_never_clips(rendered: Path) -> None:
    mix, rate = sf.read(rendered / "mix.wav", dtype="float64")
    assert np.all(np.isfinite(mix))
    loudness = pyloudnorm.Meter(rate).integrated_loudness(mix)
    assert loudness == pytest.approx(-16.0, abs=1.0)
    oversampled = resample_poly(mix, 4, 1, axis=0)
    true_peak_db = 20 * np.log10(np.max(np.abs(oversampled)))
    assert true_peak_db <= -1.0 + 0.05, true_peak_db


@pytest.mark.slow
def test_music21_names_the_plan_key(rendered: Path) -> None:
    plan = json.loads((rendered / "plan.json").read_text(encoding="utf-8"))
    found = music21.converter.parse(rendered / "score.mid").analyze("key")
    assert _same_key(plan["key"], found) or _same_key(plan["key"], found.relative), (
        f"plan {plan['key']}, music21 {found} (relative {_relative(found)})"
    )


@pytest.mark.slow
def test_librosa_hears_the_plan_tempo(rendered: Path) -> None:
    plan = json.loads((rendered / "plan.json").read_text(encoding="utf-8"))
    drums = rendered / "stems" / "drums.wav"
    audio, rate = sf.read(drums if drums.exists() else rendered / "mix.wav", dtype="float32")
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    tempo = float(np.atleast_1d(librosa.feature.tempo(y=mono, sr=rate))[0])
    ratios = [tempo / (plan["tempo_bpm"] * factor) for factor in (0.5, 1.0, 2.0)]
    assert min(abs(r - 1.0) for r in ratios) <= 0.05, (tempo, plan["tempo_bpm"])
