"""Fractional delays: the windowed-sinc kernel that places an arrival between two samples.

One kernel serves the early response (each image source), the direct sound and the HRIR
reconstruction, so that the same delay gives the same taps everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["FRACTIONAL_DELAY_HALF_TAPS", "fractional_delay_kernel"]

#: Half length of the windowed-sinc fractional-delay kernel (it has twice this many taps).
FRACTIONAL_DELAY_HALF_TAPS = 8


@njit(cache=True)
def fractional_delay_kernel(frac: float, half: int, out: np.ndarray) -> None:
    """Fill ``out`` (2 * half taps) with a delay of ``frac`` in [0, 1) samples.

    Tap ``j`` sits at ``j - half + 1``, so a delay of ``d = whole + frac`` samples puts tap
    0 at sample ``whole - half + 1``. The windowed sinc (cos^2 window) is normalised to unit
    sum so that an arrival's low-frequency level does not depend on ``frac``.
    """
    width = 2 * half
    total = 0.0
    for j in range(width):
        x = (j - half + 1) - frac
        if abs(x) < 1e-12:
            s = 1.0
        else:
            s = np.sin(np.pi * x) / (np.pi * x)
        w = np.cos(0.5 * np.pi * x / half)
        out[j] = s * w * w
        total += out[j]
    for j in range(width):
        out[j] /= total
