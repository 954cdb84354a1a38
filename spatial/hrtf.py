"""Head-related transfer functions: read a SOFA file, look up the nearest direction.

Directions follow AES69 (SOFA): azimuth counter-clockwise from the front (0 front, 90
left), elevation up, degrees. HRIRs are kept at the project's one rate, 48 kHz, with the
left ear in row 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np

from spatial.types import SAMPLE_RATE

__all__ = ["Hrtf", "default_hrtf", "directions_to_unit_vectors", "load_sofa"]

DEFAULT_SOFA = ("hrtf", "mit_kemar_normal_pinna.sofa")


def directions_to_unit_vectors(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (x front, y left, z up) of SOFA directions.

    Parameters
    ----------
    azimuth_deg, elevation_deg
        Arrays of the same shape (...), degrees.

    Returns
    -------
    numpy.ndarray
        Shape (..., 3).
    """
    az = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.radians(np.asarray(elevation_deg, dtype=np.float64))
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


@dataclass(frozen=True, eq=False)
class Hrtf:
    """A set of head-related impulse responses at 48 kHz.

    Attributes
    ----------
    directions
        float64, shape (M, 2): azimuth and elevation of each measurement, degrees (SOFA).
    hrirs
        float32, shape (M, 2, taps): impulse responses, row 0 the left ear, 48 kHz.
    source
        Where the data came from (file and its description).

    Notes
    -----
    Compared by identity (``eq=False``) so that it can key caches of derived data.
    """

    directions: np.ndarray = field(repr=False)
    hrirs: np.ndarray = field(repr=False)
    source: str = ""
    _unit: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        directions = np.asarray(self.directions, dtype=np.float64)
        hrirs = np.ascontiguousarray(self.hrirs, dtype=np.float32)
        if directions.ndim != 2 or directions.shape[1] != 2:
            raise ValueError(f"directions.shape={directions.shape} must be (M, 2)")
        if hrirs.ndim != 3 or hrirs.shape[1] != 2 or hrirs.shape[0] != directions.shape[0]:
            raise ValueError(
                f"hrirs.shape={hrirs.shape} must be (M, 2, taps) with M={directions.shape[0]}"
            )
        if not (np.all(np.isfinite(directions)) and np.all(np.isfinite(hrirs))):
            raise ValueError("directions and hrirs must be finite")
        directions.setflags(write=False)
        hrirs.setflags(write=False)
        unit = directions_to_unit_vectors(directions[:, 0], directions[:, 1])
        unit.setflags(write=False)
        # Frozen: derived arrays are set once here, never later.
        object.__setattr__(self, "directions", directions)
        object.__setattr__(self, "hrirs", hrirs)
        object.__setattr__(self, "_unit", unit)

    @property
    def taps(self) -> int:
        """Length of each impulse response, samples at 48 kHz."""
        return int(self.hrirs.shape[2])

    @property
    def unit_vectors(self) -> np.ndarray:
        """Shape (M, 3): the measurement directions as unit vectors (x front, y left, z up)."""
        return self._unit

    def nearest_index(self, azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
        """Index of the nearest measured direction by great-circle distance.

        Parameters
        ----------
        azimuth_deg, elevation_deg
            Arrays of the same shape (...), degrees, SOFA convention.

        Returns
        -------
        numpy.ndarray
            int64, shape (...).
        """
        wanted = directions_to_unit_vectors(azimuth_deg, elevation_deg)
        return self.nearest_index_of_vectors(wanted)

    def nearest_index_of_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Like :meth:`nearest_index` for direction vectors of shape (..., 3) (any length)."""
        # The largest cosine is the smallest great-circle angle.
        return np.argmax(np.asarray(vectors) @ self._unit.T, axis=-1)

    def nearest(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """The HRIR pair of the measured direction nearest to the one asked for.

        Returns
        -------
        numpy.ndarray
            float32, shape (2, taps), row 0 the left ear.
        """
        return self.hrirs[int(self.nearest_index(azimuth_deg, elevation_deg))]


def load_sofa(path: str | Path | None = None) -> Hrtf:
    """Read a SOFA ``SimpleFreeFieldHRIR`` file and resample it to 48 kHz.

    Parameters
    ----------
    path
        The file; None reads the shipped MIT KEMAR set.

    Returns
    -------
    Hrtf

    Raises
    ------
    ValueError
        If the file is missing, unreadable, or not a two-ear HRIR set.
    """
    if path is None:
        from assets import asset_path

        path = asset_path(*DEFAULT_SOFA)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"HRTF file {str(path)!r} does not exist; give a SOFA (.sofa) file")
    import sofar

    try:
        sofa = sofar.read_sofa(str(path), verify=False, verbose=False)
    except Exception as error:  # sofar/netCDF raise many types for a bad file
        raise ValueError(f"HRTF file {str(path)!r} is not a readable SOFA file: {error}") from error
    convention = str(getattr(sofa, "GLOBAL_SOFAConventions", ""))
    if convention != "SimpleFreeFieldHRIR":
        raise ValueError(
            f"HRTF file {str(path)!r}: convention {convention!r}; only SimpleFreeFieldHRIR"
        )
    data = np.asarray(sofa.Data_IR, dtype=np.float64)
    if data.ndim != 3 or data.shape[1] != 2:
        raise ValueError(f"HRTF file {str(path)!r}: Data_IR shape {data.shape}; need (M, 2, N)")
    rate = round(float(np.ravel(sofa.Data_SamplingRate)[0]))
    directions = _spherical_degrees(
        np.asarray(sofa.SourcePosition, dtype=np.float64), str(sofa.SourcePosition_Type)
    )
    receivers = np.asarray(sofa.ReceiverPosition, dtype=np.float64).reshape(2, -1)
    # AES69 puts the left ear first, but a file may not: the receiver with +y (the
    # listener's left) becomes row 0. In the MIT KEMAR file receiver 0 is at y = +0.09 m,
    # and at azimuth +90 its response leads the other by 0.73 ms, so no swap happens there.
    if receivers.shape[1] >= 2 and receivers[1, 1] > receivers[0, 1]:
        data = data[:, ::-1, :]
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        divisor = gcd(SAMPLE_RATE, rate)
        data = resample_poly(data, SAMPLE_RATE // divisor, rate // divisor, axis=-1)
    title = str(getattr(sofa, "GLOBAL_Title", "")).strip()
    return Hrtf(
        directions=directions,
        hrirs=data.astype(np.float32),
        source=f"{path.name}" + (f" ({title})" if title else "") + f", {rate} Hz -> 48000 Hz",
    )


def _spherical_degrees(positions: np.ndarray, kind: str) -> np.ndarray:
    if positions.ndim == 1:
        positions = positions[None, :]
    if kind.lower() == "cartesian":
        x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
        azimuth = np.degrees(np.arctan2(y, x)) % 360.0
        elevation = np.degrees(np.arctan2(z, np.hypot(x, y)))
        return np.stack([azimuth, elevation], axis=1)
    return positions[:, :2].copy()


@lru_cache(maxsize=1)
def default_hrtf() -> Hrtf:
    """The shipped MIT KEMAR (normal pinna) set at 48 kHz; read once per process."""
    return load_sofa(None)
