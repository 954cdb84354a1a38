"""What a batch renders: one :class:`Job` per scene file under a folder or per manifest row.

A job's ``name`` is its output folder relative to the batch's output folder. From a folder
it is the scene's relative path without its suffix (``rooms/hall.yaml`` -> ``rooms/hall``);
from a manifest row the same, suffixed with the row's overrides so that variants of one
scene get folders of their own (``hall-seed3-d10s``), unless the row names ``output``.
Names depend only on their own row, so adding a row never renames another job's folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from scene.errors import SceneError

__all__ = [
    "MANIFEST_COLUMNS",
    "SCENE_SUFFIXES",
    "Job",
    "discover_jobs",
    "read_manifest",
    "scan_folder",
]

#: Scene file suffixes found in a folder, lower case (as scene.loader accepts them).
SCENE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")

#: Columns a manifest may have; only ``scene`` is required.
MANIFEST_COLUMNS: tuple[str, ...] = ("scene", "instruction", "seed", "duration", "format", "output")

_FORMATS = ("float", "pcm24")
_MAX_DURATION_S = 3600.0


@dataclass(frozen=True)
class Job:
    """One render of a batch.

    Attributes
    ----------
    name
        Output folder, relative to the batch's output folder, with ``/`` separators.
    scene
        The scene file, absolute.
    instruction, seed, duration_s, audio_format
        Overrides of the scene file's values (None keeps the file's).
    origin
        Where the job came from, for messages: the scene file, or ``MANIFEST row N``.
    """

    name: str
    scene: Path
    instruction: str | None = None
    seed: int | None = None
    duration_s: float | None = None
    audio_format: str | None = None
    origin: str = ""

    def overrides(self) -> dict[str, object]:
        """The overrides that are set, as plain values (part of the input hash)."""
        values = {
            "instruction": self.instruction,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "audio_format": self.audio_format,
        }
        return {key: value for key, value in values.items() if value is not None}


def discover_jobs(path: Path, *, exclude: Path | None = None) -> tuple[Job, ...]:
    """The jobs of ``path``: a folder of scene files, a CSV/JSON manifest, or one scene file.

    Parameters
    ----------
    path
        A folder (every ``*.yaml``, ``*.yml`` and ``*.json`` under it, recursively, sorted),
        a ``.csv`` manifest, a ``.json`` manifest (a list of rows, or ``{"jobs": [...]}``),
        or a single scene file.
    exclude
        A folder not to look into (the batch's own output, when it lies under ``path``).

    Returns
    -------
    tuple of Job
        Sorted by name; never empty.

    Raises
    ------
    SceneError
        A missing path, an empty folder, a bad manifest row (naming the manifest, the row and
        the column), or two jobs that would write the same folder.
    """
    path = Path(path)
    if not path.exists():
        raise SceneError("no such file or folder", file=path)
    if path.is_dir():
        jobs = scan_folder(path, exclude=exclude)
    elif path.suffix.lower() == ".csv" or (
        path.suffix.lower() == ".json" and _is_json_manifest(path)
    ):
        jobs = read_manifest(path)
    elif path.suffix.lower() in SCENE_SUFFIXES:
        jobs = (Job(name=path.stem, scene=path.resolve(), origin=str(path)),)
    else:
        raise SceneError(
            "must be a folder of scene files, a .csv or .json manifest, or a scene file",
            file=path,
        )
    if not jobs:
        raise SceneError(
            f"no scene files ({', '.join('*' + s for s in SCENE_SUFFIXES)}) under this folder",
            file=path,
        )
    return jobs


def scan_folder(folder: Path, *, exclude: Path | None = None) -> tuple[Job, ...]:
    """Every scene file under ``folder`` (recursively; hidden files and folders skipped)."""
    folder = Path(folder).resolve()
    excluded = None if exclude is None else Path(exclude).resolve()
    jobs: list[Job] = []
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if excluded is not None and file.is_relative_to(excluded):
            continue
        if file.suffix.lower() not in SCENE_SUFFIXES or not file.is_file():
            continue
        name = relative.with_suffix("").as_posix()
        jobs.append(Job(name=name, scene=file, origin=str(file)))
    return _unique(jobs, source=folder)


def read_manifest(manifest: Path) -> tuple[Job, ...]:
    """Read a CSV or JSON manifest: one job per row, scene paths relative to the manifest.

    Raises
    ------
    SceneError
        Naming the manifest, the row (1 = the first row after a CSV's header) and the column.
    """
    manifest = Path(manifest)
    rows = _json_rows(manifest) if manifest.suffix.lower() == ".json" else _csv_rows(manifest)
    if not rows:
        raise SceneError("the manifest has no rows", file=manifest)
    jobs = [_job_from_row(manifest, number, row) for number, row in enumerate(rows, start=1)]
    return _unique(jobs, source=manifest)


def _is_json_manifest(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # left to the scene loader, whose message names the line
    return isinstance(data, list) or (isinstance(data, dict) and "jobs" in data)


def _csv_rows(manifest: Path) -> list[dict[str, object]]:
    try:
        with manifest.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            _check_columns(manifest, columns)
            rows = []
            for row in reader:
                if None in row:
                    raise SceneError(
                        f"row {reader.line_num - 1} has more cells than the header has columns",
                        file=manifest,
                    )
                rows.append({k.strip(): v for k, v in row.items()})
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SceneError(f"cannot read the manifest: {error}", file=manifest) from None


def _json_rows(manifest: Path) -> list[dict[str, object]]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SceneError(f"cannot read the manifest: {error}", file=manifest) from None
    rows = data["jobs"] if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise SceneError("`jobs` must be a list of rows", file=manifest, field="jobs")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise SceneError(
                "must be a mapping with `scene` and optional overrides",
                file=manifest,
                field=f"row {number}",
                value=row,
            )
        _check_columns(manifest, list(row), row=number)
    return rows


def _check_columns(manifest: Path, columns: list[str], *, row: int | None = None) -> None:
    where = "header" if row is None else f"row {row}"
    if "scene" not in columns:
        raise SceneError(
            f"column `scene` is missing (columns: {', '.join(columns) or 'none'})",
            file=manifest,
            field=where,
        )
    unknown = [c for c in columns if c not in MANIFEST_COLUMNS]
    if unknown:
        raise SceneError(
            f"unknown column; allowed: {', '.join(MANIFEST_COLUMNS)}",
            file=manifest,
            field=where,
            value=unknown[0],
        )


def _job_from_row(manifest: Path, number: int, row: dict[str, object]) -> Job:
    def fail(column: str, problem: str, value: object = None) -> SceneError:
        return SceneError(
            problem, file=manifest, field=f"row {number}, column {column}", value=value
        )

    cells = {k: _blank_to_none(v) for k, v in row.items()}
    scene = cells.get("scene")
    if not isinstance(scene, str):
        raise fail("scene", "must be the path of a scene file, relative to the manifest", scene)
    scene_path = (manifest.parent / scene).resolve()
    if scene_path.suffix.lower() not in SCENE_SUFFIXES:
        raise fail("scene", f"a scene file must end in {', '.join(SCENE_SUFFIXES)}", scene)
    if not scene_path.is_file():
        raise fail("scene", "no such scene file", scene)

    instruction = cells.get("instruction")
    if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
        raise fail("instruction", "must be words (leave it empty to keep the scene's)", instruction)
    seed = _parse_number(cells.get("seed"), int)
    if seed is False or (seed is not None and seed < 0):
        raise fail("seed", "must be a whole number >= 0", cells.get("seed"))
    duration = _parse_number(cells.get("duration"), float)
    if duration is False or (duration is not None and not 0 < duration <= _MAX_DURATION_S):
        raise fail(
            "duration", f"must be in (0, {_MAX_DURATION_S:g}] seconds", cells.get("duration")
        )
    audio_format = cells.get("format")
    if audio_format is not None and audio_format not in _FORMATS:
        raise fail("format", f"allowed: {', '.join(_FORMATS)}", audio_format)

    output = cells.get("output")
    base = _relative_name(manifest.parent.resolve(), scene_path)
    job = Job(
        name=base,
        scene=scene_path,
        instruction=instruction,
        seed=seed,
        duration_s=duration,
        audio_format=audio_format,
        origin=f"{manifest} row {number}",
    )
    if output is None:
        return _with_variant_suffix(job)
    if not isinstance(output, str) or not _safe_name(output):
        raise fail(
            "output",
            "must be a relative folder name without `..` and not starting with `.`",
            output,
        )
    return replace(job, name=PurePosixPath(output.replace("\\", "/")).as_posix())


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _parse_number(value: object, kind: type) -> object:
    """None stays None; a number (or its text) becomes ``kind``; anything else is False."""
    if value is None:
        return None
    if isinstance(value, bool):
        return False
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    if kind is int:
        return int(number) if number.is_integer() else False
    return number if number == number and abs(number) != float("inf") else False


def _relative_name(root: Path, scene: Path) -> str:
    stem = scene.with_suffix("")
    if stem.is_relative_to(root):
        return stem.relative_to(root).as_posix()
    return stem.name  # a scene outside the manifest's folder: its own name


def _with_variant_suffix(job: Job) -> Job:
    parts = []
    if job.seed is not None:
        parts.append(f"seed{job.seed}")
    if job.duration_s is not None:
        parts.append(f"d{job.duration_s:g}s")
    if job.audio_format is not None:
        parts.append(job.audio_format)
    if job.instruction is not None:
        digest = hashlib.sha1(job.instruction.encode("utf-8")).hexdigest()[:8]
        parts.append(f"i{digest}")
    if not parts:
        return job
    return replace(job, name="-".join([job.name, *parts]))


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (
        bool(parts)
        and not PurePosixPath(name).is_absolute()
        and not any(p in ("..", ".") or p.startswith(".") for p in parts)
    )


def _unique(jobs: list[Job], *, source: Path) -> tuple[Job, ...]:
    seen: dict[str, Job] = {}
    for job in jobs:
        earlier = seen.get(job.name)
        if earlier is not None:
            raise SceneError(
                f"{earlier.origin} and {job.origin} would both write this output folder; "
                "give one of them an `output` name",
                file=source,
                value=job.name,
            )
        seen[job.name] = job
    return tuple(sorted(jobs, key=lambda job: job.name))
