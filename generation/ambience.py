"""Procedural ambiences: calm sea waves (平静的海浪声), wind and rain, as mono stems.

Each is shaped noise with a slow, irregular envelope: no two waves alike, no loop heard.
The envelope loops run in numba; the filtering is scipy's.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.signal import butter, sosfilt

__all__ = ["AMBIENCE_KINDS", "make_ambience"]

AMBIENCE_KINDS: tuple[str, ...] = ("sea", "wind", "rain")
_TARGET_RMS_DBFS = -24.0


def make_ambience(
    kind: str, *, duration_s: float, seed: int, sample_rate: int = 48_000, loop: bool = False
) -> np.ndarray:
    """Synthesise an ambience.

    Parameters
    ----------
    kind
        One of :data:`AMBIENCE_KINDS`.
    duration_s
        Length, seconds (> 0).
    seed
        Same seed, same sound.
    sample_rate
        Hz.
    loop
        Make the end flow into the start: the sound runs on past the end and is
        crossfaded (equal power, 1 s) into the beginning, with no fade in or out.

    Returns
    -------
    numpy.ndarray
        float32, shape (round(duration_s * sample_rate),), RMS about -24 dBFS.
    """
    if kind not in AMBIENCE_KINDS:
        raise ValueError(f"ambience: got {kind!r}; allowed: {', '.join(AMBIENCE_KINDS)}")
    if not duration_s > 0:
        raise ValueError(f"duration_s: got {duration_s!r}; must be > 0 seconds")
    n = round(duration_s * sample_rate)
    crossfade = min(n // 2, sample_rate) if loop else 0
    total = n + crossfade
    rng = np.random.default_rng([seed, sum(map(ord, kind))])
    if kind == "sea":
        audio = _sea(total, sample_rate, rng)
    elif kind == "wind":
        audio = _wind(total, sample_rate, rng)
    else:
        audio = _rain(total, sample_rate, rng)
    rms = float(np.sqrt(np.mean(audio**2))) or 1.0
    audio *= 10 ** (_TARGET_RMS_DBFS / 20) / rms
    if loop:
        # Equal-power crossfade of the overrun into the start: sample n - 1 is followed,
        # around the loop, by what would have followed it.
        t = np.linspace(0.0, np.pi / 2, crossfade)
        head = audio[:crossfade] * np.sin(t) + audio[n:total] * np.cos(t)
        audio = np.concatenate([head, audio[crossfade:n]])
        return audio.astype(np.float32)
    fade = min(n // 2, round(0.5 * sample_rate))
    ramp = np.linspace(0.0, 1.0, fade)
    audio[:fade] *= ramp
    audio[n - fade :] *= ramp[::-1]
    return audio.astype(np.float32)


@njit(cache=True)
def _wave_envelope(
    n: int, sample_rate: int, periods: np.ndarray, heights: np.ndarray
) -> np.ndarray:
    """Swells: each wave rises over 40% of its period, breaks, and ebbs away."""
    envelope = np.zeros(n)
    start = 0
    k = 0
    while start < n and k < periods.size:
        length = int(periods[k] * sample_rate)
        rise = int(0.4 * length)
        for i in range(length):
            j = start + i
            if j >= n:
                break
            if i < rise:
                x = i / rise
                value = 0.5 - 0.5 * np.cos(np.pi * x)
            else:
                x = (i - rise) / (length - rise)
                value = np.exp(-4.0 * x)
            envelope[j] = max(envelope[j], heights[k] * value)
        # The next wave starts before this one has fully ebbed: waves overlap.
        start += int(0.8 * length)
        k += 1
    return envelope


def _sea(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    count = int(n / sample_rate / 4.0) + 4
    periods = rng.uniform(6.0, 12.0, count)
    heights = rng.uniform(0.5, 1.0, count)
    envelope = _wave_envelope(n, sample_rate, periods, heights)
    rumble = sosfilt(butter(2, 400, "low", fs=sample_rate, output="sos"), rng.standard_normal(n))
    wash = sosfilt(
        butter(2, [800, 6000], "band", fs=sample_rate, output="sos"), rng.standard_normal(n)
    )
    # The low roar follows the swell; the bright wash belongs to the breaking crest.
    return (0.2 + 0.8 * np.sqrt(envelope)) * rumble + 1.2 * envelope**2 * wash


def _wind(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    gusts = sosfilt(butter(1, 0.3, "low", fs=sample_rate, output="sos"), rng.standard_normal(n))
    gusts = 0.5 + np.abs(gusts) / (np.abs(gusts).max() + 1e-12)
    noise = sosfilt(
        butter(2, [200, 1500], "band", fs=sample_rate, output="sos"), rng.standard_normal(n)
    )
    return gusts * noise


def _rain(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    hiss = sosfilt(butter(2, 2000, "high", fs=sample_rate, output="sos"), rng.standard_normal(n))
    drops = np.zeros(n)
    positions = rng.integers(0, n, size=int(n / sample_rate * 40))
    drops[positions] = rng.uniform(0.5, 3.0, positions.size)
    drops = sosfilt(butter(2, [1500, 8000], "band", fs=sample_rate, output="sos"), drops)
    return 0.4 * hiss + drops
