"""How a standing headset wearer's head moves, for the benchmarks: it sways."""

from __future__ import annotations

import math

__all__ = ["sway"]


def sway(t: float, cm: float) -> tuple[float, float]:
    """The head's offset at ``t`` seconds, swaying +-``cm`` side to side (0.3 Hz) and half
    that front to back (0.2 Hz): (side, front), metres."""
    side = 0.01 * cm * math.sin(2 * math.pi * 0.3 * t)
    front = 0.005 * cm * math.sin(2 * math.pi * 0.2 * t)
    return side, front
