"""A job's input hash: what ``--resume`` compares to decide whether a job is still done.

It covers the scene file's bytes, the bytes of every file the scene refers to (a mesh, audio
sources, camera frames), the job's overrides and the package's version. A scene that does
not load is hashed by its own bytes: it fails when rendered, and is redone once changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from loci.batch.jobs import Job

__all__ = ["input_hash", "input_hashes", "referenced_files"]

_CHUNK = 1 << 20


def input_hashes(jobs: Iterable[Job], *, version: str) -> dict[str, str]:
    """:func:`input_hash` of each job, by name; each scene and file is read once.

    Variants of one scene share its file and the files it refers to, so a manifest of a
    thousand variants of one scene loads that scene once.
    """
    file_digests: dict[Path, str] = {}
    references: dict[Path, tuple[Path, ...]] = {}

    def file_digest(file: Path) -> str:
        if file not in file_digests:
            file_digests[file] = _file_digest(file)
        return file_digests[file]

    hashes = {}
    for job in jobs:
        if job.scene not in references:
            references[job.scene] = referenced_files(job.scene)
        digest = hashlib.sha256()
        head = {"version": version, "overrides": job.overrides(), "name": job.name}
        digest.update(json.dumps(head, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(file_digest(job.scene).encode("ascii"))
        for file in references[job.scene]:
            digest.update(str(file).encode("utf-8"))
            digest.update(file_digest(file).encode("ascii"))
        hashes[job.name] = digest.hexdigest()
    return hashes


def input_hash(job: Job, *, version: str) -> str:
    """SHA-256 (hex) of everything a job's output depends on.

    Parameters
    ----------
    job
        The job.
    version
        The package's version (``loci.__version__``): a new version renders anew.
    """
    return input_hashes([job], version=version)[job.name]


def referenced_files(scene_file: Path) -> tuple[Path, ...]:
    """The files a scene file refers to, sorted; empty when the scene does not load."""
    from scene.errors import SceneError
    from scene.loader import load_scene

    try:
        scene = load_scene(scene_file)
    except (SceneError, OSError):
        return ()
    files = set(scene.frames)
    files.update(source.audio for source in scene.sources if source.audio is not None)
    if scene.room.mesh_path is not None:
        files.add(scene.room.mesh_path)
    return tuple(sorted(files))


def _file_digest(file: Path) -> str:
    digest = hashlib.sha256()
    try:
        with Path(file).open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as error:
        # A missing file changes the hash as surely as changed bytes do.
        return f"unreadable: {type(error).__name__}"
    return digest.hexdigest()
