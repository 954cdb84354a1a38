"""Digital Butterworth filters as second-order sections, designed without scipy.signal.

The design of ``scipy.signal.butter(order, cutoff, kind, fs=fs, output="sos")``: the analog
prototype's poles, the low-pass, high-pass or band-pass transform at pre-warped edges, the
bilinear transform, and scipy's pairing of poles and zeros into sections (the pole nearest
the unit circle goes last, each with its nearest zeros), so the sections agree with
scipy's to rounding. Importing scipy.signal costs a fresh process over a second; this is
a few lines of numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BUTTERWORTH_KINDS", "butterworth_sos"]

BUTTERWORTH_KINDS: tuple[str, ...] = ("low", "high", "band")


def butterworth_sos(
    order: int, cutoff: float | Sequence[float], kind: str, *, sample_rate: float
) -> np.ndarray:
    """Design a digital Butterworth filter as second-order sections.

    Parameters
    ----------
    order
        Order of the prototype (>= 1); a band-pass filter has twice this order.
    cutoff
        The -3 dB frequency, Hz, for ``"low"`` and ``"high"``; the two band edges
        ``[low, high]``, Hz, for ``"band"``. Each strictly between 0 and ``sample_rate / 2``.
    kind
        One of :data:`BUTTERWORTH_KINDS`.
    sample_rate
        Hz.

    Returns
    -------
    numpy.ndarray
        float64, shape (sections, 6): rows ``b0 b1 b2 a0 a1 a2`` with ``a0 = 1``, the gain
        in the first section; ``ceil(order / 2)`` sections (``order`` for ``"band"``).

    Raises
    ------
    ValueError
        For an unknown kind, an order below 1, or cutoffs of the wrong count or range.
    """
    if kind not in BUTTERWORTH_KINDS:
        raise ValueError(f"kind: got {kind!r}; allowed: {', '.join(BUTTERWORTH_KINDS)}")
    if int(order) != order or order < 1:
        raise ValueError(f"order: got {order!r}; must be an integer >= 1")
    order = int(order)
    edges = np.atleast_1d(np.asarray(cutoff, dtype=np.float64))
    count = 2 if kind == "band" else 1
    nyquist = sample_rate / 2
    if edges.shape != (count,) or not np.all((edges > 0) & (edges < nyquist)):
        raise ValueError(
            f"cutoff: got {cutoff!r}; need {count} frequenc{'ies' if count == 2 else 'y'} "
            f"strictly between 0 and {nyquist} Hz"
        )
    if kind == "band" and not edges[0] < edges[1]:
        raise ValueError(f"cutoff: got {cutoff!r}; the band's low edge must be below its high")
    # Pre-warped edges of an analog filter for a bilinear transform at a rate of 2
    # (frequencies as fractions of Nyquist), as scipy does.
    warped = 4.0 * np.tan(np.pi * (2.0 * edges / sample_rate) / 2.0)
    prototype = -np.exp(1j * np.pi * np.arange(-order + 1, order, 2) / (2 * order))
    if kind == "low":
        poles = warped[0] * prototype
        gain = warped[0] ** order
        analog_zeros = 0
    elif kind == "high":
        poles = warped[0] / prototype
        gain = float(np.real(1.0 / np.prod(-prototype)))
        analog_zeros = order
    else:
        centre = np.sqrt(warped[0] * warped[1])
        width = warped[1] - warped[0]
        low_pass = prototype * width / 2
        shift = np.sqrt(low_pass**2 - centre**2)
        poles = np.concatenate([low_pass + shift, low_pass - shift])
        gain = width**order
        analog_zeros = order
    # Bilinear transform: analog zeros at s = 0 go to z = 1, those at infinity to z = -1.
    gain *= float(np.real(4.0**analog_zeros / np.prod(4.0 - poles)))
    digital_poles = (4.0 + poles) / (4.0 - poles)
    zeros = [1.0] * analog_zeros + [-1.0] * (poles.size - analog_zeros)
    sos = _pair(digital_poles, zeros)
    sos[0, :3] *= gain
    return sos


def _pair(poles: np.ndarray, zeros: list[float]) -> np.ndarray:
    """Second-order sections of real zeros and conjugate-pair or real poles.

    scipy's ``zpk2sos`` (pairing "nearest") for this case: an odd count gets a pole and a
    zero at the origin; sections are filled from the last, each with the remaining pole
    nearest the unit circle, its conjugate (or the next such real pole) and the two zeros
    nearest to it.
    """
    poles = list(poles)
    zeros = list(zeros)
    if len(poles) % 2:
        poles.append(0j)
        zeros.append(0.0)
    # One of each conjugate pair (the upper one) stands for both; scipy's tolerance tells
    # a real pole from a complex one.
    tolerance = 100 * np.finfo(np.float64).eps
    complex_poles = [complex(p) for p in poles if p.imag > tolerance * abs(p)]
    real_poles = [float(p.real) for p in poles if abs(p.imag) <= tolerance * abs(p)]
    sections = np.zeros((len(poles) // 2, 6))
    for index in range(sections.shape[0] - 1, -1, -1):
        candidates = complex_poles + real_poles
        first = candidates[int(np.argmin([abs(1 - abs(p)) for p in candidates]))]
        if isinstance(first, complex):
            complex_poles.remove(first)
            a = [1.0, -2.0 * first.real, first.real**2 + first.imag**2]
        else:
            real_poles.remove(first)
            second = real_poles.pop(int(np.argmin([abs(1 - abs(p)) for p in real_poles])))
            a = [1.0, -(first + second), first * second]
        z1 = zeros.pop(int(np.argmin([abs(first - z) for z in zeros])))
        z2 = zeros.pop(int(np.argmin([abs(first - z) for z in zeros])))
        sections[index] = [1.0, -(z1 + z2), z1 * z2, *a]
    return sections
