"""What a room's mesh says about the room: volume, surfaces and their materials, openness.

The steps, each vectorised over triangles (a 100,000-triangle mesh takes well under a
second, see benchmarks/bench_perception.py):

1. Read (:mod:`scene.mesh_io`) and repair units, axes and broken triangles
   (:mod:`scene.mesh_repair`).
2. Topology: edges shared by two triangles join them; an edge used once is on the rim of
   a hole; an edge used three or more times is non-manifold.
3. Orientation: neighbours must run their shared edge in opposite directions. A
   breadth-first walk over the joined triangles turns those that disagree (flipped
   normals), then each piece is turned so that its normals point into the air: out of
   columns and furniture, into the room.
4. Volume by the divergence theorem, ``V = sum(p0 . (p1 x p2)) / 6`` over triangles, exact
   for a closed mesh. Holes are closed first by a fan of triangles from each rim's
   centroid; the area of those caps is the room's opening (open sky, doorways), which
   absorbs all sound that reaches it.
5. Each triangle is floor, ceiling or one of four walls by the direction its air-facing
   normal points; its material comes from its material or node name
   (:func:`scene.materials.material_from_name`), else from the scene's material for that
   surface.
6. Per-band Sabine and Eyring RT60 from the areas per material and the volume
   (:func:`scene.acoustics.reverberation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from scene.acoustics import RoomAcoustics, reverberation
from scene.errors import SceneError
from scene.materials import material_from_name, resolve_material
from scene.mesh_io import UpAxis, read_mesh
from scene.mesh_repair import CleanMesh, prepare_mesh
from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Material, Room

__all__ = [
    "CONFIDENCE_BY_ORIENTATION",
    "CONFIDENCE_BY_WORD",
    "ENCLOSED_MAX_OPENNESS",
    "HORIZONTAL_NZ",
    "Enclosure",
    "MeshAnalysis",
    "SurfaceGroup",
    "analyze_clean_mesh",
    "analyze_mesh_file",
    "analyze_room_mesh",
]

Enclosure = Literal["enclosed", "semi_open", "open"]

#: A surface whose air-facing normal has a z component of at least this (cos 45 degrees)
#: is a floor, at most minus this a ceiling; anything steeper is a wall.
HORIZONTAL_NZ = 0.7

#: Largest share of the room's boundary that may be open (holes, doorways) for the room to
#: count as enclosed; more, or no ceiling over half the floor, and it is semi-open.
ENCLOSED_MAX_OPENNESS = 0.05

#: At this share of open boundary or more the place is open: a plaza, not a room.
OPEN_MIN_OPENNESS = 0.5

#: Confidence in a material found by a word in a name ("marble" -> marble_floor): the word
#: is right, the exact product and its mounting are a guess.
CONFIDENCE_BY_WORD = 0.8

#: Confidence in a material given by the surface's orientation alone (the scene's floor,
#: wall or ceiling material, or the defaults).
CONFIDENCE_BY_ORIENTATION = 0.6

_FLOOR = SHOEBOX_SURFACES.index("floor")
_CEILING = SHOEBOX_SURFACES.index("ceiling")
# Walls by the direction their air-facing normal points: +x faces away from the west wall.
_WALL_BY_AXIS = {
    (0, 1.0): SHOEBOX_SURFACES.index("west"),
    (0, -1.0): SHOEBOX_SURFACES.index("east"),
    (1, 1.0): SHOEBOX_SURFACES.index("south"),
    (1, -1.0): SHOEBOX_SURFACES.index("north"),
}

#: Materials of surfaces whose names say nothing, when no scene file gives them: those of
#: scene.loader.DEFAULT_MATERIALS (an empty, plainly built room).
_DEFAULT_FALLBACK = {
    "walls": "plasterboard",
    "floor": "wood_floor_on_joists",
    "ceiling": "plasterboard",
}


@dataclass(frozen=True)
class SurfaceGroup:
    """All triangles of one material, found the same way.

    Attributes
    ----------
    material
        The material, per-band absorption included.
    area_m2
        Their total area.
    assigned_by
        How: ``"names: 'Marble_Floor'"`` or ``"orientation: floor, ceiling"``.
    confidence
        1 for a database name, :data:`CONFIDENCE_BY_WORD` for a word in a name,
        :data:`CONFIDENCE_BY_ORIENTATION` for orientation.
    """

    material: Material
    area_m2: float
    assigned_by: str
    confidence: float


@dataclass(frozen=True, eq=False)
class MeshAnalysis:
    """What a room's mesh measures. Lengths in metres, z up, world coordinates.

    Attributes
    ----------
    path
        The mesh file.
    triangles
        Triangles analysed (after repair).
    scale
        Metres per file unit (0.001 for a mesh found to be in millimetres).
    volume_m3
        Volume of air; None when the mesh encloses nothing.
    volume_method
        ``"closed mesh"``, ``"holes capped"``, or ``"floor area x ceiling height"`` (for
        surfaces that are not joined into a closed shape); None with ``volume_m3``.
    surface_m2
        Area of all triangles.
    surfaces
        Area per material, largest first.
    floor_area_m2
        Area of the room's upward-facing surfaces projected on the ground.
    ceiling_height_m
        Area-weighted median height of the ceiling above the floor; None without ceiling.
    bbox_origin, bbox_size
        Axis-aligned bounding box: lowest corner and extent.
    oriented_box
        (length, width, height, yaw_deg): the smallest box around the mesh that stands on
        the floor, yaw of its long side counter-clockwise from +x in [0, 180).
    opening_area_m2
        Area of the caps that close the room's holes (open sky, doorways).
    openness
        ``opening / (opening + room's surface)``, 0 for a closed room; None when no room
        volume was found.
    ceiling_cover
        Ceiling area over floor area, both projected on the ground (0 open sky, 1 roofed).
    enclosure
        ``enclosed``, ``semi_open`` (a courtyard, a hall with wide openings) or ``open``.
    geometry_confidence
        1 for a closed mesh, less when holes were capped or the volume was estimated.
    acoustics
        Per-band RT60 from the surfaces (openings absorb everything); None for open places.
    acoustics_confidence
        Area-weighted confidence of the materials, times the geometry's, lowered for
        semi-open places (a courtyard's field is far from diffuse).
    notes
        Repairs and remarks, in plain words.
    vertices
        float64, shape (N, 3), metres.
    faces
        int64, shape (F, 3), wound so that normals point into the air.
    face_class
        int64, shape (F,), index into :data:`scene.model.SHOEBOX_SURFACES`.
    face_group
        int64, shape (F,), index into ``surfaces``.
    """

    path: Path
    triangles: int
    scale: float
    volume_m3: float | None
    volume_method: str | None
    surface_m2: float
    surfaces: tuple[SurfaceGroup, ...]
    floor_area_m2: float
    ceiling_height_m: float | None
    bbox_origin: tuple[float, float, float]
    bbox_size: tuple[float, float, float]
    oriented_box: tuple[float, float, float, float]
    opening_area_m2: float
    openness: float | None
    ceiling_cover: float
    enclosure: Enclosure
    geometry_confidence: float
    acoustics: RoomAcoustics | None
    acoustics_confidence: float
    notes: tuple[str, ...]
    vertices: np.ndarray
    faces: np.ndarray
    face_class: np.ndarray
    face_group: np.ndarray


def analyze_mesh_file(
    path: str | Path,
    *,
    up: UpAxis | None = None,
    materials: tuple[tuple[str, Material], ...] = (),
    file: str | Path | None = None,
    field: str = "room.path",
) -> MeshAnalysis:
    """Read, repair and analyse a mesh file.

    Parameters
    ----------
    path
        ``.obj``, ``.ply``, ``.stl``, ``.gltf`` or ``.glb``.
    up
        The file's up axis when known (``"z"`` or ``"y"``); None for the format's own.
    materials
        Surface name (of :data:`scene.model.SHOEBOX_SURFACES`) -> material, for triangles
        whose names name no material; surfaces left out get the defaults (plasterboard
        walls and ceiling, a wooden floor).
    file, field
        The scene file and field that named the mesh, for error messages.

    Returns
    -------
    MeshAnalysis

    Raises
    ------
    SceneError
        When the file cannot be read or holds no usable triangle.
    """
    raw = read_mesh(path, up=up, file=file, field=field)
    clean = prepare_mesh(raw, file=file, field=field)
    return analyze_clean_mesh(clean, materials=materials)


def analyze_room_mesh(room: Room) -> MeshAnalysis:
    """Analyse a ``mesh`` room's file, with the room's materials as the fallback.

    Results are cached by file, modification time, up axis and materials: perception and
    the renderer both ask.

    Raises
    ------
    SceneError
        For a room without a mesh file, or as :func:`analyze_mesh_file`.
    """
    if room.mesh_path is None:
        raise SceneError("a mesh room needs `path`, the mesh file", field="room.path")
    path = Path(room.mesh_path)
    try:
        stat = path.stat()
    except OSError:
        raise SceneError("no such file", field="room.path", value=str(path)) from None
    return _cached(str(path), stat.st_mtime_ns, stat.st_size, room.mesh_up, room.materials)


@lru_cache(maxsize=4)
def _cached(
    path: str,
    mtime_ns: int,
    size: int,
    up: UpAxis | None,
    materials: tuple[tuple[str, Material], ...],
) -> MeshAnalysis:
    del mtime_ns, size  # part of the cache key only
    return analyze_mesh_file(path, up=up, materials=materials)


def _fallback_materials(materials: tuple[tuple[str, Material], ...]) -> list[Material]:
    given = dict(materials)
    out = []
    for surface in SHOEBOX_SURFACES:
        if surface in given:
            out.append(given[surface])
        else:
            key = surface if surface in _DEFAULT_FALLBACK else "walls"
            out.append(resolve_material(_DEFAULT_FALLBACK[key], file=None, field="materials"))
    return out


def analyze_clean_mesh(
    mesh: CleanMesh, *, materials: tuple[tuple[str, Material], ...] = ()
) -> MeshAnalysis:
    """Analyse a repaired mesh; see :func:`analyze_mesh_file` and the module's steps."""
    notes = list(mesh.notes)
    vertices = mesh.vertices
    faces = mesh.faces.copy()
    n_faces = len(faces)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2.0
    points = vertices - centre  # about the centre: smaller round-off in the volume sums

    topology = _Topology.of(faces, len(vertices))
    if topology.nonmanifold_edges:
        notes.append(
            f"{topology.nonmanifold_edges} edges are shared by more than two triangles "
            "(non-manifold): walls or objects meet along them"
        )

    # Step 3: consistent winding inside each joined piece.
    component, count = topology.components(n_faces)
    flip = topology.walk_parities(n_faces, component)
    flipped_per = np.bincount(component, weights=flip, minlength=count)
    size_per = np.bincount(component, minlength=count)
    turned = int(np.minimum(flipped_per, size_per - flipped_per).sum())
    faces[flip] = faces[flip][:, ::-1]
    topology = _Topology.of(faces, len(vertices))
    if turned:
        notes.append(
            f"{turned} triangles faced the other way from their neighbours (flipped "
            "normals): turned"
        )
    if topology.inconsistent_pairs:
        notes.append(
            f"{topology.inconsistent_pairs} edges join triangles whose winding cannot agree "
            "(a one-sided surface): their normals may be wrong"
        )

    # Step 4: volume of each piece with its holes capped.
    corners = points[faces]
    cross = np.cross(corners[:, 1], corners[:, 2])
    tetra = np.einsum("ij,ij->i", corners[:, 0], cross) / 6.0
    vector_area = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]) / 2.0
    area = np.linalg.norm(vector_area, axis=1)
    caps = _Caps.of(topology, points, component, count)
    volume_per = np.bincount(component, weights=tetra, minlength=count) + caps.volume_per
    extent_per = _extent_per(points, faces, component, count)
    volumetric = np.abs(volume_per) > 1e-6 * extent_per**3
    # Turn each closed piece so that its normals point out of its own volume.
    negative = volumetric & (volume_per < 0)
    faces[negative[component]] = faces[negative[component]][:, ::-1]
    volume_per = np.abs(volume_per)

    main = int(np.argmax(np.where(volumetric, volume_per, -1.0))) if volumetric.any() else -1
    face_in_main = component == main
    if main >= 0:
        in_box = _inside_box(points, faces, component, count, main)
        obstacles = volumetric & in_box & (np.arange(count) != main)
        obstacle_volume = float(volume_per[obstacles].sum())
        if obstacles.any():
            notes.append(
                f"{int(obstacles.sum())} closed objects inside the room (columns, furniture) "
                f"take {obstacle_volume:.4g} m^3 of its volume"
            )
        # The room's own normals point out of its air: turn them in. Objects in it, and
        # loose surfaces, are turned to face the room's centre below.
        faces[face_in_main] = faces[face_in_main][:, ::-1]
        room_centre = _area_centroid(points, faces[face_in_main])
    else:
        obstacle_volume = 0.0
        room_centre = np.zeros(3)
    loose = ~volumetric
    if loose.any():
        # Surfaces that enclose nothing (a ground, a facade, panels not joined) face the
        # room's centre: that is where the air is.
        corners = points[faces]
        centroids = corners.mean(axis=1)
        vec = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        towards = np.einsum("ij,ij->i", vec, room_centre - centroids)
        score = np.bincount(component, weights=towards, minlength=count)
        turn = loose & (score < 0)
        faces[turn[component]] = faces[turn[component]][:, ::-1]

    corners = points[faces]
    vector_area = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]) / 2.0
    normal_z = np.divide(vector_area[:, 2], area, out=np.zeros(n_faces), where=area > 0)
    face_class = _classify(vector_area, area)

    # Floor, ceiling and openness of the room itself (of every surface when no closed
    # room was found: a plaza of loose surfaces).
    own = face_in_main if main >= 0 else np.ones(n_faces, dtype=bool)
    floor = own & (face_class == _FLOOR)
    ceiling = own & (face_class == _CEILING)
    floor_area = float((area * normal_z)[floor].sum())
    ceiling_area = float((area * -normal_z)[ceiling].sum())
    ceiling_cover = ceiling_area / floor_area if floor_area > 0 else 0.0
    heights = corners[:, :, 2].mean(axis=1) + centre[2]
    ceiling_height = None
    if floor.any() and ceiling.any() and ceiling_cover >= 0.5:
        ceiling_height = _weighted_median(heights[ceiling], area[ceiling]) - _weighted_median(
            heights[floor], area[floor]
        )

    opening = float(caps.fan_area_per[main]) if main >= 0 else 0.0
    room_surface = float(area[own].sum())
    surface = float(area.sum())
    closed = main >= 0 and opening == 0.0 and topology.nonmanifold_edges == 0
    if main >= 0:
        volume = float(volume_per[main]) - obstacle_volume
        openness = opening / (opening + room_surface)
        method = "closed mesh" if opening == 0.0 else "holes capped"
        geometry_confidence = 1.0 if closed else (0.9 if openness <= ENCLOSED_MAX_OPENNESS else 0.7)
        if opening > 0.0:
            loops = int(caps.loops_per[main])
            notes.append(
                f"the room has {loops} holes or openings, {opening:.4g} m^2 in all "
                f"({100 * openness:.3g}% of its boundary): volume measured with them capped; "
                "they absorb all sound that reaches them"
            )
    elif floor_area > 0 and ceiling_height is not None and ceiling_cover >= 0.9:
        volume = floor_area * ceiling_height
        openness = None
        method = "floor area x ceiling height"
        geometry_confidence = 0.5
        notes.append(
            "the mesh's surfaces are not joined into a closed shape: volume estimated as "
            "floor area x ceiling height"
        )
    else:
        volume, openness, method, geometry_confidence = None, None, None, 0.5
        notes.append("the mesh encloses no volume: an open place (a ground, a plaza)")

    if volume is not None and (openness or 0.0) >= OPEN_MIN_OPENNESS:
        enclosure: Enclosure = "open"
    elif volume is None:
        enclosure = "open"
    elif (openness or 0.0) <= ENCLOSED_MAX_OPENNESS and ceiling_cover >= 0.5:
        enclosure = "enclosed"
    else:
        enclosure = "semi_open"
        if ceiling_cover < 0.5:
            notes.append(
                f"no ceiling over most of the floor ({100 * ceiling_cover:.3g}% covered): "
                "semi-open, like a courtyard"
            )

    groups, face_group = _materials(mesh, face_class, area, _fallback_materials(materials))
    acoustics = None
    acoustics_confidence = 0.0
    if volume is not None and volume > 0 and enclosure != "open":
        absorbers = [(g.area_m2, g.material.absorption) for g in groups]
        if opening > 0.0:
            absorbers.append((opening, (1.0,) * len(BANDS_HZ)))
        acoustics = reverberation(volume, absorbers)
        material_confidence = sum(g.confidence * g.area_m2 for g in groups) / surface
        acoustics_confidence = material_confidence * geometry_confidence
        if enclosure == "semi_open":
            acoustics_confidence *= 0.6

    return MeshAnalysis(
        path=mesh.path,
        triangles=n_faces,
        scale=mesh.scale,
        volume_m3=volume,
        volume_method=method,
        surface_m2=surface,
        surfaces=groups,
        floor_area_m2=floor_area,
        ceiling_height_m=ceiling_height,
        bbox_origin=tuple(float(v) for v in low),  # type: ignore[arg-type]
        bbox_size=tuple(float(v) for v in high - low),  # type: ignore[arg-type]
        oriented_box=_oriented_box(vertices),
        opening_area_m2=opening,
        openness=openness,
        ceiling_cover=ceiling_cover,
        enclosure=enclosure,
        geometry_confidence=geometry_confidence,
        acoustics=acoustics,
        acoustics_confidence=round(acoustics_confidence, 3),
        notes=tuple(notes),
        vertices=vertices,
        faces=faces,
        face_class=face_class,
        face_group=face_group,
    )


@dataclass(frozen=True, eq=False)
class _Topology:
    """Half-edges (three per triangle, in winding order) grouped into edges."""

    start: np.ndarray  # (3F,) vertex each half-edge leaves
    end: np.ndarray  # (3F,) vertex it reaches
    face: np.ndarray  # (3F,) its triangle
    boundary: np.ndarray  # half-edges whose edge has no other triangle
    pair_a: np.ndarray  # for edges of exactly two triangles: one half-edge ...
    pair_b: np.ndarray  # ... and the other
    nonmanifold_edges: int

    @classmethod
    def of(cls, faces: np.ndarray, n_vertices: int) -> _Topology:
        start = faces.reshape(-1)
        end = faces[:, [1, 2, 0]].reshape(-1)
        face = np.repeat(np.arange(len(faces)), 3)
        key = np.minimum(start, end) * n_vertices + np.maximum(start, end)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        first = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        counts = np.diff(np.r_[first, len(sorted_key)])
        two = first[counts == 2]
        return cls(
            start=start,
            end=end,
            face=face,
            boundary=order[first[counts == 1]],
            pair_a=order[two],
            pair_b=order[two + 1],
            nonmanifold_edges=int((counts > 2).sum()),
        )

    @property
    def inconsistent_pairs(self) -> int:
        """Edges whose two triangles run it in the same direction (windings disagree)."""
        return int((self.start[self.pair_a] == self.start[self.pair_b]).sum())

    def components(self, n_faces: int) -> tuple[np.ndarray, int]:
        """Label of each triangle's joined piece (joined across two-triangle edges)."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        fa, fb = self.face[self.pair_a], self.face[self.pair_b]
        graph = coo_matrix((np.ones(len(fa)), (fa, fb)), shape=(n_faces, n_faces))
        count, labels = connected_components(graph, directed=False)
        return labels.astype(np.int64), int(count)

    def walk_parities(self, n_faces: int, component: np.ndarray) -> np.ndarray:
        """Which triangles to turn so that every piece's winding agrees with its first one.

        A breadth-first tree over the joined triangles (one extra root node tied to the
        first triangle of each piece, so that one walk covers all pieces); a triangle is
        turned when the number of disagreeing edges on its tree path is odd. The XOR along
        each path is found by pointer jumping: log2(depth) vectorised steps.
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import breadth_first_order

        fa, fb = self.face[self.pair_a], self.face[self.pair_b]
        disagree = self.start[self.pair_a] == self.start[self.pair_b]
        root = n_faces
        _, firsts = np.unique(component, return_index=True)
        rows = np.r_[fa, np.full(len(firsts), root)]
        cols = np.r_[fb, firsts]
        size = n_faces + 1
        graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size)).tocsr()
        _, parent = breadth_first_order(graph, root, directed=False, return_predecessors=True)
        # Parity of each tree edge (parent -> child), looked up among the joined pairs.
        keys = np.r_[fa * size + fb, fb * size + fa]
        values = np.r_[disagree, disagree]
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        child = np.flatnonzero((parent >= 0) & (parent != root))
        lookup = np.searchsorted(keys, parent[child] * size + child)
        parity = np.zeros(size, dtype=bool)
        parity[child] = values[np.minimum(lookup, len(keys) - 1)]
        ancestor = np.where(parent >= 0, parent, root)
        ancestor[root] = root
        while np.any(ancestor != root):
            parity = parity ^ parity[ancestor]
            ancestor = ancestor[ancestor]
        return parity[:n_faces]


@dataclass(frozen=True, eq=False)
class _Caps:
    """Fans that close each hole (a loop of rim edges) from the loop's centroid."""

    volume_per: np.ndarray  # (pieces,) signed volume the caps add to each piece
    fan_area_per: np.ndarray  # (pieces,) area of the caps of each piece
    loops_per: np.ndarray  # (pieces,) number of holes of each piece

    @classmethod
    def of(
        cls, topology: _Topology, points: np.ndarray, component: np.ndarray, count: int
    ) -> _Caps:
        rim = topology.boundary
        if len(rim) == 0:
            zeros = np.zeros(count)
            return cls(volume_per=zeros, fan_area_per=zeros, loops_per=zeros)
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        a, b = topology.start[rim], topology.end[rim]
        n = len(points)
        graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        _, vertex_loop = connected_components(graph, directed=False)
        loop_ids, loop = np.unique(vertex_loop[a], return_inverse=True)
        n_loops = len(loop_ids)
        # Each rim vertex leaves exactly one rim edge of a simple loop: the mean of the
        # edges' start points is the loop's centroid.
        counts = np.bincount(loop, minlength=n_loops)
        centroid = (
            np.stack(
                [np.bincount(loop, weights=points[a, k], minlength=n_loops) for k in range(3)],
                axis=1,
            )
            / counts[:, None]
        )
        c = centroid[loop]
        pa, pb = points[a], points[b]
        # The cap triangle (c, b, a) runs the rim edge the other way, as a neighbour would.
        volume = np.einsum("ij,ij->i", c, np.cross(pb, pa)) / 6.0
        fan = np.linalg.norm(np.cross(pa - c, pb - c), axis=1) / 2.0
        piece = component[topology.face[rim]]
        loop_piece = np.zeros(n_loops, dtype=np.int64)
        loop_piece[loop] = piece
        return cls(
            volume_per=np.bincount(piece, weights=volume, minlength=count),
            fan_area_per=np.bincount(piece, weights=fan, minlength=count),
            loops_per=np.bincount(loop_piece, minlength=count).astype(float),
        )


def _extent_per(
    points: np.ndarray, faces: np.ndarray, component: np.ndarray, count: int
) -> np.ndarray:
    """Largest bounding-box side of each piece, m."""
    low = np.full((count, 3), np.inf)
    high = np.full((count, 3), -np.inf)
    corner = points[faces]
    for k in range(3):
        np.minimum.at(low[:, k], component, corner[:, :, k].min(axis=1))
        np.maximum.at(high[:, k], component, corner[:, :, k].max(axis=1))
    return (high - low).max(axis=1)


def _inside_box(
    points: np.ndarray, faces: np.ndarray, component: np.ndarray, count: int, main: int
) -> np.ndarray:
    """Which pieces lie within the bounding box of piece ``main``."""
    main_points = points[faces[component == main]].reshape(-1, 3)
    low, high = main_points.min(axis=0), main_points.max(axis=0)
    corner = points[faces]
    outside = ((corner < low - 1e-9) | (corner > high + 1e-9)).any(axis=(1, 2))
    return np.bincount(component, weights=outside, minlength=count) == 0


def _area_centroid(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    corners = points[faces]
    area = np.linalg.norm(
        np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
    )
    return (corners.mean(axis=1) * area[:, None]).sum(axis=0) / max(area.sum(), 1e-300)


def _classify(vector_area: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Floor, ceiling or wall (west/east/south/north) of each triangle, by its normal."""
    normal = vector_area / np.maximum(area, 1e-300)[:, None]
    out = np.empty(len(area), dtype=np.int64)
    axis = np.argmax(np.abs(normal[:, :2]), axis=1)
    sign = np.sign(normal[np.arange(len(area)), axis])
    for (wall_axis, wall_sign), index in _WALL_BY_AXIS.items():
        out[(axis == wall_axis) & ((sign >= 0) == (wall_sign > 0))] = index
    out[normal[:, 2] >= HORIZONTAL_NZ] = _FLOOR
    out[normal[:, 2] <= -HORIZONTAL_NZ] = _CEILING
    return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2.0)])


def _materials(
    mesh: CleanMesh, face_class: np.ndarray, area: np.ndarray, fallback: list[Material]
) -> tuple[tuple[SurfaceGroup, ...], np.ndarray]:
    """Group triangles by material: by their part's names, else by their orientation."""
    # Per part: a material from its material name, else its node name.
    keys: list[tuple[str, str]] = []  # (material name, "name" | "orientation")
    found: dict[tuple[str, str], tuple[Material, float, list[str]]] = {}
    part_key = np.full(len(mesh.parts), -1, dtype=np.int64)
    for index, part in enumerate(mesh.parts):
        match, name = None, None
        for candidate in (part.material, part.node):
            match = material_from_name(candidate)
            if match is not None:
                name = candidate
                break
        if match is None:
            continue
        material, how = match
        key = (material.name, "name")
        if key not in found:
            keys.append(key)
            found[key] = (material, 1.0 if how == "name" else CONFIDENCE_BY_WORD, [])
        material_, confidence, names = found[key]
        found[key] = (
            material_,
            min(confidence, 1.0 if how == "name" else CONFIDENCE_BY_WORD),
            names,
        )
        if name not in names:
            names.append(str(name))
        part_key[index] = keys.index(key)
    face_key = part_key[mesh.face_part]
    unnamed = face_key < 0
    # Unnamed triangles: the scene's material of the surface they face like.
    by_orientation: dict[str, list[str]] = {}
    for surface_index in np.unique(face_class[unnamed]):
        material = fallback[surface_index]
        key = (material.name, "orientation")
        if key not in found:
            keys.append(key)
            found[key] = (material, CONFIDENCE_BY_ORIENTATION, [])
        by_orientation.setdefault(material.name, []).append(SHOEBOX_SURFACES[surface_index])
        face_key[unnamed & (face_class == surface_index)] = keys.index(key)
    areas = np.bincount(face_key, weights=area, minlength=len(keys))
    groups = []
    for index, key in enumerate(keys):
        material, confidence, names = found[key]
        if key[1] == "name":
            shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
            how = f"names: {shown}"
        else:
            how = "orientation: " + ", ".join(by_orientation[material.name])
        groups.append(SurfaceGroup(material, float(areas[index]), how, confidence))
    order = sorted(range(len(groups)), key=lambda i: -groups[i].area_m2)
    remap = np.empty(len(groups), dtype=np.int64)
    remap[order] = np.arange(len(groups))
    return tuple(groups[i] for i in order), remap[face_key]


def _oriented_box(vertices: np.ndarray) -> tuple[float, float, float, float]:
    """Smallest-area rectangle around the plan (rotating calipers on the convex hull)."""
    from scipy.spatial import ConvexHull, QhullError

    plan = vertices[:, :2]
    height = float(np.ptp(vertices[:, 2]))
    try:
        hull = plan[ConvexHull(plan).vertices]
    except (QhullError, ValueError):
        # Collinear plan (a single wall): its own line is the box.
        hull = plan
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2)
    angles = np.unique(np.round(angles, 12))
    cos, sin = np.cos(angles), np.sin(angles)
    u = hull[:, 0][None, :] * cos[:, None] + hull[:, 1][None, :] * sin[:, None]
    v = -hull[:, 0][None, :] * sin[:, None] + hull[:, 1][None, :] * cos[:, None]
    du, dv = np.ptp(u, axis=1), np.ptp(v, axis=1)
    best = int(np.argmin(du * dv))
    length, width, angle = float(du[best]), float(dv[best]), float(angles[best])
    if width > length:
        length, width, angle = width, length, angle + np.pi / 2
    yaw = float(np.degrees(angle)) % 180.0
    return (length, width, height, round(yaw, 6) % 180.0)
