"""Image sources: the direct sound and the specular reflections, each with per-band gains.

Amplitude convention: ``1 / r`` with r in metres (the direct sound 1 m away has gain 1),
times ``sqrt(1 - alpha)`` for every surface hit, per band, times air absorption
``exp(-m r / 2)`` per band (``m`` the energy attenuation of air per metre).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m
from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Room

__all__ = ["MAX_IMAGES", "MIN_DISTANCE_M", "ImageSources", "image_sources"]

#: Distances below this are treated as this for the 1/r law (metres): closer than a head's
#: radius the point-source law means nothing and 1/r would blow up.
MIN_DISTANCE_M = 0.1

#: Most images kept for one source (the earliest); a safety cap for tiny rooms.
MAX_IMAGES = 20_000


@dataclass(frozen=True)
class ImageSources:
    """Image sources of one source for one listener position, sorted by delay.

    Attributes
    ----------
    positions
        float64, shape (N, 3): world coordinates of each image, metres.
    distances
        float64, shape (N,): image-to-listener distance, metres.
    delays_s
        float64, shape (N,): ``distances / SPEED_OF_SOUND``, seconds.
    gains
        float64, shape (N, len(BANDS_HZ)): amplitude gain per octave band (1/r, walls, air).
    orders
        int64, shape (N,): number of reflections (0 is the direct sound).
    """

    positions: np.ndarray
    distances: np.ndarray
    delays_s: np.ndarray
    gains: np.ndarray
    orders: np.ndarray

    def __len__(self) -> int:
        return int(self.delays_s.size)


def image_sources(
    room: Room,
    source: tuple[float, float, float] | np.ndarray,
    listener: tuple[float, float, float] | np.ndarray,
    *,
    max_delay_s: float,
) -> ImageSources:
    """Compute the image sources of ``source`` heard at ``listener``.

    Parameters
    ----------
    room
        ``free_field``: the direct sound only. ``outdoor``: direct sound plus one reflection
        off the ground z = 0 with ``room.material("ground")``. ``shoebox`` and ``mesh`` (its
        box ``room.origin + [0, room.size]``): all images of any order whose delay is below
        ``max_delay_s``.
    source, listener
        World positions, metres, shape (3,).
    max_delay_s
        Images arriving later are left out (enclosed rooms only; the direct sound and the
        ground reflection are always kept).

    Returns
    -------
    ImageSources
        Sorted by delay.
    """
    src = np.asarray(source, dtype=np.float64)
    lis = np.asarray(listener, dtype=np.float64)
    n_bands = len(BANDS_HZ)
    if room.kind == "free_field":
        positions = src[None, :]
        log_gain = np.zeros((1, n_bands))
        orders = np.zeros(1, dtype=np.int64)
    elif room.kind == "outdoor":
        mirrored = src * np.array([1.0, 1.0, -1.0])
        positions = np.stack([src, mirrored])
        alpha = np.asarray(room.material("ground").absorption, dtype=np.float64)
        log_gain = np.stack([np.zeros(n_bands), _half_log_reflectance(alpha)])
        orders = np.array([0, 1], dtype=np.int64)
    elif room.kind in ("shoebox", "mesh"):
        if room.size is None:
            raise ValueError(f"room.size=None for a {room.kind!r} room; give (Lx, Ly, Lz) in m")
        positions, log_gain, orders = _box_images(room, src, lis, max_delay_s)
    else:
        raise ValueError(
            f"room.kind={room.kind!r} is not one of 'free_field', 'outdoor', 'shoebox', 'mesh'"
        )
    distances = np.linalg.norm(positions - lis, axis=1)
    r = np.maximum(distances, MIN_DISTANCE_M)
    air = -0.5 * air_absorption_per_m()[None, :] * distances[:, None]
    gains = np.exp(log_gain + air) / r[:, None]
    order = np.argsort(distances, kind="stable")
    return ImageSources(
        positions=positions[order],
        distances=distances[order],
        delays_s=distances[order] / SPEED_OF_SOUND,
        gains=gains[order],
        orders=orders[order],
    )


def _half_log_reflectance(alpha: np.ndarray) -> np.ndarray:
    # ln sqrt(1 - alpha), with alpha = 1 (a perfect absorber) giving a vanishing reflection
    # rather than -inf in later arithmetic.
    return 0.5 * np.log(np.clip(1.0 - alpha, 1e-12, 1.0))


@lru_cache(maxsize=32)
def _surface_log_reflectances(room: Room) -> dict[str, np.ndarray]:
    # Per room, not per call: a moving source asks for its images every few blocks.
    return {
        name: _half_log_reflectance(np.asarray(room.material(name).absorption, dtype=np.float64))
        for name in SHOEBOX_SURFACES
    }


def _box_images(
    room: Room, src: np.ndarray, lis: np.ndarray, max_delay_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = np.asarray(room.size, dtype=np.float64)
    origin = np.asarray(room.origin, dtype=np.float64)
    s = src - origin
    radius = max(max_delay_s, 0.0) * SPEED_OF_SOUND
    log_r = _surface_log_reflectances(room)
    # Along one axis of [0, L], image i sits at i L + (s if i is even else L - s): it has hit
    # the far wall ceil(i/2) and the near wall floor(i/2) times for i > 0, mirrored for i < 0.
    axes = []
    for axis, (low, high) in enumerate(
        (("west", "east"), ("south", "north"), ("floor", "ceiling"))
    ):
        length = size[axis]
        n = int(np.ceil(radius / length)) + 1
        i = np.arange(-n, n + 1)
        coord = i * length + np.where(i % 2 == 0, s[axis], length - s[axis])
        hits_high = np.where(i > 0, (i + 1) // 2, (-i) // 2)
        hits_low = np.where(i > 0, i // 2, (-i + 1) // 2)
        log_gain = hits_low[:, None] * log_r[low][None, :] + hits_high[:, None] * log_r[high]
        keep = np.abs(coord + origin[axis] - lis[axis]) <= radius + length
        axes.append((coord[keep] + origin[axis], log_gain[keep], np.abs(i[keep])))
    (x, gx, ox), (y, gy, oy), (z, gz, oz) = axes
    pos = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1).reshape(-1, 3)
    d = np.linalg.norm(pos - lis, axis=1)
    near = d <= radius
    # The direct sound is kept even when it arrives after max_delay_s.
    direct = (ox[:, None, None] + oy[None, :, None] + oz[None, None, :]).reshape(-1) == 0
    near |= direct
    idx = np.flatnonzero(near)
    if idx.size > MAX_IMAGES:
        idx = idx[np.argsort(d[idx], kind="stable")[:MAX_IMAGES]]
    ix, iy, iz = np.unravel_index(idx, (x.size, y.size, z.size))
    log_gain = gx[ix] + gy[iy] + gz[iz]
    orders = (ox[ix] + oy[iy] + oz[iz]).astype(np.int64)
    return pos[idx], log_gain, orders
