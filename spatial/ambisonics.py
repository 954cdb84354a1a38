"""Ambisonics: sources and their rooms encoded to AmbiX (ACN order, SN3D), one binaural decode.

An ambisonic mix of order N holds the sound field around the listener in (N + 1)^2
channels whatever the number of sources, and a player can turn it with the viewer's head:
the format of 360-degree video and VR platforms. Channel ``acn = n^2 + n + m`` carries the
real spherical harmonic of degree n and order m, with Schmidt semi-normalisation (SN3D):
the W channel (acn 0) has gain 1 in every direction.

Each source is encoded with its room, as the binaural renderer hears it: the direct sound
and every image source up to the transition time, each with its delay, its per-band gains
and the spherical-harmonic gains of its direction in the listener's head frame (front =
+x of the AmbiX frame, left = +y, up = +z), then one late tail shared by all sources, a
diffuse field whose channels are uncorrelated with the SN3D powers ``1 / (2n + 1)``.

The binaural decode plays the mix over 32 virtual loudspeakers (the vertices of an
icosahedron and a dodecahedron, a spherical 5-design) with a mode-matching decoder, each
loudspeaker heard through the interpolated HRTF of its direction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numba import njit

from scene.acoustics import SPEED_OF_SOUND, room_acoustics
from scene.errors import SceneError
from scene.model import BANDS_HZ, Pose, Room
from spatial.bands import N_BANDS, band_masks, band_sum, fft_size
from spatial.brir import head_frame
from spatial.fftconv import convolve
from spatial.fractional import FRACTIONAL_DELAY_HALF_TAPS, fractional_delay_kernel
from spatial.hrtf import Hrtf, default_hrtf
from spatial.late import FADE_S
from spatial.render import (
    _add_convolved,
    _check_point,
    _check_rate,
    _check_room,
    _check_source,
    _room_plan,
)
from spatial.types import SAMPLE_RATE, PlacedSource

__all__ = [
    "MAX_ORDER",
    "channel_count",
    "decode_binaural",
    "decoder_filters",
    "render_ambisonics",
    "sn3d_harmonics",
    "virtual_loudspeakers",
]

#: Highest ambisonic order supported (16 channels).
MAX_ORDER = 3


def channel_count(order: int) -> int:
    """(order + 1)^2 channels."""
    return (order + 1) ** 2


def _check_order(order: object) -> int:
    if isinstance(order, bool) or not isinstance(order, int | np.integer):
        raise SceneError("must be an ambisonic order 1, 2 or 3", field="order", value=order)
    if not 1 <= int(order) <= MAX_ORDER:
        raise SceneError("must be an ambisonic order 1, 2 or 3", field="order", value=order)
    return int(order)


def sn3d_harmonics(order: int, vectors: np.ndarray) -> np.ndarray:
    """Real spherical harmonics in ACN order with SN3D normalisation (AmbiX).

    Parameters
    ----------
    order
        Ambisonic order N (0 to 3).
    vectors
        Shape (M, 3): directions (x front, y left, z up), any non-zero length.

    Returns
    -------
    numpy.ndarray
        float64, shape (M, (N + 1)^2); column ``n^2 + n + m`` is
        ``sqrt((2 - delta_m0) (n - |m|)! / (n + |m|)!) P_n^|m|(sin el)`` times
        ``cos(m az)`` for m >= 0 and ``sin(|m| az)`` for m < 0 (no Condon-Shortley phase).
    """
    from scipy.special import lpmv

    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    norm = np.linalg.norm(v, axis=1)
    norm = np.where(norm > 0.0, norm, 1.0)
    azimuth = np.arctan2(v[:, 1], v[:, 0])
    sin_el = np.clip(v[:, 2] / norm, -1.0, 1.0)
    out = np.zeros((v.shape[0], channel_count(order)))
    for n in range(order + 1):
        for m in range(-n, n + 1):
            a = abs(m)
            scale = math.sqrt((2.0 - (a == 0)) * math.factorial(n - a) / math.factorial(n + a))
            # scipy's lpmv carries the Condon-Shortley phase (-1)^m, which AmbiX leaves out.
            legendre = (-1.0) ** a * lpmv(a, n, sin_el)
            angular = np.cos(a * azimuth) if m >= 0 else np.sin(a * azimuth)
            out[:, n * n + n + m] = scale * legendre * angular
    return out


def render_ambisonics(
    room: Room,
    listener: Pose,
    sources: Sequence[PlacedSource],
    *,
    n_samples: int,
    order: int,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> np.ndarray:
    """Render mono sources in a room to an AmbiX mix at the listener.

    Parameters
    ----------
    room, listener, sources, n_samples, sample_rate, seed
        As for :func:`spatial.render_scene` (fixed positions).
    order
        Ambisonic order, 1 to 3.

    Returns
    -------
    numpy.ndarray
        float32, shape ((order + 1)^2, n_samples), ACN channel order, SN3D, in the
        listener's head frame (the listener's yaw and pitch are the mix's front).
    """
    order = _check_order(order)
    _check_rate(sample_rate)
    _check_room(room)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples <= 0:
        raise SceneError("must be a positive integer", field="n_samples", value=n_samples)
    n_samples = int(n_samples)
    _check_point(room, listener.position, field="listener.position")
    signals = [_check_source(room, i, source) for i, source in enumerate(sources)]
    channels = channel_count(order)
    out = np.zeros((channels, n_samples), dtype=np.float32)
    if not signals:
        return out
    plan = _room_plan(room, default_hrtf(), sample_rate, seed, listener)
    tail = None
    if plan.tail is not None:
        tail = _diffuse_tail(
            room, order, start_s=plan.transition_s, sample_rate=sample_rate, seed=seed
        )
    tail_input = np.zeros(n_samples, dtype=np.float32)
    for source, signal in zip(sources, signals, strict=True):
        x = signal[:n_samples] * np.float32(10.0 ** (source.gain_db / 20.0))
        src = plan.source(room, listener, np.asarray(source.position, np.float64), sample_rate)
        early = _encoded_early(src.images, listener, order, src.cut_s, sample_rate)
        _add_convolved(out, x, early.astype(np.float32))
        if tail is not None and src.tail_shift < n_samples:
            stop = min(x.size, n_samples - src.tail_shift)
            tail_input[src.tail_shift : src.tail_shift + stop] += (
                np.float32(src.tail_gain) * x[:stop]
            )
    if tail is not None:
        _add_convolved(out, tail_input, tail.astype(np.float32))
    return out


def _encoded_early(images, listener: Pose, order: int, cut_s: float, fs: int) -> np.ndarray:
    # Every arrival (the direct sound always) with its delay, band gains and the harmonics
    # of its direction, faded out around cut_s as the binaural early part is.
    delays = images.delays_s
    weight = np.ones(delays.size)
    if math.isfinite(cut_s):
        u = np.clip((delays - (cut_s - FADE_S / 2.0)) / FADE_S, 0.0, 1.0)
        weight = np.cos(0.5 * np.pi * u)
    weight = np.where(images.orders == 0, 1.0, weight)
    keep = weight > 0.0
    gains = images.gains[keep] * weight[keep][:, None]
    harmonics = sn3d_harmonics(order, head_frame(listener, images.positions[keep]))
    delay_samples = delays[keep] * fs
    half = FRACTIONAL_DELAY_HALF_TAPS
    length = int(np.ceil(delay_samples.max())) + 2 * half + 2
    per_band = np.zeros((harmonics.shape[1], N_BANDS, length))
    _accumulate_encoded(per_band, harmonics, delay_samples, gains, half)
    return band_sum(per_band, sample_rate=fs)


# nogil: the streaming renderer runs it on a thread beside the audio clock.
@njit(cache=True, nogil=True)
def _accumulate_encoded(
    out: np.ndarray, harmonics: np.ndarray, delays: np.ndarray, gains: np.ndarray, half: int
) -> None:
    # out (channels, bands, L) += harmonics[n, c] gains[n, b] (impulse delayed by delays[n])
    kernel = np.empty(2 * half)
    length = out.shape[2]
    for n in range(delays.size):
        whole = int(np.floor(delays[n]))
        fractional_delay_kernel(delays[n] - whole, half, kernel)
        first = whole - half + 1
        for c in range(out.shape[0]):
            y = harmonics[n, c]
            for b in range(out.shape[1]):
                g = y * gains[n, b]
                for j in range(2 * half):
                    i = first + j
                    if 0 <= i < length:
                        out[c, b, i] += g * kernel[j]


def _diffuse_tail(
    room: Room, order: int, *, start_s: float, sample_rate: int, seed: int
) -> np.ndarray:
    # The binaural tail's law (spatial.late) without the head: per band, noise decaying at
    # the band's Eyring RT60 at the diffuse-field level 4 pi c / (V fs), faded in around
    # start_s; every channel its own noise, with the SN3D diffuse power 1 / (2n + 1).
    acoustics = room_acoustics(room)
    rt60 = np.asarray(acoustics.rt60_eyring_s, dtype=np.float64)
    end_s = max(min(max(rt60) * 70.0 / 60.0, 20.0), start_s + 0.1)
    length = int(np.ceil(end_s * sample_rate))
    t = np.arange(length) / sample_rate
    channels = channel_count(order)
    degree = np.floor(np.sqrt(np.arange(channels)))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((channels, length)) / np.sqrt(2.0 * degree + 1.0)[:, None]
    fade = np.clip((t - (start_s - FADE_S / 2)) / FADE_S, 0.0, 1.0)
    onset = np.sin(0.5 * np.pi * fade) * np.clip((t[-1] - t) / 0.005, 0.0, 1.0)
    base = np.sqrt(4.0 * np.pi * SPEED_OF_SOUND / (acoustics.volume_m3 * sample_rate))
    n_fft = fft_size(length)
    masks = band_masks(n_fft, sample_rate)
    spectrum = np.zeros((channels, n_fft // 2 + 1), dtype=np.complex128)
    for k in range(len(BANDS_HZ)):
        envelope = base * onset * np.exp(-6.91 * t / rt60[k])
        spectrum += np.fft.rfft(noise * envelope[None, :], n=n_fft, axis=-1) * masks[k][None, :]
    return np.fft.irfft(spectrum, n=n_fft, axis=-1)[:, :length]


@lru_cache(maxsize=1)
def virtual_loudspeakers() -> np.ndarray:
    """Shape (32, 3): unit vectors of an icosahedron's and a dodecahedron's vertices."""
    phi = (1.0 + math.sqrt(5.0)) / 2.0
    points = []
    for a in (-1.0, 1.0):
        for b in (-phi, phi):
            points += [(0.0, a, b), (a, b, 0.0), (b, 0.0, a)]
    points += [(x, y, z) for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)]
    for a in (-1.0, 1.0):
        for b in (-1.0, 1.0):
            points += [(0.0, a / phi, b * phi), (a / phi, b * phi, 0.0), (b * phi, 0.0, a / phi)]
    p = np.asarray(points)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    p.setflags(write=False)
    return p


@lru_cache(maxsize=8)
def decoder_filters(hrtf: Hrtf, order: int) -> np.ndarray:
    """Binaural decoding filters: ambisonic channel -> two ears.

    The mode-matching decoder ``pinv(Y^T)`` gives the loudspeaker gains that re-encode to
    the same harmonics; each loudspeaker plays through the HRTF of its direction.

    Returns
    -------
    numpy.ndarray
        float64, shape ((order + 1)^2, 2, taps), row 0 of axis 1 the left ear.
    """
    order = _check_order(order)
    speakers = virtual_loudspeakers()
    decoder = np.linalg.pinv(sn3d_harmonics(order, speakers).T)  # (speakers, channels)
    az = np.degrees(np.arctan2(speakers[:, 1], speakers[:, 0]))
    el = np.degrees(np.arcsin(np.clip(speakers[:, 2], -1.0, 1.0)))
    hrirs = np.stack([hrtf.hrir(float(a), float(e)) for a, e in zip(az, el, strict=True)])
    return np.einsum("lc,let->cet", decoder, hrirs.astype(np.float64))


def decode_binaural(mix: np.ndarray, *, order: int, hrtf: Hrtf | None = None) -> np.ndarray:
    """The binaural signal of an AmbiX mix (see :func:`decoder_filters`).

    Parameters
    ----------
    mix
        float32, shape ((order + 1)^2, n): ACN, SN3D.
    order
        Its ambisonic order.
    hrtf
        None uses :func:`spatial.hrtf.default_hrtf`.

    Returns
    -------
    numpy.ndarray
        float32, shape (2, n), row 0 the left ear.
    """
    order = _check_order(order)
    hrtf = hrtf or default_hrtf()
    if mix.ndim != 2 or mix.shape[0] != channel_count(order):
        raise SceneError(
            f"must have {channel_count(order)} channels for order {order}",
            field="mix",
            value=mix.shape,
        )
    filters = decoder_filters(hrtf, order).astype(np.float32)
    n = mix.shape[1]
    out = np.zeros((2, n), dtype=np.float64)
    for c in range(mix.shape[0]):
        if np.any(mix[c]):
            out += convolve(mix[c], filters[c])[:, :n]
    return out.astype(np.float32)
