"""Octave-band split shared by the early part (brir) and the late tail (late).

The split is a set of zero-phase masks in the frequency domain, one per band of
:data:`scene.model.BANDS_HZ`, raised-cosine in log-frequency over half an octave around
each crossover.
They sum to exactly one at every frequency, so a signal whose per-band gains are all equal
passes unchanged, and a gain that varies from band to band is interpolated smoothly.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from scene.model import BANDS_HZ

__all__ = ["N_BANDS", "band_firs", "band_masks", "band_sum", "fft_size"]

N_BANDS = len(BANDS_HZ)

# Width of each crossover, octaves, centred on the geometric mean of two band centres.
# Narrower keeps a band's decay from leaking into its neighbours' octaves (measured RT60 per
# octave stays true); wider rings less in time. Half an octave rings for ~10 ms at 177 Hz.
_TRANSITION_OCTAVES = 0.5

# Zero-phase masks ring a little before t = 0 (most at the lowest crossover, a few ms);
# the padding keeps that ringing out of the wanted samples when it wraps around.
_WRAP_PAD = 4096


@lru_cache(maxsize=16)
def band_masks(n_fft: int, sample_rate: int) -> np.ndarray:
    """Complementary octave-band masks for a real FFT of length ``n_fft``.

    Parameters
    ----------
    n_fft
        FFT length, samples.
    sample_rate
        Hz.

    Returns
    -------
    numpy.ndarray
        float64, shape (N_BANDS, n_fft // 2 + 1), each row in [0, 1]; the rows sum to 1.
        Read-only (it is cached).
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    centres = np.log2(np.asarray(BANDS_HZ))
    # DC has no octave; it belongs with the lowest band.
    x = np.log2(np.maximum(freqs, BANDS_HZ[0] / 4.0))
    masks = np.zeros((N_BANDS, freqs.size))
    masks[0, x <= centres[0]] = 1.0
    masks[-1, x >= centres[-1]] = 1.0
    for k in range(N_BANDS - 1):
        crossover = 0.5 * (centres[k] + centres[k + 1])
        u = np.clip((x - crossover) / _TRANSITION_OCTAVES + 0.5, 0.0, 1.0)
        between = (x > centres[k]) & (x < centres[k + 1])
        fall = np.cos(0.5 * np.pi * u[between]) ** 2
        masks[k, between] = fall
        masks[k + 1, between] = 1.0 - fall
    masks.setflags(write=False)
    return masks


def band_sum(per_band: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Filter each band's signal with its mask and sum the bands.

    Parameters
    ----------
    per_band
        Shape (..., N_BANDS, L): one signal per band (e.g. an impulse train whose taps carry
        that band's gain).
    sample_rate
        Hz.

    Returns
    -------
    numpy.ndarray
        Shape (..., L); float32 for float32 input (computed in single precision, twice as
        fast), float64 otherwise.
    """
    if per_band.shape[-2] != N_BANDS:
        raise ValueError(f"per_band.shape={per_band.shape} must have {N_BANDS} bands on axis -2")
    import scipy.fft

    length = per_band.shape[-1]
    n_fft = fft_size(length + _WRAP_PAD)
    masks = band_masks(n_fft, sample_rate)
    if per_band.dtype == np.float32:
        masks = _single(n_fft, sample_rate)
    spectrum = scipy.fft.rfft(per_band, n=n_fft, axis=-1)
    summed = np.einsum("...kf,kf->...f", spectrum, masks)
    return scipy.fft.irfft(summed, n=n_fft, axis=-1)[..., :length]


@lru_cache(maxsize=16)
def _single(n_fft: int, sample_rate: int) -> np.ndarray:
    masks = band_masks(n_fft, sample_rate).astype(np.float32)
    masks.setflags(write=False)
    return masks


@lru_cache(maxsize=4)
def band_firs(half: int, sample_rate: int) -> np.ndarray:
    """Short zero-phase FIR versions of the band masks, for gains that vary little by band.

    Each band's impulse response is cut to ``2 * half + 1`` taps (centred, Hann window);
    the rows still sum to a unit impulse, so equal gains in every band pass a signal
    unchanged, while unequal ones are interpolated over about ``sample_rate / half`` Hz.
    Used where a full-length band split would cost too much (the direct sound, which is
    recomputed whenever a source or the head moves): its gains differ from band to band
    only by air absorption.

    Returns
    -------
    numpy.ndarray
        float64, shape (N_BANDS, 2 * half + 1); tap ``half`` is time 0. Read-only.
    """
    n_fft = fft_size(8 * half)
    impulses = np.roll(np.fft.irfft(band_masks(n_fft, sample_rate), n_fft, axis=-1), half, axis=-1)
    window = np.hanning(2 * half + 3)[1:-1]
    firs = impulses[:, : 2 * half + 1] * window[None, :]
    firs.setflags(write=False)
    return firs


def fft_size(n: int) -> int:
    """Smallest power of two >= n (at least 2): the FFT length used for band filtering."""
    # scipy.fft.next_fast_len would do; powers of two keep the mask cache small.
    return 1 << int(np.ceil(np.log2(max(n, 2))))
