"""Run a batch: find its jobs, skip what is done, render the rest, record, report.

Two steps, so that the command line can show a progress bar whose total is known:
:func:`plan_batch` (reads the jobs, hashes their inputs, reads the ledger; raises
SceneError for bad input) and :func:`run_batch` (renders and writes the report).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loci.batch.engines import make_engine
from loci.batch.hashing import input_hashes
from loci.batch.jobs import Job, discover_jobs
from loci.batch.ledger import LEDGER_NAME, append_record, latest_records, make_record, read_records
from loci.batch.work import JobOutcome

__all__ = ["BatchPlan", "BatchSummary", "plan_batch", "run_batch"]

REPORT_NAME = "report.html"
# Not of the form ".NAME.*", which remove_stale_temporaries takes for a temporary folder.
_LOCK_NAME = ".batch-lock"
_WAIT_S = 0.5  # how often the runner looks up from waiting, to keep the progress bar alive


@dataclass(frozen=True)
class BatchPlan:
    """The jobs of a batch and which of them ``--resume`` finds done.

    Attributes
    ----------
    source
        The folder or manifest the jobs came from.
    out_root
        The batch's output folder, absolute.
    jobs
        Every job, sorted by name.
    hashes
        Input hash of each job, by name.
    to_run
        The jobs to render now (all of them without ``--resume``).
    skipped
        Names of the jobs found done with unchanged inputs.
    """

    source: Path
    out_root: Path
    jobs: tuple[Job, ...]
    hashes: dict[str, str]
    to_run: tuple[Job, ...]
    skipped: tuple[str, ...]

    @property
    def ledger(self) -> Path:
        """``OUT/batch.jsonl``."""
        return self.out_root / LEDGER_NAME


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did.

    Attributes
    ----------
    done, skipped, failed
        Job names rendered now, found done, and failed after their retries.
    errors
        The error of each failed job, by name.
    seconds
        Wall time of the renders (not of planning).
    report
        ``OUT/report.html``.
    """

    done: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    errors: dict[str, str]
    seconds: float
    report: Path

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return not self.failed


def plan_batch(source: Path, out_root: Path, *, resume: bool = False) -> BatchPlan:
    """Find the jobs of ``source`` and, with ``resume``, the ones already done.

    Raises
    ------
    SceneError
        For a missing or empty folder, or a bad manifest.
    """
    from loci import __version__

    out_root = Path(out_root).resolve()
    jobs = discover_jobs(Path(source), exclude=out_root)
    hashes = input_hashes(jobs, version=__version__)
    skipped: list[str] = []
    if resume:
        latest = latest_records(read_records(out_root / LEDGER_NAME))
        for job in jobs:
            record = latest.get(job.name)
            if (
                record is not None
                and record.get("status") == "ok"
                and record.get("input_hash") == hashes[job.name]
                and (out_root / job.name / "mix.wav").is_file()
            ):
                skipped.append(job.name)
    done = set(skipped)
    return BatchPlan(
        source=Path(source),
        out_root=out_root,
        jobs=jobs,
        hashes=hashes,
        to_run=tuple(job for job in jobs if job.name not in done),
        skipped=tuple(skipped),
    )


def run_batch(
    plan: BatchPlan,
    *,
    engine: str = "local",
    workers: int | None = None,
    retries: int = 1,
    ray_address: str | None = None,
    on_outcome: Callable[[JobOutcome], None] | None = None,
) -> BatchSummary:
    """Render the plan's jobs, append each final outcome to the ledger, write the report.

    Parameters
    ----------
    plan
        From :func:`plan_batch`.
    engine
        ``"local"`` (a process pool) or ``"ray"``.
    workers
        Processes (local) or CPUs of a Ray started here; None: ``os.cpu_count()``.
    retries
        Further attempts of a job that failed for a reason other than its input.
    ray_address
        A running Ray cluster (``auto``, ``ray://HEAD:10001``); None starts one here.
    on_outcome
        Called with each job's final outcome as it is recorded.

    Returns
    -------
    BatchSummary
    """
    if retries < 0:
        raise ValueError(f"retries={retries} must be >= 0")
    workers = workers or os.cpu_count() or 1
    out_root = plan.out_root
    out_root.mkdir(parents=True, exist_ok=True)
    notify = on_outcome or (lambda _outcome: None)
    started = time.perf_counter()
    outcomes: dict[str, JobOutcome] = {}
    with _exclusive(out_root):
        remove_stale_temporaries(out_root, plan.jobs)
        if plan.to_run:
            runner = make_engine(
                engine, out_root=out_root, workers=workers, ray_address=ray_address
            )
            try:
                by_name = {job.name: job for job in plan.to_run}
                for outcome, attempts in _drive(runner, plan.to_run, retries=retries):
                    job = by_name[outcome.job]
                    record = make_record(
                        outcome,
                        input_hash=plan.hashes[job.name],
                        attempts=attempts,
                        scene=job.scene,
                    )
                    append_record(plan.ledger, record)
                    outcomes[job.name] = outcome
                    notify(outcome)
            finally:
                runner.close()
        seconds = time.perf_counter() - started

        from loci.batch.report import write_report

        report = write_report(plan, out_root / REPORT_NAME, total_seconds=seconds)
    return BatchSummary(
        done=tuple(name for name, o in outcomes.items() if o.ok),
        skipped=plan.skipped,
        failed=tuple(name for name, o in outcomes.items() if not o.ok),
        errors={name: o.error or "" for name, o in outcomes.items() if not o.ok},
        seconds=seconds,
        report=report,
    )


def _drive(runner, jobs: tuple[Job, ...], *, retries: int) -> Iterator[tuple[JobOutcome, int]]:
    """Keep the engine busy; yield each job's final outcome with its number of attempts."""
    queue = collections.deque((job, 1) for job in jobs)
    in_flight: dict[object, tuple[Job, int]] = {}
    # A few jobs queued beyond the workers keep them busy between looks; no more, so that
    # a pool that breaks takes few innocent jobs with it.
    capacity = max(1, runner.capacity) * 2
    while queue or in_flight:
        while queue and len(in_flight) < capacity:
            job, attempt = queue.popleft()
            in_flight[runner.submit(job)] = (job, attempt)
        for handle, outcome in runner.wait(list(in_flight), timeout_s=_WAIT_S):
            job, attempt = in_flight.pop(handle)
            if not outcome.ok and outcome.retryable and attempt <= retries:
                queue.appendleft((job, attempt + 1))
            else:
                yield outcome, attempt


def remove_stale_temporaries(out_root: Path, jobs: tuple[Job, ...]) -> list[Path]:
    """Remove the hidden temporary folders (``.NAME.*``) a killed batch left beside its jobs.

    Only names that belong to this batch's jobs (or its report) are touched.
    """
    removed = []
    by_folder: dict[Path, set[str]] = collections.defaultdict(set)
    for job in jobs:
        destination = out_root / job.name
        by_folder[destination.parent].add(destination.name)
    by_folder[out_root].add(REPORT_NAME)
    for folder, names in by_folder.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if any(entry.name.startswith(f".{name}.") for name in names):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


class BatchBusyError(RuntimeError):
    """Another batch is writing into the same output folder."""


@contextlib.contextmanager
def _exclusive(out_root: Path) -> Iterator[None]:
    """Hold ``OUT/.batch-lock``; the kernel lets go of it when this process dies, even killed."""
    fd = os.open(out_root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusyError(
                f"{out_root}: another `loci batch` is writing into this folder"
            ) from None
        yield
    finally:
        os.close(fd)
