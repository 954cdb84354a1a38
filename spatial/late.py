"""Late reverberation of an enclosed room: decaying, band-shaped, binaurally decorrelated noise.

The tail takes over from the image sources at the transition time. Its level is that of a
diffuse field so that it continues the image-source energy without a jump: with reflection
density ``4 pi c^3 t^2 / V`` (per second) and each reflection of amplitude ``1 / (c t)``
(the image sources' 1/r law), the power per sample at time t after emission is

    sigma^2(t) = 4 pi c / (V fs) * exp(-13.8 t / T60_band)

per octave band, further shaped by the HRTF's diffuse-field power of that band and ear.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from scene.acoustics import SPEED_OF_SOUND, room_acoustics
from scene.model import BANDS_HZ, Room
from spatial.bands import N_BANDS, band_masks, fft_size
from spatial.hrtf import Hrtf

__all__ = [
    "EAR_DISTANCE_M",
    "FADE_S",
    "diffuse_field_band_power",
    "interaural_coherence",
    "late_tail",
    "transition_time_s",
]

#: Effective distance between the ears for the diffuse-field coherence, metres.
EAR_DISTANCE_M = 0.2

#: Length of the crossfade from image sources to the tail, seconds.
FADE_S = 0.010

# The tail ends where its slowest band has decayed this far (dB below its level at t = 0).
_TAIL_DEPTH_DB = 70.0
# Longest tail kept, seconds: rooms of near-zero absorption would otherwise ask for minutes.
_MAX_TAIL_S = 20.0


def transition_time_s(room: Room) -> float:
    """Time after emission at which the late tail takes over, seconds.

    The mixing-time rule of thumb ``sqrt(V)`` milliseconds (V in m^3), clamped to
    [0.04, 0.15] s: below 40 ms too few reflections exist to sound diffuse, beyond 150 ms
    the image sources cost much and add nothing the ear can tell apart.
    """
    acoustics = room_acoustics(room)
    if acoustics is None:
        raise ValueError(f"room.kind={room.kind!r} has no late tail; only enclosed rooms")
    return float(np.clip(np.sqrt(acoustics.volume_m3) * 1e-3, 0.04, 0.15))


def interaural_coherence(frequencies_hz: np.ndarray) -> np.ndarray:
    """Coherence of a diffuse field between two points EAR_DISTANCE_M apart.

    ``sin(k d) / (k d)`` with ``k = 2 pi f / c``: near 1 at low frequencies, near 0 above
    about 1 kHz. Signed (it dips slightly below zero near 1 kHz), as for two free-field
    microphones.
    """
    return np.sinc(2.0 * np.asarray(frequencies_hz) * EAR_DISTANCE_M / SPEED_OF_SOUND)


@lru_cache(maxsize=8)
def diffuse_field_band_power(hrtf: Hrtf, sample_rate: int) -> np.ndarray:
    """Power gain of the HRTF per ear and band, averaged over the sphere.

    What a white signal arriving from every direction at once gains in each band of each
    ear: the factor that puts the tail on the same footing as image sources heard through
    the HRIRs.

    Returns
    -------
    numpy.ndarray
        float64, shape (2, N_BANDS).
    """
    # At least 4096 bins so that the lowest octave has resolution even for short HRIRs.
    n_fft = fft_size(max(2 * hrtf.taps, 4096))
    masks = band_masks(n_fft, sample_rate)
    spectra = np.abs(np.fft.rfft(hrtf.hrirs.astype(np.float64), n=n_fft, axis=-1)) ** 2
    weights = _solid_angle_weights(hrtf.unit_vectors)
    average = np.einsum("m,mef->ef", weights, spectra)
    m2 = masks**2
    return (average @ m2.T) / m2.sum(axis=1)[None, :]


def _solid_angle_weights(unit: np.ndarray) -> np.ndarray:
    # Measurement grids are denser near the poles or missing below the head; weighting each
    # direction by its Voronoi cell gives a true average over the sphere.
    from scipy.spatial import SphericalVoronoi

    try:
        areas = SphericalVoronoi(unit, radius=1.0, threshold=1e-6).calculate_areas()
    except (ValueError, RuntimeError):
        areas = np.ones(len(unit))
    if len(unit) < 4 or not np.all(np.isfinite(areas)):
        areas = np.ones(len(unit))
    return areas / areas.sum()


def late_tail(
    room: Room,
    *,
    hrtf: Hrtf,
    start_s: float,
    sample_rate: int,
    seed: int,
) -> np.ndarray:
    """The binaural late reverberation of a room, as an impulse response from emission.

    Parameters
    ----------
    room
        An enclosed room (shoebox or mesh).
    hrtf
        Sets the tail's per-band level in each ear to the HRTF's diffuse-field average.
    start_s
        Centre of the fade-in (the transition time), seconds after emission; the tail is
        zero before ``start_s - FADE_S / 2`` and rises as ``sin`` to full level at
        ``start_s + FADE_S / 2`` (power-complementary to the images' ``cos`` fade-out).
    sample_rate
        Hz.
    seed
        Seeds the noise (numpy Generator): the same seed gives the same tail.

    Returns
    -------
    numpy.ndarray
        float64, shape (2, L), row 0 the left ear. L reaches the time at which the slowest
        band has decayed by 70 dB.
    """
    acoustics = room_acoustics(room)
    if acoustics is None:
        raise ValueError(f"room.kind={room.kind!r} has no late tail; only enclosed rooms")
    rt60 = np.asarray(acoustics.rt60_eyring_s, dtype=np.float64)
    end_s = min(max(rt60) * _TAIL_DEPTH_DB / 60.0, _MAX_TAIL_S)
    end_s = max(end_s, start_s + 0.1)
    length = int(np.ceil(end_s * sample_rate))
    t = np.arange(length) / sample_rate

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((2, length))
    fade = np.clip((t - (start_s - FADE_S / 2)) / FADE_S, 0.0, 1.0)
    onset = np.sin(0.5 * np.pi * fade)
    # The last few ms fade to zero so that truncation adds no click.
    onset *= np.clip((t[-1] - t) / 0.005, 0.0, 1.0)
    base = np.sqrt(4.0 * np.pi * SPEED_OF_SOUND / (acoustics.volume_m3 * sample_rate))

    ear_power = diffuse_field_band_power(hrtf, sample_rate)
    coherence = interaural_coherence(np.asarray(BANDS_HZ))
    n_fft = fft_size(length)
    masks = band_masks(n_fft, sample_rate)
    spectrum = np.zeros((2, n_fft // 2 + 1), dtype=np.complex128)
    for k in range(N_BANDS):
        envelope = base * onset * np.exp(-6.91 * t / rt60[k])
        # L = a n1 + b n2, R = a n1 - b n2 with a^2 + b^2 = 1 has unit power in each ear
        # and correlation a^2 - b^2 = rho between them.
        a = np.sqrt(0.5 * (1.0 + coherence[k]))
        b = np.sqrt(0.5 * (1.0 - coherence[k]))
        pair = np.stack([a * noise[0] + b * noise[1], a * noise[0] - b * noise[1]])
        pair *= envelope[None, :] * np.sqrt(ear_power[:, k])[:, None]
        spectrum += np.fft.rfft(pair, n=n_fft, axis=-1) * masks[k][None, :]
    return np.fft.irfft(spectrum, n=n_fft, axis=-1)[:, :length]
