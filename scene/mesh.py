"""Small mesh helpers without dependencies: the formats, an OBJ vertex check, axes, boxes.

Reading with names is :mod:`scene.mesh_io`, repair :mod:`scene.mesh_repair`, analysis
:mod:`scene.mesh_analysis`. ``read_obj_vertices`` is kept as the OBJ syntax check that names
the bad line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scene.errors import SceneError

__all__ = ["MESH_SUFFIXES", "bounding_box", "read_obj_vertices", "y_up_to_z_up"]

#: Mesh formats the loader reads (through trimesh, see scene.mesh_io).
MESH_SUFFIXES: tuple[str, ...] = (".obj", ".ply", ".stl", ".gltf", ".glb")


def read_obj_vertices(
    path: Path, *, file: str | Path | None = None, field: str = "room.path"
) -> np.ndarray:
    """Read the vertices (``v x y z`` lines) of a Wavefront OBJ file.

    Parameters
    ----------
    path
        The OBJ file.
    file, field
        The scene file and field that named it, for error messages.

    Returns
    -------
    numpy.ndarray
        Shape (N, 3), float64, in the file's units (metres expected) and axes.

    Raises
    ------
    SceneError
        When the file cannot be read, a vertex line is not three numbers, or there are
        fewer than 4 vertices.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise SceneError(
            f"cannot read the mesh file: {error.strerror}", file=file, field=field, value=str(path)
        ) from None
    vertices = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0] != "v":
            continue
        try:
            # A vertex may carry a weight or a colour after x y z; only x y z matter here.
            xyz = [float(p) for p in parts[1:4]]
        except ValueError:
            xyz = []
        if len(xyz) != 3 or not np.all(np.isfinite(xyz)):
            raise SceneError(
                f"line {number} of the mesh is not a vertex 'v x y z' of 3 finite numbers",
                file=file,
                field=field,
                value=line.strip()[:80],
            )
        vertices.append(xyz)
    if len(vertices) < 4:
        raise SceneError(
            f"the mesh {path.name} has {len(vertices)} vertices; a room needs at least 4",
            file=file,
            field=field,
            value=str(path),
        )
    return np.asarray(vertices, dtype=np.float64)


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """Convert points from a y-up frame (OBJ, glTF) to the project's z-up frame.

    A right-handed rotation of +90 degrees about x: ``(x, y, z) -> (x, -z, y)``; the y-up
    frame's "forward" -z becomes +y.
    """
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1)


def bounding_box(points: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, ...]]:
    """Axis-aligned bounding box of (N, 3) points: (lowest corner, extent), metres."""
    low = points.min(axis=0)
    extent = points.max(axis=0) - low
    return (float(low[0]), float(low[1]), float(low[2])), tuple(float(e) for e in extent)
