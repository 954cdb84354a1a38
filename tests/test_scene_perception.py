"""Perception: E from the room description (checked by hand) and from the scene file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scene import Environment, perceive
from scene.acoustics import AIR_ABSORPTION_DB_PER_KM, room_acoustics
from scene.loader import scene_from_dict

ROOT = Path(__file__).resolve().parents[1]


def _room_scene(**room: object) -> dict:
    return {"duration": 5, "room": room, "listener": {"position": [3, 3, 1.7]}}


def test_rt60_of_a_uniform_room_matches_a_hand_computation(tmp_path: Path) -> None:
    data = _room_scene(
        kind="shoebox",
        size=[10, 8, 4],
        materials={"walls": 0.1, "floor": 0.1, "ceiling": 0.1},
    )
    scene = scene_from_dict(data, base_dir=tmp_path)
    acoustics = room_acoustics(scene.room)
    volume, surface = 10 * 8 * 4, 2 * (10 * 8 + 10 * 4 + 8 * 4)
    assert (acoustics.volume_m3, acoustics.surface_m2) == (volume, surface)
    for band, db_per_km in enumerate(AIR_ABSORPTION_DB_PER_KM):
        # Air: m = dB/km / (1000 * 10 log10 e) per metre; 4 m V sabins.
        air = 4 * db_per_km / (1000 * 10 * math.log10(math.e)) * volume
        sabine = 0.161 * volume / (surface * 0.1 + air)
        eyring = 0.161 * volume / (-surface * math.log(1 - 0.1) + air)
        # 0.161 is 24 ln 10 / c rounded (0.16111 at c = 343 m/s): 0.1% apart.
        assert acoustics.rt60_sabine_s[band] == pytest.approx(sabine, rel=2e-3)
        assert acoustics.rt60_eyring_s[band] == pytest.approx(eyring, rel=2e-3)
    # Without air, at 125 Hz: Sabine's textbook figure T = 0.161 V / A, within air's 0.5%.
    assert acoustics.rt60_sabine_s[0] == pytest.approx(0.161 * 320 / (0.1 * 304), rel=6e-3)
    assert all(e < s for e, s in zip(acoustics.rt60_eyring_s, acoustics.rt60_sabine_s, strict=True))


def test_perception_reports_the_acoustics_of_scene_acoustics() -> None:
    scene = _load("museum.yaml")
    environment = perceive(scene)
    acoustics = room_acoustics(scene.room)
    assert environment.rt60_eyring_s.value == acoustics.rt60_eyring_s
    assert environment.rt60_sabine_s.value == acoustics.rt60_sabine_s
    assert environment.rt60_mid_s.value == pytest.approx(acoustics.rt60_mid_s)
    assert environment.mean_absorption.value == acoustics.mean_absorption
    assert environment.indoor.value is True
    assert (environment.floor_area_m2.value, environment.ceiling_height_m.value) == (540, 10)
    assert environment.volume_m3.unit == "m^3"
    assert "Eyring with air absorption (ISO 9613-1)" in environment.rt60_eyring_s.source
    assert environment.rt60_mid_s.confidence == 1.0
    # The museum is meant to be reverberant: about 2 s in the middle bands.
    assert 1.7 < environment.rt60_mid_s.value < 2.3
    assert environment.place_tags.value == ("museum", "hall")
    assert environment.brightness is None  # no frames


def test_outdoor_beach_has_no_reverberation_but_has_frames_and_place() -> None:
    environment = perceive(_load("beach.yaml"))
    assert isinstance(environment, Environment)
    assert environment.kind.value == "outdoor" and environment.indoor.value is False
    assert environment.rt60_eyring_s is None and environment.volume_m3 is None
    assert any("no reverberation" in note and "sand" in note for note in environment.notes)
    assert environment.place_tags.value == ("beach",)
    assert environment.place_tags.source == "scene file"
    assert environment.brightness.source == "frames: 3 images in beach_frames/"
    # The example frames are of a bright, warm, colourful beach.
    assert environment.brightness.value > 0.6
    assert environment.warmth.value > 0.0
    assert environment.colourfulness.value > 33  # "moderately colourful" and above
    assert "place_tags" in environment.to_dict()


def test_free_field(tmp_path: Path) -> None:
    scene = scene_from_dict(_room_scene(kind="free_field"), base_dir=tmp_path)
    environment = perceive(scene)
    assert environment.indoor.value is False and environment.rt60_mid_s is None
    assert environment.notes and "direct sound only" in environment.notes[0]


def _load(name: str):
    from scene.loader import load_scene

    return load_scene(ROOT / "examples" / name)


# --- Features the scene file gives, and what perception combines ------------------------


def _beach_data() -> dict:
    import yaml

    data = yaml.safe_load((ROOT / "examples" / "beach.yaml").read_text(encoding="utf-8"))
    data["environment"]["frames"] = str(ROOT / "examples" / "beach_frames")
    return data


def test_a_feature_the_scene_file_gives_replaces_the_measured_one(tmp_path: Path) -> None:
    measured = perceive(scene_from_dict(_beach_data(), base_dir=tmp_path))
    data = _beach_data()
    data["environment"]["features"] = {"brightness": 0.2, "pleasure": -0.5}
    given = perceive(scene_from_dict(data, base_dir=tmp_path))
    assert given.brightness.value == 0.2 and given.brightness.confidence == 1.0
    assert given.brightness.unit == measured.brightness.unit
    # It says so: the source names the measured value and where it came from ...
    shown = f"{measured.brightness.value:.4g}"
    assert given.brightness.source == (
        f"scene file (replaces {shown} measured by frames: 3 images in beach_frames/)"
    )
    # ... and a note does too.
    assert any(
        note.startswith(f"brightness: the scene file's 0.2 replaces the measured {shown}")
        for note in given.notes
    )
    assert given.pleasure.value == -0.5 and measured.pleasure.value > 0
    # What the file does not give stays measured.
    assert given.warmth == measured.warmth


def test_given_rt60_and_unmeasured_features(tmp_path: Path) -> None:
    data = _room_scene(kind="shoebox", size=[10, 8, 4])
    data["environment"] = {"features": {"rt60_mid_s": 2.5, "sky_fraction": 0.0}}
    environment = perceive(scene_from_dict(data, base_dir=tmp_path))
    assert environment.rt60_mid_s.value == 2.5
    assert "measured by room: shoebox 10 x 8 x 4 m" in environment.rt60_mid_s.source
    assert any(
        "the per-band RT60 and the rendered room stay as measured" in n for n in environment.notes
    )
    # Nothing measured it (no frames): the file's value, from the file.
    assert environment.sky_fraction.value == 0.0 and environment.sky_fraction.source == "scene file"


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ({"brightnes": 0.5}, r"environment\.features\.brightnes: unknown feature; the features"),
        ({"brightness": 1.5}, r"environment\.features\.brightness: got 1\.5; must be from 0 to 1"),
        ({"warmth": "hot"}, r"environment\.features\.warmth: got 'hot'; must be a number"),
        ({"rt60_mid_s": 0}, r"environment\.features\.rt60_mid_s: got 0\.0; must be from 0\.05"),
    ],
)
def test_bad_given_features_are_refused(tmp_path: Path, features: dict, message: str) -> None:
    from scene import SceneError

    data = _room_scene(kind="free_field")
    data["environment"] = {"features": features}
    with pytest.raises(SceneError, match=message):
        scene_from_dict(data, base_dir=tmp_path)


def test_frames_give_clutter_sky_light_and_mood() -> None:
    environment = perceive(_load("beach.yaml"))
    # The beach frames: a sky over the sea, a bright, warm and pleasant view.
    assert 0.15 < environment.sky_fraction.value < 0.6
    assert environment.pleasure.value > 0
    assert "Valdez and Mehrabian" in environment.pleasure.source
    assert 3000 < environment.colour_temperature_k.value < 9000
    assert environment.colour_temperature_k.confidence < environment.brightness.confidence
    assert environment.motion.value > 0  # the camera pans between the three frames
    assert environment.motion.unit.startswith("image widths per frame")
    assert 0 <= environment.edge_density.value < 0.2
