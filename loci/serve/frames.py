"""Camera frames of a live session: decoded, measured, smoothed, and judged for a change.

Each frame's colour features (:func:`scene.frames.frame_features`) and the median of its
depth image are smoothed with a time constant of a few seconds, so that a glance at a
lamp or a passing person changes nothing. A real change of place (a dark corridor after a
bright hall, a much larger or smaller room in the depth) is reported once the smoothed
values have moved far from those the music was planned with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from loci.serve.protocol import FrameMessage, ProtocolError
from scene.environment import Environment, Feature
from scene.frames import frame_features
from scene.perception import FRAME_CONFIDENCE

__all__ = ["PLACE_CHANGE", "FrameMeter", "Measured", "measure_frame"]

#: How far the smoothed features must move from those the music was planned with to count
#: as a new place: brightness (0..1), warmth (-1..1), and a factor of the depth median.
PLACE_CHANGE = {"brightness": 0.2, "warmth": 0.15, "depth_factor": 1.8}
_TIME_CONSTANT_S = 3.0
_MIN_FRAMES = 3
_MIN_INTERVAL_S = 8.0
_MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class Measured:
    """What one frame says: colour features and the median depth (m, None without depth)."""

    t: float
    brightness: float
    warmth: float
    colourfulness: float
    saturation: float
    depth_median_m: float | None


def measure_frame(frame: FrameMessage) -> Measured:
    """Decode a frame's image and measure it (runs in a thread: OpenCV releases the GIL).

    Raises
    ------
    ProtocolError
        ``bad_message`` when the bytes are not an image of the announced format.
    """
    data = np.frombuffer(frame.image, dtype=np.uint8)
    kind = frame.header.image.format
    magic_ok = (kind == "jpeg" and frame.image[:2] == b"\xff\xd8") or (
        kind == "png" and frame.image[:8] == b"\x89PNG\r\n\x1a\n"
    )
    if not magic_ok:
        raise ProtocolError("bad_message", f"frame: image: the bytes are not a {kind} image")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.size > 3 * _MAX_PIXELS:
        raise ProtocolError("bad_message", f"frame: image: the {kind} image cannot be decoded")
    features = frame_features(image)
    depth = None
    if frame.depth_m is not None:
        valid = frame.depth_m[frame.depth_m > 0]
        depth = float(np.median(valid)) if valid.size else None
    return Measured(
        frame.header.t,
        features.brightness,
        features.warmth,
        features.colourfulness,
        features.saturation,
        depth,
    )


class FrameMeter:
    """The smoothed view of a session's camera, and the values the music was planned with."""

    def __init__(self) -> None:
        self._state: dict[str, float] = {}
        self._last_t: float | None = None
        self._planned: dict[str, float] | None = None
        self._planned_t = -math.inf
        self.count = 0

    def add(self, measured: Measured) -> None:
        """Fold one frame in (exponential smoothing over the frames' own timestamps)."""
        values = {
            "brightness": measured.brightness,
            "warmth": measured.warmth,
            "colourfulness": measured.colourfulness,
            "saturation": measured.saturation,
        }
        if measured.depth_median_m is not None:
            values["log_depth"] = math.log(max(measured.depth_median_m, 0.05))
        if self._last_t is None:
            weight = 1.0
        else:
            dt = max(0.0, measured.t - self._last_t)
            weight = 1.0 - math.exp(-dt / _TIME_CONSTANT_S) if dt > 0 else 0.3
        for name, value in values.items():
            old = self._state.get(name)
            self._state[name] = value if old is None else old + weight * (value - old)
        self._last_t = measured.t
        self.count += 1

    def environment(self, base: Environment) -> Environment:
        """E with the smoothed colour features of the frames in place of the base's."""
        if not self._state:
            return base
        source = f"frames: live, {self.count} frames smoothed over {_TIME_CONSTANT_S:g} s"
        s = self._state
        return replace(
            base,
            brightness=Feature(round(s["brightness"], 4), "0..1", source, FRAME_CONFIDENCE),
            warmth=Feature(round(s["warmth"], 4), "-1..1", source, FRAME_CONFIDENCE),
            colourfulness=Feature(
                round(s["colourfulness"], 2), "Hasler-Suesstrunk", source, FRAME_CONFIDENCE
            ),
            saturation=Feature(round(s["saturation"], 4), "0..1", source, FRAME_CONFIDENCE),
        )

    def planned(self, t: float) -> None:
        """Record that the music was just planned with the current values (at frame time t)."""
        self._planned = dict(self._state)
        self._planned_t = t

    def change(self) -> str | None:
        """A description of how the place changed since the music was planned, or None."""
        if self.count < _MIN_FRAMES or self._last_t is None:
            return None
        if self._planned is None:
            self.planned(self._last_t)
            return None
        if self._last_t - self._planned_t < _MIN_INTERVAL_S:
            return None
        was, now = self._planned, self._state
        reasons = []
        for name in ("brightness", "warmth"):
            if name in was and abs(now[name] - was[name]) > PLACE_CHANGE[name]:
                reasons.append(f"{name} {was[name]:.2f} -> {now[name]:.2f}")
        if "log_depth" in was and "log_depth" in now:
            factor = math.exp(abs(now["log_depth"] - was["log_depth"]))
            if factor > PLACE_CHANGE["depth_factor"]:
                before, after = math.exp(was["log_depth"]), math.exp(now["log_depth"])
                reasons.append(f"depth {before:.1f} m -> {after:.1f} m")
        return "; ".join(reasons) or None
