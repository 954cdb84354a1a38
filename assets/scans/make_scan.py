"""Write the shipped synthetic RGB-D scan: ``assets/scans/room/`` (nerfstudio transforms.json).

The room is an empty 5 x 4 m room, 2.7 m high (its floor plan is ``PLAN``, its height
``HEIGHT``), scanned as a phone's LiDAR would (:data:`scene.synthetic_scan.PHONE_LIDAR`:
256 x 192 depth, range-dependent noise, dropouts, pose error of the tracking) by a person
standing in its middle and turning through ``HEADINGS`` directions, looking down at the
floor, level and up at the ceiling in turn. The world is y-up, as ARKit's.

Deterministic: ``python assets/scans/make_scan.py`` writes the same files again (the
tests check that a fresh render matches the files to a millimetre).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from scene.synthetic_scan import SyntheticRoom, room_from_plan, walk_poses, write_scan

#: Floor plan of the room, m, counter-clockwise.
PLAN = np.array([(0.0, 0.0), (5.0, 0.0), (5.0, 4.0), (0.0, 4.0)])

#: Floor to ceiling, m.
HEIGHT = 2.7

#: Directions the camera turns through, from the middle of the room.
HEADINGS = 8

#: Seed of the noise and the pose errors.
SEED = 7

FOLDER = Path(__file__).resolve().parent / "room"


def room() -> SyntheticRoom:
    """The scanned room."""
    return room_from_plan(PLAN, HEIGHT)


def poses() -> list[np.ndarray]:
    """True camera poses (camera to world, OpenCV axes, z up)."""
    return walk_poses(room(), spacing_m=10.0, headings=HEADINGS)


def write(folder: Path = FOLDER) -> Path:
    """Render the scan into ``folder`` (replaced whole); return its transforms.json."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then swapped in: never half a scan.
    staging = Path(tempfile.mkdtemp(prefix=".scan-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp's folders are private
    try:
        write_scan(staging, room(), poses(), seed=SEED)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder / "transforms.json"


if __name__ == "__main__":
    print(write())
