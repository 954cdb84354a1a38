"""Throughput of ``loci batch --engine local`` against the single-render rate.

Run: ``python benchmarks/bench_batch.py [--jobs 20] [--duration 10] [--workers 2]``.
Renders variants (one seed each) of examples/beach.yaml: first ``--single`` of them one
after another in this process (after a warm-up render, so that imports and compiled code
are not counted) for the single-render rate r; then ``--jobs`` of them through
``loci batch`` with ``--workers N``, timed from the command's start to its end (worker
start-up included). Prints the throughput T and T / (N x r); issue 10's goal is within 15%
(a ratio of 0.85 or more) for 200 jobs of 10 s on 2 cores. Also prints each worker's
resident memory at its first and last job, from the ledger (the goal: growth under 10%).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "examples" / "beach.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="variants in the batch")
    parser.add_argument("--single", type=int, default=6, help="renders timed one by one")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per variant")
    parser.add_argument("--workers", type=int, default=2, help="local engine's workers")
    parser.add_argument("--engine", default="local", choices=("local", "ray"))
    args = parser.parse_args()

    from loci.pipeline import RenderOptions, render_file

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        scratch_dir = Path(scratch)
        render_file(SCENE, scratch_dir / "warm", options=RenderOptions(duration_s=args.duration))
        started = time.perf_counter()
        for seed in range(args.single):
            options = RenderOptions(seed=1000 + seed, duration_s=args.duration)
            render_file(SCENE, scratch_dir / f"single{seed}", options=options)
        single_rate = args.single / (time.perf_counter() - started)

        manifest = scratch_dir / "jobs.csv"
        with manifest.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["scene", "seed", "duration"])
            for seed in range(args.jobs):
                writer.writerow([str(SCENE), seed, args.duration])
        out = scratch_dir / "out"
        command = [sys.executable, "-m", "loci.cli", "batch", str(manifest), "-o", str(out)]
        command += ["--workers", str(args.workers), "--engine", args.engine, "--quiet"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"the batch failed ({done.returncode}): {done.stderr.strip()}")
        records = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]

    throughput = args.jobs / wall
    ideal = args.workers * single_rate
    print(
        f"single render: {single_rate:.2f} jobs/s ({1 / single_rate:.2f} s per "
        f"{args.duration:g} s variant)"
    )
    print(
        f"{args.engine} batch, {args.jobs} jobs, --workers {args.workers}: {wall:.1f} s, "
        f"{throughput:.2f} jobs/s; ideal {args.workers} x single = {ideal:.2f} jobs/s; "
        f"ratio {throughput / ideal:.2f} (goal >= 0.85)"
    )
    seconds = sorted(record["seconds"] for record in records)
    busy = sum(seconds) / args.workers
    print(
        f"per job inside the batch: median {seconds[len(seconds) // 2]:.3f} s, max "
        f"{seconds[-1]:.2f} s (each worker's first job loads the libraries); time outside "
        f"jobs (start-up, planning, report): about {wall - busy:.1f} s"
    )
    by_worker: dict[int, list[float]] = {}
    for record in records:
        if record.get("worker_pid") and record.get("worker_rss_mb"):
            by_worker.setdefault(record["worker_pid"], []).append(record["worker_rss_mb"])
    for pid, rss in sorted(by_worker.items()):
        growth = (rss[-1] - rss[0]) / rss[0]
        print(
            f"worker {pid}: {len(rss)} jobs, RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB "
            f"(max {max(rss):.0f}; {growth:+.1%} first to last)"
        )


if __name__ == "__main__":
    main()
