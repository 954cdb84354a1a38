"""The job function that every engine runs, and what it reports back.

:func:`run_job` never raises: any failure comes back as a :class:`JobOutcome` with its
error, because an exception from a worker may not survive pickling and a batch must go on.
Heavy shared inputs (the HRTF, sound fonts, filters) are cached per worker process by the
``lru_cache`` of the functions that load them, so each worker loads them once.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from loci.batch.jobs import Job

__all__ = ["JobOutcome", "init_worker", "run_job", "warm_up", "watch_parent", "worker_ready"]

#: How often a worker checks that the batch that started it is still alive, seconds.
PARENT_POLL_S = 0.2


@dataclass(frozen=True)
class JobOutcome:
    """What one attempt of a job gave.

    Attributes
    ----------
    job
        The job's name.
    status
        ``"ok"`` or ``"failed"``.
    seconds
        Wall time of the attempt.
    key, tempo_bpm, loudness_lufs, true_peak_dbtp
        From the render's result (None when failed, or when the scene has no music).
    error
        ``"TYPE: message"`` when failed.
    retryable
        False for a mistake in the user's input (a SceneError), which no retry can mend.
    worker_pid, worker_rss_mb
        The process that ran it and its resident memory afterwards (to see leaks).
    envelope
        The mix's peak envelope for the report's thumbnail
        (:func:`loci.batch.report.peak_envelope`), measured by the worker while the file
        is fresh, so that the report need not read every mix back.
    """

    job: str
    status: str
    seconds: float
    key: str | None = None
    tempo_bpm: float | None = None
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    error: str | None = None
    retryable: bool = field(default=True)
    worker_pid: int | None = None
    worker_rss_mb: float | None = None
    envelope: tuple[float, ...] | None = None

    @property
    def ok(self) -> bool:
        """True when the job rendered."""
        return self.status == "ok"


def run_job(job: Job, out_root: Path) -> JobOutcome:
    """Render one job into ``out_root / job.name`` (atomically; see loci.outputs).

    Parameters
    ----------
    job
        What to render.
    out_root
        The batch's output folder.

    Returns
    -------
    JobOutcome
        Never raises for a failed render; the error is in the outcome.
    """
    started = time.perf_counter()
    try:
        result = _render(job, Path(out_root) / job.name)
    except Exception as error:
        from scene.errors import SceneError

        return JobOutcome(
            job=job.name,
            status="failed",
            seconds=time.perf_counter() - started,
            error=f"{type(error).__name__}: {error}".replace("\n", " "),
            retryable=not isinstance(error, SceneError),
            worker_pid=os.getpid(),
            worker_rss_mb=_rss_mb(),
        )
    from loci.batch.report import peak_envelope

    seconds = time.perf_counter() - started
    envelope = peak_envelope(Path(out_root) / job.name / "mix.wav")
    return JobOutcome(
        job=job.name,
        status="ok",
        seconds=seconds,
        key=result.key,
        tempo_bpm=result.tempo_bpm,
        loudness_lufs=_finite(result.loudness_lufs),
        true_peak_dbtp=_finite(result.true_peak_dbtp),
        worker_pid=os.getpid(),
        worker_rss_mb=_rss_mb(),
        envelope=tuple(envelope) if envelope is not None else None,
    )


def _render(job: Job, out_dir: Path):  # -> loci.pipeline.RenderResult
    from loci.pipeline import RenderOptions, render, render_file

    options = RenderOptions(
        seed=job.seed,
        duration_s=job.duration_s,
        audio_format=job.audio_format or "float",  # type: ignore[arg-type]
    )
    if job.instruction is None:
        return render_file(job.scene, out_dir, options=options)
    from scene.loader import load_scene

    scene = replace(load_scene(job.scene), instruction=job.instruction)
    return render(scene, out_dir, options=options)


def init_worker(parent_pid: int) -> None:
    """Initialise a local worker process: it ends itself when the batch's process is gone,
    it warms up (:func:`warm_up`) before its first job, and it skips the interpreter's
    teardown when the pool lets it go.

    A worker of a SIGKILLed batch would otherwise wait forever on its task queue (it holds
    the queue's write end itself), or finish a render nobody records.
    """
    # Registered first, so run last of the exit handlers. A spawned worker leaves through
    # sys.exit, whose teardown of a warm render process (hundreds of thousands of objects,
    # numba and the audio libraries) took about a second, which the batch waited for at
    # its end; every job's files were renamed into place before the pool let it go.
    atexit.register(_exit_now)
    watch_parent(parent_pid)
    warm_up()


def _exit_now() -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


#: What :func:`warm_up` renders: a shoebox, two seconds, words in both languages.
_WARM_UP_SCENE = {
    "version": 1,
    "instruction": "在海滩上播放一首轻快的音乐, a light cheerful piece",
    "duration": 2,
    "seed": 0,
    "room": {"kind": "shoebox", "size": [6, 5, 3]},
    "listener": {"position": [2, 2, 1.7], "yaw": 0},
}


def warm_up() -> None:
    """Render a two-second scene into a temporary folder and throw it away.

    A fresh process spends seconds on its first render (imports, jieba's dictionaries and
    the HRTF's minimum-phase split, both read from the cache folder after the first time
    (:mod:`assets.cache`), the sound font, loading compiled kernels). Done here, as each
    worker starts, the workers pay it side by side before any job reaches them, and every
    job's recorded time is that of a warm render. Any failure is left for the jobs to meet
    and report.
    """
    import tempfile

    try:
        from loci.pipeline import render
        from scene.loader import scene_from_dict

        with tempfile.TemporaryDirectory(prefix="loci-warm-up-") as scratch:
            scene = scene_from_dict(_WARM_UP_SCENE, base_dir=Path(scratch))
            render(scene, Path(scratch) / "out")
    except Exception:  # the jobs report what is really wrong
        return


def worker_ready() -> int:
    """A task that does nothing: submitting one per worker starts them all at once."""
    return os.getpid()


def watch_parent(parent_pid: int, *, poll_s: float = PARENT_POLL_S) -> threading.Thread:
    """Start a daemon thread that ends this process soon after ``parent_pid`` has gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(70)  # no clean-up: the render's temporary folder is removed by the next run

    thread = threading.Thread(target=watch, name="loci-batch-parent-watch", daemon=True)
    thread.start()
    return thread


def _finite(value: float | None) -> float | None:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return float(value)


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
