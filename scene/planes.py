"""Planes in a point cloud with normals: seeded RANSAC, one plane after another.

A room's boundary is a handful of large planes (floor, ceiling, walls). Each round draws
candidate planes from single points and their normals (a point and a normal fix a plane,
so one draw is a hypothesis: far fewer draws than three-point RANSAC needs), scores each
by the points within ``distance_m`` of it whose normals agree within ``angle_deg``, keeps
the best, refits it to its inliers by least squares and removes them. It stops when the
best plane has fewer than ``min_points`` points.

numpy only, with a seeded generator: the same cloud and seed give the same planes, on any
number of threads (Open3D's ``segment_plane`` is parallel and differs between runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Plane", "find_planes"]


@dataclass(frozen=True, eq=False)
class Plane:
    """A plane ``normal . p = offset`` and the points that lie on it.

    Attributes
    ----------
    normal
        Unit normal, shape (3,), oriented as the inliers' normals (into the free space
        for a TSDF's points).
    offset
        ``normal . p`` for points p on the plane, m.
    inliers
        Indices into the cloud, int64.
    rms_m
        Root-mean-square distance of the inliers from the plane, m.
    """

    normal: np.ndarray
    offset: float
    inliers: np.ndarray
    rms_m: float


def find_planes(
    points: np.ndarray,
    normals: np.ndarray,
    *,
    seed: int,
    distance_m: float = 0.05,
    angle_deg: float = 20.0,
    min_points: int = 50,
    max_planes: int = 24,
    candidates: int = 192,
    score_points: int = 6000,
) -> tuple[Plane, ...]:
    """Find the large planes of a point cloud, largest first.

    Parameters
    ----------
    points, normals
        Shape (N, 3) each: positions (m) and unit normals.
    seed
        Seed of the random draws.
    distance_m
        Largest distance of an inlier from its plane, m.
    angle_deg
        Largest angle between an inlier's normal and the plane's, degrees.
    min_points
        A plane with fewer inliers ends the search.
    max_planes
        Most planes returned.
    candidates
        Hypotheses drawn per plane.
    score_points
        Points (a random subset) each hypothesis is scored on.

    Returns
    -------
    tuple of Plane

    Raises
    ------
    ValueError
        For arrays that are not both (N, 3).
    """
    points = np.asarray(points, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or normals.shape != points.shape:
        raise ValueError(f"points {points.shape} and normals {normals.shape} must both be (N, 3)")
    rng = np.random.default_rng(seed)
    cos_limit = float(np.cos(np.radians(angle_deg)))
    remaining = np.arange(len(points))
    planes: list[Plane] = []
    while len(planes) < max_planes and len(remaining) >= min_points:
        p, n = points[remaining], normals[remaining]
        draws = rng.choice(len(remaining), size=min(candidates, len(remaining)), replace=False)
        hyp_n = n[draws]  # (C, 3)
        hyp_d = np.einsum("ij,ij->i", hyp_n, p[draws])
        # Hypotheses are scored on a random subset (the ranking of large planes does not
        # change, the cost does): (C, S) distances and normal agreements.
        subset = rng.choice(len(remaining), size=min(score_points, len(remaining)), replace=False)
        ps, ns = p[subset], n[subset]
        hits = (np.abs(ps @ hyp_n.T - hyp_d) <= distance_m) & ((ns @ hyp_n.T) >= cos_limit)
        support = hits.sum(axis=0) * (len(remaining) / len(subset))
        best = int(np.argmax(support))
        if support[best] < min_points:
            break
        mask = (np.abs(p @ hyp_n[best] - hyp_d[best]) <= distance_m) & (
            (n @ hyp_n[best]) >= cos_limit
        )
        normal, offset = _refit(p[mask], hyp_n[best])
        # Inliers again against the refitted plane (it is better than the hypothesis).
        mask = (np.abs(p @ normal - offset) <= distance_m) & ((n @ normal) >= cos_limit)
        if mask.sum() < min_points:
            break
        inliers = remaining[mask]
        residual = points[inliers] @ normal - offset
        planes.append(
            Plane(
                normal=normal,
                offset=float(offset),
                inliers=inliers,
                rms_m=float(np.sqrt(np.mean(residual**2))),
            )
        )
        remaining = remaining[~mask]
    return tuple(planes)


def _refit(points: np.ndarray, hint: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane through points (smallest principal axis), oriented like ``hint``."""
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    normal = vt[-1]
    if normal @ hint < 0:
        normal = -normal
    return normal, float(normal @ centre)
