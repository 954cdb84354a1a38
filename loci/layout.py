"""Automatic placement of stems around the listener, like a small band on a stage.

A stem with no position in the scene file gets one here: melodic parts on an arc in front
of the listener (the way a listener faces a band), ambiences farther out, everything kept
inside an enclosed room with a margin from the walls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scene.model import Pose, Room

__all__ = ["Placement", "place_stem"]

# (azimuth degrees, distance metres, height above the listener's ear metres) per role.
# Azimuths are spread so that no two parts share a direction: localisation stays clear.
_ROLE_SLOTS: dict[str, tuple[float, float, float]] = {
    "melody": (15.0, 2.5, 0.0),
    "harmony": (-35.0, 3.0, -0.2),
    "bass": (-10.0, 3.5, -0.5),
    "drums": (40.0, 3.5, -0.4),
    # The singer stands front and centre, nearest, like a band's lead vocalist.
    "vocal": (0.0, 2.0, 0.0),
    # MusicGen's audio: one source ahead, or a stereo pair at +-30 degrees (ITU-R BS.775).
    "music": (0.0, 3.0, 0.0),
    "music_left": (30.0, 3.0, 0.0),
    "music_right": (-30.0, 3.0, 0.0),
}
_AMBIENCE_DISTANCE_OUTDOOR_M = 12.0
_AMBIENCE_DISTANCE_INDOOR_M = 6.0
_WALL_MARGIN_M = 0.5
_MIN_HEIGHT_M = 0.3


@dataclass(frozen=True)
class Placement:
    """Where a stem sounds from, and why (for the report)."""

    position: tuple[float, float, float]
    azimuth_deg: float
    distance_m: float
    reason: str


def place_stem(
    role: str, *, index: int, listener: Pose, room: Room, ambience_index: int = 0
) -> Placement:
    """Place one stem relative to the listener.

    Parameters
    ----------
    role
        The stem's role (``melody``, ``harmony``, ``bass``, ``drums``, ``ambience``, ...).
    index
        Position of the stem in the plan, used to spread parts of unknown roles.
    listener
        The listener's pose; azimuths are relative to the listener's yaw.
    room
        Positions are clamped inside enclosed rooms and above the ground outdoors.
    ambience_index
        Which ambience this is, so that several ambiences spread out (0 is straight ahead).

    Returns
    -------
    Placement
        World position in metres (z up).
    """
    if role == "ambience":
        azimuth = (0.0, 70.0, -70.0, 150.0, -150.0)[ambience_index % 5]
        distance = _AMBIENCE_DISTANCE_INDOOR_M if room.is_enclosed else _AMBIENCE_DISTANCE_OUTDOOR_M
        height = 0.0
        reason = "ambience: far and wide, in front first"
    elif role in _ROLE_SLOTS:
        azimuth, distance, height = _ROLE_SLOTS[role]
        reason = f"{role}: stage slot in front of the listener"
    else:
        azimuth = 60.0 - 30.0 * (index % 5)
        distance, height = 3.0, 0.0
        reason = f"{role}: spread on the front arc"
    # Near a wall the slot may fall outside the room; then the mirrored and the opposite
    # directions are tried, so that a part never ends up on top of the listener.
    best: Placement | None = None
    for candidate in (azimuth, -azimuth, 180.0 - azimuth, azimuth + 180.0):
        position = _keep_inside(_at(listener, candidate, distance, height), room)
        actual = math.dist(position, listener.position)
        if best is None or actual > best.distance_m + 1e-9:
            best = Placement(position, candidate, actual, reason)
        if actual >= 0.6 * distance:
            break
    assert best is not None  # the loop runs at least once
    return best


def _at(listener: Pose, azimuth: float, distance: float, height: float) -> tuple[float, ...]:
    heading = math.radians(listener.yaw_deg + azimuth)
    x0, y0, z0 = listener.position
    return (
        x0 + distance * math.cos(heading),
        y0 + distance * math.sin(heading),
        max(z0 + height, _MIN_HEIGHT_M),
    )


def _keep_inside(position: tuple[float, ...], room: Room) -> tuple[float, float, float]:
    """Clamp a point into an enclosed room's box with a margin from every surface."""
    if not room.is_enclosed or room.size is None:
        return (position[0], position[1], position[2])
    clamped = []
    for value, low, extent in zip(position, room.origin, room.size, strict=True):
        margin = min(_WALL_MARGIN_M, extent / 4.0)
        clamped.append(min(max(value, low + margin), low + extent - margin))
    return (clamped[0], clamped[1], clamped[2])
