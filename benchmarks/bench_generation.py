"""Time composing and synthesising a 60 s piece with five stems, on one core.

Run: ``python benchmarks/bench_generation.py``. Compared side by side with what a user
would otherwise do with the same score: render ``score.mid`` in one pass with
midirenderer and the same sound font (one mixed stereo file, no stems, no ambience).
The issue's bound is under 2 s for the whole of it.
"""

from __future__ import annotations

import io
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import midirenderer

from generation import (
    compose,
    default_soundfont,
    make_plan,
    score_to_pretty_midi,
    synthesize,
    understand,
)
from scene.environment import Environment, Feature

REPEATS = 3


def main() -> None:
    environment = Environment(
        kind=Feature("outdoor", "label", "bench"),
        indoor=Feature(False, "true/false", "bench"),
        place_tags=Feature(("beach",), "words", "bench"),
    )
    style = understand("在海滩上播放一首轻快的音乐")
    plan = make_plan(style, environment, seed=7, duration_s=60.0)
    synthesize(compose(plan))  # warm: numba kernels, the sound font in memory
    ours, theirs = [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        score = compose(make_plan(style, environment, seed=7, duration_s=60.0))
        stems = synthesize(score)
        ours.append(time.perf_counter() - t0)
        buffer = io.BytesIO()
        score_to_pretty_midi(score).write(buffer)
        font = default_soundfont().read_bytes()
        t0 = time.perf_counter()
        midirenderer.render_wave_from(font, buffer.getvalue())
        theirs.append(time.perf_counter() - t0)
    print(f"{len(stems)} stems ({', '.join(s.name for s in stems)}), 60 s at 48 kHz")
    print(f"genius-loci plan + compose + synthesize (per-stem, with ambience): {min(ours):.2f} s")
    print(f"midirenderer, whole score.mid in one pass (mixed, no ambience):   {min(theirs):.2f} s")
    print(f"ratio: {min(ours) / min(theirs):.1f}x the single-pass render")


if __name__ == "__main__":
    main()
