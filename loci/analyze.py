"""``loci analyze``: the environment E of a scene file, a mesh, an RGB-D scan or frames.

Prints E as JSON and, on request, draws a top view of the place: the floor, the walls
coloured by material (for a scan: the floor plan found, its walls seen or not, and where
the cameras stood), the listener and the sources.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scene.errors import SceneError

if TYPE_CHECKING:
    from scene.environment import Environment
    from scene.mesh_analysis import MeshAnalysis
    from scene.model import Scene
    from scene.room_estimate import ScanAnalysis

__all__ = ["Analysis", "analyze_path", "plot_top_view"]


@dataclass(frozen=True, eq=False)
class Analysis:
    """What ``loci analyze`` found.

    Attributes
    ----------
    report
        JSON-ready: the environment's features (name -> value, unit, source, confidence)
        and notes.
    scene
        The scene, when PATH was a scene file.
    mesh
        The mesh analysis, when PATH was a mesh or a scene with a mesh room.
    scan
        The scan analysis, when PATH was a scan or a scene with a scan room.
    """

    report: dict
    scene: Scene | None = None
    mesh: MeshAnalysis | None = None
    scan: ScanAnalysis | None = None


def analyze_path(path: str | Path) -> Analysis:
    """Measure the environment of a scene file, a mesh, an RGB-D scan or camera frames.

    Parameters
    ----------
    path
        A scene file (``.yaml``, ``.yml``, ``.json``), a mesh (``.obj``, ``.ply``,
        ``.stl``, ``.gltf``, ``.glb``; its own up axis, default materials), an RGB-D scan
        (a folder holding a nerfstudio ``transforms.json``, or that file; its up axis
        inferred, default materials), or a folder of images (``.jpg``, ``.jpeg``,
        ``.png``).

    Returns
    -------
    Analysis

    Raises
    ------
    SceneError
        For a path of another kind, or anything wrong with the input.
    """
    from scene.loader import FRAME_SUFFIXES, SCENE_SUFFIXES, load_scene
    from scene.mesh import MESH_SUFFIXES
    from scene.scan import find_scan_file

    path = Path(path)
    suffix = path.suffix.lower()
    scan_file = find_scan_file(path)
    if scan_file is not None:
        from scene.environment import Environment
        from scene.perception import scan_features
        from scene.room_estimate import analyze_scan

        scan = analyze_scan(scan_file)
        fields, notes = scan_features(scan)
        return Analysis(report=_report(Environment(**fields, notes=tuple(notes))), scan=scan)
    if path.is_dir():
        return Analysis(report=_frames_report(path, FRAME_SUFFIXES))
    if not path.exists():
        raise SceneError("no such file or folder", file=path)
    if suffix in SCENE_SUFFIXES:
        from scene.perception import perceive

        scene = load_scene(path)
        mesh = scan = None
        if scene.room.kind == "mesh" and scene.room.mesh_path is not None:
            from scene.mesh_analysis import analyze_room_mesh

            mesh = analyze_room_mesh(scene.room)
        if scene.room.scan_path is not None:
            from scene.room_estimate import analyze_room_scan

            scan = analyze_room_scan(scene.room)
        return Analysis(report=_report(perceive(scene)), scene=scene, mesh=mesh, scan=scan)
    if suffix in MESH_SUFFIXES:
        from scene.environment import Environment
        from scene.mesh_analysis import analyze_mesh_file
        from scene.perception import mesh_features

        mesh = analyze_mesh_file(path, file=path, field="mesh")
        fields, notes = mesh_features(mesh)
        return Analysis(report=_report(Environment(**fields, notes=tuple(notes))), mesh=mesh)
    kinds = ", ".join((*SCENE_SUFFIXES, *MESH_SUFFIXES))
    raise SceneError(
        f"give a scene file or a mesh ({kinds}), a scan (a folder with transforms.json), "
        "or a folder of camera frames",
        file=path,
        value=path.suffix,
    )


def _report(environment: Environment) -> dict:
    return environment.to_dict()


def _frames_report(folder: Path, suffixes: tuple[str, ...]) -> dict:
    from scene.perception import frame_features

    frames = tuple(
        sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )
    )
    if not frames:
        raise SceneError(f"the folder holds no camera images ({', '.join(suffixes)})", file=folder)
    return {name: asdict(feature) for name, feature in frame_features(frames, folder).items()}


def report_json(analysis: Analysis) -> str:
    """The report as UTF-8-ready JSON text, indented by 2 (Chinese kept as it is)."""
    return json.dumps(analysis.report, ensure_ascii=False, indent=2)


def plot_top_view(analysis: Analysis, out: str | Path) -> Path:
    """Draw the place seen from above to a PNG.

    Parameters
    ----------
    analysis
        From :func:`analyze_path`; a frames folder has nothing to draw.
    out
        The PNG to write.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    SceneError
        When there is no geometry to draw (a frames folder, a free field without sources).
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.collections import LineCollection, PolyCollection

    out = Path(out)
    if analysis.mesh is None and analysis.scene is None and analysis.scan is None:
        raise SceneError("a folder of frames has no geometry to draw", field="--plot")
    figure, axes = plt.subplots(figsize=(8, 6), dpi=100)
    palette = plt.get_cmap("tab10")
    title = "top view"
    if analysis.mesh is not None:
        mesh = analysis.mesh
        from scene.model import SHOEBOX_SURFACES

        corners = mesh.vertices[mesh.faces]  # (F, 3, 3)
        floor = mesh.face_class == SHOEBOX_SURFACES.index("floor")
        # Walls a visitor stands among: those reaching below mid-height (not the sides of
        # coffers or of a clerestory, which would hide the plan).
        half = mesh.bbox_origin[2] + mesh.bbox_size[2] / 2.0
        walls = (mesh.face_class < SHOEBOX_SURFACES.index("floor")) & (
            corners[:, :, 2].min(axis=1) < half
        )
        colours = np.array([palette(i % 10) for i in range(len(mesh.surfaces))])
        if floor.any():
            polygons = corners[floor][:, :, :2]
            # Lightened toward white, opaque: overlapping edges of transparent triangles
            # would draw the triangulation.
            faded = 0.35 * colours[mesh.face_group[floor]] + 0.65
            axes.add_collection(
                PolyCollection(polygons, facecolors=faded, edgecolors=faded, linewidths=0.5)
            )
        if walls.any():
            # A vertical triangle seen from above is a segment: its two farthest corners.
            plan = corners[walls][:, :, :2]
            pairs = np.array([(0, 1), (1, 2), (0, 2)])
            lengths = np.linalg.norm(plan[:, pairs[:, 0]] - plan[:, pairs[:, 1]], axis=2)
            best = pairs[np.argmax(lengths, axis=1)]
            rows = np.arange(len(plan))
            segments = np.stack([plan[rows, best[:, 0]], plan[rows, best[:, 1]]], axis=1)
            # Small surfaces (windows, panelling) drawn last, over the wall they sit in.
            group = mesh.face_group[walls]
            order = np.argsort(group, kind="stable")
            axes.add_collection(
                LineCollection(segments[order], colors=colours[group[order]], linewidths=3)
            )
        for index, group in enumerate(mesh.surfaces):
            axes.plot(
                [],
                [],
                color=colours[index],
                linewidth=6,
                label=f"{group.material.name} ({group.area_m2:.0f} m²)",
            )
        rt60 = mesh.acoustics.rt60_mid_s if mesh.acoustics is not None else None
        title = f"{mesh.path.name}: {mesh.enclosure}" + (
            f", RT60 {rt60:.2f} s (500 Hz-1 kHz)" if rt60 is not None else ""
        )
        low, size = np.asarray(mesh.bbox_origin), np.asarray(mesh.bbox_size)
    elif analysis.scan is not None:
        low, size, title = _scan_plan(analysis.scan, axes, palette)
    else:
        low, size = _room_box(analysis.scene, axes, palette)
        name = analysis.scene.path.name if analysis.scene.path else "scene"
        title = f"{name}: {analysis.scene.room.kind}"
    scene = analysis.scene
    if scene is not None:
        x, y, _ = scene.listener.position
        yaw = np.radians(scene.listener.yaw_deg)
        axes.plot([x], [y], marker="o", color="black", markersize=9, label="listener", linestyle="")
        axes.annotate(
            "",
            xy=(x + np.cos(yaw), y + np.sin(yaw)),
            xytext=(x, y),
            arrowprops={"arrowstyle": "->", "color": "black"},
        )
        for number, source in enumerate(scene.sources):
            if source.position is None:
                continue
            sx, sy, _ = source.position
            label = source.stem or (source.audio.name if source.audio else f"source {number}")
            axes.plot([sx], [sy], marker="^", color="crimson", markersize=8, linestyle="")
            axes.annotate(label, (sx, sy), textcoords="offset points", xytext=(5, 5), fontsize=8)
    margin = 0.05 * float(max(size[0], size[1], 1.0))
    axes.set_xlim(low[0] - margin, low[0] + size[0] + margin)
    axes.set_ylim(low[1] - margin, low[1] + size[1] + margin)
    axes.set_aspect("equal")
    axes.set_xlabel("x (m)")
    axes.set_ylabel("y (m)")
    axes.set_title(title)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out


def _room_box(scene: Scene, axes: object, palette: object) -> tuple:
    """Draw a shoebox's walls by material (or an outdoor ground); return its plan box."""
    import numpy as np

    room = scene.room
    if room.size is None:
        points = [scene.listener.position] + [s.position for s in scene.sources if s.position]
        xy = np.asarray(points, dtype=float)[:, :2]
        low = xy.min(axis=0) - 2.0
        return np.r_[low, 0.0], np.r_[xy.max(axis=0) + 2.0 - low, 0.0]
    ox, oy, _ = room.origin
    lx, ly, _ = room.size
    walls = {
        "west": ((ox, oy), (ox, oy + ly)),
        "east": ((ox + lx, oy), (ox + lx, oy + ly)),
        "south": ((ox, oy), (ox + lx, oy)),
        "north": ((ox, oy + ly), (ox + lx, oy + ly)),
    }
    names = sorted({room.material(w).name for w in walls} | {room.material("floor").name})
    colour = {name: palette(i % 10) for i, name in enumerate(names)}
    floor = room.material("floor").name
    axes.fill(
        [ox, ox + lx, ox + lx, ox],
        [oy, oy, oy + ly, oy + ly],
        color=colour[floor],
        alpha=0.35,
        label=f"{floor} (floor)",
    )
    for wall, (a, b) in walls.items():
        name = room.material(wall).name
        axes.plot(
            [a[0], b[0]], [a[1], b[1]], color=colour[name], linewidth=4, label=f"{name} ({wall})"
        )
    return np.asarray(room.origin, float), np.asarray(room.size, float)


def _scan_plan(scan: ScanAnalysis, axes: object, palette: object) -> tuple:
    """Draw a scan's floor plan, its edges (walls seen or not) and the cameras."""
    import numpy as np
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Rectangle

    estimate = scan.estimate
    materials = {name: material.name for name, material, _ in scan.surfaces}
    floor_colour = palette(0)
    for x0, y0, x1, y1 in estimate.rectangles:
        axes.add_patch(
            Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=floor_colour, alpha=0.3, linewidth=0)
        )
    axes.plot(
        [], [], color=floor_colour, alpha=0.3, linewidth=6, label=f"floor ({materials['floor']})"
    )
    edges = estimate.edges
    seen = edges[:, 4] >= 0.5
    for mask, colour, label in (
        (seen, palette(1), f"wall seen ({materials.get('west', 'walls')})"),
        (~seen, "grey", "edge of what was seen"),
    ):
        if mask.any():
            segments = edges[mask, :4].reshape(-1, 2, 2)
            style = "solid" if colour != "grey" else "dashed"
            axes.add_collection(
                LineCollection(segments, colors=[colour], linewidths=3, linestyles=style)
            )
            axes.plot([], [], color=colour, linewidth=3, linestyle=style, label=label)
    cameras = estimate.to_room(scan.fused.camera_positions)
    axes.plot(
        cameras[:, 0], cameras[:, 1], marker=".", color="dimgray", linestyle="", label="cameras"
    )
    title = (
        f"{scan.path.parent.name}: {estimate.floor_area_m2:.1f} m², "
        f"{estimate.ceiling_height_m:.2f} m high, RT60 {scan.acoustics.rt60_mid_s:.2f} s "
        f"(confidence {estimate.confidence:.2f})"
    )
    lx, ly, _ = estimate.box_m
    return np.zeros(3), np.array([lx, ly, estimate.ceiling_height_m]), title
