"""``loci headset``: replay a scan to a server as a headset would, and record what it hears.

The scan's camera poses become head poses in WebXR's ``local`` space (origin and facing
where the first frame stands, y up, -z forward), sent at 60 Hz and interpolated between
frames (linear position, spherical orientation); its colour images and 16-bit depth go
as ``frame`` messages at ``fps`` frames a second. Everything heard is written to
``OUT/heard.wav`` (lost blocks as silence) and the per-block figures to
``OUT/latency.json``: arrival jitter, time on the wire, and motion to sound for every
pose (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loci.client import PoseLatency, connect
from loci.outputs import atomic_output_dir, write_json, write_wav
from scene.errors import SceneError

__all__ = ["POSE_RATE_HZ", "HeadsetResult", "headset_poses", "replay_scan"]

#: Head poses a second, as a headset's runtime reports them.
POSE_RATE_HZ = 60.0
_BLOCK = 256


@dataclass(frozen=True)
class HeadsetResult:
    """What a replay heard and measured."""

    out_dir: Path
    seconds: float
    blocks: int
    lost_blocks: int
    motion_to_sound_ms: dict
    wire_ms: dict

    def summary(self) -> str:
        """One line for the command line."""
        m = {k: self.motion_to_sound_ms.get(k, math.nan) for k in ("median", "p95")}
        render = self.motion_to_sound_ms.get("render_median", math.nan)
        return (
            f"wrote {self.out_dir}: {self.seconds:.1f} s heard, {self.blocks} blocks "
            f"({self.lost_blocks} lost); motion to sound median {m['median']:.1f} ms, "
            f"p95 {m['p95']:.1f} ms (render {render:.1f} ms + wire)"
        )


def headset_poses(camera_to_world: np.ndarray) -> list[tuple[tuple, tuple]]:
    """Turn a scan's cameras into WebXR head poses in a ``local`` space.

    Parameters
    ----------
    camera_to_world
        float64, shape (frames, 4, 4): OpenCV camera axes to the project's z-up world, as
        :func:`scene.scan.read_scan` gives them.

    Returns
    -------
    list of (position, orientation)
        Position (x, y, z) in metres and quaternion (x, y, z, w), y up and -z forward,
        relative to the first frame's position and heading (its yaw only: a headset's
        ``local`` space is level).
    """
    # Project z-up world -> WebXR y-up: (x, y, z) -> (-y, z, -x) for a listener facing +x;
    # OpenCV camera axes (x right, y down, z forward) -> WebXR's (x right, y up, -z forward).
    world_to_xr = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    cv_to_gl = np.diag([1.0, -1.0, -1.0])
    first = camera_to_world[0]
    forward = first[:3, 2]
    yaw = math.atan2(forward[1], forward[0])
    c, s = math.cos(-yaw), math.sin(-yaw)
    unturn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    poses = []
    for matrix in camera_to_world:
        position = world_to_xr @ unturn @ (matrix[:3, 3] - first[:3, 3])
        rotation = world_to_xr @ unturn @ matrix[:3, :3] @ cv_to_gl
        poses.append((tuple(float(v) for v in position), _quaternion(rotation)))
    return poses


def _quaternion(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """Unit quaternion (x, y, z, w) of a rotation matrix (Shepperd's method)."""
    m = rotation
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4)
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = (s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s)
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s)
    norm = math.sqrt(sum(v * v for v in q))
    return tuple(float(v / norm) for v in q)  # type: ignore[return-value]


def _slerp(a: tuple, b: tuple, u: float) -> tuple[float, float, float, float]:
    qa, qb = np.asarray(a), np.asarray(b)
    dot = float(qa @ qb)
    if dot < 0:
        qb, dot = -qb, -dot
    if dot > 0.9995:
        q = qa + u * (qb - qa)
    else:
        theta = math.acos(dot)
        q = (math.sin((1 - u) * theta) * qa + math.sin(u * theta) * qb) / math.sin(theta)
    q = q / np.linalg.norm(q)
    return tuple(float(v) for v in q)  # type: ignore[return-value]


def replay_scan(
    scan_dir: str | Path,
    out_dir: str | Path,
    *,
    url: str,
    instruction: str | None = None,
    place: str | None = None,
    token: str | None = None,
    fps: float = 2.0,
    duration_s: float | None = None,
) -> HeadsetResult:
    """Replay a scan folder to a server in real time; write heard.wav and latency.json.

    Raises
    ------
    SceneError
        When the scan cannot be read (naming the file and field).
    loci.client.ServerError
        When the server refuses the session.
    """
    from scene.scan import read_depth, read_scan

    scan = read_scan(scan_dir)
    if not scan.frames:
        raise SceneError("the scan has no frames with depth", file=scan.path)
    poses = headset_poses(np.stack([f.camera_to_world for f in scan.frames]))
    seconds = duration_s if duration_s is not None else len(scan.frames) / fps
    frames = []
    for frame in scan.frames:
        depth, _ = read_depth(frame)
        image = frame.image_path.read_bytes() if frame.image_path is not None else None
        kind = "png" if frame.image_path and frame.image_path.suffix.lower() == ".png" else "jpeg"
        millimetres = np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16)
        k = frame.intrinsics
        intrinsics = {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy}
        frames.append((image, kind, millimetres, intrinsics))
    heard, blocks, latencies, arrivals = asyncio.run(
        _replay(url, poses, frames, seconds, fps, instruction, place, token)
    )
    figures = _figures(blocks, latencies, arrivals, seconds)
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as staging:
        write_wav(staging / "heard.wav", heard, sample_rate=48_000)
        write_json(staging / "latency.json", figures)
    return HeadsetResult(
        out_dir=out_dir.resolve(),
        seconds=heard.shape[1] / 48_000,
        blocks=figures["blocks"],
        lost_blocks=figures["lost_blocks"],
        motion_to_sound_ms=figures["motion_to_sound_ms"],
        wire_ms=figures["wire_ms"],
    )


async def _replay(url, poses, frames, seconds, fps, instruction, place, token):
    async with connect(
        url, instruction=instruction, place=place, token=token, audio_format="float32"
    ) as client:
        start = time.monotonic()
        blocks = []
        arrivals = []

        async def receive() -> None:
            async for block in client.audio(seconds=seconds + 0.5):
                arrivals.append(time.monotonic())
                blocks.append(block)

        receiver = asyncio.create_task(receive())
        next_frame = 0.0
        count = len(poses)
        while (elapsed := time.monotonic() - start) < seconds:
            position_in_scan = (elapsed * fps) % count
            i = int(position_in_scan)
            u = position_in_scan - i
            j = (i + 1) % count
            position = tuple(
                (1 - u) * a + u * b for a, b in zip(poses[i][0], poses[j][0], strict=True)
            )
            await client.pose(position, _slerp(poses[i][1], poses[j][1], u))
            if elapsed >= next_frame:
                image, kind, depth, intrinsics = frames[i]
                if image is not None:
                    await client.frame(
                        image,
                        image_format=kind,
                        intrinsics=intrinsics,
                        pose={"position": list(position), "orientation": list(poses[i][1])},
                        depth=depth,
                    )
                next_frame += 1.0 / fps
            await asyncio.sleep(1.0 / POSE_RATE_HZ)
        await receiver
        latencies = client.pose_latencies()
    heard = _assemble(blocks)
    return heard, blocks, latencies, arrivals


def _assemble(blocks) -> np.ndarray:
    if not blocks:
        return np.zeros((2, 0), dtype=np.float32)
    first = blocks[0].sample_index
    end = blocks[-1].sample_index + blocks[-1].audio.shape[1]
    out = np.zeros((2, end - first), dtype=np.float32)
    for block in blocks:
        offset = block.sample_index - first
        out[:, offset : offset + block.audio.shape[1]] = block.audio
    return out


def _stats(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
    }


def _figures(blocks, latencies: list[PoseLatency], arrivals: list[float], seconds: float) -> dict:
    sequences = [b.sequence for b in blocks]
    lost = (sequences[-1] - sequences[0] + 1 - len(sequences)) if sequences else 0
    gaps = [1000 * (b - a) for a, b in itertools.pairwise(arrivals)]
    wire = [1000 * max(0.0, arrival_wall) for arrival_wall in _wire(blocks, arrivals)]
    motion = _stats([1000 * p.total_s for p in latencies])
    render = _stats([1000 * p.render_s for p in latencies])
    motion["render_median"] = render.get("median", math.nan)
    motion["render_p95"] = render.get("p95", math.nan)
    return {
        "seconds": seconds,
        "block_ms": 1000 * _BLOCK / 48_000,
        "blocks": len(blocks),
        "lost_blocks": lost,
        "arrival_gap_ms": _stats(gaps),
        "wire_ms": _stats(wire),
        "motion_to_sound_ms": motion,
        "per_block": [
            {
                "sequence": b.sequence,
                "sample_index": b.sample_index,
                "pose_t": None if math.isnan(b.pose_t) else b.pose_t,
                "wire_ms": round(w, 3),
            }
            for b, w in zip(blocks, wire, strict=False)
        ],
        "note": (
            "motion to sound: from sending a pose to receiving the first block rendered "
            "with it; its render part leaves out the block's time from rendering to being "
            "read (wire_ms: the server's send queue, the socket and this client)"
        ),
    }


def _wire(blocks, arrivals: list[float]) -> list[float]:
    # Monotonic arrival times to wall time: both clocks of this one machine.
    offset = time.time() - time.monotonic()
    return [(arrival + offset) - b.server_time for b, arrival in zip(blocks, arrivals, strict=True)]
