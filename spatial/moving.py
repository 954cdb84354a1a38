"""Offline rendering of scenes whose listener or sources move along trajectories.

The scene is played through the streaming renderer (:class:`spatial.StreamRenderer`)
block by block: each block crossfades from the poses at its start to those at its end, so
a moving source or a turning head changes level, direction and reflections smoothly.
Filters are switched, not stretched: there is no Doppler shift. A scene in which nothing
moves gives the same output as :func:`spatial.render_scene` (to float32 rounding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from scene.acoustics import SPEED_OF_SOUND, room_acoustics
from scene.errors import SceneError
from scene.model import Pose, Room, Trajectory
from spatial.hrtf import Hrtf
from spatial.render import _check_hrtf, _check_point, _check_rate, _check_room, _check_source
from spatial.stream import StreamRenderer
from spatial.types import SAMPLE_RATE, PlacedSource

__all__ = ["MOVING_BLOCK_SIZE", "REFLECTION_UPDATES_PER_SOURCE_S", "render_moving"]

#: Block size of the offline moving render, samples (10.7 ms: poses are followed at
#: about 94 steps a second, each step a crossfade).
MOVING_BLOCK_SIZE = 512

#: Reflection updates per second and source: a source moving at walking pace, or a head
#: turning at 90 degrees per second, gets new reflections every 5 cm or 4.5 degrees.
REFLECTION_UPDATES_PER_SOURCE_S = 20.0


def render_moving(
    room: Room,
    listener: Pose | Trajectory,
    sources: Sequence[PlacedSource],
    *,
    n_samples: int,
    hrtf: Hrtf | None = None,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
    block_size: int = MOVING_BLOCK_SIZE,
    period_s: float | None = None,
) -> np.ndarray:
    """Render mono sources, some of them moving, for a listener who may move too.

    Parameters
    ----------
    room
        The acoustic space (as for :func:`spatial.render_scene`).
    listener
        A fixed :class:`scene.model.Pose`, or a :class:`scene.model.Trajectory` of poses.
    sources
        Mono signals; each follows its ``trajectory`` when it has one, else stays at its
        ``position``. Scaled by ``gain_db``, played from t = 0.
    n_samples
        Length of the output, samples (> 0).
    hrtf
        None uses :func:`spatial.hrtf.default_hrtf`.
    sample_rate
        Must be 48000 Hz.
    seed
        Seeds the late tail's noise.
    block_size
        Samples per step of the poses (16 to 8192).
    period_s
        When set, trajectories repeat every ``period_s`` seconds (a loop rendered several
        times over).

    Returns
    -------
    numpy.ndarray
        float32, shape (2, n_samples), row 0 the left ear; not normalised.
    """
    _check_rate(sample_rate)
    _check_room(room)
    hrtf = _check_hrtf(hrtf)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples <= 0:
        raise SceneError("must be a positive integer", field="n_samples", value=n_samples)
    if period_s is not None and not (isinstance(period_s, int | float) and period_s > 0):
        raise SceneError("must be a positive number of seconds", field="period_s", value=period_s)
    path = _listener_path(room, listener)
    signals = [_check_source(room, i, source) for i, source in enumerate(sources)]
    paths = [_source_path(room, i, source) for i, source in enumerate(sources)]
    n = int(n_samples)
    blocks = math.ceil(n / block_size)
    inputs = np.zeros((len(sources), blocks * block_size), dtype=np.float32)
    for i, (source, signal) in enumerate(zip(sources, signals, strict=True)):
        x = signal[:n] * np.float32(10.0 ** (source.gain_db / 20.0))
        inputs[i, : x.size] = x

    def when(t: float) -> float:
        return t % period_s if period_s is not None else t

    renderer = StreamRenderer(
        room,
        sources=len(sources),
        block_size=block_size,
        hrtf=hrtf,
        sample_rate=sample_rate,
        brir_length_s=_response_length_s(room, path, paths),
        seed=seed,
        listener=path.at(0.0),
        positions=[p.at(0.0).position for p in paths],
        reflection_updates_per_second=REFLECTION_UPDATES_PER_SOURCE_S * max(len(sources), 1),
    )
    moving = isinstance(listener, Trajectory) or any(s.trajectory is not None for s in sources)
    out = np.zeros((2, blocks * block_size), dtype=np.float32)
    for k in range(blocks):
        if moving:
            # Each block crossfades towards the poses at its end.
            t = when((k + 1) * block_size / sample_rate)
            renderer.set_listener(path.at(t))
            renderer.set_source_positions(
                np.array([p.at(t).position for p in paths]).reshape(len(paths), 3)
            )
        out[:, k * block_size : (k + 1) * block_size] = renderer.process(
            inputs[:, k * block_size : (k + 1) * block_size]
        )
    return out[:, :n]


def _listener_path(room: Room, listener: Pose | Trajectory) -> Trajectory:
    if isinstance(listener, Pose):
        _check_point(room, listener.position, field="listener.position")
        return Trajectory(times_s=(0.0,), poses=(listener,))
    if not isinstance(listener, Trajectory):
        raise SceneError(
            "must be a scene.model.Pose or Trajectory",
            field="listener",
            value=type(listener).__name__,
        )
    for k, pose in enumerate(listener.poses):
        _check_point(room, pose.position, field=f"listener.trajectory[{k}].position")
    return listener


def _source_path(room: Room, i: int, source: PlacedSource) -> Trajectory:
    if source.trajectory is None:
        return Trajectory(times_s=(0.0,), poses=(Pose(position=source.position),))
    if not isinstance(source.trajectory, Trajectory):
        raise SceneError(
            "must be a scene.model.Trajectory or None",
            field=f"sources[{i}] ({source.name!r}).trajectory",
            value=type(source.trajectory).__name__,
        )
    for k, pose in enumerate(source.trajectory.poses):
        _check_point(
            room, pose.position, field=f"sources[{i}] ({source.name!r}).trajectory[{k}].position"
        )
    return source.trajectory


def _response_length_s(room: Room, listener: Trajectory, sources: list[Trajectory]) -> float:
    # Keep the whole response: in a room, the late tail until it has decayed (as the
    # offline render does); outdoors, the farthest the sound travels. Relative motion is
    # linear between the times named, so the largest distance falls on one of them.
    acoustics = room_acoustics(room)
    if acoustics is not None:
        return min(20.0, max(acoustics.rt60_eyring_s) * 70.0 / 60.0 + 0.2)
    times = set(listener.times_s)
    for path in sources:
        times |= set(path.times_s)
    far = max(
        (
            math.dist(path.at(t).position, listener.at(t).position)
            for path in sources
            for t in times
        ),
        default=0.0,
    )
    return min(20.0, far / SPEED_OF_SOUND + 0.05)
