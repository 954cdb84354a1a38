"""The cost curve: render time against the number of sources and against the room's RT60.

Run ``python benchmarks/bench_cost_curve.py`` (about three minutes). Writes
``docs/cost_curve.png`` and prints the figures behind it. Times are CPU seconds of this
process (one BLAS thread), measured side by side in one run:

- offline, 5 s of audio: ``spatial.render_scene`` (per-source early part, one shared late
  tail; everything included, image sources and tail too) against what a user of a room
  simulator does by hand: convolve every source with its own full BRIR (scipy
  ``oaconvolve``; the BRIRs are computed before its clock starts, so it is charged for
  its convolutions only);
- streaming: ``spatial.StreamRenderer`` CPU per 256-sample block with every source
  moving and the head turning at 90 degrees per second, against the block's duration.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time
from pathlib import Path

import numpy as np
from scipy.signal import oaconvolve

from scene.acoustics import room_acoustics
from scene.model import SHOEBOX_SURFACES, Material, Pose, Room
from spatial import PlacedSource, StreamRenderer, binaural_room_impulse_response, render_scene

FS = 48_000
SECONDS = 5.0
BLOCK = 256
COUNTS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
NAIVE_COUNTS = [1, 2, 4, 8, 16, 32]  # the per-source convolution grows too slow beyond
ALPHAS = [0.6, 0.35, 0.2, 0.12, 0.07, 0.04]  # RT60 from about 0.2 s to 3 s
LISTENER = Pose(position=(5.0, 4.0, 1.7))
OUT = Path(__file__).resolve().parent.parent / "docs" / "cost_curve.png"


def _room(alpha: float) -> Room:
    material = Material(name=f"alpha={alpha}", absorption=(alpha,) * 7)
    return Room(
        kind="shoebox",
        size=(10.0, 8.0, 4.0),
        materials=tuple((s, material) for s in SHOEBOX_SURFACES),
    )


def _sources(n: int, seconds: float = SECONDS) -> list[PlacedSource]:
    rng = np.random.default_rng(n)
    samples = int(seconds * FS)
    positions = rng.uniform([0.5, 0.5, 0.5], [9.5, 7.5, 3.5], (n, 3))
    # Keep every source at least 0.5 m from the listener.
    near = np.linalg.norm(positions - LISTENER.position, axis=1) < 0.5
    positions[near] += (1.0, 1.0, 0.0)
    return [
        PlacedSource(f"s{i}", (0.1 * rng.standard_normal(samples)).astype(np.float32), tuple(p))
        for i, p in enumerate(positions)
    ]


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _brirs(room: Room, sources: list[PlacedSource]) -> list[np.ndarray]:
    # Built before the clock starts: the reference is charged for its convolutions only.
    return [binaural_room_impulse_response(room, LISTENER, s.position, seed=0) for s in sources]


def _naive(sources: list[PlacedSource], brirs: list[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros((2, n), dtype=np.float32)
    for source, brir in zip(sources, brirs, strict=True):
        out += oaconvolve(source.signal[None, :], brir, axes=-1)[:, :n]
    return out


def _stream_cpu_per_block(n_sources: int, room: Room, blocks: int = 150) -> float:
    rng = np.random.default_rng(0)
    centre = np.asarray(LISTENER.position)
    radius = rng.uniform(1.0, 3.0, n_sources)
    phase = rng.uniform(0, 2 * np.pi, n_sources)

    def positions(k: int) -> np.ndarray:
        a = phase + k * BLOCK / FS / radius
        return np.stack(
            [centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a), np.full_like(a, 1.5)],
            axis=1,
        )

    renderer = StreamRenderer(
        room,
        sources=n_sources,
        block_size=BLOCK,
        listener=LISTENER,
        positions=[tuple(p) for p in positions(0)],
    )
    x = (0.1 * rng.standard_normal((n_sources, BLOCK))).astype(np.float32)
    times = []
    for k in range(blocks + 10):
        start = time.process_time()
        renderer.set_listener(Pose(position=LISTENER.position, yaw_deg=90.0 * k * BLOCK / FS))
        renderer.set_source_positions(positions(k + 1))
        renderer.process(x)
        if k >= 10:
            times.append(time.process_time() - start)
    return float(np.median(times))


def main() -> None:
    n = int(SECONDS * FS)
    room = _room(0.12)
    rt60 = room_acoustics(room).rt60_mid_s
    render_scene(room, LISTENER, _sources(1, 0.1), n_samples=FS // 10)  # compile numba kernels
    print(f"offline, {SECONDS:g} s of audio, 10 x 8 x 4 m room, RT60 {rt60:.2f} s (CPU s)")
    print("sources  genius-loci  per-source BRIRs  ratio")
    ours_by_count, naive_by_count = [], []
    for count in COUNTS:
        sources = _sources(count)
        ours = _cpu(lambda s=sources: render_scene(room, LISTENER, s, n_samples=n))
        naive = None
        if count in NAIVE_COUNTS:
            brirs = _brirs(room, sources)
            naive = _cpu(lambda s=sources, b=brirs: _naive(s, b, n))
        ours_by_count.append(ours)
        naive_by_count.append(naive)
        if naive is None:
            print(f"{count:7d}  {ours:11.2f}")
        else:
            print(f"{count:7d}  {ours:11.2f}  {naive:16.2f}  {naive / ours:5.1f}x")

    print("\noffline, 8 sources, against RT60 (CPU s)")
    print("RT60 s  genius-loci  per-source BRIRs  ratio")
    rt60s, ours_by_rt, naive_by_rt = [], [], []
    sources = _sources(8)
    for alpha in ALPHAS:
        r = _room(alpha)
        rt = room_acoustics(r).rt60_mid_s
        ours = _cpu(lambda r=r: render_scene(r, LISTENER, sources, n_samples=n))
        brirs = _brirs(r, sources)
        naive = _cpu(lambda b=brirs: _naive(sources, b, n))
        rt60s.append(rt)
        ours_by_rt.append(ours)
        naive_by_rt.append(naive)
        print(f"{rt:6.2f}  {ours:11.2f}  {naive:16.2f}  {naive / ours:5.1f}x")

    print(f"\nstreaming, {BLOCK}-sample blocks ({BLOCK / FS * 1e3:.2f} ms), all moving (CPU ms)")
    stream_counts = [c for c in COUNTS if c <= 128]
    stream = []
    for count in stream_counts:
        stream.append(_stream_cpu_per_block(count, room))
        print(
            f"{count:7d}  {stream[-1] * 1e3:7.2f}  ({stream[-1] / (BLOCK / FS):.2f} of real time)"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ax = axes[0]
    ax.loglog(COUNTS, ours_by_count, "o-", label="genius-loci render_scene")
    shown = [(c, t) for c, t in zip(COUNTS, naive_by_count, strict=True) if t is not None]
    ax.loglog(*zip(*shown, strict=True), "s--", label="per-source full BRIR (oaconvolve)")
    ax.set(
        xlabel="sources",
        ylabel=f"CPU s for {SECONDS:g} s of audio",
        title=f"Offline, RT60 {rt60:.2f} s",
    )
    ax.legend()
    ax = axes[1]
    ax.plot(rt60s, ours_by_rt, "o-", label="genius-loci render_scene")
    ax.plot(rt60s, naive_by_rt, "s--", label="per-source full BRIR")
    ax.set(xlabel="RT60 (s)", ylabel="CPU s", title="Offline, 8 sources, against RT60")
    ax.legend()
    ax = axes[2]
    ax.plot(stream_counts, np.asarray(stream) * 1e3, "o-", label="StreamRenderer, all moving")
    ax.axhline(BLOCK / FS * 1e3, color="k", lw=0.8, ls=":", label="real time (block duration)")
    ax.set(xlabel="sources", ylabel="CPU ms per block", title=f"Streaming, {BLOCK}-sample blocks")
    ax.legend()
    for a in axes:
        a.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
