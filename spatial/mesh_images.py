"""Image sources of a polyhedral room given as a triangle mesh, with visibility checks.

Three steps:

1. **Planes.** Triangles that lie in one plane (within an angle and a distance) act as one
   mirror: each mesh gets a table of planes, largest first (:func:`mesh_planes`). Small
   planes (scan noise, furniture detail) are not mirrors; their sound is in the ray-traced
   late part.
2. **Candidate paths** from the listener (:func:`discover_paths`): every plane (order 1),
   every ordered pair of planes when there are few (order 2), and the plane sequences that
   specular rays from the listener meet before ``max_delay_s`` (all orders up to
   ``max_order``). Shared by every source heard at that listener.
3. **Validation** per source (:func:`mesh_image_sources`): the image of the source in the
   planes of a path, and a walk back from the listener towards it through the BVH. The
   path is valid if each leg's first surface is a triangle of the next plane, hit from
   the air side, and the last leg reaches the source unobstructed. This one test covers a
   reflection point outside the plane's polygon, an opening, and an occluding column.

Gains follow :mod:`spatial.image_sources`: ``1 / r``, ``sqrt(1 - alpha)`` per band of each
triangle the path reflects from, and air absorption ``exp(-m r / 2)``. A direct sound that
a surface blocks is kept with gain zero, so that the response still starts at ``r / c``
(geometric acoustics has no diffraction: such a source is heard by its reflections and
the late tail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m
from spatial.acoustic_mesh import AcousticMesh
from spatial.bvh import any_hit, closest_hit, new_stack
from spatial.image_sources import MIN_DISTANCE_M, ImageSources
from spatial.raytrace import fibonacci_directions

__all__ = [
    "DEFAULT_DISCOVERY_RAYS",
    "DEFAULT_MAX_ORDER",
    "ImagePaths",
    "MeshPlanes",
    "discover_paths",
    "mesh_image_sources",
    "mesh_planes",
]

#: Highest reflection order searched (the transition time usually ends the search first).
DEFAULT_MAX_ORDER = 8

#: Specular rays from the listener that find the plane sequences of orders 3 and up.
DEFAULT_DISCOVERY_RAYS = 8192

# Planes: triangles whose three corners lie within this distance of a plane's fit, and
# whose normals are within this angle of its normal, belong to it (scans are noisy by a
# centimetre or two, which tilts small triangles by degrees); smaller planes are no mirrors.
_ANGLE_TOL_DEG = 20.0
_DISTANCE_TOL_M = 0.03
_MIN_PLANE_AREA_M2 = 0.25
_MAX_PLANES = 512
# Every ordered pair of planes is a candidate when there are at most this many planes.
_EXHAUSTIVE_PAIRS_MAX_PLANES = 64
# A reflection point may lie this far outside a plane's bounding box (m): scan noise.
_BOX_SLACK_M = _DISTANCE_TOL_M


@dataclass(frozen=True, eq=False)
class MeshPlanes:
    """The planes of a mesh that act as mirrors.

    Attributes
    ----------
    face_plane
        int64, shape (F,): plane of each triangle, -1 for triangles in no mirror plane.
    normals
        float64, shape (P, 3): unit normal of each plane, on the side the triangles' own
        normals point to (into the air for meshes wound that way).
    offsets
        float64, shape (P,): ``normal . x = offset`` on the plane, metres.
    areas
        float64, shape (P,): area of the plane's triangles, m^2, largest first.
    boxes
        float64, shape (P, 6): bounding box of each plane's triangles (low, high), metres.
    """

    face_plane: np.ndarray
    normals: np.ndarray
    offsets: np.ndarray
    areas: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.size)


@dataclass(frozen=True, eq=False)
class ImagePaths:
    """Candidate reflection paths from one listener position.

    Attributes
    ----------
    listener
        float64, shape (3,), metres.
    sequences
        int64, shape (N, max_order): plane indices from the listener's side, -1 after the
        path's last reflection; unique rows.
    max_delay_s
        Paths longer than ``max_delay_s * SPEED_OF_SOUND`` are left out.
    planes
        The planes the indices refer to.
    """

    listener: np.ndarray
    sequences: np.ndarray
    max_delay_s: float
    planes: MeshPlanes

    @property
    def max_order(self) -> int:
        """Highest reflection order a path may have."""
        return int(self.sequences.shape[1])


def mesh_planes(mesh: AcousticMesh) -> MeshPlanes:
    """Group a mesh's triangles into mirror planes (cached per mesh).

    Greedy and largest first: the largest unassigned triangle seeds a plane, the plane is
    refitted (area-weighted normal and offset) to the triangles whose corners lie within
    3 cm of it (and whose normals are within 20 degrees of its normal), and those join it.
    Planes under 0.25 m^2 are not mirrors; at most 512 planes are kept.

    Returns
    -------
    MeshPlanes
    """
    return _planes(mesh)


@lru_cache(maxsize=8)
def _planes(mesh: AcousticMesh) -> MeshPlanes:
    corners = mesh.vertices[mesh.faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    area = 0.5 * double_area
    normal = np.divide(
        cross, double_area[:, None], out=np.zeros_like(cross), where=area[:, None] > 0
    )
    centroid = corners.mean(axis=1)
    cos_tol = math.cos(math.radians(_ANGLE_TOL_DEG))
    face_plane = np.full(mesh.n_faces, -1, dtype=np.int64)
    open_ = area > 0.0
    order = np.argsort(-area, kind="stable")
    cursor = 0
    normals, offsets, areas, boxes = [], [], [], []
    # Each round is O(F); the bound keeps a noisy scan of 10^5 triangles to about a second.
    for _ in range(4 * _MAX_PLANES):
        while cursor < order.size and not open_[order[cursor]]:
            cursor += 1
        if cursor >= order.size or len(normals) >= _MAX_PLANES:
            break
        seed = order[cursor]
        n, d = normal[seed], float(normal[seed] @ centroid[seed])
        for _refit in range(2):
            off = np.abs(corners @ n - d).max(axis=1)
            members = open_ & (normal @ n > cos_tol) & (off < _DISTANCE_TOL_M)
            members[seed] = True
            w = area[members]
            n = (normal[members] * w[:, None]).sum(axis=0)
            n /= np.linalg.norm(n)
            d = float((centroid[members] @ n * w).sum() / w.sum())
        open_[members] = False
        total = float(area[members].sum())
        if total < _MIN_PLANE_AREA_M2:
            continue
        face_plane[members] = len(normals)
        normals.append(n)
        offsets.append(d)
        areas.append(total)
        points = corners[members].reshape(-1, 3)
        boxes.append(np.r_[points.min(axis=0), points.max(axis=0)])
    rank = np.argsort(-np.asarray(areas), kind="stable")
    remap = np.full(len(areas) + 1, -1, dtype=np.int64)
    remap[rank] = np.arange(len(areas))
    return MeshPlanes(
        face_plane=remap[face_plane],
        normals=np.asarray(normals, dtype=np.float64).reshape(-1, 3)[rank],
        offsets=np.asarray(offsets, dtype=np.float64)[rank],
        areas=np.asarray(areas, dtype=np.float64)[rank],
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 6)[rank],
    )


def discover_paths(
    mesh: AcousticMesh,
    listener: tuple[float, float, float] | np.ndarray,
    *,
    max_delay_s: float,
    max_order: int = DEFAULT_MAX_ORDER,
    rays: int = DEFAULT_DISCOVERY_RAYS,
    seed: int = 0,
) -> ImagePaths:
    """Candidate plane sequences for image sources heard at ``listener``.

    Parameters
    ----------
    mesh
        The room.
    listener
        Position, metres, shape (3,).
    max_delay_s
        Longest path, as a travel time, s (>= 0).
    max_order
        Most reflections on a path (>= 1).
    rays
        Specular rays traced from the listener to find sequences of order 3 and up.
    seed
        Turns the rays' directions.

    Returns
    -------
    ImagePaths

    Raises
    ------
    ValueError
        Naming the argument and its bad value.
    """
    lis = np.asarray(listener, dtype=np.float64)
    if lis.shape != (3,) or not np.all(np.isfinite(lis)):
        raise ValueError(f"listener={listener!r} must be three finite coordinates in metres")
    if not (max_delay_s >= 0.0 and math.isfinite(max_delay_s)):
        raise ValueError(f"max_delay_s={max_delay_s!r} must be a finite number >= 0")
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order={max_order!r} must be an integer >= 1")
    if isinstance(rays, bool) or not isinstance(rays, int) or rays < 0:
        raise ValueError(f"rays={rays!r} must be an integer >= 0")
    planes = mesh_planes(mesh)
    n_planes = len(planes)
    rows = [np.full((n_planes, max_order), -1, dtype=np.int64)]
    rows[0][:, 0] = np.arange(n_planes)
    if max_order >= 2 and 1 < n_planes <= _EXHAUSTIVE_PAIRS_MAX_PLANES:
        a, b = np.meshgrid(np.arange(n_planes), np.arange(n_planes), indexing="ij")
        pairs = np.stack([a.ravel(), b.ravel()], axis=1)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        block = np.full((len(pairs), max_order), -1, dtype=np.int64)
        block[:, :2] = pairs
        rows.append(block)
    if rays > 0 and n_planes > 0:
        bvh = mesh.bvh
        found, count = _discover(
            bvh.node_box,
            bvh.node_kids,
            bvh.triangles,
            bvh.slot_face,
            planes.face_plane,
            planes.normals,
            fibonacci_directions(rays, seed=seed),
            lis,
            max_order,
            max_delay_s * SPEED_OF_SOUND,
        )
        rows.append(found[:count])
    sequences = _unique_rows(np.concatenate(rows))
    return ImagePaths(
        listener=lis, sequences=sequences, max_delay_s=float(max_delay_s), planes=planes
    )


def mesh_image_sources(
    mesh: AcousticMesh, paths: ImagePaths, source: tuple[float, float, float] | np.ndarray
) -> ImageSources:
    """The valid image sources of ``source`` among a listener's candidate paths.

    Parameters
    ----------
    mesh
        The room the paths were found in.
    paths
        From :func:`discover_paths` (this listener, this mesh).
    source
        Position, metres, shape (3,).

    Returns
    -------
    ImageSources
        The direct sound (order 0; gain zero when a surface blocks it) and every valid
        reflection path no longer than ``paths.max_delay_s``, sorted by delay.

    Raises
    ------
    ValueError
        For a source that is not three finite coordinates.
    """
    src = np.asarray(source, dtype=np.float64)
    if src.shape != (3,) or not np.all(np.isfinite(src)):
        raise ValueError(f"source={source!r} must be three finite coordinates in metres")
    planes = paths.planes
    bvh = mesh.bvh
    half_log_reflectance = 0.5 * np.log(np.clip(1.0 - mesh.absorption, 1e-12, 1.0))
    positions, log_gain, orders = _validate(
        bvh.node_box,
        bvh.node_kids,
        bvh.triangles,
        bvh.slot_face,
        bvh.normals,
        planes.face_plane,
        planes.normals,
        planes.offsets,
        planes.boxes,
        half_log_reflectance,
        paths.sequences,
        src,
        paths.listener,
        paths.max_delay_s * SPEED_OF_SOUND,
    )
    distances = np.linalg.norm(positions - paths.listener, axis=1)
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


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    # Lexicographic sort and neighbour comparison: much faster than np.unique(axis=0).
    if len(rows) < 2:
        return rows
    ordered = rows[np.lexsort(rows.T[::-1])]
    keep = np.r_[True, np.any(ordered[1:] != ordered[:-1], axis=1)]
    return ordered[keep]


@njit(cache=True)
def _discover(
    node_box: np.ndarray,
    node_kids: np.ndarray,
    triangles: np.ndarray,
    slot_face: np.ndarray,
    face_plane: np.ndarray,
    plane_normals: np.ndarray,
    directions: np.ndarray,
    origin: np.ndarray,
    max_order: int,
    max_distance: float,
) -> tuple[np.ndarray, int]:
    n_rays = directions.shape[0]
    found = np.full((n_rays * max_order, max_order), -1, dtype=np.int64)
    count = 0
    stack = new_stack()
    sequence = np.empty(max_order, dtype=np.int64)
    for ray in range(n_rays):
        ox, oy, oz = origin[0], origin[1], origin[2]
        dx, dy, dz = directions[ray, 0], directions[ray, 1], directions[ray, 2]
        travel = 0.0
        skip = -1
        for k in range(max_order):
            t, slot = closest_hit(
                node_box, node_kids, triangles, stack, ox, oy, oz, dx, dy, dz, 1e-9, np.inf, skip
            )
            if slot < 0:
                break
            travel += t
            if travel > max_distance:
                break
            plane = face_plane[slot_face[slot]]
            if plane < 0:
                break
            sequence[k] = plane
            for j in range(k + 1):
                found[count, j] = sequence[j]
            count += 1
            # Mirror in the plane (not the triangle) so that scan noise does not scramble
            # the higher orders.
            nx, ny, nz = plane_normals[plane, 0], plane_normals[plane, 1], plane_normals[plane, 2]
            dot = dx * nx + dy * ny + dz * nz
            ox, oy, oz = ox + t * dx, oy + t * dy, oz + t * dz
            dx, dy, dz = dx - 2.0 * dot * nx, dy - 2.0 * dot * ny, dz - 2.0 * dot * nz
            skip = slot
    return found, count


@njit(cache=True)
def _validate(
    node_box: np.ndarray,
    node_kids: np.ndarray,
    triangles: np.ndarray,
    slot_face: np.ndarray,
    face_normals: np.ndarray,
    face_plane: np.ndarray,
    plane_normals: np.ndarray,
    plane_offsets: np.ndarray,
    plane_boxes: np.ndarray,
    half_log_reflectance: np.ndarray,
    sequences: np.ndarray,
    source: np.ndarray,
    listener: np.ndarray,
    max_distance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_paths, max_order = sequences.shape
    n_bands = half_log_reflectance.shape[1]
    positions = np.empty((n_paths + 1, 3))
    log_gain = np.zeros((n_paths + 1, n_bands))
    orders = np.zeros(n_paths + 1, dtype=np.int64)
    stack = new_stack()
    image = np.empty(3)
    target = np.empty(3)
    point = np.empty(3)
    gain = np.empty(n_bands)
    lx, ly, lz = listener[0], listener[1], listener[2]
    sx, sy, sz = source[0], source[1], source[2]

    # The direct sound, blocked or not.
    positions[0, 0], positions[0, 1], positions[0, 2] = sx, sy, sz
    if any_hit(
        node_box,
        node_kids,
        triangles,
        stack,
        lx,
        ly,
        lz,
        sx - lx,
        sy - ly,
        sz - lz,
        1e-9,
        1.0 - 1e-9,
        -1,
    ):
        for b in range(n_bands):
            log_gain[0, b] = -np.inf
    count = 1

    for c in range(n_paths):
        k = 0
        while k < max_order and sequences[c, k] >= 0:
            k += 1
        # Image of the source in planes q_k, ..., q_1; it must lie in front of each plane
        # before that plane mirrors it.
        image[0], image[1], image[2] = sx, sy, sz
        ok = True
        for i in range(k - 1, -1, -1):
            q = sequences[c, i]
            nx, ny, nz = plane_normals[q, 0], plane_normals[q, 1], plane_normals[q, 2]
            height = nx * image[0] + ny * image[1] + nz * image[2] - plane_offsets[q]
            if height <= 0.0:
                ok = False
                break
            image[0] -= 2.0 * height * nx
            image[1] -= 2.0 * height * ny
            image[2] -= 2.0 * height * nz
        if not ok:
            continue
        ix, iy, iz = image[0] - lx, image[1] - ly, image[2] - lz
        if ix * ix + iy * iy + iz * iz > max_distance * max_distance:
            continue
        # Walk from the listener towards the image, one plane at a time.
        point[0], point[1], point[2] = lx, ly, lz
        target[0], target[1], target[2] = image[0], image[1], image[2]
        for b in range(n_bands):
            gain[b] = 0.0
        skip = -1
        for i in range(k):
            q = sequences[c, i]
            nx, ny, nz = plane_normals[q, 0], plane_normals[q, 1], plane_normals[q, 2]
            dx, dy, dz = target[0] - point[0], target[1] - point[1], target[2] - point[2]
            toward = nx * dx + ny * dy + nz * dz
            if toward >= 0.0:
                ok = False
                break
            t_plane = (plane_offsets[q] - (nx * point[0] + ny * point[1] + nz * point[2])) / toward
            if not (0.0 < t_plane < 1.0):
                ok = False
                break
            hx, hy, hz = point[0] + t_plane * dx, point[1] + t_plane * dy, point[2] + t_plane * dz
            if (
                hx < plane_boxes[q, 0] - _BOX_SLACK_M
                or hy < plane_boxes[q, 1] - _BOX_SLACK_M
                or hz < plane_boxes[q, 2] - _BOX_SLACK_M
                or hx > plane_boxes[q, 3] + _BOX_SLACK_M
                or hy > plane_boxes[q, 4] + _BOX_SLACK_M
                or hz > plane_boxes[q, 5] + _BOX_SLACK_M
            ):
                ok = False
                break
            length = math.sqrt(dx * dx + dy * dy + dz * dz)
            # The plane's triangles may lie up to the clustering tolerance off the plane.
            reach = t_plane + _DISTANCE_TOL_M / (length * max(-toward / length, 1e-3))
            _, slot = closest_hit(
                node_box,
                node_kids,
                triangles,
                stack,
                point[0],
                point[1],
                point[2],
                dx,
                dy,
                dz,
                1e-9,
                reach,
                skip,
            )
            if slot < 0:
                ok = False  # an opening, or outside the plane's polygon
                break
            face = slot_face[slot]
            if face_plane[face] != q:
                ok = False  # another surface is in the way
                break
            if (
                dx * face_normals[face, 0] + dy * face_normals[face, 1] + dz * face_normals[face, 2]
                >= 0
            ):
                ok = False  # the back of the surface
                break
            for b in range(n_bands):
                gain[b] += half_log_reflectance[face, b]
            point[0], point[1], point[2] = hx, hy, hz
            height = nx * target[0] + ny * target[1] + nz * target[2] - plane_offsets[q]
            target[0] -= 2.0 * height * nx
            target[1] -= 2.0 * height * ny
            target[2] -= 2.0 * height * nz
            skip = slot
        if not ok:
            continue
        if any_hit(
            node_box,
            node_kids,
            triangles,
            stack,
            point[0],
            point[1],
            point[2],
            sx - point[0],
            sy - point[1],
            sz - point[2],
            1e-9,
            1.0 - 1e-9,
            skip,
        ):
            continue
        positions[count, 0], positions[count, 1], positions[count, 2] = image[0], image[1], image[2]
        for b in range(n_bands):
            log_gain[count, b] = gain[b]
        orders[count] = k
        count += 1
    return positions[:count].copy(), log_gain[:count].copy(), orders[:count].copy()
