"""Synthetic RGB-D scans of a known room, as a phone's LiDAR would capture them.

A room (a floor plan polygon extruded to a height, or any triangle mesh) is rendered with
Open3D's ``RaycastingScene`` on the CPU (a few milliseconds for a 256 x 192 frame) from
poses a person walking through it would take, and written in nerfstudio's
``transforms.json`` format with a y-up world as ARKit gives it. The errors are those of a
phone (Apple's LiDAR as measured by Vogt et al., 2021, "Comparison of iPad Pro's LiDAR and
TrueDepth capabilities with an industrial 3D scanning solution", and Luetzenburg et al.,
2021, Scientific Reports 11, 22221): depth noise whose standard deviation grows with range
(about 1 cm at 1 m, 3.5 cm at 5 m; smooth over a few pixels, as the depth map is
densified from a few hundred laser points), no reading beyond 5 m, a percent of pixels with no
reading, depth quantised to millimetres, and a pose error of the visual-inertial tracking
(about a centimetre and a few tenths of a degree per frame).

The tests make their scans with this module; ``assets/scans/make_scan.py`` writes the
shipped one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scene.scan import CameraIntrinsics, _open3d, world_to_z_up

__all__ = [
    "PHONE_LIDAR",
    "LidarModel",
    "SyntheticRoom",
    "corner_poses",
    "look_at",
    "render_frames",
    "room_from_plan",
    "walk_poses",
    "write_scan",
]

# Colours (RGB, 0..1) of the rendered surfaces: a wooden floor, off-white walls, a white
# ceiling. Only the colour images use them.
_SURFACE_RGB = {
    "floor": (0.55, 0.38, 0.22),
    "wall": (0.86, 0.83, 0.78),
    "ceiling": (0.95, 0.95, 0.94),
    "furniture": (0.35, 0.30, 0.28),
}


@dataclass(frozen=True)
class LidarModel:
    """The depth camera and its errors.

    Attributes
    ----------
    width, height, fx, fy, cx, cy
        Depth image size and pinhole intrinsics, pixels (Apple's LiDAR depth: 256 x 192,
        about 62 x 48 degrees).
    noise_floor_m, noise_per_m
        Depth noise standard deviation ``noise_floor_m + noise_per_m * depth``, m.
    noise_correlation_px, noise_white_share
        The noise is smooth over about ``noise_correlation_px`` pixels, with a share
        ``noise_white_share`` of its standard deviation independent per pixel.
    max_range_m
        No reading beyond this, m.
    dropout
        Share of pixels with no reading (dark or glancing surfaces).
    pose_sigma_m, pose_sigma_deg
        Standard deviation of the tracking error of each frame's position (m, per axis)
        and orientation (degrees, per axis).
    """

    width: int = 256
    height: int = 192
    fx: float = 212.0
    fy: float = 212.0
    cx: float = 127.5
    cy: float = 95.5
    noise_floor_m: float = 0.004
    noise_per_m: float = 0.006
    noise_correlation_px: float = 8.0
    noise_white_share: float = 0.2
    max_range_m: float = 5.0
    dropout: float = 0.01
    pose_sigma_m: float = 0.01
    pose_sigma_deg: float = 0.3

    @property
    def intrinsics(self) -> CameraIntrinsics:
        """The depth camera's intrinsics."""
        return CameraIntrinsics(self.fx, self.fy, self.cx, self.cy, self.width, self.height)


#: A phone's LiDAR (the defaults of :class:`LidarModel`).
PHONE_LIDAR = LidarModel()


@dataclass(frozen=True, eq=False)
class SyntheticRoom:
    """A closed room mesh, z up, metres.

    Attributes
    ----------
    vertices
        float64, shape (V, 3).
    faces
        int64, shape (F, 3), normals pointing out of the room.
    surface
        Shape (F,): ``"floor"``, ``"wall"``, ``"ceiling"`` or ``"furniture"`` per triangle.
    plan
        The floor plan polygon, shape (K, 2), counter-clockwise.
    height
        Floor to ceiling, m.
    """

    vertices: np.ndarray
    faces: np.ndarray
    surface: np.ndarray
    plan: np.ndarray
    height: float

    @property
    def floor_area_m2(self) -> float:
        """Area of the floor plan (shoelace formula)."""
        x, y = self.plan[:, 0], self.plan[:, 1]
        return float(0.5 * np.abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))

    @property
    def volume_m3(self) -> float:
        """Floor area times height."""
        return self.floor_area_m2 * self.height

    def with_box(
        self, low: tuple[float, float, float], high: tuple[float, float, float]
    ) -> SyntheticRoom:
        """The room with a closed box in it (furniture: a table, a wardrobe), normals out."""
        (x0, y0, z0), (x1, y1, z1) = low, high
        corners = np.array(
            [(x, y, z) for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)], dtype=np.float64
        )
        quads = ((0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5))
        faces = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
        offset = len(self.vertices)
        return SyntheticRoom(
            np.r_[self.vertices, corners],
            np.r_[self.faces, np.asarray(faces, dtype=np.int64) + offset],
            np.r_[self.surface, ["furniture"] * len(faces)],
            self.plan,
            self.height,
        )

    def write_obj(self, path: str | Path) -> Path:
        """Write the room as OBJ, one group per surface (``floor``, ``wall``, ``ceiling``,
        ``furniture``)."""
        path = Path(path)
        lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in self.vertices.tolist()]
        for name in ("floor", "wall", "ceiling", "furniture"):
            lines.append(f"g {name}")
            lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in self.faces[self.surface == name]]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def room_from_plan(plan: np.ndarray, height: float) -> SyntheticRoom:
    """Extrude a floor plan into a closed room.

    Parameters
    ----------
    plan
        Shape (K, 2): a simple polygon, m, counter-clockwise seen from above.
    height
        Floor to ceiling, m.

    Returns
    -------
    SyntheticRoom

    Raises
    ------
    ValueError
        For fewer than 3 corners, a clockwise polygon or a height that is not positive.
    """
    plan = np.asarray(plan, dtype=np.float64)
    if plan.ndim != 2 or plan.shape[1] != 2 or len(plan) < 3:
        raise ValueError(f"plan must be (K >= 3, 2); got shape {plan.shape}")
    if height <= 0:
        raise ValueError(f"height={height} must be positive (m)")
    x, y = plan[:, 0], plan[:, 1]
    if np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)) <= 0:
        raise ValueError("plan must be counter-clockwise seen from above")
    k = len(plan)
    vertices = np.r_[np.c_[plan, np.zeros(k)], np.c_[plan, np.full(k, float(height))]]
    triangles = _ear_clip(plan)
    floor = triangles[:, ::-1]  # counter-clockwise from above faces up: turned to face down
    ceiling = triangles + k
    walls = []
    for i in range(k):
        j = (i + 1) % k
        walls += [(i, j, j + k), (i, j + k, i + k)]
    faces = np.r_[floor, ceiling, np.asarray(walls)].astype(np.int64)
    surface = np.array(["floor"] * len(floor) + ["ceiling"] * len(ceiling) + ["wall"] * len(walls))
    return SyntheticRoom(vertices, faces, surface, plan, float(height))


def _ear_clip(polygon: np.ndarray) -> np.ndarray:
    """Triangles (counter-clockwise) of a simple counter-clockwise polygon."""
    index = list(range(len(polygon)))
    out = []

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    while len(index) > 3:
        for n in range(len(index)):
            a, b, c = index[n - 1], index[n], index[(n + 1) % len(index)]
            pa, pb, pc = polygon[a], polygon[b], polygon[c]
            if cross(pa, pb, pc) <= 1e-12:
                continue  # reflex or straight corner: not an ear
            # A corner on the ear's edge counts as inside: the cut would pass through it.
            inside = any(
                cross(pa, pb, polygon[m]) >= -1e-12
                and cross(pb, pc, polygon[m]) >= -1e-12
                and cross(pc, pa, polygon[m]) >= -1e-12
                for m in index
                if m not in (a, b, c)
            )
            if not inside:
                out.append((a, b, c))
                index.pop(n)
                break
        else:
            raise ValueError("plan is not a simple polygon")
    out.append(tuple(index))
    return np.asarray(out, dtype=np.int64)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world pose (OpenCV axes: x right, y down, z forward), z-up world, level."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = eye
    return pose


def _heading(eye: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    direction = np.array(
        [math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch)]
    )
    return look_at(eye, eye + direction)


def _inside(plan: np.ndarray, point: np.ndarray) -> bool:
    """Even-odd rule."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(plan, np.roll(plan, -1, axis=0), strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _distance_to_edges(plan: np.ndarray, point: np.ndarray) -> float:
    a, b = plan, np.roll(plan, -1, axis=0)
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", point - a, ab) / np.einsum("ij,ij->i", ab, ab), 0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab - point, axis=1)))


def walk_poses(
    room: SyntheticRoom,
    *,
    spacing_m: float = 3.0,
    margin_m: float = 0.6,
    eye_height_m: float = 1.4,
    headings: int = 8,
    pitches_deg: tuple[float, ...] = (-30.0, 5.0, 40.0),
) -> list[np.ndarray]:
    """Poses of a person scanning the whole room: turning on the spot at a few places.

    Places are the centres of a grid of ``spacing_m`` cells over the plan that lie inside
    it, at least ``margin_m`` from every wall (the plan's centroid when none do). At each,
    the camera turns through ``headings`` directions, its pitch cycling through
    ``pitches_deg`` (down at the floor, level, up at the ceiling).

    Returns
    -------
    list of numpy.ndarray
        Camera-to-world (4, 4), OpenCV camera axes, z-up world.
    """
    low, high = room.plan.min(axis=0), room.plan.max(axis=0)
    counts = np.maximum(1, np.ceil((high - low) / spacing_m)).astype(int)
    steps = (high - low) / counts
    places = [
        np.array([low[0] + (i + 0.5) * steps[0], low[1] + (j + 0.5) * steps[1]])
        for i in range(counts[0])
        for j in range(counts[1])
    ]
    places = [
        p for p in places if _inside(room.plan, p) and _distance_to_edges(room.plan, p) >= margin_m
    ]
    if not places:
        places = [room.plan.mean(axis=0)]
    poses = []
    for number, place in enumerate(places):
        eye = np.array([place[0], place[1], min(eye_height_m, 0.6 * room.height)])
        for k in range(headings):
            yaw = 360.0 * k / headings + 22.5 * (number % 2)
            pitch = pitches_deg[(k + number) % len(pitches_deg)]
            poses.append(_heading(eye, yaw, pitch))
    return poses


def corner_poses(
    room: SyntheticRoom,
    *,
    corner: int = 0,
    distance_m: float = 2.0,
    eye_height_m: float = 1.4,
    frames: int = 6,
) -> list[np.ndarray]:
    """Poses of a partial scan: standing ``distance_m`` from one corner, looking into it.

    The camera sweeps 50 degrees to each side of the corner's bisector at a few pitches, so
    that it sees the two walls that meet there, the floor and some of the ceiling.
    """
    plan = room.plan
    here = plan[corner]
    before, after = plan[corner - 1], plan[(corner + 1) % len(plan)]
    bisector = (before - here) / np.linalg.norm(before - here) + (after - here) / np.linalg.norm(
        after - here
    )
    bisector /= np.linalg.norm(bisector)
    eye_xy = here + distance_m * bisector
    eye = np.array([eye_xy[0], eye_xy[1], min(eye_height_m, 0.6 * room.height)])
    toward = math.degrees(math.atan2(-bisector[1], -bisector[0]))
    pitches = (-25.0, 5.0, 35.0)
    return [
        _heading(eye, toward + (-50.0 + 100.0 * k / max(frames - 1, 1)), pitches[k % 3])
        for k in range(frames)
    ]


def _jitter(pose: np.ndarray, rng: np.random.Generator, lidar: LidarModel) -> np.ndarray:
    """The pose as tracking reports it: a small random rotation and translation."""
    from scipy.spatial.transform import Rotation

    noisy = pose.copy()
    rotation = Rotation.from_rotvec(np.radians(rng.normal(0.0, lidar.pose_sigma_deg, 3)))
    noisy[:3, :3] = rotation.as_matrix() @ pose[:3, :3]
    noisy[:3, 3] = pose[:3, 3] + rng.normal(0.0, lidar.pose_sigma_m, 3)
    return noisy


def _unit_noise(rng: np.random.Generator, lidar: LidarModel) -> np.ndarray:
    """Unit-variance depth noise: mostly smooth over ``noise_correlation_px``, some white.

    A phone's depth map is densified and filtered from a few hundred laser points, so its
    errors are smooth bumps, not independent per pixel.
    """
    import cv2

    h, w = lidar.height, lidar.width
    coarse = rng.normal(
        0.0,
        1.0,
        (
            max(2, round(h / lidar.noise_correlation_px)),
            max(2, round(w / lidar.noise_correlation_px)),
        ),
    )
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    smooth /= max(float(smooth.std()), 1e-9)
    white = lidar.noise_white_share
    return np.sqrt(1.0 - white**2) * smooth + white * rng.normal(0.0, 1.0, (h, w))


def render_frames(
    room: SyntheticRoom,
    poses: list[np.ndarray],
    *,
    lidar: LidarModel = PHONE_LIDAR,
    seed: int,
    colour: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Render what the phone measures from each pose.

    Parameters
    ----------
    room
        The room.
    poses
        True camera-to-world poses (OpenCV axes, z-up world).
    lidar
        Camera and error model.
    seed
        Seed of the noise, dropouts and pose errors.
    colour
        Render the colour images too (the geometry does not need them).

    Returns
    -------
    depths : list of numpy.ndarray
        float32 (height, width), metres, 0 where there is no reading, noise included.
    images : list of numpy.ndarray
        uint8 (height, width, 3) RGB, shaded by the surfaces' colours and the angle at which
        the camera sees them; empty without ``colour``.
    reported : list of numpy.ndarray
        The poses as tracking reports them (with the pose error).
    """
    o3d = _open3d(None)
    rng = np.random.default_rng(seed)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(room.vertices.astype(np.float32)),
        o3d.core.Tensor(room.faces.astype(np.uint32)),
    )
    colours = np.array([_SURFACE_RGB[s] for s in room.surface], dtype=np.float32)
    intrinsic = o3d.core.Tensor(lidar.intrinsics.matrix())
    depths, images, reported = [], [], []
    for pose in poses:
        rays = scene.create_rays_pinhole(
            intrinsic, o3d.core.Tensor(np.linalg.inv(pose)), lidar.width, lidar.height
        )
        hit = scene.cast_rays(rays)
        t_hit = hit["t_hit"].numpy()
        directions = rays.numpy()[..., 3:]
        depth = t_hit * (directions @ pose[:3, 2])  # along the camera's z axis
        valid = np.isfinite(depth) & (depth <= lidar.max_range_m)
        depth = np.where(valid, depth, 0.0)
        noisy = depth + _unit_noise(rng, lidar) * (lidar.noise_floor_m + lidar.noise_per_m * depth)
        noisy[~valid | (rng.random(depth.shape) < lidar.dropout)] = 0.0
        depths.append(np.round(np.maximum(noisy, 0.0), 3).astype(np.float32))
        reported.append(_jitter(pose, rng, lidar))
        if not colour:
            continue
        triangle = hit["primitive_ids"].numpy().astype(np.int64)
        normal = hit["primitive_normals"].numpy()
        unit = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
        shade = 0.35 + 0.65 * np.abs(np.einsum("ijk,ijk->ij", normal, unit))
        rgb = colours[np.where(np.isfinite(t_hit), triangle, 0)] * shade[..., None]
        rgb[~np.isfinite(t_hit)] = 0.0
        noise = rng.normal(0.0, 0.01, rgb.shape)
        images.append(np.clip((rgb + noise) * 255.0, 0, 255).astype(np.uint8))
    return depths, images, reported


def write_scan(
    folder: str | Path,
    room: SyntheticRoom,
    poses: list[np.ndarray],
    *,
    lidar: LidarModel = PHONE_LIDAR,
    seed: int,
    depth_format: str = "png",
    images: bool = True,
) -> Path:
    """Render a scan and write it as nerfstudio's ``transforms.json`` with a y-up world.

    Parameters
    ----------
    folder
        Created if needed; gets ``transforms.json``, ``depth/NNNN.png`` (16-bit,
        millimetres; or ``.npy``, float32 metres, with ``depth_format="npy"``) and
        ``images/NNNN.jpg``.
    room, poses, lidar, seed
        See :func:`render_frames`.
    depth_format
        ``"png"`` or ``"npy"``.
    images
        Write the colour images (they are not needed for the geometry).

    Returns
    -------
    Path
        The ``transforms.json``.
    """
    import cv2

    if depth_format not in ("png", "npy"):
        raise ValueError(f"depth_format={depth_format!r} must be 'png' or 'npy'")
    folder = Path(folder)
    (folder / "depth").mkdir(parents=True, exist_ok=True)
    if images:
        (folder / "images").mkdir(exist_ok=True)
    depths, colour, reported = render_frames(room, poses, lidar=lidar, seed=seed, colour=images)
    if not images:
        colour = [None] * len(depths)
    # z-up world -> ARKit's y-up world, and OpenCV -> OpenGL camera axes: the inverse of
    # scene.scan.camera_to_world_z_up.
    to_y_up = np.eye(4)
    to_y_up[:3, :3] = world_to_z_up("y").T
    gl = np.diag([1.0, -1.0, -1.0, 1.0])
    frames = []
    for number, (depth, image, pose) in enumerate(zip(depths, colour, reported, strict=True)):
        stem = f"{number:04d}"
        if depth_format == "png":
            depth_name = f"depth/{stem}.png"
            millimetres = np.round(depth * 1000.0).astype(np.uint16)
            cv2.imwrite(str(folder / depth_name), millimetres)
        else:
            depth_name = f"depth/{stem}.npy"
            np.save(folder / depth_name, depth)
        entry = {
            "file_path": f"images/{stem}.jpg",
            "depth_file_path": depth_name,
            "transform_matrix": np.round(to_y_up @ pose @ gl, 6).tolist(),
        }
        if images:
            cv2.imwrite(
                str(folder / entry["file_path"]),
                cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 80],
            )
        else:
            del entry["file_path"]
        frames.append(entry)
    data = {
        "camera_model": "PINHOLE",
        "fl_x": lidar.fx,
        "fl_y": lidar.fy,
        "cx": lidar.cx,
        "cy": lidar.cy,
        "w": lidar.width,
        "h": lidar.height,
        "frames": frames,
    }
    path = folder / "transforms.json"
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
