"""Read a scene file (YAML or JSON), validate it, and return the frozen :class:`Scene`.

Validation happens in two steps: :mod:`scene.schema` checks structure, types and ranges;
this module checks what needs more than one field or the disk: the room's kind decides
which room keys are allowed, positions must lie inside the room, files and folders must
exist, material names must be known. Every problem is one :class:`SceneError` naming the
file, the field, the value and what is allowed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml

from scene.errors import SceneError
from scene.materials import resolve_material
from scene.mesh import MESH_SUFFIXES, bounding_box
from scene.model import (
    SHOEBOX_SURFACES,
    Material,
    MusicOverrides,
    Pose,
    Room,
    Scene,
    SourceSpec,
    Trajectory,
)
from scene.schema import (
    MaterialsModel,
    RoomModel,
    SceneFileModel,
    SourceModel,
    validate_scene_data,
)

__all__ = [
    "DEFAULT_MATERIALS",
    "FRAME_SUFFIXES",
    "MIN_SOURCE_DISTANCE_M",
    "SCENE_SUFFIXES",
    "load_scene",
    "scene_from_dict",
]

#: Scene file suffixes, lower case.
SCENE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")

#: Camera image suffixes found in an ``environment.frames`` folder, lower case.
FRAME_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")

#: A source closer than this to the listener is refused: the direct sound's 1/r gain would
#: blow up, and no real source sits inside the listener's head.
MIN_SOURCE_DISTANCE_M = 0.1

#: Materials of surfaces the scene file leaves out. Indoors: an empty, plainly built room
#: (painted plasterboard walls and ceiling, a wooden floor on joists); outdoors: grass.
DEFAULT_MATERIALS: dict[str, str] = {
    "walls": "plasterboard",
    "floor": "wood_floor_on_joists",
    "ceiling": "plasterboard",
    "ground": "grass",
}

_WALLS = ("west", "east", "south", "north")


def load_scene(path: str | Path) -> Scene:
    """Load and validate a scene file.

    Parameters
    ----------
    path
        A ``.yaml``/``.yml`` or ``.json`` file; the format is described in
        docs/scene-format.md. Relative paths inside it are resolved against its folder.

    Returns
    -------
    Scene
        Frozen, with absolute paths and every material resolved to per-band absorption.

    Raises
    ------
    SceneError
        For anything wrong in the file (its suffix, its syntax with the line number, a
        field, a referenced file or folder), as one line naming file, field and value.
    """
    path = Path(path)
    file = str(path)
    if path.suffix.lower() not in SCENE_SUFFIXES:
        raise SceneError(
            f"a scene file must end in {', '.join(SCENE_SUFFIXES)}", file=file, value=path.suffix
        )
    if path.is_dir():
        raise SceneError("is a folder; give the scene file itself", file=file)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SceneError("no such file", file=file) from None
    except OSError as error:
        raise SceneError(f"cannot read the file: {error.strerror}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SceneError(
            f"is not UTF-8 text (byte {error.start} cannot be decoded); save it as UTF-8",
            file=file,
        ) from None
    data = (
        _parse_json(text, file=file)
        if path.suffix.lower() == ".json"
        else _parse_yaml(text, file=file)
    )
    return _build(data, base_dir=path.resolve().parent, file=file, path=path.resolve())


def scene_from_dict(data: dict, *, base_dir: Path, file: str = "<dict>") -> Scene:
    """Validate a scene given as a dictionary (for code and tests).

    Parameters
    ----------
    data
        The scene file's content, as :func:`yaml.safe_load` would return it.
    base_dir
        Folder that relative paths (audio, frames, mesh) are resolved against.
    file
        Name shown in error messages.

    Returns
    -------
    Scene
        With ``path`` None.
    """
    return _build(data, base_dir=Path(base_dir).resolve(), file=file, path=None)


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that refuses a key given twice (PyYAML silently keeps the last)."""


class _DuplicateKey(Exception):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key = key
        self.line = line


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, *, file: str) -> object:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except _DuplicateKey as error:
        raise SceneError(
            "this key is given twice; keep one",
            file=file,
            field=f"line {error.line}",
            value=error.key,
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise SceneError(
            f"YAML syntax error: {error.problem or error}", file=file, field=where
        ) from None
    except yaml.YAMLError as error:
        raise SceneError(f"YAML error: {error}", file=file) from None
    return _top_level(data, file=file)


def _parse_json(text: str, *, file: str) -> object:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SceneError(
            f"JSON syntax error: {error.msg}",
            file=file,
            field=f"line {error.lineno}, column {error.colno}",
        ) from None
    return _top_level(data, file=file)


def _top_level(data: object, *, file: str) -> dict:
    if not isinstance(data, dict):
        shown = type(data).__name__ if data is not None else "an empty file"
        raise SceneError(
            f"the top level must be a mapping of keys (duration, room, listener, ...), not {shown}",
            file=file,
        )
    return data


def _build(data: dict, *, base_dir: Path, file: str, path: Path | None) -> Scene:
    if not isinstance(data, dict):
        raise SceneError("a scene must be a mapping of keys", file=file, value=type(data).__name__)
    model = validate_scene_data(data, file=file)
    room = _room(model.room, base_dir=base_dir, file=file)
    given = _given_features(model, file=file)
    yaw = model.listener.yaw
    if room.scan_path is not None:
        # Positions in a scan room are in the scan's own (z-up) coordinates; the renderer
        # works in the room's frame, whose axes run along the walls.
        model, yaw = _scan_positions_to_room(model, room, file=file)
    listener, listener_trajectory = _listener(
        model, room, yaw_offset_deg=model.listener.yaw - yaw, file=file
    )
    sources = _sources(model, room, listener, listener_trajectory, base_dir=base_dir, file=file)
    frames_dir, frames = _frames(model, base_dir=base_dir, file=file)
    return Scene(
        duration_s=model.duration,
        room=room,
        listener=listener,
        instruction=model.instruction,
        seed=model.seed,
        sources=sources,
        frames_dir=frames_dir,
        frames=frames,
        path=path,
        place=model.environment.place if model.environment else (),
        music=_music(model),
        lyrics=model.lyrics,
        given_features=given,
        listener_trajectory=listener_trajectory,
    )


def _listener(
    model: SceneFileModel, room: Room, *, yaw_offset_deg: float, file: str
) -> tuple[Pose, Trajectory | None]:
    """The listener's pose at t = 0 and, for a moving listener, the trajectory."""
    spec = model.listener
    if spec.trajectory is None:
        if spec.position is None:
            raise SceneError(
                "missing; must be 3 finite numbers [x, y, z] in metres, or give a "
                "`trajectory` of timed poses",
                file=file,
                field="listener.position",
            )
        pose = Pose(
            position=_position(spec.position, room, file=file, field="listener.position"),
            yaw_deg=spec.yaw - yaw_offset_deg,
            pitch_deg=spec.pitch,
        )
        return pose, None
    for key in ("position", "yaw", "pitch"):
        if key in spec.model_fields_set:
            raise SceneError(
                f"give either `{key}` or a `trajectory`, not both: each timed pose of the "
                "trajectory carries its own position, yaw and pitch",
                file=file,
                field=f"listener.{key}",
                value=getattr(spec, key),
            )
    field = "listener.trajectory"
    times = _trajectory_times(spec.trajectory, file=file, field=field)
    poses = tuple(
        Pose(
            position=_position(entry.position, room, file=file, field=f"{field}[{i}].position"),
            yaw_deg=entry.yaw - yaw_offset_deg,
            pitch_deg=entry.pitch,
        )
        for i, entry in enumerate(spec.trajectory)
    )
    trajectory = Trajectory(times_s=times, poses=poses)
    return trajectory.start, trajectory


def _trajectory_times(entries: list, *, file: str, field: str) -> tuple[float, ...]:
    times = tuple(float(entry.t) for entry in entries)
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            raise SceneError(
                f"must be later than {field}[{i - 1}].t = {times[i - 1]:g} s; timed poses "
                "are listed in time order",
                file=file,
                field=f"{field}[{i}].t",
                value=entries[i].t,
            )
    return times


def _given_features(model: SceneFileModel, *, file: str) -> tuple[tuple[str, float], ...]:
    from scene.environment import GIVEN_FEATURES

    if model.environment is None:
        return ()
    out = []
    for name, value in model.environment.features.items():
        field = f"environment.features.{name}"
        if name not in GIVEN_FEATURES:
            raise SceneError(
                f"unknown feature; the features a scene file may give are "
                f"{', '.join(GIVEN_FEATURES)}",
                file=file,
                field=field,
            )
        low, high, unit = GIVEN_FEATURES[name]
        if not low <= value <= high:
            raise SceneError(
                f"must be from {low:g} to {high:g} ({unit})", file=file, field=field, value=value
            )
        out.append((name, float(value)))
    return tuple(out)


def _scan_positions_to_room(
    model: SceneFileModel, room: Room, *, file: str
) -> tuple[SceneFileModel, float]:
    """The listener's and sources' positions (and the listener's yaw) in the room frame."""
    from scene.room_estimate import analyze_room_scan

    estimate = analyze_room_scan(room).estimate

    def moved(position: list[float] | None, field: str) -> list[float] | None:
        if position is None:
            return None
        inside = [float(v) for v in estimate.to_room(np.asarray([position]))[0]]
        if not all(0.0 < v < size for v, size in zip(inside, estimate.box_m, strict=True)):
            raise SceneError(
                "must be inside the scanned room, in the scan's coordinates (z up); in the "
                f"room's own frame it is at {_fmt(tuple(round(v, 2) for v in inside))} m, "
                f"outside its box {_fmt(tuple(round(v, 2) for v in estimate.box_m))} m "
                "(loci analyze shows the room)",
                file=file,
                field=field,
                value=_shown(position),
            )
        return inside

    def moved_trajectory(entries: list | None, field: str) -> list | None:
        if entries is None:
            return None
        return [
            entry.model_copy(update={"position": moved(entry.position, f"{field}[{i}].position")})
            for i, entry in enumerate(entries)
        ]

    listener = model.listener.model_copy(
        update={
            "position": moved(model.listener.position, "listener.position"),
            "trajectory": moved_trajectory(model.listener.trajectory, "listener.trajectory"),
        }
    )
    sources = [
        s.model_copy(
            update={
                "position": moved(s.position, f"sources[{i}].position"),
                "trajectory": moved_trajectory(s.trajectory, f"sources[{i}].trajectory"),
            }
        )
        for i, s in enumerate(model.sources)
    ]
    moved_model = model.model_copy(update={"listener": listener, "sources": sources})
    return moved_model, model.listener.yaw - estimate.yaw_deg


def _music(model: SceneFileModel) -> MusicOverrides:
    spec = model.music
    if spec is None:
        return MusicOverrides()
    tonic, mode = spec.key.split() if spec.key else (None, None)
    meter = tuple(int(part) for part in spec.meter.split("/")) if spec.meter else None
    return MusicOverrides(
        tempo_bpm=spec.tempo_bpm,
        key_tonic=tonic,
        mode=mode,
        meter=meter,  # type: ignore[arg-type]
        loop=spec.loop,
    )


def _resolve(relative: str, base_dir: Path) -> Path:
    return (base_dir / Path(relative).expanduser()).resolve()


def _room(spec: RoomModel, *, base_dir: Path, file: str) -> Room:
    kind = spec.kind
    if kind not in ("mesh", "scan"):
        for key in ("path", "up"):
            if getattr(spec, key) is not None:
                raise SceneError(
                    f"`{key}` is only for mesh and scan rooms; this room is {kind}",
                    file=file,
                    field=f"room.{key}",
                    value=getattr(spec, key),
                )
    if kind in ("free_field", "outdoor", "scan") and spec.size is not None:
        raise SceneError(
            f"a {kind} room has no size; `size` is for shoebox and mesh rooms"
            + (" (a scan measures its room)" if kind == "scan" else ""),
            file=file,
            field="room.size",
            value=_shown(spec.size),
        )
    if kind == "free_field":
        if spec.materials is not None and _given(spec.materials):
            raise SceneError(
                "a free field has no surfaces; leave `materials` out (or use kind: outdoor "
                "for a ground)",
                file=file,
                field="room.materials",
                value=_given(spec.materials),
            )
        return Room(kind="free_field")
    materials = _materials(spec.materials, kind=kind, file=file)
    if kind == "outdoor":
        return Room(kind="outdoor", materials=materials)
    if kind == "shoebox":
        if spec.size is None:
            raise SceneError(
                "missing; a shoebox room needs `size: [x, y, z]` in metres",
                file=file,
                field="room.size",
            )
        return Room(kind="shoebox", size=_triple(spec.size), materials=materials)
    if kind == "scan":
        return _scan_room(spec, materials, base_dir=base_dir, file=file)
    return _mesh_room(spec, materials, base_dir=base_dir, file=file)


def _scan_room(
    spec: RoomModel, materials: tuple[tuple[str, Material], ...], *, base_dir: Path, file: str
) -> Room:
    from scene.scan import SCAN_FILE, find_scan_file

    if spec.path is None:
        raise SceneError(
            f"missing; a scan room needs `path`, the scan's {SCAN_FILE} or its folder",
            file=file,
            field="room.path",
        )
    given = _resolve(spec.path, base_dir)
    found = find_scan_file(given)
    if found is None:
        problem = (
            f"no such file or folder ({given})"
            if not given.exists()
            else f"a scan is a folder holding {SCAN_FILE} (nerfstudio's format) or that file"
        )
        raise SceneError(problem, file=file, field="room.path", value=spec.path)
    # Imported here: fusing a scan needs Open3D, which other rooms never do.
    from scene.room_estimate import cached_scan_analysis

    estimate = cached_scan_analysis(found, up=spec.up, materials=materials).estimate
    # Rendered as the box of the floor plan, in the room's own frame.
    return Room(
        kind="shoebox",
        size=_triple(estimate.box_m),
        materials=materials,
        scan_path=found,
        scan_up=spec.up,
    )


def _mesh_room(
    spec: RoomModel, materials: tuple[tuple[str, Material], ...], *, base_dir: Path, file: str
) -> Room:
    if spec.path is None:
        raise SceneError(
            f"missing; a mesh room needs `path`, the mesh file ({', '.join(MESH_SUFFIXES)})",
            file=file,
            field="room.path",
        )
    mesh_path = _resolve(spec.path, base_dir)
    if mesh_path.suffix.lower() not in MESH_SUFFIXES:
        raise SceneError(
            f"mesh files must be {', '.join(MESH_SUFFIXES)}",
            file=file,
            field="room.path",
            value=spec.path,
        )
    if not mesh_path.is_file():
        raise SceneError(
            f"no such file ({mesh_path})", file=file, field="room.path", value=spec.path
        )
    # Imported here: reading meshes needs trimesh, which other rooms never do.
    from scene.mesh_io import read_mesh
    from scene.mesh_repair import prepare_mesh

    # The box of the repaired mesh (metres, z up): the same one perception analyses, and
    # the region the renderer checks positions against.
    mesh = prepare_mesh(read_mesh(mesh_path, up=spec.up, file=file), file=file)
    origin, extent = bounding_box(mesh.vertices)
    if spec.size is not None:
        extent = tuple(spec.size)
    elif min(extent) <= 0.0:
        raise SceneError(
            f"the mesh is flat (bounding box {_fmt(extent)} m); a room needs volume",
            file=file,
            field="room.path",
            value=spec.path,
        )
    return Room(
        kind="mesh",
        size=_triple(extent),
        materials=materials,
        mesh_path=mesh_path,
        origin=origin,
        mesh_up=spec.up,
    )


def _given(materials: MaterialsModel) -> dict[str, object]:
    return {k: v for k, v in materials.model_dump().items() if v is not None}


def _materials(
    spec: MaterialsModel | None, *, kind: str, file: str
) -> tuple[tuple[str, Material], ...]:
    given = _given(spec) if spec is not None else {}
    if kind == "outdoor":
        allowed = ("ground",)
    else:
        allowed = ("walls", "floor", "ceiling", *_WALLS)
    for key, value in given.items():
        if key not in allowed:
            raise SceneError(
                f"a {kind} room's materials are {', '.join(allowed)}",
                file=file,
                field=f"room.materials.{key}",
                value=value,
            )

    def material(key: str, fallback: str) -> Material:
        if key in given:
            return resolve_material(given[key], file=file, field=f"room.materials.{key}")
        if fallback in given:
            return resolve_material(given[fallback], file=file, field=f"room.materials.{fallback}")
        return resolve_material(DEFAULT_MATERIALS[fallback], file=file, field="room.materials")

    if kind == "outdoor":
        return (("ground", material("ground", "ground")),)
    # Specific walls override `walls`.
    return tuple(
        (surface, material(surface, "walls" if surface in _WALLS else surface))
        for surface in SHOEBOX_SURFACES
    )


def _triple(values: list[float] | tuple[float, ...]) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def _shown(values: list[float]) -> list[float | int]:
    """Numbers as the user most likely wrote them: pydantic turned 13 into 13.0."""
    return [int(v) if float(v).is_integer() else v for v in values]


def _fmt(values: tuple[float, ...]) -> str:
    return " x ".join(f"{v:g}" for v in values)


def _position(
    values: list[float], room: Room, *, file: str, field: str
) -> tuple[float, float, float]:
    point = _triple(values)
    if room.is_enclosed and room.size is not None:
        low = room.origin
        high = tuple(o + s for o, s in zip(room.origin, room.size, strict=True))
        # Strictly inside: a point on a wall has a coincident image source.
        if not all(lo < p < hi for p, lo, hi in zip(point, low, high, strict=True)):
            extent = ", ".join(
                f"{lo:g} < {axis} < {hi:g}" for axis, lo, hi in zip("xyz", low, high, strict=True)
            )
            raise SceneError(
                f"must be inside the room: {extent} (metres)",
                file=file,
                field=field,
                value=_shown(values),
            )
    elif room.kind == "outdoor" and point[2] < 0.0:
        raise SceneError(
            "must be above the ground outdoors: z >= 0 (metres)",
            file=file,
            field=field,
            value=_shown(values),
        )
    return point


def _sources(
    model: SceneFileModel,
    room: Room,
    listener: Pose,
    listener_trajectory: Trajectory | None,
    *,
    base_dir: Path,
    file: str,
) -> tuple[SourceSpec, ...]:
    out = []
    stems: dict[str, int] = {}
    for index, spec in enumerate(model.sources):
        field = f"sources[{index}]"
        position = None
        trajectory = _source_trajectory(
            spec, room, listener, listener_trajectory, file=file, field=field
        )
        if trajectory is not None:
            position = trajectory.start.position
        elif spec.position is not None:
            position = _position(spec.position, room, file=file, field=f"{field}.position")
            if math.dist(position, listener.position) < MIN_SOURCE_DISTANCE_M:
                raise SceneError(
                    f"is at the listener's position; a source must be at least "
                    f"{MIN_SOURCE_DISTANCE_M:g} m from the listener",
                    file=file,
                    field=f"{field}.position",
                    value=_shown(spec.position),
                )
        if spec.stem is not None:
            stem = spec.stem.strip()
            if stem in stems:
                raise SceneError(
                    f"this stem is already placed by sources[{stems[stem]}]; each stem once",
                    file=file,
                    field=f"{field}.stem",
                    value=spec.stem,
                )
            stems[stem] = index
            out.append(
                SourceSpec(
                    stem=stem, position=position, gain_db=spec.gain_db, trajectory=trajectory
                )
            )
            continue
        audio = _audio_file(str(spec.audio), base_dir=base_dir, file=file, field=f"{field}.audio")
        if position is None:
            raise SceneError(
                "missing; an audio source needs a position [x, y, z] in metres (only "
                "generated stems are placed automatically)",
                file=file,
                field=f"{field}.position",
            )
        out.append(
            SourceSpec(audio=audio, position=position, gain_db=spec.gain_db, trajectory=trajectory)
        )
    return tuple(out)


def _source_trajectory(
    spec: SourceModel,
    room: Room,
    listener: Pose,
    listener_trajectory: Trajectory | None,
    *,
    file: str,
    field: str,
) -> Trajectory | None:
    if spec.trajectory is None:
        if spec.position is not None and listener_trajectory is not None:
            _keep_apart(
                Trajectory(times_s=(0.0,), poses=(Pose(position=_triple(spec.position)),)),
                listener_trajectory,
                file=file,
                field=f"{field}.position",
            )
        return None
    if spec.position is not None:
        raise SceneError(
            "give either `position` or a `trajectory`, not both",
            file=file,
            field=f"{field}.position",
            value=_shown(spec.position),
        )
    times = _trajectory_times(spec.trajectory, file=file, field=f"{field}.trajectory")
    poses = tuple(
        Pose(
            position=_position(
                entry.position, room, file=file, field=f"{field}.trajectory[{i}].position"
            )
        )
        for i, entry in enumerate(spec.trajectory)
    )
    trajectory = Trajectory(times_s=times, poses=poses)
    path = listener_trajectory or Trajectory(times_s=(0.0,), poses=(listener,))
    _keep_apart(trajectory, path, file=file, field=f"{field}.trajectory")
    return trajectory


def _keep_apart(source: Trajectory, listener: Trajectory, *, file: str, field: str) -> None:
    # Between two consecutive times that either of them names, both move along straight
    # lines, so their separation is linear in time there: its closest approach is found
    # exactly, and a source may not pass through the head.
    times = sorted(set(source.times_s) | set(listener.times_s))
    previous = None
    for t in times:
        now = np.subtract(source.at(t).position, listener.at(t).position)
        candidates = [(t, now)]
        if previous is not None:
            t0, before = previous
            step = now - before
            span = float(step @ step)
            u = 0.0 if span == 0.0 else float(np.clip(-(before @ step) / span, 0.0, 1.0))
            candidates.append((t0 + u * (t - t0), before + u * step))
        for when, apart in candidates:
            distance = float(np.linalg.norm(apart))
            if distance < MIN_SOURCE_DISTANCE_M:
                raise SceneError(
                    f"comes within {distance:.2f} m of the listener at t = {when:.3g} s; a "
                    f"source must stay at least {MIN_SOURCE_DISTANCE_M:g} m from the listener",
                    file=file,
                    field=field,
                )
        previous = (t, now)


def _audio_file(relative: str, *, base_dir: Path, file: str, field: str) -> Path:
    audio = _resolve(relative, base_dir)
    if not audio.is_file():
        raise SceneError(f"no such audio file ({audio})", file=file, field=field, value=relative)
    import soundfile  # lazily: only scenes with audio files need it

    try:
        soundfile.info(str(audio))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as error:
        raise SceneError(
            f"cannot read this audio file (wav, flac or ogg expected): {error}",
            file=file,
            field=field,
            value=relative,
        ) from None
    return audio


def _frames(
    model: SceneFileModel, *, base_dir: Path, file: str
) -> tuple[Path | None, tuple[Path, ...]]:
    if model.environment is None or model.environment.frames is None:
        return None, ()
    relative = model.environment.frames
    folder = _resolve(relative, base_dir)
    field = "environment.frames"
    if not folder.is_dir():
        problem = "is a file; give the folder of images" if folder.exists() else "no such folder"
        raise SceneError(f"{problem} ({folder})", file=file, field=field, value=relative)
    frames = tuple(
        sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
        )
    )
    if not frames:
        raise SceneError(
            f"the folder holds no camera images ({', '.join(FRAME_SUFFIXES)})",
            file=file,
            field=field,
            value=relative,
        )
    return folder, frames
