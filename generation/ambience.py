"""Procedural ambiences as mono stems: calm sea waves (平静的海浪声), wind, rain, birds,
running water and a distant crowd.

Each is shaped noise or a stream of synthesised events (bird chirps, water bubbles) at
random times from the seed: no two waves or phrases alike, no loop heard. Every sample loop
runs in numba: the envelopes, the events, and the filters (Butterworth sections from
:func:`generation.butterworth.butterworth_sos`, scipy's design, run by :func:`_sosfilt`, a
transposed direct-form II biquad cascade that gives scipy's ``sosfilt`` result to rounding).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from generation.butterworth import butterworth_sos

__all__ = ["AMBIENCE_KINDS", "make_ambience"]

AMBIENCE_KINDS: tuple[str, ...] = ("sea", "wind", "rain", "birds", "water", "crowd")
_TARGET_RMS_DBFS = -24.0
_CROWD_VOICES = 10
_GATE_DECIMATION = 100


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
    audio = _SYNTHS[kind](total, sample_rate, rng)
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
def _sosfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Filter ``x`` through second-order sections ``sos`` (rows b0 b1 b2 a0 a1 a2, a0 = 1)."""
    y = x.copy()
    for section in range(sos.shape[0]):
        b0, b1, b2 = sos[section, 0], sos[section, 1], sos[section, 2]
        a1, a2 = sos[section, 4], sos[section, 5]
        z1 = 0.0
        z2 = 0.0
        for i in range(y.size):
            xi = y[i]
            yi = b0 * xi + z1
            z1 = b1 * xi - a1 * yi + z2
            z2 = b2 * xi - a2 * yi
            y[i] = yi
    return y


def _filtered(
    noise: np.ndarray, cutoff: float | list[float], kind: str, sample_rate: int, order: int = 2
) -> np.ndarray:
    return _sosfilt(butterworth_sos(order, cutoff, kind, sample_rate=sample_rate), noise)


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
    rumble = _unit(_filtered(rng.standard_normal(n), 500, "low", sample_rate))
    wash = _unit(_filtered(rng.standard_normal(n), [600, 4000], "band", sample_rate))
    # The low roar follows the swell; the softer wash belongs to the breaking crest. A calm
    # sea is mostly roar.
    return (0.2 + 0.8 * np.sqrt(envelope)) * rumble + 0.6 * envelope**2 * wash


def _unit(signal: np.ndarray) -> np.ndarray:
    return signal / (np.sqrt(np.mean(signal**2)) + 1e-20)


def _wind(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    gusts = _filtered(rng.standard_normal(n), 0.3, "low", sample_rate, order=1)
    gusts = 0.5 + np.abs(gusts) / (np.abs(gusts).max() + 1e-12)
    noise = _filtered(rng.standard_normal(n), [200, 1500], "band", sample_rate)
    return gusts * noise


def _rain(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    hiss = _filtered(rng.standard_normal(n), 2000, "high", sample_rate)
    drops = np.zeros(n)
    positions = rng.integers(0, n, size=int(n / sample_rate * 40))
    drops[positions] = rng.uniform(0.5, 3.0, positions.size)
    drops = _filtered(drops, [1500, 8000], "band", sample_rate)
    return 0.4 * hiss + drops


@njit(cache=True)
def _glides(
    n: int,
    sample_rate: int,
    starts: np.ndarray,
    lengths: np.ndarray,
    f_start: np.ndarray,
    f_end: np.ndarray,
    amplitudes: np.ndarray,
    decay: float,
) -> np.ndarray:
    """Sum of short sine events whose pitch glides from f_start to f_end (Hz).

    decay 0 gives a raised-sine envelope (a chirp); decay > 0 an exponential decay over
    the event, as of a bubble that rings down.
    """
    out = np.zeros(n)
    for k in range(starts.size):
        phase = 0.0
        length = lengths[k]
        for i in range(length):
            j = starts[k] + i
            if j >= n:
                break
            x = i / length
            frequency = f_start[k] + (f_end[k] - f_start[k]) * x
            phase += 2.0 * np.pi * frequency / sample_rate
            envelope = np.sin(np.pi * x) if decay == 0.0 else np.exp(-decay * x) * min(1.0, 50 * x)
            out[j] += amplitudes[k] * envelope * np.sin(phase)
    return out


def _birds(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    # Phrases of 3 to 8 chirps, a few seconds apart; each bird sings in its own range.
    starts, lengths, f0, f1, amps = [], [], [], [], []
    t = rng.uniform(0.0, 1.0)
    while t < n / sample_rate:
        base = rng.uniform(2500, 5500)
        gap = rng.uniform(0.05, 0.15)
        level = rng.uniform(0.3, 1.0)
        for _ in range(int(rng.integers(3, 9))):
            length = rng.uniform(0.03, 0.12)
            starts.append(int(t * sample_rate))
            lengths.append(max(8, int(length * sample_rate)))
            f0.append(base * rng.uniform(0.8, 1.2))
            f1.append(base * rng.uniform(0.7, 1.4))
            amps.append(level * rng.uniform(0.6, 1.0))
            t += length + gap
        t += rng.exponential(2.5)
    chirps = _glides(n, sample_rate, *map(np.asarray, (starts, lengths, f0, f1, amps)), 0.0)
    air = _filtered(rng.standard_normal(n), 300, "high", sample_rate)
    return chirps + 0.02 * air


def _water(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    # A brook: many small bubbles (rising, ringing down) over a bed of bright noise.
    count = int(n / sample_rate * 60)
    starts = np.sort(rng.integers(0, n, count))
    lengths = rng.integers(int(0.01 * sample_rate), int(0.05 * sample_rate), count)
    f0 = rng.uniform(500, 2000, count)
    bubbles = _glides(
        n,
        sample_rate,
        starts,
        lengths,
        f0,
        f0 * rng.uniform(1.1, 1.6, count),
        rng.uniform(0.2, 1.0, count),
        6.0,
    )
    bed = _filtered(rng.standard_normal(n), [1000, 8000], "band", sample_rate)
    return bubbles + 0.15 * bed


def _crowd(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    # Distant voices: speech-band noise, each voice gated by its own syllable rhythm
    # (about 4 syllables a second), many voices blurring into a murmur. The sum of
    # independent gated noises, sum_v g_v(t) w_v(t), is Gaussian noise of level
    # sqrt(sum_v g_v(t)^2): one noise and one band filter stand for all the voices, and the
    # gates, which move at syllable rate, are made at a hundredth of the sample rate.
    gate_rate = sample_rate / _GATE_DECIMATION
    m = n // _GATE_DECIMATION + 2
    syllables = butterworth_sos(2, 5.0, "low", sample_rate=gate_rate)
    gates = np.empty((_CROWD_VOICES, m))
    for v in range(_CROWD_VOICES):
        gates[v] = _sosfilt(syllables, rng.standard_normal(m))
    level = np.sqrt(np.sum(np.maximum(gates, 0.0) ** 2, axis=0))
    level = np.interp(np.arange(n) / _GATE_DECIMATION, np.arange(m), level)
    return _filtered(level * rng.standard_normal(n), [250, 2500], "band", sample_rate)


_SYNTHS = {
    "sea": _sea,
    "wind": _wind,
    "rain": _rain,
    "birds": _birds,
    "water": _water,
    "crowd": _crowd,
}
