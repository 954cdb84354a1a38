"""Image sources of rooms given as meshes: a box as a mesh is the shoebox, arrivals land on
the analytic sample, visibility in an L-shaped room matches a brute-force search, a column
blocks the direct sound, noisy scans still give their planes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from mesh_shapes import box, l_room, write_obj

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m
from scene.materials import resolve_material
from scene.model import SHOEBOX_SURFACES, Pose, Room
from spatial import SAMPLE_RATE, Hrtf, binaural_room_impulse_response
from spatial.acoustic_mesh import acoustic_mesh, room_mesh
from spatial.bands import band_masks, fft_size
from spatial.late import transition_time_s
from spatial.mesh_images import discover_paths, mesh_image_sources, mesh_planes
from spatial.render import source_images

FS = SAMPLE_RATE
SIZE = (10.0, 8.0, 4.0)
NAMES = {
    "floor": "concrete_floor",
    "ceiling": "plasterboard",
    "west": "brickwork",
    "east": "brickwork",
    "south": "glass_window",
    "north": "wood_16mm",
}

# An "omni" HRTF: a unit impulse from every direction, so that the room alone is heard.
OMNI = Hrtf(
    directions=np.array([[0.0, 0.0], [90.0, 0.0], [180.0, 0.0], [270.0, 0.0], [0, 90], [0, -90]]),
    hrirs=np.tile(np.eye(1, 8, dtype=np.float32), (6, 2, 1)).reshape(6, 2, 8),
    source="test omni",
)


# A drier version for the tests that trace a tail (RT60 about 0.5 s: a quick trace).
DRY = NAMES | {"floor": "carpet_cotton", "ceiling": "rockwool_50mm_80kgm3"}


def _rooms(tmp_path: Path, names: dict[str, str] = NAMES) -> tuple[Room, Room]:
    """The same box as a shoebox and as a mesh file whose part names give the materials."""
    path = write_obj(tmp_path / "box.obj", box(SIZE, n=4, names=names))
    materials = tuple(
        (s, resolve_material(names[s], file=None, field="test")) for s in SHOEBOX_SURFACES
    )
    shoebox = Room(kind="shoebox", size=SIZE, materials=materials)
    return shoebox, Room(kind="mesh", size=SIZE, mesh_path=path)


def test_a_box_given_as_a_mesh_has_the_shoebox_images(tmp_path: Path) -> None:
    shoebox, mesh = _rooms(tmp_path)
    rng = np.random.default_rng(5)
    for _ in range(3):
        listener, source = (tuple(rng.uniform(0.1, 0.9, 3) * SIZE) for _ in range(2))
        expected = source_images(shoebox, Pose(position=listener), source)
        found = source_images(mesh, Pose(position=listener), source)
        assert len(found) == len(expected) > 40
        np.testing.assert_allclose(found.positions, expected.positions, atol=1e-9)
        np.testing.assert_allclose(found.gains, expected.gains, rtol=1e-9)
        np.testing.assert_array_equal(found.orders, expected.orders)


def test_mesh_room_arrivals_land_on_the_analytic_samples(tmp_path: Path) -> None:
    """Direct sound and the six first-order reflections of a box given as a mesh peak at
    round(|mirror - listener| / c * fs), mirrors computed here from the box itself."""
    _, room = _rooms(tmp_path, DRY)
    source = np.array([2.5, 3.0, 1.2])
    listener = np.array([6.0, 5.5, 1.7])
    lx, ly, lz = SIZE
    mirrors = [
        source,
        [-source[0], source[1], source[2]],
        [2 * lx - source[0], source[1], source[2]],
        [source[0], -source[1], source[2]],
        [source[0], 2 * ly - source[1], source[2]],
        [source[0], source[1], -source[2]],
        [source[0], source[1], 2 * lz - source[2]],
    ]
    brir = binaural_room_impulse_response(
        room, Pose(position=tuple(listener)), tuple(source), hrtf=OMNI
    )
    energy = brir[0].astype(np.float64) ** 2
    for mirror in mirrors:
        expected = round(np.linalg.norm(np.asarray(mirror) - listener) / SPEED_OF_SOUND * FS)
        window = energy[expected - 3 : expected + 4]
        assert np.argmax(window) == 3, (mirror, np.argmax(window) - 3)


# The L-shaped room of mesh_shapes: (0,0)-(10,0)-(10,4)-(4,4)-(4,8)-(0,8), 3 m high.
L_PLAN = [(0, 0), (10, 0), (10, 4), (4, 4), (4, 8), (0, 8)]
L_HEIGHT = 3.0


def _inside_l(points: np.ndarray) -> np.ndarray:
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    eps = 1e-7
    plan = ((x > -eps) & (x < 10 + eps) & (y > -eps) & (y < 4 + eps)) | (
        (x > -eps) & (x < 4 + eps) & (y > -eps) & (y < 8 + eps)
    )
    return plan & (z > -eps) & (z < L_HEIGHT + eps)


def _l_mirrors() -> list[tuple[np.ndarray, float, object]]:
    """(normal into the room, offset, test of a point being on the face) of each face."""
    faces = [
        (np.array([0.0, 0.0, 1.0]), 0.0, lambda p: _inside_l(p[None])[0]),
        (np.array([0.0, 0.0, -1.0]), -L_HEIGHT, lambda p: _inside_l(p[None])[0]),
    ]
    for k in range(6):
        (px, py), (qx, qy) = L_PLAN[k], L_PLAN[(k + 1) % 6]
        along = np.array([qx - px, qy - py, 0.0])
        inward = np.array([-along[1], along[0], 0.0]) / np.linalg.norm(along)
        start = np.array([px, py, 0.0])

        def on_face(p, start=start, along=along):
            s = np.dot(p - start, along) / np.dot(along, along)
            return -1e-9 < s < 1 + 1e-9 and -1e-9 < p[2] < L_HEIGHT + 1e-9

        faces.append((inward, float(inward @ start), on_face))
    return faces


def _brute_force_images(source: np.ndarray, listener: np.ndarray, max_order: int) -> set:
    """Every valid image of order <= max_order, by unfolding each sequence of faces and
    checking the reflection points and every leg (sampled each centimetre) in the L."""
    faces = _l_mirrors()
    found = set()
    for order in range(max_order + 1):
        for sequence in itertools.product(range(len(faces)), repeat=order):
            if any(a == b for a, b in itertools.pairwise(sequence)):
                continue
            image = source.copy()
            for k in reversed(sequence):
                n, d, _ = faces[k]
                image = image - 2 * (n @ image - d) * n
            points, target, ok = [listener], image, True
            for k in sequence:
                n, d, on_face = faces[k]
                step = target - points[-1]
                if n @ step >= 0:
                    ok = False
                    break
                hit = points[-1] + (d - n @ points[-1]) / (n @ step) * step
                if not on_face(hit):
                    ok = False
                    break
                points.append(hit)
                target = target - 2 * (n @ target - d) * n
            if not ok:
                continue
            points.append(source)
            legs = [
                a + np.linspace(0, 1, max(2, int(np.linalg.norm(b - a) / 0.01)))[:, None] * (b - a)
                for a, b in itertools.pairwise(points)
            ]
            if all(_inside_l(leg).all() for leg in legs):
                found.add(tuple(np.round(image, 6)))
    return found


@pytest.mark.parametrize(
    ("source", "listener"),
    [((1.7, 6.6, 1.5), (8.3, 2.2, 1.2)), ((1.1, 1.4, 2.0), (3.1, 6.3, 1.0))],
)
def test_l_shaped_room_visibility_matches_a_brute_force_search(
    source: tuple[float, float, float], listener: tuple[float, float, float]
) -> None:
    parts = l_room(L_HEIGHT)
    vertices, faces, offset = [], [], 0
    for _, v, f in parts:
        vertices.append(v)
        faces.append(f[:, ::-1] + offset)  # wound into the air
        offset += len(v)
    mesh = acoustic_mesh(np.concatenate(vertices), np.concatenate(faces), np.full(7, 0.1))
    src, lis = np.asarray(source), np.asarray(listener)
    paths = discover_paths(mesh, lis, max_delay_s=0.2, max_order=2)
    images = mesh_image_sources(mesh, paths, src)
    audible = images.gains[:, 0] > 0
    found = {tuple(np.round(p, 6)) for p in images.positions[audible]}
    expected = _brute_force_images(src, lis, max_order=2)
    assert found == expected
    # The first pair cannot see each other: the inner corner blocks the direct sound,
    # which is kept (order 0) with gain zero.
    direct = images.orders == 0
    assert direct.sum() == 1
    assert (images.gains[direct].max() == 0.0) == (source == (1.7, 6.6, 1.5))


def test_a_column_blocks_the_direct_sound(tmp_path: Path) -> None:
    column = box((1.0, 1.0, 3.0), origin=(4.5, 3.5, 0.0), names=dict.fromkeys(NAMES, "column"))
    room_parts = box(SIZE, n=2, names=NAMES)
    # The column's normals point out of it, into the room's air: as the analysis finds.
    path = write_obj(tmp_path / "hall.obj", room_parts + column)
    room = Room(kind="mesh", size=SIZE, mesh_path=path)
    listener = Pose(position=(2.0, 4.0, 1.5))
    behind = source_images(room, listener, (8.0, 4.0, 1.5))
    beside = source_images(room, listener, (8.0, 6.5, 1.5))
    assert behind.gains[behind.orders == 0].max() == 0.0
    r = math.hypot(6.0, 2.5)
    expected = np.exp(-air_absorption_per_m() * r / 2) / r
    np.testing.assert_allclose(beside.gains[beside.orders == 0][0], expected, rtol=1e-12)
    # The column's faces are mirrors too: four sides, its top, and its bottom (on the
    # floor, facing down, never reached).
    mesh = room_mesh(room)
    assert mesh is not None and len(mesh_planes(mesh)) == 6 + 6
    near = source_images(room, Pose(position=(2.0, 3.8, 1.5)), (3.0, 4.2, 1.5))
    mirror = np.array([6.0, 4.2, 1.5])  # in the column's west face, x = 4.5
    hit = np.flatnonzero(np.all(np.isclose(near.positions, mirror), axis=1))
    assert hit.size == 1 and near.orders[hit[0]] == 1


def test_a_noisy_scan_of_a_box_still_gives_its_six_planes() -> None:
    rng = np.random.default_rng(0)
    vertices, faces, offset = [], [], 0
    for _, v, f in box(SIZE, n=24):
        normal_axis = np.argmin(np.ptp(v, axis=0))
        jitter = np.zeros_like(v)
        jitter[:, normal_axis] = rng.normal(0.0, 0.004, len(v))  # 4 mm of depth noise
        vertices.append(v + jitter)
        faces.append(f[:, ::-1] + offset)
        offset += len(v)
    mesh = acoustic_mesh(np.concatenate(vertices), np.concatenate(faces), np.full(7, 0.1))
    planes = mesh_planes(mesh)
    assert len(planes) == 6
    np.testing.assert_allclose(sorted(planes.areas), [32, 32, 40, 40, 80, 80], rtol=0.01)
    assert np.all(planes.face_plane >= 0)
    # First-order images of the noisy box sit within a centimetre of the exact ones.
    source, listener = np.array([2.5, 3.0, 1.2]), np.array([6.0, 5.5, 1.7])
    paths = discover_paths(mesh, listener, max_delay_s=0.05, max_order=1)
    images = mesh_image_sources(mesh, paths, source)
    assert (images.orders == 1).sum() == 6
    exact = np.array(
        [
            [-2.5, 3, 1.2],
            [17.5, 3, 1.2],
            [2.5, -3, 1.2],
            [2.5, 13, 1.2],
            [2.5, 3, -1.2],
            [2.5, 3, 6.8],
        ]
    )
    first = images.positions[images.orders == 1]
    distance = np.linalg.norm(first[:, None] - exact[None], axis=2).min(axis=0)
    assert distance.max() < 0.01


def test_mesh_room_tail_starts_where_the_diffuse_tail_does(tmp_path: Path) -> None:
    """A box lined with one material (a diffuse field): the mesh room's traced tail has the
    level of the shoebox's diffuse-field tail, which continues the image-source energy
    (test_spatial_rooms); the image sources before it are the same."""
    shoebox, mesh = _rooms(tmp_path, dict.fromkeys(NAMES, "wooden_lining"))
    t_mix = transition_time_s(mesh)
    listener = Pose(position=(6.2, 5.1, 1.6))  # one listener: one traced tail
    rng = np.random.default_rng(7)
    before, after = [], []
    for trial in range(4):
        source = tuple(rng.uniform(0.2, 0.8, 3) * np.asarray(SIZE))
        for room in (shoebox, mesh):
            brir = binaural_room_impulse_response(room, listener, source, hrtf=OMNI, seed=trial)
            n = fft_size(brir.shape[1])
            band = np.fft.irfft(np.fft.rfft(brir[0].astype(np.float64), n) * band_masks(n, FS)[3])
            before.append(np.sum(band[int(0.01 * FS) : int((t_mix - 0.006) * FS)] ** 2))
            after.append(np.sum(band[int((t_mix + 0.006) * FS) : int((t_mix + 0.1) * FS)] ** 2))
    before_db = 10 * np.log10(np.asarray(before).reshape(4, 2).sum(axis=0))
    after_db = 10 * np.log10(np.asarray(after).reshape(4, 2).sum(axis=0))
    assert before_db[1] == pytest.approx(before_db[0], abs=0.01)
    assert after_db[1] == pytest.approx(after_db[0], abs=1.0)


def test_bad_path_arguments_are_named(tmp_path: Path) -> None:
    _, room = _rooms(tmp_path)
    mesh = room_mesh(room)
    with pytest.raises(ValueError, match="max_order=0 must be an integer >= 1"):
        discover_paths(mesh, (1.0, 1.0, 1.0), max_delay_s=0.1, max_order=0)
    with pytest.raises(ValueError, match=r"max_delay_s=-1\.0 must be a finite number >= 0"):
        discover_paths(mesh, (1.0, 1.0, 1.0), max_delay_s=-1.0)
    paths = discover_paths(mesh, (1.0, 1.0, 1.0), max_delay_s=0.1)
    with pytest.raises(ValueError, match=r"source=\(1, 2\) must be three finite coordinates"):
        mesh_image_sources(mesh, paths, (1, 2))
