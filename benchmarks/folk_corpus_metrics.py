"""Melody metrics of the folk tunes in music21's corpus, the reference range for generation.

Run: ``python benchmarks/folk_corpus_metrics.py`` (about ten minutes). Reads every tune of
O'Neill's 1850 collection and of Ryan's Mammoth Collection (the folk collections of the
corpus that record no licence restriction; Essen is for non-commercial use only and is
left out) and writes ``benchmarks/data/folk_corpus_metrics.json``: per tune, muspy's
pitch-class entropy, scale consistency and groove consistency. The benchmarks compare
generated melodies with the range and median of these figures.

Notes are read from music21's parsed notes directly: its ABC reader shares one
TimeSignature between measures, which breaks the MIDI export of about one tune in ten.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import music21
import muspy
import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "folk_corpus_metrics.json"
COLLECTIONS = ("oneills1850", "ryansMammoth")
RESOLUTION = 24  # ticks per quarter note
MIN_NOTES = 16


def tune_metrics(score: music21.stream.Score) -> tuple[float, float, float] | None:
    """(pitch-class entropy, scale consistency, groove consistency) of one tune's melody."""
    notes = [
        muspy.Note(
            time=round(float(n.offset) * RESOLUTION),
            pitch=n.pitch.midi,
            duration=max(1, round(float(n.quarterLength) * RESOLUTION)),
            velocity=64,
        )
        for n in score.flatten().notes
        if isinstance(n, music21.note.Note)
    ]
    if len(notes) < MIN_NOTES:
        return None
    signature = next(iter(score.flatten().getElementsByClass("TimeSignature")), None)
    bar_quarters = float(signature.barDuration.quarterLength) if signature else 4.0
    music = muspy.Music(resolution=RESOLUTION, tracks=[muspy.Track(notes=notes)])
    groove = muspy.groove_consistency(music, measure_resolution=round(bar_quarters * RESOLUTION))
    return (
        float(muspy.pitch_class_entropy(music)),
        float(muspy.scale_consistency(music)),
        float(groove),
    )


def main() -> None:
    corpus = Path(music21.__file__).parent / "corpus"
    tunes: list[dict] = []
    started = time.perf_counter()
    for collection in COLLECTIONS:
        for abc in sorted((corpus / collection).glob("*.abc")):
            parsed = music21.converter.parse(abc)
            scores = parsed.scores if isinstance(parsed, music21.stream.Opus) else [parsed]
            for index, score in enumerate(scores):
                metrics = tune_metrics(score)
                if metrics is not None and all(np.isfinite(metrics)):
                    tunes.append(
                        {
                            "collection": collection,
                            "file": abc.name,
                            "index": index,
                            "pitch_class_entropy": round(metrics[0], 6),
                            "scale_consistency": round(metrics[1], 6),
                            "groove_consistency": round(metrics[2], 6),
                        }
                    )
        print(f"{collection}: {sum(t['collection'] == collection for t in tunes)} tunes")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "made_by": "benchmarks/folk_corpus_metrics.py",
        "music21": music21.__version__,
        "muspy": muspy.__version__,
        "collections": list(COLLECTIONS),
        "tunes": tunes,
    }
    with tempfile.NamedTemporaryFile("w", dir=OUT.parent, delete=False, suffix=".tmp") as f:
        json.dump(document, f, indent=1)
    os.replace(f.name, OUT)
    print(f"{len(tunes)} tunes in {time.perf_counter() - started:.0f} s -> {OUT}")
    for name in ("pitch_class_entropy", "scale_consistency", "groove_consistency"):
        values = np.asarray([t[name] for t in tunes])
        low, median, high = np.percentile(values, [0, 50, 100])
        print(f"{name}: {low:.3f} .. {high:.3f}, median {median:.3f}")


if __name__ == "__main__":
    main()
