"""Partitioned convolution: overlap-save partitions, their multiply-add, and a two-stage
convolver for a long, fixed response (a room's late tail).

A response of a second cut into blocks of a few hundred samples costs one complex
multiply-add per bin and partition for every block: for 256-sample blocks and a 1 s tail,
188 partitions per ear, the largest single cost of a streaming block. Only the head of
the response needs the short partitions (it must be heard within the block); everything
from ``late_size`` samples on is convolved in partitions of ``late_size`` once every
``late_size`` samples, and its output for the next ``late_size`` samples is ready before
they are due, since ``y[n] = sum_{k >= L} h[k] x[n - k]`` needs no input after ``n - L``.
The work per block falls by about the ratio of the two sizes (Gardner's non-uniform
partitioning with two sizes, as convolution reverbs do), and the output is the same
convolution, to float32 rounding.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from numba import njit

from spatial import blockfft

__all__ = ["LATE_PARTITION_SAMPLES", "TailConvolver", "mac_partitions", "partition"]

#: Partition length of the late stage, samples, rounded down to whole blocks: its one
#: larger FFT and multiply-add every few blocks stays well inside a block's deadline.
LATE_PARTITION_SAMPLES = 2048


def partition(
    response: np.ndarray, start: int, block: int, *, negligible: float
) -> tuple[int, np.ndarray]:
    """Cut a (channels, n) response placed at sample ``start`` >= 0 (two ears, or the
    channels of an ambisonic response) into overlap-save partitions.

    Returns the index of the first partition kept and their spectra, complex64 of shape
    (count, channels, block + 1). Leading and trailing partitions below ``negligible``
    times the peak are left out.
    """
    channels = response.shape[0]
    p0, offset = divmod(start, block)
    count = math.ceil((offset + response.shape[1]) / block)
    padded = np.zeros((channels, count * block))
    padded[:, offset : offset + response.shape[1]] = response
    parts = padded.reshape(channels, count, block).transpose(1, 0, 2)
    peak = np.abs(parts).max(axis=(1, 2))
    loud = np.flatnonzero(peak > negligible * peak.max()) if peak.max() > 0 else np.zeros(0, int)
    if loud.size == 0:
        return p0, np.zeros((0, channels, block + 1), dtype=np.complex64)
    lo, hi = int(loud[0]), int(loud[-1]) + 1
    frames = np.zeros((hi - lo, channels, 2 * block))
    frames[..., :block] = parts[lo:hi]
    return p0 + lo, scipy.fft.rfft(frames, axis=-1).astype(np.complex64)


@njit(cache=True, fastmath=True)
def mac_partitions(
    fdl: np.ndarray, newest: int, spectra: np.ndarray, first: int, count: int, acc: np.ndarray
) -> None:
    """Add one partitioned filter's output spectrum for the newest block to ``acc``.

    Parameters
    ----------
    fdl
        complex64, shape (depth, bins): the input's spectra, a ring with the newest at
        ``newest``.
    newest
        Ring index of the newest input spectrum.
    spectra
        complex64, shape (>= count, channels, bins): the filter's partitions (see
        :func:`partition`; two ears, or an ambisonic response's channels), partition
        ``q`` at ``first + q`` blocks of delay.
    first, count
        The first partition's delay in blocks, and how many partitions are used.
    acc
        complex64, shape (channels, bins):
        ``acc[e] += sum_q X[newest - first - q] H[q, e]``.
    """
    depth = fdl.shape[0]
    bins = fdl.shape[1]
    for q in range(count):
        x = fdl[(newest - first - q) % depth]
        for e in range(acc.shape[0]):
            h = spectra[q, e]
            a = acc[e]
            for f in range(bins):
                a[f] += x[f] * h[f]


class TailConvolver:
    """Convolve a mono input with a fixed two-ear response, block by block.

    Parameters
    ----------
    response
        Shape (2, n): the response, row 0 the left ear, time 0 at its first sample.
    block_size
        Samples per block.

    Notes
    -----
    Per block, :meth:`push` takes the input; :meth:`add_head` adds the response's first
    partitions to an overlap-save spectrum of the caller's (which the caller turns into
    time samples with its other filters); :meth:`late` gives the rest, in time samples.
    """

    def __init__(self, response: np.ndarray, *, block_size: int) -> None:
        block = block_size
        self._block = block
        ratio = max(1, LATE_PARTITION_SAMPLES // block)
        # One stage when the response is short or the blocks already long.
        late = ratio * block if ratio > 1 and response.shape[1] > ratio * block else 0
        self._ratio = ratio
        self._late_size = late
        head = response[:, :late] if late else response
        self._head_first, self._head_spec = partition(head, 0, block, negligible=0.0)
        # At least one slot: a response that starts after the head (a large hall's tail,
        # silent until the transition time) has no head partitions at all.
        self._head_fdl = np.zeros(
            (max(1, self._head_first + self._head_spec.shape[0]), block + 1), dtype=np.complex64
        )
        self._head_frame = np.zeros(2 * block, dtype=np.float32)
        self._head_newest = 0
        if late:
            self._late_first, self._late_spec = partition(
                response[:, late:], 0, late, negligible=0.0
            )
        else:
            self._late_first, self._late_spec = 0, np.zeros((0, 2, 1), dtype=np.complex64)
        size = max(late, 1)
        self._late_fdl = np.zeros(
            (max(1, self._late_first + self._late_spec.shape[0]), size + 1), dtype=np.complex64
        )
        self._late_frame = np.zeros(2 * size, dtype=np.float32)
        self._late_out = np.zeros((2, size), dtype=np.float32)
        self._late_newest = 0
        self._fill = 0
        self._late_now = np.zeros((2, block), dtype=np.float32)

    @property
    def empty(self) -> bool:
        """True when the response is all zeros (nothing to convolve)."""
        return self._head_spec.shape[0] == 0 and self._late_spec.shape[0] == 0

    def push(self, x: np.ndarray) -> None:
        """Take the next block of input (float32, shape (block_size,))."""
        block = self._block
        self._head_frame[:block] = self._head_frame[block:]
        self._head_frame[block:] = x
        self._head_newest = (self._head_newest + 1) % self._head_fdl.shape[0]
        self._head_fdl[self._head_newest] = blockfft.rfft(self._head_frame)
        if not self._late_spec.shape[0]:
            return
        late = self._late_size
        at = self._fill * block
        # This block's late output was computed when the previous late block of input
        # ended; it is read before the input that ends with this block replaces it.
        self._late_now[:] = self._late_out[:, at : at + block]
        self._late_frame[late + at : late + at + block] = x
        self._fill += 1
        if self._fill == self._ratio:
            self._fill = 0
            self._late_block()

    def add_head(self, acc: np.ndarray) -> None:
        """Add the head's partitions for the current block to ``acc`` (complex64, shape
        (2, block_size + 1), an overlap-save spectrum whose last block is kept)."""
        mac_partitions(
            self._head_fdl,
            self._head_newest,
            self._head_spec,
            self._head_first,
            self._head_spec.shape[0],
            acc,
        )

    def late(self) -> np.ndarray:
        """The rest of the response's output for the current block: float32 (2, block_size)."""
        return self._late_now

    def reset(self) -> None:
        """Forget all past input."""
        for array in (
            self._head_fdl,
            self._head_frame,
            self._late_fdl,
            self._late_frame,
            self._late_out,
            self._late_now,
        ):
            array[...] = 0

    def _late_block(self) -> None:
        late = self._late_size
        self._late_newest = (self._late_newest + 1) % self._late_fdl.shape[0]
        self._late_fdl[self._late_newest] = blockfft.rfft(self._late_frame)
        acc = np.zeros((2, late + 1), dtype=np.complex64)
        mac_partitions(
            self._late_fdl,
            self._late_newest,
            self._late_spec,
            self._late_first,
            self._late_spec.shape[0],
            acc,
        )
        # The output of the late block of input just ended belongs to the next one: the
        # late part's first partition is `late` samples into the response.
        self._late_out[:] = blockfft.irfft(acc, 2 * late)[:, late:]
        self._late_frame[:late] = self._late_frame[late:]
