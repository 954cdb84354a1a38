"""Render what a listener hears: sources through the room and the HRTF, binaurally.

Cost: each source is convolved with its own short early response (direct sound and image
sources up to the transition time, tens of milliseconds); the late tail, which is the
long part (seconds), is convolved once with the gain-weighted sum of all sources. Adding a
source therefore costs one short convolution, not a long one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scene.acoustics import SPEED_OF_SOUND, room_acoustics
from scene.errors import SceneError
from scene.model import Pose, Room
from spatial.brir import early_brir
from spatial.fftconv import convolve
from spatial.hrtf import Hrtf, default_hrtf
from spatial.image_sources import ImageSources, image_sources
from spatial.late import FADE_S, late_tail, transition_time_s
from spatial.mesh_room import MeshRoomModel, mesh_room_model
from spatial.types import SAMPLE_RATE, PlacedSource

__all__ = ["EARLY_MIN_S", "binaural_room_impulse_response", "render_scene", "source_images"]

#: Image sources are kept at least this long after a source's direct sound (seconds), so
#: that a far source in a hall keeps its direct sound and first reflections before the
#: shared tail takes over.
EARLY_MIN_S = 0.02


@dataclass(frozen=True)
class _SourcePlan:
    images: ImageSources
    cut_s: float
    tail_shift: int
    tail_gain: float


@dataclass(frozen=True)
class _RoomPlan:
    """What every source in one room shares: the transition time and the late tail."""

    transition_s: float
    tail: np.ndarray | None
    mid_rt60_s: float
    # A mesh room (with its file): image sources from the mesh instead of its box.
    mesh: MeshRoomModel | None = None

    def _images(
        self, room: Room, listener: Pose, position: np.ndarray, max_delay_s: float
    ) -> ImageSources:
        if self.mesh is not None:
            return self.mesh.images(position, listener=listener.position, max_delay_s=max_delay_s)
        return image_sources(room, position, listener.position, max_delay_s=max_delay_s)

    def source(self, room: Room, listener: Pose, position: np.ndarray, fs: int) -> _SourcePlan:
        direct_s = float(np.linalg.norm(position - np.asarray(listener.position))) / SPEED_OF_SOUND
        if not math.isfinite(self.transition_s):
            images = self._images(room, listener, position, math.inf)
            return _SourcePlan(images=images, cut_s=math.inf, tail_shift=0, tail_gain=0.0)
        # A source whose direct sound comes after the transition time feeds the shared tail
        # late by the difference (whole samples), so the tail never precedes its direct
        # sound; the tail is lowered by the decay over that delay (mid-band RT60).
        shift = max(0, math.ceil((direct_s + EARLY_MIN_S - self.transition_s) * fs))
        cut_s = self.transition_s + shift / fs
        images = self._images(room, listener, position, cut_s + FADE_S / 2)
        gain = math.exp(-6.91 * (shift / fs) / self.mid_rt60_s)
        return _SourcePlan(images=images, cut_s=cut_s, tail_shift=shift, tail_gain=gain)


def _room_plan(
    room: Room, hrtf: Hrtf, fs: int, seed: int, listener: Pose | None = None
) -> _RoomPlan:
    acoustics = room_acoustics(room)
    if acoustics is None:
        return _RoomPlan(transition_s=math.inf, tail=None, mid_rt60_s=0.0)
    # A mesh room's tail is ray-traced at the listener (the box's centre when none is given).
    where = listener.position if listener is not None else _box_centre(room)
    mesh = mesh_room_model(room, where, hrtf=hrtf, sample_rate=fs, seed=seed)
    if mesh is not None:
        return _RoomPlan(mesh.transition_s, mesh.tail, mesh.mid_rt60_s, mesh=mesh)
    transition = transition_time_s(room)
    tail = late_tail(room, hrtf=hrtf, start_s=transition, sample_rate=fs, seed=seed)
    return _RoomPlan(transition_s=transition, tail=tail, mid_rt60_s=acoustics.rt60_mid_s)


def source_images(room: Room, listener: Pose, position: tuple[float, float, float]) -> ImageSources:
    """The image sources that :func:`binaural_room_impulse_response` uses, for inspection.

    Parameters
    ----------
    room, listener, position
        As for :func:`binaural_room_impulse_response`.

    Returns
    -------
    ImageSources
        Sorted by delay; in enclosed rooms only those before the transition time (plus the
        crossfade).
    """
    _check_room(room)
    _check_point(room, position, field="position")
    _check_point(room, listener.position, field="listener.position")
    acoustics = room_acoustics(room)
    transition = math.inf if acoustics is None else transition_time_s(room)
    mesh = mesh_room_model(
        room, listener.position, hrtf=default_hrtf(), sample_rate=SAMPLE_RATE, seed=0
    )
    plan = _RoomPlan(transition_s=transition, tail=None, mid_rt60_s=1.0, mesh=mesh)
    return plan.source(room, listener, np.asarray(position, float), SAMPLE_RATE).images


def binaural_room_impulse_response(
    room: Room,
    listener: Pose,
    position: tuple[float, float, float],
    *,
    hrtf: Hrtf | None = None,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> np.ndarray:
    """The binaural room impulse response from one point to one listener.

    Parameters
    ----------
    room
        The acoustic space (:class:`scene.model.Room`).
    listener
        Position (m), yaw and pitch (degrees) of the listener's head.
    position
        The source, world coordinates, metres.
    hrtf
        None uses :func:`spatial.hrtf.default_hrtf`.
    sample_rate
        Must be 48000 Hz.
    seed
        Seeds the late tail's noise.

    Returns
    -------
    numpy.ndarray
        float32, shape (2, L), row 0 the left ear; time 0 is emission, so the direct sound
        sits at distance / c. Convolving a signal with it gives the same as
        :func:`render_scene` with that one source (same seed).
    """
    _check_rate(sample_rate)
    _check_room(room)
    hrtf = _check_hrtf(hrtf)
    _check_point(room, listener.position, field="listener.position")
    _check_point(room, position, field="position")
    plan = _room_plan(room, hrtf, sample_rate, seed, listener)
    src = plan.source(room, listener, np.asarray(position, dtype=np.float64), sample_rate)
    early = early_brir(
        src.images, listener, hrtf, sample_rate=sample_rate, cut_s=src.cut_s, fade_s=FADE_S
    )
    if plan.tail is None:
        return early.astype(np.float32)
    length = max(early.shape[1], plan.tail.shape[1] + src.tail_shift)
    out = np.zeros((2, length))
    out[:, : early.shape[1]] += early
    out[:, src.tail_shift : src.tail_shift + plan.tail.shape[1]] += src.tail_gain * plan.tail
    return out.astype(np.float32)


def render_scene(
    room: Room,
    listener: Pose,
    sources: Sequence[PlacedSource],
    *,
    n_samples: int,
    hrtf: Hrtf | None = None,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> np.ndarray:
    """Render the binaural signal a listener hears from mono sources in a room (not mastered).

    Parameters
    ----------
    room
        The acoustic space. ``shoebox``/``mesh``: image sources up to the transition time,
        then a shared late tail; ``outdoor``: direct sound and a ground reflection;
        ``free_field``: direct sound only.
    listener
        Position (m), yaw and pitch (degrees).
    sources
        Mono signals at world positions; each starts at t = 0, is scaled by its ``gain_db``
        and is cut at ``n_samples``.
    n_samples
        Length of the output, samples (> 0). Sound still ringing at the end is cut.
    hrtf
        None uses :func:`spatial.hrtf.default_hrtf`.
    sample_rate
        Must be 48000 Hz.
    seed
        Seeds the late tail's noise: the same seed gives the same output.

    Returns
    -------
    numpy.ndarray
        float32, shape (2, n_samples), row 0 the left ear. Levels follow the 1/r law (a
        source with a full-scale signal 1 m away, straight ahead); nothing is normalised.

    Notes
    -----
    Each source costs one FFT convolution with its early response (direct sound and image
    sources up to the transition time, 40-150 ms); the late tail (seconds long) is
    convolved once with the gain-weighted sum of all sources. The cost of one more source
    is therefore small; the tail's cost is paid once per render.
    """
    _check_rate(sample_rate)
    _check_room(room)
    hrtf = _check_hrtf(hrtf)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise SceneError("must be a positive integer", field="n_samples", value=n_samples)
    n_samples = int(n_samples)
    if n_samples <= 0:
        raise SceneError("must be a positive integer", field="n_samples", value=n_samples)
    _check_point(room, listener.position, field="listener.position")
    signals = [_check_source(room, i, source) for i, source in enumerate(sources)]

    out = np.zeros((2, n_samples), dtype=np.float32)
    if not signals:
        return out
    plan = _room_plan(room, hrtf, sample_rate, seed, listener)
    tail_input = np.zeros(n_samples, dtype=np.float32)
    for source, signal in zip(sources, signals, strict=True):
        x = signal[:n_samples] * np.float32(10.0 ** (source.gain_db / 20.0))
        src = plan.source(room, listener, np.asarray(source.position, np.float64), sample_rate)
        early = early_brir(
            src.images, listener, hrtf, sample_rate=sample_rate, cut_s=src.cut_s, fade_s=FADE_S
        )
        _add_convolved(out, x, early.astype(np.float32))
        if plan.tail is not None and src.tail_shift < n_samples:
            stop = min(x.size, n_samples - src.tail_shift)
            tail_input[src.tail_shift : src.tail_shift + stop] += (
                np.float32(src.tail_gain) * x[:stop]
            )
    if plan.tail is not None:
        _add_convolved(out, tail_input, plan.tail.astype(np.float32))
    return out


def _add_convolved(out: np.ndarray, x: np.ndarray, h: np.ndarray) -> None:
    # Leading zeros of h (the travel time, the silence before the tail) are skipped by
    # convolving from the first nonzero tap and adding at that offset.
    nonzero = np.flatnonzero(np.any(h != 0.0, axis=0))
    if nonzero.size == 0 or x.size == 0:
        return
    first = int(nonzero[0])
    n = out.shape[1]
    if first >= n:
        return
    length = min(x.size, n - first)
    y = convolve(x[:length], h[:, first:n])
    stop = min(y.shape[1], n - first)
    out[:, first : first + stop] += y[:, :stop]


def _check_rate(sample_rate: int) -> None:
    if sample_rate != SAMPLE_RATE:
        raise SceneError(f"must be {SAMPLE_RATE} Hz", field="sample_rate", value=sample_rate)


def _check_room(room: Room) -> None:
    if not isinstance(room, Room):
        raise SceneError("must be a scene.model.Room", field="room", value=type(room).__name__)
    if room.is_enclosed:
        size = room.size
        if size is None or len(size) != 3 or not all(math.isfinite(s) and s > 0 for s in size):
            raise SceneError(
                "must be three positive lengths in metres", field="room.size", value=size
            )


def _check_hrtf(hrtf: Hrtf | None) -> Hrtf:
    if hrtf is None:
        return default_hrtf()
    if not isinstance(hrtf, Hrtf):
        raise SceneError("must be a spatial.Hrtf or None", field="hrtf", value=type(hrtf).__name__)
    return hrtf


def _box_centre(room: Room) -> tuple[float, float, float]:
    low = np.asarray(room.origin, dtype=np.float64)
    return tuple(float(v) for v in low + 0.5 * np.asarray(room.size, dtype=np.float64))


def _box_text(origin: np.ndarray, size: np.ndarray) -> str:
    return " x ".join(f"[{o:g}, {o + s:g}]" for o, s in zip(origin, size, strict=True))


def _check_point(room: Room, point: object, *, field: str) -> np.ndarray:
    try:
        p = np.asarray(point, dtype=np.float64)
    except (TypeError, ValueError):
        p = np.full(1, np.nan)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise SceneError(
            "must be three finite coordinates (x, y, z) in metres", field=field, value=point
        )
    if room.is_enclosed:
        low = np.asarray(room.origin, dtype=np.float64)
        size = np.asarray(room.size, dtype=np.float64)
        high = low + size
        if np.any(p < low) or np.any(p > high):
            raise SceneError(
                f"must lie inside the room box {_box_text(low, size)} m",
                field=field,
                value=tuple(float(v) for v in p),
            )
    elif room.kind == "outdoor" and p[2] < 0.0:
        raise SceneError(
            "must be above the ground (z >= 0 m)", field=field, value=tuple(float(v) for v in p)
        )
    return p


def _check_source(room: Room, i: int, source: PlacedSource) -> np.ndarray:
    if not isinstance(source, PlacedSource):
        raise SceneError(
            "must be a spatial.PlacedSource", field=f"sources[{i}]", value=type(source).__name__
        )
    label = f"sources[{i}] ({source.name!r})"
    signal = source.signal
    if not isinstance(signal, np.ndarray) or signal.ndim != 1:
        shape = getattr(signal, "shape", type(signal).__name__)
        raise SceneError(
            "must be a 1-D numpy array (mono samples)", field=f"{label}.signal", value=shape
        )
    if not np.issubdtype(signal.dtype, np.floating):
        raise SceneError(
            "must be floating point (float32 at 48 kHz)",
            field=f"{label}.signal",
            value=str(signal.dtype),
        )
    if not np.all(np.isfinite(signal)):
        bad = int(np.flatnonzero(~np.isfinite(signal))[0])
        raise SceneError(
            f"must be finite; sample {bad} is {signal[bad]}",
            field=f"{label}.signal",
            value="NaN/Inf",
        )
    if not math.isfinite(source.gain_db):
        raise SceneError(
            "must be a finite number of dB", field=f"{label}.gain_db", value=source.gain_db
        )
    _check_point(room, source.position, field=f"{label}.position")
    return signal.astype(np.float32, copy=False)
