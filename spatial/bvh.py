"""A bounding volume hierarchy over triangles and the ray queries that run against it.

The tree is built top-down in numba with a binned surface-area heuristic (16 bins on each
axis, leaves of at most 4 triangles where the heuristic allows), so that a ray against a
mesh of 10^5 triangles visits a few dozen boxes instead of every triangle. Triangles are
stored in the tree's order as ``(v0, v1 - v0, v2 - v0)`` for the Moeller-Trumbore test.

The queries are numba functions that take the tree's arrays (``node_box``, ``node_kids``,
``triangles``) and a scratch stack, so that other numba kernels (the ray tracer, the image
sources) call them in their inner loops without allocating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["STACK_SIZE", "TriangleBvh", "any_hit", "build_bvh", "closest_hit", "new_stack"]

#: Depth of the traversal stack the queries need (the build keeps the tree shallower).
STACK_SIZE = 128

# The build stops splitting below this depth, so that traversal never overflows its stack.
_MAX_DEPTH = 60
_N_BINS = 16
_LEAF_SIZE = 4
# Leaves the heuristic prefers may hold more, up to this many triangles.
_MAX_LEAF = 16
# Barycentric slack: a ray through the shared edge of two triangles hits one of them
# despite rounding, so that closed meshes do not leak rays.
_EDGE_SLACK = 1e-9


@dataclass(frozen=True, eq=False)
class TriangleBvh:
    """A bounding volume hierarchy over a triangle mesh.

    Attributes
    ----------
    node_box
        float64, shape (M, 6): each node's box, lowest corner then highest corner, metres.
    node_kids
        int64, shape (M, 3): ``(first, count, 0)`` for a leaf holding ``count > 0``
        triangles from slot ``first``; ``(left, right, 0)`` with count 0 for an inner node
        (column 2 holds the count). Node 0 is the root.
    triangles
        float64, shape (F, 9): ``v0, v1 - v0, v2 - v0`` of the triangle in each slot.
    slot_face
        int64, shape (F,): index into the input faces of the triangle in each slot.
    normals
        float64, shape (F, 3): unit normal of each input face (``(v1 - v0) x (v2 - v0)``
        normalised; zero for a degenerate face), in input order.
    low, high
        The mesh's bounding box, metres.
    """

    node_box: np.ndarray
    node_kids: np.ndarray
    triangles: np.ndarray
    slot_face: np.ndarray
    normals: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def n_faces(self) -> int:
        """Number of triangles."""
        return int(self.slot_face.size)

    @property
    def depth(self) -> int:
        """Largest number of nodes from the root to a leaf."""
        return _depth(self.node_kids)

    def closest(self, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First triangle hit by each ray (a convenience over :func:`closest_hit`).

        Parameters
        ----------
        origins, directions
            float64, shape (N, 3); directions need not be unit vectors.

        Returns
        -------
        t, face
            float64 and int64, shape (N,): the distance along each ray in units of its
            direction's length (``inf`` for a miss) and the input face hit (-1 for a miss).
        """
        origins = np.ascontiguousarray(origins, dtype=np.float64).reshape(-1, 3)
        directions = np.ascontiguousarray(directions, dtype=np.float64).reshape(-1, 3)
        if origins.shape != directions.shape:
            raise ValueError(
                f"origins.shape={origins.shape} and directions.shape={directions.shape} differ"
            )
        return _closest_many(
            self.node_box, self.node_kids, self.triangles, self.slot_face, origins, directions
        )


def build_bvh(vertices: np.ndarray, faces: np.ndarray) -> TriangleBvh:
    """Build the hierarchy of a triangle mesh.

    Parameters
    ----------
    vertices
        Shape (V, 3), metres.
    faces
        Integer, shape (F, 3), F >= 1: vertex indices of each triangle.

    Returns
    -------
    TriangleBvh

    Raises
    ------
    ValueError
        For arrays of the wrong shape, no faces, indices out of range or non-finite
        vertices.
    """
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices.shape={vertices.shape} must be (V, 3)")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise ValueError(f"faces.shape={faces.shape} must be (F, 3) with F >= 1")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ValueError(
            f"faces index vertices {faces.min()}..{faces.max()}; there are {len(vertices)}"
        )
    if not np.all(np.isfinite(vertices)):
        raise ValueError("vertices must be finite")
    corners = vertices[faces]
    e1 = corners[:, 1] - corners[:, 0]
    e2 = corners[:, 2] - corners[:, 0]
    cross = np.cross(e1, e2)
    length = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, length[:, None], out=np.zeros_like(cross), where=length[:, None] > 0)
    low_t = corners.min(axis=1)
    high_t = corners.max(axis=1)
    centroid = corners.mean(axis=1)
    node_box, node_kids, order = _build(low_t, high_t, centroid)
    triangles = np.ascontiguousarray(np.concatenate([corners[:, 0], e1, e2], axis=1)[order])
    return TriangleBvh(
        node_box=node_box,
        node_kids=node_kids,
        triangles=triangles,
        slot_face=order,
        normals=normals,
        low=low_t.min(axis=0),
        high=high_t.max(axis=0),
    )


@njit(cache=True)
def _area(lo0: float, lo1: float, lo2: float, hi0: float, hi1: float, hi2: float) -> float:
    dx, dy, dz = hi0 - lo0, hi1 - lo1, hi2 - lo2
    if dx < 0.0 or dy < 0.0 or dz < 0.0:
        return 0.0
    return dx * dy + dy * dz + dz * dx


@njit(cache=True)
def _build(
    low_t: np.ndarray, high_t: np.ndarray, centroid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = low_t.shape[0]
    order = np.arange(n)
    max_nodes = 2 * n
    node_box = np.empty((max_nodes, 6))
    node_kids = np.zeros((max_nodes, 3), dtype=np.int64)
    stack_node = np.empty(2 * _MAX_DEPTH + 8, dtype=np.int64)
    stack_start = np.empty(2 * _MAX_DEPTH + 8, dtype=np.int64)
    stack_end = np.empty(2 * _MAX_DEPTH + 8, dtype=np.int64)
    stack_depth = np.empty(2 * _MAX_DEPTH + 8, dtype=np.int64)
    bin_count = np.zeros(_N_BINS, dtype=np.int64)
    bin_box = np.empty((_N_BINS, 6))
    right_area = np.empty(_N_BINS)
    right_count = np.empty(_N_BINS, dtype=np.int64)
    n_nodes = 1
    sp = 0
    stack_node[0], stack_start[0], stack_end[0], stack_depth[0] = 0, 0, n, 0
    sp = 1
    while sp > 0:
        sp -= 1
        node, start, end, depth = stack_node[sp], stack_start[sp], stack_end[sp], stack_depth[sp]
        count = end - start
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        clo = np.full(3, np.inf)
        chi = np.full(3, -np.inf)
        for i in range(start, end):
            f = order[i]
            for k in range(3):
                lo[k] = min(lo[k], low_t[f, k])
                hi[k] = max(hi[k], high_t[f, k])
                clo[k] = min(clo[k], centroid[f, k])
                chi[k] = max(chi[k], centroid[f, k])
        for k in range(3):
            node_box[node, k] = lo[k]
            node_box[node, 3 + k] = hi[k]
        if count <= _LEAF_SIZE or depth >= _MAX_DEPTH:
            node_kids[node, 0], node_kids[node, 1], node_kids[node, 2] = start, count, count
            continue
        # Binned SAH over the three axes of the centroid box.
        best_cost = np.inf
        best_axis = -1
        best_split = 0
        for axis in range(3):
            extent = chi[axis] - clo[axis]
            if extent <= 0.0:
                continue
            scale = _N_BINS / extent
            bin_count[:] = 0
            for b in range(_N_BINS):
                for k in range(3):
                    bin_box[b, k] = np.inf
                    bin_box[b, 3 + k] = -np.inf
            for i in range(start, end):
                f = order[i]
                b = min(int((centroid[f, axis] - clo[axis]) * scale), _N_BINS - 1)
                bin_count[b] += 1
                for k in range(3):
                    bin_box[b, k] = min(bin_box[b, k], low_t[f, k])
                    bin_box[b, 3 + k] = max(bin_box[b, 3 + k], high_t[f, k])
            # Sweep from the right: area and count of bins b.. for each split b.
            rlo = np.full(3, np.inf)
            rhi = np.full(3, -np.inf)
            total = 0
            for b in range(_N_BINS - 1, 0, -1):
                total += bin_count[b]
                for k in range(3):
                    rlo[k] = min(rlo[k], bin_box[b, k])
                    rhi[k] = max(rhi[k], bin_box[b, 3 + k])
                right_area[b] = _area(rlo[0], rlo[1], rlo[2], rhi[0], rhi[1], rhi[2])
                right_count[b] = total
            llo = np.full(3, np.inf)
            lhi = np.full(3, -np.inf)
            left = 0
            for b in range(1, _N_BINS):
                left += bin_count[b - 1]
                for k in range(3):
                    llo[k] = min(llo[k], bin_box[b - 1, k])
                    lhi[k] = max(lhi[k], bin_box[b - 1, 3 + k])
                if left == 0 or right_count[b] == 0:
                    continue
                cost = (
                    _area(llo[0], llo[1], llo[2], lhi[0], lhi[1], lhi[2]) * left
                    + right_area[b] * right_count[b]
                )
                if cost < best_cost:
                    best_cost, best_axis, best_split = cost, axis, b
        node_area = _area(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2])
        # Traversal costs about one triangle test per box; a leaf costs one per triangle.
        if count <= _MAX_LEAF and (best_axis < 0 or best_cost >= node_area * (count - 1.0)):
            node_kids[node, 0], node_kids[node, 1], node_kids[node, 2] = start, count, count
            continue
        mid = start
        if best_axis >= 0:
            scale = _N_BINS / (chi[best_axis] - clo[best_axis])
            i, j = start, end - 1
            while i <= j:
                f = order[i]
                b = min(int((centroid[f, best_axis] - clo[best_axis]) * scale), _N_BINS - 1)
                if b < best_split:
                    i += 1
                else:
                    order[i], order[j] = order[j], order[i]
                    j -= 1
            mid = i
        if mid <= start or mid >= end:
            # All centroids in one place (or rounding put them on one side): split by count.
            mid = start + count // 2
        left_node, right_node = n_nodes, n_nodes + 1
        n_nodes += 2
        node_kids[node, 0], node_kids[node, 1], node_kids[node, 2] = left_node, right_node, 0
        stack_node[sp], stack_start[sp], stack_end[sp], stack_depth[sp] = (
            right_node,
            mid,
            end,
            depth + 1,
        )
        sp += 1
        stack_node[sp], stack_start[sp], stack_end[sp], stack_depth[sp] = (
            left_node,
            start,
            mid,
            depth + 1,
        )
        sp += 1
    return node_box[:n_nodes].copy(), node_kids[:n_nodes].copy(), order


@njit(cache=True)
def new_stack() -> np.ndarray:
    """Scratch space for one traversal at a time: float64, shape (STACK_SIZE, 2)."""
    return np.empty((STACK_SIZE, 2))


@njit(cache=True)
def _depth(node_kids: np.ndarray) -> int:
    depth = np.zeros(node_kids.shape[0], dtype=np.int64)
    depth[0] = 1
    deepest = 1
    for node in range(node_kids.shape[0]):
        if node_kids[node, 2] == 0:
            for child in (node_kids[node, 0], node_kids[node, 1]):
                depth[child] = depth[node] + 1
                deepest = max(deepest, depth[child])
    return deepest


@njit(cache=True, inline="always")
def _box_entry(
    box: np.ndarray,
    node: int,
    ox: float,
    oy: float,
    oz: float,
    ix: float,
    iy: float,
    iz: float,
    t_max: float,
) -> float:
    # Slab test; returns the entry distance, or inf for a miss (or entry beyond t_max).
    t0 = (box[node, 0] - ox) * ix
    t1 = (box[node, 3] - ox) * ix
    tmin = min(t0, t1)
    tmax = max(t0, t1)
    t0 = (box[node, 1] - oy) * iy
    t1 = (box[node, 4] - oy) * iy
    tmin = max(tmin, min(t0, t1))
    tmax = min(tmax, max(t0, t1))
    t0 = (box[node, 2] - oz) * iz
    t1 = (box[node, 5] - oz) * iz
    tmin = max(tmin, min(t0, t1))
    tmax = min(tmax, max(t0, t1))
    if tmax >= max(tmin, 0.0) and tmin <= t_max:
        return max(tmin, 0.0)
    return np.inf


@njit(cache=True, inline="always")
def _inverse(d: float) -> float:
    # 1/d with a signed huge value for d = 0, so that the slab test never sees 0 * inf.
    if d == 0.0:
        return 1e300
    return 1.0 / d


@njit(cache=True, inline="always")
def _triangle_t(
    tri: np.ndarray, slot: int, ox: float, oy: float, oz: float, dx: float, dy: float, dz: float
) -> float:
    # Moeller-Trumbore, two-sided; returns the distance along the ray or inf.
    e1x, e1y, e1z = tri[slot, 3], tri[slot, 4], tri[slot, 5]
    e2x, e2y, e2z = tri[slot, 6], tri[slot, 7], tri[slot, 8]
    px = dy * e2z - dz * e2y
    py = dz * e2x - dx * e2z
    pz = dx * e2y - dy * e2x
    det = e1x * px + e1y * py + e1z * pz
    if det == 0.0:
        return np.inf
    inv = 1.0 / det
    tx, ty, tz = ox - tri[slot, 0], oy - tri[slot, 1], oz - tri[slot, 2]
    u = (tx * px + ty * py + tz * pz) * inv
    if u < -_EDGE_SLACK or u > 1.0 + _EDGE_SLACK:
        return np.inf
    qx = ty * e1z - tz * e1y
    qy = tz * e1x - tx * e1z
    qz = tx * e1y - ty * e1x
    v = (dx * qx + dy * qy + dz * qz) * inv
    if v < -_EDGE_SLACK or u + v > 1.0 + _EDGE_SLACK:
        return np.inf
    return (e2x * qx + e2y * qy + e2z * qz) * inv


@njit(cache=True)
def closest_hit(
    node_box: np.ndarray,
    node_kids: np.ndarray,
    triangles: np.ndarray,
    stack: np.ndarray,
    ox: float,
    oy: float,
    oz: float,
    dx: float,
    dy: float,
    dz: float,
    t_min: float,
    t_max: float,
    skip: int,
) -> tuple[float, int]:
    """The first triangle a ray hits within ``(t_min, t_max)``.

    Parameters
    ----------
    node_box, node_kids, triangles
        The arrays of a :class:`TriangleBvh`.
    stack
        float64 scratch array of shape (:data:`STACK_SIZE`, 2) (from :func:`new_stack`):
        nodes to visit and their entry distances.
    ox, oy, oz, dx, dy, dz
        The ray's origin and direction (any length; distances are in its units).
    t_min, t_max
        Range of distances along the ray that count.
    skip
        A slot never reported (the triangle the ray leaves from), or -1.

    Returns
    -------
    t, slot
        Distance and the tree slot of the triangle (``TriangleBvh.slot_face`` maps it to
        the input face); ``(inf, -1)`` for a miss.
    """
    ix, iy, iz = _inverse(dx), _inverse(dy), _inverse(dz)
    best_t = t_max
    best = -1
    if _box_entry(node_box, 0, ox, oy, oz, ix, iy, iz, best_t) == np.inf:
        return np.inf, -1
    stack[0, 0] = 0.0
    stack[0, 1] = 0.0
    sp = 1
    while sp > 0:
        sp -= 1
        if stack[sp, 1] > best_t:
            continue  # a nearer triangle was found after this box was pushed
        node = int(stack[sp, 0])
        count = node_kids[node, 2]
        if count > 0:
            first = node_kids[node, 0]
            for slot in range(first, first + count):
                if slot == skip:
                    continue
                t = _triangle_t(triangles, slot, ox, oy, oz, dx, dy, dz)
                if t_min < t < best_t:
                    best_t = t
                    best = slot
            continue
        a, b = node_kids[node, 0], node_kids[node, 1]
        ta = _box_entry(node_box, a, ox, oy, oz, ix, iy, iz, best_t)
        tb = _box_entry(node_box, b, ox, oy, oz, ix, iy, iz, best_t)
        # Push the farther child first so the nearer one is visited first and shrinks
        # best_t before the farther one is opened.
        if ta > tb:
            a, b = b, a
            ta, tb = tb, ta
        if tb != np.inf and sp < stack.shape[0]:
            stack[sp, 0] = b
            stack[sp, 1] = tb
            sp += 1
        if ta != np.inf and sp < stack.shape[0]:
            stack[sp, 0] = a
            stack[sp, 1] = ta
            sp += 1
    if best < 0:
        return np.inf, -1
    return best_t, best


@njit(cache=True)
def any_hit(
    node_box: np.ndarray,
    node_kids: np.ndarray,
    triangles: np.ndarray,
    stack: np.ndarray,
    ox: float,
    oy: float,
    oz: float,
    dx: float,
    dy: float,
    dz: float,
    t_min: float,
    t_max: float,
    skip: int,
) -> bool:
    """Whether any triangle (other than slot ``skip``) lies on the ray within
    ``(t_min, t_max)``: a shadow query, which stops at the first triangle found.

    Parameters are those of :func:`closest_hit`.
    """
    ix, iy, iz = _inverse(dx), _inverse(dy), _inverse(dz)
    if _box_entry(node_box, 0, ox, oy, oz, ix, iy, iz, t_max) == np.inf:
        return False
    stack[0, 0] = 0.0
    sp = 1
    while sp > 0:
        sp -= 1
        node = int(stack[sp, 0])
        count = node_kids[node, 2]
        if count > 0:
            first = node_kids[node, 0]
            for slot in range(first, first + count):
                if slot == skip:
                    continue
                t = _triangle_t(triangles, slot, ox, oy, oz, dx, dy, dz)
                if t_min < t < t_max:
                    return True
            continue
        for child in (node_kids[node, 0], node_kids[node, 1]):
            if _box_entry(node_box, child, ox, oy, oz, ix, iy, iz, t_max) != np.inf:
                if sp < stack.shape[0]:
                    stack[sp, 0] = child
                    sp += 1
    return False


@njit(cache=True)
def _closest_many(
    node_box: np.ndarray,
    node_kids: np.ndarray,
    triangles: np.ndarray,
    slot_face: np.ndarray,
    origins: np.ndarray,
    directions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n = origins.shape[0]
    t_out = np.full(n, np.inf)
    face = np.full(n, -1, dtype=np.int64)
    stack = new_stack()
    for i in range(n):
        t, slot = closest_hit(
            node_box,
            node_kids,
            triangles,
            stack,
            origins[i, 0],
            origins[i, 1],
            origins[i, 2],
            directions[i, 0],
            directions[i, 1],
            directions[i, 2],
            0.0,
            np.inf,
            -1,
        )
        if slot >= 0:
            t_out[i] = t
            face[i] = slot_face[slot]
    return t_out, face
