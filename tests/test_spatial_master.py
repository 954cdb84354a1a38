"""Mastering: loudness target, true-peak ceiling measured independently, linked gain."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import correlate, resample_poly

from spatial import master

FS = 48_000


def _loudness(x: np.ndarray) -> float:
    return float(pyloudnorm.Meter(FS).integrated_loudness(x.T.astype(np.float64)))


def _true_peak_dbtp(x: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(resample_poly(x.astype(np.float64), 4, 1, axis=-1)))))


def _music_like(seconds: float, lufs: float, seed: int = 0) -> np.ndarray:
    """Pinkish stereo noise with a beat (amplitude pulses at 2 Hz), scaled to ``lufs``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    white = rng.standard_normal((2, n))
    spectrum = np.fft.rfft(white, axis=-1)
    f = np.fft.rfftfreq(n, 1 / FS)
    spectrum /= np.sqrt(np.maximum(f, 20.0))
    x = np.fft.irfft(spectrum, n=n, axis=-1)
    x[1] = 0.7 * x[0] + 0.3 * x[1]
    t = np.arange(n) / FS
    x *= 0.3 + np.abs(np.sin(2 * np.pi * t)) ** 8
    return x * 10 ** ((lufs - _loudness(x)) / 20)


def test_quiet_music_reaches_the_target_under_the_ceiling() -> None:
    mix = _music_like(10.0, -30.0).astype(np.float32)
    out, report = master(mix)
    assert out.dtype == np.float32
    assert out.shape == mix.shape
    assert _loudness(out) == pytest.approx(-16.0, abs=0.5)
    assert _true_peak_dbtp(out) <= -1.0
    assert report.loudness_in_lufs == pytest.approx(-30.0, abs=0.1)
    assert report.loudness_out_lufs == pytest.approx(_loudness(out), abs=0.05)
    assert report.note == ""


def test_a_huge_click_is_limited_with_one_gain_for_both_ears() -> None:
    rng = np.random.default_rng(1)
    n = 3 * FS
    noise = 0.01 * rng.standard_normal(n)
    mix = np.stack([noise, np.roll(noise, 20)])
    mix[0, FS] += 40.0
    # The right ear hears the click 0.5 ms later and 6 dB softer: an ITD to keep.
    mix[1, FS + 24] += 20.0
    out, report = master(mix, target_lufs=-14.0, ceiling_dbtp=-1.0)
    ceiling = 10 ** (-1.0 / 20)
    assert np.max(np.abs(out)) <= ceiling
    assert _true_peak_dbtp(out) <= -1.0
    assert report.limited
    # Linked: one gain curve, so out / in is the same in both ears at every sample.
    gain = out.astype(np.float64) / mix
    strong = np.all(np.abs(mix) > 1e-3, axis=0)
    np.testing.assert_allclose(gain[0, strong], gain[1, strong], rtol=1e-3)
    around = slice(FS - 200, FS + 200)
    c = correlate(out[0, around].astype(np.float64), out[1, around].astype(np.float64))
    assert np.argmax(c) - (400 - 1) == -24


def test_silence_stays_silent() -> None:
    out, report = master(np.zeros((2, FS), dtype=np.float32))
    assert not np.any(out)
    assert np.all(np.isfinite(out))
    assert report.loudness_out_lufs == -np.inf
    assert "silent" in report.note


def test_too_short_input_is_peak_normalised() -> None:
    mix = 0.01 * np.random.default_rng(2).standard_normal((2, FS // 10))
    out, report = master(mix)
    assert np.all(np.isfinite(out))
    assert _true_peak_dbtp(out) <= -1.0
    assert _true_peak_dbtp(out) > -1.5
    assert "0.4 s" in report.note


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        (np.array([[0.0, np.nan]]), r"finite; mix\[0, 1\] = nan"),
        (np.zeros(10), r"mix\.shape=\(10,\) must be \(channels, samples\)"),
        (np.zeros((2, 10), dtype=np.int16), "mix.dtype=int16"),
    ],
)
def test_bad_mix(mix: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        master(mix)


def test_bad_options() -> None:
    mix = np.zeros((2, 10))
    with pytest.raises(ValueError, match=r"ceiling_dbtp=1.0"):
        master(mix, ceiling_dbtp=1.0)
    with pytest.raises(ValueError, match="target_lufs=nan"):
        master(mix, target_lufs=float("nan"))
    with pytest.raises(ValueError, match="sample_rate=0"):
        master(mix, sample_rate=0)


@pytest.mark.parametrize("n", [1, 7, 2047, 2049, 48_000])
def test_sample_peaks_are_resample_polys_sub_sample_peaks(n: int) -> None:
    from spatial.master import sample_peaks, true_peak_dbtp

    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n))
    x[1, n // 2] = 4.0  # a lone spike: its sub-samples ring on both sides
    expected = np.abs(resample_poly(x, 4, 1, axis=-1)).reshape(2, n, 4).max(axis=(0, 2))
    got = sample_peaks(x)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6 * expected.max())
    assert true_peak_dbtp(x) == pytest.approx(_true_peak_dbtp(x), abs=1e-5)
