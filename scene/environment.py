"""The environment E: what the place is like, each feature with its unit and its origin."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["GIVEN_FEATURES", "Environment", "Feature"]


#: Features a scene file may give (``environment.features``): name -> (lowest, highest,
#: unit). A given feature replaces the measured one in E and says so.
GIVEN_FEATURES: dict[str, tuple[float, float, str]] = {
    "brightness": (0.0, 1.0, "0..1, mean luma"),
    "warmth": (-1.0, 1.0, "-1..1, (R - B) / (R + B)"),
    "colourfulness": (0.0, 200.0, "Hasler-Suesstrunk, 0 (grey)..~110 (extremely colourful)"),
    "saturation": (0.0, 1.0, "0..1, mean HSV saturation"),
    "edge_density": (0.0, 1.0, "0..1, share of edge pixels"),
    "sky_fraction": (0.0, 1.0, "0..1, share of the view"),
    "motion": (0.0, 100.0, "image widths per second"),
    "colour_temperature_k": (1000.0, 40000.0, "K"),
    "pleasure": (-1.0, 1.0, "-1..1"),
    "arousal": (-1.0, 1.0, "-1..1"),
    "dominance": (-1.0, 1.0, "-1..1"),
    "volume_m3": (1.0, 1e7, "m^3"),
    "floor_area_m2": (0.5, 1e6, "m^2"),
    "ceiling_height_m": (0.5, 200.0, "m"),
    "rt60_mid_s": (0.05, 30.0, "s"),
}


@dataclass(frozen=True)
class Feature:
    """One measured or given property of the place.

    Attributes
    ----------
    value
        A number, a tuple of numbers (per octave band, or a box's sides), a label, or
        (name, number) pairs (area per material).
    unit
        SI unit or a description of the scale (e.g. ``"s"``, ``"m^3"``, ``"0..1"``).
    source
        Where it came from: ``"room: shoebox 12x8x5 m, Eyring"``, ``"frames: 3 images"``,
        ``"scene file"``.
    confidence
        0..1; 1 for values computed exactly from the scene's geometry.
    """

    value: float | str | tuple[float, ...] | tuple[tuple[str, float], ...]
    unit: str
    source: str
    confidence: float = 1.0


@dataclass(frozen=True)
class Environment:
    """Environment features E, the place's side of M = M(I, S, E).

    Every feature is optional: None means "not measured" (no frames, free field, ...).
    Per-band features follow ``scene.model.BANDS_HZ``.

    Attributes
    ----------
    kind
        Room kind label (``"free_field"``, ``"outdoor"``, ``"shoebox"``, ``"mesh"``,
        ``"scan"``).
    indoor
        True when the place is enclosed.
    volume_m3, surface_m2, floor_area_m2, ceiling_height_m
        Geometry of an enclosed room.
    enclosure
        ``enclosed``, ``semi_open`` (a courtyard, a hall with wide openings) or ``open``
        (from a mesh).
    openness
        Open share of the room's boundary (holes, open sky), 0..1 (from a mesh).
    surfaces_m2
        Area per material: (material name, m^2) pairs, largest first (from a mesh).
    bounding_box_m
        Axis-aligned extent (x, y, z), m (from a mesh).
    oriented_box_m
        Smallest box standing on the floor: (length, width, height) in m and the yaw of
        its length in degrees (from a mesh).
    mean_absorption
        Area-weighted absorption per band.
    rt60_sabine_s, rt60_eyring_s
        Reverberation time per band (s), air absorption included.
    rt60_traced_s
        Reverberation time per band (s) of a mesh room's ray-traced decay at the listener
        (T30 of the Schroeder curve): what the renderer's late tail follows. Set by the
        pipeline, which sees both perception and the spatial engine.
    rt60_mid_s
        RT60 averaged over 500 Hz and 1 kHz (the usual single figure): Eyring's, or the
        traced one where there is a trace.
    brightness, warmth, colourfulness, saturation
        From camera frames: brightness 0..1 (mean luma), warmth -1..1 (red-blue balance),
        colourfulness (Hasler and Suesstrunk, 0..~150), saturation 0..1.
    edge_density
        Share of pixels on an edge (Canny), 0..1: how cluttered the view is.
    sky_fraction
        Share of the view that is sky, 0..1.
    motion
        How fast the view moves: mean optical-flow speed in image widths per frame (a
        folder of frames) or per second (a stream).
    colour_temperature_k
        Correlated colour temperature of the light (grey-world estimate), K.
    pleasure, arousal, dominance
        Mood of the view, -1..1 each, from brightness and saturation (Valdez and
        Mehrabian, 1994; see :func:`scene.frames.mood`).
    place_tags
        Words for the place that perception or the scene file gave (e.g. ``("beach",)``).
    notes
        Warnings and remarks of perception, in plain words.
    """

    kind: Feature
    indoor: Feature
    volume_m3: Feature | None = None
    surface_m2: Feature | None = None
    floor_area_m2: Feature | None = None
    ceiling_height_m: Feature | None = None
    enclosure: Feature | None = None
    openness: Feature | None = None
    surfaces_m2: Feature | None = None
    bounding_box_m: Feature | None = None
    oriented_box_m: Feature | None = None
    mean_absorption: Feature | None = None
    rt60_sabine_s: Feature | None = None
    rt60_eyring_s: Feature | None = None
    rt60_traced_s: Feature | None = None
    rt60_mid_s: Feature | None = None
    brightness: Feature | None = None
    warmth: Feature | None = None
    colourfulness: Feature | None = None
    saturation: Feature | None = None
    edge_density: Feature | None = None
    sky_fraction: Feature | None = None
    motion: Feature | None = None
    colour_temperature_k: Feature | None = None
    pleasure: Feature | None = None
    arousal: Feature | None = None
    dominance: Feature | None = None
    place_tags: Feature | None = None
    notes: tuple[str, ...] = ()

    def value(self, name: str, default: float | None = None) -> float | None:
        """Return a scalar feature's value, or ``default`` when it was not measured."""
        feature = getattr(self, name)
        if feature is None:
            return default
        return feature.value  # type: ignore[return-value]

    def to_dict(self) -> dict:
        """Plain JSON-ready form: feature name -> {value, unit, source, confidence}."""
        return {k: v for k, v in asdict(self).items() if v is not None and v != ()}
