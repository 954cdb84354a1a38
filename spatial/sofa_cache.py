"""SOFA files as read at 48 kHz, with their minimum-phase split, kept on disk.

Reading the shipped MIT KEMAR set (importing sofar, resampling to 48 kHz) and splitting
each response into its minimum-phase part and per-ear delays takes 0.4-0.9 s, which every
fresh process (each ``loci batch`` worker, each ``loci render``) paid again. The arrays
are stored in the project's cache folder (:mod:`assets.cache`) under a key made of the
file's sha256, the parameters and source of the code that made them
(:mod:`spatial.hrtf`) and the versions of numpy and scipy, which compute them; any change
to one of these makes a new entry. The entry is an ``.npz`` read without pickle: the
arrays are the very ones the reading and the split computed, so a render from the cache
is bit-identical to one without it.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assets.cache import read_entry, write_entry

__all__ = ["SofaArrays", "read", "sofa_key", "write"]

_KIND = "sofa"


@dataclass(frozen=True)
class SofaArrays:
    """What :func:`spatial.hrtf.load_sofa` derives from one SOFA file.

    Attributes
    ----------
    directions
        float64, shape (M, 2): azimuth and elevation, degrees.
    hrirs
        float32, shape (M, 2, taps): the responses at 48 kHz, row 0 the left ear.
    minimum_phase
        float32, shape (M, 2, taps): their minimum-phase parts.
    delays_samples
        float64, shape (M, 2): each ear's pure delay, samples at 48 kHz.
    title
        The file's title attribute ("" when none).
    rate
        The file's own sampling rate, Hz.
    """

    directions: np.ndarray
    hrirs: np.ndarray
    minimum_phase: np.ndarray
    delays_samples: np.ndarray
    title: str
    rate: int


def sofa_key(path: Path, parameters: str, *, code: Path) -> str | None:
    """The cache key of a SOFA file as read by ``code`` with ``parameters``.

    Parameters
    ----------
    path
        The SOFA file.
    parameters
        The values the reading code takes from elsewhere (its rate, band, floor), as one
        string.
    code
        The source file of the reading code: its digest stands for the code itself.

    Returns
    -------
    str or None
        None when either file cannot be read (then nothing is cached, and the reader
        reports a missing or unreadable SOFA file itself).
    """
    import scipy

    try:
        content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        source = hashlib.sha256(Path(code).read_bytes()).hexdigest()
    except OSError:
        return None
    return (
        f"sofa 1|{content}|{parameters}|source {source}"
        f"|numpy {np.__version__}|scipy {scipy.__version__}"
    )


def read(key: str) -> SofaArrays | None:
    """The arrays stored under ``key``; None when missing, unreadable or inconsistent."""
    payload = read_entry(_KIND, key)
    if payload is None:
        return None
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as stored:
            arrays = SofaArrays(
                directions=stored["directions"],
                hrirs=stored["hrirs"],
                minimum_phase=stored["minimum_phase"],
                delays_samples=stored["delays_samples"],
                title=str(stored["title"]),
                rate=int(stored["rate"]),
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return arrays if _consistent(arrays) else None


def write(key: str, arrays: SofaArrays) -> bool:
    """Store ``arrays`` under ``key`` (atomically; see :mod:`assets.cache`)."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        directions=arrays.directions,
        hrirs=arrays.hrirs,
        minimum_phase=arrays.minimum_phase,
        delays_samples=arrays.delays_samples,
        title=np.array(arrays.title),
        rate=np.array(arrays.rate, dtype=np.int64),
    )
    return write_entry(_KIND, key, buffer.getvalue())


def _consistent(arrays: SofaArrays) -> bool:
    # The digests already rule out damage; this guards against an entry of another layout.
    m = arrays.directions.shape[0]
    return (
        arrays.directions.dtype == np.float64
        and arrays.directions.shape == (m, 2)
        and arrays.hrirs.dtype == np.float32
        and arrays.hrirs.ndim == 3
        and arrays.hrirs.shape[:2] == (m, 2)
        and arrays.minimum_phase.dtype == np.float32
        and arrays.minimum_phase.shape == arrays.hrirs.shape
        and arrays.delays_samples.dtype == np.float64
        and arrays.delays_samples.shape == (m, 2)
    )
