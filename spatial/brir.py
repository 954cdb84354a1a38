"""Binaural room impulse response of the early part: image sources through the HRTF.

Each image source is turned into the listener's head frame, given the HRIR of the nearest
measured direction, delayed by its (fractional) travel time and scaled per octave band.
The bands are accumulated separately (a numba loop) and filtered once at the end with the
complementary band split of :mod:`spatial.bands`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from scene.model import Pose
from spatial.bands import N_BANDS, band_sum
from spatial.hrtf import Hrtf
from spatial.image_sources import ImageSources

__all__ = ["FRACTIONAL_DELAY_HALF_TAPS", "early_brir", "head_frame"]

#: Half length of the windowed-sinc fractional-delay kernel (it has twice this many taps).
FRACTIONAL_DELAY_HALF_TAPS = 8


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


def early_brir(
    images: ImageSources,
    listener: Pose,
    hrtf: Hrtf,
    *,
    sample_rate: int,
    cut_s: float = np.inf,
    fade_s: float = 0.0,
) -> np.ndarray:
    """Sum the image sources, each through its HRIR, into a two-ear impulse response.

    Parameters
    ----------
    images
        From :func:`spatial.image_sources.image_sources`.
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
        image's delay plus the HRIR and the fractional-delay kernel.
    """
    delays = images.delays_s
    weight = np.ones(delays.size)
    if np.isfinite(cut_s) and fade_s > 0.0:
        u = np.clip((delays - (cut_s - fade_s / 2.0)) / fade_s, 0.0, 1.0)
        weight = np.cos(0.5 * np.pi * u)
    elif np.isfinite(cut_s):
        weight = (delays < cut_s).astype(np.float64)
    # The direct sound always stays: the caller puts cut_s after it.
    keep = (weight > 0.0) | (images.orders == 0)
    weight = np.where(images.orders == 0, 1.0, weight)
    gains = images.gains[keep] * weight[keep][:, None]
    delay_samples = delays[keep] * sample_rate
    vectors = head_frame(listener, images.positions[keep])
    index = hrtf.nearest_index_of_vectors(vectors)

    half = FRACTIONAL_DELAY_HALF_TAPS
    length = int(np.ceil(delay_samples.max())) + hrtf.taps + 2 * half + 2
    per_band = np.zeros((2, N_BANDS, length))
    _accumulate(per_band, hrtf.hrirs, index, delay_samples, gains, half)
    return band_sum(per_band, sample_rate=sample_rate)


@njit(cache=True)
def _accumulate(
    out: np.ndarray,
    hrirs: np.ndarray,
    index: np.ndarray,
    delay_samples: np.ndarray,
    gains: np.ndarray,
    half: int,
) -> None:
    # out (2, bands, L) += gains[n, band] * (hrir[index[n]] delayed by delay_samples[n]).
    n_taps = hrirs.shape[2]
    n_bands = out.shape[1]
    length = out.shape[2]
    width = 2 * half
    kernel = np.empty(width)
    shifted = np.empty((2, n_taps + width - 1))
    for n in range(index.size):
        whole = int(np.floor(delay_samples[n]))
        frac = delay_samples[n] - whole
        # Windowed sinc (cos^2 window) at taps j - frac, j = -half + 1 .. half; normalised
        # to unit sum so that a reflection's low-frequency level does not depend on frac.
        total = 0.0
        for j in range(width):
            x = (j - half + 1) - frac
            if abs(x) < 1e-12:
                s = 1.0
            else:
                s = np.sin(np.pi * x) / (np.pi * x)
            w = np.cos(0.5 * np.pi * x / half)
            kernel[j] = s * w * w
            total += kernel[j]
        for j in range(width):
            kernel[j] /= total
        h = hrirs[index[n]]
        shifted[:, :] = 0.0
        for e in range(2):
            for t in range(n_taps):
                v = h[e, t]
                if v != 0.0:
                    for j in range(width):
                        shifted[e, t + j] += v * kernel[j]
        start = whole - half + 1
        for b in range(n_bands):
            g = gains[n, b]
            for e in range(2):
                for t in range(n_taps + width - 1):
                    i = start + t
                    if 0 <= i < length:
                        out[e, b, i] += g * shifted[e, t]
