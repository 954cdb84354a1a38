"""Integrated loudness (spatial.loudness) against pyloudnorm, the reference it replaces."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from spatial.loudness import integrated_loudness

FS = 48_000


def _reference(audio: np.ndarray, rate: int = FS) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64)))


def _noise(channels: int, seconds: float, rms: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rms * rng.standard_normal((channels, round(seconds * FS)))


def _sine(frequency: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * FS)) / FS
    return amplitude * np.sin(2 * np.pi * frequency * t)


@pytest.mark.parametrize("rms", [0.3, 0.03, 0.001, 0.00003])
def test_stereo_noise_at_any_level_reads_as_pyloudnorm(rms: float) -> None:
    x = _noise(2, 6.0, rms, seed=1)
    assert integrated_loudness(x, FS) == pytest.approx(_reference(x), abs=0.01)


def test_a_1khz_sine_reads_as_pyloudnorm_and_as_the_standard_says() -> None:
    # BS.1770: a 0 dBFS 1 kHz sine in the left, centre or right channel reads -3.01 LKFS
    # (the K-weighting passes 1 kHz at about 0 dB).
    mono = _sine(1000.0, 5.0, 1.0)[None, :]
    loudness = integrated_loudness(mono, FS)
    assert loudness == pytest.approx(_reference(mono), abs=0.01)
    assert -3.1 < loudness < -2.95
    stereo = np.stack([mono[0], 0.5 * mono[0]])
    assert integrated_loudness(stereo, FS) == pytest.approx(_reference(stereo), abs=0.01)


def test_silent_stretches_are_gated_out_as_pyloudnorm_gates_them() -> None:
    x = _noise(2, 12.0, 0.1, seed=2)
    x[:, 2 * FS : 7 * FS] = 0.0  # digital silence: under the absolute gate
    x[:, 8 * FS : 9 * FS] *= 10 ** (-5 / 20)  # 5 dB down: kept
    x[:, 9 * FS : 11 * FS] *= 10 ** (-15 / 20)  # 15 dB down: under the relative gate of -10 LU
    loudness = integrated_loudness(x, FS)
    assert loudness == pytest.approx(_reference(x), abs=0.01)
    # Both gates matter: the mean square over every sample would read lower.
    ungated = -0.691 + 10 * math.log10(2 * np.mean(x**2))
    assert loudness > ungated + 1.0


def test_a_signal_whose_loud_part_is_short_keeps_only_that_part() -> None:
    x = _noise(2, 10.0, 1e-4, seed=3)
    x[:, 4 * FS : 5 * FS] = _noise(2, 1.0, 0.2, seed=4)
    assert integrated_loudness(x, FS) == pytest.approx(_reference(x), abs=0.01)


def test_mono_and_one_dimensional_input() -> None:
    x = _noise(1, 3.0, 0.05, seed=5)
    reference = _reference(x)
    assert integrated_loudness(x, FS) == pytest.approx(reference, abs=0.01)
    assert integrated_loudness(x[0], FS) == pytest.approx(reference, abs=0.01)


def test_five_channels_weigh_the_surrounds_more() -> None:
    x = _noise(5, 4.0, 0.05, seed=6)
    x[3:] *= 2.0
    assert integrated_loudness(x, FS) == pytest.approx(_reference(x), abs=0.01)


@pytest.mark.parametrize("rate", [44_100, 32_000, 96_000])
def test_other_rates_and_lengths_that_are_not_whole_blocks(rate: int) -> None:
    # The K-weighting is designed for the rate; the block bounds are pyloudnorm's.
    x = 0.05 * np.random.default_rng(7).standard_normal((2, round(2.3456 * rate)))
    x[:, : rate // 2] *= 0.001
    assert integrated_loudness(x, rate) == pytest.approx(_reference(x, rate), abs=0.01)


def test_float32_input_reads_as_float64() -> None:
    x = _noise(2, 3.0, 0.1, seed=8)
    assert integrated_loudness(x.astype(np.float32), FS) == pytest.approx(_reference(x), abs=0.01)


@pytest.mark.parametrize("samples", [0, 1, 19_199])
def test_shorter_than_one_block_is_minus_infinity(samples: int) -> None:
    # pyloudnorm raises ValueError there; a render of a very short piece asks anyway.
    x = _noise(2, samples / FS, 0.1)
    assert integrated_loudness(x, FS) == -math.inf
    assert integrated_loudness(_noise(2, 19_200 / FS, 0.1), FS) > -math.inf


def test_silence_and_sound_under_the_absolute_gate_are_minus_infinity() -> None:
    silent = np.zeros((2, 2 * FS))
    assert integrated_loudness(silent, FS) == -math.inf
    assert _reference(silent) == -math.inf
    faint = _noise(2, 2.0, 1e-5)  # about -97 LUFS
    assert _reference(faint) == -math.inf
    assert integrated_loudness(faint, FS) == -math.inf
    assert integrated_loudness(faint * 1e3, FS) > -math.inf


@pytest.mark.parametrize("shape", [(6, 48_000), (0, 48_000), (1, 2, 48_000)])
def test_shapes_it_cannot_measure_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="channels"):
        integrated_loudness(np.zeros(shape), FS)
