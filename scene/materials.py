"""Surface materials: names from pyroomacoustics' database or the project's own table, or numbers.

Every material becomes a :class:`scene.model.Material` with one energy absorption coefficient
per octave band of :data:`scene.model.BANDS_HZ` (125 Hz to 8 kHz).

pyroomacoustics' ``materials_absorption_table`` holds 90 absorbers (and ``anechoic``): 47 are
given in the seven bands 125 Hz to 8 kHz, 43 only in the six bands 125 Hz to 4 kHz, and
``anechoic`` as a single number. Six-band entries are extended to 8 kHz by holding the 4 kHz
value: the tables they come from stop at 4 kHz, porous absorbers change little in the top
octave, and a linear extrapolation could leave [0, 1]. At 8 kHz air absorption dominates the
decay of any room large enough to matter, so the choice hardly changes a reverberation time.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import math
import re
from functools import cache
from pathlib import Path

from scene.errors import SceneError
from scene.model import BANDS_HZ, Material

__all__ = [
    "ALIASES",
    "NAME_KEYWORDS",
    "SUPPLEMENTARY",
    "material_from_name",
    "material_names",
    "resolve_material",
]

_PRA_SOURCE = "pyroomacoustics materials database"

#: The project's own absorbers, for names users expect that pyroomacoustics lacks; six
#: bands 125 Hz to 4 kHz as the textbooks give them (8 kHz holds the 4 kHz value, as above).
#: Each entry: name -> (coefficients, description, source).
SUPPLEMENTARY: dict[str, tuple[tuple[float, ...], str, str]] = {
    # The classic table of building materials, reproduced in Everest and Pohlmann, Master
    # Handbook of Acoustics (5th ed., 2009, Appendix "Absorption coefficients"), and in
    # Long, Architectural Acoustics (2nd ed., 2014, table of absorption coefficients).
    "wood_floor_on_joists": (
        (0.15, 0.11, 0.10, 0.07, 0.06, 0.07),
        "Wood flooring on joists",
        "Everest and Pohlmann, Master Handbook of Acoustics; Long, Architectural Acoustics",
    ),
    "water_surface": (
        (0.008, 0.008, 0.013, 0.015, 0.020, 0.025),
        "Water surface, as of a swimming pool or calm sea",
        "Long, Architectural Acoustics; Egan, Architectural Acoustics (1988), table of "
        "absorption coefficients",
    ),
    "plaster": (
        (0.013, 0.015, 0.02, 0.03, 0.04, 0.05),
        "Plaster, gypsum or lime, smooth finish on masonry",
        "Barron, Industrial Noise Control and Acoustics (2003), Appendix D; Long, "
        "Architectural Acoustics",
    ),
    # Outdoor ground. Porous soils absorb far more than building surfaces; these are the
    # values widely reproduced in absorption tables compiled from Harris (ed.), Handbook of
    # Acoustical Measurements and Noise Control (3rd ed., 1991). The primary measurements
    # were not checked here: treat them as typical, not exact.
    "sand": (
        (0.15, 0.35, 0.40, 0.50, 0.55, 0.80),
        "Sand, dry, about 10 cm deep",
        "typical values as tabulated after Harris, Handbook of Acoustical Measurements and "
        "Noise Control (1991)",
    ),
    "grass": (
        (0.11, 0.26, 0.60, 0.69, 0.92, 0.99),
        "Grass (lawn, about 5 cm high)",
        "typical values as tabulated after Harris, Handbook of Acoustical Measurements and "
        "Noise Control (1991)",
    ),
}

#: Short names users will type, mapped to a database entry that is a typical example.
ALIASES: dict[str, str] = {
    "marble": "marble_floor",
    "glass": "glass_window",
    "carpet": "carpet_tufted_9m",
    "curtains": "curtains_cotton_0.5",
    "concrete": "unpainted_concrete",
    "brick": "brickwork",
    "wood": "wood_16mm",
    "tiles": "ceramic_tiles",
    "limestone": "limestone_wall",
}


@cache
def _pra_table() -> dict[str, tuple[tuple[float, ...], str]]:
    # pyroomacoustics' database file, read as its package reads it but without importing
    # the package, which takes seconds (it imports scipy.signal, scipy.stats and more):
    # loading a scene, and so planning a batch, would wait on it.
    spec = importlib.util.find_spec("pyroomacoustics")
    if spec is None or spec.origin is None:
        raise RuntimeError("pyroomacoustics is not installed; its materials database is needed")
    database = Path(spec.origin).parent / "data" / "materials.json"
    data = json.loads(database.read_text(encoding="utf-8"))
    centres = data["center_freqs"]
    table = {"anechoic": (_to_bands([1.0], None), "Anechoic material")}
    for group in data["absorption"].values():
        for name, entry in group.items():
            coeffs = entry["coeffs"]
            table[name] = (_to_bands(coeffs, centres[: len(coeffs)]), entry["description"])
    return table


def _to_bands(coeffs: list[float], centre_freqs: list[float] | None) -> tuple[float, ...]:
    """Map a database entry onto BANDS_HZ; see the module docstring for the 8 kHz rule."""
    values = [float(c) for c in coeffs]
    if len(values) == 1:
        return tuple(values * len(BANDS_HZ))
    if centre_freqs is not None and [float(f) for f in centre_freqs] != list(
        BANDS_HZ[: len(values)]
    ):
        raise RuntimeError(f"unexpected centre frequencies in the materials table: {centre_freqs}")
    return tuple(values + [values[-1]] * (len(BANDS_HZ) - len(values)))


@cache
def _all_materials() -> dict[str, Material]:
    materials = {
        name: Material(name=name, absorption=bands, source=f"{_PRA_SOURCE}: {description}")
        for name, (bands, description) in _pra_table().items()
    }
    for name, (coeffs, description, source) in SUPPLEMENTARY.items():
        bands = _to_bands(list(coeffs), None)
        materials[name] = Material(name=name, absorption=bands, source=f"{source}: {description}")
    for alias, target in ALIASES.items():
        base = materials[target]
        materials[alias] = Material(name=alias, absorption=base.absorption, source=base.source)
    return materials


def material_names() -> list[str]:
    """Every material name a scene file may use, sorted.

    Returns
    -------
    list of str
        pyroomacoustics' database, the supplementary table and the aliases.
    """
    return sorted(_all_materials())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def resolve_material(value: object, *, file: str | Path | None, field: str) -> Material:
    """Turn a scene file's material value into a :class:`Material`.

    Parameters
    ----------
    value
        A material name (see :func:`material_names`), one absorption coefficient in [0, 1]
        for all bands, or a list of 7 coefficients for the bands 125 Hz to 8 kHz.
    file
        The scene file, for error messages.
    field
        Dotted path of the value, for error messages (e.g. ``"room.materials.floor"``).

    Returns
    -------
    Material

    Raises
    ------
    SceneError
        For an unknown name (with the closest names), a number outside [0, 1], a list of
        the wrong length, or anything else.
    """
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        materials = _all_materials()
        if key in materials:
            return materials[key]
        close = difflib.get_close_matches(key, list(materials), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise SceneError(
            f"unknown material; {hint}the names are listed in docs/scene-format.md "
            "(or give an absorption coefficient in [0, 1], or a list of 7, 125 Hz to 8 kHz)",
            file=file,
            field=field,
            value=value,
        )
    if _is_number(value):
        alpha = float(value)  # type: ignore[arg-type]
        _check_alpha(alpha, file=file, field=field, value=value)
        return Material(name=f"alpha={alpha:.2f}", absorption=(alpha,) * len(BANDS_HZ))
    if isinstance(value, list | tuple):
        if len(value) != len(BANDS_HZ) or not all(_is_number(v) for v in value):
            raise SceneError(
                f"a list of absorption coefficients needs {len(BANDS_HZ)} numbers in [0, 1], "
                "one per octave band 125, 250, 500, 1000, 2000, 4000, 8000 Hz",
                file=file,
                field=field,
                value=value,
            )
        for index, alpha in enumerate(value):
            _check_alpha(float(alpha), file=file, field=f"{field}[{index}]", value=alpha)
        bands = tuple(float(a) for a in value)
        return Material(
            name="alpha=[" + ", ".join(f"{a:.2f}" for a in bands) + "]", absorption=bands
        )
    raise SceneError(
        "must be a material name, an absorption coefficient in [0, 1], or a list of 7 of them",
        file=file,
        field=field,
        value=value,
    )


def _check_alpha(alpha: float, *, file: str | Path | None, field: str, value: object) -> None:
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise SceneError(
            "an absorption coefficient must be between 0 (reflects all) and 1 (absorbs all)",
            file=file,
            field=field,
            value=value,
        )


#: Words in a mesh's material or node names (English and Chinese) and the database entry
#: each stands for, as typical examples. The first entry whose word is found wins, so the
#: more specific words come first (大理石 before 石, 瓷砖 before 砖, plasterboard before
#: plaster). An English word matches the start of a word of the name ("Marble_Floor_01",
#: "woodPanel"); a Chinese word matches anywhere, as Chinese names have no spaces.
NAME_KEYWORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("大理石", "花岗岩", "marble", "granite", "terrazzo"), "marble_floor"),
    (("瓷砖", "地砖", "墙砖", "tile", "ceramic", "porcelain"), "ceramic_tiles"),
    (("石膏板", "纸面石膏", "plasterboard", "drywall", "gypsum"), "plasterboard"),
    (("吸音", "吸声", "acoustic", "absorber"), "acoustical_plaster_25mm"),
    (("石膏", "抹灰", "灰泥", "plaster", "stucco"), "plaster"),
    (("混凝土", "水泥", "concrete", "cement"), "unpainted_concrete"),
    (("地毯", "carpet", "rug"), "carpet_tufted_9m"),
    (("窗帘", "帘", "帷幕", "curtain", "drape"), "curtains_cotton_0.5"),
    (("玻璃", "窗", "glass", "window", "glazing"), "glass_window"),
    (("木地板", "parquet", "floorboard"), "wood_floor_on_joists"),
    (("木", "wood", "timber", "oak", "pine", "walnut", "plywood"), "wood_16mm"),
    (("砖", "brick"), "brickwork"),
    (("石", "stone", "limestone", "sandstone", "masonry"), "limestone_wall"),
    (("座椅", "座位", "seat", "chair", "upholster", "sofa"), "chairs_medium_upholstered"),
    (("草", "grass", "lawn", "turf"), "grass"),
    (("沙", "sand", "beach"), "sand"),
    (("水", "water", "pool", "pond", "fountain"), "water_surface"),
)

_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _words(name: str) -> list[str]:
    # "woodPanel_02" -> ["wood", "panel", "02"]: camelCase and separators both split.
    return [w for w in _WORD_SPLIT.split(_CAMEL.sub(" ", name).lower()) if w]


def material_from_name(name: str | None) -> tuple[Material, str] | None:
    """Guess a surface's material from a mesh's material or node name.

    Parameters
    ----------
    name
        E.g. ``"Marble_Floor"``, ``"glass_window"``, ``"大理石地面"``, ``"北墙_木饰面"``.

    Returns
    -------
    tuple of (Material, str) or None
        The material and what matched: ``"name"`` when the whole name is a database name
        (see :func:`material_names`), else the word of :data:`NAME_KEYWORDS` found in it.
        None when nothing matches.
    """
    if not name or not name.strip():
        return None
    materials = _all_materials()
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in materials:
        return materials[key], "name"
    words = _words(name)
    for keywords, target in NAME_KEYWORDS:
        for keyword in keywords:
            if keyword.isascii():
                found = any(word.startswith(keyword) for word in words)
            else:
                found = keyword in name
            if found:
                return materials[target], keyword
    return None
