"""Binaural room impulse response of the early part: image sources through the HRTF.

Every arrival (the direct sound and each image source) is turned into the listener's head
frame and given the interpolated HRTF of its direction: the minimum-phase responses of the
three measured directions around it, mixed by barycentric weights, each ear delayed by the
travel time plus that ear's interpolated delay (fractional, windowed sinc).

Reflections carry per-octave-band gains (walls, air, 1/r): their responses are summed per
band (a numba loop) and filtered once at the end with the complementary band split of
:mod:`spatial.bands`. The direct sound's gains differ by band only through air
absorption; it is filtered with the short FIR form of the same split instead, so that it
can be recomputed cheaply whenever the source or the head moves (the streaming renderer
does so every block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from scene.model import Pose
from spatial.bands import N_BANDS, band_firs, band_sum
from spatial.fractional import FRACTIONAL_DELAY_HALF_TAPS, fractional_delay_kernel
from spatial.hrtf import Hrtf
from spatial.image_sources import ImageSources
from spatial.types import SAMPLE_RATE

__all__ = [
    "AIR_FIR_HALF_TAPS",
    "DIRECT_LOOKAHEAD_SAMPLES",
    "FRACTIONAL_DELAY_HALF_TAPS",
    "DirectSound",
    "add_at",
    "direct_sound",
    "early_brir",
    "head_frame",
    "reflections_brir",
    "split_travel",
]

#: Least part of a direct sound's travel time (samples) kept inside its HRTF filter; see
#: :func:`split_travel`.
DIRECT_LOOKAHEAD_SAMPLES = 24

#: Half length of the direct sound's band filter (it has 2 * AIR_FIR_HALF_TAPS + 1 taps):
#: enough to follow air absorption, which changes only above 1 kHz.
AIR_FIR_HALF_TAPS = 16


def head_frame(listener: Pose, points: np.ndarray) -> np.ndarray:
    """Vectors from the listener to ``points`` in the listener's head frame.

    Parameters
    ----------
    listener
        Position (m), yaw (degrees, counter-clockwise from +x) and pitch (degrees, up).
    points
        Shape (N, 3), world coordinates, metres.

    Returns
    -------
    numpy.ndarray
        Shape (N, 3): x ahead of the nose, y out of the left ear, z up the head, metres.
    """
    v = np.asarray(points, dtype=np.float64) - np.asarray(listener.position, dtype=np.float64)
    yaw = np.radians(listener.yaw_deg)
    pitch = np.radians(listener.pitch_deg)
    # Undo the yaw (rotate by -yaw about z), then the pitch (about the head's y axis): the
    # components along the head's forward, left and up axes.
    x = np.cos(yaw) * v[:, 0] + np.sin(yaw) * v[:, 1]
    y = -np.sin(yaw) * v[:, 0] + np.cos(yaw) * v[:, 1]
    z = v[:, 2]
    forward = np.cos(pitch) * x + np.sin(pitch) * z
    up = -np.sin(pitch) * x + np.cos(pitch) * z
    return np.stack([forward, y, up], axis=1)


@dataclass(frozen=True)
class DirectSound:
    """The direct sound's two-ear response, as a short block placed at ``start``.

    Attributes
    ----------
    start
        Sample (after emission) of column 0 of ``response``; may be negative for a source
        almost at the ear (the caller drops what falls before 0).
    response
        float64, shape (2, n), row 0 the left ear.
    """

    start: int
    response: np.ndarray


def direct_sound(
    hrtf: Hrtf, vector: np.ndarray, delay_samples: float, band_gains: np.ndarray
) -> DirectSound:
    """The direct sound of one source: HRTF of its direction, travel delay, gains per band.

    Parameters
    ----------
    hrtf
        At 48 kHz.
    vector
        Shape (3,): the source in the listener's head frame (any non-zero length).
    delay_samples
        Travel time, samples (fractional).
    band_gains
        Shape (N_BANDS,): amplitude gain per octave band (1/r and air absorption).

    Returns
    -------
    DirectSound
    """
    indices, weights = hrtf.interpolation_weights(np.asarray(vector, dtype=np.float64)[None, :])
    return _direct_from_weights(hrtf, indices[0], weights[0], delay_samples, band_gains)


def split_travel(travel_samples: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Split a direct sound's travel time (samples) into a line delay and a remainder.

    The line delay is what a delay line applies to the source's signal (the streaming
    renderer glides it sample by sample, so a moving source's delay never jumps); the
    remainder, at least ``DIRECT_LOOKAHEAD_SAMPLES``, stays in the short HRTF filter so
    that the filter's kernels are causal. Offline and streaming renders both use this
    split, so their direct sounds are the same.

    Returns
    -------
    line, remainder
        float64 arrays of the input's shape; ``line + remainder == travel_samples``.
    """
    travel = np.asarray(travel_samples, dtype=np.float64)
    line = np.maximum(travel - DIRECT_LOOKAHEAD_SAMPLES, FRACTIONAL_DELAY_HALF_TAPS - 1.0)
    return line, travel - line


def _direct_from_weights(
    hrtf: Hrtf,
    indices: np.ndarray,
    weights: np.ndarray,
    delay_samples: float,
    band_gains: np.ndarray,
) -> DirectSound:
    half, air_half = FRACTIONAL_DELAY_HALF_TAPS, AIR_FIR_HALF_TAPS
    line, remainder = (float(v) for v in split_travel(delay_samples))
    delays = remainder + weights @ hrtf.delays_samples[indices]
    start = int(np.floor(delays.min())) - half + 1 - air_half
    length = int(np.floor(delays.max())) - start + 1 + hrtf.taps + half + air_half
    filtered = np.zeros((2, length))
    air = np.asarray(band_gains, dtype=np.float64) @ band_firs(air_half, SAMPLE_RATE)
    _direct(filtered, start, hrtf.minimum_phase, indices, weights, delays, air, half)
    if start < 0:
        # A filter is causal: what would precede the line delay's input is dropped.
        filtered = filtered[:, -start:]
        start = 0
    out = np.zeros((2, filtered.shape[1] + 2 * half - 1))
    _delay_response(filtered, line - np.floor(line), half, out)
    return DirectSound(start=start + int(np.floor(line)) - half + 1, response=out)


def reflections_brir(
    images: ImageSources,
    listener: Pose,
    hrtf: Hrtf,
    *,
    sample_rate: int,
    cut_s: float = np.inf,
    fade_s: float = 0.0,
) -> np.ndarray:
    """Sum the reflections (image sources of order >= 1), each through its HRTF.

    Parameters
    ----------
    images
        From :func:`spatial.image_sources.image_sources`; the direct sound is left out.
    listener
        The listener's pose; sets the direction of each image in the head frame.
    hrtf
        HRIRs at ``sample_rate``.
    sample_rate
        Hz.
    cut_s, fade_s
        Images are faded out with ``cos`` over ``[cut_s - fade_s / 2, cut_s + fade_s / 2]``
        (seconds after emission), where the late tail fades in; ``inf`` keeps them all.

    Returns
    -------
    numpy.ndarray
        float64, shape (2, L), row 0 the left ear, time 0 at emission; L covers the last
        kept image's delay plus the HRIR, its delay and the fractional-delay kernel. Shape
        (2, 0) when no reflection is kept.
    """
    delays = images.delays_s
    weight = np.ones(delays.size)
    if np.isfinite(cut_s) and fade_s > 0.0:
        u = np.clip((delays - (cut_s - fade_s / 2.0)) / fade_s, 0.0, 1.0)
        weight = np.cos(0.5 * np.pi * u)
    elif np.isfinite(cut_s):
        weight = (delays < cut_s).astype(np.float64)
    keep = (weight > 0.0) & (images.orders > 0)
    if not np.any(keep):
        return np.zeros((2, 0))
    gains = images.gains[keep] * weight[keep][:, None]
    delay_samples = delays[keep] * sample_rate
    indices, weights = hrtf.interpolation_weights(head_frame(listener, images.positions[keep]))
    ear_delays = delay_samples[:, None] + np.einsum(
        "nk,nke->ne", weights, hrtf.delays_samples[indices]
    )

    half = FRACTIONAL_DELAY_HALF_TAPS
    length = int(np.ceil(ear_delays.max())) + hrtf.taps + 2 * half + 2
    # Single precision: the response ends up float32 in every render, and its band split
    # (the costliest step of a moving source's reflections) runs twice as fast.
    per_band = np.zeros((2, N_BANDS, length), dtype=np.float32)
    _accumulate(per_band, hrtf.minimum_phase, indices, weights, ear_delays, gains, half)
    return band_sum(per_band, sample_rate=sample_rate).astype(np.float64)


def early_brir(
    images: ImageSources,
    listener: Pose,
    hrtf: Hrtf,
    *,
    sample_rate: int,
    cut_s: float = np.inf,
    fade_s: float = 0.0,
) -> np.ndarray:
    """The direct sound and the reflections of one source, as a two-ear impulse response.

    Parameters
    ----------
    images, listener, hrtf, sample_rate, cut_s, fade_s
        As for :func:`reflections_brir`; the direct sound (order 0) is always kept.

    Returns
    -------
    numpy.ndarray
        float64, shape (2, L), row 0 the left ear, time 0 at emission.
    """
    reflections = reflections_brir(
        images, listener, hrtf, sample_rate=sample_rate, cut_s=cut_s, fade_s=fade_s
    )
    direct = np.flatnonzero(images.orders == 0)
    if direct.size == 0:
        return reflections
    k = int(direct[0])
    sound = direct_sound(
        hrtf,
        head_frame(listener, images.positions[k : k + 1])[0],
        images.delays_s[k] * sample_rate,
        images.gains[k],
    )
    return add_at(reflections, sound.response, sound.start)


def add_at(base: np.ndarray, block: np.ndarray, start: int) -> np.ndarray:
    """``base`` (2, L) with ``block`` (2, n) added from sample ``start``, grown to fit.

    Samples of ``block`` before 0 are dropped.
    """
    if start < 0:
        block = block[:, -start:]
        start = 0
    length = max(base.shape[1], start + block.shape[1])
    out = np.zeros((2, length))
    out[:, : base.shape[1]] = base
    out[:, start : start + block.shape[1]] += block
    return out


@njit(cache=True, fastmath=True)
def _mix_minimum_phase(
    minimum_phase: np.ndarray, indices: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    # out (2, taps) = sum_k weights[k] * minimum_phase[indices[k]]
    out[:, :] = 0.0
    for k in range(indices.size):
        w = weights[k]
        if w != 0.0:
            h = minimum_phase[indices[k]]
            for e in range(2):
                row = out[e]
                source = h[e]
                for t in range(row.size):
                    row[t] += w * source[t]


@njit(cache=True, fastmath=True)
def _direct(
    out: np.ndarray,
    start: int,
    minimum_phase: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    delays: np.ndarray,
    air: np.ndarray,
    half: int,
) -> None:
    # out[e, i - start] += (air * fractional delay(delays[e]) * mixed minimum phase)[i].
    n_taps = minimum_phase.shape[2]
    h = np.empty((2, n_taps), dtype=np.float32)
    _mix_minimum_phase(minimum_phase, indices, weights, h)
    air_half = (air.size - 1) // 2
    kernel = np.empty(2 * half)
    combined = np.empty(air.size + 2 * half - 1, dtype=np.float32)
    for e in range(2):
        whole = int(np.floor(delays[e]))
        fractional_delay_kernel(delays[e] - whole, half, kernel)
        combined[:] = 0.0
        for a in range(air.size):
            for j in range(2 * half):
                combined[a + j] += np.float32(air[a] * kernel[j])
        first = whole - half + 1 - air_half - start
        response = h[e]
        for c in range(combined.size):
            g = combined[c]
            row = out[e, first + c : first + c + n_taps]
            for t in range(n_taps):
                row[t] += g * response[t]


@njit(cache=True)
def _delay_response(response: np.ndarray, frac: float, half: int, out: np.ndarray) -> None:
    # out[e] = response[e] through the fractional-delay kernel of `frac` (tap 0 first).
    kernel = np.empty(2 * half)
    fractional_delay_kernel(frac, half, kernel)
    for e in range(2):
        for t in range(response.shape[1]):
            v = response[e, t]
            for j in range(2 * half):
                out[e, t + j] += v * kernel[j]


@njit(cache=True, fastmath=True, nogil=True)
def _accumulate(
    out: np.ndarray,
    minimum_phase: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    ear_delays: np.ndarray,
    gains: np.ndarray,
    half: int,
) -> None:
    # out (2, bands, L) += gains[n, band] * (mixed minimum phase of image n, each ear
    # delayed by ear_delays[n, ear]).
    n_taps = minimum_phase.shape[2]
    n_bands = out.shape[1]
    length = out.shape[2]
    width = 2 * half
    kernel = np.empty(width)
    h = np.empty((2, n_taps))
    shifted = np.empty(n_taps + width - 1)
    for n in range(indices.shape[0]):
        _mix_minimum_phase(minimum_phase, indices[n], weights[n], h)
        for e in range(2):
            whole = int(np.floor(ear_delays[n, e]))
            fractional_delay_kernel(ear_delays[n, e] - whole, half, kernel)
            shifted[:] = 0.0
            response = h[e]
            for j in range(width):
                k = kernel[j]
                row = shifted[j : j + n_taps]
                for t in range(n_taps):
                    row[t] += k * response[t]
            first = whole - half + 1
            lo = max(0, -first)
            hi = min(shifted.size, length - first)
            if hi <= lo:
                continue
            part = shifted[lo:hi]
            for b in range(n_bands):
                g = gains[n, b]
                row = out[e, b, first + lo : first + hi]
                for t in range(part.size):
                    row[t] += g * part[t]
