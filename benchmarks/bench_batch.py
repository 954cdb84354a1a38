"""Throughput of ``loci batch --engine local`` against the single-render rate.

Run: ``python benchmarks/bench_batch.py [--jobs 20] [--duration 10] [--workers 2]``.
Renders variants (one seed each) of examples/beach.yaml: ``--single`` of them one after
another in this process (after a warm-up render, so that imports and compiled code are not
counted; half before the batch and half after it) for the single-render rate r; and
``--jobs`` of them through ``loci batch`` with ``--workers N``, timed from the command's
start to its end (worker start-up included). Prints the throughput T and T / (N x r);
the goal is a ratio of 0.85 or more for 200 jobs of 10 s on 2 cores. Then runs as many
warm render loops side by side as there are workers, each in a process of its own with no
batch around it: the most that any batch could get from this machine. Also prints each
worker's resident memory at its first and last job, from the ledger (the goal: growth
under 10%).
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
    parser.add_argument("--first-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    from loci.pipeline import RenderOptions, render_file

    if args.first_seed is not None:
        # One of the side-by-side processes of the machine's own ceiling (see below).
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
            options = RenderOptions(duration_s=args.duration)
            render_file(SCENE, Path(scratch) / "warm", options=options)
            started = time.perf_counter()
            for seed in range(args.first_seed, args.first_seed + args.single):
                options = RenderOptions(seed=seed, duration_s=args.duration)
                render_file(SCENE, Path(scratch) / f"r{seed}", options=options)
            print(args.single / (time.perf_counter() - started))
        return

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        scratch_dir = Path(scratch)
        render_file(SCENE, scratch_dir / "warm", options=RenderOptions(duration_s=args.duration))

        def single_renders(first_seed: int, count: int) -> float:
            """Seconds for ``count`` renders one after another in this (warm) process."""
            started = time.perf_counter()
            for seed in range(first_seed, first_seed + count):
                options = RenderOptions(seed=seed, duration_s=args.duration)
                render_file(SCENE, scratch_dir / f"single{seed}", options=options)
            return time.perf_counter() - started

        # Half of the single renders before the batch and half after: the shared machine's
        # speed drifts over minutes, and the batch is compared with both sides of it.
        before = args.single // 2
        single_s = single_renders(1000, before)

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
        after = args.single - before
        single_s += single_renders(2000, after)
        single_rate = args.single / single_s

    # The machine's own ceiling: as many warm render loops as workers, side by side, each
    # in its own process with nothing else to do (no batch). Two busy cores of a shared
    # machine do not each keep the speed of one.
    loops = [
        subprocess.Popen(
            [
                *(sys.executable, __file__, "--first-seed", str(3000 + 100 * k)),
                *("--single", str(args.single), "--duration", str(args.duration)),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for k in range(args.workers)
    ]
    side_by_side = sum(float(loop.communicate()[0].split()[-1]) for loop in loops)

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
    print(
        f"{args.workers} warm render loops side by side (no batch): {side_by_side:.2f} "
        f"jobs/s = {side_by_side / ideal:.2f} of {args.workers} x single; the batch reaches "
        f"{throughput / side_by_side:.2f} of that"
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
