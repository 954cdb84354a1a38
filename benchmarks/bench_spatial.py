"""Time render_scene and master for a 60 s scene: a 30 x 18 x 10 m hall and a 10 x 8 x 4 m room.

Run ``python benchmarks/bench_spatial.py``. Prints seconds per stage and the real-time
factor; the first render also compiles (or loads the cached) numba kernels and is reported
apart. Timings on shared machines vary up to 3x between runs: compare within one run.
"""

from __future__ import annotations

import time

import numpy as np

from scene.acoustics import room_acoustics
from scene.model import SHOEBOX_SURFACES, Material, Pose, Room
from spatial import PlacedSource, default_hrtf, master, render_scene

FS = 48_000
SECONDS = 60.0
N_SOURCES = 5


def _room(size: tuple[float, float, float], absorption: tuple[float, ...]) -> Room:
    material = Material(name="bench", absorption=absorption)
    return Room(kind="shoebox", size=size, materials=tuple((s, material) for s in SHOEBOX_SURFACES))


def main() -> None:
    n = int(SECONDS * FS)
    rng = np.random.default_rng(0)
    signals = [(0.1 * rng.standard_normal(n)).astype(np.float32) for _ in range(N_SOURCES)]
    rooms = {
        "hall 30x18x10": (
            _room((30.0, 18.0, 10.0), (0.12, 0.13, 0.15, 0.16, 0.18, 0.2, 0.22)),
            Pose(position=(15.0, 9.0, 1.7)),
        ),
        "room 10x8x4": (
            _room((10.0, 8.0, 4.0), (0.05, 0.08, 0.12, 0.15, 0.18, 0.2, 0.2)),
            Pose(position=(5.0, 4.0, 1.7)),
        ),
    }
    t0 = time.perf_counter()
    default_hrtf()
    print(f"default_hrtf: {time.perf_counter() - t0:.2f} s")
    for name, (room, listener) in rooms.items():
        size = np.asarray(room.size)
        sources = [
            PlacedSource(f"s{i}", signals[i], tuple(rng.uniform(0.1, 0.9, 3) * size))
            for i in range(N_SOURCES)
        ]
        rt60 = room_acoustics(room).rt60_eyring_s
        t0 = time.perf_counter()
        render_scene(room, listener, sources[:1], n_samples=FS)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        one = render_scene(room, listener, sources[:1], n_samples=n)
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        mix = render_scene(room, listener, sources, n_samples=n)
        t_all = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, report = master(mix)
        t_master = time.perf_counter() - t0
        print(
            f"{name}: RT60 1 kHz {rt60[3]:.2f} s; first call (1 s) {first:.2f} s; "
            f"{SECONDS:.0f} s x 1 source {t_one:.2f} s; x {N_SOURCES} sources {t_all:.2f} s "
            f"({SECONDS / t_all:.0f}x real time); master {t_master:.2f} s "
            f"({report.loudness_out_lufs:.1f} LUFS, {report.true_peak_out_dbtp:.1f} dBTP)"
        )
        del one


if __name__ == "__main__":
    main()
