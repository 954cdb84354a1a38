"""The room a scan saw: floor, walls and ceiling as planes, then a floor plan and a volume.

From the fused points of :func:`scene.scan.fuse_scan`, z up:

1. Level: the mean normal of the horizontal surfaces is turned to +z (a scan whose world
   is tilted by a few degrees would otherwise lean its walls).
2. Planes (:func:`scene.planes.find_planes`, seeded RANSAC). Up-facing horizontal planes
   below the cameras are floor candidates (the lowest large one is the floor: tables are
   smaller and higher); down-facing ones above them the ceiling; vertical ones that stand
   on the floor and rise at least a metre are walls.
3. Right angles: the walls' directions give the room's yaw (the circular mean of four
   times their angle); the plan is turned so the walls run along x and y. Most rooms are
   built so (the Manhattan assumption); walls more than 10 degrees off it are left out,
   with a note.
4. Floor plan: the lines of the walls (and, where no wall was seen, the edge of what the
   cameras saw) cut the plan into rectangles. A rectangle belongs to the room when the
   cameras looked through most of it: the depth rays cross the air of the room and stop
   at its walls, so the air beyond a wall is never seen. A box room is one rectangle, an
   L-shaped room three, and a scan of one corner a box bounded by the two walls seen and
   by how far the cameras saw.
5. Height from the floor and ceiling planes (or, with no ceiling seen, the top of the
   walls: a lower bound, with less confidence); volume is floor area times height;
   surfaces per orientation (floor, ceiling, each wall by the way it faces) take the
   room's materials, and :func:`scene.acoustics.reverberation` gives per-band RT60.

Confidence is ``0.4 + 0.4 s + 0.15 c`` (at most 0.95), with ``s`` the share of the plan's
edge along which a wall was seen and ``c`` 1 when the ceiling was: 0.95 for a room closed
by walls with its ceiling seen (the Manhattan assumption and the noise remain), 0.75 for a
corner with its two walls and the ceiling, 0.6 without the ceiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from scene.acoustics import RoomAcoustics, reverberation
from scene.errors import SceneError
from scene.model import SHOEBOX_SURFACES, Material, Room
from scene.planes import Plane, find_planes
from scene.scan import VOXEL_M, FusedScan, UpAxis, fuse_scan, read_scan

__all__ = [
    "CELL_M",
    "MIN_WALL_RISE_M",
    "RoomEstimate",
    "ScanAnalysis",
    "analyze_room_scan",
    "analyze_scan",
    "cached_scan_analysis",
    "estimate_room",
]

#: Points are thinned to one per cube of this edge before plane finding, m.
SAMPLE_M = 0.06

#: Edge of the cells of the plan in which the cameras' view is counted, m.
CELL_M = 0.1

#: A vertical plane is a wall when it rises at least this far, m: the sides of tables,
#: beds and shelves rise less.
MIN_WALL_RISE_M = 1.0

#: A vertical plane shorter than this is no wall (a door frame, a pillar's side), m.
MIN_WALL_LENGTH_M = 0.5

#: Wall lines closer than this are one wall, m.
MERGE_M = 0.15

#: A rectangle of the plan belongs to the room when at least this share of it was seen.
SEEN_SHARE = 0.35

#: Largest angle between a wall and the room's axes, degrees.
MAX_SKEW_DEG = 10.0

#: Largest tilt of the scan's world that is levelled, degrees; more is an error of the
#: capture, not a lean.
MAX_TILT_DEG = 15.0

# Wall names by the direction their room-facing normal points (as scene.mesh_analysis).
_WALL_BY_NORMAL = {(0, 1): "west", (0, -1): "east", (1, 1): "south", (1, -1): "north"}


@dataclass(frozen=True)
class _Wall:
    axis: int  # 0: the wall is a line x = position; 1: y = position
    inward: int  # +1 when the room lies on the side of larger coordinates
    position: float
    extent: tuple[float, float]  # along the other axis
    points: int


@dataclass(frozen=True, eq=False)
class RoomEstimate:
    """The room recovered from a scan, in its own frame and in the scan's world.

    Attributes
    ----------
    floor_area_m2, ceiling_height_m, volume_m3
        Geometry.
    perimeter_m
        Length of the floor plan's boundary.
    wall_lengths_m
        (wall name, length) for the boundary facing each way: ``west`` faces +x, ``east``
        -x, ``south`` +y, ``north`` -y in the room frame (as :data:`SHOEBOX_SURFACES`).
    box_m
        (length x, length y, height): the bounding box of the plan in the room frame.
    shape
        ``"box"`` or ``"polygon"`` (a Manhattan polygon of several rectangles).
    rectangles
        Shape (R, 4): (x0, y0, x1, y1) of the plan's rectangles, room frame, m.
    edges
        Shape (E, 5): the plan's boundary as segments (x0, y0, x1, y1) in the room frame,
        m, and the share of each along which a wall was seen.
    walls_seen
        Number of wall planes found.
    perimeter_seen
        Share of the plan's boundary along which a wall was seen, 0..1.
    ceiling_seen
        Whether a ceiling plane was found.
    confidence
        0..1, see the module's notes.
    world_to_room
        Shape (4, 4): from the scan's world (z up, as after
        :func:`scene.scan.camera_to_world_z_up`) to the room frame, whose origin is the
        lowest corner of the plan's box on the floor and whose x and y run along the walls.
    yaw_deg
        Angle of the room's x axis in the scan's world, counter-clockwise, degrees.
    tilt_deg
        Tilt of the scan's world that was levelled, degrees.
    notes
        Plain-word remarks.
    """

    floor_area_m2: float
    ceiling_height_m: float
    volume_m3: float
    perimeter_m: float
    wall_lengths_m: tuple[tuple[str, float], ...]
    box_m: tuple[float, float, float]
    shape: str
    rectangles: np.ndarray
    edges: np.ndarray
    walls_seen: int
    perimeter_seen: float
    ceiling_seen: bool
    confidence: float
    world_to_room: np.ndarray
    yaw_deg: float
    tilt_deg: float
    notes: tuple[str, ...] = field(default=())

    def to_room(self, points: np.ndarray) -> np.ndarray:
        """Points (N, 3) of the scan's world, z up, in the room frame."""
        points = np.asarray(points, dtype=np.float64)
        return points @ self.world_to_room[:3, :3].T + self.world_to_room[:3, 3]

    def surfaces_m2(self) -> tuple[tuple[str, float], ...]:
        """Area of each surface of :data:`SHOEBOX_SURFACES`: walls by the way they face."""
        walls = dict(self.wall_lengths_m)
        out = [
            (name, walls.get(name, 0.0) * self.ceiling_height_m) for name in SHOEBOX_SURFACES[:4]
        ]
        return (*out, ("floor", self.floor_area_m2), ("ceiling", self.floor_area_m2))


def _thin(points: np.ndarray, normals: np.ndarray, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """One point (the mean) and one normal per occupied cube of ``edge`` metres."""
    cells = np.floor(points / edge).astype(np.int64)
    cells -= cells.min(axis=0)
    span = cells.max(axis=0) + 1
    # One integer per cube (a 1-D unique is far faster than unique rows).
    key = (cells[:, 0] * span[1] + cells[:, 1]) * span[2] + cells[:, 2]
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    mean_p = (
        np.stack([np.bincount(inverse, weights=points[:, k]) for k in range(3)], axis=1)
        / counts[:, None]
    )
    mean_n = np.stack([np.bincount(inverse, weights=normals[:, k]) for k in range(3)], axis=1)
    length = np.linalg.norm(mean_n, axis=1)
    keep = length > 1e-6
    return mean_p[keep], mean_n[keep] / length[keep, None]


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector a onto unit vector b (Rodrigues)."""
    v = np.cross(a, b)
    c = float(a @ b)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def estimate_room(fused: FusedScan, *, seed: int = 0) -> RoomEstimate:
    """Estimate the room a fused scan saw; see the module's steps.

    Parameters
    ----------
    fused
        From :func:`scene.scan.fuse_scan`.
    seed
        Seed of the plane search.

    Returns
    -------
    RoomEstimate

    Raises
    ------
    SceneError
        Naming the scan when no floor (or nothing at all) was seen.
    """
    where = fused.scan.path
    notes: list[str] = []
    if len(fused.points) < 100:
        raise SceneError(
            f"the scan saw almost nothing ({len(fused.points)} surface points): are the "
            "depth maps in millimetres (16-bit PNG) or metres (.npy)?",
            file=where,
        )
    points, normals = _thin(fused.points, fused.normals, SAMPLE_M)

    # Step 1: level.
    horizontal = np.abs(normals[:, 2]) >= math.cos(math.radians(25.0))
    tilt_deg = 0.0
    level = np.eye(3)
    if horizontal.sum() >= 50:
        up = (normals[horizontal] * np.sign(normals[horizontal, 2])[:, None]).mean(axis=0)
        up /= np.linalg.norm(up)
        tilt_deg = math.degrees(math.acos(min(1.0, float(up[2]))))
        if tilt_deg > MAX_TILT_DEG:
            raise SceneError(
                f"the scan's floor is tilted {tilt_deg:.0f} degrees from its world's up "
                "axis: is `up` right (y for ARKit and ARCore, z otherwise)?",
                file=where,
            )
        level = _rotation_between(up, np.array([0.0, 0.0, 1.0]))
        if tilt_deg >= 0.5:
            notes.append(f"the scan's world was tilted {tilt_deg:.1f} degrees: levelled")
    points, normals = points @ level.T, normals @ level.T
    cameras = fused.camera_positions @ level.T
    free = fused.free_space.astype(np.float64) @ level.T

    # Step 2: planes.
    planes = find_planes(
        points, normals, seed=seed, distance_m=max(0.04, 1.5 * fused.voxel_m), min_points=40
    )
    eye = float(np.median(cameras[:, 2]))
    sin10 = math.sin(math.radians(10.0))
    ups = [p for p in planes if p.normal[2] >= math.cos(math.radians(10.0))]
    downs = [p for p in planes if p.normal[2] <= -math.cos(math.radians(10.0))]
    floors = [p for p in ups if _height(p, points) < eye]
    if not floors:
        raise SceneError(
            "no floor found in the scan: the cameras must see some of the floor", file=where
        )
    largest = max(len(p.inliers) for p in floors)
    floor = min(
        (p for p in floors if len(p.inliers) >= 0.25 * largest), key=lambda p: _height(p, points)
    )
    floor_z = _height(floor, points)
    ceilings = [p for p in downs if _height(p, points) > eye]
    ceiling = None
    if ceilings:
        largest = max(len(p.inliers) for p in ceilings)
        ceiling = max(
            (p for p in ceilings if len(p.inliers) >= 0.25 * largest),
            key=lambda p: _height(p, points),
        )
    verticals = [p for p in planes if abs(p.normal[2]) <= sin10]
    top = _height(ceiling, points) if ceiling is not None else np.inf
    wall_planes = []
    for plane in verticals:
        z = points[plane.inliers, 2]
        low, high = np.percentile(z, [2, 98])
        # Standing on the floor (its foot may be hidden behind furniture), rising a metre,
        # and at least half a metre long.
        if high - low >= MIN_WALL_RISE_M and low < floor_z + 1.0 and high < top + 0.1:
            along = points[plane.inliers, :2] @ np.array([-plane.normal[1], plane.normal[0]])
            if np.subtract(*np.percentile(along, [99, 1])) >= MIN_WALL_LENGTH_M:
                wall_planes.append(plane)

    # Step 3: right angles.
    yaw = 0.0
    if wall_planes:
        weights = np.array([len(p.inliers) for p in wall_planes], dtype=float)
        angles = np.array([math.atan2(p.normal[1], p.normal[0]) for p in wall_planes])
        yaw = float(np.angle(np.sum(weights * np.exp(4j * angles)))) / 4.0
    cos_y, sin_y = math.cos(-yaw), math.sin(-yaw)
    turn = np.array([[cos_y, -sin_y, 0.0], [sin_y, cos_y, 0.0], [0.0, 0.0, 1.0]])
    plan_points = points @ turn.T
    plan_normals = normals @ turn.T
    free = free @ turn.T
    walls: list[_Wall] = []
    skewed = 0
    # Small planes beside a wall are the rest of that wall's noisy points: not worth a note.
    notable = 0.1 * max((len(p.inliers) for p in wall_planes), default=0)
    for plane in wall_planes:
        n = plan_normals[plane.inliers].mean(axis=0)
        axis = int(np.argmax(np.abs(n[:2])))
        off = math.degrees(math.acos(min(1.0, abs(n[axis]) / max(np.linalg.norm(n[:2]), 1e-12))))
        if off > MAX_SKEW_DEG:
            skewed += len(plane.inliers) >= notable
            continue
        inlier_xyz = plan_points[plane.inliers]
        along = inlier_xyz[:, 1 - axis]
        lo, hi = np.percentile(along, [1, 99])
        walls.append(
            _Wall(
                axis=axis,
                inward=1 if n[axis] > 0 else -1,
                position=float(np.median(inlier_xyz[:, axis])),
                extent=(float(lo), float(hi)),
                points=len(plane.inliers),
            )
        )
    if skewed:
        notes.append(
            f"{skewed} walls are more than {MAX_SKEW_DEG:g} degrees off the room's right "
            "angles: left out of the floor plan"
        )
    walls = _merge_walls(walls)

    # Step 5 first: the height, as the seen air is counted between floor and ceiling.
    if ceiling is not None:
        height = _height(ceiling, points) - floor_z
    else:
        wall_tops = [np.percentile(points[p.inliers, 2], 99) for p in wall_planes]
        seen_top = max([*wall_tops, float(np.percentile(points[:, 2], 99.5))])
        height = seen_top - floor_z
        notes.append(
            f"no ceiling seen: the height ({height:.2f} m) is the top of what the cameras "
            "saw, a lower bound"
        )
    if height <= 0.5:
        raise SceneError(
            f"the scan's floor and ceiling are {height:.2f} m apart: not a room", file=where
        )

    # Step 4: floor plan.
    air = free[(free[:, 2] > floor_z + 0.05) & (free[:, 2] < floor_z + height - 0.05)]
    floor_xy = plan_points[floor.inliers][:, :2]
    seen_xy = np.r_[air[:, :2], floor_xy]
    rectangles, xs, ys = _plan(seen_xy, walls)
    if len(rectangles) == 0:
        raise SceneError("the scan saw no floor space between walls", file=where)
    boundary = _boundary(rectangles, xs, ys, walls)
    perimeter = float(sum(edge[2] for edge in boundary))
    supported = float(sum(edge[2] * edge[3] for edge in boundary))
    perimeter_seen = supported / perimeter if perimeter > 0 else 0.0
    wall_lengths: dict[str, float] = {name: 0.0 for name in SHOEBOX_SURFACES[:4]}
    for axis, inward, length, _, _ in boundary:
        wall_lengths[_WALL_BY_NORMAL[(axis, inward)]] += length
    area = float(
        np.sum((rectangles[:, 2] - rectangles[:, 0]) * (rectangles[:, 3] - rectangles[:, 1]))
    )
    low = rectangles[:, :2].min(axis=0)
    high = rectangles[:, 2:].max(axis=0)
    shape = "box" if len(rectangles) == 1 else "polygon"
    edges = np.array([(*edge[4], edge[3]) for edge in boundary], dtype=np.float64)
    edges[:, :4] -= np.r_[low, low]

    confidence = 0.4 + 0.4 * perimeter_seen + (0.15 if ceiling is not None else 0.0)
    if perimeter_seen < 0.95:
        notes.append(
            f"walls seen along {100 * perimeter_seen:.0f}% of the floor plan's edge: the rest "
            "is bounded by how far the cameras saw (a partial scan; lower confidence)"
        )
    if not walls:
        notes.append("no wall seen: the plan is the extent of what the cameras saw")
    world_to_room = np.eye(4)
    world_to_room[:3, :3] = turn @ level
    world_to_room[:3, 3] = -np.array([low[0], low[1], floor_z])
    return RoomEstimate(
        floor_area_m2=area,
        ceiling_height_m=float(height),
        volume_m3=area * float(height),
        perimeter_m=perimeter,
        wall_lengths_m=tuple(wall_lengths.items()),
        box_m=(float(high[0] - low[0]), float(high[1] - low[1]), float(height)),
        shape=shape,
        rectangles=rectangles - np.r_[low, low],
        edges=edges,
        walls_seen=len(walls),
        perimeter_seen=round(perimeter_seen, 3),
        ceiling_seen=ceiling is not None,
        confidence=round(min(confidence, 0.95), 3),
        world_to_room=world_to_room,
        yaw_deg=math.degrees(yaw),
        tilt_deg=tilt_deg,
        notes=tuple(notes),
    )


def _height(plane: Plane, points: np.ndarray) -> float:
    """Height of a horizontal plane: the median of its points' (a fitted plane tilts by a
    fraction of a degree, which is centimetres across a hall), m."""
    return float(np.median(points[plane.inliers, 2]))


def _merge_walls(walls: list[_Wall]) -> list[_Wall]:
    """Walls on one line facing one way (pieces of one wall) become one."""
    merged: list[_Wall] = []
    for wall in sorted(walls, key=lambda w: (w.axis, w.inward, w.position)):
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.axis, last.inward) == (wall.axis, wall.inward)
            and abs(last.position - wall.position) < MERGE_M
        ):
            total = last.points + wall.points
            merged[-1] = _Wall(
                axis=wall.axis,
                inward=wall.inward,
                position=(last.position * last.points + wall.position * wall.points) / total,
                extent=(min(last.extent[0], wall.extent[0]), max(last.extent[1], wall.extent[1])),
                points=total,
            )
        else:
            merged.append(wall)
    return merged


def _lines(walls: list[_Wall], axis: int, seen: np.ndarray) -> np.ndarray:
    """Cut positions along one axis: the walls', then the seen extent where no wall bounds."""
    positions = sorted(w.position for w in walls if w.axis == axis)
    low, high = np.percentile(seen[:, axis], [0.2, 99.8])
    lines = list(positions)
    # Where no wall was seen beyond the seen space, its edge bounds the room.
    if not positions or low < positions[0] - MERGE_M:
        lines.append(float(low))
    if not positions or high > positions[-1] + MERGE_M:
        lines.append(float(high))
    lines.sort()
    out: list[float] = []
    for value in lines:
        if out and value - out[-1] < MERGE_M:
            # Keep the wall's position over a seen edge: walls are measured, edges are not.
            if value in positions and out[-1] not in positions:
                out[-1] = value
            continue
        out.append(value)
    return np.asarray(out)


def _plan(seen: np.ndarray, walls: list[_Wall]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rectangles of the wall-line grid that the cameras saw most of."""
    xs, ys = _lines(walls, 0, seen), _lines(walls, 1, seen)
    if len(xs) < 2 or len(ys) < 2:
        return np.zeros((0, 4)), xs, ys
    origin = np.array([xs[0], ys[0]])
    shape = np.ceil((np.array([xs[-1], ys[-1]]) - origin) / CELL_M).astype(int) + 1
    cells = np.floor((seen - origin) / CELL_M).astype(int)
    keep = np.all((cells >= 0) & (cells < shape), axis=1)
    grid = np.zeros(shape, dtype=bool)
    grid[cells[keep, 0], cells[keep, 1]] = True
    import cv2

    # Rays are sampled sparsely: close the gaps between neighbouring samples.
    grid = cv2.morphologyEx(grid.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    rectangles = []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            (a0, a1), (b0, b1) = (
                np.round((np.array([xs[k], ys[m]]) - origin) / CELL_M).astype(int)
                for k, m in ((i, j), (i + 1, j + 1))
            )
            block = grid[a0 : max(b0, a0 + 1), a1 : max(b1, a1 + 1)]
            if block.size and block.mean() >= SEEN_SHARE:
                rectangles.append((xs[i], ys[j], xs[i + 1], ys[j + 1]))
    return np.asarray(rectangles, dtype=np.float64).reshape(-1, 4), xs, ys


def _boundary(
    rectangles: np.ndarray, xs: np.ndarray, ys: np.ndarray, walls: list[_Wall]
) -> list[tuple[int, int, float, float, tuple[float, float, float, float]]]:
    """Edges of the plan: (axis, inward sign, length, share along a seen wall, segment)."""
    inside = {(float(r[0]), float(r[1])) for r in rectangles}
    out = []
    for x0, y0, x1, y1 in rectangles.tolist():
        i = int(np.searchsorted(xs, x0))
        j = int(np.searchsorted(ys, y0))
        sides = (
            (0, 1, x0, (xs[i - 1], y0) if i > 0 else None, (y0, y1)),  # faces +x: a west wall
            (0, -1, x1, (x1, y0), (y0, y1)),  # faces -x: east
            (1, 1, y0, (x0, ys[j - 1]) if j > 0 else None, (x0, x1)),  # faces +y: south
            (1, -1, y1, (x0, y1), (x0, x1)),  # faces -y: north
        )
        for axis, inward, position, neighbour, span in sides:
            if neighbour is not None and (float(neighbour[0]), float(neighbour[1])) in inside:
                continue
            length = span[1] - span[0]
            covered = 0.0
            for wall in walls:
                if (wall.axis, wall.inward) == (axis, inward) and abs(
                    wall.position - position
                ) < MERGE_M:
                    # The ends of a wall hide in the corners' rounding: MERGE_M of slack.
                    covered += max(
                        0.0,
                        min(span[1], wall.extent[1] + MERGE_M)
                        - max(span[0], wall.extent[0] - MERGE_M),
                    )
            segment = (
                (position, span[0], position, span[1])
                if axis == 0
                else (span[0], position, span[1], position)
            )
            out.append((axis, inward, length, min(1.0, covered / length), segment))
    return out


@dataclass(frozen=True, eq=False)
class ScanAnalysis:
    """A scan, the room it shows, and the room's acoustics with materials by orientation.

    Attributes
    ----------
    path
        The ``transforms.json``.
    frames
        Depth frames fused.
    estimate
        The room.
    surfaces
        (surface of :data:`SHOEBOX_SURFACES`, material, area in m^2) for each surface with
        an area.
    acoustics
        Per-band Sabine and Eyring RT60 (:func:`scene.acoustics.reverberation`).
    acoustics_confidence
        The estimate's confidence times that of materials chosen by orientation.
    notes
        The scan's, the fusion's and the estimate's remarks.
    fused
        The fused scan (points, mesh, camera positions), for drawing.
    """

    path: Path
    frames: int
    estimate: RoomEstimate
    surfaces: tuple[tuple[str, Material, float], ...]
    acoustics: RoomAcoustics
    acoustics_confidence: float
    notes: tuple[str, ...]
    fused: FusedScan


def _room_materials(materials: tuple[tuple[str, Material], ...]) -> dict[str, Material]:
    from scene.loader import DEFAULT_MATERIALS
    from scene.materials import resolve_material

    given = dict(materials)
    out = {}
    for surface in SHOEBOX_SURFACES:
        if surface in given:
            out[surface] = given[surface]
        else:
            key = surface if surface in ("floor", "ceiling") else "walls"
            out[surface] = resolve_material(DEFAULT_MATERIALS[key], file=None, field="materials")
    return out


def analyze_scan(
    path: str | Path,
    *,
    up: UpAxis | None = None,
    materials: tuple[tuple[str, Material], ...] = (),
    seed: int = 0,
    voxel_m: float = VOXEL_M,
    file: str | Path | None = None,
    field: str | None = None,
) -> ScanAnalysis:
    """Read, fuse and measure a scan: the room and its reverberation.

    Parameters
    ----------
    path
        A ``transforms.json`` or the folder that holds it.
    up
        The scan world's up axis; None infers it (see :func:`scene.scan.read_scan`).
    materials
        Surface of :data:`SHOEBOX_SURFACES` -> material; surfaces left out get the
        defaults of :data:`scene.loader.DEFAULT_MATERIALS`.
    seed
        Seed of the plane search.
    voxel_m
        TSDF voxel edge, m.
    file, field
        The scene file and field that named the scan, for error messages.

    Returns
    -------
    ScanAnalysis

    Raises
    ------
    SceneError
        For a scan that cannot be read, or in which no room can be found.
    """
    from scene.mesh_analysis import CONFIDENCE_BY_ORIENTATION

    scan = read_scan(path, up=up, file=file, field=field)
    fused = fuse_scan(scan, voxel_m=voxel_m)
    estimate = estimate_room(fused, seed=seed)
    chosen = _room_materials(materials)
    surfaces = tuple(
        (name, chosen[name], area) for name, area in estimate.surfaces_m2() if area > 0.0
    )
    acoustics = reverberation(
        estimate.volume_m3, ((area, material.absorption) for _, material, area in surfaces)
    )
    return ScanAnalysis(
        path=scan.path,
        frames=len(scan.frames),
        estimate=estimate,
        surfaces=surfaces,
        acoustics=acoustics,
        acoustics_confidence=round(estimate.confidence * CONFIDENCE_BY_ORIENTATION, 3),
        notes=(*fused.notes, *estimate.notes),
        fused=fused,
    )


def analyze_room_scan(room: Room) -> ScanAnalysis:
    """Analyse a scan room's scan with the room's materials; cached by file and settings.

    Raises
    ------
    SceneError
        For a room without a scan, or as :func:`analyze_scan`.
    """
    if room.scan_path is None:
        raise SceneError("a scan room needs `path`, the scan's transforms.json", field="room.path")
    return cached_scan_analysis(room.scan_path, up=room.scan_up, materials=room.materials)


def cached_scan_analysis(
    path: str | Path,
    *,
    up: UpAxis | None = None,
    materials: tuple[tuple[str, Material], ...] = (),
) -> ScanAnalysis:
    """:func:`analyze_scan` of a ``transforms.json``, cached by file, modification time, up
    axis and materials: the loader (for the room's box), perception and the renderer ask.

    Raises
    ------
    SceneError
        As :func:`analyze_scan`.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise SceneError("no such file", field="room.path", value=str(path)) from None
    return _cached(str(path), stat.st_mtime_ns, stat.st_size, up, materials)


@lru_cache(maxsize=4)
def _cached(
    path: str,
    mtime_ns: int,
    size: int,
    up: UpAxis | None,
    materials: tuple[tuple[str, Material], ...],
) -> ScanAnalysis:
    del mtime_ns, size  # part of the cache key only
    return analyze_scan(path, up=up, materials=materials)
