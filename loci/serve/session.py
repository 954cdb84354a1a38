"""Audio of the sessions: one clock renders every session's blocks when they fall due.

Block ``n`` of a session is due ``n`` block periods after its stream started. When it is
due, the latest head pose goes to the spatial renderer, the music scheduler mixes the
stems of that block into the renderer's source slots, and the binaural block is scaled by
the listener's volume, kept under full scale, packed and queued for the client. A block
queued after the end of its own block period is a deadline miss. Rendering just in
time is what keeps the head's motion within two blocks of the sound.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numba import njit

from loci.serve.metrics import Metrics
from loci.serve.music import SAMPLE_RATE, MusicScheduler
from loci.serve.protocol import encode_audio
from scene.model import Pose

__all__ = [
    "LOAD_WINDOW_S",
    "RENDER_AHEAD_BLOCKS",
    "AudioEngine",
    "BlockRenderer",
    "Session",
    "level_block",
]

_CEILING = 0.98
_RELEASE_PER_S = 10 ** (6 / 20)  # the limiter lets go at 6 dB a second
_RESYNC_S = 0.5
#: The clock's load is a moving average over about this many seconds: long enough to
#: smooth a bar line's extra work, short enough to see a session that just started.
LOAD_WINDOW_S = 2.0
_IDLE_MEASURE_S = 1.0
#: A block is rendered this many block periods before its period begins, and must be on
#: the wire by the end of its period: the renderer has that many periods plus one of slack.
RENDER_AHEAD_BLOCKS = 1


class BlockRenderer(Protocol):
    """What a session needs of the spatial renderer (``spatial.stream.StreamRenderer``)."""

    def set_listener(self, pose: Pose) -> None: ...

    def set_source_position(self, index: int, position: tuple[float, float, float]) -> None: ...

    def process(self, blocks: np.ndarray) -> np.ndarray: ...


class Session:
    """One listener's stream: its renderer, music, pose, and the queue of what to send.

    Parameters
    ----------
    number
        The session's number on this server.
    block_size
        Samples per channel in a block.
    audio_format
        ``"int16"`` or ``"float32"`` on the wire.
    renderer
        The spatial renderer (sources = the scheduler's slots).
    scheduler
        The session's music.
    metrics
        The server's metrics.
    send_queue_blocks
        Blocks kept for a client that reads slowly; older ones are dropped.
    output_gain
        Linear gain from the renderer's output to the wire, before the limiter.
    """

    def __init__(
        self,
        *,
        number: int,
        block_size: int,
        audio_format: str,
        renderer: BlockRenderer,
        scheduler: MusicScheduler,
        metrics: Metrics,
        send_queue_blocks: int,
        output_gain: float = 1.0,
    ) -> None:
        self.number = number
        self.block_size = block_size
        self.format = audio_format
        self.renderer = renderer
        self.scheduler = scheduler
        self._metrics = metrics
        self.period_s = block_size / SAMPLE_RATE
        self.sequence = 0
        self.start_time = time.monotonic()
        self.outbox: deque[bytes | str] = deque()
        self.ready = asyncio.Event()
        self._queue_limit = send_queue_blocks
        self._pose: Pose | None = None
        self._pose_t = math.nan
        self._output_gain = output_gain
        self._limiter = 1.0
        self._bar_key: tuple[int, int] | None = None
        self.on_bar: Callable[[], None] | None = None
        self.on_failure: Callable[[Exception], None] | None = None
        self.deadline_misses = 0
        self.blocks = 0
        self.dropped = 0
        self.last_read = time.monotonic()

    @property
    def due(self) -> float:
        """When the next block is rendered, ``time.monotonic()`` seconds: one block period
        before its own period begins (the client plays it then, from a jitter buffer)."""
        return self.start_time + (self.sequence - RENDER_AHEAD_BLOCKS) * self.period_s

    @property
    def deadline(self) -> float:
        """When the next block must be on the wire: the end of its own block period."""
        return self.start_time + (self.sequence + 1) * self.period_s

    def time_of(self, sample: int) -> float:
        """When stream sample ``sample`` is rendered, ``time.monotonic()`` seconds."""
        return self.start_time + sample / SAMPLE_RATE

    def set_pose(self, pose: Pose, t: float) -> None:
        """The head's latest pose (world frame) and its client timestamp; used next block."""
        self._pose = pose
        self._pose_t = t

    def render_due(self, now: float) -> None:
        """Render every block that is due at ``now``."""
        if now - self.due > _RESYNC_S:
            # The machine stalled (or a debugger held it): the blocks of the stall are
            # lost; the stream goes on from now, its samples still continuous.
            skipped = int((now - self.due) / self.period_s)
            self.start_time += skipped * self.period_s
            self.deadline_misses += skipped
            self._metrics.deadline_misses += skipped
        while self.due <= now:
            self._render_one()
            now = time.monotonic()

    def _render_one(self) -> None:
        started = time.monotonic()
        deadline = self.deadline
        frames = self.block_size
        start = self.sequence * frames
        if self._pose is not None:
            self.renderer.set_listener(self._pose)
            pose_t, self._pose = self._pose_t, None
            self._sent_pose_t = pose_t
        stems = self.scheduler.mix(start, frames)
        binaural = self.renderer.process(stems)
        volume = self.scheduler.volume(start, frames)
        binaural, self._limiter = level_block(
            binaural,
            volume,
            gain=self._output_gain,
            limiter=self._limiter,
            recovery=_RELEASE_PER_S**self.period_s,
        )
        payload = encode_audio(
            binaural,
            sequence=self.sequence,
            sample_index=start,
            server_time=time.time(),
            pose_t=getattr(self, "_sent_pose_t", math.nan),
            audio_format=self.format,  # type: ignore[arg-type]
        )
        self._push(payload)
        self.sequence += 1
        self.blocks += 1
        finished = time.monotonic()
        self._metrics.observe_render(finished - started)
        if finished > deadline:
            self.deadline_misses += 1
            self._metrics.deadline_misses += 1
        key = self.scheduler.bar_key(start + frames)
        if key != self._bar_key:
            self._bar_key = key
            if self.on_bar is not None:
                self.on_bar()

    def _push(self, item: bytes | str) -> None:
        self.outbox.append(item)
        while len(self.outbox) > self._queue_limit:
            dropped = self.outbox.popleft()
            if isinstance(dropped, bytes):
                self.dropped += 1
                self._metrics.blocks_dropped += 1
        self.ready.set()

    def send_text(self, text: str) -> None:
        """Queue a JSON message for the client, in order with the audio."""
        self._push(text)


def level_block(
    block: np.ndarray, volume: np.ndarray, *, gain: float, limiter: float, recovery: float
) -> tuple[np.ndarray, float]:
    """Scale a binaural block by the listener's volume and keep it under full scale.

    Parameters
    ----------
    block
        float32, shape (2, frames): the renderer's output.
    volume
        float32, shape (frames,): the listener's volume per sample.
    gain
        Linear gain from the renderer to the wire.
    limiter
        The limiter's gain at the end of the previous block (1 when idle).
    recovery
        Largest factor by which the limiter's gain may rise over one block.

    Returns
    -------
    tuple
        The block (float32, shape (2, frames), NaN and Inf as 0, every sample within
        ``0.98``) and the limiter's gain at its end. The gain drops at once to what the
        block's peak needs and recovers slowly: it ramps from the old gain to the new one
        over the block, or holds the new one where the ramp would pass the ceiling.
    """
    out = np.empty(block.shape, dtype=np.float32)
    return out, _level(block, volume, float(gain), float(limiter), float(recovery), out)


@njit(cache=True)
def _level(
    block: np.ndarray,
    volume: np.ndarray,
    gain: float,
    limiter: float,
    recovery: float,
    out: np.ndarray,
) -> float:
    frames = block.shape[1]
    peak = 0.0
    for e in range(2):
        for n in range(frames):
            v = np.float32(block[e, n] * (volume[n] * gain))
            if not np.isfinite(v):
                v = np.float32(0.0)
            out[e, n] = v
            peak = max(peak, abs(v))
    recovered = min(1.0, limiter * recovery)
    target = min(recovered, _CEILING / peak) if peak > 0.0 else recovered
    hold = limiter * peak > _CEILING
    step = (target - limiter) / (frames - 1) if frames > 1 else 0.0
    for n in range(frames):
        g = np.float32(target if hold else limiter + step * n)
        out[0, n] *= g
        out[1, n] *= g
    return target


class AudioEngine:
    """The one clock of a server: renders each session's blocks as they fall due.

    It also measures its own load: the share of real time that the thread it runs on
    (the event loop's, which also sends and receives every session's messages) spends
    working, averaged over about :data:`LOAD_WINDOW_S` seconds. That thread is what every
    block waits for, so its load, not the machine's, says how close the sessions are to
    missing their deadlines.
    """

    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self._wake = asyncio.Event()
        self._busy_s = 0.0
        self._span_s = 0.0
        self._last_cpu = time.thread_time()
        self._last_wall = time.monotonic()

    @property
    def load(self) -> float:
        """The clock thread's working share of real time, 0 to 1, over the last seconds."""
        return self._busy_s / self._span_s if self._span_s > 0.0 else 0.0

    def measure(self) -> None:
        """Take the clock thread's CPU time since the last call into :attr:`load`. Call
        it on that thread (:meth:`run` does, once a tick)."""
        cpu, wall = time.thread_time(), time.monotonic()
        elapsed = wall - self._last_wall
        if elapsed <= 0.0:
            return
        faded = -math.expm1(-elapsed / LOAD_WINDOW_S)
        keep = 1.0 - faded
        # The interval's share of the average, spread over the interval: a long idle wait
        # weighs as much as its last few seconds, not as its whole length.
        weight = LOAD_WINDOW_S * faded / elapsed
        self._busy_s = self._busy_s * keep + (cpu - self._last_cpu) * weight
        self._span_s = self._span_s * keep + elapsed * weight
        self._last_cpu, self._last_wall = cpu, wall

    def add(self, session: Session) -> None:
        """Start a session's stream now."""
        session.start_time = time.monotonic()
        self.sessions.append(session)
        self._wake.set()

    def remove(self, session: Session) -> None:
        """Stop rendering a session."""
        if session in self.sessions:
            self.sessions.remove(session)

    def _render_due(self, now: float) -> None:
        # A method of its own: a loop variable in run() would keep the last session (its
        # renderer, its music) alive while the clock waits, long after it ended.
        for session in list(self.sessions):
            try:
                session.render_due(now)
            except Exception as error:  # one broken session must not stop the others
                self.remove(session)
                if session.on_failure is not None:
                    session.on_failure(error)

    async def run(self) -> None:
        """Render forever (until cancelled)."""
        # The load is this thread's CPU time: start counting on it.
        self._last_cpu, self._last_wall = time.thread_time(), time.monotonic()
        while True:
            if not self.sessions:
                self._wake.clear()
                # Waking once a second keeps the load true while nobody listens.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IDLE_MEASURE_S):
                        await self._wake.wait()
                self.measure()
                continue
            self._render_due(time.monotonic())
            self.measure()
            if self.sessions:
                wait = min(s.due for s in self.sessions) - time.monotonic()
                await asyncio.sleep(max(0.0, wait))
