"""Perception on one core: camera frames, TSDF fusion of phone depth, and a large mesh.

Each part is timed side by side with what a user would write or use instead, in one run,
best of ``--repeat``:

- ``frames``: :func:`scene.frames.frame_features` (colour, edges, sky, light) on 640 x 480
  frames against the same colour features (brightness, warmth, colourfulness, saturation)
  computed plainly in numpy on the full frame; the motion between two frames and a
  :class:`scene.frames.FrameStream` update.
- ``tsdf``: fusion of 256 x 192 depth frames (a phone's LiDAR) of the shipped scan's room
  with Open3D's ``ScalableTSDFVolume`` (:func:`scene.scan.fuse_scan`, 4 cm voxels) against a
  dense TSDF written in numpy (every voxel of the room's box projected into every frame);
  then the room estimate (planes, floor plan, RT60).
- ``mesh``: a 30 x 18 x 10 m hall of about 100,000 triangles, each wall a fine grid
  (every wall's vertices separate, as an exporter writes them per material), as OBJ:
  genius-loci's read, repair and analysis against trimesh doing what it can of the same
  (``Trimesh(process=True)``, ``update_faces``, ``fix_normals``, ``volume``, ``area``).

Run: ``python benchmarks/bench_perception.py [--part frames|tsdf|mesh|all] [--repeat 3]``
(one core: the script sets OMP_NUM_THREADS=1 and OpenCV's threads to 1 itself).
"""

from __future__ import annotations

import os

# One core for every library, before any of them starts its thread pool.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


# --- frames ---------------------------------------------------------------------------


def numpy_colour_features(image_bgr: np.ndarray) -> tuple[float, float, float, float]:
    """Brightness, warmth, colourfulness and saturation as one would write them in numpy."""
    pixels = image_bgr.reshape(-1, 3).astype(np.float64)
    b, g, r = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    brightness = float((0.299 * r + 0.587 * g + 0.114 * b).mean() / 255.0)
    warmth = float((r.mean() - b.mean()) / (r.mean() + b.mean() + 1e-6))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    high, low = pixels.max(axis=1), pixels.min(axis=1)
    saturation = float(np.where(high > 0, (high - low) / np.maximum(high, 1e-9), 0.0).mean())
    return brightness, warmth, colourfulness, saturation


def bench_frames(repeat: int) -> None:
    import cv2

    from scene.frames import FrameStream, frame_features, motion_between

    cv2.setNumThreads(1)
    frames = [_photo_like(seed) for seed in range(20)]
    frame_features(frames[0])

    def ours() -> None:
        for frame in frames:
            frame_features(frame)

    def plain() -> None:
        for frame in frames:
            numpy_colour_features(frame)

    def motion() -> None:
        for a, b in itertools.pairwise(frames):
            motion_between(a, b)

    def stream() -> None:
        meter = FrameStream(tau_s=2.0)
        for n, frame in enumerate(frames):
            meter.update(frame, n / 30.0)

    t_ours, _ = best(ours, repeat)
    t_plain, _ = best(plain, repeat)
    t_motion, _ = best(motion, repeat)
    t_stream, _ = best(stream, repeat)
    n = len(frames)
    print("frames: 640 x 480, one core")
    print(f"  genius-loci frame_features (8 features):   {t_ours / n * 1e3:6.2f} ms a frame")
    print(f"  numpy, 4 colour features on full frames:   {t_plain / n * 1e3:6.2f} ms a frame")
    print(f"  ratio numpy / genius-loci:                 {t_plain / t_ours:6.1f}x")
    print(f"  motion_between (DIS optical flow):         {t_motion / (n - 1) * 1e3:6.2f} ms a pair")
    print(f"  FrameStream.update (features + motion):    {t_stream / n * 1e3:6.2f} ms a frame")
    print(
        f"  budget: 5 ms a frame; frame_features + motion = "
        f"{(t_ours / n + t_motion / (n - 1)) * 1e3:.2f} ms"
    )


def _photo_like(seed: int) -> np.ndarray:
    """A 640 x 480 frame with structure at many scales (a sky, objects, texture)."""
    import cv2

    rng = np.random.default_rng(seed)
    layers = [
        cv2.resize(
            rng.normal(0, 1, (480 // s, 640 // s, 3)), (640, 480), interpolation=cv2.INTER_CUBIC
        )
        for s in (2, 8, 32, 120)
    ]
    image = 120 + 45 * sum(layers) / 2
    image[:150] = np.array([235.0, 190.0, 130.0]) + rng.normal(0, 3, (150, 640, 3))  # sky, BGR
    return np.clip(image, 0, 255).astype(np.uint8)


# --- TSDF -----------------------------------------------------------------------------


def numpy_tsdf(depths, intrinsics, poses, low, high, voxel: float, trunc: float) -> np.ndarray:
    """A dense TSDF in numpy: project every voxel of the box into every frame."""
    shape = np.ceil((high - low) / voxel).astype(int)
    axes = [low[k] + (np.arange(shape[k]) + 0.5) * voxel for k in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    tsdf = np.ones(len(grid), np.float32)
    weight = np.zeros(len(grid), np.float32)
    for depth, k, pose in zip(depths, intrinsics, poses, strict=True):
        world_to_camera = np.linalg.inv(pose)
        camera = grid @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        z = camera[:, 2]
        front = z > 0.05
        u = np.round(camera[:, 0] / np.where(front, z, 1) * k.fx + k.cx).astype(np.int64)
        v = np.round(camera[:, 1] / np.where(front, z, 1) * k.fy + k.cy).astype(np.int64)
        inside = front & (u >= 0) & (u < depth.shape[1]) & (v >= 0) & (v < depth.shape[0])
        measured = np.zeros(len(grid), np.float32)
        measured[inside] = depth[v[inside], u[inside]]
        sdf = measured - z
        update = inside & (measured > 0) & (sdf > -trunc)
        value = np.minimum(1.0, sdf[update] / trunc)
        w = weight[update]
        tsdf[update] = (tsdf[update] * w + value) / (w + 1)
        weight[update] = w + 1
    return tsdf


def bench_tsdf(repeat: int) -> None:
    from scene.room_estimate import estimate_room
    from scene.scan import VOXEL_M, fuse_scan, read_depth, read_scan

    scan = read_scan(ROOT / "assets" / "scans" / "room")
    # The scan's frames several times over: a longer capture of the same room.
    frames = scan.frames * 6
    long_scan = type(scan)(path=scan.path, frames=frames, up=scan.up, notes=scan.notes)
    fuse_scan(scan)  # warm up Open3D
    read = [read_depth(f) for f in frames]
    t_read, _ = best(lambda: [read_depth(f) for f in frames], repeat)
    t_fuse, fused = best(lambda: fuse_scan(long_scan), repeat)
    t_estimate, estimate = best(lambda: estimate_room(fused), repeat)
    poses = [f.camera_to_world for f in frames]
    low = np.array([-0.2, -0.2, -0.2])
    high = np.array([5.2, 4.2, 2.9])
    t_numpy, _ = best(
        lambda: numpy_tsdf(
            [d for d, _ in read], [k for _, k in read], poses, low, high, VOXEL_M, 4 * VOXEL_M
        ),
        1,
    )
    n = len(frames)
    print(f"TSDF fusion: {n} depth frames of 256 x 192, {VOXEL_M * 100:g} cm voxels, one core")
    print(f"  reading the depth PNGs:                    {t_read / n * 1e3:6.2f} ms a frame")
    print(
        f"  genius-loci fuse_scan (Open3D TSDF, reading included, points extracted): "
        f"{n / t_fuse:6.0f} frames/s"
    )
    print(f"  numpy dense TSDF of the room's box:        {n / t_numpy:6.1f} frames/s")
    print(f"  ratio genius-loci / numpy:                 {t_numpy / t_fuse:6.1f}x")
    print(
        f"  room estimate (planes, plan, RT60):        {t_estimate * 1e3:6.0f} ms "
        f"({estimate.floor_area_m2:.2f} m^2, {estimate.ceiling_height_m:.3f} m high; "
        "true 20 m^2, 2.7 m)"
    )
    print(f"  budget: 20 frames/s; fusion runs at {n / t_fuse:.0f}")


# --- mesh -----------------------------------------------------------------------------


def hall_obj(path: Path, cells: int) -> int:
    """Write the hall as OBJ, one group per wall; return the triangle count."""
    lx, ly, lz = 30.0, 18.0, 10.0
    walls = {
        "marble_floor": ((0, 0, 0), (0, ly, 0), (lx, 0, 0)),
        "plaster_ceiling": ((0, 0, lz), (lx, 0, 0), (0, ly, 0)),
        "stone_south": ((0, 0, 0), (lx, 0, 0), (0, 0, lz)),
        "glass_north": ((0, ly, 0), (0, 0, lz), (lx, 0, 0)),
        "stone_west": ((0, 0, 0), (0, 0, lz), (0, ly, 0)),
        "wood_east": ((lx, 0, 0), (0, ly, 0), (0, 0, lz)),
    }
    lines, offset, triangles = [], 1, 0
    s, t = np.meshgrid(np.linspace(0, 1, cells + 1), np.linspace(0, 1, cells + 1), indexing="ij")
    index = np.arange((cells + 1) ** 2).reshape(cells + 1, cells + 1)
    a, b = index[:-1, :-1].ravel(), index[1:, :-1].ravel()
    c, d = index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    for name, (origin, u, v) in walls.items():
        points = np.asarray(origin) + s.reshape(-1, 1) * np.asarray(u) + t.reshape(-1, 1) * v
        lines.append(f"o {name}\nusemtl {name}")
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in points.tolist()]
        lines += [f"f {i + offset} {j + offset} {k + offset}" for i, j, k in faces.tolist()]
        offset += len(points)
        triangles += len(faces)
    path.write_text("\n".join(lines) + "\n")
    return triangles


def bench_mesh(repeat: int, cells: int) -> None:
    import trimesh

    from scene.mesh_analysis import analyze_clean_mesh
    from scene.mesh_io import read_mesh
    from scene.mesh_repair import prepare_mesh

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hall.obj"
        triangles = hall_obj(path, cells)
        analyze_clean_mesh(prepare_mesh(read_mesh(path)))  # warm up imports

        t_read, raw = best(lambda: read_mesh(path), repeat)
        t_repair, clean = best(lambda: prepare_mesh(raw), repeat)
        t_analysis, analysis = best(lambda: analyze_clean_mesh(clean), repeat)

        def with_trimesh() -> tuple[float, float, bool]:
            mesh = trimesh.Trimesh(raw.vertices, raw.faces, process=True)
            mesh.update_faces(mesh.nondegenerate_faces() & mesh.unique_faces())
            mesh.fix_normals()
            return mesh.volume, mesh.area, mesh.is_watertight

        t_trimesh, (volume, area, watertight) = best(with_trimesh, repeat)

    ours = t_repair + t_analysis
    print(f"mesh: {triangles} triangles, {len(raw.vertices)} vertices as written")
    print(f"  genius-loci read (trimesh OBJ parser, names kept): {t_read * 1e3:8.1f} ms")
    print(f"  genius-loci repair:                               {t_repair * 1e3:8.1f} ms")
    print(f"  genius-loci analysis (incl. RT60, materials):     {t_analysis * 1e3:8.1f} ms")
    print(f"  genius-loci repair + analysis:                    {ours * 1e3:8.1f} ms")
    print(f"  trimesh process + fix_normals + volume + area:    {t_trimesh * 1e3:8.1f} ms")
    print(f"  ratio trimesh / genius-loci:                      {t_trimesh / ours:8.2f}x")
    print(
        f"  volume: ours {analysis.volume_m3:.6f} m^3, trimesh {volume:.6f} m^3 "
        f"(exact 5400); area: ours {analysis.surface_m2:.6f}, trimesh {area:.6f} m^2 "
        f"(exact 2040); watertight per trimesh: {watertight}"
    )
    print(f"  RT60 (Eyring, 500 Hz-1 kHz): {analysis.acoustics.rt60_mid_s:.3f} s")
    print(f"  budget: 2 s; read + repair + analysis: {t_read + ours:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("frames", "tsdf", "mesh", "all"), default="all")
    parser.add_argument("--cells", type=int, default=91, help="grid cells per wall side (mesh)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.part in ("frames", "all"):
        bench_frames(args.repeat)
    if args.part in ("tsdf", "all"):
        bench_tsdf(args.repeat)
    if args.part in ("mesh", "all"):
        bench_mesh(args.repeat, args.cells)


if __name__ == "__main__":
    main()
