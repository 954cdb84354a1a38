"""Fractional delays: the windowed-sinc kernel that places an arrival between two samples.

One kernel serves the early response (each image source), the direct sound and the HRIR
reconstruction, so that the same delay gives the same taps everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "FRACTIONAL_DELAY_HALF_TAPS",
    "TABLE_STEPS",
    "fractional_delay_kernel",
    "variable_delay",
]

#: Half length of the windowed-sinc fractional-delay kernel (it has twice this many taps).
FRACTIONAL_DELAY_HALF_TAPS = 8


def _exact_kernel(frac: float, half: int) -> np.ndarray:
    x = (np.arange(2 * half) - half + 1) - frac
    kernel = np.sinc(x) * np.cos(0.5 * np.pi * x / half) ** 2
    return kernel / kernel.sum()


# The kernel of FRACTIONAL_DELAY_HALF_TAPS tabulated at TABLE_STEPS + 1 fractions and
# interpolated linearly: a time-varying delay needs a kernel per sample, and the table
# costs no trigonometry. The interpolation error is below 1e-6 of the taps.
TABLE_STEPS = 1024
_TABLE = np.stack(
    [_exact_kernel(i / TABLE_STEPS, FRACTIONAL_DELAY_HALF_TAPS) for i in range(TABLE_STEPS + 1)]
)


@njit(cache=True)
def fractional_delay_kernel(frac: float, half: int, out: np.ndarray) -> None:
    """Fill ``out`` (2 * half taps) with a delay of ``frac`` in [0, 1) samples.

    Tap ``j`` sits at ``j - half + 1``, so a delay of ``d = whole + frac`` samples puts tap
    0 at sample ``whole - half + 1``. The windowed sinc (cos^2 window) is normalised to unit
    sum so that an arrival's low-frequency level does not depend on ``frac``; for the
    project's kernel length it is read from a table (see ``TABLE_STEPS``).
    """
    width = 2 * half
    if half == FRACTIONAL_DELAY_HALF_TAPS:
        position = frac * TABLE_STEPS
        row = min(int(position), TABLE_STEPS - 1)
        u = position - row
        for j in range(width):
            out[j] = (1.0 - u) * _TABLE[row, j] + u * _TABLE[row + 1, j]
        return
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


@njit(cache=True, fastmath=True)
def variable_delay(
    history: np.ndarray, start_delay: float, end_delay: float, out: np.ndarray
) -> None:
    """Read a delay line whose delay glides linearly over one block.

    Parameters
    ----------
    history
        float32, shape (H,): past input, the newest sample last; the block being output
        ends at the newest sample.
    start_delay, end_delay
        Delay (samples) just before the block and at its last sample; sample ``n`` of the
        block is read at ``start + (end - start) (n + 1) / len(out)``. Each must be at
        least ``FRACTIONAL_DELAY_HALF_TAPS - 1`` and leave the kernel inside ``history``.
    out
        float32, shape (B,): the delayed block (overwritten).

    Notes
    -----
    A constant delay gives exactly :func:`fractional_delay_kernel`'s filter, so a still
    source through the line equals one placed by that kernel; a gliding one is a true
    propagation delay (its pitch follows Doppler's law) instead of a jump.
    """
    half = FRACTIONAL_DELAY_HALF_TAPS
    width = 2 * half
    block = out.size
    last = history.size - block
    if start_delay == end_delay:
        # A still source (or a head that only turns): one kernel for the whole block.
        whole = int(np.floor(start_delay))
        kernel = np.empty(width, dtype=np.float32)
        fractional_delay_kernel(start_delay - whole, half, kernel)
        for n in range(block):
            base = last + n - whole + half - 1
            a = np.float32(0.0)
            for j in range(width):
                a += kernel[j] * history[base - j]
            out[n] = a
        return
    for n in range(block):
        delay = start_delay + (end_delay - start_delay) * (n + 1) / block
        whole = int(np.floor(delay))
        position = (delay - whole) * TABLE_STEPS
        row = min(int(position), TABLE_STEPS - 1)
        u = position - row
        # y[m] = sum_j kernel[j] x[m - (whole - half + 1 + j)], the kernel interpolated
        # between two table rows: two dot products instead of a kernel per sample.
        base = last + n - whole + half - 1
        a = 0.0
        b = 0.0
        for j in range(width):
            x = history[base - j]
            a += _TABLE[row, j] * x
            b += _TABLE[row + 1, j] * x
        out[n] = a + u * (b - a)
