"""Features of camera frames: colour, clutter, sky, light, motion, and the mood they suggest.

The features describe the images, not the place itself: a camera's automatic exposure and
white balance move them. They are cheap (about 2 ms a 640 x 480 frame here, see
benchmarks/bench_perception.py) because every frame is first shrunk to at most
:data:`ANALYSIS_SIDE` pixels on its longest side by area averaging (:data:`EDGE_SIDE` for
edges and sky, :data:`FLOW_SIDE` for motion). Brightness and warmth
(means) do not change with that; colourfulness, saturation and edges lose only
pixel-level texture and sensor noise, not the large regions of colour and the outlines of
things (sky, sea, sand, walls, shelves) that tell one place from another.

Streams (an AR headset's camera) go through :class:`FrameStream`, which measures each
frame, the motion since the previous one, and smooths everything with one time constant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np

from scene.errors import SceneError

__all__ = [
    "ANALYSIS_SIDE",
    "EDGE_SIDE",
    "EDGE_THRESHOLDS",
    "FLOW_SIDE",
    "FrameFeatures",
    "FrameStream",
    "Mood",
    "colour_temperature_k",
    "folder_features",
    "frame_features",
    "mood",
    "motion_between",
    "read_frame",
]

#: Longest side, pixels, a frame is shrunk to before analysis.
ANALYSIS_SIDE = 320

#: Longest side, pixels, of the grey images whose optical flow measures motion: motion
#: is a property of large regions, and the flow of 80 x 60 pixels costs about 0.5 ms.
FLOW_SIDE = 80

#: Longest side, pixels, of the image whose edges (and sky) are found: the outlines of
#: things, not their texture, at a quarter of the cost of ANALYSIS_SIDE.
EDGE_SIDE = 160

#: Canny's hysteresis thresholds on 8-bit grey. Fixed, not adapted to each image, so that
#: one frame's edge density can be compared with another's.
EDGE_THRESHOLDS = (60, 150)

# sRGB (D65) linear RGB -> CIE XYZ (IEC 61966-2-1).
_RGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
# sRGB decoding of each 8-bit level (IEC 61966-2-1), for the grey-world mean.
_LEVELS = np.arange(256) / 255.0
_LINEAR = np.where(_LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4)
_LINEAR_LUT = _LINEAR.astype(np.float32).reshape(1, 256)

#: Largest distance of a colour from the Planckian locus (CIE 1960 uv) for which a
#: correlated colour temperature means something (CIE 15:2004, section 9.5).
MAX_DUV = 0.05


@dataclass(frozen=True)
class Mood:
    """Pleasure, arousal and dominance of a view, each -1..1 (0 for a mid-grey, half-
    saturated view); see :func:`mood`."""

    pleasure: float
    arousal: float
    dominance: float

    @property
    def quadrant(self) -> str:
        """``"pleasant-aroused"``, ``"pleasant-calm"``, ``"unpleasant-aroused"`` or
        ``"unpleasant-calm"``: the signs of pleasure and arousal."""
        return ("pleasant" if self.pleasure >= 0 else "unpleasant") + (
            "-aroused" if self.arousal >= 0 else "-calm"
        )


@dataclass(frozen=True)
class FrameFeatures:
    """Features of one frame, or the mean over several.

    Attributes
    ----------
    brightness
        Mean luma (Rec. 601 weights of the gamma-encoded R, G, B), 0 (black) .. 1 (white).
    warmth
        Red-blue balance ``(mean R - mean B) / (mean R + mean B)``, -1 (all blue) .. 1 (all
        red); 0 for any grey. Needs no calibration: sunlit sand and sunsets are positive,
        shade, sky and water negative.
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
    edge_density
        Share of pixels that Canny (:data:`EDGE_THRESHOLDS`) marks as edges on the frame
        shrunk to :data:`EDGE_SIDE`, 0..1: a bare wall or an open sky about 0, shelves of
        books or foliage 0.1 and more. A measure of visual clutter (Rosenholtz et al.,
        2007, use edge density as the simplest of their clutter measures).
    sky_fraction
        Share of the frame that is sky, 0..1: pixels reached from the top edge, column by
        column, through smooth (no edge), sky-coloured pixels (blue with some saturation, or
        bright and nearly grey for an overcast sky), stopping at the first edge. Indoors it
        is 0 unless a ceiling is pale and smooth to the top of the frame; a horizon as
        smooth as the sky above it (a calm sea in haze) is counted with the sky.
    colour_temperature_k
        Correlated colour temperature of the mean colour (grey world, see
        :func:`colour_temperature_k`), K; None when the mean colour is too far from any
        light's colour for the figure to mean anything.
    motion
        Mean optical-flow speed between this frame and the one before, in image widths
        per second (a :class:`FrameStream`) or per frame (:func:`folder_features`); None
        for a single image.
    """

    brightness: float
    warmth: float
    colourfulness: float
    saturation: float
    count: int = 1
    edge_density: float = 0.0
    sky_fraction: float = 0.0
    colour_temperature_k: float | None = None
    motion: float | None = None

    @property
    def mood(self) -> Mood:
        """The mood these features suggest (:func:`mood` of brightness and saturation)."""
        return mood(self.brightness, self.saturation)


def mood(brightness: float, saturation: float) -> Mood:
    """Pleasure, arousal and dominance from a view's brightness and saturation.

    Valdez and Mehrabian ("Effects of color on emotions", J. Exp. Psychol. Gen. 123(4),
    1994) fitted, over 76 colour samples, ``P = 0.69 B + 0.22 S``, ``A = -0.31 B + 0.60 S``
    and ``D = -0.76 B + 0.32 S`` (B Munsell value, S Munsell chroma, both standardised).
    As in Machajdik and Hanbury ("Affective image classification using features inspired
    by psychology and art theory", ACM MM 2010), mean brightness and saturation in 0..1
    stand in for value and chroma; here brightness is mean luma, closer to Munsell value
    (a lightness) than HSV's max(R, G, B). Each result is then rescaled linearly so that
    it spans -1..1 over the unit square of (B, S), 0 at B = S = 0.5: a bright view is
    pleasant and calm, a saturated one arousing, a dark, saturated one dominant.

    Parameters
    ----------
    brightness, saturation
        0..1.

    Returns
    -------
    Mood
    """
    b = min(max(float(brightness), 0.0), 1.0)
    s = min(max(float(saturation), 0.0), 1.0)

    def scaled(wb: float, ws: float) -> float:
        # Half the range of wb b + ws s over the unit square, about its value at (0.5, 0.5).
        half = (abs(wb) + abs(ws)) / 2.0
        return (wb * (b - 0.5) + ws * (s - 0.5)) / half

    return Mood(
        pleasure=round(scaled(0.69, 0.22), 6),
        arousal=round(scaled(-0.31, 0.60), 6),
        dominance=round(scaled(-0.76, 0.32), 6),
    )


def _shrink(image: np.ndarray, side: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # INTER_AREA averages whole pixel blocks, so the means are kept.
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _check(image_bgr: np.ndarray) -> np.ndarray:
    image = np.asarray(image_bgr)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(
            f"image_bgr must be a non-empty (height, width, 3) uint8 array, got "
            f"shape {image.shape} dtype {image.dtype}"
        )
    return image


def colour_temperature_k(mean_linear_rgb: np.ndarray) -> float | None:
    """Correlated colour temperature of a linear sRGB colour, K (McCamy's formula).

    Under the grey-world assumption (Buchsbaum, 1980: the mean reflectance of a scene is
    grey) the mean colour of a frame is the colour of its light. Its CIE 1931 xy
    chromaticity gives the correlated colour temperature by McCamy's cubic ("Correlated
    color temperature as an explicit function of chromaticity coordinates", Color Res.
    Appl. 17, 1992; within a few kelvin of the exact figure from 2,000 to 12,500 K).

    Parameters
    ----------
    mean_linear_rgb
        Shape (3,): mean linear (not gamma-encoded) R, G, B, any scale.

    Returns
    -------
    float or None
        Kelvin, clipped to 1,000..40,000; None for black, or for a colour farther than
        :data:`MAX_DUV` from the Planckian locus (a green or magenta cast is no light's).

    Notes
    -----
    A camera's automatic white balance pulls every frame toward 6,500 K, and a scene that
    is not grey on average (a blue sea, a red wall) reads as a colder or warmer light than
    it has: the figure is the colour of the image, with low confidence as the light's.
    """
    rgb = np.asarray(mean_linear_rgb, dtype=np.float64)
    xyz = _RGB_TO_XYZ @ rgb
    total = float(xyz.sum())
    if total <= 1e-9:
        return None
    x, y = xyz[0] / total, xyz[1] / total
    if 0.1858 - y == 0:
        return None
    n = (x - 0.3320) / (0.1858 - y)
    cct = 449.0 * n**3 + 3525.0 * n**2 + 6823.3 * n + 5520.33
    if not math.isfinite(cct) or cct <= 0:
        return None
    cct = min(max(cct, 1000.0), 40000.0)
    # Distance from the Planckian locus in CIE 1960 uv (Krystek's approximation of the
    # locus, 1,000 to 15,000 K).
    denominator = -2.0 * x + 12.0 * y + 3.0
    u, v = 4.0 * x / denominator, 6.0 * y / denominator
    t = min(cct, 15000.0)
    u_t = (0.860117757 + 1.54118254e-4 * t + 1.28641212e-7 * t**2) / (
        1 + 8.42420235e-4 * t + 7.08145163e-7 * t**2
    )
    v_t = (0.317398726 + 4.22806245e-5 * t + 4.20481691e-8 * t**2) / (
        1 - 2.89741816e-5 * t + 1.61456053e-7 * t**2
    )
    if math.hypot(u - u_t, v - v_t) > MAX_DUV:
        return None
    return float(cct)


def _sky_fraction(hsv: np.ndarray, edges: np.ndarray) -> float:
    hue = hsv[..., 0].astype(np.int16)  # OpenCV: 0..179, blue about 100..130
    sat = hsv[..., 1]
    val = hsv[..., 2]
    blue_sky = (hue >= 90) & (hue <= 135) & (sat >= 25) & (val >= 90)
    overcast = (sat < 40) & (val >= 170)
    candidate = (blue_sky | overcast) & (edges == 0)
    # Sky runs down from the top edge of each column until the first non-sky pixel.
    first_not = np.argmin(candidate, axis=0)
    run = np.where(candidate.all(axis=0), candidate.shape[0], first_not)
    return float(run.sum()) / candidate.size


def frame_features(image_bgr: np.ndarray) -> FrameFeatures:
    """Measure one camera frame.

    Parameters
    ----------
    image_bgr
        Shape (height, width, 3), uint8, channels in OpenCV's B, G, R order.

    Returns
    -------
    FrameFeatures
        With ``count == 1`` and ``motion`` None (motion needs two frames; see
        :func:`motion_between` and :class:`FrameStream`).

    Raises
    ------
    ValueError
        When the array is not (height, width, 3) uint8 or is empty.
    """
    return _measure(image_bgr)[0]


def _measure(image_bgr: np.ndarray) -> tuple[FrameFeatures, np.ndarray]:
    """The features of a frame, and its grey thumbnail for the optical flow."""
    small = _shrink(_check(image_bgr), ANALYSIS_SIDE)
    # OpenCV's reductions: an order of magnitude faster than numpy's over a pixel axis.
    mean_b, mean_g, mean_r = cv2.mean(small)[:3]
    brightness = (0.299 * mean_r + 0.587 * mean_g + 0.114 * mean_b) / 255.0
    # The small constant keeps a black frame at 0 instead of 0/0.
    warmth = (mean_r - mean_b) / (mean_r + mean_b + 1e-6)
    # rg = R - G and 2 yb = R + G - 2 B per pixel, exact in 16-bit integers.
    blue, green, red = cv2.split(small)
    rg = cv2.subtract(red, green, dtype=cv2.CV_16S)
    yb2 = cv2.subtract(cv2.add(red, green, dtype=cv2.CV_16S), cv2.add(blue, blue, dtype=cv2.CV_16S))
    (mu_rg,), (sd_rg,) = (v.ravel() for v in cv2.meanStdDev(rg))
    (mu_yb,), (sd_yb,) = (v.ravel() / 2.0 for v in cv2.meanStdDev(yb2))
    colourfulness = float(math.hypot(sd_rg, sd_yb) + 0.3 * math.hypot(mu_rg, mu_yb))
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    saturation = cv2.mean(hsv)[1] / 255.0
    tiny = _shrink(small, EDGE_SIDE)
    edges = cv2.Canny(cv2.cvtColor(tiny, cv2.COLOR_BGR2GRAY), *EDGE_THRESHOLDS)
    edge_density = cv2.countNonZero(edges) / edges.size
    # Grey world on linear light: the mean of the decoded levels, per channel.
    linear_b, linear_g, linear_r = cv2.mean(cv2.LUT(small, _LINEAR_LUT))[:3]
    features = FrameFeatures(
        brightness=float(brightness),
        warmth=float(warmth),
        colourfulness=colourfulness,
        saturation=saturation,
        edge_density=edge_density,
        sky_fraction=_sky_fraction(cv2.cvtColor(tiny, cv2.COLOR_BGR2HSV), edges),
        colour_temperature_k=colour_temperature_k(np.array([linear_r, linear_g, linear_b])),
    )
    return features, _grey_thumbnail(tiny)


def _grey_thumbnail(tiny_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(_shrink(tiny_bgr, FLOW_SIDE), cv2.COLOR_BGR2GRAY)


def _flow_grey(image_bgr: np.ndarray) -> np.ndarray:
    # The same chain of shrinks as _measure: a stream's motion equals motion_between's.
    return _grey_thumbnail(_shrink(_shrink(image_bgr, ANALYSIS_SIDE), EDGE_SIDE))


def motion_between(previous_bgr: np.ndarray, current_bgr: np.ndarray) -> float:
    """Mean speed of the image content from one frame to the next, image widths per frame.

    Dense optical flow (Kroeger et al.'s DIS, OpenCV's fastest preset, on grey images
    shrunk to :data:`FLOW_SIDE` pixels); the mean length of the flow vectors over the image
    width. A camera panning by a twentieth of its view between frames gives about 0.05; a
    still camera on a still scene about 0. Shifts beyond about a tenth of the view between
    two frames are under-read (the flow loses track): at 10 frames a second and more, that
    is a turn faster than about 60 degrees a second.

    Raises
    ------
    ValueError
        For arrays that are not (height, width, 3) uint8, or of different shapes.
    """
    previous, current = _check(previous_bgr), _check(current_bgr)
    if previous.shape != current.shape:
        raise ValueError(
            f"frames must have one shape to compare; got {previous.shape} and {current.shape}"
        )
    return _flow_speed(_flow_grey(previous), _flow_grey(current))


def _flow_speed(previous: np.ndarray, current: np.ndarray) -> float:
    # A new DIS object per call (10 microseconds): one object is not safe across threads.
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    flow = dis.calc(previous, current, None)
    return float(np.hypot(flow[..., 0], flow[..., 1]).mean()) / previous.shape[1]


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


def _mean(features: list[FrameFeatures], motion: float | None) -> FrameFeatures:
    temperatures = [f.colour_temperature_k for f in features if f.colour_temperature_k]
    return FrameFeatures(
        brightness=float(np.mean([f.brightness for f in features])),
        warmth=float(np.mean([f.warmth for f in features])),
        colourfulness=float(np.mean([f.colourfulness for f in features])),
        saturation=float(np.mean([f.saturation for f in features])),
        count=len(features),
        edge_density=float(np.mean([f.edge_density for f in features])),
        sky_fraction=float(np.mean([f.sky_fraction for f in features])),
        colour_temperature_k=float(np.median(temperatures)) if temperatures else None,
        motion=motion,
    )


def folder_features(paths: Iterable[Path]) -> FrameFeatures:
    """Mean features over several camera images, taken as a sequence in the order given.

    Parameters
    ----------
    paths
        Image files (JPEG or PNG), at least one.

    Returns
    -------
    FrameFeatures
        Each feature the mean over the images (the colour temperature the median of those
        that have one); ``motion`` the mean over consecutive pairs of the same size, in
        image widths per frame (None for one image); ``count`` the number of images.

    Raises
    ------
    SceneError
        Naming the first file that cannot be read.
    ValueError
        When ``paths`` is empty.
    """
    features, speeds = [], []
    previous = None
    for path in paths:
        measured, grey = _measure(read_frame(path))
        features.append(measured)
        if previous is not None and previous.shape == grey.shape:
            speeds.append(_flow_speed(previous, grey))
        previous = grey
    if not features:
        raise ValueError("folder_features needs at least one image path")
    return _mean(features, float(np.mean(speeds)) if speeds else None)


class FrameStream:
    """Features of a live camera, smoothed over time; one :meth:`update` per frame.

    Each feature follows an exponential moving average with time constant ``tau_s`` over
    the frames' own timestamps, so the result does not depend on the frame rate: a frame
    ``dt`` seconds after the last moves the average by ``1 - exp(-dt / tau_s)`` of the way
    to its own value. Motion (image widths per second) is measured between consecutive
    frames and smoothed the same way.

    Parameters
    ----------
    tau_s
        Time constant, s (> 0). A few seconds: a glance at a lamp or a passer-by changes
        little, walking into another room changes everything within ``3 tau_s``.

    Raises
    ------
    ValueError
        For a time constant that is not a positive number.

    Examples
    --------
    >>> stream = FrameStream(tau_s=2.0)  # doctest: +SKIP
    >>> for t, image in frames:  # doctest: +SKIP
    ...     features = stream.update(image, t)
    """

    def __init__(self, *, tau_s: float = 2.0) -> None:
        if not (isinstance(tau_s, int | float) and math.isfinite(tau_s) and tau_s > 0):
            raise ValueError(f"tau_s={tau_s!r} must be a positive number of seconds")
        self.tau_s = float(tau_s)
        self._state: FrameFeatures | None = None
        self._last_t: float | None = None
        self._last_grey: np.ndarray | None = None
        self._count = 0

    @property
    def features(self) -> FrameFeatures | None:
        """The smoothed features so far (None before the first frame)."""
        return self._state

    def update(self, image_bgr: np.ndarray, t: float) -> FrameFeatures:
        """Fold in one frame taken at time ``t`` (s); return the smoothed features.

        Raises
        ------
        ValueError
            For a bad image (as :func:`frame_features`), or a time that is not a finite
            number or goes back before the previous frame's.
        """
        if not (isinstance(t, int | float) and math.isfinite(t)):
            raise ValueError(f"t={t!r} must be a finite number of seconds")
        if self._last_t is not None and t < self._last_t:
            raise ValueError(f"t={t} s goes back before the previous frame's {self._last_t} s")
        current, grey = _measure(image_bgr)
        motion = None
        if self._last_grey is not None and self._last_grey.shape == grey.shape:
            dt = t - self._last_t  # type: ignore[operator]
            if dt > 0:
                motion = _flow_speed(self._last_grey, grey) / dt
        self._count += 1
        if self._state is None:
            smoothed = replace(current, count=1, motion=motion)
        else:
            weight = 1.0 - math.exp(-(t - self._last_t) / self.tau_s)  # type: ignore[operator]
            smoothed = self._blend(self._state, current, motion, weight)
        self._state = smoothed
        self._last_t = float(t)
        self._last_grey = grey
        return smoothed

    def _blend(
        self, old: FrameFeatures, new: FrameFeatures, motion: float | None, weight: float
    ) -> FrameFeatures:
        values = {}
        for item in fields(FrameFeatures):
            name = item.name
            if name == "count":
                continue
            before = getattr(old, name)
            after = motion if name == "motion" else getattr(new, name)
            if before is None or after is None:
                values[name] = after if before is None else before
            else:
                values[name] = before + weight * (after - before)
        return FrameFeatures(**values, count=self._count)
