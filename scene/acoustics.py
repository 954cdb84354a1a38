"""Room acoustics from the description alone: volume, surfaces, Sabine and Eyring RT60.

Computed here rather than with pyroomacoustics' ``rt60_theory()``, which is wrong with air
absorption on. Both ``scene.perception`` (for E) and ``spatial`` (for the late tail) use it,
so the reverberation the listener hears is the one the plan was told about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Room

if TYPE_CHECKING:
    from scene.mesh_analysis import MeshAnalysis

__all__ = [
    "AIR_ABSORPTION_DB_PER_KM",
    "SPEED_OF_SOUND",
    "MeshSurfaces",
    "RoomAcoustics",
    "air_absorption_per_m",
    "mesh_surfaces",
    "reverberation",
    "room_acoustics",
    "shoebox_surfaces",
]

#: Speed of sound at 20 degrees C, m/s.
SPEED_OF_SOUND = 343.0

#: Atmospheric attenuation at 20 degrees C and 50% relative humidity, dB per km, per band
#: of BANDS_HZ (ISO 9613-1:1993, Table 1, rounded).
AIR_ABSORPTION_DB_PER_KM: tuple[float, ...] = (0.44, 1.31, 2.73, 4.66, 9.86, 29.4, 105.0)

# Sabine's constant 24 ln(10) / c, s/m.
_SABINE = 24.0 * np.log(10.0) / SPEED_OF_SOUND


def air_absorption_per_m() -> np.ndarray:
    """Energy attenuation coefficient m of air per band (1/m), so that E(d) = E0 exp(-m d).

    Returns
    -------
    numpy.ndarray
        Shape (7,), one value per band of :data:`scene.model.BANDS_HZ`.
    """
    return np.asarray(AIR_ABSORPTION_DB_PER_KM) / (1000.0 * 10.0 * np.log10(np.e))


@dataclass(frozen=True)
class RoomAcoustics:
    """Statistical acoustics of an enclosed room; per-band tuples follow BANDS_HZ.

    Attributes
    ----------
    volume_m3, surface_m2
        Volume and total surface.
    mean_absorption
        Area-weighted mean absorption coefficient per band.
    rt60_sabine_s, rt60_eyring_s
        Reverberation time per band, s, air absorption included (4 m V term).
    """

    volume_m3: float
    surface_m2: float
    mean_absorption: tuple[float, ...]
    rt60_sabine_s: tuple[float, ...]
    rt60_eyring_s: tuple[float, ...]

    @property
    def rt60_mid_s(self) -> float:
        """Eyring RT60 averaged over the 500 Hz and 1 kHz bands, s."""
        return float(np.mean(self.rt60_eyring_s[2:4]))


def shoebox_surfaces(size: tuple[float, float, float]) -> dict[str, float]:
    """Area (m^2) of each face of a shoebox, keyed by :data:`SHOEBOX_SURFACES`."""
    lx, ly, lz = size
    areas = (ly * lz, ly * lz, lx * lz, lx * lz, lx * ly, lx * ly)
    return dict(zip(SHOEBOX_SURFACES, areas, strict=True))


def reverberation(
    volume_m3: float, surfaces: Iterable[tuple[float, Sequence[float]]]
) -> RoomAcoustics:
    """Per-band Sabine and Eyring RT60 of a room from its volume and its surfaces.

    Parameters
    ----------
    volume_m3
        Volume of air, m^3; must be positive.
    surfaces
        (area in m^2, absorption per band of :data:`scene.model.BANDS_HZ`) for each
        surface or each material; an opening (a hole, an open sky) is a surface of
        absorption 1.

    Returns
    -------
    RoomAcoustics

    Raises
    ------
    ValueError
        For a volume or total area that is not positive, or absorption that is not 7
        values: a programming error, as scene files are checked before this.

    Notes
    -----
    Sabine: ``T = 24 ln10 V / (c (S a + 4 m V))``; Eyring replaces ``S a`` by
    ``-S ln(1 - a)``, with ``a`` the area-weighted mean absorption and ``m`` the energy
    attenuation of air per metre. ``a`` is clipped to [1e-6, 0.999]: Eyring's logarithm
    diverges for a room that absorbs everything.
    """
    volume = float(volume_m3)
    surface = 0.0
    absorbed = np.zeros(len(BANDS_HZ))
    for area, absorption in surfaces:
        alpha = np.asarray(absorption, dtype=np.float64)
        if alpha.shape != (len(BANDS_HZ),):
            raise ValueError(f"absorption needs {len(BANDS_HZ)} bands; got shape {alpha.shape}")
        absorbed += area * alpha
        surface += area
    if not (volume > 0.0 and surface > 0.0):
        raise ValueError(f"volume_m3={volume} and surface={surface} m^2 must be positive")
    mean_alpha = np.clip(absorbed / surface, 1e-6, 0.999)
    air = 4.0 * air_absorption_per_m() * volume
    sabine = _SABINE * volume / (surface * mean_alpha + air)
    eyring = _SABINE * volume / (-surface * np.log1p(-mean_alpha) + air)
    return RoomAcoustics(
        volume_m3=volume,
        surface_m2=float(surface),
        mean_absorption=tuple(float(a) for a in mean_alpha),
        rt60_sabine_s=tuple(float(t) for t in sabine),
        rt60_eyring_s=tuple(float(t) for t in eyring),
    )


def room_acoustics(room: Room) -> RoomAcoustics | None:
    """Compute volume, surface and per-band Sabine and Eyring RT60 of an enclosed room.

    Parameters
    ----------
    room
        A ``shoebox`` room (its six faces and their materials; for a scanned room, the
        scan's floor plan and height), or a ``mesh`` room: with a
        mesh file, the mesh's own volume and per-face materials (see
        :func:`scene.mesh_analysis.analyze_room_mesh`, whose openings count as absorption
        1); without one, its bounding box.

    Returns
    -------
    RoomAcoustics or None
        None for rooms that are not enclosed (free field, outdoor): they do not reverberate.

    Raises
    ------
    SceneError
        When a mesh room's file cannot be read or analysed.
    """
    if not room.is_enclosed or room.size is None:
        return None
    if room.kind == "mesh" and room.mesh_path is not None:
        # Imported here: mesh analysis needs trimesh, and shoebox rooms never do.
        from scene.mesh_analysis import analyze_room_mesh

        analysis = analyze_room_mesh(room)
        if analysis.acoustics is not None:
            return analysis.acoustics
        # An open mesh (a plaza) has no statistical reverberation of its own; the box's
        # figures stand in for the renderer's transition time and trace length (its tail
        # is ray-traced through the mesh, whose openings let the rays out).
    if room.scan_path is not None:
        # A scanned room: its own floor plan and height (scene.room_estimate), not its box.
        from scene.room_estimate import analyze_room_scan

        return analyze_room_scan(room).acoustics
    volume = float(np.prod(room.size))
    areas = shoebox_surfaces(room.size)
    return reverberation(
        volume, ((area, room.material(name).absorption) for name, area in areas.items())
    )


@dataclass(frozen=True, eq=False)
class MeshSurfaces:
    """The triangles of a mesh room and the absorption of each: what geometric acoustics
    (ray tracing, image sources) needs from the mesh.

    Attributes
    ----------
    vertices
        float64, shape (V, 3), metres, z up, in the mesh's own coordinates.
    faces
        int64, shape (F, 3), wound so that each triangle's normal points into the air.
    absorption
        float64, shape (F, len(BANDS_HZ)): energy absorption of each triangle's material.
    materials
        Name of each material.
    face_material
        int64, shape (F,): index into ``materials`` of each triangle.
    """

    vertices: np.ndarray
    faces: np.ndarray
    absorption: np.ndarray
    materials: tuple[str, ...]
    face_material: np.ndarray


def mesh_surfaces(room: Room) -> MeshSurfaces | None:
    """The triangles and per-triangle absorption of a ``mesh`` room with a mesh file.

    The same analysis (and cache) as :func:`room_acoustics`: materials from the mesh's
    names, else ``room.materials`` by orientation. The same analysis gives the same object,
    so callers may cache what they derive from it by identity.

    Returns
    -------
    MeshSurfaces or None
        None for rooms without a mesh file.

    Raises
    ------
    SceneError
        When the mesh file cannot be read or analysed.
    """
    if room.kind != "mesh" or room.mesh_path is None:
        return None
    from scene.mesh_analysis import analyze_room_mesh

    return _surfaces_of(analyze_room_mesh(room))


@lru_cache(maxsize=4)
def _surfaces_of(analysis: MeshAnalysis) -> MeshSurfaces:
    table = np.array([g.material.absorption for g in analysis.surfaces], dtype=np.float64)
    return MeshSurfaces(
        vertices=analysis.vertices,
        faces=analysis.faces,
        absorption=table[analysis.face_group],
        materials=tuple(g.material.name for g in analysis.surfaces),
        face_material=analysis.face_group,
    )
