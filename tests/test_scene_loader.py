"""Scene files: every user mistake is one SceneError naming file, field and value."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scene import BANDS_HZ, SHOEBOX_SURFACES, SceneError
from scene.loader import load_scene, scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

VALID = {
    "duration": 10,
    "room": {"kind": "shoebox", "size": [12, 8, 5]},
    "listener": {"position": [4, 4, 1.7], "yaw": 0},
}


def _scene(**changes: object) -> dict:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


def _room(**changes: object) -> dict:
    room = copy.deepcopy(VALID["room"])
    room.update(changes)
    return room


# (case, scene data, regex the message must match after "scene.yaml: ").
BROKEN: list[tuple[str, dict, str]] = [
    (
        "missing duration",
        {k: v for k, v in VALID.items() if k != "duration"},
        r"duration: missing; must be a number of seconds",
    ),
    ("duration is text", _scene(duration="abc"), r"duration: got 'abc'; must be a number"),
    ("negative duration", _scene(duration=-5), r"duration: got -5; .*> 0"),
    ("zero duration", _scene(duration=0), r"duration: got 0; .*> 0"),
    ("duration too long", _scene(duration=7200), r"duration: got 7200; .*<= 3600"),
    ("seed is a bool", _scene(seed=True), r"seed: got True; must be a whole number >= 0"),
    (
        "unknown room kind",
        _scene(room=_room(kind="cave")),
        r"room\.kind: got 'cave'; must be one of free_field, outdoor, shoebox, mesh",
    ),
    (
        "negative room size",
        _scene(room=_room(size=[12, -8, 5])),
        r"room\.size\[1\]: got -8; must be 3 numbers .* each > 0",
    ),
    ("size with 2 numbers", _scene(room=_room(size=[12, 8])), r"room\.size: got \[12, 8\]; "),
    (
        "shoebox without size",
        _scene(room={"kind": "shoebox"}),
        r"room\.size: missing; a shoebox room needs",
    ),
    (
        "unknown material",
        _scene(room=_room(materials={"floor": "marbel"})),
        r"room\.materials\.floor: got 'marbel'; unknown material; did you mean marble.*"
        r"docs/scene-format\.md",
    ),
    (
        "material number above 1",
        _scene(room=_room(materials={"walls": 1.5})),
        r"room\.materials\.walls: got 1\.5; an absorption coefficient must be between 0",
    ),
    (
        "material list of 6",
        _scene(room=_room(materials={"ceiling": [0.1] * 6})),
        r"room\.materials\.ceiling: got \[0\.1, .*\]; .* needs 7 numbers",
    ),
    (
        "ground material indoors",
        _scene(room=_room(materials={"ground": "sand"})),
        r"room\.materials\.ground: got 'sand'; a shoebox room's materials are walls, floor",
    ),
    (
        "unknown material surface",
        _scene(room=_room(materials={"roof": "glass"})),
        r"room\.materials\.roof: unknown key; allowed keys here: walls, floor, ceiling",
    ),
    (
        "listener outside the room",
        _scene(listener={"position": [13, 4, 1.7]}),
        r"listener\.position: got \[13, 4, 1\.7\]; must be inside the room: "
        r"0 < x < 12, 0 < y < 8, 0 < z < 5 \(metres\)",
    ),
    (
        "listener position not a number",
        _scene(listener={"position": [4, "four", 1.7]}),
        r"listener\.position\[1\]: got 'four'; must be 3 finite numbers",
    ),
    (
        "listener below ground outdoors",
        _scene(room={"kind": "outdoor"}, listener={"position": [0, 0, -1]}),
        r"listener\.position: got \[0, 0, -1\]; must be above the ground outdoors: z >= 0",
    ),
    (
        "source with both stem and audio",
        _scene(sources=[{"stem": "melody", "audio": "a.wav", "position": [5, 5, 1]}]),
        r"sources\[0\]: got \{.*'stem': 'melody'.*\}; a source needs exactly one of `stem`",
    ),
    (
        "source with neither stem nor audio",
        _scene(sources=[{"position": [5, 5, 1]}]),
        r"sources\[0\]: got \{'position': \[5, 5, 1\]\}; a source needs exactly one",
    ),
    (
        "source outside the room",
        _scene(sources=[{"stem": "melody"}, {"stem": "bass", "position": [5, 5, 9]}]),
        r"sources\[1\]\.position: got \[5, 5, 9\]; must be inside the room",
    ),
    (
        "source at the listener",
        _scene(sources=[{"stem": "bass", "position": [4, 4, 1.7]}]),
        r"sources\[0\]\.position: got \[4, 4, 1\.7\]; is at the listener's position",
    ),
    (
        "same stem twice",
        _scene(sources=[{"stem": "bass"}, {"stem": "bass"}]),
        r"sources\[1\]\.stem: got 'bass'; this stem is already placed by sources\[0\]",
    ),
    (
        "missing audio file",
        _scene(sources=[{"audio": "narration.wav", "position": [6, 2, 1.7]}]),
        r"sources\[0\]\.audio: got 'narration\.wav'; no such audio file",
    ),
    (
        "unknown top-level key",
        _scene(tempo=120),
        r"tempo: unknown key; allowed keys here: version, instruction, duration, seed, room, "
        r"listener, sources, environment",
    ),
    ("version 2", _scene(version=2), r"version: got 2; the only scene file version is 1"),
    (
        "missing frames folder",
        _scene(environment={"frames": "frames/"}),
        r"environment\.frames: got 'frames/'; no such folder",
    ),
    (
        "path in a shoebox room",
        _scene(room=_room(path="hall.obj")),
        r"room\.path: got 'hall\.obj'; `path` is only for mesh and scan rooms",
    ),
    (
        "empty instruction",
        _scene(instruction="  "),
        r"instruction: got '  '; must not be empty; leave `instruction` out",
    ),
]


@pytest.mark.parametrize(("data", "pattern"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_scene_names_file_field_and_value(
    write_scene: Callable[[dict], Path], data: dict, pattern: str
) -> None:
    path = write_scene(data)
    with pytest.raises(SceneError, match=re.escape(str(path)) + ": " + pattern) as caught:
        load_scene(path)
    assert "\n" not in str(caught.value)


def test_empty_frames_folder(write_scene: Callable[[dict], Path], tmp_path: Path) -> None:
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "notes.txt").write_text("not an image")
    path = write_scene(_scene(environment={"frames": "frames"}))
    with pytest.raises(SceneError, match=r"environment\.frames: got 'frames'; the folder holds no"):
        load_scene(path)


def test_unreadable_audio_file(write_scene: Callable[[dict], Path], tmp_path: Path) -> None:
    (tmp_path / "noise.wav").write_bytes(b"RIFF but not really a wave file")
    path = write_scene(_scene(sources=[{"audio": "noise.wav", "position": [6, 2, 1.7]}]))
    with pytest.raises(SceneError, match=r"sources\[0\]\.audio: got 'noise\.wav'; cannot read"):
        load_scene(path)


def test_audio_source_needs_a_position(write_click, write_scene) -> None:
    write_click("click.wav")
    path = write_scene(_scene(sources=[{"audio": "click.wav"}]))
    with pytest.raises(SceneError, match=r"sources\[0\]\.position: missing; an audio source"):
        load_scene(path)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("duration: 10\nroom:\n  kind: shoebox\n  size: [12, 8, 5\nlistener: {}\n")
    with pytest.raises(SceneError, match=r"bad\.yaml: line 5, column \d+: YAML syntax error"):
        load_scene(path)


def test_yaml_key_given_twice(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("duration: 10\nseed: 1\nduration: 20\n")
    with pytest.raises(SceneError, match=r"twice\.yaml: line 3: got 'duration'; this key is given"):
        load_scene(path)


def test_json_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"duration": 10,\n "room": }\n')
    with pytest.raises(SceneError, match=r"bad\.json: line 2, column \d+: JSON syntax error"):
        load_scene(path)


@pytest.mark.parametrize("suffix", [".txt", ".toml", ""])
def test_wrong_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scene{suffix}"
    path.write_text(json.dumps(VALID))
    with pytest.raises(SceneError, match=r"scene(\.\w+)?: got '.*'; a scene file must end in"):
        load_scene(path)


def test_missing_file_and_top_level_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match=r"nowhere\.yaml: no such file"):
        load_scene(tmp_path / "nowhere.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- duration: 10\n")
    with pytest.raises(SceneError, match=r"list\.yaml: the top level must be a mapping"):
        load_scene(path)
    path.write_text("")
    with pytest.raises(SceneError, match=r"not an empty file"):
        load_scene(path)


def test_json_scene_loads_like_yaml(tmp_path: Path, write_scene) -> None:
    json_path = tmp_path / "scene.json"
    json_path.write_text(json.dumps(VALID))
    assert load_scene(json_path).room == load_scene(write_scene(VALID)).room


def test_example_beach() -> None:
    scene = load_scene(EXAMPLES / "beach.yaml")
    assert scene.instruction == "在海滩上播放一首轻快的音乐"
    assert (scene.duration_s, scene.seed) == (60.0, 7)
    assert scene.room.kind == "outdoor"
    ground = scene.room.material("ground")
    assert ground.name == "sand" and len(ground.absorption) == len(BANDS_HZ) == 7
    assert scene.listener.position == (0.0, 0.0, 1.7) and scene.listener.yaw_deg == 0.0
    assert scene.sources == ()
    assert scene.frames_dir == (EXAMPLES / "beach_frames").resolve()
    assert len(scene.frames) >= 3 and all(p.is_absolute() and p.is_file() for p in scene.frames)
    assert scene.place == ("beach",)
    assert scene.path == (EXAMPLES / "beach.yaml").resolve()


def test_example_museum() -> None:
    scene = load_scene(EXAMPLES / "museum.yaml")
    assert scene.room.kind == "shoebox" and scene.room.size == (30.0, 18.0, 10.0)
    assert [name for name, _ in scene.room.materials] == list(SHOEBOX_SURFACES)
    for _, material in scene.room.materials:
        assert len(material.absorption) == 7
        assert all(0.0 <= a <= 1.0 for a in material.absorption)
    assert scene.room.material("floor").name == "marble"
    assert scene.room.material("east").name == "limestone"  # from `walls`
    assert scene.room.material("south").name == "glass_window"  # overrides `walls`
    assert scene.instruction is not None and scene.sources == ()


def test_defaults_and_wall_overrides(tmp_path: Path) -> None:
    scene = scene_from_dict(VALID, base_dir=tmp_path)
    assert scene.seed == 0 and scene.instruction is None and scene.path is None
    assert scene.room.material("floor").name == "wood_floor_on_joists"
    assert scene.room.material("north").name == "plasterboard"
    data = _scene(room=_room(materials={"walls": 0.3, "north": [0.1] * 7}))
    room = scene_from_dict(data, base_dir=tmp_path).room
    assert room.material("west").absorption == (0.3,) * 7
    assert room.material("north").absorption == (0.1,) * 7
    outdoor = scene_from_dict(_scene(room={"kind": "outdoor"}), base_dir=tmp_path).room
    assert [name for name, _ in outdoor.materials] == ["ground"]
    assert (
        scene_from_dict(_scene(room={"kind": "free_field"}), base_dir=tmp_path).room.materials == ()
    )


def test_sources_resolve_paths_and_keep_order(tmp_path: Path, write_click) -> None:
    write_click("voice.wav")
    data = _scene(
        sources=[
            {"stem": "melody", "position": [7, 5, 1.5], "gain_db": -3},
            {"audio": "voice.wav", "position": [6, 2, 1.7]},
            {"stem": "sea"},
        ]
    )
    sources = scene_from_dict(data, base_dir=tmp_path).sources
    assert sources[0].stem == "melody" and sources[0].gain_db == -3.0
    assert sources[1].audio == (tmp_path / "voice.wav").resolve()
    assert sources[2].stem == "sea" and sources[2].position is None


# The 12 triangles of a box whose corners are numbered 1 + 4 ix + 2 iy + iz (OBJ counts
# from 1), wound outwards.
_BOX_FACES = (
    (1, 3, 7), (1, 7, 5), (2, 6, 8), (2, 8, 4), (1, 5, 6), (1, 6, 2),
    (3, 4, 8), (3, 8, 7), (1, 2, 4), (1, 4, 3), (5, 7, 8), (5, 8, 6),
)  # fmt: skip


def test_mesh_room_is_its_bounding_box(tmp_path: Path) -> None:
    # A closed box: the mesh reader keeps only vertices that triangles use, so the room
    # must be made of triangles (a single one, as before mesh analysis, is a flat room).
    corners = np.array([[x, y, z] for x in (1, 11) for y in (-2, 6) for z in (0, 4)], float)
    lines = [f"v {x} {y} {z}" for x, y, z in corners] + [f"f {a} {b} {c}" for a, b, c in _BOX_FACES]
    (tmp_path / "hall.obj").write_text("\n".join(lines) + "\n")
    data = _scene(room={"kind": "mesh", "path": "hall.obj"}, listener={"position": [2, 0, 1.7]})
    room = scene_from_dict(data, base_dir=tmp_path).room
    assert room.size == (10.0, 8.0, 4.0) and room.origin == (1.0, -2.0, 0.0)
    assert room.mesh_path == (tmp_path / "hall.obj").resolve()
    # Inside the box is measured from its own corner, not from (0, 0, 0).
    data["listener"] = {"position": [0.5, 0, 1.7]}
    with pytest.raises(SceneError, match=r"listener\.position: .* 1 < x < 11, -2 < y < 6"):
        scene_from_dict(data, base_dir=tmp_path)
    # y-up meshes (most OBJ exports) are turned z-up: y becomes height.
    data = _scene(room={"kind": "mesh", "path": "hall.obj", "up": "y"})
    data["listener"] = {"position": [2, -1, 0]}
    room = scene_from_dict(data, base_dir=tmp_path).room
    assert room.size == (10.0, 4.0, 8.0) and room.origin == (1.0, -4.0, -2.0)


def test_mesh_file_errors(tmp_path: Path) -> None:
    data = _scene(room={"kind": "mesh", "path": "missing.obj"})
    with pytest.raises(SceneError, match=r"room\.path: got 'missing\.obj'; no such file"):
        scene_from_dict(data, base_dir=tmp_path, file="s.yaml")
    (tmp_path / "bad.obj").write_text("v 1 2 three\n")
    data = _scene(room={"kind": "mesh", "path": "bad.obj"})
    with pytest.raises(SceneError, match=r"room\.path: got 'v 1 2 three'; line 1 of the mesh"):
        scene_from_dict(data, base_dir=tmp_path, file="s.yaml")


def test_audio_file_that_is_readable_is_accepted(tmp_path: Path) -> None:
    sf.write(tmp_path / "tone.flac", np.zeros(4800, dtype=np.float32), 48_000)
    data = _scene(sources=[{"audio": "tone.flac", "position": [6, 2, 1.7]}])
    assert scene_from_dict(data, base_dir=tmp_path).sources[0].audio.suffix == ".flac"


def test_scene_is_frozen(tmp_path: Path) -> None:
    scene = scene_from_dict(VALID, base_dir=tmp_path)
    with pytest.raises(AttributeError):
        scene.duration_s = 5  # type: ignore[misc]


# --- music: explicit values that win over words and place ---------------------------------


def _with_music(music: object) -> dict:
    return {
        "duration": 5,
        "room": {"kind": "free_field"},
        "listener": {"position": [0, 0, 1.7]},
        "music": music,
    }


def test_music_section_is_read() -> None:
    scene = scene_from_dict(
        _with_music({"tempo_bpm": 96, "key": "F# minor", "meter": "6/8", "loop": True}),
        base_dir=Path("."),
    )
    assert (scene.music.tempo_bpm, scene.music.key_tonic, scene.music.mode) == (96, "F#", "minor")
    assert scene.music.meter == (6, 8) and scene.music.loop


@pytest.mark.parametrize(
    ("music", "field", "shown"),
    [
        ({"tempo_bpm": 500}, "music.tempo_bpm", "500"),
        ({"tempo_bpm": "fast"}, "music.tempo_bpm", "fast"),
        ({"key": "H major"}, "music.key", "H major"),
        ({"key": "D lydian"}, "music.key", "D lydian"),
        ({"meter": "3-4"}, "music.meter", "3-4"),
        ({"loop": "yes"}, "music.loop", "yes"),
        ({"tempo": 90}, "music.tempo", "tempo_bpm, key, meter, loop"),
    ],
)
def test_bad_music_values_name_the_field(music: dict, field: str, shown: str) -> None:
    with pytest.raises(SceneError, match=re.escape(field)) as error:
        scene_from_dict(_with_music(music), base_dir=Path("."), file="scene.yaml")
    assert shown in str(error.value) and "scene.yaml" in str(error.value)
