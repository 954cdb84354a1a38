"""genius-loci's mesh ray tracer against pyroomacoustics' ray tracer, the same rays.

A 10 x 8 x 4 m room given as a mesh of 3,072 or 30,000 triangles (each face a grid of
cells, as scans and exports come), absorption 0.2 and scattering 0.1 everywhere, a source
and a receiver sphere of 0.5 m. Both tracers follow each ray until its energy has fallen
by 70 dB (or 10 s), and both collect 4 ms histograms per octave band. pyroomacoustics
(0.10, C++) tests every wall for every ray segment; genius-loci walks a BVH (numba). Both
are timed in one run, side by side, because shared machines vary up to 3x between runs;
genius-loci on one thread (as pyroomacoustics' tracer runs) and on all of them, the best
of five runs (seeds 0-4).

Then genius-loci alone: the late-tail trace of a mesh room (its ray budget) on meshes of
10^4 to 10^5 triangles, and the whole BRIR of the shipped museum hall.

Run: ``python benchmarks/bench_raytrace.py [--rays 300]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numba
import numpy as np
import pyroomacoustics as pra

from scene.model import Pose, Room
from spatial import binaural_room_impulse_response
from spatial.acoustic_mesh import acoustic_mesh
from spatial.mesh_room import MIN_TAIL_RAYS, TAIL_BOUNCES, TAIL_RAYS
from spatial.raytrace import EnergyDecay, trace_energy_decay

SIZE = (10.0, 8.0, 4.0)
ALPHA = 0.2
SCATTERING = 0.1
SOURCE = (2.5, 3.0, 1.2)
RECEIVER = (6.0, 5.5, 1.7)
ROOT = Path(__file__).resolve().parents[1]


def box_mesh(cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The box's six faces, each ``cells`` x ``cells`` quads (12 cells^2 triangles),
    normals out."""
    lx, ly, lz = SIZE
    spec = [
        ((0, 0, 0), (0, ly, 0), (lx, 0, 0)),
        ((0, 0, lz), (lx, 0, 0), (0, ly, 0)),
        ((0, 0, 0), (lx, 0, 0), (0, 0, lz)),
        ((0, ly, 0), (0, 0, lz), (lx, 0, 0)),
        ((0, 0, 0), (0, 0, lz), (0, ly, 0)),
        ((lx, 0, 0), (0, ly, 0), (0, 0, lz)),
    ]
    s, t = np.meshgrid(np.linspace(0, 1, cells + 1), np.linspace(0, 1, cells + 1), indexing="ij")
    index = np.arange((cells + 1) ** 2).reshape(cells + 1, cells + 1)
    a, b = index[:-1, :-1].ravel(), index[1:, :-1].ravel()
    c, d = index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    quad = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    vertices, faces = [], []
    for origin, u, v in spec:
        points = (
            np.asarray(origin) + s.reshape(-1, 1) * np.asarray(u) + t.reshape(-1, 1) * np.asarray(v)
        )
        faces.append(quad + sum(len(p) for p in vertices))
        vertices.append(points)
    return np.concatenate(vertices), np.concatenate(faces)


def time_pyroomacoustics(
    vertices: np.ndarray, faces: np.ndarray, rays: int
) -> tuple[float, np.ndarray]:
    walls = [pra.wall_factory(vertices[f].T.copy(), [ALPHA] * 7, [SCATTERING] * 7) for f in faces]
    room = pra.Room(walls, fs=16000, max_order=0, ray_tracing=True, air_absorption=False)
    room.set_ray_tracing(n_rays=rays, receiver_radius=0.5, energy_thres=1e-7, time_thres=10.0)
    room.add_source(list(SOURCE))
    room.add_microphone(list(RECEIVER))
    start = time.perf_counter()
    room.ray_tracing()
    elapsed = time.perf_counter() - start
    return elapsed, np.asarray(room.rt_histograms[0][0][0])


def time_ours(
    vertices: np.ndarray, faces: np.ndarray, rays: int, threads: int
) -> tuple[float, float]:
    mesh = acoustic_mesh(vertices, faces[:, ::-1], np.full(7, ALPHA), scattering=SCATTERING)
    numba.set_num_threads(threads)
    best = np.inf
    for seed in range(5):
        start = time.perf_counter()
        decay = trace_energy_decay(
            mesh, SOURCE, RECEIVER, rays=rays, seed=seed, max_time_s=10.0, air_absorption=False
        )
        best = min(best, time.perf_counter() - start)
    return best, float(decay.decay_times_s(start_s=0.05)[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rays", type=int, default=300)
    args = parser.parse_args()
    threads = numba.get_num_threads()
    small = box_mesh(4)
    time_ours(*small, 10, 1)  # load the cached numba kernels
    time_ours(*small, 10, threads)
    print(
        f"room 10 x 8 x 4 m, alpha {ALPHA}, scattering {SCATTERING}; {args.rays} rays, "
        f"70 dB or 10 s each"
    )
    for cells in (16, 50):
        vertices, faces = box_mesh(cells)
        theirs, histogram = time_pyroomacoustics(vertices, faces, args.rays)
        one, t30 = time_ours(vertices, faces, args.rays, 1)
        many, _ = time_ours(vertices, faces, args.rays, threads)
        their_t30 = EnergyDecay(histogram, 0.004, args.rays, 0.5).decay_times_s(start_s=0.05)[3]
        print(
            f"{len(faces):6d} triangles: pyroomacoustics {theirs:7.2f} s (T30 1 kHz "
            f"{their_t30:.2f} s); genius-loci 1 thread {one:6.3f} s ({theirs / one:5.0f}x), "
            f"{threads} threads {many:6.3f} s ({theirs / many:5.0f}x) (T30 {t30:.2f} s)"
        )

    numba.set_num_threads(threads)
    print(
        f"\ngenius-loci mesh-room tail traces ({TAIL_BOUNCES:,} reflections, "
        f"{MIN_TAIL_RAYS}-{TAIL_RAYS} rays), {threads} threads:"
    )
    for cells in (29, 91):
        vertices, faces = box_mesh(cells)
        start = time.perf_counter()
        mesh = acoustic_mesh(vertices, faces[:, ::-1], np.full(7, ALPHA), scattering=SCATTERING)
        built = time.perf_counter() - start
        start = time.perf_counter()
        trace_energy_decay(mesh, RECEIVER, RECEIVER, rays=TAIL_RAYS, seed=0, max_time_s=2.0)
        traced = time.perf_counter() - start
        print(
            f"{len(faces):7,d} triangles: BVH {built:5.2f} s, {TAIL_RAYS} rays to -70 dB "
            f"{traced:5.2f} s"
        )
    hall = ROOT / "assets" / "meshes" / "museum_hall.obj"
    room = Room(kind="mesh", size=(30.0, 18.0, 10.6), mesh_path=hall)
    listener = Pose(position=(10.0, 9.0, 1.7))
    binaural_room_impulse_response(room, listener, (20.0, 6.0, 1.5))  # analysis, BVH, trace
    start = time.perf_counter()
    binaural_room_impulse_response(room, listener, (21.0, 12.0, 1.5), seed=1)
    print(
        f"museum hall (2,076 triangles, RT60 about 3 s): one BRIR with a fresh tail trace "
        f"{time.perf_counter() - start:.2f} s"
    )


if __name__ == "__main__":
    main()
