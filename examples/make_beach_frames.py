"""Draw the camera frames of examples/beach.yaml: a bright, warm beach in the sun.

Three small frames (320 x 240) of a sky gradient, the sun, a band of sea with a little
swell and wet sand, and warm dry sand, the camera panning slightly between them. The
script is their source; it is deterministic (seeded noise, no clock), so running it again
writes the same pictures. Made by the project, CC0 (see examples/README.md).

    python examples/make_beach_frames.py            # writes examples/beach_frames/*.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 320, 240
N_FRAMES = 3
JPEG_QUALITY = 90
OUT_DIR = Path(__file__).resolve().parent / "beach_frames"

# Colours as (R, G, B), 0..255.
SKY_TOP = np.array([70, 140, 225.0])
SKY_HORIZON = np.array([250, 225, 195.0])
SEA_FAR = np.array([20, 110, 160.0])
SEA_NEAR = np.array([60, 180, 190.0])
WET_SAND = np.array([175, 150, 110.0])
DRY_SAND = np.array([245, 200, 140.0])
SUN = np.array([255, 250, 225.0])


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


def make_frame(index: int, *, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Draw frame ``index`` of the beach.

    Parameters
    ----------
    index
        Frame number; each pans the view a little to the right and moves the swell.
    width, height
        Size in pixels.

    Returns
    -------
    numpy.ndarray
        Shape (height, width, 3), uint8, B, G, R (OpenCV's order).
    """
    rng = np.random.default_rng(1000 + index)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x = x + 12.0 * index  # the camera pans
    horizon = 0.32 * height
    shore = 0.46 * height + 3.0 * np.sin(x / width * 2.0 * np.pi + index)

    image = _mix(SKY_TOP, SKY_HORIZON, np.clip(y / horizon, 0.0, 1.0))
    sea_t = np.clip((y - horizon) / (shore - horizon), 0.0, 1.0)
    swell = 0.08 * np.sin(x / 9.0 + y / 3.0 + 1.7 * index)
    sea = _mix(SEA_FAR, SEA_NEAR, sea_t) * (1.0 + swell[..., None])
    image = np.where((y >= horizon)[..., None], sea, image)
    sand_t = np.clip((y - shore) / (height - shore) * 3.0, 0.0, 1.0)
    sand = _mix(WET_SAND, DRY_SAND, sand_t)
    sand = sand * (1.0 + 0.06 * rng.standard_normal((height, width)))[..., None]
    image = np.where((y >= shore)[..., None], sand, image)

    # The sun with a soft glow, high on the left; fixed in the world, so it drifts left
    # in the picture as the camera pans right.
    sun_x, sun_y, radius = 0.3 * width, 0.12 * height, 14.0
    distance = np.hypot(x - sun_x, y - sun_y)
    glow = np.exp(-np.maximum(distance - radius, 0.0) / 18.0)
    image = _mix(image, np.broadcast_to(SUN, image.shape), glow * (y < horizon))

    rgb = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[..., ::-1])


def encode(frame_bgr: np.ndarray) -> bytes:
    """JPEG bytes of a frame, at a fixed quality so that runs agree."""
    ok, data = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode the frame as JPEG")
    return data.tobytes()


def write_frames(out_dir: Path = OUT_DIR) -> list[Path]:
    """Write the frames as ``beach_00.jpg`` ... into ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(N_FRAMES):
        path = out_dir / f"beach_{index:02d}.jpg"
        path.write_bytes(encode(make_frame(index)))
        paths.append(path)
    return paths


def main() -> None:
    """Command line: write the frames (to examples/beach_frames/ unless told otherwise)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=OUT_DIR)
    for path in write_frames(parser.parse_args().out_dir):
        print(path)


if __name__ == "__main__":
    main()
