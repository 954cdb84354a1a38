"""A turning head's cost: reflections through the HRTF against world-frame ambisonics.

    python benchmarks/bench_stream_reflections.py [--rounds 6] [--sway CM]

``loci serve``'s renderer for one session: 8 sources in a small room, 256-sample blocks,
the head turning +-40 degrees with a pose every third block (60 Hz), reflections remade
on an executor's thread as the server does (16 a second over the sources). For each way of
rendering the reflections (``reflection_order`` None: each image through its HRTF,
remade as the head turns; 1 to 3: an ambisonic field turned with the head), it prints the
CPU time per block over all threads (the reflections' thread included: the renderer
waits for its jobs at the end of each round), the audio thread's share, and the
reflection jobs per second; beside them a plain numpy uniformly partitioned convolution
of the same 8 sources through 1 s binaural responses without any head tracking. Rounds
interleave the renderers (the machine's speed drifts); medians are printed. ``--sway``
also moves the head's position, as a standing headset wearer's does: +-CM centimetres
side to side and half that front to back, at about 0.3 and 0.2 Hz.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from head_motion import sway
from numpy_baseline import partitioned_convolution_ms

from loci.serve.places import scene_for_hello
from scene.model import Pose
from spatial.stream import StreamRenderer

BLOCK = 256
BLOCKS = 600
ORDERS = (None, 1, 2, 3)


class _Counting(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="reflections")
        self.jobs = 0

    def submit(self, job):
        self.jobs += 1
        return super().submit(job)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--sway", type=float, default=0.0, help="head sway, +- cm")
    args = parser.parse_args()
    scene = scene_for_hello(scene_text=None, place="a small room", instruction=None, seed=0)
    listener = scene.listener
    positions = [
        (listener.position[0] + 2, listener.position[1] - 1.4 + 0.4 * k, 1.5) for k in range(8)
    ]
    x = np.random.default_rng(0).standard_normal((8, BLOCK)).astype(np.float32) * 0.1
    executors = {order: _Counting() for order in ORDERS}
    renderers = {}
    for order in ORDERS:
        renderers[order] = StreamRenderer(
            scene.room,
            sources=8,
            block_size=BLOCK,
            listener=listener,
            positions=positions,
            seed=0,
            reflection_updates_per_second=16.0,
            reflection_executor=executors[order],
            reflection_order=order,
            lazy_reflections=True,  # as loci serve's
        )
        for _ in range(50):
            renderers[order].process(x)
    total = {order: [] for order in ORDERS}
    audio = {order: [] for order in ORDERS}
    jobs = {order: [] for order in ORDERS}
    baseline = []
    for _ in range(args.rounds):
        for order, renderer in renderers.items():
            executor = executors[order]
            jobs_before = executor.jobs
            started, thread_started = time.process_time(), time.thread_time()
            for i in range(BLOCKS):
                if i % 3 == 0:
                    yaw = 40 * math.sin(i / 60)
                    renderer.set_listener(
                        Pose(_swayed(listener.position, i, args.sway), yaw_deg=yaw)
                    )
                renderer.process(x)
            thread_ms = (time.thread_time() - thread_started) / BLOCKS * 1000
            for future in list(renderer._r_pending.values()):
                future.result()
            total[order].append((time.process_time() - started) / BLOCKS * 1000)
            audio[order].append(thread_ms)
            jobs[order].append((executor.jobs - jobs_before) / (BLOCKS * BLOCK / 48_000))
        baseline.append(partitioned_convolution_ms(x, blocks=BLOCKS // 3))
    numpy_ms = statistics.median(baseline)
    hrtf_ms = statistics.median(total[None])
    block_ms = 1000 * BLOCK / 48_000
    sway = f", swaying +-{args.sway:g} cm" if args.sway else ""
    print(
        f"8 sources, {BLOCK}-sample blocks ({block_ms:.2f} ms), head turning{sway}, medians "
        f"of {args.rounds} interleaved rounds of {BLOCKS} blocks:"
    )
    print("reflections        CPU ms/block  audio thread  jobs/s  vs hrtf  vs numpy")
    for order in ORDERS:
        name = "hrtf (per image)" if order is None else f"ambisonic order {order}"
        ms = statistics.median(total[order])
        print(
            f"{name:18s} {ms:12.3f}  {statistics.median(audio[order]):12.3f}  "
            f"{statistics.median(jobs[order]):6.1f}  {ms / hrtf_ms:7.2f}  {ms / numpy_ms:8.2f}"
        )
    print(
        f"numpy uniformly partitioned convolution, 8 x 1 s, no head tracking: "
        f"{numpy_ms:.3f} ms/block"
    )
    for executor in executors.values():
        executor.shutdown()


def _swayed(position: tuple[float, float, float], block: int, cm: float) -> tuple:
    """The head's position at ``block``, swaying (:func:`head_motion.sway`)."""
    side, front = sway(block * BLOCK / 48_000, cm)
    x, y, z = position
    return (x + front, y + side, z)


if __name__ == "__main__":
    main()
