"""Perception: what the place is like, as the environment E of M = M(I, S, E).

E combines what the scene has:

- the room: a description (geometry, materials, and the room acoustics of
  :mod:`scene.acoustics`, exact for the model given, so confidence 1), a mesh file
  (:mod:`scene.mesh_analysis`: volume, surfaces per material, openness and the RT60 they
  give), or an RGB-D scan (:mod:`scene.room_estimate`: floor plan, height and RT60 with
  materials by orientation), each with confidences that say how much was guessed;
- camera frames (:mod:`scene.frames`): colour, clutter, sky, light, motion and the mood
  they suggest;
- the scene file's own words for the place (``environment.place``) and features
  (``environment.features``): a feature the file gives replaces the measured one, whose
  value and origin the feature's source and a note keep.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from scene.acoustics import room_acoustics
from scene.environment import Environment, Feature
from scene.model import Room, Scene

if TYPE_CHECKING:
    from scene.mesh_analysis import MeshAnalysis
    from scene.room_estimate import ScanAnalysis

__all__ = [
    "COLOUR_TEMPERATURE_CONFIDENCE",
    "FRAME_CONFIDENCE",
    "MOOD_CONFIDENCE",
    "environment_from_mesh",
    "environment_from_scan",
    "frame_features",
    "mesh_features",
    "perceive",
    "scan_features",
]

#: Confidence of colour features from frames: they measure the images, and a camera's
#: automatic exposure and white balance shift them away from the place's own light.
FRAME_CONFIDENCE = 0.7

#: Confidence of the light's colour temperature: a grey-world estimate, pulled toward
#: 6,500 K by the camera's white balance and away from it by a scene that is not grey.
COLOUR_TEMPERATURE_CONFIDENCE = 0.4

#: Confidence of the mood: a regression over colour samples (Valdez and Mehrabian) applied
#: to whole views.
MOOD_CONFIDENCE = 0.5

_ACOUSTICS_METHOD = "Eyring with air absorption (ISO 9613-1)"


def _room_text(room: Room) -> str:
    if room.scan_path is not None:
        return f"room: scan {room.scan_path.parent.name}/{room.scan_path.name}"
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
        Kind and indoor always; geometry and per-band acoustics for enclosed rooms (from
        the description, the mesh or the scan); frame features and mood when the scene has
        camera frames; place tags when the scene file gives ``environment.place``; the
        scene file's ``environment.features`` in place of measured ones. Each feature
        carries its unit, where it came from and a confidence.

    Raises
    ------
    SceneError
        When a camera image, a mesh or a scan cannot be read (naming the file).
    """
    room = scene.room
    room_text = _room_text(room)
    notes: list[str] = []
    fields: dict[str, Feature] = {
        "kind": Feature(room.kind, "label", room_text),
        # A bool, not "yes"/"no": a non-empty string would be truthy either way.
        "indoor": Feature(room.is_enclosed, "true/false", room_text),
    }
    if room.scan_path is not None:
        # Imported here: scans need Open3D, which other rooms never do.
        from scene.room_estimate import analyze_room_scan

        scan_fields, scan_notes = scan_features(analyze_room_scan(room))
        fields |= scan_fields
        notes.extend(scan_notes)
    elif room.kind == "mesh" and room.mesh_path is not None:
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
    for name, value in scene.given_features:
        fields[name], note = _given(name, value, fields.get(name))
        notes.append(note)
    return Environment(**fields, notes=tuple(notes))  # type: ignore[arg-type]


def _given(name: str, value: float, measured: Feature | None) -> tuple[Feature, str]:
    """A feature the scene file gives, and the note that says what it replaced."""
    from scene.environment import GIVEN_FEATURES

    unit = GIVEN_FEATURES[name][2] if measured is None else measured.unit
    if measured is None:
        return Feature(value, unit, "scene file"), f"{name}: {value:g} from the scene file"
    shown = measured.value
    shown = f"{shown:.4g}" if isinstance(shown, float) else str(shown)
    source = f"scene file (replaces {shown} measured by {measured.source})"
    note = f"{name}: the scene file's {value:g} replaces the measured {shown} ({measured.source})"
    if name == "rt60_mid_s":
        note += "; the per-band RT60 and the rendered room stay as measured"
    return Feature(value, unit, source), note


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
    """Features of camera frames as environment features (see :mod:`scene.frames`).

    Parameters
    ----------
    frames
        The image files.
    folder
        Their folder, named in each feature's source; None for the first image's.

    Returns
    -------
    dict of str to Feature
        brightness, warmth, colourfulness, saturation, edge density, sky fraction, the
        mood (pleasure, arousal, dominance), the light's colour temperature when the mean
        colour has one, and motion when there are two frames or more.
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

    mood = features.mood
    mood_source = f"{source}, Valdez and Mehrabian (1994) from brightness and saturation"
    out = {
        "brightness": feature(features.brightness, "0..1, mean luma"),
        "warmth": feature(features.warmth, "-1..1, (R - B) / (R + B)"),
        "colourfulness": feature(
            features.colourfulness, "Hasler-Suesstrunk, 0 (grey)..~110 (extremely colourful)"
        ),
        "saturation": feature(features.saturation, "0..1, mean HSV saturation"),
        "edge_density": feature(features.edge_density, "0..1, share of edge pixels (Canny)"),
        "sky_fraction": feature(features.sky_fraction, "0..1, share of the view"),
        "pleasure": Feature(mood.pleasure, "-1..1", mood_source, MOOD_CONFIDENCE),
        "arousal": Feature(mood.arousal, "-1..1", mood_source, MOOD_CONFIDENCE),
        "dominance": Feature(mood.dominance, "-1..1", mood_source, MOOD_CONFIDENCE),
    }
    if features.colour_temperature_k is not None:
        out["colour_temperature_k"] = Feature(
            round(features.colour_temperature_k, 1),
            "K",
            f"{source}, grey world and McCamy's formula",
            COLOUR_TEMPERATURE_CONFIDENCE,
        )
    if features.motion is not None:
        out["motion"] = feature(
            features.motion, "image widths per frame (mean optical flow between frames)"
        )
    return out


def scan_features(analysis: ScanAnalysis) -> tuple[dict[str, Feature], list[str]]:
    """Environment features and notes of an analysed RGB-D scan.

    Parameters
    ----------
    analysis
        From :func:`scene.room_estimate.analyze_scan` or ``analyze_room_scan``.

    Returns
    -------
    dict of str to Feature, list of str
        Keyword arguments of :class:`Environment` (``kind`` and ``indoor`` included) and
        the analysis's notes.
    """
    estimate = analysis.estimate
    # The folder's name, not its absolute path: environment.json reads the same anywhere.
    where = f"scan: {analysis.path.parent.name}/, {analysis.frames} depth frames"
    confidence = estimate.confidence
    seen = (
        f"{estimate.walls_seen} walls along {100 * estimate.perimeter_seen:.0f}% of the plan's "
        "edge" + (", ceiling seen" if estimate.ceiling_seen else ", ceiling not seen")
    )
    shape = "a box" if estimate.shape == "box" else f"{len(estimate.rectangles)} rectangles"
    plan = f"{where}, floor plan of {shape} from {seen}"
    lx, ly, height = estimate.box_m
    length, width, yaw = (lx, ly, estimate.yaw_deg) if lx >= ly else (ly, lx, estimate.yaw_deg + 90)
    by_material: dict[str, float] = {}
    for _, material, area in analysis.surfaces:
        by_material[material.name] = by_material.get(material.name, 0.0) + area
    surfaces = tuple(sorted(by_material.items(), key=lambda item: -item[1]))
    acoustics = analysis.acoustics
    method = f"{where}, materials by orientation, {_ACOUSTICS_METHOD}"
    acoustic_confidence = analysis.acoustics_confidence
    fields: dict[str, Feature] = {
        "kind": Feature("scan", "label", f"{where}, TSDF fusion and plane segmentation"),
        "indoor": Feature(True, "true/false", plan, confidence),
        "enclosure": Feature("enclosed", "enclosed, semi_open or open", plan, confidence),
        "volume_m3": Feature(
            estimate.volume_m3, "m^3", f"{plan}, floor area x ceiling height", confidence
        ),
        "surface_m2": Feature(
            float(sum(a for _, _, a in analysis.surfaces)), "m^2", plan, confidence
        ),
        "floor_area_m2": Feature(estimate.floor_area_m2, "m^2", plan, confidence),
        "ceiling_height_m": Feature(
            estimate.ceiling_height_m,
            "m",
            f"{where}, floor and ceiling planes"
            if estimate.ceiling_seen
            else f"{where}, floor to the top of what was seen (no ceiling seen)",
            confidence,
        ),
        "surfaces_m2": Feature(
            surfaces,
            "m^2 per material",
            f"{where}, materials by orientation (floor, walls, ceiling)",
            acoustic_confidence,
        ),
        "bounding_box_m": Feature(
            estimate.box_m, "m (x, y, z) in the room's frame", plan, confidence
        ),
        "oriented_box_m": Feature(
            (length, width, height, round(yaw % 180.0, 3)),
            "m (length, width, height), degrees (yaw of the length in the scan's world)",
            plan,
            confidence,
        ),
        "mean_absorption": Feature(
            acoustics.mean_absorption,
            "0..1 per octave band 125 Hz..8 kHz",
            f"{where}, materials by orientation",
            acoustic_confidence,
        ),
        "rt60_sabine_s": Feature(
            acoustics.rt60_sabine_s,
            _BANDS_UNIT,
            f"{where}, materials by orientation, Sabine with air absorption (ISO 9613-1)",
            acoustic_confidence,
        ),
        "rt60_eyring_s": Feature(acoustics.rt60_eyring_s, _BANDS_UNIT, method, acoustic_confidence),
        "rt60_mid_s": Feature(
            acoustics.rt60_mid_s, "s", f"{method}, mean of 500 Hz and 1 kHz", acoustic_confidence
        ),
    }
    origin = -estimate.world_to_room[:3, :3].T @ estimate.world_to_room[:3, 3]
    notes = [
        *analysis.notes,
        f"the room's frame (where it is rendered): x along its walls at yaw "
        f"{estimate.yaw_deg:.1f} degrees in the scan's world, origin at "
        f"({origin[0]:.2f}, {origin[1]:.2f}, {origin[2]:.2f}) m of the scan (z up)",
    ]
    return fields, notes


def environment_from_scan(path: str | Path, *, up: Literal["z", "y"] | None = None) -> Environment:
    """The environment E of an RGB-D scan alone (no scene file: default materials).

    Parameters
    ----------
    path
        A nerfstudio ``transforms.json`` or the folder that holds it.
    up
        The scan world's up axis; None infers it from the cameras.

    Returns
    -------
    Environment

    Raises
    ------
    SceneError
        When the scan cannot be read, or shows no room.
    """
    from scene.room_estimate import analyze_scan

    fields, notes = scan_features(analyze_scan(path, up=up))
    return Environment(**fields, notes=tuple(notes))  # type: ignore[arg-type]
