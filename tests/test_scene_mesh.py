"""Mesh perception: exact geometry on closed meshes, units and axes, broken meshes, materials."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from mesh_shapes import box, l_room, quad, transform, write_glb, write_obj

from scene import SceneError, perceive
from scene.acoustics import room_acoustics
from scene.loader import scene_from_dict
from scene.materials import material_from_name, resolve_material
from scene.mesh_analysis import (
    CONFIDENCE_BY_ORIENTATION,
    CONFIDENCE_BY_WORD,
    analyze_mesh_file,
)
from scene.model import SHOEBOX_SURFACES, Room
from scene.perception import environment_from_mesh

ROOT = Path(__file__).resolve().parents[1]
# Sums over thousands of triangles: far below 1e-6 relative, as the issue asks.
EXACT = 1e-9


def _analyze(tmp_path: Path, parts, name: str = "room.obj", **options):
    return analyze_mesh_file(write_obj(tmp_path / name, parts), **options)


def test_box_volume_and_areas_are_exact(tmp_path: Path) -> None:
    # Each face split in 5 x 5 cells with its own vertices: the reader must weld them.
    analysis = _analyze(tmp_path, box((10, 8, 4), n=5))
    assert analysis.volume_m3 == pytest.approx(320, rel=EXACT)
    assert analysis.volume_method == "closed mesh"
    assert analysis.surface_m2 == pytest.approx(2 * (80 + 40 + 32), rel=EXACT)
    assert analysis.floor_area_m2 == pytest.approx(80, rel=EXACT)
    assert analysis.ceiling_height_m == pytest.approx(4, rel=EXACT)
    assert analysis.bbox_size == (10, 8, 4) and analysis.bbox_origin == (0, 0, 0)
    assert analysis.enclosure == "enclosed" and analysis.openness == 0
    assert analysis.geometry_confidence == 1.0
    assert analysis.notes == ()
    # Each face is its own surface class, by the direction it faces the air.
    counts = np.bincount(analysis.face_class, minlength=6)
    assert counts.tolist() == [50] * 6
    assert analysis.triangles == 300


def test_l_shaped_room_is_exact(tmp_path: Path) -> None:
    analysis = _analyze(tmp_path, l_room(height=3.0))
    assert analysis.volume_m3 == pytest.approx(56 * 3, rel=EXACT)
    assert analysis.surface_m2 == pytest.approx(2 * 56 + 36 * 3, rel=EXACT)
    assert analysis.floor_area_m2 == pytest.approx(56, rel=EXACT)
    assert analysis.ceiling_height_m == pytest.approx(3, rel=EXACT)


def test_oriented_box_of_a_rotated_room(tmp_path: Path) -> None:
    angle = np.radians(30)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    analysis = _analyze(tmp_path, transform(box((12, 5, 3)), lambda v: v @ rotation.T))
    length, width, height, yaw = analysis.oriented_box
    assert (length, width, height) == pytest.approx((12, 5, 3), rel=1e-9)
    assert yaw == pytest.approx(30, abs=1e-6)
    assert analysis.volume_m3 == pytest.approx(180, rel=EXACT)


def _close(a: object, b: object) -> bool:
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str | bool) or a is None:
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _same_environment(a, b) -> None:
    """Every feature's value and confidence agree (sources name different files)."""
    first, second = a.to_dict(), b.to_dict()
    first.pop("notes", None), second.pop("notes", None)
    assert first.keys() == second.keys()
    for name, feature in first.items():
        assert _close(feature["value"], second[name]["value"]), name
        assert feature["confidence"] == second[name]["confidence"], name


def _named_box():
    names = {"floor": "carpet", "ceiling": "plaster", "west": "glass_window"}
    return box((10, 8, 4), n=2, names=names)


def test_millimetres_give_the_same_environment_as_metres(tmp_path: Path) -> None:
    metres = environment_from_mesh(write_obj(tmp_path / "m.obj", _named_box()))
    mm = environment_from_mesh(
        write_obj(tmp_path / "mm.obj", transform(_named_box(), lambda v: v * 1000))
    )
    _same_environment(metres, mm)
    assert mm.volume_m3.value == pytest.approx(320, rel=EXACT)
    assert any("read as millimetres" in note for note in mm.notes)
    assert not any("millimetres" in note for note in metres.notes)


def test_y_up_gltf_gives_the_same_environment_as_z_up_obj(tmp_path: Path) -> None:
    obj = environment_from_mesh(write_obj(tmp_path / "room.obj", _named_box()))
    glb = environment_from_mesh(write_glb(tmp_path / "room.glb", _named_box()))
    _same_environment(obj, glb)
    assert glb.bounding_box_m.value == pytest.approx((10, 8, 4))
    assert any("y-up" in note for note in glb.notes)
    # The same file read as z-up (up: z forced) is lying on its side: 10 x 4 x 8.
    from scene.mesh_analysis import analyze_mesh_file as analyze

    assert analyze(tmp_path / "room.glb", up="z").bbox_size == pytest.approx((10, 4, 8))


def test_hole_is_capped_and_reported(tmp_path: Path) -> None:
    parts = box((10, 8, 4), n=2)
    name, vertices, faces = parts[2]  # south wall: drop one cell (two triangles)
    parts[2] = (name, vertices, faces[[0, 1, 2, 4, 5, 6]])
    analysis = _analyze(tmp_path, parts)
    # A planar hole's cap restores the wall exactly: the volume is still exact.
    assert analysis.volume_m3 == pytest.approx(320, rel=EXACT)
    assert analysis.volume_method == "holes capped"
    assert analysis.opening_area_m2 == pytest.approx(10, rel=EXACT)  # a 5 x 2 m cell
    assert analysis.openness == pytest.approx(10 / 304, rel=EXACT)
    assert analysis.enclosure == "enclosed"
    assert any("1 holes or openings, 10 m^2" in note for note in analysis.notes)
    assert analysis.geometry_confidence < 1.0


def test_flipped_normals_are_turned(tmp_path: Path) -> None:
    parts = box((10, 8, 4), n=2)
    name, vertices, faces = parts[4]  # west wall: three triangles wound the wrong way
    faces = faces.copy()
    faces[:3] = faces[:3, ::-1]
    parts[4] = (name, vertices, faces)
    analysis = _analyze(tmp_path, parts)
    assert analysis.volume_m3 == pytest.approx(320, rel=EXACT)
    assert any("3 triangles faced the other way" in note for note in analysis.notes)
    assert np.bincount(analysis.face_class, minlength=6).tolist() == [8] * 6


def test_inward_facing_room_is_not_a_repair(tmp_path: Path) -> None:
    # Rooms are often modelled with normals facing in: a convention, not a fault.
    parts = [(n, v, f[:, ::-1]) for n, v, f in box((10, 8, 4))]
    analysis = _analyze(tmp_path, parts)
    assert analysis.volume_m3 == pytest.approx(320, rel=EXACT) and analysis.notes == ()


def test_duplicate_triangles_are_dropped(tmp_path: Path) -> None:
    parts = box((10, 8, 4))
    parts.append(("floor_again", *box((10, 8, 4))[0][1:]))  # the floor twice
    analysis = _analyze(tmp_path, parts)
    assert analysis.surface_m2 == pytest.approx(304, rel=EXACT)
    assert any("2 duplicate triangles dropped" in note for note in analysis.notes)


def test_degenerate_triangles_are_dropped(tmp_path: Path) -> None:
    parts = box((10, 8, 4))
    # A sliver on one line and a triangle that repeats a vertex.
    line = np.array([[0, 0, 0], [5, 0, 0], [10, 0, 0]], float)
    parts.append(("sliver", line, np.array([[0, 1, 2], [0, 0, 1]])))
    analysis = _analyze(tmp_path, parts)
    assert analysis.volume_m3 == pytest.approx(320, rel=EXACT)
    assert any("2 degenerate triangles" in note for note in analysis.notes)


def test_non_finite_vertices_are_dropped(tmp_path: Path) -> None:
    import trimesh

    box_mesh = trimesh.creation.box((10, 8, 4))
    junk = np.array([[np.nan, 0, 0], [1, 0, 0], [0, 1, 0]])
    vertices = np.r_[box_mesh.vertices, junk]
    faces = np.r_[box_mesh.faces, [[8, 9, 10]]]
    trimesh.Trimesh(vertices, faces, process=False).export(tmp_path / "room.ply")
    analysis = analyze_mesh_file(tmp_path / "room.ply")
    assert analysis.volume_m3 == pytest.approx(320, rel=EXACT)
    assert any("1 triangles with coordinates that are not numbers" in n for n in analysis.notes)
    # In an OBJ the line is named instead: a text file can be fixed by hand.
    (tmp_path / "nan.obj").write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\n")
    with pytest.raises(SceneError, match=r"line 1 of the mesh is not a vertex"):
        analyze_mesh_file(tmp_path / "nan.obj")


def test_non_manifold_edges_are_reported(tmp_path: Path) -> None:
    parts = box((10, 8, 4), n=2)
    # A partition hanging from the ceiling along y = 4: its top edges are the ceiling's.
    parts.append(quad((0, 4, 2), (10, 0, 0), (0, 0, 2), name="partition", n=2))
    analysis = _analyze(tmp_path, parts)
    assert any("non-manifold" in note for note in analysis.notes)


def test_all_degenerate_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nv 3 0 0\nf 1 2 3\nf 2 3 4\n")
    with pytest.raises(SceneError, match=r"flat\.obj.*every triangle of the mesh has zero area"):
        analyze_mesh_file(tmp_path / "flat.obj")


def test_points_only_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "points.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n")
    with pytest.raises(SceneError, match=r"points\.obj.*holds no triangles"):
        analyze_mesh_file(tmp_path / "points.obj")


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "junk.ply").write_bytes(b"ply\nformat nonsense\n\x00\x01")
    with pytest.raises(SceneError, match=r"junk\.ply.*cannot read the mesh as PLY"):
        analyze_mesh_file(tmp_path / "junk.ply")
    with pytest.raises(SceneError, match=r"mesh files must be \.obj, \.ply, \.stl, \.gltf, \.glb"):
        analyze_mesh_file(tmp_path / "room.fbx")


def test_ply_and_stl_are_read(tmp_path: Path) -> None:
    import trimesh

    mesh = trimesh.creation.box((10, 8, 4))
    for suffix in ("ply", "stl"):
        path = tmp_path / f"room.{suffix}"
        mesh.export(path)
        analysis = analyze_mesh_file(path)
        assert analysis.volume_m3 == pytest.approx(320, rel=EXACT), suffix
        assert analysis.bbox_origin == (-5, -4, -2)


@pytest.mark.parametrize(
    ("name", "material"),
    [
        ("Marble_Floor_01", "marble_floor"),
        ("大理石地面", "marble_floor"),
        ("carpet", "carpet"),
        ("地毯", "carpet_tufted_9m"),
        ("stainedGlass", "glass_window"),
        ("玻璃幕墙", "glass_window"),
        ("Concrete_Wall", "unpainted_concrete"),
        ("混凝土", "unpainted_concrete"),
        ("oakPanel", "wood_16mm"),
        ("木饰面", "wood_16mm"),
        ("velvet_curtain", "curtains_cotton_0.5"),
        ("窗帘", "curtains_cotton_0.5"),
        ("ceiling_plaster", "plaster"),
        ("石膏顶棚", "plaster"),
        ("red_brick", "brickwork"),
        ("砖墙", "brickwork"),
        ("stone_wall", "limestone_wall"),
        ("石墙", "limestone_wall"),
        ("floor_tiles", "ceramic_tiles"),
        ("瓷砖", "ceramic_tiles"),
    ],
)
def test_material_from_names_in_english_and_chinese(name: str, material: str) -> None:
    found = material_from_name(name)
    assert found is not None and found[0].name == material


def test_names_without_a_material_word_match_nothing() -> None:
    assert material_from_name("Object_12") is None
    assert material_from_name("textile") is None  # not "tile"
    assert material_from_name("") is None


def test_per_face_materials_and_orientation_fallback(tmp_path: Path) -> None:
    names = {"floor": "地毯", "ceiling": "Mesh.003", "west": "Glass_Pane"}
    given = (("ceiling", resolve_material("wooden_lining", file=None, field="x")),)
    analysis = _analyze(tmp_path, box((10, 8, 4), names=names), materials=given)
    by_name = {g.material.name: g for g in analysis.surfaces}
    assert by_name["carpet_tufted_9m"].area_m2 == pytest.approx(80)
    assert by_name["carpet_tufted_9m"].assigned_by == "names: '地毯'"
    assert by_name["carpet_tufted_9m"].confidence == CONFIDENCE_BY_WORD
    assert by_name["glass_window"].area_m2 == pytest.approx(32)
    # "Mesh.003" names nothing: the ceiling falls back on the scene's ceiling material ...
    assert by_name["wooden_lining"].area_m2 == pytest.approx(80)
    assert by_name["wooden_lining"].assigned_by == "orientation: ceiling"
    assert by_name["wooden_lining"].confidence == CONFIDENCE_BY_ORIENTATION
    # ... and the unnamed walls ("south" etc. are no materials) on the default.
    assert by_name["plasterboard"].area_m2 == pytest.approx(32 + 2 * 40)
    assert by_name["plasterboard"].assigned_by == "orientation: east, south, north"


def test_missing_material_library_keeps_usemtl_names(tmp_path: Path) -> None:
    path = write_obj(tmp_path / "room.obj", _named_box())
    path.with_suffix(".mtl").unlink()
    analysis = analyze_mesh_file(path)
    assert {g.material.name for g in analysis.surfaces} >= {"carpet", "plaster", "glass_window"}
    assert any("room.mtl is missing" in note for note in analysis.notes)
    # No mtllib line at all: the names are kept too.
    write_obj(tmp_path / "bare.obj", _named_box(), mtl=False)
    bare = analyze_mesh_file(tmp_path / "bare.obj")
    assert {g.material.name for g in bare.surfaces} >= {"carpet", "plaster", "glass_window"}


def test_rt60_of_a_box_mesh_equals_the_shoebox(tmp_path: Path) -> None:
    chosen = {
        "floor": "marble_floor",
        "ceiling": "acoustical_plaster_25mm",
        "west": "glass_window",
        "east": "wooden_lining",
        "south": "brickwork",
        "north": "curtains_velvet",
    }
    analysis = _analyze(tmp_path, box((12, 7, 5), n=3, names=chosen))
    shoebox = Room(
        kind="shoebox",
        size=(12, 7, 5),
        materials=tuple(
            (s, resolve_material(chosen[s], file=None, field=s)) for s in SHOEBOX_SURFACES
        ),
    )
    expected = room_acoustics(shoebox)
    got = analysis.acoustics
    assert got.volume_m3 == pytest.approx(expected.volume_m3, rel=EXACT)
    assert got.surface_m2 == pytest.approx(expected.surface_m2, rel=EXACT)
    for ours, theirs in (
        (got.rt60_sabine_s, expected.rt60_sabine_s),
        (got.rt60_eyring_s, expected.rt60_eyring_s),
        (got.mean_absorption, expected.mean_absorption),
    ):
        assert ours == pytest.approx(theirs, rel=EXACT)
    assert analysis.acoustics_confidence == 1.0  # database names, closed mesh


def test_courtyard_without_ceiling_is_semi_open(tmp_path: Path) -> None:
    parts = [p for p in box((40, 30, 12)) if p[0] != "ceiling"]
    analysis = _analyze(tmp_path, parts)
    assert analysis.enclosure == "semi_open"
    assert analysis.ceiling_height_m is None and analysis.ceiling_cover == 0
    assert analysis.opening_area_m2 == pytest.approx(1200, rel=EXACT)
    assert analysis.volume_m3 == pytest.approx(40 * 30 * 12, rel=EXACT)
    assert any("no ceiling" in note for note in analysis.notes)
    # The open sky absorbs everything: far shorter than the closed box's reverberation.
    closed = _analyze(tmp_path, box((40, 30, 12)), name="closed.obj")
    assert analysis.acoustics.rt60_mid_s < 0.5 * closed.acoustics.rt60_mid_s
    assert analysis.acoustics_confidence < closed.acoustics_confidence


def test_ground_alone_is_open(tmp_path: Path) -> None:
    analysis = _analyze(tmp_path, [quad((0, 0, 0), (50, 0, 0), (0, 40, 0), name="grass", n=4)])
    assert analysis.enclosure == "open" and analysis.volume_m3 is None
    assert analysis.acoustics is None
    assert analysis.floor_area_m2 == pytest.approx(2000, rel=EXACT)  # facing up: a ground
    environment = environment_from_mesh(tmp_path / "room.obj")
    assert environment.indoor.value is False and environment.rt60_mid_s is None


def test_column_inside_the_room_takes_its_volume(tmp_path: Path) -> None:
    parts = box((10, 8, 4)) + [
        (f"column_{n}", v, f) for n, v, f in box((1, 1, 4), origin=(4, 3, 0))
    ]
    # The column stands on the floor and touches the ceiling, but shares no vertices:
    # it is a separate closed object.
    analysis = _analyze(tmp_path, parts)
    assert analysis.volume_m3 == pytest.approx(320 - 4, rel=EXACT)
    assert any("1 closed objects inside the room" in note for note in analysis.notes)
    # Its sides face the air: walls, not a second room's inside.
    column = np.arange(analysis.triangles) >= 12
    assert set(analysis.face_class[column].tolist()) == set(range(6))


def test_perceive_and_render_use_the_mesh(tmp_path: Path) -> None:
    write_obj(tmp_path / "hall.obj", l_room(height=3.0))
    data = {
        "duration": 5,
        "room": {"kind": "mesh", "path": "hall.obj", "materials": {"floor": "carpet"}},
        "listener": {"position": [2, 2, 1.7]},
    }
    scene = scene_from_dict(data, base_dir=tmp_path)
    assert scene.room.size == (10, 8, 3)  # the renderer's box, as before
    environment = perceive(scene)
    assert environment.volume_m3.value == pytest.approx(168, rel=EXACT)  # not the box's 240
    assert environment.floor_area_m2.value == pytest.approx(56, rel=EXACT)
    assert "divergence theorem" in environment.volume_m3.source
    assert dict(environment.surfaces_m2.value)["carpet"] == pytest.approx(56)
    # The late tail the renderer uses is the reverberation E reports.
    assert room_acoustics(scene.room).rt60_eyring_s == environment.rt60_eyring_s.value
    assert environment.rt60_mid_s.confidence == pytest.approx(CONFIDENCE_BY_ORIENTATION)


def test_shipped_meshes(tmp_path: Path) -> None:
    meshes = ROOT / "assets" / "meshes"
    hall = analyze_mesh_file(meshes / "museum_hall.obj")
    # 30 x 18 x 10 m plus 60 coffers of 2.7 x 2.7 x 0.6 m; the doorway is capped.
    assert hall.volume_m3 == pytest.approx(5400 + 60 * 2.7 * 2.7 * 0.6, rel=EXACT)
    assert hall.enclosure == "enclosed" and hall.opening_area_m2 == pytest.approx(2.7 * 4)
    assert {g.material.name for g in hall.surfaces} == {
        "marble_floor",
        "limestone_wall",
        "glass_window",
        "wooden_lining",
        "plaster",
        "acoustical_plaster_25mm",
    }
    assert 1.7 < hall.acoustics.rt60_mid_s < 2.7
    glb = analyze_mesh_file(meshes / "museum_hall.glb")
    # glTF stores float32: equal to about 1e-7.
    assert glb.volume_m3 == pytest.approx(hall.volume_m3, rel=1e-6)
    assert glb.acoustics.rt60_eyring_s == pytest.approx(hall.acoustics.rt60_eyring_s, rel=1e-6)
    court = analyze_mesh_file(meshes / "courtyard.obj")
    assert court.enclosure == "semi_open" and court.ceiling_height_m is None
