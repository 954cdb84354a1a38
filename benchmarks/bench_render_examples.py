"""Time ``loci render`` on the shipped examples, stage by stage.

Run: ``python benchmarks/bench_render_examples.py``. Prints the seconds each pipeline stage
took and the real-time factor (seconds of music per second of wall time) for each 60 s
example; the issue's bound is a 60 s render in under 60 s on 2 cores.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

from loci.pipeline import render_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    for name in ("beach", "museum"):
        marks: list[tuple[str, float]] = []

        def mark(step: str, marks: list[tuple[str, float]] = marks) -> None:
            marks.append((step, time.perf_counter()))

        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            result = render_file(
                ROOT / "examples" / f"{name}.yaml",
                Path(out) / name,
                progress=mark,
            )
        total = time.perf_counter() - started
        marks.append(("end", started + total))
        stages = ", ".join(
            f"{step} {end - begin:.2f}" for (step, begin), (_, end) in itertools.pairwise(marks)
        )
        print(
            f"{name}: {total:.2f} s for {result.duration_s:g} s of music "
            f"({result.duration_s / total:.0f}x real time); stages (s): {stages}"
        )


if __name__ == "__main__":
    main()
