"""Real FFTs along the last axis for the streaming renderer's many small transforms.

A 256-sample block runs five or six transforms of 512 points per session; through
``scipy.fft``'s dispatch (uarray backends, argument normalisation) each one costs 10 to 15
microseconds of Python before pocketfft starts, as much as the transform itself. These
call scipy's pocketfft binding directly, with the same results, and fall back to
``scipy.fft`` where that binding is missing (it is scipy's internal module).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["irfft", "rfft"]

try:
    from scipy.fft._pocketfft import pypocketfft as _pocketfft
except ImportError:  # pragma: no cover - a scipy without the binding
    _pocketfft = None

_NO_NORM, _BY_N = 0, 2


def rfft(x: np.ndarray) -> np.ndarray:
    """``scipy.fft.rfft(x, axis=-1)``.

    Parameters
    ----------
    x
        float32 or float64, any shape (..., n), C-contiguous.

    Returns
    -------
    numpy.ndarray
        complex64 (for float32) or complex128, shape (..., n // 2 + 1).
    """
    if _pocketfft is None:
        return scipy.fft.rfft(x, axis=-1)
    return _pocketfft.r2c(x, (x.ndim - 1,), True, _NO_NORM, None, 1)


def irfft(spectra: np.ndarray, n: int) -> np.ndarray:
    """``scipy.fft.irfft(spectra, n=n, axis=-1)``.

    Parameters
    ----------
    spectra
        complex64 or complex128, shape (..., n // 2 + 1), C-contiguous.
    n
        Length of the real output, samples.

    Returns
    -------
    numpy.ndarray
        float32 (for complex64) or float64, shape (..., n).
    """
    if _pocketfft is None:
        return scipy.fft.irfft(spectra, n=n, axis=-1)
    return _pocketfft.c2r(spectra, (spectra.ndim - 1,), n, False, _BY_N, None, 1)
