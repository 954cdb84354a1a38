"""Colour features of camera frames, per image and averaged over a folder.

The features describe the images, not the place itself: a camera's automatic exposure and
white balance move them. They are cheap (about 2 ms a 640 x 480 frame here) because every
frame is first shrunk to at most :data:`ANALYSIS_SIDE` pixels on its longest side by area
averaging. Brightness and warmth (means) do not change with that; colourfulness and
saturation lose only pixel-level texture and sensor noise, not the large regions of colour
(sky, sea, sand, walls) that tell one place from another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from scene.errors import SceneError

__all__ = ["ANALYSIS_SIDE", "FrameFeatures", "folder_features", "frame_features", "read_frame"]

#: Longest side, pixels, a frame is shrunk to before analysis.
ANALYSIS_SIDE = 320


@dataclass(frozen=True)
class FrameFeatures:
    """Colour features of one frame, or the mean over several.

    Attributes
    ----------
    brightness
        Mean luma (Rec. 601 weights of the gamma-encoded R, G, B), 0 (black) .. 1 (white).
    warmth
        Red-blue balance ``(mean R - mean B) / (mean R + mean B)``, -1 (all blue) .. 1 (all
        red); 0 for any grey. A simple stand-in for colour temperature that needs no camera
        calibration: sunlit sand and sunsets are positive, shade, sky and water negative.
    colourfulness
        Hasler and Suesstrunk's metric ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 +
        mu_yb^2)`` with ``rg = R - G`` and ``yb = (R + G) / 2 - B`` on 0..255 values; 0 for
        grey, about 15 "slightly", 33 "moderately", 59 "quite", 82 "highly", 109 "extremely"
        colourful (Hasler and Suesstrunk, "Measuring colourfulness in natural images",
        Proc. SPIE 5007, 2003).
    saturation
        Mean HSV saturation, 0..1.
    count
        Number of frames averaged.
    """

    brightness: float
    warmth: float
    colourfulness: float
    saturation: float
    count: int = 1


def _shrink(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = ANALYSIS_SIDE / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # INTER_AREA averages whole pixel blocks, so the means are kept.
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def frame_features(image_bgr: np.ndarray) -> FrameFeatures:
    """Measure the colour features of one camera frame.

    Parameters
    ----------
    image_bgr
        Shape (height, width, 3), uint8, channels in OpenCV's B, G, R order.

    Returns
    -------
    FrameFeatures
        With ``count == 1``.

    Raises
    ------
    ValueError
        When the array is not (height, width, 3) uint8 or is empty.
    """
    image = np.asarray(image_bgr)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(
            f"image_bgr must be a non-empty (height, width, 3) uint8 array, got "
            f"shape {image.shape} dtype {image.dtype}"
        )
    small = _shrink(image)
    pixels = small.reshape(-1, 3).astype(np.float32)
    b, g, r = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    mean_b, mean_g, mean_r = (float(v) for v in pixels.mean(axis=0))
    brightness = (0.299 * mean_r + 0.587 * mean_g + 0.114 * mean_b) / 255.0
    # The small constant keeps a black frame at 0 instead of 0/0.
    warmth = (mean_r - mean_b) / (mean_r + mean_b + 1e-6)
    rg = r - g
    yb = 0.5 * (r + g) - b
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    saturation = float(hsv[..., 1].mean()) / 255.0
    return FrameFeatures(
        brightness=float(brightness),
        warmth=float(warmth),
        colourfulness=colourfulness,
        saturation=saturation,
    )


def read_frame(path: Path) -> np.ndarray:
    """Read a camera image as (height, width, 3) uint8 BGR.

    Raises
    ------
    SceneError
        Naming the file when it cannot be read or decoded.
    """
    path = Path(path)
    try:
        # imdecode of the bytes, not imread: imread fails silently on some non-ASCII paths.
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise SceneError(f"cannot read this image: {error.strerror}", file=path) from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise SceneError("cannot decode this image (a JPEG or PNG expected)", file=path)
    return image


def folder_features(paths: Iterable[Path]) -> FrameFeatures:
    """Mean colour features over several camera images.

    Parameters
    ----------
    paths
        Image files (JPEG or PNG), at least one.

    Returns
    -------
    FrameFeatures
        Each feature the mean over the images; ``count`` the number of images.

    Raises
    ------
    SceneError
        Naming the first file that cannot be read.
    ValueError
        When ``paths`` is empty.
    """
    features = [frame_features(read_frame(path)) for path in paths]
    if not features:
        raise ValueError("folder_features needs at least one image path")
    return FrameFeatures(
        brightness=float(np.mean([f.brightness for f in features])),
        warmth=float(np.mean([f.warmth for f in features])),
        colourfulness=float(np.mean([f.colourfulness for f in features])),
        saturation=float(np.mean([f.saturation for f in features])),
        count=len(features),
    )
