"""Linear convolution by overlap-add FFTs: scipy.signal.oaconvolve's result.

A render convolves each mono source with its two-ear early response and the sum of the
sources with the long late tail. ``scipy.signal.oaconvolve`` did this, but importing
scipy.signal costs a fresh process over a second. scipy.fft is imported anyway (by
:mod:`spatial.stream`), and it is the fast one for float32: numpy 2's float32 ``rfft`` of
a batch of blocks took 5 to 8 times as long. Each block of the signal is transformed once
and shared by every channel of the response.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

__all__ = ["convolve"]

# Blocks are transformed a batch at a time: enough of them to make each call worth its
# overhead, few enough that a batch's spectra stay in the cache (2^20 to 2^22 bytes were
# fastest on 10 s and 60 s of signal).
_BATCH_BYTES = 1 << 21
_LARGEST_BLOCK = 1 << 14


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution of a signal with each channel of an impulse response.

    Parameters
    ----------
    x
        The signal, shape (n,).
    h
        The impulse response, shape (channels, m) or (m,).

    Returns
    -------
    numpy.ndarray
        Shape (channels, n + m - 1), or (n + m - 1,) for a 1-D ``h``; empty along the
        last axis when ``x`` or ``h`` is. float32 when both inputs are float32, else
        float64: ``scipy.signal.oaconvolve(x[None, :], h, axes=-1)`` to rounding.

    Raises
    ------
    ValueError
        When ``x`` is not 1-D or ``h`` not 1-D or 2-D.
    """
    x = np.asarray(x)
    h = np.asarray(h)
    if x.ndim != 1 or h.ndim not in (1, 2):
        raise ValueError(
            f"convolve: got x of shape {x.shape} and h of shape {h.shape}; "
            "need (n,) and (channels, m) or (m,)"
        )
    dtype = np.float32 if x.dtype == h.dtype == np.float32 else np.float64
    responses = (h if h.ndim == 2 else h[None, :]).astype(dtype, copy=False)
    signal = x.astype(dtype, copy=False)
    n, m = signal.size, responses.shape[1]
    if n == 0 or m == 0:
        out = np.zeros((responses.shape[0], 0), dtype=dtype)
    elif m > n and responses.shape[0] == 1:
        # Convolution commutes: the longer operand is cut into blocks.
        out = _overlap_add(responses[0], signal[None, :])
    else:
        out = _overlap_add(signal, responses)
    return out if h.ndim == 2 else out[0]


def _overlap_add(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Convolve ``x`` (n,) with each row of ``h`` (channels, m), cutting ``x`` into blocks."""
    channels, m = h.shape
    n = x.size
    total = n + m - 1
    size = _fft_size(n, m)
    spectra = scipy.fft.rfft(h, size, axis=-1)
    step = size - m + 1
    if step >= n:
        return scipy.fft.irfft(scipy.fft.rfft(x, size) * spectra, size, axis=-1)[:, :total]
    count = -(-n // step)
    padded = np.zeros(count * step, dtype=x.dtype)
    padded[:n] = x
    blocks = padded.reshape(count, step)
    # Output by block: block k's first `step` samples land on row k, its last m - 1 (no
    # more than `step`, see _fft_size) on the start of row k + 1.
    out = np.zeros((channels, count + 1, step), dtype=x.dtype)
    overlap = size - step
    batch = max(1, _BATCH_BYTES // (size * x.itemsize * (channels + 1)))
    for start in range(0, count, batch):
        stop = min(count, start + batch)
        spectrum = scipy.fft.rfft(blocks[start:stop], size, axis=-1)
        y = scipy.fft.irfft(spectrum[None] * spectra[:, None], size, axis=-1)
        out[:, start:stop] += y[:, :, :step]
        out[:, start + 1 : stop + 1, :overlap] += y[:, :, step:]
    return out.reshape(channels, -1)[:, :total]


def _fft_size(n: int, m: int) -> int:
    """The FFT size that convolves ``n`` samples with ``m`` taps at the least cost.

    Cost per block of ``size - m + 1`` new samples: about ``size * log2(size)``. One FFT of
    the whole output competes with blocks of every power of two (times 1 or 3) from
    ``2 (m - 1)`` up, so that a block's overlap never exceeds its step. Blocks above
    :data:`_LARGEST_BLOCK` cost more than that (their spectra leave the cache: with a 1220-
    tap response, 16384 took 6.2 ms on 10 s, 32768 took 8.6), so they are tried only where
    the response needs them, up to twice the least size it allows.
    """
    whole = scipy.fft.next_fast_len(n + m - 1, real=True)
    best, best_cost = whole, whole * math.log2(max(whole, 2))
    size = 16
    least = 0
    while size < whole:
        step = size - m + 1
        if step >= m - 1 and step > 0:
            least = least or size
            if size > (_LARGEST_BLOCK if least <= _LARGEST_BLOCK else 2 * least):
                break
            cost = -(-n // step) * size * math.log2(size)
            if cost < best_cost:
                best, best_cost = size, cost
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return best
