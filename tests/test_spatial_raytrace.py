"""The BVH and the ray tracer: hits against brute force, direct-sound level, diffuse-field
level and decay against the statistical theory, estimator consistency, seeds, threads."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mesh_shapes import box, write_obj

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m, reverberation, shoebox_surfaces
from scene.materials import resolve_material
from scene.model import Room
from spatial.acoustic_mesh import DEFAULT_SCATTERING, acoustic_mesh, room_mesh
from spatial.bvh import build_bvh
from spatial.raytrace import trace_energy_decay


def _box_mesh(size: tuple[float, float, float], n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces, offset = [], [], 0
    for _, v, f in box(size, n=n):
        vertices.append(v)
        faces.append(f[:, ::-1] + offset)  # wound into the air
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces)


def _brute_force(corners: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> float:
    v0, e1, e2 = corners[:, 0], corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        tvec = origin - v0
        u = np.einsum("ij,ij->i", tvec, p) * inv
        q = np.cross(tvec, e1)
        v = (q @ direction) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
    ok = (u >= 0) & (u <= 1) & (v >= 0) & (u + v <= 1) & (t > 0)
    return float(t[ok].min()) if ok.any() else math.inf


def test_bvh_closest_hit_matches_brute_force_on_a_triangle_soup() -> None:
    rng = np.random.default_rng(4)
    corners = rng.uniform(0, 10, (3000, 1, 3)) + rng.normal(0, 0.4, (3000, 3, 3))
    bvh = build_bvh(corners.reshape(-1, 3), np.arange(9000).reshape(-1, 3))
    origins = rng.uniform(0, 10, (400, 3))
    directions = rng.standard_normal((400, 3))
    t, face = bvh.closest(origins, directions)
    expected = np.array(
        [_brute_force(corners, o, d) for o, d in zip(origins, directions, strict=True)]
    )
    np.testing.assert_allclose(t, expected, rtol=1e-9)
    hit = np.isfinite(expected)
    assert 50 < hit.sum() < 400
    # The face reported is one whose plane the hit point lies on.
    point = origins[hit] + t[hit, None] * directions[hit]
    normal = bvh.normals[face[hit]]
    plane = np.einsum("ij,ij->i", normal, corners[face[hit], 0])
    np.testing.assert_allclose(np.einsum("ij,ij->i", normal, point), plane, atol=1e-9)
    # A 16-bin SAH tree over 3,000 triangles stays shallow.
    assert bvh.depth < 30


def test_closed_box_leaks_no_rays() -> None:
    vertices, faces = _box_mesh((10.0, 8.0, 4.0), n=16)
    bvh = build_bvh(vertices, faces)
    rng = np.random.default_rng(0)
    origins = rng.uniform([0.5, 0.5, 0.5], [9.5, 7.5, 3.5], (20000, 3))
    _, face = bvh.closest(origins, rng.standard_normal((20000, 3)))
    assert np.all(face >= 0)


def test_bvh_rejects_bad_arrays() -> None:
    with pytest.raises(ValueError, match=r"faces.shape=\(0, 3\) must be \(F, 3\) with F >= 1"):
        build_bvh(np.zeros((3, 3)), np.zeros((0, 3), dtype=int))
    with pytest.raises(ValueError, match=r"faces index vertices 0\.\.5; there are 3"):
        build_bvh(np.zeros((3, 3)), np.array([[0, 1, 5]]))
    with pytest.raises(ValueError, match=r"vertices.shape=\(3, 2\) must be \(V, 3\)"):
        build_bvh(np.zeros((3, 2)), np.array([[0, 1, 2]]))


def test_direct_sound_carries_one_over_r_squared() -> None:
    """In an anechoic box (alpha = 1) only the direct sound reaches the receiver, with the
    image sources' energy 1 / r^2."""
    vertices, faces = _box_mesh((12.0, 12.0, 12.0))
    mesh = acoustic_mesh(vertices, faces, np.ones(7), scattering=0.0)
    source, receiver = np.array([2.0, 6.0, 6.0]), np.array([8.0, 6.0, 6.0])
    decay = trace_energy_decay(mesh, source, receiver, rays=60000, seed=1, max_time_s=0.1)
    energy = decay.histogram.sum(axis=1)
    # About 60000 R^2 / (4 r^2) = 104 rays cross the sphere: a few per cent of noise; the
    # bands differ by air absorption alone (taken at the 4 ms bin's centre: within 1%).
    expected = np.exp(-air_absorption_per_m() * 6.0) / 36.0
    np.testing.assert_allclose(energy, expected, rtol=0.08)
    np.testing.assert_allclose(energy / energy[0], expected / expected[0], rtol=0.01)
    arrival = decay.times_s[np.flatnonzero(decay.histogram[0])]
    assert arrival.min() >= 5.5 / SPEED_OF_SOUND - decay.bin_s
    assert arrival.max() <= 6.5 / SPEED_OF_SOUND


SIZE = (7.0, 5.0, 3.0)


def _diffuse_theory(alpha: float) -> tuple[float, float]:
    volume = float(np.prod(SIZE))
    acoustics = reverberation(volume, [(sum(shoebox_surfaces(SIZE).values()), (alpha,) * 7)])
    return acoustics.rt60_eyring_s[3], volume


@pytest.mark.parametrize("scattering", [0.0, 0.5, 1.0])
def test_diffuse_box_receives_the_diffuse_field_level(scattering: float) -> None:
    """A box with uniform absorption; the receiver collects by passing rays alone
    (scattering 0), by diffuse rain alone (1), or both (0.5): all three give the energy
    the statistical theory gives between 50 and 150 ms (4 pi c / V, Eyring decay)."""
    alpha = 0.15
    t60, volume = _diffuse_theory(alpha)
    vertices, faces = _box_mesh(SIZE)
    mesh = acoustic_mesh(vertices, faces, np.full(7, alpha), scattering=scattering)
    decay = trace_energy_decay(
        mesh, (1.5, 1.2, 1.1), (5.1, 3.4, 1.8), rays=4000, seed=2, max_time_s=0.2
    )
    window = (decay.times_s >= 0.05) & (decay.times_s < 0.15)
    traced = decay.histogram[3, window].sum()
    k = 13.8 / t60
    law = 4 * math.pi * SPEED_OF_SOUND / volume * (math.exp(-0.05 * k) - math.exp(-0.15 * k)) / k
    assert 10.0 * math.log10(traced / law) == pytest.approx(0.0, abs=0.7)


@pytest.mark.parametrize("scattering", [0.3, 1.0])
def test_scattering_box_decays_at_eyring(scattering: float) -> None:
    """With scattering the field is diffuse and the traced T30 is Eyring's; the level of
    the fitted decay continues the diffuse field's."""
    alpha = 0.15
    t60, volume = _diffuse_theory(alpha)
    vertices, faces = _box_mesh(SIZE)
    mesh = acoustic_mesh(vertices, faces, np.full(7, alpha), scattering=scattering)
    decay = trace_energy_decay(
        mesh, (1.5, 1.2, 1.1), (5.1, 3.4, 1.8), rays=6000, seed=2, max_time_s=1.2
    )
    t30 = decay.decay_times_s(start_s=0.05)
    assert t30[3] == pytest.approx(t60, rel=0.07)
    power = decay.power_at(0.05, t30)[3]
    law = 4.0 * math.pi * SPEED_OF_SOUND / volume * math.exp(-13.8 * 0.05 / t60)
    assert 10.0 * math.log10(power / law) == pytest.approx(0.0, abs=1.0)


def test_a_specular_box_decays_slower_than_eyring() -> None:
    """Without scattering, rays running along a pair of walls meet the others rarely: the
    late decay is slower than the diffuse theory (a known property of specular boxes)."""
    alpha = 0.15
    t60, _ = _diffuse_theory(alpha)
    vertices, faces = _box_mesh(SIZE)
    mesh = acoustic_mesh(vertices, faces, np.full(7, alpha), scattering=0.0)
    decay = trace_energy_decay(
        mesh, (1.5, 1.2, 1.1), (5.1, 3.4, 1.8), rays=4000, seed=2, max_time_s=1.5
    )
    assert decay.decay_times_s(start_s=0.05)[3] > 1.2 * t60


def test_air_absorption_shortens_the_high_bands() -> None:
    alpha = 0.05
    vertices, faces = _box_mesh(SIZE)
    mesh = acoustic_mesh(vertices, faces, np.full(7, alpha), scattering=0.7)
    kwargs = {"rays": 1500, "seed": 5, "max_time_s": 2.5}
    with_air = trace_energy_decay(mesh, (1.5, 1.2, 1.1), (5.1, 3.4, 1.8), **kwargs)
    without = trace_energy_decay(
        mesh, (1.5, 1.2, 1.1), (5.1, 3.4, 1.8), air_absorption=False, **kwargs
    )
    t_air = with_air.decay_times_s(start_s=0.05)
    t_none = without.decay_times_s(start_s=0.05)
    theory = reverberation(float(np.prod(SIZE)), [(142.0, (alpha,) * 7)]).rt60_eyring_s
    np.testing.assert_allclose(t_air, theory, rtol=0.08)
    # Without air every band decays alike; with it 8 kHz decays in well under half the time.
    assert np.ptp(t_none) < 0.02 * t_none.mean()
    assert t_air[6] < 0.5 * t_none[6]


def test_same_seed_same_result_and_threads_do_not_matter() -> None:
    import numba

    vertices, faces = _box_mesh(SIZE)
    mesh = acoustic_mesh(vertices, faces, np.full(7, 0.2), scattering=0.3)
    kwargs = {"rays": 500, "max_time_s": 0.5}
    a = trace_energy_decay(mesh, (1, 1, 1), (4, 3, 2), seed=7, **kwargs).histogram
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = trace_energy_decay(mesh, (1, 1, 1), (4, 3, 2), seed=7, **kwargs).histogram
    finally:
        numba.set_num_threads(before)
    c = trace_energy_decay(mesh, (1, 1, 1), (4, 3, 2), seed=8, **kwargs).histogram
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_trace_arguments_are_named() -> None:
    vertices, faces = _box_mesh(SIZE)
    mesh = acoustic_mesh(vertices, faces, np.full(7, 0.2))
    with pytest.raises(ValueError, match="rays=0 must be a positive integer"):
        trace_energy_decay(mesh, (1, 1, 1), (2, 2, 2), rays=0, seed=0, max_time_s=1.0)
    with pytest.raises(ValueError, match=r"max_time_s=-1\.0 must be a positive finite number"):
        trace_energy_decay(mesh, (1, 1, 1), (2, 2, 2), rays=10, seed=0, max_time_s=-1.0)
    with pytest.raises(ValueError, match=r"receiver=\(2, 2\) must be three finite coordinates"):
        trace_energy_decay(mesh, (1, 1, 1), (2, 2), rays=10, seed=0, max_time_s=1.0)
    with pytest.raises(ValueError, match=r"absorption holds 1\.5; each coefficient must be in"):
        acoustic_mesh(vertices, faces, np.full(7, 1.5))
    with pytest.raises(ValueError, match=r"scattering.shape=\(3,\) must be \(\) or \(48,\)"):
        acoustic_mesh(vertices, faces, np.full(7, 0.1), scattering=np.zeros(3))


def test_a_mesh_room_carries_its_per_face_materials(tmp_path) -> None:
    names = {"floor": "carpet_cotton", "ceiling": "rockwool_50mm_80kgm3"}
    path = write_obj(tmp_path / "room.obj", box((6.0, 5.0, 3.0), n=3, names=names))
    room = Room(kind="mesh", size=(6.0, 5.0, 3.0), mesh_path=path)
    mesh = room_mesh(room)
    assert mesh is not None and mesh.n_faces == 6 * 18
    assert room_mesh(room) is mesh  # cached per analysed mesh
    assert room_mesh(Room(kind="shoebox", size=(6.0, 5.0, 3.0))) is None
    corners = mesh.vertices[mesh.faces]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    floor = corners[:, :, 2].max(axis=1) < 1e-9
    ceiling = corners[:, :, 2].min(axis=1) > 3.0 - 1e-9
    # Wound into the air: the floor's normals point up, the ceiling's down.
    assert np.all(normal[floor, 2] > 0) and np.all(normal[ceiling, 2] < 0)
    for where, name in ((floor, "carpet_cotton"), (ceiling, "rockwool_50mm_80kgm3")):
        expected = resolve_material(name, file=None, field="test").absorption
        np.testing.assert_allclose(mesh.absorption[where], np.tile(expected, (where.sum(), 1)))
    walls = resolve_material("plasterboard", file=None, field="test").absorption
    np.testing.assert_allclose(mesh.absorption[~(floor | ceiling)][0], walls)
    assert np.all(mesh.scattering == DEFAULT_SCATTERING)
