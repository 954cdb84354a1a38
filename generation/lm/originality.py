"""Originality: no run of 16 consecutive melodic intervals may copy a training piece.

The index holds a 64-bit hash of every run of :data:`RUN` consecutive intervals (in
semitones) of every training melody, as the model saw it (notes cut at bar lines) and
with tied notes joined; a generated melody's runs are looked up in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from generation.lm.vocab import Piece, bar_sixteenths

__all__ = ["ORIGINALITY_FILE", "RUN", "OriginalityIndex", "interval_run_hashes"]

ORIGINALITY_FILE = "originality.npy"
#: Consecutive melodic intervals that may not match a training piece.
RUN = 16
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def interval_run_hashes(pitches: Sequence[int], run: int = RUN) -> np.ndarray:
    """Hash of every run of ``run`` consecutive intervals of a pitch sequence, uint64."""
    if len(pitches) < run + 1:
        return np.zeros(0, dtype=np.uint64)
    intervals = np.diff(np.asarray(pitches, dtype=np.int64)).clip(-127, 127) + 128
    windows = np.lib.stride_tricks.sliding_window_view(intervals.astype(np.uint64), run)
    hashes = np.zeros(len(windows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(run):
            hashes = hashes * _MULTIPLIER + windows[:, column]
    return hashes


def _melodies(piece: Piece) -> list[list[int]]:
    """The melody's pitches as tokenised, and with notes tied over bar lines joined."""
    length = bar_sixteenths(piece.conditions.meter)
    split = [note.pitch for bar in piece.bars for note in bar.melody]
    joined: list[int] = []
    sounding = None  # the pitch held up to the bar line, if any
    for bar in piece.bars:
        for note in bar.melody:
            if not (note.start == 0 and note.pitch == sounding):
                joined.append(note.pitch)
        last = bar.melody[-1] if bar.melody else None
        sounding = last.pitch if last and last.start + last.length == length else None
    return [split, joined]


class OriginalityIndex:
    """A sorted set of interval-run hashes."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = np.unique(np.asarray(hashes, dtype=np.uint64))

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def from_pieces(cls, pieces: Iterable[Piece]) -> OriginalityIndex:
        """The index of the melodies of pieces."""
        chunks = [interval_run_hashes(m) for piece in pieces for m in _melodies(piece)]
        return cls(np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64))

    def union(self, other: OriginalityIndex) -> OriginalityIndex:
        """Both indexes in one."""
        return OriginalityIndex(np.concatenate([self.hashes, other.hashes]))

    def matches(self, pitches: Sequence[int]) -> np.ndarray:
        """Indices of the runs of a melody (by first note) found in the index."""
        hashes = interval_run_hashes(pitches)
        if not len(hashes) or not len(self.hashes):
            return np.zeros(0, dtype=np.int64)
        found = np.isin(hashes, self.hashes, assume_unique=False)
        return np.flatnonzero(found)

    def save(self, path: Path) -> None:
        """Write the index as a .npy file."""
        np.save(path, self.hashes, allow_pickle=False)

    @classmethod
    def load(cls, path: Path) -> OriginalityIndex:
        """Read an index written by :meth:`save`."""
        return cls(np.load(path, allow_pickle=False))
