"""A mesh room as heard: image sources from its planes and a late tail from ray tracing.

The renderer asks a :class:`MeshRoomModel` for two things:

- the early part of each source: :func:`spatial.mesh_images.mesh_image_sources` on the
  candidate paths of the listener's position (found once, shared by every source), up to
  the transition time;
- one late tail shared by all sources: rays are traced from the listener's position to a
  receiver sphere there (by reciprocity, the room's late response at that place), and the
  tail's per-band noise follows the traced Schroeder curve from the transition time on.

The Schroeder curve is followed piecewise, every 5 dB (:func:`decay_envelope`), rather
than summarised by one fitted reverberation time: a hall whose absorption sits in its
ceiling, or a courtyard open to the sky, decays in more than one slope, and a single fit
of the late, sparsely sampled part would move the whole tail with the noise of a few
long-lived rays. The tail starts at the traced energy, which continues the image sources'
level (both count a direct sound 1 m away as energy 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from scene.acoustics import SPEED_OF_SOUND, room_acoustics
from scene.model import BANDS_HZ, Room
from spatial.acoustic_mesh import AcousticMesh, room_mesh
from spatial.bands import N_BANDS, band_masks, fft_size
from spatial.hrtf import Hrtf
from spatial.image_sources import ImageSources
from spatial.late import FADE_S, diffuse_field_band_power, interaural_coherence, transition_time_s
from spatial.mesh_images import ImagePaths, discover_paths, mesh_image_sources
from spatial.raytrace import EnergyDecay, trace_energy_decay

__all__ = [
    "MIN_TAIL_RAYS",
    "TAIL_BOUNCES",
    "TAIL_RAYS",
    "MeshRoomModel",
    "decay_envelope",
    "mesh_room_model",
    "traced_late_tail",
]

#: Most rays traced for a mesh room's late tail (dry rooms, whose rays die young) ...
TAIL_RAYS = 8192
#: ... and fewest (live rooms, each of whose rays reflects hundreds of times).
MIN_TAIL_RAYS = 2048
#: Reflections traced for a tail: rays are ``TAIL_BOUNCES`` over the reflections one ray
#: makes in 70 dB of Eyring decay (``c T / (4 V / S)``), clamped to the two bounds above.
#: About a second on two cores for a mesh of a few thousand triangles.
TAIL_BOUNCES = 1_500_000

# The traced Schroeder curve is followed in steps of this many dB ...
_STEP_DB = 5.0
# ... down to this depth, or to 10 dB above where the trace ran out; the last slope
# continues below.
_DEPTH_DB = 60.0
# The tail ends where it has decayed this far (as late.py's), or after this long.
_TAIL_DEPTH_DB = 70.0
_MAX_TAIL_S = 20.0
# Rays fly at most this many times the slowest Eyring decay (more for mesh rooms whose
# decay is slower than the statistical theory's: absorbing ceilings, flutter).
_TRACE_TIME_FACTOR = 2.5


@dataclass(frozen=True, eq=False)
class MeshRoomModel:
    """What all sources in a mesh room heard at one listener position share.

    Attributes
    ----------
    mesh
        The room's triangles, materials and BVH.
    listener
        float64, shape (3,), metres: where the late tail is traced.
    transition_s
        Time after emission at which the late tail takes over, s.
    hrtf
        Sets the tail's level per ear and band (diffuse-field average).
    sample_rate
        Hz.
    seed
        Seeds the rays and the tail's noise.
    rays
        Rays traced for the tail.
    eyring_rt60_s
        Per-band Eyring RT60 of the room (for the trace's time limit and as a fallback).
    """

    mesh: AcousticMesh
    listener: np.ndarray
    transition_s: float
    hrtf: Hrtf
    sample_rate: int
    seed: int
    rays: int
    eyring_rt60_s: tuple[float, ...]

    @cached_property
    def decay(self) -> EnergyDecay:
        """The traced energy decay at the listener (from a source at the listener)."""
        max_time = min(_MAX_TAIL_S, _TRACE_TIME_FACTOR * max(self.eyring_rt60_s) + 0.1)
        return _traced(self.mesh, tuple(self.listener), self.rays, self.seed, max_time)

    @cached_property
    def decay_times_s(self) -> np.ndarray:
        """Per-band T30 of the traced decay after the transition time, s (Eyring where the
        trace is too short to tell), shape (len(BANDS_HZ),)."""
        traced = self.decay.decay_times_s(start_s=self.transition_s)
        return np.where(np.isfinite(traced), traced, np.asarray(self.eyring_rt60_s))

    @property
    def mid_rt60_s(self) -> float:
        """Traced T30 averaged over the 500 Hz and 1 kHz bands, s."""
        return float(np.mean(self.decay_times_s[2:4]))

    @cached_property
    def tail(self) -> np.ndarray:
        """The shared binaural late tail from emission, float64, shape (2, L)."""
        return traced_late_tail(
            self.decay,
            hrtf=self.hrtf,
            start_s=self.transition_s,
            sample_rate=self.sample_rate,
            seed=self.seed,
        )

    def images(
        self,
        source: np.ndarray,
        *,
        listener: tuple[float, float, float] | np.ndarray,
        max_delay_s: float,
    ) -> ImageSources:
        """Direct sound and image sources of ``source`` heard at ``listener`` (any position,
        not only the tail's) up to ``max_delay_s``, sorted by delay."""
        where = tuple(float(v) for v in np.asarray(listener, dtype=np.float64))
        paths = _paths(self.mesh, where, round(float(max_delay_s), 6))
        return mesh_image_sources(self.mesh, paths, source)


def mesh_room_model(
    room: Room,
    listener: tuple[float, float, float] | np.ndarray,
    *,
    hrtf: Hrtf,
    sample_rate: int,
    seed: int,
    rays: int | None = None,
) -> MeshRoomModel | None:
    """The model of a ``mesh`` room with a mesh file, heard at ``listener``.

    ``rays`` traced for the tail; None for the reflection budget (:data:`TAIL_BOUNCES`).

    Returns
    -------
    MeshRoomModel or None
        None for every other room (they render as boxes, outdoors or in free field).

    Raises
    ------
    SceneError
        When the mesh file cannot be read or analysed.
    """
    mesh = room_mesh(room)
    if mesh is None:
        return None
    acoustics = room_acoustics(room)
    if acoustics is None:  # a mesh room always has acoustics (its box's at worst)
        raise ValueError(f"room.kind={room.kind!r} has no acoustics")
    if rays is None:
        free_path = 4.0 * acoustics.volume_m3 / float(mesh.face_areas.sum())
        per_ray = SPEED_OF_SOUND * max(acoustics.rt60_eyring_s) * 70.0 / 60.0 / free_path
        rays = int(np.clip(TAIL_BOUNCES / max(per_ray, 1.0), MIN_TAIL_RAYS, TAIL_RAYS))
    return MeshRoomModel(
        mesh=mesh,
        listener=np.asarray(listener, dtype=np.float64),
        transition_s=transition_time_s(room),
        hrtf=hrtf,
        sample_rate=sample_rate,
        seed=seed,
        rays=rays,
        eyring_rt60_s=acoustics.rt60_eyring_s,
    )


@lru_cache(maxsize=8)
def _traced(
    mesh: AcousticMesh, listener: tuple[float, ...], rays: int, seed: int, max_time_s: float
) -> EnergyDecay:
    return trace_energy_decay(mesh, listener, listener, rays=rays, seed=seed, max_time_s=max_time_s)


@lru_cache(maxsize=16)
def _paths(mesh: AcousticMesh, listener: tuple[float, ...], max_delay_s: float) -> ImagePaths:
    return discover_paths(mesh, np.asarray(listener), max_delay_s=max_delay_s)


def decay_envelope(
    decay: EnergyDecay, *, start_s: float, sample_rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """Power per sample of the late response per band, following the traced Schroeder curve.

    From ``start_s`` the curve of each band is cut where it crosses -5, -10, ... dB (down to
    60 dB, or 10 dB above where the trace ran out); between two crossings the energy decays
    exponentially at the rate that joins them, and after the last it keeps the last rate.
    The power is that rate times the remaining energy, so that the envelope carries exactly
    the traced energy after each crossing.

    Parameters
    ----------
    decay
        The traced energy-time curve.
    start_s
        Where the envelope starts (the transition time), s.
    sample_rate
        Hz.

    Returns
    -------
    power
        float64, shape (len(BANDS_HZ), L): energy per sample at ``start_s + n / fs``; L
        reaches the time at which the slowest band has decayed by 70 dB (at most 20 s).
    decay_rates
        float64, shape (len(BANDS_HZ),): the last piece's energy decay rate per band,
        1/s (``6 ln 10 / T60``).
    """
    curves = decay.schroeder_db(start_s=start_s)
    first = math.floor(start_s / decay.bin_s)
    remaining = decay.histogram[:, first:].sum(axis=1)
    knots_t: list[np.ndarray] = []
    knots_db: list[np.ndarray] = []
    end_s = 0.1
    for band in range(N_BANDS):
        t_k, db_k = _knots(curves[band], decay.bin_s)
        knots_t.append(t_k)
        knots_db.append(db_k)
        if len(t_k) >= 2 and remaining[band] > 0:
            rate_db = (db_k[-2] - db_k[-1]) / (t_k[-1] - t_k[-2])
            end_s = max(end_s, t_k[-1] + (_TAIL_DEPTH_DB + db_k[-1]) / rate_db)
    end_s = min(end_s, _MAX_TAIL_S - start_s)
    length = math.ceil(end_s * sample_rate)
    t = np.arange(length) / sample_rate
    power = np.zeros((N_BANDS, length))
    rates = np.zeros(N_BANDS)
    nepers = math.log(10.0) / 10.0
    for band in range(N_BANDS):
        t_k, db_k = knots_t[band], knots_db[band]
        if len(t_k) < 2 or remaining[band] <= 0:
            continue
        slopes = np.diff(db_k) / np.diff(t_k)  # dB/s, negative
        piece = np.clip(np.searchsorted(t_k, t, side="right") - 1, 0, len(slopes) - 1)
        level_db = db_k[piece] + slopes[piece] * (t - t_k[piece])
        rate = -slopes[piece] * nepers  # energy decay rate, 1/s
        power[band] = remaining[band] * 10.0 ** (level_db / 10.0) * rate / sample_rate
        rates[band] = rate[-1]
    return power, rates


def _knots(curve_db: np.ndarray, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s after the curve's start) where a Schroeder curve crosses 0, -5, -10, ... dB."""
    finite = np.isfinite(curve_db)
    if not finite.any():
        return np.zeros(0), np.zeros(0)
    t = np.arange(curve_db.size) * bin_s
    lowest = float(curve_db[finite].min())
    floor = max(-_DEPTH_DB, lowest + 10.0)
    times, levels = [0.0], [0.0]
    level = -_STEP_DB
    while level >= floor:
        below = np.flatnonzero(curve_db <= level)
        k = int(below[0])
        # Linear interpolation in dB between the bins around the crossing.
        a, b = curve_db[k - 1], curve_db[k]
        crossing = t[k - 1] + bin_s * (a - level) / (a - b) if b < a else t[k]
        if crossing > times[-1]:
            times.append(float(crossing))
            levels.append(level)
        level -= _STEP_DB
    if len(times) < 2:
        # Less than 5 dB of usable decay: one piece down to where the curve ends.
        last = int(np.flatnonzero(finite)[-1])
        if last == 0 or curve_db[last] >= 0.0:
            return np.zeros(0), np.zeros(0)
        times.append(float(t[last]))
        levels.append(float(curve_db[last]))
    return np.asarray(times), np.asarray(levels)


def traced_late_tail(
    decay: EnergyDecay, *, hrtf: Hrtf, start_s: float, sample_rate: int, seed: int
) -> np.ndarray:
    """The binaural late tail whose per-band power follows a traced decay.

    As :func:`spatial.late.late_tail` (noise per band, diffuse-field HRTF power per ear, an
    interaural coherence that falls with frequency, a ``sin`` fade-in around ``start_s``),
    with the per-band envelope of :func:`decay_envelope` in place of one exponential.

    Returns
    -------
    numpy.ndarray
        float64, shape (2, L), row 0 the left ear, time 0 at emission.
    """
    power, _ = decay_envelope(decay, start_s=start_s, sample_rate=sample_rate)
    length = math.ceil(start_s * sample_rate) + power.shape[1]
    t = np.arange(length) / sample_rate
    # The envelope at times before start_s (in the fade-in) holds its first value.
    index = np.clip(np.round((t - start_s) * sample_rate).astype(np.int64), 0, power.shape[1] - 1)
    fade = np.clip((t - (start_s - FADE_S / 2)) / FADE_S, 0.0, 1.0)
    onset = np.sin(0.5 * np.pi * fade)
    onset *= np.clip((t[-1] - t) / 0.005, 0.0, 1.0)  # no click where it is cut

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((2, length))
    ear_power = diffuse_field_band_power(hrtf, sample_rate)
    coherence = interaural_coherence(np.asarray(BANDS_HZ))
    n_fft = fft_size(length)
    masks = band_masks(n_fft, sample_rate)
    spectrum = np.zeros((2, n_fft // 2 + 1), dtype=np.complex128)
    for k in range(N_BANDS):
        if not np.any(power[k] > 0.0):
            continue
        envelope = onset * np.sqrt(power[k, index])
        # L = a n1 + b n2, R = a n1 - b n2: unit power per ear, correlation a^2 - b^2.
        a = np.sqrt(0.5 * (1.0 + coherence[k]))
        b = np.sqrt(0.5 * (1.0 - coherence[k]))
        pair = np.stack([a * noise[0] + b * noise[1], a * noise[0] - b * noise[1]])
        pair *= envelope[None, :] * np.sqrt(ear_power[:, k])[:, None]
        spectrum += np.fft.rfft(pair, n=n_fft, axis=-1) * masks[k][None, :]
    return np.fft.irfft(spectrum, n=n_fft, axis=-1)[:, :length]


def heard_rt60_s(
    room: Room, listener: tuple[float, float, float], *, seed: int
) -> tuple[float, ...] | None:
    """Per-band reverberation time a listener hears in a mesh room, from its traced decay.

    The renderer's late tail follows this decay, so it is the figure to tell the composer.
    The trace is cached: rendering the same room, listener and seed afterwards reuses it.

    Parameters
    ----------
    room
        Any room; only a ``mesh`` room with a mesh file has a traced decay.
    listener
        (x, y, z), metres: where the decay is traced.
    seed
        The render's seed (the rays are seeded).

    Returns
    -------
    tuple of float or None
        T30 per band of ``scene.BANDS_HZ``, seconds; None for every other room.
    """
    from spatial.hrtf import default_hrtf
    from spatial.types import SAMPLE_RATE

    model = mesh_room_model(room, listener, hrtf=default_hrtf(), sample_rate=SAMPLE_RATE, seed=seed)
    if model is None:
        return None
    return tuple(round(float(t), 3) for t in model.decay_times_s)
