"""Perception: what the place is like, as the environment E of M = M(I, S, E).

Today E comes from three inputs: the room description (geometry, materials, and the room
acoustics of :mod:`scene.acoustics`, exact for the model given, so confidence 1), the
camera frames (colour features of :mod:`scene.frames`), and the place words of the scene
file. Meshes, RGB-D scans and frame streams are later issues.
"""

from __future__ import annotations

from pathlib import Path

from scene.acoustics import room_acoustics
from scene.environment import Environment, Feature
from scene.model import Room, Scene

__all__ = ["FRAME_CONFIDENCE", "perceive"]

#: Confidence of colour features from frames: they measure the images, and a camera's
#: automatic exposure and white balance shift them away from the place's own light.
FRAME_CONFIDENCE = 0.7

_ACOUSTICS_METHOD = "Eyring with air absorption (ISO 9613-1)"


def _room_text(room: Room) -> str:
    if room.size is None:
        return f"room: {room.kind}"
    size = " x ".join(f"{s:g}" for s in room.size)
    if room.kind == "mesh" and room.mesh_path is not None:
        return f"room: mesh {room.mesh_path.name}, bounding box {size} m"
    return f"room: {room.kind} {size} m"


def perceive(scene: Scene) -> Environment:
    """Measure the environment E of a scene.

    Parameters
    ----------
    scene
        A validated scene (see :func:`scene.loader.load_scene`).

    Returns
    -------
    Environment
        Kind and indoor always; geometry and per-band acoustics for enclosed rooms; colour
        features when the scene has camera frames; place tags when the scene file gives
        ``environment.place``. Each feature carries its unit and where it came from.

    Raises
    ------
    SceneError
        When a camera image cannot be read (naming the image).
    """
    room = scene.room
    room_text = _room_text(room)
    notes: list[str] = []
    fields: dict[str, Feature] = {
        "kind": Feature(room.kind, "label", room_text),
        # A bool, not "yes"/"no": a non-empty string would be truthy either way.
        "indoor": Feature(room.is_enclosed, "true/false", room_text),
    }
    acoustics = room_acoustics(room)
    if acoustics is not None and room.size is not None:
        lx, ly, lz = room.size
        geometry = f"{room_text}, box geometry"
        method = f"{room_text}, {_ACOUSTICS_METHOD}"
        fields |= {
            "volume_m3": Feature(acoustics.volume_m3, "m^3", geometry),
            "surface_m2": Feature(acoustics.surface_m2, "m^2", geometry),
            "floor_area_m2": Feature(lx * ly, "m^2", geometry),
            "ceiling_height_m": Feature(lz, "m", geometry),
            "mean_absorption": Feature(
                acoustics.mean_absorption, "0..1 per octave band 125 Hz..8 kHz", room_text
            ),
            "rt60_sabine_s": Feature(
                acoustics.rt60_sabine_s,
                "s per octave band 125 Hz..8 kHz",
                f"{room_text}, Sabine with air absorption (ISO 9613-1)",
            ),
            "rt60_eyring_s": Feature(
                acoustics.rt60_eyring_s, "s per octave band 125 Hz..8 kHz", method
            ),
            "rt60_mid_s": Feature(acoustics.rt60_mid_s, "s", f"{method}, mean of 500 Hz and 1 kHz"),
        }
        if room.kind == "mesh":
            notes.append(
                "mesh rooms are analysed as their axis-aligned bounding box for now; volume "
                "and reverberation time are those of the box"
            )
    elif room.kind == "outdoor":
        ground = room.material("ground").name
        notes.append(
            f"outdoors: no reverberation; the direct sound, one reflection off the ground "
            f"({ground}) and air absorption"
        )
    else:
        notes.append("free field: the direct sound only, no reflections")

    if scene.frames:
        fields |= _frame_fields(scene.frames, scene.frames_dir)
    if scene.place:
        fields["place_tags"] = Feature(tuple(scene.place), "words", "scene file")
    return Environment(**fields, notes=tuple(notes))  # type: ignore[arg-type]


def _frame_fields(frames: tuple[Path, ...], folder: Path | None) -> dict[str, Feature]:
    # cv2 is imported only for scenes with frames: it is slow to import.
    from scene.frames import folder_features

    features = folder_features(frames)
    # The folder's name, not its absolute path: environment.json should read the same on
    # every machine.
    where = (folder if folder is not None else frames[0].parent).name
    noun = "image" if len(frames) == 1 else "images"
    source = f"frames: {len(frames)} {noun} in {where}/"

    def feature(value: float, unit: str) -> Feature:
        return Feature(value, unit, source, FRAME_CONFIDENCE)

    return {
        "brightness": feature(features.brightness, "0..1, mean luma"),
        "warmth": feature(features.warmth, "-1..1, (R - B) / (R + B)"),
        "colourfulness": feature(
            features.colourfulness, "Hasler-Suesstrunk, 0 (grey)..~110 (extremely colourful)"
        ),
        "saturation": feature(features.saturation, "0..1, mean HSV saturation"),
    }
