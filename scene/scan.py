"""RGB-D scans with camera poses: read a nerfstudio ``transforms.json``, fuse its depth (TSDF).

The format is the one most capture apps export (Polycam, Record3D, nerfstudio's own
``ns-process-data``): a JSON file beside the images with the camera's intrinsics and one
entry per frame::

    {"fl_x": 212.0, "fl_y": 212.0, "cx": 128.0, "cy": 96.0, "w": 256, "h": 192,
     "frames": [{"file_path": "images/0000.jpg",
                 "depth_file_path": "depth/0000.png",
                 "transform_matrix": [[...4 x 4, camera to world...]]}, ...]}

Intrinsics may also be given per frame (they override the top level). Camera axes follow
OpenGL: x right, y up, the camera looking down -z. Depth is a 16-bit PNG in millimetres
(0 = no measurement), or float32 metres in ``.npy`` (or ``.exr``, when OpenCV reads
OpenEXR). A depth map smaller than the colour image (a phone's 256 x 192 LiDAR beside a
1920 x 1440 photo) is normal: the intrinsics are scaled to it.

The world frame of a scan is the capture app's: ARKit and ARCore worlds are y-up (gravity
along -y), others z-up. :func:`camera_to_world_z_up` is the one place where a scan's poses
are turned into the project's z-up world and OpenCV camera axes; everything after it (the
fused points, the room estimate) is z up.

Fusion uses Open3D's ``ScalableTSDFVolume``: an optional dependency (``pip install
'genius-loci[scan]'``, pinned below 0.20, whose wheels fail to import and fuse here),
imported only when a scan is fused (it takes seconds to import). See
benchmarks/bench_perception.py for its speed.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np

from scene.errors import SceneError

__all__ = [
    "DEPTH_SUFFIXES",
    "MAX_DEPTH_M",
    "SCAN_FILE",
    "VOXEL_M",
    "CameraIntrinsics",
    "FusedScan",
    "Scan",
    "ScanFrame",
    "camera_to_world_z_up",
    "find_scan_file",
    "fuse_scan",
    "read_depth",
    "read_scan",
    "world_to_z_up",
]

UpAxis = Literal["y", "z"]

#: The file a scan folder holds.
SCAN_FILE = "transforms.json"

#: Depth formats read, lower case.
DEPTH_SUFFIXES: tuple[str, ...] = (".png", ".npy", ".exr")

#: Edge of a TSDF voxel, m. A room's walls need centimetres, not millimetres: with 4 cm
#: the planes fitted to the fused surface still land within a centimetre or two of the
#: walls (tests/test_scene_scan.py), and fusion is about three times faster than with 3 cm.
VOXEL_M = 0.04

#: Farthest depth used, m: the range of a phone's LiDAR (about 5 m); beyond it the
#: readings are noise.
MAX_DEPTH_M = 5.0

# OpenGL camera axes (y up, looking down -z) to OpenCV's (y down, looking down +z).
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a depth image, pixels.

    Attributes
    ----------
    fx, fy
        Focal lengths.
    cx, cy
        Principal point.
    width, height
        Image size.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled(self, width: int, height: int) -> CameraIntrinsics:
        """The same camera for an image of another size (a depth map beside a photo)."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(
            self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, int(width), int(height)
        )

    def matrix(self) -> np.ndarray:
        """The 3 x 3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, eq=False)
class ScanFrame:
    """One depth frame and its pose.

    Attributes
    ----------
    index
        Position in the file's ``frames`` list.
    depth_path
        The depth image.
    image_path
        The colour image, or None when the file names none.
    camera_to_world
        float64, shape (4, 4): camera (OpenCV axes: x right, y down, z forward) to world,
        metres, z up (see :func:`camera_to_world_z_up`).
    intrinsics
        Of the colour image as the file gives them; :func:`read_depth` scales them to the
        depth image.
    """

    index: int
    depth_path: Path
    image_path: Path | None
    camera_to_world: np.ndarray
    intrinsics: CameraIntrinsics


@dataclass(frozen=True, eq=False)
class Scan:
    """A scan as read: frames with poses in the project's z-up world.

    Attributes
    ----------
    path
        The ``transforms.json``.
    frames
        Frames with depth, in file order.
    up
        The scan world's up axis (``"y"`` for ARKit/ARCore captures, ``"z"`` otherwise).
    notes
        Remarks made while reading (frames without depth, the up axis inferred, ...).
    """

    path: Path
    frames: tuple[ScanFrame, ...]
    up: UpAxis
    notes: tuple[str, ...] = ()


def world_to_z_up(up: UpAxis) -> np.ndarray:
    """Rotation (3 x 3) from a scan's world frame to the project's z-up frame.

    For a y-up world the rotation is +90 degrees about x, ``(x, y, z) -> (x, -z, y)``: the
    conversion :func:`scene.mesh.y_up_to_z_up` applies to y-up meshes, so a scan and a mesh
    of one room in one y-up frame land on each other. A z-up world is kept as it is.
    """
    if up == "z":
        return np.eye(3)
    if up == "y":
        return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    raise ValueError(f"up={up!r} must be 'y' or 'z'")


def camera_to_world_z_up(transform_matrix: np.ndarray, *, up: UpAxis) -> np.ndarray:
    """Turn a nerfstudio pose into the project's frames: the one conversion of scan poses.

    Parameters
    ----------
    transform_matrix
        Shape (4, 4): camera to world as ``transforms.json`` gives it, with OpenGL camera
        axes (x right, y up, looking down -z) and the scan's world axes.
    up
        The scan world's up axis (see :func:`world_to_z_up`).

    Returns
    -------
    numpy.ndarray
        Shape (4, 4), float64: camera to world with OpenCV camera axes (x right, y down,
        looking down +z, as Open3D's TSDF and ray casting expect) and the world z up.

    Notes
    -----
    ``W @ T @ diag(1, -1, -1, 1)``, with ``W`` the world rotation to z up: the camera's y
    and z axes are negated on the right (camera side), the world is rotated on the left.
    """
    rotation = np.eye(4)
    rotation[:3, :3] = world_to_z_up(up)
    return rotation @ np.asarray(transform_matrix, dtype=np.float64) @ _GL_TO_CV


def find_scan_file(path: str | Path) -> Path | None:
    """The ``transforms.json`` that ``path`` names or holds, else None."""
    path = Path(path)
    if path.is_dir():
        candidate = path / SCAN_FILE
        return candidate if candidate.is_file() else None
    if path.is_file() and path.suffix.lower() == ".json" and path.name == SCAN_FILE:
        return path
    return None


def read_scan(
    path: str | Path,
    *,
    up: UpAxis | None = None,
    file: str | Path | None = None,
    field: str | None = None,
) -> Scan:
    """Read a nerfstudio ``transforms.json`` (or the folder that holds one).

    Parameters
    ----------
    path
        The file, or its folder.
    up
        The scan world's up axis when known; None infers it from the cameras: people hold
        phones upright, so the mean of the cameras' up vectors points (roughly) up.
    file, field
        The scene file and field that named the scan, for error messages; errors inside
        the scan name ``transforms.json`` and its own fields.

    Returns
    -------
    Scan

    Raises
    ------
    SceneError
        For a missing or malformed file, a missing key, a pose that is not a finite
        rigid 4 x 4 matrix, a depth file that does not exist or is not a depth format, or a
        scan with no depth at all; each names the file and the field (``frames[3].
        transform_matrix``).
    """
    given = Path(path)
    found = find_scan_file(given)
    if found is None:
        where = file if file is not None else given
        if not given.exists():
            raise SceneError(
                "no such scan file or folder", file=where, field=field, value=str(path)
            )
        raise SceneError(
            f"a scan is a folder holding {SCAN_FILE} (nerfstudio's format) or that file itself",
            file=where,
            field=field,
            value=str(path),
        )
    text = _read_text(found)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SceneError(
            f"JSON syntax error: {error.msg}",
            file=found,
            field=f"line {error.lineno}, column {error.colno}",
        ) from None
    if not isinstance(data, dict):
        raise SceneError("the top level must be a JSON object with `frames`", file=found)
    frames_data = data.get("frames")
    if not isinstance(frames_data, list) or not frames_data:
        raise SceneError(
            "missing or empty; a scan needs a list of frames with `transform_matrix` and "
            "`depth_file_path`",
            file=found,
            field="frames",
        )
    base = found.parent
    notes: list[str] = []
    poses: list[np.ndarray] = []
    entries: list[tuple[int, Path, Path | None, CameraIntrinsics]] = []
    without_depth = 0
    for index, entry in enumerate(frames_data):
        where = f"frames[{index}]"
        if not isinstance(entry, dict):
            raise SceneError("must be an object", file=found, field=where, value=entry)
        intrinsics = _intrinsics(data, entry, file=found, field=where)
        matrix = _pose(entry.get("transform_matrix"), file=found, field=f"{where}.transform_matrix")
        depth_name = entry.get("depth_file_path")
        if depth_name is None:
            without_depth += 1
            continue
        depth_path = _frame_file(depth_name, base, file=found, field=f"{where}.depth_file_path")
        if depth_path.suffix.lower() not in DEPTH_SUFFIXES:
            raise SceneError(
                "depth must be a 16-bit PNG in millimetres, or float32 metres in .npy or .exr",
                file=found,
                field=f"{where}.depth_file_path",
                value=depth_name,
            )
        image_name = entry.get("file_path")
        image_path = None
        if isinstance(image_name, str) and image_name.strip():
            image_path = (base / image_name).resolve()
        poses.append(matrix)
        entries.append((index, depth_path, image_path, intrinsics))
    if not entries:
        raise SceneError(
            "no frame has a `depth_file_path`: a scan needs depth (RGB-only captures need "
            "structure from motion, which genius-loci does not do)",
            file=found,
            field="frames",
        )
    if without_depth:
        notes.append(f"{without_depth} frames without depth skipped")
    if up is None:
        up = _infer_up(np.asarray(poses), file=found)
        notes.append(
            f"the scan's world is {up}-up (the cameras' mean up direction); set `up` to "
            "say otherwise"
        )
    frames = tuple(
        ScanFrame(
            index=index,
            depth_path=depth_path,
            image_path=image_path,
            camera_to_world=camera_to_world_z_up(matrix, up=up),
            intrinsics=intrinsics,
        )
        for (index, depth_path, image_path, intrinsics), matrix in zip(entries, poses, strict=True)
    )
    return Scan(path=found, frames=frames, up=up, notes=tuple(notes))


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise SceneError(f"cannot read the scan file: {error.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise SceneError("is not UTF-8 JSON text", file=path) from None


def _number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _intrinsics(data: dict, entry: dict, *, file: Path, field: str) -> CameraIntrinsics:
    """The frame's intrinsics: its own keys, else the top level's."""
    values = {}
    for key in ("fl_x", "fl_y", "cx", "cy", "w", "h"):
        value = entry.get(key, data.get(key))
        if key == "fl_y" and value is None:
            value = entry.get("fl_x", data.get("fl_x"))  # square pixels
        shown = f"{field}.{key}" if key in entry else key
        if value is None:
            raise SceneError(
                "missing; a scan needs the camera's fl_x, fl_y, cx, cy (pixels) and w, h",
                file=file,
                field=shown,
            )
        if not _number(value) or float(value) <= 0:
            raise SceneError(
                "must be a positive number of pixels", file=file, field=shown, value=value
            )
        values[key] = float(value)
    if not (values["w"].is_integer() and values["h"].is_integer()):
        raise SceneError(
            "the image size must be whole pixels",
            file=file,
            field="w" if "w" not in entry else f"{field}.w",
            value=[values["w"], values["h"]],
        )
    return CameraIntrinsics(
        values["fl_x"],
        values["fl_y"],
        values["cx"],
        values["cy"],
        int(values["w"]),
        int(values["h"]),
    )


def _pose(value: object, *, file: Path, field: str) -> np.ndarray:
    allowed = "must be a 4 x 4 camera-to-world matrix of finite numbers (rotation and metres)"
    if value is None:
        raise SceneError(f"missing; {allowed}", file=file, field=field)
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SceneError(allowed, file=file, field=field, value=str(value)[:60]) from None
    if matrix.shape == (3, 4):  # some exporters leave out the last row
        matrix = np.vstack([matrix, [0.0, 0.0, 0.0, 1.0]])
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise SceneError(allowed, file=file, field=field, value=str(value)[:60])
    rotation = matrix[:3, :3]
    # Rotation within round-off of the exporter's float32: R^T R = I, det R = +1.
    if (
        not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3)
        or np.linalg.det(rotation) < 0.0
        or not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6)
    ):
        raise SceneError(
            "is not a rigid transform (its 3 x 3 part must be a rotation, its last row 0 0 0 1)",
            file=file,
            field=field,
        )
    return matrix


def _frame_file(name: object, base: Path, *, file: Path, field: str) -> Path:
    if not isinstance(name, str) or not name.strip():
        raise SceneError(
            "must be a file path relative to transforms.json", file=file, field=field, value=name
        )
    path = (base / name).resolve()
    if not path.is_file():
        raise SceneError(f"no such file ({path})", file=file, field=field, value=name)
    return path


def _infer_up(poses: np.ndarray, *, file: Path) -> UpAxis:
    # The OpenGL camera's +y axis in the world, averaged over frames.
    mean_up = poses[:, :3, 1].mean(axis=0)
    axis = int(np.argmax(np.abs(mean_up)))
    if axis in (1, 2) and mean_up[axis] > 0.5 * np.linalg.norm(mean_up) > 0:
        return "y" if axis == 1 else "z"
    raise SceneError(
        f"cannot tell which way is up from the cameras (their mean up vector is "
        f"{np.round(mean_up, 2).tolist()}); give `up: y` (ARKit, ARCore) or `up: z`",
        file=file,
    )


def read_depth(frame: ScanFrame) -> tuple[np.ndarray, CameraIntrinsics]:
    """Read one frame's depth in metres and the intrinsics of the depth image.

    Parameters
    ----------
    frame
        From :func:`read_scan`.

    Returns
    -------
    depth : numpy.ndarray
        float32, shape (height, width), metres; 0 where there is no measurement.
    intrinsics : CameraIntrinsics
        The frame's intrinsics scaled to the depth image's size.

    Raises
    ------
    SceneError
        Naming the depth file when it cannot be decoded, is not 16-bit (PNG) or float
        (.npy, .exr), or holds negative or non-finite depth.
    """
    path = frame.depth_path
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            depth = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise SceneError(f"cannot read this depth file: {error}", file=path) from None
        if depth.ndim != 2 or depth.dtype.kind != "f":
            raise SceneError(
                "a .npy depth map must be a 2-D float array of metres",
                file=path,
                value=f"{depth.dtype}{list(depth.shape)}",
            )
        depth = depth.astype(np.float32)
    else:
        import cv2

        data = np.fromfile(path, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH) if data.size else None
        if image is None:
            hint = (
                " (OpenCV reads OpenEXR only with OPENCV_IO_ENABLE_OPENEXR=1 set before it "
                "loads; or write float32 metres as .npy)"
                if suffix == ".exr"
                else ""
            )
            raise SceneError(
                f"cannot decode this depth image ({suffix[1:].upper()}){hint}", file=path
            )
        if suffix == ".png":
            if image.dtype != np.uint16:
                raise SceneError(
                    "a PNG depth map must be 16-bit, in millimetres",
                    file=path,
                    value=str(image.dtype),
                )
            depth = image.astype(np.float32) * 1e-3
        else:
            depth = image.astype(np.float32)
    if depth.ndim != 2 or depth.size == 0:
        raise SceneError("a depth map must be one channel", file=path, value=list(depth.shape))
    bad = ~np.isfinite(depth)
    if bad.any():
        # Exporters write NaN or inf for "no measurement": the same as 0.
        depth = np.where(bad, 0.0, depth).astype(np.float32)
    if (depth < 0).any():
        raise SceneError("depth must not be negative", file=path, value=float(depth.min()))
    height, width = depth.shape
    return depth, frame.intrinsics.scaled(width, height)


@dataclass(frozen=True, eq=False)
class FusedScan:
    """What the depth frames say about the space, z up, metres.

    Attributes
    ----------
    scan
        The scan fused.
    points, normals
        float64, shape (N, 3): surface points of the TSDF (one per voxel crossing the
        surface) and their unit normals, pointing into the observed free space.
    vertices, faces
        The TSDF's triangle mesh (marching cubes): float64 (V, 3) and int64 (F, 3); empty
        unless asked for.
    free_space
        float32, shape (M, 3): points sampled along depth rays between the camera and the
        surface it saw, i.e. air the cameras looked through.
    camera_positions
        float64, shape (frames, 3).
    voxel_m
        Voxel edge used.
    notes
        Remarks (frames whose depth was empty, ...).
    """

    scan: Scan
    points: np.ndarray
    normals: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    free_space: np.ndarray
    camera_positions: np.ndarray
    voxel_m: float
    notes: tuple[str, ...] = ()


def _open3d(path: Path | None) -> ModuleType:
    """Open3D, or an error that says how to install it (it is an optional dependency)."""
    if "open3d" not in sys.modules:
        # Open3D's OpenMP threads spin while they wait; on a machine whose cores are busy
        # with other work that made fusion six times slower here. Passive waiting costs
        # nothing on an idle machine. Read by libgomp when Open3D loads it, so set first
        # (and only if the user has not chosen).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import open3d
    except ImportError:
        raise SceneError(
            "RGB-D scans need Open3D 0.19 (0.20 fails to import and fuse here): "
            "pip install 'genius-loci[scan]'",
            file=path,
        ) from None
    return open3d


def fuse_scan(
    scan: Scan,
    *,
    voxel_m: float = VOXEL_M,
    max_depth_m: float = MAX_DEPTH_M,
    ray_stride: int = 8,
    with_mesh: bool = False,
) -> FusedScan:
    """Fuse a scan's depth frames into a truncated signed distance field (Open3D).

    Parameters
    ----------
    scan
        From :func:`read_scan`.
    voxel_m
        TSDF voxel edge, m; the truncation distance is 4 voxels.
    max_depth_m
        Depth beyond this is ignored, m.
    ray_stride
        Every ``ray_stride``-th pixel in each direction gives free-space samples.
    with_mesh
        Also extract the TSDF's triangle mesh (marching cubes; about twice the time of the
        points, and the room estimate does not need it).

    Returns
    -------
    FusedScan

    Raises
    ------
    SceneError
        When a depth file cannot be read, or no frame holds a depth measurement.
    """
    o3d = _open3d(scan.path)
    integration = o3d.pipelines.integration
    volume = integration.ScalableTSDFVolume(
        voxel_length=voxel_m,
        sdf_trunc=4.0 * voxel_m,
        color_type=integration.TSDFVolumeColorType.NoColor,
    )
    empty_frames = 0
    free: list[np.ndarray] = []
    positions = np.array([f.camera_to_world[:3, 3] for f in scan.frames])
    colour_cache: dict[tuple[int, int], object] = {}
    # Fractions of the way to the surface at which free-space samples are taken; not 1,
    # which is the surface itself.
    along = np.linspace(0.1, 0.9, 5, dtype=np.float32)
    for frame in scan.frames:
        depth, intrinsics = read_depth(frame)
        depth = np.where(depth <= max_depth_m, depth, 0.0).astype(np.float32)
        if not (depth > 0).any():
            empty_frames += 1
            continue
        height, width = depth.shape
        colour = colour_cache.get((height, width))
        if colour is None:
            colour = o3d.geometry.Image(np.zeros((height, width, 3), dtype=np.uint8))
            colour_cache[(height, width)] = colour
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            colour,
            o3d.geometry.Image(depth),
            depth_scale=1.0,
            depth_trunc=max_depth_m,
            convert_rgb_to_intensity=False,
        )
        camera = o3d.camera.PinholeCameraIntrinsic(
            width, height, intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
        )
        world_to_camera = np.linalg.inv(frame.camera_to_world)
        volume.integrate(rgbd, camera, world_to_camera)
        free.append(
            _free_space_samples(depth, intrinsics, frame.camera_to_world, ray_stride, along)
        )
    if empty_frames == len(scan.frames):
        raise SceneError(
            f"no frame holds a depth measurement within {max_depth_m:g} m", file=scan.path
        )
    cloud = volume.extract_point_cloud()
    if with_mesh:
        mesh = volume.extract_triangle_mesh()
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.triangles, dtype=np.int64)
    else:
        vertices, faces = np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    notes = list(scan.notes)
    if empty_frames:
        notes.append(f"{empty_frames} frames held no depth within {max_depth_m:g} m")
    return FusedScan(
        scan=scan,
        points=np.asarray(cloud.points, dtype=np.float64),
        normals=np.asarray(cloud.normals, dtype=np.float64),
        vertices=vertices,
        faces=faces,
        free_space=np.concatenate(free) if free else np.zeros((0, 3), np.float32),
        camera_positions=positions,
        voxel_m=float(voxel_m),
        notes=tuple(notes),
    )


def _free_space_samples(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    camera_to_world: np.ndarray,
    stride: int,
    along: np.ndarray,
) -> np.ndarray:
    """Points on the way from the camera to what each sampled pixel saw, world metres."""
    rows = np.arange(stride // 2, depth.shape[0], stride)
    cols = np.arange(stride // 2, depth.shape[1], stride)
    v, u = np.meshgrid(rows, cols, indexing="ij")
    z = depth[v, u]
    seen = z > 0
    u, v, z = u[seen], v[seen], z[seen]
    camera = np.stack(
        [(u - intrinsics.cx) / intrinsics.fx * z, (v - intrinsics.cy) / intrinsics.fy * z, z],
        axis=1,
    ).astype(np.float32)
    samples = camera[None, :, :] * along[:, None, None]
    rotation = camera_to_world[:3, :3].astype(np.float32)
    origin = camera_to_world[:3, 3].astype(np.float32)
    return samples.reshape(-1, 3) @ rotation.T + origin
