"""The world as the scene file describes it: room, materials, listener, sources.

Conventions (see docs/architecture.md): SI units, right-handed, z up. Yaw in degrees,
counter-clockwise seen from above; yaw 0 faces +x, 90 faces +y. A shoebox room spans
``[0, Lx] x [0, Ly] x [0, Lz]`` with the floor at z = 0; outdoors the ground is z = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "BANDS_HZ",
    "MUSIC_MODES",
    "SHOEBOX_SURFACES",
    "Material",
    "MusicOverrides",
    "Pose",
    "Room",
    "RoomKind",
    "Scene",
    "SourceSpec",
    "Trajectory",
]

#: Octave-band centre frequencies (Hz) of every absorption table in the project; the same
#: bands as pyroomacoustics' materials database.
BANDS_HZ: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)

#: The six faces of a shoebox room: walls at x = 0 (west), x = Lx (east), y = 0 (south),
#: y = Ly (north), the floor (z = 0) and the ceiling (z = Lz).
SHOEBOX_SURFACES: tuple[str, ...] = ("west", "east", "south", "north", "floor", "ceiling")

RoomKind = Literal["free_field", "outdoor", "shoebox", "mesh"]


@dataclass(frozen=True)
class Material:
    """A surface's energy absorption per octave band.

    Attributes
    ----------
    name
        Database name (e.g. ``"brickwork"``) or ``"alpha=0.30"`` for a plain number.
    absorption
        Energy absorption coefficient in [0, 1] for each band of :data:`BANDS_HZ`.
    source
        Where the numbers come from (database, literature, or "scene file").
    """

    name: str
    absorption: tuple[float, ...]
    source: str = "scene file"


@dataclass(frozen=True)
class Pose:
    """A position (metres) and a heading: yaw (degrees, 0 faces +x) and pitch (degrees, up)."""

    position: tuple[float, float, float]
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0


@dataclass(frozen=True)
class Trajectory:
    """Timed poses of a listener or a source, interpolated linearly between them.

    Positions move along straight lines, yaw turns the shorter way round (350 to 10
    degrees passes through 0), pitch changes linearly; before the first time the first
    pose holds, after the last the last. Nothing here models Doppler: a renderer hears
    each moment's pose.

    Attributes
    ----------
    times_s
        Strictly increasing, seconds from the start of the scene, >= 0.
    poses
        One :class:`Pose` per time (a source's yaw and pitch are 0 and unused).
    """

    times_s: tuple[float, ...]
    poses: tuple[Pose, ...]

    def __post_init__(self) -> None:
        if len(self.times_s) != len(self.poses) or not self.times_s:
            raise ValueError(
                f"a trajectory needs one pose per time and at least one; got "
                f"{len(self.times_s)} times and {len(self.poses)} poses"
            )
        for i, t in enumerate(self.times_s):
            if not (math.isfinite(t) and t >= 0.0):
                raise ValueError(f"times_s[{i}]={t} must be a finite number of seconds >= 0")
            if i and t <= self.times_s[i - 1]:
                raise ValueError(
                    f"times_s[{i}]={t} must come after times_s[{i - 1}]={self.times_s[i - 1]}"
                )

    @property
    def start(self) -> Pose:
        """The pose at t = 0 (the first one, held until its time)."""
        return self.poses[0]

    def at(self, t_s: float) -> Pose:
        """The interpolated pose at time ``t_s`` (seconds)."""
        times = self.times_s
        if t_s <= times[0]:
            return self.poses[0]
        if t_s >= times[-1]:
            return self.poses[-1]
        k = 1
        while times[k] < t_s:
            k += 1
        a, b = self.poses[k - 1], self.poses[k]
        u = (t_s - times[k - 1]) / (times[k] - times[k - 1])
        position = tuple(p + u * (q - p) for p, q in zip(a.position, b.position, strict=True))
        turn = (b.yaw_deg - a.yaw_deg + 180.0) % 360.0 - 180.0
        return Pose(
            position=position,  # type: ignore[arg-type]
            yaw_deg=a.yaw_deg + u * turn,
            pitch_deg=a.pitch_deg + u * (b.pitch_deg - a.pitch_deg),
        )


@dataclass(frozen=True)
class Room:
    """The acoustic space.

    Attributes
    ----------
    kind
        ``free_field`` (direct sound only), ``outdoor`` (direct sound, a ground reflection,
        air absorption), ``shoebox`` (a rectangular room) or ``mesh`` (a mesh file, heard through
        its own triangles and per-face materials: spatial.mesh_room).
    size
        (Lx, Ly, Lz) in metres for ``shoebox`` and ``mesh`` (the bounding box); None otherwise.
    materials
        Surface name -> :class:`Material`. Shoebox: the six names of
        :data:`SHOEBOX_SURFACES`; outdoor: ``"ground"``; free field: empty.
    mesh_path
        The mesh file for ``kind == "mesh"``.
    origin
        World coordinates of the room's (0, 0, 0) corner; (0, 0, 0) for a shoebox.
    mesh_up
        The axis that points up in the mesh file, as the scene file gives it (``"z"`` or
        ``"y"``); None for the format's own (y for glTF, z otherwise).
    scan_path
        The ``transforms.json`` of an RGB-D scan for a scene file's ``kind: scan`` room.
        Such a room is rendered as a ``shoebox``: the box of the floor plan the scan shows,
        in the room's own frame (see :mod:`scene.room_estimate`); perception and the late
        reverberation use the scan's own floor plan and height.
    scan_up
        The scan world's up axis as the scene file gives it; None to infer it.
    """

    kind: RoomKind
    size: tuple[float, float, float] | None = None
    materials: tuple[tuple[str, Material], ...] = ()
    mesh_path: Path | None = None
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mesh_up: Literal["z", "y"] | None = None
    scan_path: Path | None = None
    scan_up: Literal["z", "y"] | None = None

    def material(self, surface: str) -> Material:
        """Return the material of one surface (KeyError naming the surface if absent)."""
        for name, material in self.materials:
            if name == surface:
                return material
        raise KeyError(f"room has no surface {surface!r}; it has {[n for n, _ in self.materials]}")

    @property
    def is_enclosed(self) -> bool:
        """True for rooms with walls and a ceiling (shoebox, mesh)."""
        return self.kind in ("shoebox", "mesh")


@dataclass(frozen=True)
class SourceSpec:
    """One sound source of the scene file: a generated stem or an audio file.

    Exactly one of ``stem`` and ``audio`` is set. ``position`` is None when the stem is to
    be placed by the automatic layout. A moving source has a ``trajectory``; its
    ``position`` is then the trajectory's first.
    """

    stem: str | None = None
    audio: Path | None = None
    position: tuple[float, float, float] | None = None
    gain_db: float = 0.0
    trajectory: Trajectory | None = None


#: Modes a scene file may ask for; the same as generation's (a project test checks).
MUSIC_MODES: tuple[str, ...] = (
    "major",
    "minor",
    "dorian",
    "phrygian",
    "mixolydian",
    "major_pentatonic",
    "minor_pentatonic",
    "gong",
    "shang",
    "jue",
    "zhi",
    "yu",
)


@dataclass(frozen=True)
class MusicOverrides:
    """Explicit musical values from the scene file's ``music`` section.

    Each one set wins over what the words and the place would choose.

    Attributes
    ----------
    tempo_bpm
        Beats per minute.
    key_tonic, mode
        E.g. ``"D"`` and ``"minor"``; both set or both None.
    meter
        (beats per bar, beat unit), e.g. (3, 4).
    loop
        Make a seamless loop.
    """

    tempo_bpm: float | None = None
    key_tonic: str | None = None
    mode: str | None = None
    meter: tuple[int, int] | None = None
    loop: bool = False


@dataclass(frozen=True)
class Scene:
    """A validated scene file. Paths are absolute (resolved against the file's folder).

    Attributes
    ----------
    path
        The scene file, or None for a scene built in code.
    instruction
        What the user asked for, in any supported language; None generates no music.
    duration_s
        Length of the rendered mix, seconds.
    seed
        Seed of every random choice.
    room, listener, sources
        See :class:`Room`, :class:`Pose`, :class:`SourceSpec`.
    frames_dir
        Folder of camera images for perception, or None.
    frames
        The image files found in ``frames_dir``, sorted by name.
    place
        Words for the place given by the scene file's author (``environment.place``), e.g.
        ``("beach",)``; they complement what perception finds. Empty when not given.
    music
        Explicit musical values (``music`` in the file) that win over words and place.
    lyrics
        Sing lyrics on the melody (``lyrics: true``): a ``vocal`` stem, lyrics.txt,
        lyrics.lrc and score.musicxml.
    given_features
        Environment features the scene file gives (``environment.features``), as (name,
        value) pairs; each replaces the measured one in E.
    listener_trajectory
        Timed poses of a moving listener (``listener.trajectory``); ``listener`` is then
        its first pose. None for a listener who stays put.
    """

    duration_s: float
    room: Room
    listener: Pose
    instruction: str | None = None
    seed: int = 0
    sources: tuple[SourceSpec, ...] = ()
    frames_dir: Path | None = None
    frames: tuple[Path, ...] = field(default=())
    path: Path | None = None
    place: tuple[str, ...] = ()
    music: MusicOverrides = field(default_factory=MusicOverrides)
    lyrics: bool = False
    given_features: tuple[tuple[str, float], ...] = ()
    listener_trajectory: Trajectory | None = None
