"""A mesh ready for geometric acoustics: triangles, their materials and a BVH over them.

Both the ray tracer (:mod:`spatial.raytrace`) and the image sources of polyhedral rooms
(:mod:`spatial.mesh_images`) work on an :class:`AcousticMesh`. A mesh room's is built once
per analysed mesh and cached (:func:`room_mesh`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scene.acoustics import MeshSurfaces, mesh_surfaces
from scene.model import BANDS_HZ, Room
from spatial.bvh import TriangleBvh, build_bvh

__all__ = ["DEFAULT_SCATTERING", "AcousticMesh", "acoustic_mesh", "room_mesh"]

#: Scattering coefficient of every surface of a mesh room: the share of reflected energy
#: sent in a diffuse (Lambert) direction rather than the mirror direction. 0.1 is typical of
#: plastered and masonry walls at mid frequencies (ISO 17497-1 measurements range about
#: 0.05-0.2); larger features (columns, coffers, furniture) are the mesh's own geometry.
DEFAULT_SCATTERING = 0.1


@dataclass(frozen=True, eq=False)
class AcousticMesh:
    """Triangles with per-band absorption and a scattering coefficient each.

    Attributes
    ----------
    vertices
        float64, shape (V, 3), metres.
    faces
        int64, shape (F, 3). Surfaces reflect on both sides; image sources use the side
        the normal ``(v1 - v0) x (v2 - v0)`` points to when ``faces`` are wound into the
        air, as :func:`scene.acoustics.mesh_surfaces` gives them.
    absorption
        float64, shape (F, len(BANDS_HZ)): energy absorption coefficient per band, [0, 1].
    scattering
        float64, shape (F,): scattering coefficient, [0, 1].
    bvh
        The hierarchy over ``faces``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    absorption: np.ndarray
    scattering: np.ndarray
    bvh: TriangleBvh

    @property
    def n_faces(self) -> int:
        """Number of triangles."""
        return int(self.faces.shape[0])

    @property
    def face_areas(self) -> np.ndarray:
        """Area of each triangle, m^2, shape (F,)."""
        corners = self.vertices[self.faces]
        cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        return 0.5 * np.linalg.norm(cross, axis=1)


def acoustic_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    absorption: np.ndarray,
    *,
    scattering: float | np.ndarray = DEFAULT_SCATTERING,
) -> AcousticMesh:
    """Check the arrays and build the hierarchy.

    Parameters
    ----------
    vertices
        Shape (V, 3), metres.
    faces
        Integer, shape (F, 3).
    absorption
        Shape (F, 7) per triangle, or (7,) for all: energy absorption per band of
        :data:`scene.model.BANDS_HZ`, each in [0, 1].
    scattering
        One coefficient for all triangles or shape (F,), each in [0, 1].

    Returns
    -------
    AcousticMesh

    Raises
    ------
    ValueError
        Naming the argument, its shape or bad value and what is allowed.
    """
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    bvh = build_bvh(vertices, faces)
    n_faces = faces.shape[0]
    n_bands = len(BANDS_HZ)
    alpha = np.asarray(absorption, dtype=np.float64)
    if alpha.shape == (n_bands,):
        alpha = np.broadcast_to(alpha, (n_faces, n_bands))
    if alpha.shape != (n_faces, n_bands):
        raise ValueError(
            f"absorption.shape={alpha.shape} must be ({n_faces}, {n_bands}) or ({n_bands},)"
        )
    if not np.all((alpha >= 0.0) & (alpha <= 1.0)):
        bad = alpha[~((alpha >= 0.0) & (alpha <= 1.0))][0]
        raise ValueError(f"absorption holds {bad}; each coefficient must be in [0, 1]")
    s = np.asarray(scattering, dtype=np.float64)
    if s.ndim == 0:
        s = np.full(n_faces, float(s))
    if s.shape != (n_faces,):
        raise ValueError(f"scattering.shape={s.shape} must be () or ({n_faces},)")
    if not np.all((s >= 0.0) & (s <= 1.0)):
        bad = s[~((s >= 0.0) & (s <= 1.0))][0]
        raise ValueError(f"scattering holds {bad}; each coefficient must be in [0, 1]")
    return AcousticMesh(
        vertices=vertices,
        faces=faces,
        absorption=np.ascontiguousarray(alpha),
        scattering=np.ascontiguousarray(s),
        bvh=bvh,
    )


def room_mesh(room: Room) -> AcousticMesh | None:
    """The acoustic mesh of a ``mesh`` room with a mesh file (cached per analysed mesh).

    Returns
    -------
    AcousticMesh or None
        None for every other room.

    Raises
    ------
    SceneError
        When the mesh file cannot be read or analysed.
    """
    surfaces = mesh_surfaces(room)
    if surfaces is None:
        return None
    return _of_surfaces(surfaces)


@lru_cache(maxsize=4)
def _of_surfaces(surfaces: MeshSurfaces) -> AcousticMesh:
    return acoustic_mesh(surfaces.vertices, surfaces.faces, surfaces.absorption)
