"""``loci batch``: render many scene files (or variants of one) with resume and a report.

Jobs come from a folder of scene files or a CSV/JSON manifest (:mod:`loci.batch.jobs`); each
job renders through :func:`loci.pipeline.render` into its own folder, atomically
(:mod:`loci.batch.work`); engines run jobs on a local process pool or on Ray
(:mod:`loci.batch.engines`); a ledger of finished jobs with their input hashes lets a
batch resume (:mod:`loci.batch.ledger`, :mod:`loci.batch.hashing`); a self-contained HTML
page reports it (:mod:`loci.batch.report`).
"""

from loci.batch.engines import ENGINES, RayMissingError
from loci.batch.jobs import Job, discover_jobs
from loci.batch.runner import BatchBusyError, BatchPlan, BatchSummary, plan_batch, run_batch
from loci.batch.work import JobOutcome, run_job

__all__ = [
    "ENGINES",
    "BatchBusyError",
    "BatchPlan",
    "BatchSummary",
    "Job",
    "JobOutcome",
    "RayMissingError",
    "discover_jobs",
    "plan_batch",
    "run_batch",
    "run_job",
]
