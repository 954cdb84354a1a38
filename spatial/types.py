"""Types that cross spatial's border."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scene.model import Trajectory

__all__ = ["SAMPLE_RATE", "MasteringReport", "PlacedSource"]

SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class PlacedSource:
    """A mono signal at a point in the world.

    Attributes
    ----------
    name
        For reports (the stem name or the audio file's name).
    signal
        Mono float32, shape (samples,), at 48 kHz; played from t = 0.
    position
        (x, y, z) in metres, world frame (z up).
    gain_db
        Level applied before rendering.
    trajectory
        For a moving source, its timed positions (``position`` is then the first);
        rendered by :func:`spatial.render_moving`.
    """

    name: str
    signal: np.ndarray = field(repr=False)
    position: tuple[float, float, float]
    gain_db: float = 0.0
    trajectory: Trajectory | None = None


@dataclass(frozen=True)
class MasteringReport:
    """What mastering did: loudness (LUFS) and true peak (dBTP) before and after, gain (dB).

    ``note`` is empty when the target was met; otherwise it says why not (silent input,
    input too short for an integrated loudness, peaks that allow no more gain). Loudness
    is ``-inf`` where BS.1770 defines none (silence, under 0.4 s).
    """

    loudness_in_lufs: float
    loudness_out_lufs: float
    true_peak_in_dbtp: float
    true_peak_out_dbtp: float
    gain_db: float
    limited: bool
    note: str = ""
