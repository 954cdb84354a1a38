"""RGB-D scans: rooms recovered from synthetic phone scans of known rooms, and bad scans.

Each scan is rendered by scene.synthetic_scan from a known room (Open3D ray casting, a
phone LiDAR's noise, dropouts and pose error) and written in nerfstudio's format with a
y-up world, then read back through the same code a user's scan goes through.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from loci.cli import main
from scene import SceneError, perceive
from scene.acoustics import room_acoustics
from scene.loader import load_scene, scene_from_dict
from scene.materials import resolve_material
from scene.mesh import y_up_to_z_up
from scene.mesh_analysis import analyze_mesh_file
from scene.model import SHOEBOX_SURFACES
from scene.room_estimate import analyze_room_scan, analyze_scan
from scene.scan import camera_to_world_z_up, read_depth, read_scan, world_to_z_up
from scene.synthetic_scan import (
    LidarModel,
    SyntheticRoom,
    corner_poses,
    look_at,
    room_from_plan,
    walk_poses,
    write_scan,
)

ROOT = Path(__file__).resolve().parents[1]

# The same materials for the recovered room and the true mesh: a carpeted floor (the mesh's
# groups are named floor/wall/ceiling, which name no material, so both go by orientation).
MATERIALS = {"floor": "carpet", "walls": "plasterboard", "ceiling": "acoustical_plaster_25mm"}


def _materials() -> tuple:
    given = {s: MATERIALS["walls"] for s in SHOEBOX_SURFACES[:4]}
    given |= {"floor": MATERIALS["floor"], "ceiling": MATERIALS["ceiling"]}
    return tuple((s, resolve_material(given[s], file=None, field=s)) for s in SHOEBOX_SURFACES)


def _box(lx: float, ly: float) -> np.ndarray:
    return np.array([(0, 0), (lx, 0), (lx, ly), (0, ly)], float)


def _ell(lx: float, ly: float, cut_x: float, cut_y: float) -> np.ndarray:
    """An L: the box lx x ly without its corner beyond (cut_x, cut_y)."""
    return np.array([(0, 0), (lx, 0), (lx, cut_y), (cut_x, cut_y), (cut_x, ly), (0, ly)], float)


# Three sizes of each shape (a bedroom, a living room, a classroom): plan, height, and the
# spacing of the places the person scanning turns on the spot (6 directions at each).
ROOMS = {
    "box 4x3x2.5": (_box(4, 3), 2.5, 3.5),
    "box 7x5x2.8": (_box(7, 5), 2.8, 4.5),
    "box 12x8x3.5": (_box(12, 8), 3.5, 4.5),
    "L 5x4x2.5": (_ell(5, 4, 2.5, 2), 2.5, 3.5),
    "L 9x7x2.8": (_ell(9, 7, 4, 3), 2.8, 4.5),
    "L 14x10x3.5": (_ell(14, 10, 6, 5), 3.5, 4.5),
}


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each room, its scan's analysis and the analysis of its true mesh."""
    out = {}
    for number, (name, (plan, height, spacing)) in enumerate(ROOMS.items()):
        folder = tmp_path_factory.mktemp(name.replace(" ", "_"))
        room = room_from_plan(plan, height)
        poses = walk_poses(room, spacing_m=spacing, headings=6)
        write_scan(folder / "scan", room, poses, seed=number, images=False)
        mesh = analyze_mesh_file(room.write_obj(folder / "true.obj"), materials=_materials())
        out[name] = (room, analyze_scan(folder / "scan", materials=_materials()), mesh)
    return out


@pytest.mark.parametrize("name", list(ROOMS))
def test_recovered_room_matches_the_true_one(scans: dict, name: str) -> None:
    room, scan, mesh = scans[name]
    estimate = scan.estimate
    # The bounds: 5% for floor area and height, 8% for volume.
    assert estimate.floor_area_m2 == pytest.approx(room.floor_area_m2, rel=0.05)
    assert estimate.ceiling_height_m == pytest.approx(room.height, rel=0.05)
    assert estimate.volume_m3 == pytest.approx(room.volume_m3, rel=0.08)
    # The true mesh measures itself exactly; the scan is compared with it.
    assert mesh.volume_m3 == pytest.approx(room.volume_m3, rel=1e-9)
    assert mesh.floor_area_m2 == pytest.approx(room.floor_area_m2, rel=1e-9)
    assert estimate.shape == ("box" if name.startswith("box") else "polygon")
    assert len(estimate.rectangles) == (1 if name.startswith("box") else 3)
    assert estimate.ceiling_seen and estimate.perimeter_seen > 0.95
    assert estimate.confidence > 0.9
    # RT60 of the recovered room within 10% of the true mesh's, band by band.
    for ours, true in zip(scan.acoustics.rt60_eyring_s, mesh.acoustics.rt60_eyring_s, strict=True):
        assert ours == pytest.approx(true, rel=0.10)
    print(
        f"{name}: floor {estimate.floor_area_m2 / room.floor_area_m2 - 1:+.2%}, height "
        f"{estimate.ceiling_height_m / room.height - 1:+.2%}, volume "
        f"{estimate.volume_m3 / room.volume_m3 - 1:+.2%}, RT60 mid "
        f"{scan.acoustics.rt60_mid_s / mesh.acoustics.rt60_mid_s - 1:+.2%}"
    )


def test_furniture_does_not_change_the_room(tmp_path: Path) -> None:
    room = room_from_plan(_box(6, 5), 2.7)
    furnished = (
        room.with_box((2.0, 2.0, 0.0), (4.0, 3.0, 0.75))  # a table: a higher, smaller floor
        .with_box((0.5, 4.4, 0.0), (1.5, 5.0, 1.9))  # a wardrobe: a wall in front of a wall
        .with_box((4.5, 0.0, 0.0), (6.0, 0.9, 0.8))  # a sofa in a corner
    )
    poses = walk_poses(room, spacing_m=3.5, headings=6)
    estimate = analyze_scan(write_scan(tmp_path, furnished, poses, seed=9, images=False)).estimate
    assert estimate.floor_area_m2 == pytest.approx(30.0, rel=0.05)
    assert estimate.ceiling_height_m == pytest.approx(2.7, rel=0.05)
    assert estimate.box_m[:2] == pytest.approx((6.0, 5.0), rel=0.03)


def test_partial_scan_of_a_corner_gives_a_box_with_less_confidence(tmp_path: Path) -> None:
    room = room_from_plan(_box(8, 6), 2.8)
    write_scan(tmp_path, room, corner_poses(room, corner=0, frames=9), seed=3, images=False)
    estimate = analyze_scan(tmp_path).estimate
    assert estimate.shape == "box"
    # Two walls seen, the other two sides bounded by how far the cameras saw.
    assert 2 <= estimate.walls_seen <= 3
    assert 0.3 < estimate.perimeter_seen < 0.8
    assert estimate.confidence < 0.8
    assert any("partial scan" in note for note in estimate.notes)
    # The corner seen is where it is: at the room frame's origin, the scan's (0, 0).
    corner = estimate.to_room(np.array([[0.0, 0.0, 0.0]]))[0]
    assert corner == pytest.approx((0.0, 0.0, 0.0), abs=0.05)
    assert estimate.ceiling_height_m == pytest.approx(2.8, rel=0.05)
    # Not more than the room, not less than a corner.
    lx, ly, _ = estimate.box_m
    assert 1.5 < lx <= 8.1 and 1.5 < ly <= 6.1


def test_rotated_room_is_turned_into_its_own_frame(tmp_path: Path) -> None:
    # A 6 x 4 m room turned by 30 degrees and moved away from the scan's origin, as an AR
    # session's world would have it.
    angle = math.radians(30.0)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    plan = _box(6, 4) @ turn.T + (2.0, -3.0)
    room = room_from_plan(plan, 2.6)
    write_scan(tmp_path, room, walk_poses(room, spacing_m=10.0, headings=8), seed=4, images=False)
    estimate = analyze_scan(tmp_path).estimate
    assert estimate.floor_area_m2 == pytest.approx(24.0, rel=0.05)
    assert sorted(estimate.box_m[:2]) == pytest.approx([4.0, 6.0], rel=0.03)
    # Walls every 90 degrees: the yaw is 30 degrees modulo 90.
    assert (estimate.yaw_deg - 30.0 + 45.0) % 90.0 - 45.0 == pytest.approx(0.0, abs=1.0)
    # The room's corners land on the box's corners.
    corners = estimate.to_room(np.c_[plan, np.zeros(4)])
    low = np.array([0, 0, 0])
    high = np.array([*estimate.box_m[:2], 0])
    for corner in corners:
        nearest = np.min(
            [
                np.linalg.norm(corner - (c0, c1, 0))
                for c0 in (low[0], high[0])
                for c1 in (low[1], high[1])
            ]
        )
        assert nearest < 0.1


def test_y_up_and_z_up_worlds_and_depth_formats_agree(tmp_path: Path) -> None:
    room = room_from_plan(_box(5, 4), 2.7)
    poses = walk_poses(room, spacing_m=10.0, headings=8)
    y_up = analyze_scan(write_scan(tmp_path / "y", room, poses, seed=5, images=False)).estimate
    # The same scan with float32 metres in .npy, and its poses re-expressed in a z-up world.
    path = write_scan(tmp_path / "z", room, poses, seed=5, images=False, depth_format="npy")
    data = json.loads(path.read_text())
    to_z = np.eye(4)
    to_z[:3, :3] = world_to_z_up("y")
    for frame in data["frames"]:
        frame["transform_matrix"] = (to_z @ np.asarray(frame["transform_matrix"])).tolist()
    path.write_text(json.dumps(data))
    assert read_scan(path).up == "z"  # inferred from the cameras
    z_up = analyze_scan(path).estimate
    # Millimetre PNGs and float .npy differ by the rounding to a millimetre only.
    assert z_up.floor_area_m2 == pytest.approx(y_up.floor_area_m2, rel=0.01)
    assert z_up.ceiling_height_m == pytest.approx(y_up.ceiling_height_m, rel=0.01)
    depth, intrinsics = read_depth(read_scan(path).frames[0])
    assert depth.dtype == np.float32 and (intrinsics.width, intrinsics.height) == (256, 192)


def test_pose_conversion_is_the_mesh_conversion() -> None:
    # A y-up point seen by a camera at a y-up pose lands where scene.mesh.y_up_to_z_up puts it.
    rng = np.random.default_rng(0)
    point_y_up = rng.normal(size=3)
    pose_gl = np.eye(4)
    pose_gl[:3, 3] = (1.0, 1.5, -2.0)  # looking down -z of a y-up world
    camera_point_gl = np.linalg.inv(pose_gl) @ np.r_[point_y_up, 1.0]
    pose_z_up = camera_to_world_z_up(pose_gl, up="y")
    # OpenCV axes: x right, y down, z forward = (x, -y, -z) of OpenGL's.
    camera_point_cv = camera_point_gl * np.array([1, -1, -1, 1])
    assert (pose_z_up @ camera_point_cv)[:3] == pytest.approx(y_up_to_z_up(point_y_up[None])[0])
    # The camera looks down -z in the y-up world: forward is +y after the turn.
    assert pose_z_up[:3, 2] == pytest.approx((0.0, 1.0, 0.0))


def test_tilted_world_is_levelled(tmp_path: Path) -> None:
    room = room_from_plan(_box(5, 4), 2.7)
    tilt = np.eye(4)
    c, s = math.cos(math.radians(4.0)), math.sin(math.radians(4.0))
    tilt[:3, :3] = [[1, 0, 0], [0, c, -s], [0, s, c]]
    poses = [tilt @ p for p in walk_poses(room, spacing_m=10.0, headings=8)]
    tilted = SyntheticRoom(
        room.vertices @ tilt[:3, :3].T, room.faces, room.surface, room.plan, room.height
    )
    write_scan(tmp_path, tilted, poses, seed=6, images=False)
    estimate = analyze_scan(tmp_path, up="y").estimate
    assert estimate.tilt_deg == pytest.approx(4.0, abs=0.5)
    assert any("levelled" in note for note in estimate.notes)
    assert estimate.floor_area_m2 == pytest.approx(20.0, rel=0.05)
    assert estimate.ceiling_height_m == pytest.approx(2.7, rel=0.03)


def _tiny_scan(folder: Path, *, frames: int = 2) -> Path:
    room = room_from_plan(_box(4, 3), 2.5)
    poses = [look_at((2, 1.5, 1.4), (3, 1.5 + k * 0.2, 1.4)) for k in range(frames)]
    return write_scan(folder, room, poses, seed=0, images=False)


def _edit(path: Path, change) -> Path:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def test_bad_scans_name_file_field_and_value(tmp_path: Path) -> None:
    path = _tiny_scan(tmp_path / "a")
    _edit(path, lambda d: d.pop("fl_x"))
    with pytest.raises(SceneError, match=r"transforms\.json: fl_x: missing; a scan needs"):
        read_scan(path)

    path = _tiny_scan(tmp_path / "b")
    _edit(path, lambda d: d["frames"][1].update(transform_matrix=[[2, 0, 0, 0]] * 4))
    with pytest.raises(SceneError, match=r"frames\[1\]\.transform_matrix: .*not a rigid transform"):
        read_scan(path)

    path = _tiny_scan(tmp_path / "c")
    _edit(path, lambda d: d["frames"][0].update(transform_matrix="identity"))
    with pytest.raises(SceneError, match=r"frames\[0\]\.transform_matrix: got 'identity'"):
        read_scan(path)

    path = _tiny_scan(tmp_path / "d")
    _edit(path, lambda d: d["frames"][1].update(depth_file_path="depth/missing.png"))
    with pytest.raises(SceneError, match=r"frames\[1\]\.depth_file_path: got 'depth/missing\.png'"):
        read_scan(path)

    path = _tiny_scan(tmp_path / "e")
    _edit(path, lambda d: [f.pop("depth_file_path") for f in d["frames"]])
    with pytest.raises(SceneError, match=r"frames: no frame has a `depth_file_path`"):
        read_scan(path)

    path = _tiny_scan(tmp_path / "f")
    _edit(path, lambda d: d.update(frames=[]))
    with pytest.raises(SceneError, match=r"frames: missing or empty"):
        read_scan(path)

    path = _tiny_scan(tmp_path / "g")
    _edit(path, lambda d: d.update(w=-256))
    with pytest.raises(SceneError, match=r"w: got -256; must be a positive number of pixels"):
        read_scan(path)

    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "transforms.json").write_text("{frames: [")
    with pytest.raises(SceneError, match=r"transforms\.json: line 1, column 2: JSON syntax error"):
        read_scan(tmp_path / "h")

    with pytest.raises(SceneError, match=r"a scan is a folder holding transforms\.json"):
        read_scan(tmp_path)  # a folder without one
    with pytest.raises(SceneError, match=r"no such scan file or folder"):
        read_scan(tmp_path / "nowhere")


def test_bad_depth_and_empty_scans(tmp_path: Path) -> None:
    path = _tiny_scan(tmp_path / "a")
    depth = path.parent / "depth" / "0000.png"
    cv2.imwrite(str(depth), np.zeros((192, 256), np.uint8) + 100)  # 8-bit: not millimetres
    with pytest.raises(SceneError, match=r"0000\.png: got 'uint8'; a PNG depth map must be 16-bit"):
        read_depth(read_scan(path).frames[0])

    path = _tiny_scan(tmp_path / "b")
    for depth in (path.parent / "depth").iterdir():
        cv2.imwrite(str(depth), np.zeros((192, 256), np.uint16))
    with pytest.raises(SceneError, match=r"no frame holds a depth measurement within 5 m"):
        analyze_scan(path)

    # Cameras lying on their sides: no axis is up.
    path = _tiny_scan(tmp_path / "c")
    side = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)
    _edit(path, lambda d: [f.update(transform_matrix=side.tolist()) for f in d["frames"]])
    with pytest.raises(SceneError, match=r"cannot tell which way is up .* give `up: y`"):
        read_scan(path)
    assert read_scan(path, up="y").up == "y"


def _scan_scene(folder: Path, **room: object) -> dict:
    return {
        "duration": 5,
        "room": {"kind": "scan", "path": str(folder), **room},
        "listener": {"position": [2.0, 1.5, 1.6], "yaw": 30},
    }


def test_scene_file_with_a_scan_room(tmp_path: Path) -> None:
    # The room turned by 90 degrees: x from 1 to 5 m, y from -4 to 1 m in the scan's world.
    room = room_from_plan(_box(5, 4) @ np.array([[0, 1], [-1, 0]]).T + (1.0, 1.0), 2.7)
    write_scan(tmp_path / "scan", room, walk_poses(room, spacing_m=10.0, headings=8), seed=8)
    data = _scan_scene(tmp_path / "scan", materials={"floor": "carpet"})
    data["listener"]["position"] = [3.0, -1.5, 1.6]  # in the scan's coordinates
    scene = scene_from_dict(data, base_dir=tmp_path)
    assert scene.room.kind == "shoebox" and scene.room.scan_path.name == "transforms.json"
    assert sorted(scene.room.size[:2]) == pytest.approx([4.0, 5.0], rel=0.03)
    # The listener is moved into the room's own frame (walls along its axes), yaw too.
    estimate = analyze_room_scan(scene.room).estimate  # the loader's (cached) analysis
    expected = estimate.to_room(np.array([[3.0, -1.5, 1.6]]))[0]
    assert scene.listener.position == pytest.approx(tuple(expected))
    assert scene.listener.yaw_deg == pytest.approx(30.0 - estimate.yaw_deg)
    # The room frame's origin is a corner of the room, so the listener is 2 m from two
    # walls and 2.5 m from the other two, whichever way the frame turned.
    x, y, z = scene.listener.position
    lx, ly, _ = scene.room.size
    assert sorted([min(x, lx - x), min(y, ly - y)]) == pytest.approx([2.0, 2.5], abs=0.06)
    assert z == pytest.approx(1.6, abs=0.03)

    environment = perceive(scene)
    assert environment.kind.value == "scan" and environment.indoor.value is True
    assert environment.floor_area_m2.value == pytest.approx(20.0, rel=0.05)
    assert dict(environment.surfaces_m2.value)["carpet"] == pytest.approx(20.0, rel=0.05)
    # The late tail the renderer uses is the reverberation E reports.
    assert room_acoustics(scene.room).rt60_eyring_s == environment.rt60_eyring_s.value
    assert any("the room's frame" in note for note in environment.notes)


def test_scan_room_errors(tmp_path: Path) -> None:
    folder = tmp_path / "scan"
    room = room_from_plan(_box(4, 3), 2.5)
    write_scan(folder, room, walk_poses(room, spacing_m=10.0, headings=6), seed=2, images=False)
    with pytest.raises(SceneError, match=r"room\.size: .*a scan measures its room"):
        scene_from_dict(_scan_scene(folder, size=[4, 3, 2.5]), base_dir=tmp_path)
    with pytest.raises(SceneError, match=r"room\.path: missing; a scan room needs `path`"):
        scene_from_dict(
            {"duration": 5, "room": {"kind": "scan"}, "listener": {"position": [1, 1, 1]}},
            base_dir=tmp_path,
        )
    with pytest.raises(SceneError, match=r"room\.path: got 'nowhere'; no such file or folder"):
        data = _scan_scene(folder)
        data["room"]["path"] = "nowhere"
        scene_from_dict(data, base_dir=tmp_path)
    data = _scan_scene(folder)
    data["listener"]["position"] = [9.0, 1.5, 1.6]
    with pytest.raises(
        SceneError,
        match=r"listener\.position: got \[9, 1.5, 1.6\]; must be inside the scanned room",
    ):
        scene_from_dict(data, base_dir=tmp_path)


def _make_scan_script():
    spec = importlib.util.spec_from_file_location(
        "make_scan", ROOT / "assets" / "scans" / "make_scan.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_scan_is_what_the_script_renders(tmp_path: Path) -> None:
    script = _make_scan_script()
    fresh = script.write(tmp_path / "room")
    shipped = ROOT / "assets" / "scans" / "room" / "transforms.json"
    assert json.loads(fresh.read_text()) == json.loads(shipped.read_text())
    for a, b in zip(read_scan(fresh).frames, read_scan(shipped).frames, strict=True):
        ours, theirs = read_depth(a)[0], read_depth(b)[0]
        # Ray casting may differ in the last float bits between machines: a millimetre.
        assert np.mean(np.abs(ours - theirs) <= 0.0011) > 0.999
    size = sum(p.stat().st_size for p in shipped.parent.rglob("*") if p.is_file())
    assert size < 450_000


def test_example_scene_and_loci_analyze(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = _make_scan_script()
    scene = load_scene(ROOT / "examples" / "scan.yaml")
    environment = perceive(scene)
    true_area = float(np.prod(np.ptp(script.PLAN, axis=0)))
    assert environment.floor_area_m2.value == pytest.approx(true_area, rel=0.05)
    assert environment.ceiling_height_m.value == pytest.approx(script.HEIGHT, rel=0.05)
    plot = tmp_path / "top.png"
    assert main(["analyze", str(ROOT / "assets" / "scans" / "room"), "--plot", str(plot)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"]["value"] == "scan"
    assert report["volume_m3"]["value"] == pytest.approx(true_area * script.HEIGHT, rel=0.08)
    assert len(report["rt60_eyring_s"]["value"]) == 7
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A scan whose depth is missing: one line, status 2.
    broken = tmp_path / "broken"
    _tiny_scan(broken)
    (broken / "depth" / "0001.png").unlink()
    assert main(["analyze", str(broken)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "frames[1].depth_file_path" in error


def test_lidar_noise_grows_with_range() -> None:
    from scene.synthetic_scan import render_frames

    room = room_from_plan(_box(12, 4), 3.0)
    lidar = LidarModel(dropout=0.0, pose_sigma_m=0.0, pose_sigma_deg=0.0)
    errors = {}
    for distance in (1.0, 4.0):
        pose = look_at((12.0 - distance, 2.0, 1.5), (12.0, 2.0, 1.5))
        depths, _, _ = render_frames(room, [pose] * 6, lidar=lidar, seed=1, colour=False)
        centre = np.stack([d[86:106, 118:138] for d in depths])
        errors[distance] = float(np.std(centre - distance))
    # sigma = 4 mm + 6 mm per m: 1 cm at 1 m, 2.8 cm at 4 m (a few bumps, so loosely).
    assert 0.005 < errors[1.0] < 0.02 and 0.015 < errors[4.0] < 0.05
    assert errors[4.0] > 1.8 * errors[1.0]


def test_without_open3d_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from scene.scan import fuse_scan

    scan = read_scan(_tiny_scan(tmp_path))
    monkeypatch.setitem(sys.modules, "open3d", None)  # as if it were not installed
    with pytest.raises(SceneError, match=r"RGB-D scans need Open3D 0\.19 .*genius-loci\[scan\]"):
        fuse_scan(scan)


def test_intrinsics_per_frame_and_of_a_larger_colour_image(tmp_path: Path) -> None:
    path = _tiny_scan(tmp_path / "a")
    reference = read_depth(read_scan(path).frames[0])[1]

    def photo_size(data: dict) -> None:
        # The intrinsics of a 1024 x 768 photo beside the 256 x 192 depth, as phones give.
        for key in ("fl_x", "fl_y", "cx", "cy", "w", "h"):
            data[key] = data[key] * 4

    _edit(path, photo_size)
    frame = read_scan(path).frames[0]
    assert (frame.intrinsics.width, frame.intrinsics.height) == (1024, 768)
    scaled = read_depth(frame)[1]
    assert (scaled.width, scaled.height) == (256, 192)
    assert (scaled.fx, scaled.cx) == pytest.approx((reference.fx, reference.cx))

    # A frame's own intrinsics win over the top level's.
    _edit(path, lambda d: d["frames"][1].update(fl_x=400.0, fl_y=400.0))
    first, second = read_scan(path).frames
    assert (first.intrinsics.fx, second.intrinsics.fx) == (reference.fx * 4, 400.0)
