"""Perception: what the place is like, as the environment E of M = M(I, S, E).

Today E comes from four inputs: the room description (geometry, materials, and the room
acoustics of :mod:`scene.acoustics`, exact for the model given, so confidence 1), a mesh
room's file (:mod:`scene.mesh_analysis`: volume, surfaces per material, openness and the
RT60 they give, with confidences that say how much was guessed), the camera frames
(colour features of :mod:`scene.frames`), and the place words of the scene file. RGB-D
scans and frame streams are later issues.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from scene.acoustics import room_acoustics
from scene.environment import Environment, Feature
from scene.model import Room, Scene

if TYPE_CHECKING:
    from scene.mesh_analysis import MeshAnalysis

__all__ = [
    "FRAME_CONFIDENCE",
    "environment_from_mesh",
    "frame_features",
    "mesh_features",
    "perceive",
]

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
    if room.kind == "mesh" and room.mesh_path is not None:
        # Imported here: mesh analysis needs trimesh, which other rooms never do.
        from scene.mesh_analysis import analyze_room_mesh

        mesh_fields, mesh_notes = mesh_features(analyze_room_mesh(room))
        fields |= mesh_fields
        notes.extend(mesh_notes)
    elif (acoustics := room_acoustics(room)) is not None and room.size is not None:
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
    elif room.kind == "outdoor":
        ground = room.material("ground").name
        notes.append(
            f"outdoors: no reverberation; the direct sound, one reflection off the ground "
            f"({ground}) and air absorption"
        )
    else:
        notes.append("free field: the direct sound only, no reflections")

    if scene.frames:
        fields |= frame_features(scene.frames, scene.frames_dir)
    if scene.place:
        fields["place_tags"] = Feature(tuple(scene.place), "words", "scene file")
    return Environment(**fields, notes=tuple(notes))  # type: ignore[arg-type]


_BANDS_UNIT = "s per octave band 125 Hz..8 kHz"


def mesh_features(analysis: MeshAnalysis) -> tuple[dict[str, Feature], list[str]]:
    """Environment features and notes of an analysed mesh.

    Parameters
    ----------
    analysis
        From :func:`scene.mesh_analysis.analyze_mesh_file` or ``analyze_room_mesh``.

    Returns
    -------
    dict of str to Feature, list of str
        Keyword arguments of :class:`Environment` (``kind`` and ``indoor`` included) and
        the analysis's notes.
    """
    name = analysis.path.name
    where = f"mesh: {name}, {analysis.triangles} triangles"
    box = " x ".join(f"{s:.3g}" for s in analysis.bbox_size)
    fields: dict[str, Feature] = {
        "kind": Feature("mesh", "label", f"{where}, bounding box {box} m"),
        "indoor": Feature(analysis.enclosure == "enclosed", "true/false", where),
        "enclosure": Feature(
            analysis.enclosure,
            "enclosed, semi_open or open",
            f"{where}, openings and ceiling cover",
            analysis.geometry_confidence,
        ),
        "surface_m2": Feature(analysis.surface_m2, "m^2", f"{where}, triangle areas"),
        "surfaces_m2": Feature(
            tuple((g.material.name, g.area_m2) for g in analysis.surfaces),
            "m^2 per material",
            f"{where}, materials by "
            + "; ".join(f"{g.material.name}: {g.assigned_by}" for g in analysis.surfaces),
            round(
                sum(g.confidence * g.area_m2 for g in analysis.surfaces) / analysis.surface_m2, 3
            ),
        ),
        "floor_area_m2": Feature(
            analysis.floor_area_m2, "m^2", f"{where}, upward-facing surfaces projected"
        ),
        "bounding_box_m": Feature(analysis.bbox_size, "m (x, y, z)", f"{where}, axis-aligned"),
        "oriented_box_m": Feature(
            analysis.oriented_box,
            "m (length, width, height), degrees (yaw of the length)",
            f"{where}, smallest box standing on the floor",
        ),
    }
    if analysis.ceiling_height_m is not None:
        fields["ceiling_height_m"] = Feature(
            analysis.ceiling_height_m,
            "m",
            f"{where}, area-weighted median of ceiling over floor",
            analysis.geometry_confidence,
        )
    if analysis.openness is not None:
        fields["openness"] = Feature(
            analysis.openness,
            "0..1, open share of the boundary",
            f"{where}, holes capped from their rims",
            analysis.geometry_confidence,
        )
    if analysis.volume_m3 is not None:
        fields["volume_m3"] = Feature(
            analysis.volume_m3,
            "m^3",
            f"{where}, {analysis.volume_method} (divergence theorem)"
            if analysis.volume_method != "floor area x ceiling height"
            else f"{where}, floor area x ceiling height",
            analysis.geometry_confidence,
        )
    acoustics = analysis.acoustics
    if acoustics is not None:
        method = f"{where}, per-face materials, {_ACOUSTICS_METHOD}"
        confidence = analysis.acoustics_confidence
        fields |= {
            "mean_absorption": Feature(
                acoustics.mean_absorption,
                "0..1 per octave band 125 Hz..8 kHz",
                f"{where}, per-face materials, openings absorb all",
                confidence,
            ),
            "rt60_sabine_s": Feature(
                acoustics.rt60_sabine_s,
                _BANDS_UNIT,
                f"{where}, per-face materials, Sabine with air absorption (ISO 9613-1)",
                confidence,
            ),
            "rt60_eyring_s": Feature(acoustics.rt60_eyring_s, _BANDS_UNIT, method, confidence),
            "rt60_mid_s": Feature(
                acoustics.rt60_mid_s, "s", f"{method}, mean of 500 Hz and 1 kHz", confidence
            ),
        }
    notes = list(analysis.notes)
    if analysis.enclosure == "open":
        notes.append("open place: no reverberation of its own")
    return fields, notes


def environment_from_mesh(path: str | Path, *, up: Literal["z", "y"] | None = None) -> Environment:
    """The environment E of a mesh file alone (no scene file: default materials).

    Parameters
    ----------
    path
        ``.obj``, ``.ply``, ``.stl``, ``.gltf`` or ``.glb``.
    up
        The file's up axis; None for the format's own (y for glTF, z otherwise).

    Returns
    -------
    Environment

    Raises
    ------
    SceneError
        When the mesh cannot be read or holds no usable triangle.
    """
    from scene.mesh_analysis import analyze_mesh_file

    fields, notes = mesh_features(analyze_mesh_file(path, up=up))
    return Environment(**fields, notes=tuple(notes))  # type: ignore[arg-type]


def frame_features(frames: tuple[Path, ...], folder: Path | None) -> dict[str, Feature]:
    """Colour features of camera frames as environment features (see :mod:`scene.frames`).

    Parameters
    ----------
    frames
        The image files.
    folder
        Their folder, named in each feature's source; None for the first image's.

    Returns
    -------
    dict of str to Feature
        brightness, warmth, colourfulness and saturation.
    """
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
