"""Turn a mesh as read into metres, z up, without broken triangles, saying what was done.

Meshes from the wild are broken in known ways. This module handles those that need no
topology: the up axis, the units, coordinates that are not numbers, vertices given more
than once, triangles of zero area and triangles given twice. Each repair leaves a note in
plain words (they end up in ``environment.json``); where nothing sensible is left, a
:class:`SceneError`. Holes and flipped normals need the mesh's topology and are handled
by :mod:`scene.mesh_analysis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scene.errors import SceneError
from scene.mesh import y_up_to_z_up
from scene.mesh_io import MeshPart, RawMesh

__all__ = [
    "MAX_ROOM_EXTENT_M",
    "MILLIMETRE_EXTENT",
    "WELD_TOLERANCE",
    "CleanMesh",
    "prepare_mesh",
]

#: Largest extent (m) taken at face value. A site larger than this is rare, and a room
#: drawn in millimetres (the unit of most CAD and BIM exports) lands far above it.
MAX_ROOM_EXTENT_M = 200.0

#: Extent (file units) from which a mesh too large for metres is read as millimetres: a
#: room of 1 m or more. Between MAX_ROOM_EXTENT_M and this, millimetres would make a room
#: smaller than 1 m, so the units are kept, with a note.
MILLIMETRE_EXTENT = 1000.0

#: Vertices closer than this fraction of the mesh's largest extent are one vertex: 1e-6 of
#: a 30 m hall is 30 micrometres, far below any modelling detail, far above float round-off.
WELD_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class CleanMesh:
    """A mesh in metres, z up, welded, without degenerate or repeated triangles.

    Attributes
    ----------
    path
        The file it came from.
    vertices
        float64, shape (N, 3), metres, z up; every vertex is used by a triangle.
    faces
        int64, shape (F, 3); the file's winding (orientation is fixed later).
    face_part
        int64, shape (F,), index into ``parts``.
    parts
        Material and node names of the triangles.
    scale
        Metres per file unit (1.0, or 0.001 for a mesh found to be in millimetres).
    notes
        What was repaired, in plain words.
    """

    path: Path
    vertices: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    parts: tuple[MeshPart, ...]
    scale: float
    notes: tuple[str, ...]


def prepare_mesh(
    raw: RawMesh, *, file: str | Path | None = None, field: str = "room.path"
) -> CleanMesh:
    """Convert to z up and metres, weld, and drop degenerate and repeated triangles.

    Parameters
    ----------
    raw
        As read by :func:`scene.mesh_io.read_mesh`.
    file, field
        The scene file and field that named the mesh, for error messages.

    Returns
    -------
    CleanMesh

    Raises
    ------
    SceneError
        When no triangle with finite coordinates and non-zero area is left.

    Notes
    -----
    Units: a mesh whose largest extent exceeds :data:`MAX_ROOM_EXTENT_M` is taken to be in
    millimetres when that still makes it at least 1 m across (:data:`MILLIMETRE_EXTENT`);
    the scale is applied and a note says so.
    """
    where = raw.path if file is None else file
    notes = list(raw.notes)
    vertices = raw.vertices
    faces = raw.faces
    face_part = raw.face_part

    def fail(problem: str) -> SceneError:
        return SceneError(problem, file=where, field=field, value=raw.path.name)

    if raw.up == "y":
        # One documented conversion for every y-up input (scene.mesh.y_up_to_z_up).
        vertices = y_up_to_z_up(vertices)
        notes.append(
            "the mesh is y-up (glTF's convention or the scene file's `up: y`): turned z-up"
        )

    finite = np.all(np.isfinite(vertices), axis=1)
    if not finite.all():
        keep = finite[faces].all(axis=1)
        dropped = int((~keep).sum())
        faces, face_part = faces[keep], face_part[keep]
        notes.append(
            f"{dropped} triangles with coordinates that are not numbers (NaN, inf) dropped"
        )
        if len(faces) == 0:
            raise fail("every triangle has a coordinate that is not a number (NaN or inf)")

    # Only the vertices that triangles use: stray points (or the NaN ones) say nothing
    # about the room's size.
    used, inverse = np.unique(faces, return_inverse=True)
    vertices, faces = vertices[used], inverse.reshape(faces.shape)
    extent = np.ptp(vertices, axis=0)
    largest = float(extent.max())
    if largest <= 0.0:
        raise fail("every vertex of the mesh is at one point; a room needs extent")
    scale = 1.0
    if largest > MAX_ROOM_EXTENT_M:
        if largest >= MILLIMETRE_EXTENT:
            scale = 1e-3
            notes.append(
                f"the mesh is {largest:.4g} units across, too large for metres: read as "
                f"millimetres ({largest * scale:.4g} m across)"
            )
        else:
            notes.append(
                f"the mesh is {largest:.4g} m across, larger than a room "
                f"(> {MAX_ROOM_EXTENT_M:g} m) but too small for millimetres: kept in metres"
            )
    if scale != 1.0:
        vertices = vertices * scale
        largest *= scale

    vertices, faces = _weld(vertices, faces, tolerance=WELD_TOLERANCE * largest)

    corners = vertices[faces]
    doubled = np.linalg.norm(
        np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
    )
    # Zero area within round-off of the mesh's size: a triangle that repeats a vertex or
    # whose corners lie on one line.
    degenerate = doubled <= (WELD_TOLERANCE * largest) ** 2
    if degenerate.any():
        count = int(degenerate.sum())
        notes.append(f"{count} degenerate triangles (zero area) dropped")
        faces, face_part = faces[~degenerate], face_part[~degenerate]
    if len(faces) == 0:
        raise fail("every triangle of the mesh has zero area; a room needs surfaces")

    # The same three vertices twice (in either winding): a surface modelled twice, or a
    # double-sided wall. Counting it twice would double its area and its absorption.
    key = np.sort(faces, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    if len(first) < len(faces):
        keep = np.zeros(len(faces), dtype=bool)
        keep[first] = True
        notes.append(f"{len(faces) - len(first)} duplicate triangles dropped")
        faces, face_part = faces[keep], face_part[keep]

    # Only the vertices in use, renumbered, so that bounding boxes mean the surfaces.
    used, inverse = np.unique(faces, return_inverse=True)
    return CleanMesh(
        path=raw.path,
        vertices=vertices[used],
        faces=inverse.reshape(faces.shape).astype(np.int64),
        face_part=face_part.astype(np.int64),
        parts=raw.parts,
        scale=scale,
        notes=tuple(notes),
    )


def _weld(
    vertices: np.ndarray, faces: np.ndarray, *, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices that round to the same point on a grid of ``tolerance`` metres.

    Files split vertices along every seam between materials (OBJ per material group, glTF
    per primitive); without welding, a closed room would look like a heap of open pieces.
    """
    low = vertices.min(axis=0)
    cells = np.round((vertices - low) / tolerance).astype(np.int64)
    _, first, inverse = np.unique(cells, axis=0, return_index=True, return_inverse=True)
    return vertices[first], inverse.reshape(-1)[faces]
