"""Pydantic models of scene file version 1, and their errors turned into one-line SceneErrors.

The models check structure, types and ranges only: a string is never taken for a number
(``duration: "abc"`` is an error, not a conversion), unknown keys are errors, and numbers
must be finite. What depends on more than one field or on the disk (positions inside the
room, files that must exist, material names) is checked by :mod:`scene.loader`, which
names the field just as precisely.

See docs/scene-format.md for the format as users read it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from scene.errors import SceneError
from scene.model import MUSIC_MODES

__all__ = [
    "MAX_DURATION_S",
    "EnvironmentModel",
    "ListenerModel",
    "ListenerPoseModel",
    "MaterialsModel",
    "MusicModel",
    "RoomModel",
    "SceneFileModel",
    "SourceModel",
    "SourcePointModel",
    "to_scene_error",
    "validate_scene_data",
]

#: Longest scene, seconds (one hour).
MAX_DURATION_S = 3600.0

# Strict: an int is accepted where a float is asked for, a string or a bool never is.
Number = StrictFloat
Position = Annotated[list[Number], Field(min_length=3, max_length=3)]
Size = Annotated[list[Annotated[Number, Field(gt=0)]], Field(min_length=3, max_length=3)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class MaterialsModel(_Model):
    """Materials per surface; the values are checked by :func:`scene.materials.resolve_material`."""

    walls: Any = None
    floor: Any = None
    ceiling: Any = None
    west: Any = None
    east: Any = None
    south: Any = None
    north: Any = None
    ground: Any = None


class RoomModel(_Model):
    """``room``: the acoustic space."""

    kind: Literal["free_field", "outdoor", "shoebox", "mesh", "scan"]
    size: Size | None = None
    materials: MaterialsModel | None = None
    path: StrictStr | None = None
    up: Literal["z", "y"] | None = None


Seconds = Annotated[Number, Field(ge=0.0, le=MAX_DURATION_S)]


class ListenerPoseModel(_Model):
    """One entry of ``listener.trajectory``: a time (s) and a pose."""

    t: Seconds
    position: Position
    yaw: Number = 0.0
    pitch: Annotated[Number, Field(ge=-90.0, le=90.0)] = 0.0


class SourcePointModel(_Model):
    """One entry of ``sources[].trajectory``: a time (s) and a position."""

    t: Seconds
    position: Position


class ListenerModel(_Model):
    """``listener``: where the listener stands and where they look (degrees), or a
    ``trajectory`` of timed poses (checked against each other by the loader)."""

    position: Position | None = None
    yaw: Number = 0.0
    pitch: Annotated[Number, Field(ge=-90.0, le=90.0)] = 0.0
    trajectory: Annotated[list[ListenerPoseModel], Field(min_length=1)] | None = None


class SourceModel(_Model):
    """One entry of ``sources``: a generated stem or an audio file."""

    stem: StrictStr | None = None
    audio: StrictStr | None = None
    position: Position | None = None
    gain_db: Annotated[Number, Field(ge=-100.0, le=24.0)] = 0.0
    trajectory: Annotated[list[SourcePointModel], Field(min_length=1)] | None = None

    @field_validator("stem", "audio")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _stem_xor_audio(self) -> SourceModel:
        if (self.stem is None) == (self.audio is None):
            raise ValueError(
                "a source needs exactly one of `stem` (a generated part) and `audio` (a file)"
            )
        return self


class EnvironmentModel(_Model):
    """``environment``: inputs to perception."""

    frames: StrictStr | None = None
    place: tuple[str, ...] = ()
    # Names and ranges are checked by scene.loader, which names the feature.
    features: dict[StrictStr, Number] = {}

    @field_validator("place", mode="before")
    @classmethod
    def _words(cls, value: object) -> tuple[str, ...]:
        words = [value] if isinstance(value, str) else value
        if not isinstance(words, list | tuple) or not all(
            isinstance(w, str) and w.strip() for w in words
        ):
            raise ValueError("must be a word or a list of words for the place, e.g. beach")
        return tuple(w.strip() for w in words)


_KEY = re.compile(r"^([A-G][#b]?)\s+(" + "|".join(MUSIC_MODES) + r")$")
_METER = re.compile(r"^([1-9][0-9]?)/(1|2|4|8|16)$")


class MusicModel(_Model):
    """``music``: explicit values that win over the words and the place."""

    tempo_bpm: Annotated[Number, Field(ge=30.0, le=240.0)] | None = None
    key: StrictStr | None = None
    meter: StrictStr | None = None
    loop: StrictBool = False

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not _KEY.match(value.strip()):
            raise ValueError(
                "must be a tonic A-G (with # or b) and a mode, e.g. 'D minor'; modes: "
                + ", ".join(MUSIC_MODES)
            )
        return None if value is None else value.strip()

    @field_validator("meter")
    @classmethod
    def _meter(cls, value: str | None) -> str | None:
        if value is not None and not _METER.match(value.strip()):
            raise ValueError("must be beats/unit, e.g. 3/4 or 6/8")
        return None if value is None else value.strip()


class SceneFileModel(_Model):
    """A scene file, version 1."""

    version: Literal[1] = 1
    instruction: StrictStr | None = None
    duration: Annotated[Number, Field(gt=0.0, le=MAX_DURATION_S)]
    seed: Annotated[StrictInt, Field(ge=0)] = 0
    room: RoomModel
    listener: ListenerModel
    sources: list[SourceModel] = []
    environment: EnvironmentModel | None = None
    music: MusicModel | None = None
    lyrics: StrictBool = False

    @field_validator("instruction")
    @classmethod
    def _instruction_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave `instruction` out for no music")
        return None if value is None else value.strip()


# What is allowed, per field, as the user reads it; list indices are written "[]".
_HELP: dict[str, str] = {
    "version": "the only scene file version is 1",
    "instruction": "must be text in any language, or left out for no music",
    "duration": f"must be a number of seconds, > 0 and <= {MAX_DURATION_S:g}",
    "seed": "must be a whole number >= 0",
    "room": "must be a mapping with `kind` (free_field, outdoor, shoebox, mesh or scan)",
    "room.kind": "must be one of free_field, outdoor, shoebox, mesh, scan",
    "room.size": "must be 3 numbers [x, y, z] in metres, each > 0",
    "room.materials": "must be a mapping of surface -> material (see docs/scene-format.md)",
    "room.path": "must be the path of the mesh file (or of the scan's transforms.json or its "
    "folder), relative to the scene file",
    "room.up": "must be z or y: the axis that points up in the mesh file or the scan's world",
    "listener": "must be a mapping with `position` [x, y, z] and optional `yaw`, `pitch`, "
    "or a `trajectory`",
    "listener.trajectory": "must be a list of timed poses, each {t, position, yaw, pitch}",
    "listener.trajectory[]": "must be a mapping with `t` (s), `position` [x, y, z] and "
    "optional `yaw`, `pitch` (degrees)",
    "listener.trajectory[].t": f"must be a number of seconds from 0 to {MAX_DURATION_S:g}",
    "listener.trajectory[].position": "must be 3 finite numbers [x, y, z] in metres",
    "listener.trajectory[].yaw": "must be a number of degrees (0 faces +x, 90 faces +y)",
    "listener.trajectory[].pitch": "must be a number of degrees from -90 to 90",
    "listener.position": "must be 3 finite numbers [x, y, z] in metres",
    "listener.yaw": "must be a number of degrees (0 faces +x, 90 faces +y)",
    "listener.pitch": "must be a number of degrees from -90 to 90 (positive looks up)",
    "sources": "must be a list of sources, each with `stem` or `audio`",
    "sources[]": "must be a mapping with `stem` or `audio`, and `position`",
    "sources[].stem": "must be the name of a generated part: melody, harmony, bass, drums, "
    "or an ambience such as sea",
    "sources[].audio": "must be the path of a wav/flac/ogg file, relative to the scene file",
    "sources[].position": "must be 3 finite numbers [x, y, z] in metres",
    "sources[].gain_db": "must be a number of decibels from -100 to 24",
    "sources[].trajectory": "must be a list of timed positions, each {t, position}",
    "sources[].trajectory[]": "must be a mapping with `t` (s) and `position` [x, y, z]",
    "sources[].trajectory[].t": f"must be a number of seconds from 0 to {MAX_DURATION_S:g}",
    "sources[].trajectory[].position": "must be 3 finite numbers [x, y, z] in metres",
    "environment": "must be a mapping with optional `frames`, `place` and `features`",
    "environment.frames": "must be the path of a folder of camera images (jpg/png)",
    "environment.place": "must be a word or a list of words for the place, e.g. beach",
    "environment.features": "must be a mapping of feature name -> number, e.g. {brightness: 0.8}",
    "music": "must be a mapping with optional `tempo_bpm`, `key`, `meter`, `loop`",
    "music.tempo_bpm": "must be a number of beats per minute from 30 to 240",
    "music.key": "must be a tonic A-G (with # or b) and a mode, e.g. 'D minor'; modes: "
    + ", ".join(MUSIC_MODES),
    "music.meter": "must be beats/unit, e.g. 3/4 or 6/8",
    "music.loop": "must be true or false",
    "lyrics": "must be true (sing lyrics on the melody) or false",
}

# Which model's keys are allowed under a field, for "unknown key" messages.
_MODELS: dict[str, type[BaseModel]] = {
    "": SceneFileModel,
    "room": RoomModel,
    "room.materials": MaterialsModel,
    "listener": ListenerModel,
    "listener.trajectory[]": ListenerPoseModel,
    "sources[]": SourceModel,
    "sources[].trajectory[]": SourcePointModel,
    "environment": EnvironmentModel,
    "music": MusicModel,
}


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``("sources", 1, "audio")`` -> ``"sources[1].audio"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pattern(field: str) -> str:
    return re.sub(r"\[\d+\]", "[]", field)


def _help(field: str) -> str | None:
    pattern = _pattern(field)
    if pattern.startswith("environment.features."):
        return "must be a number (see docs/scene-format.md for each feature's range)"
    while pattern:
        if pattern in _HELP:
            return _HELP[pattern]
        # An element of a list (``listener.position[1]``) shares its list's help.
        if not pattern.endswith("[]"):
            return None
        pattern = pattern[:-2]
    return None


def to_scene_error(error: ValidationError, *, file: str | Path | None) -> SceneError:
    """Turn pydantic's first validation error into a one-line :class:`SceneError`.

    Parameters
    ----------
    error
        Raised by validating a scene file's data against :class:`SceneFileModel`.
    file
        The scene file, named in the message.

    Returns
    -------
    SceneError
        Naming the field as a dotted path (``room.size[2]``), the value given and, in plain
        words, what is allowed.
    """
    first = error.errors()[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    field = _dotted(loc)
    value = first.get("input")
    help_text = _help(field)
    if kind == "extra_forbidden":
        parent = _MODELS.get(_pattern(_dotted(loc[:-1])))
        allowed = ", ".join(parent.model_fields) if parent else "see docs/scene-format.md"
        return SceneError(f"unknown key; allowed keys here: {allowed}", file=file, field=field)
    if kind == "missing":
        problem = f"missing; {help_text}" if help_text else "missing; it is required"
        return SceneError(problem, file=file, field=field)
    if kind == "value_error":
        # Our own validators' messages, already in plain words.
        problem = str(first.get("ctx", {}).get("error", first["msg"]))
    elif help_text is not None:
        problem = help_text
    else:
        problem = first["msg"][:1].lower() + first["msg"][1:]
    return SceneError(problem, file=file, field=field or None, value=value)


def validate_scene_data(data: dict, *, file: str | Path | None) -> SceneFileModel:
    """Validate a scene file's data (already parsed from YAML or JSON).

    Raises
    ------
    SceneError
        For the first problem found, naming the file and field.
    """
    try:
        return SceneFileModel.model_validate(data)
    except ValidationError as error:
        raise to_scene_error(error, file=file) from None
