"""Build the example meshes: a museum hall and an open courtyard, with named materials.

Run ``python assets/meshes/make_meshes.py``; it writes, the same bytes every time:

- ``museum_hall.obj`` + ``.mtl`` and ``museum_hall.glb`` (the same hall, y-up as glTF
  wants): 30 x 18 x 10 m, a marble floor, limestone walls, tall windows along the south
  wall, wooden panelling along the north wall, an open doorway in the west wall, and a
  coffered ceiling (plaster ribs, 60 coffers 0.6 m deep with plaster sides and an
  acoustic-plaster top);
- ``courtyard.obj`` + ``.mtl``: 40 x 30 m, granite paving around a lawn, brick facades
  12 m high with windows, open to the sky.

Every surface is a grid of cells on shared grid lines, so the meshes are conforming (no
T-junctions): the hall is closed except for its doorway, the courtyard except for its sky.
Material names mix English and Chinese, as real exports do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class _Builder:
    """Vertices shared by coordinate; triangles grouped by material name, in order."""

    def __init__(self) -> None:
        self.index: dict[tuple[float, float, float], int] = {}
        self.vertices: list[tuple[float, float, float]] = []
        self.groups: dict[str, list[tuple[int, int, int]]] = {}

    def vertex(self, point) -> int:
        key = tuple(round(float(c), 6) for c in point)
        if key not in self.index:
            self.index[key] = len(self.vertices)
            self.vertices.append(key)  # type: ignore[arg-type]
        return self.index[key]

    def quad(self, material: str, a, b, c, d) -> None:
        """Corners counter-clockwise seen from the side the normal points to."""
        i, j, k, m = (self.vertex(p) for p in (a, b, c, d))
        self.groups.setdefault(material, []).extend([(i, j, k), (i, k, m)])


def _grid(builder: _Builder, corner, u_axis, v_axis, us, vs, material_of) -> None:
    """Cells of a plane ``corner + u * u_axis + v * v_axis`` on grid lines us x vs.

    ``material_of(i, j)`` names cell (i, j) or returns None to leave a hole. The normal is
    u_axis x v_axis.
    """
    corner, u_axis, v_axis = (np.asarray(a, float) for a in (corner, u_axis, v_axis))
    for i in range(len(us) - 1):
        for j in range(len(vs) - 1):
            material = material_of(i, j)
            if material is None:
                continue

            def at(u: float, v: float) -> np.ndarray:
                return corner + u * u_axis + v * v_axis

            builder.quad(
                material,
                at(us[i], vs[j]),
                at(us[i + 1], vs[j]),
                at(us[i + 1], vs[j + 1]),
                at(us[i], vs[j + 1]),
            )


def _ribbed(length: float, period: float, rib: float) -> list[float]:
    """Grid lines with a rib of width ``rib`` at the start of each ``period``."""
    lines: list[float] = []
    for start in np.arange(0.0, length - 1e-9, period):
        lines += [float(start), float(start + rib)]
    return [*lines, length]


def museum_hall() -> _Builder:
    """The hall; normals point into the room (as seen by a visitor)."""
    lx, ly, lz, depth = 30.0, 18.0, 10.0, 0.6
    xs, ys = _ribbed(lx, 3.0, 0.3), _ribbed(ly, 3.0, 0.3)
    zs = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    b = _Builder()
    _grid(b, (0, 0, 0), (1, 0, 0), (0, 1, 0), xs, ys, lambda i, j: "大理石地面")

    def south(i: int, j: int) -> str:
        # Tall windows in the wide cells, from 2 m to 8 m.
        return "glass_window" if i % 2 == 1 and 1 <= j <= 3 else "石墙_limestone"

    def north(i: int, j: int) -> str:
        return "wooden_lining" if j == 0 else "石墙_limestone"

    def west(i: int, j: int) -> str | None:
        # An open doorway, 2.7 m wide and 4 m high, in the middle of the west wall.
        return None if ys[i] == 6.3 and j <= 1 else "石墙_limestone"

    _grid(b, (0, 0, 0), (0, 0, 1), (1, 0, 0), zs, xs, lambda j, i: south(i, j))
    _grid(b, (0, ly, 0), (1, 0, 0), (0, 0, 1), xs, zs, north)
    _grid(b, (0, 0, 0), (0, 1, 0), (0, 0, 1), ys, zs, west)
    _grid(b, (lx, 0, 0), (0, 0, 1), (0, 1, 0), zs, ys, lambda j, i: "石墙_limestone")

    # Ceiling: plaster ribs on the grid, and a coffer recessed above every wide cell.
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
            if i % 2 == 1 and j % 2 == 1:
                top = lz + depth
                name = "coffer_acoustic_plaster"
                b.quad(name, (x0, y0, top), (x0, y1, top), (x1, y1, top), (x1, y0, top))
                # The coffer's sides are plain plaster, facing into the recess.
                sides = "石膏_coffer_sides"
                b.quad(sides, (x0, y0, top), (x1, y0, top), (x1, y0, lz), (x0, y0, lz))
                b.quad(sides, (x1, y0, top), (x1, y1, top), (x1, y1, lz), (x1, y0, lz))
                b.quad(sides, (x1, y1, top), (x0, y1, top), (x0, y1, lz), (x1, y1, lz))
                b.quad(sides, (x0, y1, top), (x0, y0, top), (x0, y0, lz), (x0, y1, lz))
            else:
                b.quad("石膏_ceiling_ribs", (x0, y0, lz), (x0, y1, lz), (x1, y1, lz), (x1, y0, lz))
    return b


def courtyard() -> _Builder:
    """The courtyard: paving, a central lawn, facades with windows; no roof."""
    lx, ly = 40.0, 30.0
    xs = [float(x) for x in np.arange(0.0, lx + 1e-9, 4.0)]
    ys = [float(y) for y in np.arange(0.0, ly + 1e-9, 3.0)]
    zs = [0.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    b = _Builder()

    def ground(i: int, j: int) -> str:
        return "草坪_lawn" if 3 <= i <= 6 and 3 <= j <= 6 else "花岗岩铺地_granite_paving"

    def facade(i: int, j: int) -> str:
        # Windows on the upper floors in every other bay.
        return "glass_windows" if i % 2 == 1 and j in (1, 3) else "砖墙_brick_facade"

    _grid(b, (0, 0, 0), (1, 0, 0), (0, 1, 0), xs, ys, ground)
    _grid(b, (0, 0, 0), (0, 0, 1), (1, 0, 0), zs, xs, lambda j, i: facade(i, j))
    _grid(b, (0, ly, 0), (1, 0, 0), (0, 0, 1), xs, zs, facade)
    _grid(b, (0, 0, 0), (0, 1, 0), (0, 0, 1), ys, zs, facade)
    _grid(b, (lx, 0, 0), (0, 0, 1), (0, 1, 0), zs, ys, lambda j, i: facade(i, j))
    return b


_COLOURS = {
    "大理石地面": (0.90, 0.89, 0.86),
    "石墙_limestone": (0.80, 0.75, 0.62),
    "glass_window": (0.55, 0.70, 0.85),
    "glass_windows": (0.55, 0.70, 0.85),
    "wooden_lining": (0.55, 0.35, 0.20),
    "石膏_ceiling_ribs": (0.95, 0.95, 0.93),
    "coffer_acoustic_plaster": (0.88, 0.86, 0.80),
    "石膏_coffer_sides": (0.93, 0.92, 0.89),
    "草坪_lawn": (0.30, 0.60, 0.25),
    "花岗岩铺地_granite_paving": (0.60, 0.58, 0.56),
    "砖墙_brick_facade": (0.62, 0.30, 0.22),
}


def write_obj(builder: _Builder, path: Path, *, title: str) -> None:
    """OBJ with shared vertices and one ``usemtl`` group per material, plus its MTL."""
    lines = [f"# {title}", "# Made by assets/meshes/make_meshes.py (genius-loci, CC0).", ""]
    lines.append(f"mtllib {path.stem}.mtl")
    lines.append(f"o {path.stem}")
    lines += [f"v {x:g} {y:g} {z:g}" for x, y, z in builder.vertices]
    for material, faces in builder.groups.items():
        lines.append(f"usemtl {material}")
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mtl = [f"# Materials of {path.name}: names only matter to genius-loci; colours for viewers."]
    for material in builder.groups:
        r, g, b = _COLOURS.get(material, (0.8, 0.8, 0.8))
        mtl += ["", f"newmtl {material}", f"Kd {r:.2f} {g:.2f} {b:.2f}"]
    path.with_suffix(".mtl").write_text("\n".join(mtl) + "\n", encoding="utf-8")


def write_glb(builder: _Builder, path: Path) -> None:
    """Binary glTF, one node and one named material per material group, y up."""
    import trimesh
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import PBRMaterial

    points = np.asarray(builder.vertices, dtype=np.float64)
    # glTF is y-up: a z-up (x, y, z) is (x, z, -y).
    y_up = np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)
    scene = trimesh.Scene()
    for number, (material, faces) in enumerate(builder.groups.items()):
        faces = np.asarray(faces, dtype=np.int64)
        used, inverse = np.unique(faces, return_inverse=True)
        r, g, b = _COLOURS.get(material, (0.8, 0.8, 0.8))
        colour = [round(255 * r), round(255 * g), round(255 * b), 255]
        visual = TextureVisuals(material=PBRMaterial(name=material, baseColorFactor=colour))
        mesh = trimesh.Trimesh(
            y_up[used], inverse.reshape(faces.shape), process=False, visual=visual
        )
        scene.add_geometry(mesh, node_name=f"{material}", geom_name=f"part_{number}")
    path.write_bytes(scene.export(file_type="glb"))


def main() -> None:
    hall = museum_hall()
    write_obj(hall, HERE / "museum_hall.obj", title="A museum hall, 30 x 18 x 10 m, z up")
    write_glb(hall, HERE / "museum_hall.glb")
    write_obj(courtyard(), HERE / "courtyard.obj", title="A courtyard, 40 x 30 m, open sky, z up")
    for name in ("museum_hall.obj", "museum_hall.mtl", "museum_hall.glb", "courtyard.obj"):
        print(f"{name}: {(HERE / name).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
