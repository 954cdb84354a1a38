"""What ``loci batch`` shows while it runs: a progress bar over jobs, and the summary line."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from loci.batch.work import JobOutcome

__all__ = ["job_progress", "summary_line"]


@contextlib.contextmanager
def job_progress(
    *, total: int, skipped: int, quiet: bool = False
) -> Iterator[Callable[[JobOutcome], None]]:
    """A rich progress bar over jobs on stderr, with the rate and the time left.

    Yields the callback that advances it by one finished job. Shows nothing when ``quiet``
    or when stderr is not a terminal (a log file gets the summary line only).
    """
    if quiet or not sys.stderr.isatty():
        yield lambda _outcome: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    failures = 0
    with bar:
        task = bar.add_task("jobs", total=total, completed=skipped, rate="", failed="")

        def advance(outcome: JobOutcome) -> None:
            nonlocal failures
            failures += 0 if outcome.ok else 1
            bar.advance(task)
            speed = bar.tasks[0].speed  # jobs per second over rich's recent window
            bar.update(
                task,
                rate=f"{speed * 60:.1f} jobs/min" if speed else "",
                failed=f"{failures} failed" if failures else "",
            )

        yield advance


def summary_line(*, done: int, skipped: int, failed: int, seconds: float, report: Path) -> str:
    """``batch: 18 done, 2 skipped, 1 failed of 21 jobs in 42.3 s; report: OUT/report.html``."""
    total = done + skipped + failed
    return (
        f"batch: {done} done, {skipped} skipped, {failed} failed of {total} jobs "
        f"in {seconds:.1f} s; report: {report}"
    )
