"""Stochastic ray tracing of a mesh: per-band energy decay at a receiver sphere.

Rays leave the source in evenly spread directions (a Fibonacci lattice turned by a seeded
random rotation), each carrying ``1 / rays`` of the source's energy in every octave band.
At each surface a ray loses ``alpha`` per band; with the surface's scattering probability
it leaves in a Lambert (cosine) direction, otherwise in the mirror direction. Air takes
``exp(-m d)`` per band over the distance ``d`` travelled (applied at the centre of each
histogram bin). A ray ends when it escapes the
mesh (an opening), when its energy has fallen below ``energy_floor`` of its start (all
bands), or after ``max_time_s``.

The receiver is a sphere. Energy reaches it two ways, so that each scattered reflection
is counted once and none twice:

- a ray that left its last surface in the mirror direction (or the source itself) and
  passes through the sphere adds its energy weighted by the chord length inside it (the
  track-length estimate of the energy density);
- at every surface, the energy that scattering sends toward the sphere is added directly
  (a shadow ray checks that no surface is between: "diffuse rain"), since a scattered ray
  is not counted when it passes through.

Units: the histogram holds the energy of the impulse response in each time bin with the
image sources' convention, in which a direct sound 1 m away carries energy 1 (amplitude
``1 / r``); so it continues the image sources without a level change. For energy density
``w`` and a point source of unit energy, ``h^2 = 4 pi r^2 w`` in free field, which gives
``3 E l / R^3`` for a ray of energy E through a chord l of a sphere of radius R, and
``4 s E cos(theta) / h^2`` (for a sphere far from the surface) for the scattered share s of
a reflection at distance h, theta off the surface normal.

The kernel runs in numba over fixed chunks of rays (``prange``): the result does not depend
on the number of threads, only on the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m
from scene.model import BANDS_HZ
from spatial.acoustic_mesh import AcousticMesh
from spatial.bvh import any_hit, closest_hit, new_stack

__all__ = [
    "DEFAULT_BIN_S",
    "DEFAULT_RECEIVER_RADIUS_M",
    "EnergyDecay",
    "fibonacci_directions",
    "trace_energy_decay",
]

#: Width of a histogram bin, s (pyroomacoustics' default, 4 ms).
DEFAULT_BIN_S = 0.004

#: Radius of the receiver sphere, m (pyroomacoustics' default).
DEFAULT_RECEIVER_RADIUS_M = 0.5

# Rays are split into this many chunks for the parallel loop; fixed, so that the sums (and
# thus the result) are the same on any number of threads.
_CHUNKS = 32
# Safety stop for rays trapped between two surfaces at grazing incidence.
_MAX_BOUNCES = 100_000
# Offsets that keep a ray from hitting the surface it leaves, in metres along the ray.
_T_MIN = 1e-9

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class EnergyDecay:
    """The energy arriving at a receiver per octave band and time bin (an energy-time curve).

    Attributes
    ----------
    histogram
        float64, shape (len(BANDS_HZ), n_bins): energy of the impulse response in each bin
        (a direct sound 1 m away carries 1), bins from emission.
    bin_s
        Bin width, s.
    rays
        Rays traced.
    receiver_radius_m
        Radius of the receiver sphere, m.
    """

    histogram: np.ndarray
    bin_s: float
    rays: int
    receiver_radius_m: float

    @property
    def times_s(self) -> np.ndarray:
        """Start time of each bin, s, shape (n_bins,)."""
        return np.arange(self.histogram.shape[1]) * self.bin_s

    def schroeder_db(self, *, start_s: float = 0.0) -> np.ndarray:
        """Backward-integrated energy (Schroeder) from ``start_s`` on, dB re its value there.

        Returns
        -------
        numpy.ndarray
            Shape (len(BANDS_HZ), n_bins - first): -inf where no energy is left.
        """
        first = math.floor(start_s / self.bin_s)
        tail = self.histogram[:, first:]
        edc = np.cumsum(tail[:, ::-1], axis=1)[:, ::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return 10.0 * np.log10(edc / edc[:, :1])

    def decay_times_s(
        self, *, start_s: float = 0.0, fit_db: tuple[float, float] = (-5.0, -35.0)
    ) -> np.ndarray:
        """Reverberation time per band from the Schroeder curve after ``start_s``.

        A straight line is fitted (least squares) to the curve between ``fit_db[0]`` and
        ``fit_db[1]`` (T30 by default) and extrapolated to 60 dB. A band whose curve does
        not fall that far is fitted down to where it ends (at least 10 dB below the start
        of the fit); a band with less than that, or no energy, gives NaN.

        Returns
        -------
        numpy.ndarray
            float64, shape (len(BANDS_HZ),), seconds.
        """
        curves = self.schroeder_db(start_s=start_s)
        t = np.arange(curves.shape[1]) * self.bin_s
        out = np.full(curves.shape[0], np.nan)
        top, bottom = fit_db
        for band, curve in enumerate(curves):
            finite = np.isfinite(curve)
            if not finite.any():
                continue
            lowest = curve[finite].min()
            low = max(bottom, lowest + 1.0)
            if low > top - 10.0:
                continue
            span = finite & (curve <= top) & (curve >= low)
            if span.sum() < 3:
                continue
            slope = np.polyfit(t[span], curve[span], 1)[0]
            if slope < 0:
                out[band] = -60.0 / slope
        return out

    def power_at(self, start_s: float, decay_times_s: np.ndarray) -> np.ndarray:
        """Energy per second arriving at ``start_s`` per band, on an exponential decay.

        The energy after ``start_s`` (the Schroeder integral there) divided by the decay's
        time constant ``T / (6 ln 10)``: the level of the exponential with the given decay
        times that carries the same late energy as the histogram.

        Returns
        -------
        numpy.ndarray
            float64, shape (len(BANDS_HZ),), energy per second (the histogram's units per s).
        """
        first = math.floor(start_s / self.bin_s)
        late = self.histogram[:, first:].sum(axis=1)
        tau = np.asarray(decay_times_s, dtype=np.float64) / (6.0 * np.log(10.0))
        return late / tau


def fibonacci_directions(n: int, *, seed: int) -> np.ndarray:
    """``n`` unit vectors spread evenly over the sphere, turned by a seeded rotation.

    Returns
    -------
    numpy.ndarray
        float64, shape (n, 3).
    """
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    points = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    rng = np.random.default_rng(seed)
    q, upper = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(upper))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return points @ q.T


def trace_energy_decay(
    mesh: AcousticMesh,
    source: tuple[float, float, float] | np.ndarray,
    receiver: tuple[float, float, float] | np.ndarray,
    *,
    rays: int,
    seed: int,
    max_time_s: float,
    receiver_radius_m: float = DEFAULT_RECEIVER_RADIUS_M,
    bin_s: float = DEFAULT_BIN_S,
    energy_floor: float = 1e-7,
    air_absorption: bool = True,
) -> EnergyDecay:
    """Trace rays from a point source and collect the per-band energy at a receiver sphere.

    Parameters
    ----------
    mesh
        Triangles with absorption and scattering (:func:`spatial.acoustic_mesh.acoustic_mesh`).
    source, receiver
        World positions, metres, shape (3,).
    rays
        Number of rays (> 0).
    seed
        Seeds the directions and every scattering choice.
    max_time_s
        Rays stop after this time of flight, s (> 0); the histogram covers it.
    receiver_radius_m
        Radius of the receiver sphere, m (> 0).
    bin_s
        Histogram bin width, s (> 0).
    energy_floor
        A ray stops when its energy in every band is below this fraction of its start.
    air_absorption
        Apply air absorption (ISO 9613-1, 20 degrees C, 50% RH) per band.

    Returns
    -------
    EnergyDecay

    Raises
    ------
    ValueError
        Naming the argument and its bad value.
    """
    if isinstance(rays, bool) or not isinstance(rays, int | np.integer) or rays <= 0:
        raise ValueError(f"rays={rays!r} must be a positive integer")
    for name, value in (
        ("max_time_s", max_time_s),
        ("receiver_radius_m", receiver_radius_m),
        ("bin_s", bin_s),
    ):
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"{name}={value!r} must be a positive finite number")
    if not (0.0 < energy_floor < 1.0):
        raise ValueError(f"energy_floor={energy_floor!r} must be in (0, 1)")
    src = _point(source, "source")
    rcv = _point(receiver, "receiver")
    n_bins = math.ceil(max_time_s / bin_s) + 1
    air = air_absorption_per_m() if air_absorption else np.zeros(len(BANDS_HZ))
    bvh = mesh.bvh
    per_chunk = _trace(
        bvh.node_box,
        bvh.node_kids,
        bvh.triangles,
        bvh.slot_face,
        bvh.normals,
        1.0 - mesh.absorption,
        mesh.scattering,
        fibonacci_directions(int(rays), seed=seed),
        src,
        rcv,
        float(receiver_radius_m),
        np.uint64(seed & 0xFFFFFFFFFFFFFFFF),
        1.0 / (bin_s * SPEED_OF_SOUND),
        n_bins,
        max_time_s * SPEED_OF_SOUND,
        float(energy_floor),
        np.ascontiguousarray(air, dtype=np.float64),
    )
    return EnergyDecay(
        histogram=per_chunk.sum(axis=0),
        bin_s=float(bin_s),
        rays=int(rays),
        receiver_radius_m=float(receiver_radius_m),
    )


def _point(value: object, name: str) -> np.ndarray:
    p = np.asarray(value, dtype=np.float64)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name}={value!r} must be three finite coordinates in metres")
    return p


@njit(cache=True, inline="always")
def _uniform(state: np.ndarray) -> float:
    # splitmix64: a small, well-mixed generator whose state one ray owns, so that results
    # do not depend on which thread traces which ray.
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _deposit(
    hist: np.ndarray,
    chunk: int,
    energy: np.ndarray,
    weight: float,
    distance: float,
    bins_per_m: float,
) -> None:
    # Air absorption is applied per bin afterwards (at the bin's centre): within a 4 ms bin
    # it varies by 3% at 8 kHz, and seven exponentials per deposit are saved.
    k = int(distance * bins_per_m)
    if k < hist.shape[2]:
        for b in range(energy.size):
            hist[chunk, b, k] += energy[b] * weight


@njit(cache=True, parallel=True)
def _trace(
    node_box: np.ndarray,
    node_kids: np.ndarray,
    triangles: np.ndarray,
    slot_face: np.ndarray,
    normals: np.ndarray,
    reflectance: np.ndarray,
    scattering: np.ndarray,
    directions: np.ndarray,
    source: np.ndarray,
    receiver: np.ndarray,
    radius: float,
    seed: np.uint64,
    bins_per_m: float,
    n_bins: int,
    max_distance: float,
    energy_floor: float,
    air: np.ndarray,
) -> np.ndarray:
    n_bands = reflectance.shape[1]
    n_rays = directions.shape[0]
    hist = np.zeros((_CHUNKS, n_bands, n_bins))
    r2 = radius * radius
    track_weight = 3.0 / (radius * r2)
    rain_weight = 4.0 / r2
    cx, cy, cz = receiver[0], receiver[1], receiver[2]
    for chunk in prange(_CHUNKS):
        stack = new_stack()
        energy = np.empty(n_bands)
        state = np.empty(1, dtype=np.uint64)
        for ray in range(chunk, n_rays, _CHUNKS):
            state[0] = (seed * _GOLDEN) ^ (np.uint64(ray) * _MIX1)
            ox, oy, oz = source[0], source[1], source[2]
            dx, dy, dz = directions[ray, 0], directions[ray, 1], directions[ray, 2]
            for b in range(n_bands):
                energy[b] = 1.0 / n_rays
            floor = energy_floor / n_rays
            travel = 0.0
            countable = True
            skip = -1
            for bounce in range(_MAX_BOUNCES):
                t, slot = closest_hit(
                    node_box,
                    node_kids,
                    triangles,
                    stack,
                    ox,
                    oy,
                    oz,
                    dx,
                    dy,
                    dz,
                    _T_MIN,
                    np.inf,
                    skip,
                )
                if countable:
                    # Chord of the segment [0, t] through the receiver sphere.
                    ux, uy, uz = cx - ox, cy - oy, cz - oz
                    along = ux * dx + uy * dy + uz * dz
                    miss2 = ux * ux + uy * uy + uz * uz - along * along
                    if miss2 < r2:
                        half = math.sqrt(r2 - miss2)
                        t0 = max(along - half, 0.0)
                        t1 = min(along + half, t)
                        if t1 > t0:
                            _deposit(
                                hist,
                                chunk,
                                energy,
                                track_weight * (t1 - t0),
                                travel + 0.5 * (t0 + t1),
                                bins_per_m,
                            )
                if slot < 0:
                    break  # escaped through an opening
                travel += t
                ox, oy, oz = ox + t * dx, oy + t * dy, oz + t * dz
                face = slot_face[slot]
                nx, ny, nz = normals[face, 0], normals[face, 1], normals[face, 2]
                cos_in = dx * nx + dy * ny + dz * nz
                if cos_in > 0.0:
                    # Reflect on the side the ray came from.
                    nx, ny, nz, cos_in = -nx, -ny, -nz, -cos_in
                for b in range(n_bands):
                    energy[b] *= reflectance[face, b]
                s = scattering[face]
                if s > 0.0:
                    vx, vy, vz = cx - ox, cy - oy, cz - oz
                    h2 = vx * vx + vy * vy + vz * vz
                    h = math.sqrt(h2)
                    cos_out = (vx * nx + vy * ny + vz * nz) / max(h, 1e-12)
                    if cos_out > 0.0 and travel + h < max_distance:
                        if not any_hit(
                            node_box,
                            node_kids,
                            triangles,
                            stack,
                            ox,
                            oy,
                            oz,
                            vx,
                            vy,
                            vz,
                            _T_MIN,
                            1.0,
                            slot,
                        ):
                            # Share of the Lambert lobe inside the sphere's solid angle.
                            if h2 > r2:
                                omega = 2.0 * math.pi * (1.0 - math.sqrt(1.0 - r2 / h2))
                            else:
                                omega = 2.0 * math.pi
                            share = min(s * cos_out * omega / math.pi, s)
                            _deposit(
                                hist,
                                chunk,
                                energy,
                                rain_weight * share,
                                travel + h,
                                bins_per_m,
                            )
                if travel >= max_distance:
                    break
                if bounce % 4 == 3:
                    peak = 0.0
                    for b in range(n_bands):
                        peak = max(peak, energy[b] * math.exp(-air[b] * travel))
                    if peak < floor:
                        break
                if _uniform(state) < s:
                    # Lambert direction about the normal on the incoming side.
                    u1 = _uniform(state)
                    u2 = _uniform(state)
                    if abs(nx) > 0.9:
                        ax, ay, az = 0.0, 1.0, 0.0
                    else:
                        ax, ay, az = 1.0, 0.0, 0.0
                    t1x, t1y, t1z = ay * nz - az * ny, az * nx - ax * nz, ax * ny - ay * nx
                    norm = math.sqrt(t1x * t1x + t1y * t1y + t1z * t1z)
                    t1x, t1y, t1z = t1x / norm, t1y / norm, t1z / norm
                    t2x, t2y, t2z = ny * t1z - nz * t1y, nz * t1x - nx * t1z, nx * t1y - ny * t1x
                    rr = math.sqrt(u1)
                    c, sn = rr * math.cos(2.0 * math.pi * u2), rr * math.sin(2.0 * math.pi * u2)
                    up = math.sqrt(max(0.0, 1.0 - u1))
                    dx = c * t1x + sn * t2x + up * nx
                    dy = c * t1y + sn * t2y + up * ny
                    dz = c * t1z + sn * t2z + up * nz
                    countable = False
                else:
                    dx, dy, dz = (
                        dx - 2.0 * cos_in * nx,
                        dy - 2.0 * cos_in * ny,
                        dz - 2.0 * cos_in * nz,
                    )
                    countable = True
                skip = slot
    # Air absorption at each bin's centre.
    for k in range(n_bins):
        for b in range(n_bands):
            factor = math.exp(-air[b] * (k + 0.5) / bins_per_m)
            for chunk in range(_CHUNKS):
                hist[chunk, b, k] *= factor
    return hist
