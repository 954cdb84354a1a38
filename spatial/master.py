"""Mastering: loudness to a target (ITU-R BS.1770) under a true-peak ceiling.

The limiter is linked: one gain curve for both ears, so interaural time and level
differences (the localisation the renderer worked for) survive limiting.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from spatial.loudness import integrated_loudness
from spatial.types import SAMPLE_RATE, MasteringReport

__all__ = ["master", "sample_peaks", "true_peak_dbtp"]

# Oversampling factor of the true-peak meter (BS.1770-4 asks for at least 4 at 48 kHz).
_OVERSAMPLE = 4
# Look-ahead (attack) and release of the limiter, seconds.
_LOOKAHEAD_S = 0.005
_RELEASE_S = 0.08
# The limiter aims this far under the ceiling: its smoothed gain and the inter-sample peaks
# it estimates leave a small error, and the final check must find nothing to correct.
_MARGIN_DB = 0.1
# Loudness passes: each limits, measures and corrects the gain once.
_PASSES = 4
# Beyond the first estimate, at most this much more gain is spent chasing the target:
# past it a peaky input is squashed rather than made louder.
_MAX_EXTRA_GAIN_DB = 10.0
# BS.1770's gating block: shorter input has no integrated loudness.
_BLOCK_S = 0.4


def true_peak_dbtp(mix: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> float:
    """True peak by 4x oversampling (the filter of scipy.signal.resample_poly), dBTP.

    Parameters
    ----------
    mix
        Shape (channels, samples).
    sample_rate
        Hz (recorded for symmetry with loudness; the oversampling factor does not depend on
        it at 48 kHz).

    Returns
    -------
    float
        ``20 log10(max |x|)`` over the oversampled signal; ``-inf`` for silence.
    """
    peak = float(np.max(sample_peaks(np.asarray(mix, dtype=np.float64)), initial=0.0))
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf


def master(
    mix: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    target_lufs: float = -16.0,
    ceiling_dbtp: float = -1.0,
) -> tuple[np.ndarray, MasteringReport]:
    """Bring a mix to a loudness target without its true peak passing a ceiling.

    Parameters
    ----------
    mix
        Shape (channels, samples), float, finite; usually (2, n) binaural.
    sample_rate
        Hz, positive.
    target_lufs
        Integrated loudness wanted, LUFS (BS.1770).
    ceiling_dbtp
        Highest true peak allowed, dBTP (<= 0).

    Returns
    -------
    out : numpy.ndarray
        float32, same shape as ``mix``, finite, every ``|x| <= 10^(ceiling_dbtp / 20)``.
    report : MasteringReport
        Loudness and true peak before and after, the gain (dB) and whether limiting acted.

    Notes
    -----
    Gain to target, then a linked look-ahead limiter at the ceiling; the loudness lost to
    limiting is won back in up to four passes, so the result lands within 0.5 LU of the
    target unless the input is so peaky that this would take more than 10 dB of extra
    gain. Silent input comes back as zeros; input shorter than 0.4 s (no integrated
    loudness exists) or quieter than BS.1770's -70 LUFS gate is peak-normalised to the
    ceiling; the report's ``note`` says which.
    """
    x = _check_mix(mix)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)")
    if not math.isfinite(target_lufs) or target_lufs >= 0.0:
        raise ValueError(f"target_lufs={target_lufs!r} must be a finite level below 0 LUFS")
    if not math.isfinite(ceiling_dbtp) or ceiling_dbtp > 0.0:
        raise ValueError(f"ceiling_dbtp={ceiling_dbtp!r} must be a finite level <= 0 dBTP")
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    peak_in = true_peak_dbtp(x)

    if not np.any(x):
        report = MasteringReport(
            loudness_in_lufs=-math.inf,
            loudness_out_lufs=-math.inf,
            true_peak_in_dbtp=-math.inf,
            true_peak_out_dbtp=-math.inf,
            gain_db=0.0,
            limited=False,
            note="silent input: returned as silence",
        )
        return np.zeros(x.shape, dtype=np.float32), report

    loudness_in = _loudness(x, sample_rate)
    if not math.isfinite(loudness_in):
        why = (
            f"shorter than {_BLOCK_S} s"
            if x.shape[1] < _BLOCK_S * sample_rate
            else "below the -70 LUFS gate"
        )
        gain_db = ceiling_dbtp - _MARGIN_DB - peak_in
        out, peak_out, _ = _finish(x * 10.0 ** (gain_db / 20.0), ceiling)
        report = MasteringReport(
            loudness_in_lufs=loudness_in,
            loudness_out_lufs=_loudness(out, sample_rate),
            true_peak_in_dbtp=peak_in,
            true_peak_out_dbtp=peak_out,
            gain_db=gain_db,
            limited=False,
            note=f"no integrated loudness (input {why}): peak-normalised to the ceiling",
        )
        return out, report

    limit_at = 10.0 ** ((ceiling_dbtp - _MARGIN_DB) / 20.0)
    first_gain_db = target_lufs - loudness_in
    gain_db = first_gain_db
    limited = False
    out = x
    loudness_out = loudness_in
    for _ in range(_PASSES):
        scaled = x * 10.0 ** (gain_db / 20.0)
        out, acted = _limit(scaled, limit_at, sample_rate)
        limited = acted
        loudness_out = _loudness(out, sample_rate)
        error = target_lufs - loudness_out
        if abs(error) < 0.05 or not acted:
            break
        gain_db = min(gain_db + error, first_gain_db + _MAX_EXTRA_GAIN_DB)
    out, peak_out, rescaled = _finish(out, ceiling)
    if rescaled:
        loudness_out = _loudness(out, sample_rate)
    note = ""
    if abs(loudness_out - target_lufs) > 0.5:
        note = (
            f"target {target_lufs} LUFS not reached ({loudness_out:.1f} LUFS): the input's "
            "peaks allow no more gain under the ceiling"
        )
    report = MasteringReport(
        loudness_in_lufs=loudness_in,
        loudness_out_lufs=loudness_out,
        true_peak_in_dbtp=peak_in,
        true_peak_out_dbtp=peak_out,
        gain_db=gain_db,
        limited=limited,
        note=note,
    )
    return out, report


def _check_mix(mix: np.ndarray) -> np.ndarray:
    if not isinstance(mix, np.ndarray):
        raise ValueError(f"mix must be a numpy array (channels, samples); got {type(mix)}")
    if mix.ndim != 2 or mix.shape[0] < 1 or mix.shape[1] < 1:
        raise ValueError(f"mix.shape={mix.shape} must be (channels, samples), both >= 1")
    if not np.issubdtype(mix.dtype, np.floating):
        raise ValueError(f"mix.dtype={mix.dtype} must be floating point")
    if not np.all(np.isfinite(mix)):
        channel, sample = np.argwhere(~np.isfinite(mix))[0]
        raise ValueError(
            f"mix must be finite; mix[{channel}, {sample}] = {mix[channel, sample]} (NaN/Inf)"
        )
    return mix.astype(np.float64)


def _loudness(x: np.ndarray, sample_rate: int) -> float:
    if x.shape[1] < _BLOCK_S * sample_rate:
        return -math.inf
    # Binaural pairs count as left and right.
    return integrated_loudness(x, sample_rate)


def sample_peaks(x: np.ndarray) -> np.ndarray:
    """Peak of each sample's four sub-samples over all channels, 4x oversampled.

    The same interpolation as ``scipy.signal.resample_poly(x, 4, 1, axis=-1)`` (its
    81-tap Kaiser-windowed sinc, beta 5), computed block by block without making the
    oversampled signal: sub-samples ``4 i .. 4 i + 3`` of every channel give ``peaks[i]``.

    Parameters
    ----------
    x
        Shape (channels, samples), float.

    Returns
    -------
    numpy.ndarray
        float64, shape (samples,): ``max |y|`` over the channels and the four sub-samples.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    return _polyphase_peaks(x, _POLYPHASE, _POLYPHASE_LAG)


def _interpolation_phases() -> tuple[np.ndarray, int]:
    """resample_poly's filter for 4x (``firwin(81, 1/4, ('kaiser', 5)) * 4``) as phases.

    Sub-sample ``r`` of sample ``i`` is ``sum_j phases[r, j] x[i + lag - j]``. Taps that
    are zero but for rounding (every fourth one, where the sinc crosses zero) are set to
    zero.
    """
    half = 10 * _OVERSAMPLE  # resample_poly's half length for up = 4, down = 1
    m = np.arange(2 * half + 1) - half
    taps = np.sinc(m / _OVERSAMPLE) * np.kaiser(2 * half + 1, 5.0)
    taps *= _OVERSAMPLE / taps.sum()
    taps[np.abs(taps) < 1e-12] = 0.0
    lag = half // _OVERSAMPLE
    phases = np.zeros((_OVERSAMPLE, 2 * lag + 1))
    for r in range(_OVERSAMPLE):
        for j in range(2 * lag + 1):
            k = half + r + _OVERSAMPLE * (j - lag)
            if 0 <= k <= 2 * half:
                phases[r, j] = taps[k]
    return phases, lag


_POLYPHASE, _POLYPHASE_LAG = _interpolation_phases()
# Samples per block of the kernel: its sums stay in the first-level cache.
_PEAK_BLOCK = 2048


@njit(cache=True, fastmath=True)
def _polyphase_peaks(x: np.ndarray, phases: np.ndarray, lag: int) -> np.ndarray:
    # float32 sums, as resample_poly gives for float32 input: twice the SIMD lanes, and an
    # error near 1e-7 of full scale, far inside the limiter's margin and the final guard's.
    # The four phases share each load of the signal; per block of samples the sums stay
    # in the first-level cache, where a whole oversampled signal would not fit any cache.
    channels, n = x.shape
    width = phases.shape[1]
    taps = phases.astype(np.float32)
    peaks = np.zeros(n, dtype=np.float32)
    padded = np.zeros(n + 2 * lag, dtype=np.float32)
    sum0 = np.empty(_PEAK_BLOCK, dtype=np.float32)
    sum1 = np.empty(_PEAK_BLOCK, dtype=np.float32)
    sum2 = np.empty(_PEAK_BLOCK, dtype=np.float32)
    sum3 = np.empty(_PEAK_BLOCK, dtype=np.float32)
    for c in range(channels):
        padded[lag : lag + n] = x[c]
        for start in range(0, n, _PEAK_BLOCK):
            m = min(_PEAK_BLOCK, n - start)
            sum0[:m] = 0.0
            sum1[:m] = 0.0
            sum2[:m] = 0.0
            sum3[:m] = 0.0
            for j in range(width):
                t0, t1, t2, t3 = taps[0, j], taps[1, j], taps[2, j], taps[3, j]
                segment = padded[start + 2 * lag - j : start + 2 * lag - j + m]
                for i in range(m):
                    v = segment[i]
                    sum0[i] += t0 * v
                    sum1[i] += t1 * v
                    sum2[i] += t2 * v
                    sum3[i] += t3 * v
            block = peaks[start : start + m]
            for i in range(m):
                block[i] = max(block[i], abs(sum0[i]), abs(sum1[i]), abs(sum2[i]), abs(sum3[i]))
    return peaks.astype(np.float64)


def _limit(x: np.ndarray, limit_at: float, sample_rate: int) -> tuple[np.ndarray, bool]:
    """Linked look-ahead limiter: one gain curve for all channels. Returns (out, acted)."""
    # Peak around each sample: its own sub-samples and those just before it, all channels.
    peak = sample_peaks(x)
    peak[1:] = np.maximum(peak[1:], peak[:-1])
    if peak.max() <= limit_at:
        return x, False
    required = np.minimum(1.0, limit_at / np.maximum(peak, 1e-30))
    window = max(1, round(_LOOKAHEAD_S * sample_rate))
    release = math.exp(-1.0 / (_RELEASE_S * sample_rate))
    gain = _gain_curve(required, window, release)
    return x * gain[None, :], True


@njit(cache=True)
def _gain_curve(required: np.ndarray, window: int, release: float) -> np.ndarray:
    # Forward minimum over the look-ahead window, then a release that recovers slowly, then
    # a moving average over the same window: every sample's gain is an average of values
    # that are each <= the gain its own peak requires, so no peak passes the limit, and
    # the gain starts falling one window before the peak (no click).
    n = required.size
    # Minimum over [i, i + window) in O(n) (van Herk / Gil-Werman): per block of `window`
    # samples, a running minimum from the block's start and one from its end.
    blocks = (n + window - 1) // window + 1
    padded = np.ones(blocks * window)
    padded[:n] = required
    from_start = np.empty(padded.size)
    from_end = np.empty(padded.size)
    for b in range(blocks):
        lo = b * window
        m = 1.0
        for i in range(lo, lo + window):
            m = min(m, padded[i])
            from_start[i] = m
        m = 1.0
        for i in range(lo + window - 1, lo - 1, -1):
            m = min(m, padded[i])
            from_end[i] = m
    ahead = np.empty(n)
    for i in range(n):
        ahead[i] = min(from_end[i], from_start[i + window - 1])
    held = np.empty(n)
    g = 1.0
    for i in range(n):
        g = 1.0 - (1.0 - g) * release
        if ahead[i] < g:
            g = ahead[i]
        held[i] = g
    out = np.empty(n)
    total = 0.0
    for i in range(n):
        total += held[i]
        if i >= window:
            total -= held[i - window]
        out[i] = total / min(i + 1, window)
    return out


def _finish(x: np.ndarray, ceiling: float) -> tuple[np.ndarray, float, bool]:
    """Return float32 audio under the ceiling, its true peak (dBTP) and whether it was scaled.

    The last guard against what the limiter's estimate missed: scale (not clip) so that the
    true peak, and with it every sample, stays under the ceiling.
    """
    peak = float(np.max(sample_peaks(x), initial=0.0))
    peak = max(peak, float(np.max(np.abs(x), initial=0.0)))
    rescaled = peak > ceiling
    if rescaled:
        scale = ceiling / peak * (1.0 - 1e-5)
        x = x * scale
        peak *= scale
    out = x.astype(np.float32)
    if not np.all(np.isfinite(out)):
        # Cannot happen for finite input below the ceiling; kept because headphones are
        # at the end of this and a NaN there is worse than a dropout.
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(out, -ceiling, ceiling, out=out)
    return out, (20.0 * math.log10(peak) if peak > 0.0 else -math.inf), rescaled
