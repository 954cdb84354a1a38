"""Small meshes of known volume and area, made by the tests, and writers for them.

A mesh here is a list of parts ``(name, vertices (N, 3), faces (F, 3))``; every part keeps
its own vertices (as files split them per material), so the reader has to weld them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Part = tuple[str, np.ndarray, np.ndarray]


def quad(origin, u, v, *, name: str, n: int = 1) -> Part:
    """A parallelogram ``origin + s u + t v`` (s, t in [0, 1]) in n x n cells, normal u x v."""
    origin, u, v = (np.asarray(a, float) for a in (origin, u, v))
    s, t = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1), indexing="ij")
    vertices = origin + s.reshape(-1, 1) * u + t.reshape(-1, 1) * v
    index = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b = index[:-1, :-1].ravel(), index[1:, :-1].ravel()
    c, d = index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return name, vertices, faces


def box(size, *, origin=(0, 0, 0), n: int = 1, names: dict[str, str] | None = None) -> list[Part]:
    """The six faces of a box, normals outwards, named by SHOEBOX_SURFACES (or ``names``)."""
    lx, ly, lz = size
    o = np.asarray(origin, float)
    names = names or {}
    spec = {
        "floor": (o, (0, ly, 0), (lx, 0, 0)),
        "ceiling": (o + np.array([0, 0, lz]), (lx, 0, 0), (0, ly, 0)),
        "south": (o, (lx, 0, 0), (0, 0, lz)),
        "north": (o + np.array([0, ly, 0]), (0, 0, lz), (lx, 0, 0)),
        "west": (o, (0, 0, lz), (0, ly, 0)),
        "east": (o + np.array([lx, 0, 0]), (0, ly, 0), (0, 0, lz)),
    }
    return [quad(p, u, v, name=names.get(k, k), n=n) for k, (p, u, v) in spec.items()]


def l_room(height: float = 3.0) -> list[Part]:
    """An L-shaped room: (0,0)-(10,0)-(10,4)-(4,4)-(4,8)-(0,8), floor area 56 m^2."""
    plan = np.array([(0, 0), (10, 0), (10, 4), (4, 4), (4, 8), (0, 8)], float)
    reflex = 3  # the floor is a fan from the inner corner (4, 4): the L is star-shaped there
    fan = [(reflex, (reflex + k) % 6, (reflex + k + 1) % 6) for k in range(1, 5)]
    floor = np.c_[plan, np.zeros(6)]
    ceiling = np.c_[plan, np.full(6, height)]
    parts: list[Part] = [
        ("floor", floor, np.array([(a, c, b) for a, b, c in fan])),  # normals down (out)
        ("ceiling", ceiling, np.array(fan)),
    ]
    for k in range(6):
        p, q = plan[k], plan[(k + 1) % 6]
        parts.append(
            quad((*p, 0), (*(q - p), 0), (0, 0, height), name=f"wall{k}")
        )  # counter-clockwise plan, u x v points outwards
    return parts


def transform(parts: list[Part], fn) -> list[Part]:
    return [(name, fn(v), f) for name, v, f in parts]


def write_obj(path: Path, parts: list[Part], *, mtl: bool = True) -> Path:
    """Write parts as OBJ, one ``usemtl`` per part (and an MTL beside it when ``mtl``)."""
    lines = [f"mtllib {path.stem}.mtl"] if mtl else []
    offset = 1
    for name, vertices, faces in parts:
        lines.append(f"o {name}")
        lines += [f"v {x!r} {y!r} {z!r}" for x, y, z in vertices.tolist()]
        lines.append(f"usemtl {name}")
        lines += [f"f {a + offset} {b + offset} {c + offset}" for a, b, c in faces.tolist()]
        offset += len(vertices)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if mtl:
        names = dict.fromkeys(name for name, _, _ in parts)
        text = "".join(f"newmtl {name}\nKd 0.8 0.8 0.8\n" for name in names)
        path.with_suffix(".mtl").write_text(text, encoding="utf-8")
    return path


def write_glb(path: Path, parts: list[Part]) -> Path:
    """Write parts as a binary glTF, one node and one named material per part, y up."""
    import trimesh
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import PBRMaterial

    scene = trimesh.Scene()
    for index, (name, vertices, faces) in enumerate(parts):
        # glTF is y-up: (x, y, z) z-up is (x, z, -y) y-up.
        y_up = np.stack([vertices[:, 0], vertices[:, 2], -vertices[:, 1]], axis=1)
        mesh = trimesh.Trimesh(
            y_up,
            faces,
            process=False,
            visual=TextureVisuals(material=PBRMaterial(name=name)),
        )
        scene.add_geometry(mesh, node_name=f"{name}_node", geom_name=f"{name}_{index}")
    path.write_bytes(scene.export(file_type="glb"))
    return path
