"""``OUT/batch.jsonl``: one JSON line per finished job, appended and fsynced as it finishes.

The ledger is a history: a job rendered again gets a new line, and the last line of a job
is what counts. ``--resume`` skips a job whose last line says ``ok`` with the job's current
input hash and whose folder is there; every other job is rendered (again).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from loci.batch.work import JobOutcome

__all__ = ["LEDGER_NAME", "RECORD_FIELDS", "append_record", "latest_records", "make_record"]

LEDGER_NAME = "batch.jsonl"

#: Fields of every ledger line, in order (more may follow).
RECORD_FIELDS: tuple[str, ...] = (
    "job",
    "status",
    "input_hash",
    "seconds",
    "key",
    "tempo_bpm",
    "loudness_lufs",
    "true_peak_dbtp",
    "error",
)


def make_record(outcome: JobOutcome, *, input_hash: str, attempts: int, scene: Path) -> dict:
    """A ledger line for a job's final attempt."""
    return {
        "job": outcome.job,
        "status": outcome.status,
        "input_hash": input_hash,
        "seconds": round(outcome.seconds, 3),
        "key": outcome.key,
        "tempo_bpm": outcome.tempo_bpm,
        "loudness_lufs": outcome.loudness_lufs,
        "true_peak_dbtp": outcome.true_peak_dbtp,
        "error": outcome.error,
        "attempts": attempts,
        "scene": str(scene),
        "worker_pid": outcome.worker_pid,
        "worker_rss_mb": outcome.worker_rss_mb,
        "envelope": list(outcome.envelope) if outcome.envelope is not None else None,
    }


def append_record(ledger: Path, record: dict) -> None:
    """Append one line and fsync it, so that a record on disk survives a kill or power loss."""
    line = (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write of one line: lines never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(ledger: Path) -> list[dict]:
    """Every well-formed line of the ledger; a torn last line (a kill mid-write) is skipped."""
    if not ledger.is_file():
        return []
    records = []
    for line in ledger.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("job"), str):
            records.append(record)
    return records


def latest_records(records: Iterable[dict]) -> dict[str, dict]:
    """The last record of each job, by job name."""
    return {record["job"]: record for record in records}
