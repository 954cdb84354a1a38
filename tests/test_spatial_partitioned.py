"""Partitioned convolution: the two-stage tail convolver and the delay line's still path."""

from __future__ import annotations

import numpy as np
import pytest

from spatial.fractional import FRACTIONAL_DELAY_HALF_TAPS, fractional_delay_kernel, variable_delay
from spatial.partitioned import LATE_PARTITION_SAMPLES, TailConvolver


def _blocks(convolver: TailConvolver, x: np.ndarray, block: int) -> np.ndarray:
    out = []
    for k in range(x.size // block):
        convolver.push(x[k * block : (k + 1) * block])
        spectrum = np.zeros((2, block + 1), dtype=np.complex64)
        convolver.add_head(spectrum)
        head = np.fft.irfft(spectrum, n=2 * block, axis=-1)[:, block:]
        out.append(head + convolver.late())
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("block", [64, 256, 1000, 4096])
@pytest.mark.parametrize("silent_start", [0, 5000])
def test_tail_convolver_is_the_convolution(block: int, silent_start: int) -> None:
    rng = np.random.default_rng(3)
    # A decaying response of 0.4 s with a silent stretch in its middle (a partition of
    # zeros is skipped, not lost), and a noise input of 1.2 s. A large hall's tail is
    # silent until its transition time, here longer than the head of short partitions.
    n = 19_200
    response = rng.standard_normal((2, n)) * np.exp(-np.arange(n) / 4000.0)
    response[:, 6000:9000] = 0.0
    response[:, :silent_start] = 0.0
    x = (0.1 * rng.standard_normal(57_600)).astype(np.float32)
    x = x[: x.size // block * block]
    out = _blocks(TailConvolver(response, block_size=block), x, block)
    reference = np.stack([np.convolve(x, response[e])[: x.size] for e in range(2)])
    peak = np.abs(reference).max()
    np.testing.assert_allclose(out, reference, atol=2e-6 * peak)


def test_tail_convolver_uses_long_partitions_for_short_blocks() -> None:
    response = np.ones((2, 48_000))
    convolver = TailConvolver(response, block_size=256)
    # The head covers the first LATE_PARTITION_SAMPLES samples in 256-sample partitions;
    # the rest is 23 partitions of 2048 instead of 180 of 256.
    assert convolver._head_spec.shape[0] == LATE_PARTITION_SAMPLES // 256
    assert convolver._late_spec.shape[0] == -(-(48_000 - LATE_PARTITION_SAMPLES) // 2048)
    assert TailConvolver(response, block_size=4096)._late_spec.shape[0] == 0


def test_tail_convolver_reset_forgets_the_past() -> None:
    rng = np.random.default_rng(4)
    response = rng.standard_normal((2, 12_000))
    convolver = TailConvolver(response, block_size=128)
    _blocks(convolver, rng.standard_normal(6400).astype(np.float32), 128)
    convolver.reset()
    silence = _blocks(convolver, np.zeros(6400, dtype=np.float32), 128)
    assert not np.any(silence)


@pytest.mark.parametrize("delay", [7.0, 7.25, 130.5, 999.999])
def test_a_still_delay_line_is_the_fractional_delay_kernel(delay: float) -> None:
    rng = np.random.default_rng(5)
    block = 256
    history = rng.standard_normal(2048).astype(np.float32)
    still = np.empty(block, dtype=np.float32)
    variable_delay(history, delay, delay, still)
    # The block's sample n sits at history index (last + n); the kernel's tap j reads
    # `delay` samples earlier, as fractional_delay_kernel places it.
    half = FRACTIONAL_DELAY_HALF_TAPS
    whole = int(np.floor(delay))
    kernel = np.empty(2 * half)
    fractional_delay_kernel(delay - whole, half, kernel)
    last = history.size - block
    expected = np.array(
        [
            sum(kernel[j] * history[last + n - (whole - half + 1 + j)] for j in range(2 * half))
            for n in range(block)
        ]
    )
    np.testing.assert_allclose(still, expected, atol=1e-5)
    # The gliding path, with a glide too small to matter, reads the same samples.
    glide = np.empty(block, dtype=np.float32)
    variable_delay(history, delay, delay + 1e-9, glide)
    np.testing.assert_allclose(still, glide, atol=1e-5)
