"""How many moving, head-tracked sources one core renders in real time, block by block.

Run ``python benchmarks/bench_streaming.py`` (about two minutes). Scene: a 10 x 8 x 4 m
room (RT60 about 0.9 s), 256-sample blocks at 48 kHz (5.33 ms), 1 s BRIRs; the listener
turns at 90 degrees per second and every source circles at 1 m/s, so that every block
brings a new head pose and new source positions.

Two renderers do the same job with the same filters (reflections updated 100 times a
second over all sources in both):

- genius-loci ``spatial.StreamRenderer``: per-source direct sound and reflections, one
  late tail shared by all sources, numba multiply-accumulate, only changed parts rendered
  twice for the crossfade; a direct sound's delay line follows every block and its HRTF
  filter is remade when its direction drifts by 1 degree or its level by 0.1 dB;
- a plain numpy uniformly partitioned convolution: every source through its own 1 s BRIR
  (early part plus its own copy of the tail; the direct sound remade every block), the
  delay line as a doubled ring buffer (no copies), ``einsum`` multiply-accumulate, and a
  source whose filter changed rendered through the old and the new filter for the
  crossfade.

Time is CPU time of this process (``time.process_time``) with one BLAS thread: on a shared
machine it is what one core spends, whatever else runs. "Real time" means CPU time per
block below the block's duration. The two also render a static scene side by side, and
their outputs are compared, so that the reference is known to compute the same thing.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import time

import numpy as np

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m, room_acoustics
from scene.model import SHOEBOX_SURFACES, Material, Pose, Room
from spatial import default_hrtf
from spatial.brir import direct_sound, head_frame, reflections_brir
from spatial.image_sources import MIN_DISTANCE_M
from spatial.late import FADE_S
from spatial.render import _room_plan
from spatial.stream import (
    DEFAULT_REFLECTION_UPDATES_PER_SECOND,
    REFLECTION_TOLERANCE_DEG,
    REFLECTION_TOLERANCE_M,
    StreamRenderer,
)

FS = 48_000
BLOCK = 256
BRIR_S = 1.0
TURN_DEG_PER_S = 90.0
SOURCE_SPEED_M_S = 1.0
ROOM = Room(
    kind="shoebox",
    size=(10.0, 8.0, 4.0),
    materials=tuple(
        (s, Material(name="bench", absorption=(0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2)))
        for s in SHOEBOX_SURFACES
    ),
)
CENTRE = np.array([5.0, 4.0, 1.7])
AIR = air_absorption_per_m()


class NumpyReference:
    """Plain numpy uniformly partitioned convolution, each source with its own full BRIR.

    Filters come from the same functions as the streaming renderer's and are updated on
    the same schedule; only the convolution differs. Multiply-accumulate is one batched
    matrix product per source over all partitions (numpy's fastest form, BLAS speed), on
    a doubled ring buffer of input spectra in the matching order (no copies).
    """

    def __init__(self, room: Room, *, listener: Pose, positions: np.ndarray, seed: int) -> None:
        self.room, self.listener = room, listener
        self.positions = np.array(positions, dtype=np.float64)
        self.hrtf = default_hrtf()
        self.plan = _room_plan(room, self.hrtf, FS, seed)
        n = len(self.positions)
        self.parts = math.ceil(BRIR_S * FS / BLOCK)
        length = round(BRIR_S * FS)
        tail = self.plan.tail[:, :length].copy()
        tail[:, -240:] *= np.linspace(1.0, 0.0, 240)  # the streaming renderer's 5 ms fade
        self.tail = tail
        self.brirs = np.zeros((n, 2, self.parts * BLOCK), dtype=np.float32)
        # Partitions stored oldest-first (reversed), so that they pair with the ring's
        # slice of the last `parts` input spectra, oldest first.
        self.spectra = np.zeros((n, 2, BLOCK + 1, self.parts), dtype=np.complex64)
        self.ring = np.zeros((n, BLOCK + 1, 2 * self.parts), dtype=np.complex64)
        self.newest = self.parts - 1
        self.frames = np.zeros((n, 2 * BLOCK), dtype=np.float32)
        self.direct: list = [None] * n
        self.reflections: list = [None] * n
        self.tails: list = [None] * n
        self.vectors = np.full((n, 3), np.nan)
        self.r_state = np.zeros((n, 8))
        self.credit_per_block = DEFAULT_REFLECTION_UPDATES_PER_SECOND * BLOCK / FS
        self.credit = 0.0
        self.ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(BLOCK) + 0.5) / BLOCK)).astype(
            np.float32
        )
        for s in range(n):
            self._set_reflections(s)
            self._set_direct(s)
            self._transform(s, 0, self.parts)

    def _add(self, s: int, start: int, response: np.ndarray, sign: float) -> tuple[int, int]:
        stop = min(self.brirs.shape[2], start + response.shape[1])
        if start < 0 or stop <= start:
            return self.parts, 0
        self.brirs[s, :, start:stop] += sign * response[:, : stop - start]
        return start // BLOCK, math.ceil(stop / BLOCK)

    def _set_direct(self, s: int) -> tuple[int, int]:
        spans = []
        if self.direct[s] is not None:
            spans.append(self._add(s, *self.direct[s], -1.0))
        vector = head_frame(self.listener, self.positions[s : s + 1])[0]
        distance = float(np.linalg.norm(vector))
        gains = np.exp(-0.5 * AIR * distance) / max(distance, MIN_DISTANCE_M)
        sound = direct_sound(self.hrtf, vector, distance / SPEED_OF_SOUND * FS, gains)
        self.direct[s] = (sound.start, sound.response)
        spans.append(self._add(s, sound.start, sound.response, 1.0))
        self.vectors[s] = vector
        return min(a for a, _ in spans), max(b for _, b in spans)

    def _set_reflections(self, s: int) -> tuple[int, int]:
        spans = []
        if self.reflections[s] is not None:
            spans.append(self._add(s, 0, self.reflections[s], -1.0))
        source = self.plan.source(self.room, self.listener, self.positions[s], FS)
        response = reflections_brir(
            source.images,
            self.listener,
            self.hrtf,
            sample_rate=FS,
            cut_s=source.cut_s,
            fade_s=FADE_S,
        )
        self.reflections[s] = response
        spans.append(self._add(s, 0, response, 1.0))
        tail = (source.tail_shift, source.tail_gain)
        if tail != self.tails[s]:
            if self.tails[s] is not None:
                shift, gain = self.tails[s]
                spans.append(self._add(s, shift, gain * self.tail, -1.0))
            spans.append(self._add(s, tail[0], tail[1] * self.tail, 1.0))
            self.tails[s] = tail
        self.r_state[s] = [
            *self.listener.position,
            self.listener.yaw_deg,
            self.listener.pitch_deg,
            *self.positions[s],
        ]
        return min(a for a, _ in spans), max(b for _, b in spans)

    def _transform(self, s: int, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        segments = self.brirs[s, :, lo * BLOCK : hi * BLOCK].reshape(2, -1, BLOCK)
        padded = np.zeros((2, hi - lo, 2 * BLOCK), dtype=np.float32)
        padded[..., :BLOCK] = segments
        spectra = np.fft.rfft(padded, axis=-1).transpose(0, 2, 1)  # (ear, bin, partition)
        last = self.parts - 1
        self.spectra[s, :, :, last - hi + 1 : last - lo + 1] = spectra[..., ::-1]

    def _mac(self, which: np.ndarray) -> np.ndarray:
        history = self.ring[:, :, self.newest + 1 : self.newest + self.parts + 1]
        total = np.zeros((2, BLOCK + 1), dtype=np.complex64)
        for s in which:
            # (ear, bin, 1, partitions) @ (bin, partitions, 1): one dot product per bin.
            total += np.matmul(self.spectra[s][:, :, None, :], history[s][None, :, :, None])[
                ..., 0, 0
            ]
        return total

    def process(self, blocks: np.ndarray) -> np.ndarray:
        n = len(self.positions)
        self.frames[:, :BLOCK] = self.frames[:, BLOCK:]
        self.frames[:, BLOCK:] = blocks
        self.newest = (self.newest + 1) % self.parts
        spectrum = np.fft.rfft(self.frames, axis=-1)
        self.ring[:, :, self.newest] = spectrum
        self.ring[:, :, self.newest + self.parts] = spectrum
        vectors = head_frame(self.listener, self.positions)
        moved = np.flatnonzero(np.any(vectors != self.vectors, axis=1))
        self.credit = min(self.credit + self.credit_per_block, max(1.0, self.credit_per_block))
        stale = self._stale()[: math.floor(self.credit)]
        self.credit -= stale.size
        changed = np.union1d(moved, stale)
        unchanged = np.setdiff1d(np.arange(n), changed)
        common = self._mac(unchanged)
        if changed.size == 0:
            return np.fft.irfft(common, n=2 * BLOCK, axis=-1)[:, BLOCK:].astype(np.float32)
        before = self._mac(changed)
        spans: dict[int, tuple[int, int]] = {int(s): self._set_direct(int(s)) for s in moved}
        for s in stale:
            lo, hi = self._set_reflections(int(s))
            old = spans.get(int(s), (lo, hi))
            spans[int(s)] = (min(lo, old[0]), max(hi, old[1]))
        for s, (lo, hi) in spans.items():
            self._transform(s, lo, hi)
        after = self._mac(changed)
        y_old = np.fft.irfft(common + before, n=2 * BLOCK, axis=-1)[:, BLOCK:]
        y_new = np.fft.irfft(common + after, n=2 * BLOCK, axis=-1)[:, BLOCK:]
        return (y_old + self.ramp * (y_new - y_old)).astype(np.float32)

    def set_listener(self, pose: Pose) -> None:
        self.listener = pose

    def set_source_positions(self, positions: np.ndarray) -> None:
        self.positions[:] = positions

    def _stale(self) -> np.ndarray:
        n = len(self.positions)
        listener = np.repeat(np.asarray(self.listener.position, dtype=np.float64)[None], n, 0)
        angles = np.array([self.listener.yaw_deg, self.listener.pitch_deg])
        turn = np.abs((self.r_state[:, 3:5] - angles + 180.0) % 360.0 - 180.0).max(axis=1)
        shift = np.linalg.norm(self.r_state[:, :3] - listener, axis=1) + np.linalg.norm(
            self.r_state[:, 5:] - self.positions, axis=1
        )
        score = np.maximum(turn / REFLECTION_TOLERANCE_DEG, shift / REFLECTION_TOLERANCE_M)
        stale = np.flatnonzero(score > 0)
        return stale[np.argsort(-score[stale], kind="stable")]


def _motion(n: int, k: int) -> tuple[Pose, np.ndarray]:
    """Listener pose and source positions at block k: the head turns, sources circle."""
    t = k * BLOCK / FS
    listener = Pose(position=tuple(CENTRE), yaw_deg=(TURN_DEG_PER_S * t) % 360.0)
    i = np.arange(n)
    radius = 1.5 + 2.0 * (i % 5) / 4.0  # 1.5 to 3.5 m from the listener
    phase = 2 * np.pi * i / max(n, 1) + SOURCE_SPEED_M_S * t / radius
    height = 1.2 + 0.2 * (i % 4)
    positions = np.stack(
        [CENTRE[0] + radius * np.cos(phase), CENTRE[1] + radius * np.sin(phase), height], axis=1
    )
    return listener, positions


def _make(engine: str, n: int, *, seed: int = 0):
    listener, positions = _motion(n, 0)
    if engine == "stream":
        return StreamRenderer(
            ROOM,
            sources=n,
            block_size=BLOCK,
            brir_length_s=BRIR_S,
            seed=seed,
            listener=listener,
            positions=[tuple(p) for p in positions],
        )
    return NumpyReference(ROOM, listener=listener, positions=positions, seed=seed)


def _cpu_per_block(engine: str, n: int, *, blocks: int, moving: bool = True) -> float:
    renderer = _make(engine, n)
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((n, BLOCK))).astype(np.float32)
    times = []
    for k in range(blocks + 10):
        start = time.process_time()
        if moving:
            listener, positions = _motion(n, k + 1)
            renderer.set_listener(listener)
            renderer.set_source_positions(positions)
        renderer.process(x)
        if k >= 10:  # the first blocks settle the reflection schedule
            times.append(time.process_time() - start)
    # The median is robust to the machine's stalls; the mean is reported beside it.
    return float(np.median(times)), float(np.mean(times))


def _largest_real_time(engine: str, ladder: list[int], *, blocks: int) -> tuple[int, list]:
    budget = BLOCK / FS
    rows, best = [], 0
    for n in ladder:
        median, mean = _cpu_per_block(engine, n, blocks=blocks)
        rows.append((n, median, mean))
        if median <= budget:
            best = n
        if median > 1.5 * budget:
            break
    return best, rows


def _check_same_output() -> float:
    n, blocks = 4, 40
    rng = np.random.default_rng(2)
    x = (0.1 * rng.standard_normal((blocks, n, BLOCK))).astype(np.float32)
    outputs = {}
    for engine in ("stream", "numpy"):
        renderer = _make(engine, n)
        outputs[engine] = np.concatenate([renderer.process(b) for b in x], axis=1)
    a, b = outputs["stream"], outputs["numpy"]
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main() -> None:
    rt60 = room_acoustics(ROOM).rt60_mid_s
    print(
        f"room 10 x 8 x 4 m, RT60 {rt60:.2f} s; blocks of {BLOCK} samples "
        f"({BLOCK / FS * 1e3:.2f} ms); BRIRs {BRIR_S:g} s; head turning "
        f"{TURN_DEG_PER_S:g} deg/s, sources moving {SOURCE_SPEED_M_S:g} m/s"
    )
    _cpu_per_block("stream", 2, blocks=5)  # compile or load the numba kernels
    difference = _check_same_output()
    print(f"static scene: streaming and numpy reference differ by {difference:.1e} of peak")
    results = {}
    for engine, ladder, blocks in (
        ("stream", [16, 32, 64, 96, 128, 160, 192, 256], 150),
        ("numpy", [2, 4, 6, 8, 12, 16, 24, 32], 60),
    ):
        best, rows = _largest_real_time(engine, ladder, blocks=blocks)
        results[engine] = (best, rows)
        name = "genius-loci StreamRenderer" if engine == "stream" else "numpy partitioned reference"
        print(f"\n{name}: CPU ms per block (median, mean); real time is {BLOCK / FS * 1e3:.2f}")
        for n, median, mean in rows:
            flag = "real time" if median <= BLOCK / FS else "too slow"
            print(f"  {n:4d} sources: {median * 1e3:7.2f} {mean * 1e3:7.2f}  {flag}")
        print(f"  largest count in real time: {best}")
    common = [n for n, *_ in results["numpy"][1] if n in {m for m, *_ in results["stream"][1]}]
    for n in common:
        ours = next(m for k, m, _ in results["stream"][1] if k == n)
        theirs = next(m for k, m, _ in results["numpy"][1] if k == n)
        print(f"at {n} sources the streaming renderer is {theirs / ours:.1f}x faster per block")
    best_ours, best_theirs = results["stream"][0], results["numpy"][0]
    ratio = best_ours / best_theirs if best_theirs else float("inf")
    print(
        f"real-time sources on one core: {best_ours} against {best_theirs} "
        f"({ratio:.1f}x the numpy reference)"
    )


if __name__ == "__main__":
    main()
