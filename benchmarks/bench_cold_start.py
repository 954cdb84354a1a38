"""A fresh process's cost before its first render: imports, then the first warm-up render.

Run: ``python benchmarks/bench_cold_start.py [--repeats 3]``. Each repeat starts a new
Python process that imports ``loci.pipeline``, then runs ``loci.batch.work.warm_up()``
(a two-second shoebox scene with words in both languages) twice, and prints the seconds of
each step. The first warm-up carries every first-time cost (jieba's and the HRTF's entries
from the cache folder, numba loading its cached kernels, pypinyin); the second is a warm
render of the same scene. Cold start = imports + first warm-up: what each `loci batch`
worker pays before its first job, and a `loci render` before its render.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

_CHILD = """
import json, time
started = time.perf_counter()
import loci.pipeline
imported = time.perf_counter()
from loci.batch.work import warm_up
warm_up()
first = time.perf_counter()
warm_up()
second = time.perf_counter()
print(json.dumps([imported - started, first - imported, second - first]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes to time")
    args = parser.parse_args()
    for _ in range(args.repeats):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True
        )
        wall = time.perf_counter() - started
        imports, first, second = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"imports {imports:.2f} s, first warm-up {first:.2f} s, second {second:.2f} s; "
            f"cold start {imports + first:.2f} s (process wall {wall:.2f} s)"
        )


if __name__ == "__main__":
    main()
