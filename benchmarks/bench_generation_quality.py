"""Measure the rules arranger as the generation issue asks, against third-party analysers.

Run: ``python benchmarks/bench_generation_quality.py [--seeds 7]``. For every style
(pop, folk, ambient, classical, Chinese, dance) and seed, a 60 s piece is composed and
synthesised; then

- music21's key analysis of score.mid must name the plan's key (or an equivalent key,
  see generation.harmony.equivalent_keys);
- librosa's tempo of the dry mix (the sum of the stems) must be within 4% of the plan's
  tempo, or its double or half;
- muspy's pitch-class entropy, scale consistency and groove consistency of the melody are
  compared with the range of the folk tunes in music21's corpus (O'Neill's 1850 and Ryan's
  Mammoth collections, 3,068 tunes: ``benchmarks/data/folk_corpus_metrics.json``, made by
  ``benchmarks/folk_corpus_metrics.py``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import librosa
import music21
import muspy
import numpy as np

from generation import SAMPLE_RATE, compose, make_plan, synthesize, understand, write_midi
from generation.harmony import equivalent_keys
from generation.midi import part_to_midi_bytes
from scene.environment import Environment, Feature

STYLES = {
    "pop": "a happy pop song",
    "folk": "a calm folk tune with guitar",
    "ambient": "a dreamy ambient piece",
    "classical": "an elegant classical piece",
    "chinese": "欢快的中国风笛子",
    "dance": "energetic dance music",
}
DRY = Environment(kind=Feature("free_field", "", "bench"), indoor=Feature(False, "", "bench"))


CORPUS = Path(__file__).resolve().parent / "data" / "folk_corpus_metrics.json"
METRICS = ("pitch_class_entropy", "scale_consistency", "groove_consistency")


def _melody_metrics(path: Path, quarters_per_bar: float) -> tuple[float, float, float]:
    music = muspy.read_midi(path)
    bar = round(music.resolution * quarters_per_bar)
    return (
        muspy.pitch_class_entropy(music),
        muspy.scale_consistency(music),
        muspy.groove_consistency(music, measure_resolution=bar),
    )


def _corpus_metrics() -> np.ndarray:
    tunes = json.loads(CORPUS.read_text(encoding="utf-8"))["tunes"]
    return np.asarray([[tune[name] for name in METRICS] for tune in tunes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=7)
    args = parser.parse_args()
    key_hits, tempo_hits, pieces, metrics = 0, 0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for style_name, text in STYLES.items():
            style = understand(text)
            for seed in range(args.seeds):
                plan = make_plan(style, DRY, seed=seed, duration_s=60.0)
                score = compose(plan)
                midi = Path(tmp) / "score.mid"
                write_midi(score, midi)
                found = music21.converter.parse(midi).analyze("key")
                key_ok = (found.tonic.pitchClass, found.mode) in equivalent_keys(
                    plan.key_tonic, plan.mode
                )
                mix = np.sum([stem.audio for stem in synthesize(score)], axis=0)
                tempo = float(np.atleast_1d(librosa.feature.tempo(y=mix, sr=SAMPLE_RATE))[0])
                error = min(abs(tempo / (plan.tempo_bpm * f) - 1) for f in (0.5, 1, 2))
                melody = next(p for p in score.parts if p.stem.role == "melody")
                melody_midi = Path(tmp) / "melody.mid"
                melody_midi.write_bytes(part_to_midi_bytes(melody, plan))
                metrics.append(_melody_metrics(melody_midi, 4 * plan.meter[0] / plan.meter[1]))
                key_hits += key_ok
                tempo_hits += error <= 0.04
                pieces += 1
                if not key_ok or error > 0.04:
                    print(
                        f"  {style_name} seed {seed}: plan {plan.key} {plan.tempo_bpm:.0f} bpm; "
                        f"music21 {found}, librosa {tempo:.1f} bpm"
                    )
    corpus = _corpus_metrics()
    ours = np.asarray(metrics)
    print(
        f"{pieces} pieces: key named {key_hits}/{pieces} ({100 * key_hits / pieces:.0f}%), "
        f"tempo within 4% {tempo_hits}/{pieces} ({100 * tempo_hits / pieces:.0f}%)"
    )
    for column, name in enumerate(METRICS):
        low, high = corpus[:, column].min(), corpus[:, column].max()
        inside = np.mean((ours[:, column] >= low) & (ours[:, column] <= high))
        print(
            f"{name}: corpus ({len(corpus)} folk tunes) {low:.3f}..{high:.3f}, median "
            f"{np.median(corpus[:, column]):.3f}; ours {ours[:, column].min():.3f}.."
            f"{ours[:, column].max():.3f}, median {np.median(ours[:, column]):.3f}; "
            f"{100 * inside:.0f}% inside the corpus range"
        )


if __name__ == "__main__":
    main()
