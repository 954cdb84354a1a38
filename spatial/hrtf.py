"""Head-related transfer functions: SOFA files, a spherical head, interpolation.

Directions follow AES69 (SOFA): azimuth counter-clockwise from the front (0 front, 90
left), elevation up, degrees. HRIRs are kept at the project's one rate, 48 kHz, with the
left ear in row 0.

Each measured pair is split into a minimum-phase part per ear and a pure delay per ear
(the linear part of the excess phase below 1.5 kHz, where the ear reads interaural time).
A direction between measurements is interpolated on the triangulated measurement sphere:
barycentric weights of the three measured directions around it mix the minimum-phase
responses, and the same weights mix the delays. Mixing the delays rather than the raw
responses keeps the interaural time difference (ITD) moving smoothly with the direction,
where mixing raw responses would give two smeared arrivals instead of one shifted one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from math import gcd
from pathlib import Path

import numpy as np
from numba import njit

from spatial import sofa_cache
from spatial.fractional import FRACTIONAL_DELAY_HALF_TAPS, fractional_delay_kernel
from spatial.types import SAMPLE_RATE

# netCDF4 and HDF5 under sofar are not thread-safe: two threads reading a SOFA file at once
# fail with "NetCDF: HDF error". Every read holds this lock.
_SOFA_READ_LOCK = threading.Lock()
_DEFAULT_HRTF_LOCK = threading.Lock()

__all__ = [
    "HEAD_RADIUS_M",
    "ITD_BAND_HZ",
    "Hrtf",
    "default_hrtf",
    "directions_to_unit_vectors",
    "load_hrtf",
    "load_sofa",
    "spherical_head_hrtf",
]

DEFAULT_SOFA = ("hrtf", "mit_kemar_normal_pinna.sofa")

#: Band (Hz) over which each ear's delay is fitted to the excess phase: low enough that
#: the phase is that of one arrival, high enough to be above the loudspeaker roll-off of
#: typical HRTF measurements.
ITD_BAND_HZ = (50.0, 1500.0)

#: Radius of the spherical-head model, metres (the mean adult head of Algazi et al. 2001).
HEAD_RADIUS_M = 0.0875

# Magnitudes this far below a response's peak are floored before the log of the cepstral
# minimum-phase construction (-120 dB): deep notches would otherwise give -inf.
_LOG_FLOOR = 1e-6


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
    Compared by identity (``eq=False``) so that it can key caches of derived data. The
    minimum-phase split, the delays and the triangulation are computed on first use.
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

    @cached_property
    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        minimum, delays = _minimum_phase_and_delays(self.hrirs.astype(np.float64))
        minimum = minimum.astype(np.float32)
        minimum.setflags(write=False)
        delays.setflags(write=False)
        return minimum, delays

    @property
    def minimum_phase(self) -> np.ndarray:
        """float32, shape (M, 2, taps): the minimum-phase part of each measured response."""
        return self._split[0]

    @property
    def delays_samples(self) -> np.ndarray:
        """float64, shape (M, 2): each ear's pure delay, samples at 48 kHz (fractional).

        The response of ear ``e`` at direction ``m`` is, below 1.5 kHz, its minimum-phase
        part delayed by ``delays_samples[m, e]``.
        """
        return self._split[1]

    @property
    def itd_s(self) -> np.ndarray:
        """float64, shape (M,): left-ear delay minus right-ear delay, seconds.

        Negative when the left ear hears first (a source on the left, azimuth 0..180).
        """
        delays = self.delays_samples
        return (delays[:, 0] - delays[:, 1]) / SAMPLE_RATE

    @cached_property
    def _triangulation(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return _triangulate(self._unit)

    @property
    def triangles(self) -> np.ndarray:
        """int64, shape (F, 3): measurement indices of the triangulated sphere (empty when
        the directions span no solid angle, e.g. a horizontal ring: then lookup is nearest)."""
        return self._triangulation[0]

    def interpolation_weights(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The three measured directions around each direction, and their weights.

        Parameters
        ----------
        vectors
            Shape (N, 3): directions (x front, y left, z up), any non-zero length.

        Returns
        -------
        indices, weights
            int64 and float64, both shape (N, 3). The weights are barycentric on the
            triangle of the measurement sphere that the direction passes through: they are
            >= 0 and sum to 1, and a measured direction gets weight 1 on itself.
        """
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float64).reshape(-1, 3))
        hints = np.full(v.shape[0], -1, dtype=np.int64)
        indices, weights, _ = self.interpolation_weights_near(v, hints)
        return indices, weights

    def interpolation_weights_near(
        self, vectors: np.ndarray, hints: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`interpolation_weights`, trying each direction's hinted face first.

        Parameters
        ----------
        vectors
            float64, shape (N, 3).
        hints
            int64, shape (N,): a triangle index per direction (-1 for none), e.g. the one
            this direction was found in last time; a source that moves a little stays in
            its triangle, which then costs one test instead of a search.

        Returns
        -------
        indices, weights, triangles
            As :meth:`interpolation_weights`, and the triangle used (int64, shape (N,);
            -1 where the lookup fell back to the nearest measurement).
        """
        v = np.ascontiguousarray(vectors, dtype=np.float64)
        faces, inverses, start, members = self._triangulation
        indices = np.zeros((v.shape[0], 3), dtype=np.int64)
        weights = np.zeros((v.shape[0], 3))
        found = np.full(v.shape[0], -1, dtype=np.int64)
        hints = np.ascontiguousarray(hints, dtype=np.int64)
        _locate(v, self._unit, faces, inverses, start, members, hints, indices, weights, found)
        return indices, weights, found

    def interpolate(
        self, azimuth_deg: float, elevation_deg: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Minimum-phase pair and per-ear delays for any direction.

        Returns
        -------
        minimum_phase, delays
            float32 (2, taps) and float64 (2,) samples at 48 kHz; the response of the
            direction is each row delayed by its delay (see :meth:`hrir`).
        """
        vector = directions_to_unit_vectors(np.array([azimuth_deg]), np.array([elevation_deg]))
        indices, weights = self.interpolation_weights(vector)
        minimum = np.einsum("k,kem->em", weights[0], self.minimum_phase[indices[0]])
        delays = weights[0] @ self.delays_samples[indices[0]]
        return minimum.astype(np.float32), delays

    def hrir(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """The interpolated impulse response pair of a direction.

        Returns
        -------
        numpy.ndarray
            float32, shape (2, taps + D) with D covering the largest delay of the set and
            the fractional-delay kernel; row 0 the left ear.
        """
        minimum, delays = self.interpolate(azimuth_deg, elevation_deg)
        half = FRACTIONAL_DELAY_HALF_TAPS
        length = self.taps + int(np.ceil(self.delays_samples.max(initial=0.0))) + 2 * half + 1
        out = np.zeros((2, length))
        _place_delayed(out, minimum.astype(np.float64), delays, half)
        return out.astype(np.float32)


def load_sofa(path: str | Path | None = None) -> Hrtf:
    """Read a SOFA ``SimpleFreeFieldHRIR`` file and resample it to 48 kHz.

    The arrays read and their minimum-phase split are kept in the project's cache folder
    (:mod:`spatial.sofa_cache`): a later process that reads the same file gets the same
    arrays, bit for bit, without reading it again.

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
    key = _cache_key(path)
    cached = sofa_cache.read(key) if key is not None else None
    if cached is None:
        cached = _read_sofa(path)
        if key is not None:
            sofa_cache.write(key, cached)
    hrtf = Hrtf(
        directions=cached.directions,
        hrirs=cached.hrirs,
        source=f"{path.name}"
        + (f" ({cached.title})" if cached.title else "")
        + f", {cached.rate} Hz -> 48000 Hz",
    )
    # What the cached property ``_split`` would compute from these very responses.
    minimum, delays = cached.minimum_phase, cached.delays_samples
    minimum.setflags(write=False)
    delays.setflags(write=False)
    hrtf.__dict__["_split"] = (minimum, delays)
    return hrtf


def _cache_key(path: Path) -> str | None:
    # This module's source stands for the code that reads and splits (any edit here makes
    # new cache entries); the constants it uses from elsewhere are written out.
    parameters = f"rate {SAMPLE_RATE}|itd band {ITD_BAND_HZ}|log floor {_LOG_FLOOR!r}"
    return sofa_cache.sofa_key(path, parameters, code=Path(__file__))


def _read_sofa(path: Path) -> sofa_cache.SofaArrays:
    """Read and check the file, resample it to 48 kHz and split each response."""
    import sofar

    try:
        with _SOFA_READ_LOCK:
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
    # Checked (shapes, finite values) and converted exactly as the Hrtf will hold them.
    checked = Hrtf(directions=directions, hrirs=data.astype(np.float32))
    minimum, delays = checked._split
    return sofa_cache.SofaArrays(
        directions=checked.directions,
        hrirs=checked.hrirs,
        minimum_phase=minimum,
        delays_samples=delays,
        title=str(getattr(sofa, "GLOBAL_Title", "")).strip(),
        rate=rate,
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


def default_hrtf() -> Hrtf:
    """The shipped MIT KEMAR (normal pinna) set at 48 kHz; read once per process.

    Safe to call from several threads at once (``loci serve`` opens sessions in threads):
    the first caller reads the file, the others wait for it.
    """
    with _DEFAULT_HRTF_LOCK:
        return _read_default_hrtf()


@lru_cache(maxsize=1)
def _read_default_hrtf() -> Hrtf:
    return load_sofa(None)


@lru_cache(maxsize=4)
def spherical_head_hrtf(*, radius_m: float = HEAD_RADIUS_M, step_deg: float = 5.0) -> Hrtf:
    """An analytic HRTF: a rigid sphere with the ears at +/-90 degrees azimuth.

    Each ear gets the head-shadow filter of Brown and Duda (1998), a one-pole, one-zero
    filter whose high-frequency gain runs from +6 dB facing the ear to -20 dB at 150
    degrees from it, and the Woodworth delay of a sphere: ``-a cos(theta) / c`` while the
    ear is lit, ``a (theta - pi / 2) / c`` in its shadow, so that the ITD is
    ``a (theta + sin theta) / c`` (0.66 ms at the side for the default radius). Every
    response starts after 0.5 ms of silence, as measured sets do.

    Parameters
    ----------
    radius_m
        Head radius, metres.
    step_deg
        Spacing of the directions (elevation rings, and azimuth along each ring), degrees.

    Returns
    -------
    Hrtf
        256 taps at 48 kHz on a near-uniform grid of the whole sphere.
    """
    from scene.acoustics import SPEED_OF_SOUND

    if not (0.03 <= radius_m <= 0.2):
        raise ValueError(f"radius_m={radius_m} must be a head radius from 0.03 to 0.2 m")
    if not (1.0 <= step_deg <= 30.0):
        raise ValueError(f"step_deg={step_deg} must be from 1 to 30 degrees")
    directions = [(0.0, -90.0), (0.0, 90.0)]
    for elevation in np.arange(-90.0 + step_deg, 90.0 - 1e-9, step_deg):
        count = max(1, round(360.0 * np.cos(np.radians(elevation)) / step_deg))
        directions += [(a, float(elevation)) for a in np.arange(count) * 360.0 / count]
    grid = np.asarray(directions)
    unit = directions_to_unit_vectors(grid[:, 0], grid[:, 1])

    taps, n = 256, 1024
    omega = 2.0 * np.pi * np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    omega0 = SPEED_OF_SOUND / radius_m
    lead_s = 0.0005
    alpha_min, theta_min = 0.1, np.radians(150.0)
    hrirs = np.zeros((len(grid), 2, taps))
    for ear, side in enumerate((1.0, -1.0)):
        theta = np.arccos(np.clip(unit[:, 1] * side, -1.0, 1.0))
        alpha = (1.0 + alpha_min / 2) + (1.0 - alpha_min / 2) * np.cos(theta / theta_min * np.pi)
        delay = np.where(
            theta < np.pi / 2,
            -radius_m / SPEED_OF_SOUND * np.cos(theta),
            radius_m / SPEED_OF_SOUND * (theta - np.pi / 2),
        )
        delay += radius_m / SPEED_OF_SOUND + lead_s
        shadow = (1.0 + 1j * alpha[:, None] * omega / (2 * omega0)) / (
            1.0 + 1j * omega / (2 * omega0)
        )
        spectrum = shadow * np.exp(-1j * omega * delay[:, None])
        hrirs[:, ear] = np.fft.irfft(spectrum, n)[:, :taps]
    return Hrtf(
        directions=grid,
        hrirs=hrirs.astype(np.float32),
        source=f"spherical head (Brown-Duda shadow, Woodworth delay), radius {radius_m:g} m",
    )


def load_hrtf(spec: str | Path | None = None) -> Hrtf:
    """The HRTF a scene asks for.

    Parameters
    ----------
    spec
        None or ``"kemar"``: the shipped MIT KEMAR set; ``"spherical"``: the analytic
        spherical head (:func:`spherical_head_hrtf`); anything else: a SOFA file.

    Raises
    ------
    ValueError
        If the SOFA file is missing or not a two-ear HRIR set (message names the file).
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "kemar"):
        return default_hrtf()
    if isinstance(spec, str) and spec.strip().lower() == "spherical":
        return spherical_head_hrtf()
    return load_sofa(spec)


def _minimum_phase_and_delays(hrirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Cepstral (homomorphic) minimum phase; the delay of each ear is a coarse lag (the peak
    # of the cross-correlation of the response with its minimum-phase part) refined by a
    # weighted least-squares fit of the remaining excess phase over ITD_BAND_HZ. The
    # remainder is small, so its phase needs no unwrapping (which low, noisy bins of
    # measured sets would upset).
    taps = hrirs.shape[-1]
    n = 1 << int(np.ceil(np.log2(max(4 * taps, 1024))))
    spectrum = np.fft.rfft(hrirs, n, axis=-1)
    magnitude = np.abs(spectrum)
    floor = np.maximum(_LOG_FLOOR * magnitude.max(axis=-1, keepdims=True), 1e-300)
    cepstrum = np.fft.irfft(np.log(np.maximum(magnitude, floor)), n, axis=-1)
    cepstrum[..., 1 : n // 2] *= 2.0
    cepstrum[..., n // 2 + 1 :] = 0.0
    minimum_spectrum = np.exp(np.fft.rfft(cepstrum, n, axis=-1))
    minimum = np.fft.irfft(minimum_spectrum, n, axis=-1)[..., :taps]

    cross = np.fft.irfft(spectrum * np.conj(minimum_spectrum), n, axis=-1)
    lag = np.argmax(cross, axis=-1)
    lag = np.where(lag > n // 2, lag - n, lag).astype(np.float64)
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    band = (freqs >= ITD_BAND_HZ[0]) & (freqs <= ITD_BAND_HZ[1])
    omega = 2.0 * np.pi * freqs[band]
    residual = (
        spectrum[..., band]
        * np.conj(minimum_spectrum[..., band])
        * np.exp(1j * omega * lag[..., None] / SAMPLE_RATE)
    )
    weight = magnitude[..., band] ** 2
    numerator = np.sum(weight * omega * np.angle(residual), axis=-1)
    denominator = np.sum(weight * omega**2, axis=-1)
    fine_s = -np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    return minimum, lag + fine_s * SAMPLE_RATE


def _triangulate(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # The convex hull of points on a sphere is their spherical Delaunay triangulation. For
    # every face, the inverse of the matrix whose columns are its vertices turns a
    # direction into cone coordinates (all >= 0 inside the face's cone). A sparse map from
    # each vertex to its faces lets the lookup start at the nearest measurement.
    from scipy.spatial import ConvexHull, QhullError

    m = len(unit)
    faces = np.zeros((0, 3), dtype=np.int64)
    if m >= 4:
        try:
            faces = ConvexHull(unit).simplices.astype(np.int64)
        except (QhullError, ValueError):
            faces = np.zeros((0, 3), dtype=np.int64)
    matrices = np.transpose(unit[faces], (0, 2, 1))
    keep = np.abs(np.linalg.det(matrices)) > 1e-12 if len(faces) else np.zeros(0, dtype=bool)
    faces = np.ascontiguousarray(faces[keep])
    inverses = np.ascontiguousarray(
        np.linalg.inv(matrices[keep]) if len(faces) else np.zeros((0, 3, 3))
    )
    vertices = faces.ravel()
    owners = np.repeat(np.arange(len(faces), dtype=np.int64), 3)
    members = np.ascontiguousarray(owners[np.argsort(vertices, kind="stable")])
    start = np.concatenate([[0], np.cumsum(np.bincount(vertices, minlength=m))]).astype(np.int64)
    return faces, inverses, start, members


@njit(cache=True)
def _cone_weights(inverse: np.ndarray, v: np.ndarray, out: np.ndarray) -> float:
    smallest = np.inf
    for r in range(3):
        out[r] = inverse[r, 0] * v[0] + inverse[r, 1] * v[1] + inverse[r, 2] * v[2]
        smallest = min(smallest, out[r])
    return smallest


@njit(cache=True, nogil=True)
def _locate(
    vectors: np.ndarray,
    unit: np.ndarray,
    faces: np.ndarray,
    inverses: np.ndarray,
    start: np.ndarray,
    members: np.ndarray,
    hints: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    found_faces: np.ndarray,
) -> None:
    n_faces = faces.shape[0]
    w = np.empty(3)
    best_w = np.empty(3)
    for i in range(vectors.shape[0]):
        v = vectors[i]
        tolerance = -1e-9 * (abs(v[0]) + abs(v[1]) + abs(v[2]))
        found = -1
        score = -np.inf
        hint = hints[i]
        if 0 <= hint < n_faces:
            smallest = _cone_weights(inverses[hint], v, w)
            if smallest >= tolerance:
                found = hint
                score = smallest
                best_w[:] = w
        nearest = 0
        if found < 0:
            best = -np.inf
            for k in range(unit.shape[0]):
                d = unit[k, 0] * v[0] + unit[k, 1] * v[1] + unit[k, 2] * v[2]
                if d > best:
                    best = d
                    nearest = k
            # The face holding a direction nearly always touches its nearest measurement;
            # a full search covers the rest (and directions outside every cone, when the
            # measurements leave the origin outside their hull).
            for q in range(start[nearest], start[nearest + 1]):
                f = members[q]
                smallest = _cone_weights(inverses[f], v, w)
                if smallest > score:
                    score = smallest
                    found = f
                    best_w[:] = w
                if smallest >= tolerance:
                    break
            if score < tolerance:
                for f in range(n_faces):
                    smallest = _cone_weights(inverses[f], v, w)
                    if smallest > score:
                        score = smallest
                        found = f
                        best_w[:] = w
                    if smallest >= tolerance:
                        break
        total = 0.0
        if found >= 0:
            for r in range(3):
                best_w[r] = max(best_w[r], 0.0)
                total += best_w[r]
        if found < 0 or total <= 0.0:
            found_faces[i] = -1
            for r in range(3):
                indices[i, r] = nearest
                weights[i, r] = 1.0 if r == 0 else 0.0
            continue
        found_faces[i] = found
        for r in range(3):
            indices[i, r] = faces[found, r]
            weights[i, r] = best_w[r] / total


@njit(cache=True)
def _place_delayed(out: np.ndarray, minimum: np.ndarray, delays: np.ndarray, half: int) -> None:
    # out[e] += minimum[e] delayed by delays[e] samples (windowed-sinc fractional delay);
    # taps that would fall before sample 0 are dropped.
    kernel = np.empty(2 * half)
    for e in range(2):
        whole = int(np.floor(delays[e]))
        fractional_delay_kernel(delays[e] - whole, half, kernel)
        first = whole - half + 1
        for t in range(minimum.shape[1]):
            value = minimum[e, t]
            for j in range(2 * half):
                i = first + t + j
                if 0 <= i < out.shape[1]:
                    out[e, i] += value * kernel[j]
