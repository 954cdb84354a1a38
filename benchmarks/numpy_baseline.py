"""The numpy baseline the streaming benchmarks compare against: what a user would write."""

from __future__ import annotations

import time

import numpy as np


def partitioned_convolution_ms(x: np.ndarray, *, blocks: int) -> float:
    """CPU ms per block of a plain numpy uniformly partitioned convolution.

    Parameters
    ----------
    x
        float32, shape (sources, block): one block of every source, fed again each block.
    blocks
        How many blocks to time.

    Returns
    -------
    float
        CPU time (this process) per block, ms: every source through its own 1 s two-ear
        response, no head tracking (a ring of input spectra, ``einsum`` multiply-add).
    """
    sources, block = x.shape
    partitions = 48_000 // block
    rng = np.random.default_rng(1)
    spectra = (rng.standard_normal((sources, 2, partitions, block + 1)) + 0j).astype(np.complex64)
    history = np.zeros((sources, partitions, block + 1), dtype=np.complex64)
    buffer = np.zeros((sources, 2 * block), dtype=np.float32)
    started = time.process_time()
    for _ in range(blocks):
        buffer[:, :block] = buffer[:, block:]
        buffer[:, block:] = x
        history = np.roll(history, 1, axis=1)
        history[:, 0] = np.fft.rfft(buffer, axis=1)
        np.fft.irfft(np.einsum("spf,sepf->ef", history, spectra), axis=1)[:, block:]
    return (time.process_time() - started) / blocks * 1000
