"""Read a room's mesh file (OBJ + MTL, PLY, STL, glTF/GLB) into triangles with names.

trimesh reads the formats (imported lazily: about 0.4 s). What this module adds is the part
an acoustic analysis needs and a viewer does not: every triangle keeps the name of its
material and of its node (OBJ object and group, glTF node, STL solid), node transforms are
applied, and the result is one flat triangle soup in the file's own units and axes.
Cleaning, units and axes are :mod:`scene.mesh_repair`'s job.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from scene.errors import SceneError
from scene.mesh import MESH_SUFFIXES, read_obj_vertices

__all__ = ["MeshPart", "RawMesh", "file_up_axis", "read_mesh"]

UpAxis = Literal["z", "y"]

# Name trimesh gives the material library it is handed when an OBJ names materials
# (usemtl) without one; see _obj_source.
_STAND_IN_MTL = "genius_loci_stand_in.mtl"


@dataclass(frozen=True)
class MeshPart:
    """The names a group of triangles carries in the file.

    Attributes
    ----------
    material
        The material's name (OBJ ``usemtl``, glTF material ``name``), or None.
    node
        The node's name (OBJ ``o``/``g``, glTF node, STL ``solid``), or None.
    """

    material: str | None
    node: str | None

    @property
    def label(self) -> str:
        """A short description for notes: ``material 'x' (node 'y')``."""
        if self.material and self.node:
            return f"material {self.material!r} (node {self.node!r})"
        if self.material:
            return f"material {self.material!r}"
        if self.node:
            return f"node {self.node!r}"
        return "unnamed triangles"


@dataclass(frozen=True, eq=False)
class RawMesh:
    """Triangles as the file gives them, node transforms applied.

    Attributes
    ----------
    path
        The file read.
    vertices
        float64, shape (N, 3), in the file's units and axes.
    faces
        int64, shape (F, 3), indices into ``vertices``, in the file's winding.
    face_part
        int64, shape (F,), index into ``parts`` of each triangle.
    parts
        The names of each group of triangles.
    up
        The file's up axis: the scene file's ``up`` when given, else y for glTF (its
        specification says so) and z for the others.
    notes
        Remarks made while reading (e.g. a missing material library).
    """

    path: Path
    vertices: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    parts: tuple[MeshPart, ...]
    up: UpAxis
    notes: tuple[str, ...] = ()


def file_up_axis(path: Path, up: UpAxis | None) -> UpAxis:
    """The up axis of a mesh file: ``up`` when given, else y for glTF and z otherwise."""
    if up is not None:
        return up
    return "y" if path.suffix.lower() in (".gltf", ".glb") else "z"


def read_mesh(
    path: str | Path,
    *,
    up: UpAxis | None = None,
    file: str | Path | None = None,
    field: str = "room.path",
) -> RawMesh:
    """Read the triangles of a mesh file with their material and node names.

    Parameters
    ----------
    path
        A ``.obj`` (with its ``.mtl``, which may be missing), ``.ply``, ``.stl``,
        ``.gltf`` or ``.glb`` file.
    up
        The file's up axis when the scene file states it; see :func:`file_up_axis`.
    file, field
        The scene file and field that named the mesh, for error messages; ``file``
        defaults to the mesh itself.

    Returns
    -------
    RawMesh
        Polygons split into triangles; points, lines and empty geometry left out (with a
        note).

    Raises
    ------
    SceneError
        For an unsupported suffix, a file that is missing or cannot be parsed, or one that
        holds no triangles.
    """
    path = Path(path)
    where = path if file is None else file
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise SceneError(
            f"mesh files must be {', '.join(MESH_SUFFIXES)}",
            file=where,
            field=field,
            value=path.name,
        )
    if not path.is_file():
        raise SceneError(f"no such file ({path})", file=where, field=field, value=str(path))
    import trimesh  # lazily: only mesh rooms need it

    notes: list[str] = []
    try:
        if suffix == ".obj":
            # trimesh reports a bad vertex line vaguely or not at all; this names the line.
            read_obj_vertices(path, file=where, field=field)
            source, resolver = _obj_source(path, notes)
            loaded = trimesh.load(
                source,
                file_type="obj",
                resolver=resolver,
                force="scene",
                process=False,
                split_objects=True,
                split_groups=True,
            )
        else:
            loaded = trimesh.load(str(path), force="scene", process=False)
    except SceneError:
        raise
    except Exception as error:  # trimesh raises many kinds for a malformed file
        raise SceneError(
            f"cannot read the mesh as {suffix[1:].upper()}: {type(error).__name__}: {error}",
            file=where,
            field=field,
            value=path.name,
        ) from None
    vertices, faces, face_part, parts, skipped = _flatten(loaded, trimesh)
    if skipped:
        notes.append(f"{skipped} non-triangle geometries (points or lines) in the file ignored")
    if len(faces) == 0:
        raise SceneError(
            "the mesh holds no triangles; a room needs surfaces",
            file=where,
            field=field,
            value=path.name,
        )
    return RawMesh(
        path=path,
        vertices=vertices,
        faces=faces,
        face_part=face_part,
        parts=parts,
        up=file_up_axis(path, up),
        notes=tuple(notes),
    )


def _obj_source(path: Path, notes: list[str]) -> tuple[io.BytesIO, object]:
    """The OBJ's bytes and a resolver that never loses a ``usemtl`` name.

    trimesh 5.2 keeps a face's material name only when the material is defined in a
    material library that it finds; otherwise it drops the name (and merges the faces of
    different materials of one object). The names are what tell marble from carpet, so when
    the library is missing, or the OBJ names materials without one, a stand-in library that
    defines each ``usemtl`` name (with no properties) is handed to trimesh instead.
    """
    import trimesh

    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    used = list(dict.fromkeys(re.findall(r"^[ \t]*usemtl[ \t]+(.+?)[ \t]*$", text, re.M)))
    library = re.search(r"^[ \t]*mtllib[ \t]+(.+?)[ \t]*$", text, re.M)
    stand_in = "".join(f"newmtl {name}\n" for name in used).encode("utf-8")
    if used and library is None:
        raw = f"mtllib {_STAND_IN_MTL}\n".encode() + raw
    elif used and not (path.parent / library.group(1)).is_file():
        notes.append(
            f"the material library {library.group(1)} is missing; material names are taken "
            "from the OBJ's usemtl lines"
        )

    class _Resolver(trimesh.resolvers.FilePathResolver):
        def get(self, name: str) -> bytes:
            try:
                return super().get(name)
            except Exception:  # any failure to find the library: use the names alone
                if name == _STAND_IN_MTL or (library is not None and name == library.group(1)):
                    return stand_in
                raise

    return io.BytesIO(raw), _Resolver(str(path))


def _flatten(
    loaded: object, trimesh: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[MeshPart, ...], int]:
    """Concatenate every triangle geometry of a trimesh Scene, in world coordinates."""
    vertices: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    face_part: list[np.ndarray] = []
    parts: list[MeshPart] = []
    offset = 0
    skipped = 0
    graph = loaded.graph  # type: ignore[attr-defined]
    for node in graph.nodes_geometry:
        transform, geometry_name = graph[node]
        geometry = loaded.geometry[geometry_name]  # type: ignore[attr-defined]
        if not isinstance(geometry, trimesh.Trimesh):  # type: ignore[attr-defined]
            skipped += 1
            continue
        if len(geometry.faces) == 0:
            continue
        points = np.asarray(geometry.vertices, dtype=np.float64)
        matrix = np.asarray(transform, dtype=np.float64)
        points = points @ matrix[:3, :3].T + matrix[:3, 3]
        material = getattr(getattr(geometry.visual, "material", None), "name", None)
        parts.append(MeshPart(material=material or None, node=str(node)))
        vertices.append(points)
        faces.append(np.asarray(geometry.faces, dtype=np.int64) + offset)
        face_part.append(np.full(len(geometry.faces), len(parts) - 1, dtype=np.int64))
        offset += len(points)
    if not faces:
        empty = np.zeros((0, 3))
        return empty, np.zeros((0, 3), np.int64), np.zeros(0, np.int64), (), skipped
    return (
        np.concatenate(vertices),
        np.concatenate(faces),
        np.concatenate(face_part),
        tuple(parts),
        skipped,
    )
