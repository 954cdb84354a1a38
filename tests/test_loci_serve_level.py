"""The session's output stage: the listener's volume and the limiter that keeps it under 0 dBFS."""

from __future__ import annotations

import numpy as np

from loci.serve.session import level_block

_RECOVERY = (10 ** (6 / 20)) ** (256 / 48_000)  # 6 dB a second, over a block


def _stream(blocks: list[np.ndarray], volume: float = 1.0) -> tuple[np.ndarray, list[float]]:
    limiter, out, gains = 1.0, [], []
    for block in blocks:
        level = np.full(block.shape[1], volume, dtype=np.float32)
        leveled, limiter = level_block(block, level, gain=1.0, limiter=limiter, recovery=_RECOVERY)
        out.append(leveled)
        gains.append(limiter)
    return np.concatenate(out, axis=1), gains


def test_quiet_blocks_pass_unchanged_and_volume_scales_them() -> None:
    rng = np.random.default_rng(0)
    block = (0.1 * rng.standard_normal((2, 256))).astype(np.float32)
    out, gains = _stream([block])
    np.testing.assert_array_equal(out, block)
    assert gains == [1.0]
    half, _ = _stream([block], volume=0.5)
    np.testing.assert_allclose(half, 0.5 * block, rtol=1e-6)


def test_a_loud_burst_is_held_under_the_ceiling_and_released_slowly() -> None:
    rng = np.random.default_rng(1)
    quiet = [(0.2 * rng.standard_normal((2, 256))).astype(np.float32) for _ in range(4)]
    loud = [(2.0 * rng.standard_normal((2, 256))).astype(np.float32) for _ in range(4)]
    after = [(0.1 * rng.standard_normal((2, 256))).astype(np.float32) for _ in range(700)]
    out, gains = _stream(quiet + loud + after)
    assert np.max(np.abs(out)) <= 0.98 + 1e-6
    # The gain drops at once to what the burst's peak needs...
    peak = max(float(np.max(np.abs(b))) for b in loud[:1])
    assert abs(gains[4] - 0.98 / peak) < 1e-6
    # ...and comes back at 6 dB a second once the burst has passed: by the same factor
    # every block, until it is 1 again.
    release = np.array(gains[8:])
    rising = release[release < 1.0]
    assert rising.size > 50
    np.testing.assert_allclose(rising[1:] / rising[:-1], _RECOVERY, rtol=1e-9)
    assert gains[-1] == 1.0
    steps = np.abs(np.diff(out, axis=1))
    # The gain glides within each block: no step in the output beyond the music's own.
    assert np.max(steps[:, 8 * 256 :]) < 2.0 * np.max(np.abs(np.diff(np.concatenate(after, 1))))


def test_nan_and_inf_become_silence() -> None:
    block = np.full((2, 256), 0.1, dtype=np.float32)
    block[0, 10] = np.nan
    block[1, 20] = np.inf
    block[1, 30] = -np.inf
    out, gains = _stream([block])
    assert np.all(np.isfinite(out))
    assert out[0, 10] == 0.0 and out[1, 20] == 0.0 and out[1, 30] == 0.0
    assert gains == [1.0]
