"""genius-loci's binaural shoebox render against pyroomacoustics' hybrid simulation.

The same 10 x 8 x 4 m room (RT60 about 0.8 s at 1 kHz), the same 8 sources of 60 s at
48 kHz. pyroomacoustics renders to two omnidirectional microphones at the ears with its
hybrid image-source (order 3) + ray-tracing ``simulate()``; genius-loci renders binaurally
(HRTF per arrival, late tail per band). Both are timed in one run, side by side, because
shared machines vary up to 3x between runs.

Run: ``python benchmarks/bench_vs_pyroomacoustics.py [--seconds 60] [--sources 8]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyroomacoustics as pra

from scene.acoustics import room_acoustics
from scene.model import SHOEBOX_SURFACES, Material, Pose, Room
from spatial import PlacedSource, render_scene

FS = 48_000
SIZE = (10.0, 8.0, 4.0)
# One material everywhere so both simulators see the same absorption (pyroomacoustics'
# octave bands are the project's bands).
ABSORPTION = (0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.22)
LISTENER = (4.0, 3.5, 1.7)
EAR_OFFSET_M = 0.0875


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sources", type=int, default=8)
    args = parser.parse_args()
    n = round(args.seconds * FS)
    rng = np.random.default_rng(1)
    signals = [(0.05 * rng.standard_normal(n)).astype(np.float32) for _ in range(args.sources)]
    positions = [
        (float(rng.uniform(1, 9)), float(rng.uniform(1, 7)), float(rng.uniform(1, 3)))
        for _ in range(args.sources)
    ]
    material = Material("bench", ABSORPTION)
    room = Room("shoebox", SIZE, tuple((s, material) for s in SHOEBOX_SURFACES))
    rt60 = room_acoustics(room).rt60_eyring_s[3]
    print(
        f"room 10 x 8 x 4 m, Eyring RT60 at 1 kHz {rt60:.2f} s; {args.sources} sources x "
        f"{args.seconds:g} s at {FS} Hz"
    )

    listener = Pose(LISTENER, yaw_deg=0.0)
    sources = [
        PlacedSource(f"s{i}", s, p) for i, (s, p) in enumerate(zip(signals, positions, strict=True))
    ]
    render_scene(room, listener, sources[:1], n_samples=FS)  # load the cached numba kernels
    t0 = time.perf_counter()
    render_scene(room, listener, sources, n_samples=n)
    ours = time.perf_counter() - t0
    print(f"genius-loci render_scene (binaural): {ours:8.2f} s")

    pra_material = pra.Material(
        energy_absorption={
            "coeffs": list(ABSORPTION[:6]),
            "center_freqs": [125, 250, 500, 1000, 2000, 4000],
        }
    )
    t0 = time.perf_counter()
    shoebox = pra.ShoeBox(
        list(SIZE),
        fs=FS,
        materials=pra_material,
        max_order=3,
        ray_tracing=True,
        air_absorption=True,
    )
    for signal, position in zip(signals, positions, strict=False):
        shoebox.add_source(list(position), signal=signal)
    x, y, z = LISTENER
    ears = np.array([[x, x], [y + EAR_OFFSET_M, y - EAR_OFFSET_M], [z, z]])
    shoebox.add_microphone_array(ears)
    shoebox.simulate()
    theirs = time.perf_counter() - t0
    print(f"pyroomacoustics hybrid simulate (2 omni mics): {theirs:8.2f} s")
    print(f"ratio: genius-loci is {theirs / ours:.1f}x faster")


if __name__ == "__main__":
    main()
