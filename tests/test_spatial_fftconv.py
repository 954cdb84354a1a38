"""Overlap-add convolution (spatial.fftconv) against scipy.signal.oaconvolve, which it replaces."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import oaconvolve

from spatial.fftconv import _fft_size, convolve


def _pair(n: int, m: int, channels: int, dtype: type, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dtype)
    # A decaying response, as a room's is.
    h = (rng.standard_normal((channels, m)) * np.exp(-np.arange(m) / max(m / 4, 1))).astype(dtype)
    return x, h


def _close(ours: np.ndarray, theirs: np.ndarray, dtype: type) -> None:
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    # Relative to the output's peak: an FFT's rounding is spread over all its samples.
    tolerance = 2e-6 if dtype == np.float32 else 1e-12
    scale = float(np.max(np.abs(theirs)))
    assert float(np.max(np.abs(ours.astype(np.float64) - theirs))) <= tolerance * scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n", "m", "channels"),
    [
        (480_000, 1220, 2),  # a source through its early response (10 s)
        (480_000, 4356, 2),  # ... in a large hall
        (200_000, 97_000, 2),  # the sum of the sources through the late tail
        (100_000, 30, 1),
        (12_345, 777, 2),  # not a whole number of blocks
        (5000, 5000, 2),
        (300, 20_000, 1),  # h longer than x
        (300, 20_000, 2),
        (1, 500, 2),  # x of one sample
        (500, 1, 2),
        (1, 1, 1),
    ],
)
def test_it_gives_oaconvolves_result(n: int, m: int, channels: int, dtype: type) -> None:
    x, h = _pair(n, m, channels, dtype)
    _close(convolve(x, h), oaconvolve(x[None, :], h, axes=-1), dtype)


def test_a_one_dimensional_response_gives_a_one_dimensional_result() -> None:
    x, h = _pair(50_000, 700, 1, np.float32, seed=1)
    out = convolve(x, h[0])
    assert out.shape == (50_699,)
    _close(out, oaconvolve(x, h[0]), np.float32)


def test_mixed_dtypes_give_float64() -> None:
    x, h = _pair(20_000, 300, 2, np.float32, seed=2)
    out = convolve(x, h.astype(np.float64))
    assert out.dtype == np.float64
    _close(
        out, oaconvolve(x[None, :].astype(np.float64), h.astype(np.float64), axes=-1), np.float32
    )


def test_an_impulse_returns_the_response_and_a_delay_shifts_it() -> None:
    _, h = _pair(1, 3000, 2, np.float64, seed=3)
    x = np.zeros(40_000)
    x[0] = 1.0
    x[25_000] = -0.5
    out = convolve(x, h)
    np.testing.assert_allclose(out[:, :3000], h, atol=1e-12)
    np.testing.assert_allclose(out[:, 25_000:28_000], -0.5 * h, atol=1e-12)
    assert np.max(np.abs(out[:, 3000:25_000])) < 1e-12


def test_empty_input_gives_an_empty_result() -> None:
    assert convolve(np.zeros(0, np.float32), np.ones((2, 5), np.float32)).shape == (2, 0)
    assert convolve(np.ones(5), np.zeros((2, 0))).shape == (2, 0)


@pytest.mark.parametrize(("x_shape", "h_shape"), [((2, 10), (2, 5)), ((10,), (1, 2, 5))])
def test_shapes_it_cannot_convolve_are_refused(
    x_shape: tuple[int, ...], h_shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="shape"):
        convolve(np.zeros(x_shape), np.zeros(h_shape))


def test_blocks_leave_room_for_the_overlap_and_long_signals_are_cut_into_them() -> None:
    for n, m in [(480_000, 1220), (2_880_000, 1250), (480_000, 4356), (100_000, 40_000)]:
        size = _fft_size(n, m)
        assert size - m + 1 >= m - 1 or size >= n + m - 1
    # A short response on a long signal: blocks, not one transform of the whole signal.
    assert _fft_size(2_880_000, 1250) <= 16_384
    # Comparable lengths: one transform.
    assert _fft_size(480_000, 230_035) >= 480_000 + 230_035 - 1


def test_the_renderers_import_no_scipy_signal() -> None:
    # A fresh render process would spend over a second importing it.
    code = (
        "import sys\n"
        "import loci.audio_sources, spatial.ambisonics, spatial.loudness, spatial.render\n"
        "assert 'scipy.signal' not in sys.modules, 'scipy.signal was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
