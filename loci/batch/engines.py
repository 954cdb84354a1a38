"""Engines run :func:`loci.batch.work.run_job` somewhere and hand back outcomes.

``local``: a process pool on this machine, one worker per core. ``ray``: Ray tasks on a
running cluster (``--ray-address``) or on a Ray started here on demand. Both run the same
job function; a worker that dies (killed, out of memory) comes back as a failed, retryable
outcome, and the local pool is rebuilt.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Protocol

from loci.batch.jobs import Job
from loci.batch.work import JobOutcome, init_worker, run_job, worker_ready

__all__ = ["ENGINES", "Engine", "LocalEngine", "RayEngine", "RayMissingError", "make_engine"]

ENGINES: tuple[str, ...] = ("local", "ray")

#: Handles that finished, each with its outcome.
Finished = list[tuple[Hashable, JobOutcome]]

RAY_INSTALL_HINT = 'pip install "genius-loci[ray]"'

#: Thread pools of the numeric libraries, one thread each in a local worker: the pool
#: already runs one job per core, and more threads than cores make every job slower
#: (Ray sets ``OMP_NUM_THREADS`` for its workers itself). A value the user set is kept.
_ONE_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


@contextlib.contextmanager
def _one_thread_environment() -> Iterator[None]:
    """Set :data:`_ONE_THREAD_ENV` while workers are spawned, then restore this process's.

    Spawned workers copy the environment when they start. The batch's own process must
    not keep the change: numba refuses to run once ``NUMBA_NUM_THREADS`` differs from the
    thread count its pool was launched with, and the parent may be a program (a test
    session, a notebook) that goes on rendering after the batch.
    """
    added = [name for name in _ONE_THREAD_ENV if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


class RayMissingError(RuntimeError):
    """``--engine ray`` was asked for but Ray is not installed."""


class Engine(Protocol):
    """What the batch runner needs from an engine."""

    capacity: int

    def submit(self, job: Job) -> Hashable:
        """Start a job; returns a handle."""
        ...

    def wait(self, handles: list[Hashable], *, timeout_s: float) -> Finished:
        """Outcomes of the handles that finished within ``timeout_s`` (maybe none)."""
        ...

    def close(self) -> None:
        """Stop the workers."""
        ...


class LocalEngine:
    """A pool of ``workers`` processes started with 'spawn'.

    'spawn' because a forked child inherits the parent's threads' locks (numba's, BLAS's)
    in whatever state they were, and because each worker then has the batch as its parent,
    which it watches so that it ends with a killed batch.
    """

    def __init__(self, *, out_root: Path, workers: int) -> None:
        self.capacity = workers
        self._workers = workers
        self._out_root = out_root
        self._pool: cf.ProcessPoolExecutor | None = None
        self._jobs: dict[cf.Future, Job] = {}

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(os.getpid(),),
            )
            # A 'spawn' pool starts a worker per submitted task while none is idle: one
            # empty task each starts them all now, so that they warm up side by side.
            for _ in range(self._workers):
                self._pool.submit(worker_ready)
        return self._pool

    def submit(self, job: Job) -> Hashable:
        # A 'spawn' pool starts its workers on demand, inside submit.
        with _one_thread_environment():
            try:
                future = self._executor().submit(run_job, job, self._out_root)
            except cf.process.BrokenProcessPool:
                self._rebuild()
                future = self._executor().submit(run_job, job, self._out_root)
        self._jobs[future] = job
        return future

    def wait(self, handles: list[Hashable], *, timeout_s: float) -> Finished:
        done, _ = cf.wait(handles, timeout=timeout_s, return_when=cf.FIRST_COMPLETED)  # type: ignore[arg-type]
        finished = []
        broken = False
        for future in done:
            job = self._jobs.pop(future)
            try:
                outcome = future.result()
            except cf.process.BrokenProcessPool as error:
                broken = True
                outcome = _crashed(job, f"a worker process died ({error})")
            except Exception as error:  # pickling trouble and the like: the job's, not ours
                outcome = _crashed(job, f"{type(error).__name__}: {error}")
            finished.append((future, outcome))
        if broken:
            self._rebuild()
        return finished

    def _rebuild(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayEngine:
    """Ray tasks, one CPU each, on a cluster at ``address`` or on a local Ray started here.

    The output folder must be visible at the same path on every node (a shared file
    system), since each task writes its job's folder where it runs.
    """

    def __init__(self, *, out_root: Path, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise RayMissingError(
                f"--engine ray needs Ray, which is not installed: {RAY_INSTALL_HINT}"
            ) from None
        self._ray = ray
        self._out_root = out_root
        self._temp_dir: str | None = None
        self._started_here = False
        self._saved_environment: dict[str, str | None] = {}
        if "RAY_USAGE_STATS_ENABLED" not in os.environ:
            self._saved_environment["RAY_USAGE_STATS_ENABLED"] = None
            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        if not ray.is_initialized():
            if address is None:
                self._start_local(workers)
            else:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", workers))
        self.capacity = max(1, cpus if address is not None else workers)
        self._task = ray.remote(num_cpus=1, max_retries=0)(run_job)
        self._jobs: dict[Hashable, Job] = {}

    def _start_local(self, workers: int) -> None:
        # Keep a Ray started here on 127.0.0.1: no usage report, no cloud metadata probe
        # (an unreachable proxy), no dashboard, and its sockets in a short folder of ours.
        # Ray's processes inherit these when they start; this process gets its own back
        # in close().
        for name, value in (
            ("RAY_AUTH_MODE", "disabled"),
            ("no_proxy", "127.0.0.1,localhost"),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("http_proxy", "http://127.0.0.1:9"),
            ("https_proxy", "http://127.0.0.1:9"),
        ):
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        self._temp_dir = tempfile.mkdtemp(prefix="loci-ray-")
        self._ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=self._temp_dir,
            _node_ip_address="127.0.0.1",
        )
        self._started_here = True

    def submit(self, job: Job) -> Hashable:
        ref = self._task.remote(job, self._out_root)
        self._jobs[ref] = job
        return ref

    def wait(self, handles: list[Hashable], *, timeout_s: float) -> Finished:
        ready, _ = self._ray.wait(handles, num_returns=1, timeout=timeout_s)
        finished = []
        for ref in ready:
            job = self._jobs.pop(ref)
            try:
                outcome = self._ray.get(ref)
            except Exception as error:  # a worker that died, or a lost node
                outcome = _crashed(job, f"{type(error).__name__}: {error}")
            finished.append((ref, outcome))
        return finished

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()


def make_engine(
    name: str, *, out_root: Path, workers: int, ray_address: str | None = None
) -> Engine:
    """Build the engine called ``name`` (one of :data:`ENGINES`)."""
    if name == "local":
        return LocalEngine(out_root=out_root, workers=workers)
    if name == "ray":
        return RayEngine(out_root=out_root, workers=workers, address=ray_address)
    raise ValueError(f"engine={name!r}; allowed: {', '.join(ENGINES)}")


def _crashed(job: Job, error: str) -> JobOutcome:
    return JobOutcome(job=job.name, status="failed", seconds=0.0, error=error.replace("\n", " "))
