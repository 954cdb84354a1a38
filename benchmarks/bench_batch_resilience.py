"""A batch killed three times and resumed; the same batch on Ray; memory per worker.

Run: ``python benchmarks/bench_batch_resilience.py [--jobs 200] [--duration 10] [--ray]``.
Renders ``--jobs`` variants (one seed each) of examples/beach.yaml three ways:

1. ``loci batch`` with the local engine, start to end (the reference);
2. the same batch into another folder, SIGKILLed at three random moments (seeded) and
   resumed with ``--resume`` after each kill, then once more to the end. Checked: every
   job is in the ledger exactly once, with status ok (none rendered twice); no hidden
   temporary folder is left; every job folder is whole; every mix.wav equals the
   reference's, byte for byte;
3. with ``--ray``, the same batch with ``--engine ray`` (a local Ray started on demand):
   every mix.wav compared with the reference, byte for byte.

Prints each worker's resident memory at its first and last job (from the ledger).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "examples" / "beach.yaml"
WHOLE_JOB = {"mix.wav", "plan.json", "environment.json", "score.mid", "stems"}


def _batch_command(manifest: Path, out: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "loci.cli", "batch", str(manifest), "-o", str(out)]
    return [*command, "--workers", "2", "--quiet", *extra]


def _ledger(out: Path) -> list[dict]:
    ledger = out / "batch.jsonl"
    if not ledger.is_file():  # killed before its first job finished
        return []
    return [json.loads(line) for line in ledger.read_text("utf-8").splitlines()]


def _run(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"the batch failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - started


def _kill_after(command: list[str], seconds: float) -> bool:
    """Start the batch, SIGKILL it after ``seconds``; False when it finished first."""
    batch = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        batch.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        batch.send_signal(signal.SIGKILL)
        batch.wait()
        return True


def _mix_bytes(out: Path, names: list[str]) -> dict[str, bytes]:
    return {name: (out / name / "mix.wav").read_bytes() for name in names}


def _check_whole(out: Path, names: list[str]) -> list[str]:
    problems = []
    for name in names:
        found = {p.name for p in (out / name).iterdir()} if (out / name).is_dir() else set()
        if not WHOLE_JOB <= found:
            problems.append(f"{name}: missing {sorted(WHOLE_JOB - found)}")
    hidden = [p.name for p in out.rglob(".*") if p.name not in (".batch-lock",)]
    problems += [f"left behind: {name}" for name in hidden]
    return problems


def _memory(records: list[dict]) -> None:
    by_worker: dict[int, list[float]] = {}
    for record in records:
        if record.get("worker_pid") and record.get("worker_rss_mb"):
            by_worker.setdefault(record["worker_pid"], []).append(record["worker_rss_mb"])
    for pid, rss in sorted(by_worker.items()):
        print(
            f"  worker {pid}: {len(rss)} jobs, RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB "
            f"(max {max(rss):.0f}; {(rss[-1] - rss[0]) / rss[0]:+.1%} first to last)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="variants in the batch")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per variant")
    parser.add_argument("--kills", type=int, default=3, help="kills before the last resume")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments")
    parser.add_argument("--ray", action="store_true", help="also render on a local Ray")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-resilience-") as scratch:
        scratch_dir = Path(scratch)
        manifest = scratch_dir / "jobs.csv"
        with manifest.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["scene", "seed", "duration", "output"])
            for seed in range(args.jobs):
                writer.writerow([str(SCENE), seed, args.duration, f"v{seed:04d}"])
        names = [f"v{seed:04d}" for seed in range(args.jobs)]

        reference = scratch_dir / "local"
        wall = _run(_batch_command(manifest, reference))
        print(f"local batch, {args.jobs} jobs of {args.duration:g} s: {wall:.1f} s")
        _memory(_ledger(reference))
        expected = _mix_bytes(reference, names)

        killed = scratch_dir / "killed"
        rng = random.Random(args.seed)
        kills = 0
        for attempt in range(args.kills):
            extra = ("--resume",) if attempt else ()
            done_before = len(_ledger(killed))
            moment = rng.uniform(2.0, max(3.0, 0.8 * wall / args.kills))
            if _kill_after(_batch_command(manifest, killed, *extra), moment):
                kills += 1
            done_after = len(_ledger(killed))
            print(
                f"kill {attempt + 1} after {moment:.1f} s: ledger {done_before} -> "
                f"{done_after} jobs"
            )
        _run(_batch_command(manifest, killed, "--resume"))
        records = _ledger(killed)
        counts: dict[str, int] = {}
        for record in records:
            counts[record["job"]] = counts.get(record["job"], 0) + 1
        twice = sorted(name for name, count in counts.items() if count > 1)
        missing = sorted(set(names) - set(counts))
        not_ok = sorted(r["job"] for r in records if r["status"] != "ok")
        problems = _check_whole(killed, names)
        same = sum(_mix_bytes(killed, names)[name] == expected[name] for name in names)
        print(
            f"after {kills} kills and resumes: {len(counts)}/{args.jobs} jobs in the ledger, "
            f"{len(twice)} rendered twice, {len(missing)} missing, {len(not_ok)} not ok, "
            f"{len(problems)} incomplete or left behind; mix.wav identical to the "
            f"uninterrupted batch for {same}/{args.jobs}"
        )
        for problem in (twice + missing + not_ok + problems)[:10]:
            print(f"  {problem}")

        if args.ray:
            on_ray = scratch_dir / "ray"
            wall = _run(_batch_command(manifest, on_ray, "--engine", "ray"))
            same = sum(_mix_bytes(on_ray, names)[name] == expected[name] for name in names)
            print(f"ray batch: {wall:.1f} s; mix.wav identical to local for {same}/{args.jobs}")
            _memory(_ledger(on_ray))


if __name__ == "__main__":
    main()
