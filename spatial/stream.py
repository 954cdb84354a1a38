"""Block-by-block binaural rendering for live use: uniformly partitioned convolution.

Each source's response is kept as three parts, as in the offline render
(:func:`spatial.render_scene`), so that a static scene streams out sample for sample what
the offline render gives:

- the direct sound (HRTF of its direction, 1/r and air absorption), a few partitions
  long, fed through a delay line that glides to the travel time every block; the filter is
  remade when the direction has drifted by ``DIRECT_TOLERANCE_DEG`` or the level by
  ``DIRECT_TOLERANCE_DB`` (a smaller drift once the motion has paused for
  ``DIRECT_CATCH_UP_BLOCKS`` blocks);
- the reflections (image sources up to the transition time), tens of milliseconds,
  through each image's HRTF or (``reflection_order``) as a world-frame ambisonic field
  turned with the head (:mod:`spatial.stream_ambisonic`); they cost more to compute (a
  few milliseconds a source), so they are recomputed at most
  ``reflection_updates_per_second`` times a second over all sources, the source whose
  reflections are the most out of date first (with ``lazy_reflections``, once out of
  date by ``REFLECTION_TOLERANCE_DEG`` or ``REFLECTION_TOLERANCE_M``, a smaller lag once
  the motion has paused);
- one late tail shared by all sources, convolved once with the gain-weighted sum of their
  inputs, in two stages (:class:`spatial.partitioned.TailConvolver`: block-sized
  partitions for its first 2048 samples, 2048-sample ones after).

Convolution is uniformly partitioned (overlap-save, one FFT of twice the block size per
source and block): every source keeps a delay line of its input spectra, and a numba loop
multiplies and accumulates them with the filter partitions. When a filter changes, the
block is rendered through both the old and the new filter and the output crossfades
between the two over the block (raised cosine), so that moving sources and a turning head
give no clicks. Only the parts that changed are rendered twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np
from numba import njit

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m
from scene.errors import SceneError
from scene.model import Pose, Room
from spatial import blockfft
from spatial.ambisonics import MAX_ORDER, channel_count
from spatial.bands import band_firs
from spatial.brir import (
    AIR_FIR_HALF_TAPS,
    DIRECT_LOOKAHEAD_SAMPLES,
    _direct,
    head_frame,
    reflections_brir,
    split_travel,
)
from spatial.fractional import FRACTIONAL_DELAY_HALF_TAPS, variable_delay
from spatial.hrtf import Hrtf
from spatial.image_sources import MIN_DISTANCE_M
from spatial.late import FADE_S
from spatial.partitioned import TailConvolver, partition
from spatial.partitioned import mac_partitions as _mac_one
from spatial.render import (
    EARLY_MIN_S,
    _check_hrtf,
    _check_point,
    _check_rate,
    _check_room,
    _room_plan,
    _SourcePlan,
)
from spatial.stream_ambisonic import AmbisonicReflections, encode_reflections
from spatial.types import SAMPLE_RATE

__all__ = [
    "DEFAULT_REFLECTION_UPDATES_PER_SECOND",
    "DIRECT_CATCH_UP_BLOCKS",
    "DIRECT_TOLERANCE_DB",
    "DIRECT_TOLERANCE_DEG",
    "MAX_BLOCK_SIZE",
    "MIN_BLOCK_SIZE",
    "REFLECTION_TOLERANCE_DEG",
    "REFLECTION_TOLERANCE_M",
    "StreamRenderer",
]

#: Reflection updates per second over all sources: about a tenth of one core.
DEFAULT_REFLECTION_UPDATES_PER_SECOND = 100.0

#: Smallest and largest block sizes, samples.
MIN_BLOCK_SIZE = 16
MAX_BLOCK_SIZE = 8192

#: How far a source's direction may drift (degrees, in the head frame) from the one its
#: direct-sound filter was made for, or its level (dB, from its distance), before the filter
#: is made anew. About the smallest change in direction a listener hears in front (the
#: minimum audible angle, about 1 degree), and a tenth of the smallest audible change of
#: level. The travel time is not held back: the delay line follows every block.
DIRECT_TOLERANCE_DEG = 1.0
DIRECT_TOLERANCE_DB = 0.1

#: A drift smaller than the tolerances is caught up once this many blocks have passed
#: without a new pose or position, so that a scene that stops moving converges on its
#: static render. Counted from the last change, not the first: a head turning steadily
#: (a pose every few blocks) is followed within the tolerances, not remade at every pose.
DIRECT_CATCH_UP_BLOCKS = 4

#: How far the head may turn (degrees) or the listener and a source move together (metres)
#: before that source's reflections are out of date (a staleness of one); the most
#: out-of-date sources are updated first. Any lag is updated eventually, so that a scene
#: that stops moving converges to its static render; with ``lazy_reflections`` a lag
#: smaller than this waits until the motion has paused for ``DIRECT_CATCH_UP_BLOCKS``
#: blocks, as the direct sound's drift does.
REFLECTION_TOLERANCE_DEG = 5.0
REFLECTION_TOLERANCE_M = 0.1

# Parts of a reflection response quieter than this, relative to its peak, are not
# convolved (the band split's faint pre-ringing before the first reflection).
_NEGLIGIBLE = 1e-7
# A direct sound's delay changing by more than this fraction of a block within the block
# (a source faster than a tenth of the speed of sound) is taken for a jump and crossfaded.
_JUMP_FRACTION = 0.1
# A truncated late tail fades out over its last 5 ms so that the cut adds no click.
_TAIL_FADE_S = 0.005


class StreamRenderer:
    """Render sources block by block for a listener whose head and sources may move.

    Parameters
    ----------
    room
        The acoustic space (as for :func:`spatial.render_scene`).
    sources
        Number of sources (>= 0).
    block_size
        Samples per block (16 to 8192; 128 to 1024 are the usual live sizes).
    hrtf
        None uses :func:`spatial.hrtf.default_hrtf`.
    sample_rate
        Must be 48000 Hz.
    brir_length_s
        Longest response kept per source, seconds (the late tail is cut there, with a 5 ms
        fade); sound arriving later is dropped.
    seed
        Seeds the late tail's noise; the same seed as :func:`spatial.render_scene` gives
        the same output.
    listener
        Initial pose of the listener's head.
    positions
        Initial position of each source, world coordinates, metres.
    reflection_updates_per_second
        How many times a second, over all sources, reflections may be recomputed (> 0);
        at least one source is updated in any block that has an out-of-date one when
        blocks are longer than ``1 / reflection_updates_per_second``.
    reflection_executor
        None recomputes reflections inside :meth:`process` (a few milliseconds each, all
        on the caller's thread; the output is then the same whatever the machine's
        speed). An executor (e.g. a ``ThreadPoolExecutor`` shared by many renderers)
        makes them on its threads, off the audio thread, as simulation threads do in
        game audio engines: a block installs those that are ready, crossfading, and the
        audio thread never waits for one. Their heavy steps release the interpreter.
    reflection_order
        None renders each source's reflections through the HRTF of every image's
        direction, remade as the head turns (the offline render's sound, sample for
        sample). An ambisonic order (1 to 3) keeps them as a world-frame sound field of
        that order, turned to the head every sample and decoded with fixed filters
        (:mod:`spatial.stream_ambisonic`): a turning head then costs nothing more, and
        only moving the listener or a source remakes reflections; their directions are
        as sharp as the order allows.
    lazy_reflections
        False remakes any source whose reflections lag the geometry at all, at the rate
        above (the closest to a continuously moving scene: offline renders). True lets a
        lag within ``REFLECTION_TOLERANCE_DEG`` and ``REFLECTION_TOLERANCE_M`` wait until
        the motion pauses, as the direct sound's drift does: for live use, where a
        headset's head sways by centimetres and never quite stops, and would otherwise
        remake every source's reflections at the full rate.

    Notes
    -----
    A change of pose or position given before :meth:`process` takes effect in that block:
    the block crossfades from the old responses to the new ones. Output has no latency
    beyond the block itself.
    """

    def __init__(
        self,
        room: Room,
        *,
        sources: int,
        block_size: int,
        hrtf: Hrtf | None = None,
        sample_rate: int = SAMPLE_RATE,
        brir_length_s: float = 1.0,
        seed: int = 0,
        listener: Pose,
        positions: Sequence[tuple[float, float, float]],
        reflection_updates_per_second: float = DEFAULT_REFLECTION_UPDATES_PER_SECOND,
        reflection_executor: Executor | None = None,
        reflection_order: int | None = None,
        lazy_reflections: bool = False,
    ) -> None:
        _check_rate(sample_rate)
        if reflection_order is not None and (
            isinstance(reflection_order, bool)
            or not isinstance(reflection_order, int | np.integer)
            or not 1 <= reflection_order <= MAX_ORDER
        ):
            raise SceneError(
                f"must be None (reflections through the HRTF) or an ambisonic order, 1 to "
                f"{MAX_ORDER}",
                field="reflection_order",
                value=reflection_order,
            )
        if reflection_executor is not None and not callable(
            getattr(reflection_executor, "submit", None)
        ):
            raise SceneError(
                "must be None or an executor (with submit)",
                field="reflection_executor",
                value=reflection_executor,
            )
        if not isinstance(lazy_reflections, bool | np.bool_):
            raise SceneError(
                "must be True or False", field="lazy_reflections", value=lazy_reflections
            )
        self._reflection_executor = reflection_executor
        self._lazy_reflections = bool(lazy_reflections)
        self._r_pending: dict[int, Future] = {}
        _check_room(room)
        self._hrtf = _check_hrtf(hrtf)
        self._room = room
        self._n = _check_count(sources, field="sources", low=0)
        self._block = _check_count(block_size, field="block_size", low=MIN_BLOCK_SIZE)
        if self._block > MAX_BLOCK_SIZE:
            raise SceneError(
                f"must be an integer from {MIN_BLOCK_SIZE} to {MAX_BLOCK_SIZE} samples",
                field="block_size",
                value=block_size,
            )
        rate = reflection_updates_per_second
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not (0 < rate < 1e6):
            raise SceneError(
                "must be a positive number of updates per second",
                field="reflection_updates_per_second",
                value=rate,
            )
        # Credit for reflection updates grows by rate * block duration each block; a block
        # spends whole credits. The cap keeps a long quiet spell from bursting later.
        self._credit_per_block = float(rate) * self._block / sample_rate
        self._credit_cap = max(1.0, self._credit_per_block)
        self._credit = 0.0
        self._budget = math.floor(self._credit_cap) + 1
        if not isinstance(brir_length_s, int | float) or not (0.0 < brir_length_s <= 20.0):
            raise SceneError(
                "must be a number of seconds, > 0 and <= 20",
                field="brir_length_s",
                value=brir_length_s,
            )
        if len(positions) != self._n:
            raise SceneError(
                f"must give one position per source ({self._n})",
                field="positions",
                value=f"{len(positions)} positions",
            )
        if room.is_enclosed:
            self._low = tuple(float(v) for v in room.origin)
            self._high = tuple(o + float(v) for o, v in zip(self._low, room.size, strict=True))
        self._listener = self._checked_listener(listener)
        self._positions = np.array(
            [self._checked_position(i, p) for i, p in enumerate(positions)], dtype=np.float64
        ).reshape(self._n, 3)
        fs = sample_rate
        self._fs = fs
        # A mesh room's tail is traced at the listener's first position, as offline.
        self._plan = _room_plan(room, self._hrtf, fs, seed, self._listener)
        self._air = air_absorption_per_m()
        self._band_firs = np.ascontiguousarray(band_firs(AIR_FIR_HALF_TAPS, SAMPLE_RATE))

        block = self._block
        bins = block + 1
        limit = max(1, math.ceil(brir_length_s * fs / block))
        hrtf_span = float(np.max(self._hrtf.delays_samples, initial=0.0))
        fixed = hrtf_span + self._hrtf.taps + 2 * FRACTIONAL_DELAY_HALF_TAPS + 4
        if room.is_enclosed:
            diagonal_s = float(np.linalg.norm(room.size)) / SPEED_OF_SOUND
            transition = self._plan.transition_s
            early_end = (max(transition, diagonal_s + EARLY_MIN_S) + FADE_S / 2) * fs + fixed
            depth = min(limit, math.ceil(early_end / block) + 1)
            reflection_cap = depth
            self._max_shift = max(0, math.ceil((diagonal_s + EARLY_MIN_S - transition) * fs))
        else:
            depth = limit
            # Outdoors the one reflection (the ground) follows the direct sound closely.
            reflection_cap = 0 if room.kind == "free_field" else min(limit, 8 + 4096 // block)
            self._max_shift = 0
        self._limit = depth
        # The direct sound's HRTF filter holds the travel time's remainder (see
        # spatial.brir.split_travel), the ear's delay, the HRIR and the kernels; the rest
        # of the travel time is a delay line on the source's signal, long enough for the
        # farthest source the room allows (outdoors: brir_length_s).
        # Its filter starts within the first partition (the remainder is at most the
        # lookahead) and ends by this sample:
        direct_end = (
            DIRECT_LOOKAHEAD_SAMPLES
            + math.ceil(hrtf_span)
            + 2
            + self._hrtf.taps
            + FRACTIONAL_DELAY_HALF_TAPS
            + AIR_FIR_HALF_TAPS
        )
        self._direct_cap = math.ceil(direct_end / block)
        if room.is_enclosed:
            self._line_max = float(np.linalg.norm(room.size)) / SPEED_OF_SOUND * fs + 1.0
        else:
            self._line_max = float(limit * block)

        n = self._n
        self._fdl = np.zeros((n, depth, bins), dtype=np.complex64)
        self._ambisonic: AmbisonicReflections | None = None
        channels = 2
        # In a free field there is nothing to reflect: no bus to mix, turn and decode.
        if reflection_order is not None and reflection_cap > 0:
            self._ambisonic = AmbisonicReflections(int(reflection_order), self._hrtf, block)
            channels = self._ambisonic.channels
        # Each source's last two blocks ([0]) and its delay line's ([1]), for one FFT.
        self._input_frames = np.zeros((2, n, 2 * block), dtype=np.float32)
        self._no_spectra = np.zeros((2, 0, bins), dtype=np.complex64)
        self._no_late = np.zeros((2, block), dtype=np.float32)
        self._common = np.zeros((2, bins), dtype=np.complex64)
        # The output spectra: rows 0-1 through the new filters, rows 2-3 the old ones.
        self._sums = np.zeros((4, bins), dtype=np.complex64)
        self._newest = 0
        self._history = _History(n, self._max_shift + block, block)
        line_length = math.ceil(self._line_max) + FRACTIONAL_DELAY_HALF_TAPS + block + 1
        self._line_history = _History(n, line_length, block)
        self._line = np.zeros(n)
        self._line_before = np.zeros(n)
        self._u_fdl = np.zeros((n, self._direct_cap, bins), dtype=np.complex64)
        self._count = 0
        # Direct sound: two slots per source (current and, while fading, the previous one).
        self._d_spec = np.zeros((n, 2, self._direct_cap, 2, bins), dtype=np.complex64)
        self._d_first = np.zeros((n, 2), dtype=np.int64)
        self._d_count = np.zeros((n, 2), dtype=np.int64)
        self._d_cur = np.zeros(n, dtype=np.int64)
        self._d_fading = np.zeros(n, dtype=np.bool_)
        self._d_vector = np.full((n, 3), np.nan)
        self._d_remainder = np.full(n, np.nan)
        self._d_age = np.zeros(n, dtype=np.int64)
        self._d_face = np.full(n, -1, dtype=np.int64)
        # Reflections: one slot per source, and a small pool for those fading out.
        cap = max(reflection_cap, 1)
        self._r_spec = np.zeros((n, cap, channels, bins), dtype=np.complex64)
        self._r_first = np.zeros(n, dtype=np.int64)
        self._r_count = np.zeros(n, dtype=np.int64)
        self._r_cap = reflection_cap
        self._r_pool = np.zeros((self._budget, cap, channels, bins), dtype=np.complex64)
        self._r_pool_first = np.zeros(self._budget, dtype=np.int64)
        self._r_pool_count = np.zeros(self._budget, dtype=np.int64)
        self._r_old = np.full(n, -1, dtype=np.int64)
        # The arrays above as the kernels take them (filled in place, never replaced): the
        # ambisonic bus's, or the sources' own output's; with a bus, the sources' own
        # output has no reflections (no partitions, none fading).
        self._reflections = (
            self._r_spec,
            self._r_first,
            self._r_count,
            self._r_pool,
            self._r_pool_first,
            self._r_pool_count,
            self._r_old,
        )
        self._own_reflections = self._reflections
        if self._ambisonic is not None:
            self._own_reflections = (
                *self._reflections[:2],
                np.zeros(n, dtype=np.int64),
                *self._reflections[3:6],
                np.full(n, -1, dtype=np.int64),
            )
        self._r_listener = np.zeros((n, 3))
        self._r_angles = np.zeros((n, 2))
        self._r_position = np.zeros((n, 3))
        # Each source's image sources, by the listener's and the source's positions: a head
        # that only turns (the usual case live) needs new HRTF directions, not new images.
        self._r_plans: list[tuple[tuple[float, ...], _SourcePlan] | None] = [None] * n
        # The shared tail and what each source feeds into it.
        self._tail_shift = np.zeros(n, dtype=np.int64)
        self._tail_gain = np.zeros(n)
        self._tail_shift_old = np.zeros(n, dtype=np.int64)
        self._tail_gain_old = np.zeros(n)
        self._tail_fading = np.zeros(n, dtype=np.bool_)
        self._setup_tail(brir_length_s)

        self._ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(block) + 0.5) / block)).astype(
            np.float32
        )
        self._pending_listener: Pose | None = None
        # True while the filters are up to date with every pose and position; _moved while
        # a pose or position is new since the last block; _r_dirty while some source's
        # reflections may lag the geometry; _d_drift: each direct filter's drift (see
        # _direct_drift) at the last new geometry, zeroed when the filter is remade.
        self._settled = False
        self._moved = True
        self._r_dirty = True
        self._d_drift = np.zeros(n)
        # Blocks since the last new pose or position; _r_waiting while the only reflections
        # out of date are within the tolerances, waiting for the motion to pause.
        self._still_blocks = 0
        self._r_waiting = False
        for s in range(n):
            self._update_reflections(s, fade=False)
        self._update_lines(fade=False)
        self._update_direct(np.arange(n), fade=False)

    # --- public API -----------------------------------------------------------------

    @property
    def block_size(self) -> int:
        """Samples per block."""
        return self._block

    @property
    def sources(self) -> int:
        """Number of sources."""
        return self._n

    @property
    def listener(self) -> Pose:
        """The listener's pose in effect (or to take effect in the next block)."""
        return self._pending_listener or self._listener

    def set_listener(self, pose: Pose) -> None:
        """Move or turn the listener's head; takes effect in the next block."""
        self._pending_listener = self._checked_listener(pose)
        self._settled = False
        self._moved = True

    def set_source_position(self, index: int, position: tuple[float, float, float]) -> None:
        """Move one source (world coordinates, metres); takes effect in the next block."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise SceneError("must be a source index (integer)", field="index", value=index)
        if not 0 <= index < self._n:
            raise SceneError(
                f"must be a source index from 0 to {self._n - 1}", field="index", value=index
            )
        self._positions[int(index)] = self._checked_position(int(index), position)
        self._settled = False
        self._moved = True

    def set_source_positions(self, positions: np.ndarray) -> None:
        """Move every source at once (shape (sources, 3), metres); takes effect in the next
        block. The same as calling :meth:`set_source_position` for each, in one step."""
        p = np.asarray(positions, dtype=np.float64)
        if p.shape != (self._n, 3):
            raise SceneError(
                f"must be an array of shape (sources, 3) = ({self._n}, 3)",
                field="positions",
                value=p.shape,
            )
        ok = np.all(np.isfinite(p), axis=1)
        if self._room.is_enclosed:
            ok &= np.all((p >= self._low) & (p <= self._high), axis=1)
        elif self._room.kind == "outdoor":
            ok &= p[:, 2] >= 0.0
        for i in np.flatnonzero(~ok):
            _check_point(self._room, tuple(p[i]), field=f"positions[{i}]")
        self._positions[:] = p
        self._settled = False
        self._moved = True

    def process(self, blocks: np.ndarray) -> np.ndarray:
        """Render one block.

        Parameters
        ----------
        blocks
            float32, shape (sources, block_size): the next samples of every source.

        Returns
        -------
        numpy.ndarray
            float32, shape (2, block_size), row 0 the left ear.
        """
        x = self._checked_blocks(blocks)
        self._apply_motion()
        block = self._block
        self._count += 1
        self._newest = self._count % self._fdl.shape[1]
        u_newest = self._count % self._u_fdl.shape[1]
        # Few, large steps: at 256 samples a block lasts 5.3 ms, and every numpy call
        # made per block and session costs a few microseconds of the server's one thread.
        if self._n:
            history, lines = self._history, self._line_history
            _take_input(
                x,
                self._input_frames,
                history.buffer,
                history.write,
                lines.buffer,
                lines.write,
                self._line_before,
                self._line,
                self._ramp,
                _JUMP_FRACTION * block,
            )
            history.advance()
            lines.advance()
            spectra = blockfft.rfft(self._input_frames)
        else:
            spectra = self._no_spectra
        common = self._common
        common[...] = 0
        ambisonic = self._ambisonic
        if ambisonic is not None:
            self._fdl[:, self._newest] = spectra[0]
            ambisonic.add_block(
                self._fdl, self._newest, self._reflections, self._listener, self._ramp, common
            )
        tail = self._tail
        if tail is not None:
            tail_in = _tail_input(
                self._history.view,
                block,
                self._tail_shift,
                self._tail_gain,
                self._tail_shift_old,
                self._tail_gain_old,
                self._tail_fading,
                self._ramp,
            )
            tail.push(tail_in)
            tail.add_head(common)
        fading = _mac_sources(
            spectra,
            self._fdl,
            self._newest,
            self._u_fdl,
            u_newest,
            *self._own_reflections,
            self._d_spec,
            self._d_first,
            self._d_count,
            self._d_cur,
            self._d_fading,
            common,
            self._sums,
        )
        outputs = blockfft.irfft(self._sums[: 4 if fading else 2], 2 * block)
        out = np.empty((2, block), dtype=np.float32)
        late = tail.late() if tail is not None else self._no_late
        _finish_block(outputs, fading, self._ramp, late, out)
        return out

    def reset(self) -> None:
        """Forget all past input (silence from here on), keeping poses and positions."""
        self._apply_motion()
        for array in (
            self._fdl,
            self._input_frames,
            self._history.buffer,
            self._line_history.buffer,
            self._u_fdl,
        ):
            array[...] = 0
        if self._tail is not None:
            self._tail.reset()
        if self._ambisonic is not None:
            self._ambisonic.reset()
        self._line_before[:] = self._line
        self._d_fading[:] = False
        self._r_old[:] = -1
        self._tail_fading[:] = False

    # --- filters --------------------------------------------------------------------

    def _setup_tail(self, brir_length_s: float) -> None:
        tail = self._plan.tail
        self._tail: TailConvolver | None = None
        if tail is None:
            return
        keep = min(tail.shape[1], round(brir_length_s * self._fs))
        tail = tail[:, :keep].copy()
        if keep < self._plan.tail.shape[1]:
            fade = min(keep, round(_TAIL_FADE_S * self._fs))
            tail[:, keep - fade :] *= np.linspace(1.0, 0.0, fade)[None, :]
        convolver = TailConvolver(tail, block_size=self._block)
        if not convolver.empty:
            self._tail = convolver

    def _update_reflections(self, s: int, *, fade: bool) -> None:
        self._mark_reflections(s)
        self._install_reflections(s, self._reflections_job(s)(), fade=fade)

    def _mark_reflections(self, s: int) -> None:
        """Record the geometry source ``s``'s reflections are being made for."""
        listener = self._listener
        self._r_listener[s] = listener.position
        self._r_angles[s] = (listener.yaw_deg, listener.pitch_deg)
        self._r_position[s] = self._positions[s]

    def _reflections_job(self, s: int) -> Callable[[], _Reflections]:
        """A job that makes source ``s``'s reflections for the geometry now: it holds what
        it needs of the renderer's state, so that it can run on another thread."""
        listener = self._listener
        position = self._positions[s].copy()
        cached = self._r_plans[s]
        plan, room, hrtf, fs = self._plan, self._room, self._hrtf, self._fs
        block, limit, cap = self._block, self._limit, self._r_cap
        order = None if self._ambisonic is None else self._ambisonic.order

        def job() -> _Reflections:
            key = (*listener.position, *position)
            if cached is not None and cached[0] == key:
                source = cached[1]
            else:
                source = plan.source(room, listener, position, fs)
            first, spectra = _reflection_partitions(
                source, listener, hrtf, fs=fs, block=block, limit=limit, cap=cap, order=order
            )
            return _Reflections(key, source, first, spectra)

        return job

    def _install_reflections(self, s: int, made: _Reflections, *, fade: bool) -> None:
        source = made.source
        self._r_plans[s] = (made.key, source)
        if fade:
            slot = int(np.flatnonzero(~np.isin(np.arange(self._budget), self._r_old))[0])
            self._r_pool[slot] = self._r_spec[s]
            self._r_pool_first[slot] = self._r_first[s]
            self._r_pool_count[slot] = self._r_count[s]
            self._r_old[s] = slot
            if source.tail_shift != self._tail_shift[s] or source.tail_gain != self._tail_gain[s]:
                self._tail_shift_old[s] = self._tail_shift[s]
                self._tail_gain_old[s] = self._tail_gain[s]
                self._tail_fading[s] = True
        self._tail_shift[s] = min(source.tail_shift, self._max_shift)
        self._tail_gain[s] = source.tail_gain
        count = made.spectra.shape[0]
        self._r_spec[s, :count] = made.spectra
        self._r_first[s] = made.first
        self._r_count[s] = count

    def _collect_reflections(self) -> None:
        """Install the reflections made on the executor's thread since the last block (as
        many as the crossfade pool holds; the rest wait a block)."""
        free = self._budget
        for s, future in list(self._r_pending.items()):
            if free == 0:
                break
            if future.done():
                del self._r_pending[s]
                self._install_reflections(s, future.result(), fade=True)
                free -= 1

    def _update_direct(self, which: np.ndarray, *, fade: bool) -> None:
        if which.size == 0:
            return
        vectors = head_frame(self._listener, self._positions[which])
        distance = np.linalg.norm(
            self._positions[which] - np.asarray(self._listener.position), axis=1
        )
        # The same law as the image sources' direct sound: 1/r (r >= 0.1 m) and air.
        gains = (
            np.exp(-0.5 * self._air[None, :] * distance[:, None])
            / np.maximum(distance, MIN_DISTANCE_M)[:, None]
        )
        air = gains @ self._band_firs
        indices, weights, faces = self._hrtf.interpolation_weights_near(
            vectors, self._d_face[which]
        )
        self._d_face[which] = faces
        _, remainder = split_travel(distance / SPEED_OF_SOUND * self._fs)
        self._d_remainder[which] = remainder
        block = self._block
        frames = np.zeros((which.size, self._direct_cap, 2, 2 * block), dtype=np.float32)
        first = np.zeros(which.size, dtype=np.int64)
        _direct_partitions(
            frames,
            first,
            self._hrtf.minimum_phase,
            self._hrtf.delays_samples,
            indices,
            weights,
            remainder,
            air,
            FRACTIONAL_DELAY_HALF_TAPS,
            block,
        )
        spectra = blockfft.rfft(frames)
        slots = 1 - self._d_cur[which] if fade else self._d_cur[which]
        cap = self._direct_cap
        self._d_spec[which, slots] = spectra
        self._d_first[which, slots] = first
        self._d_count[which, slots] = cap
        # Rare: a source so close that its filter would start before time 0, whose first
        # partitions are dropped (as the offline render drops those samples).
        for k in np.flatnonzero(first < 0):
            s, slot, skip = int(which[k]), int(slots[k]), int(-first[k])
            kept = max(0, cap - skip)
            self._d_spec[s, slot, :kept] = spectra[k, skip : skip + kept]
            self._d_spec[s, slot, kept:] = 0
            self._d_first[s, slot] = 0
            self._d_count[s, slot] = kept
        if fade:
            self._d_cur[which] = slots
            self._d_fading[which] = True
        self._d_vector[which] = vectors
        self._d_age[which] = 0

    def _update_lines(self, *, fade: bool) -> np.ndarray:
        """Set every source's delay line to its travel time now (it glides there over the
        next block, or jumps when ``fade`` is False); returns the filters' remainders."""
        distance = np.linalg.norm(self._positions - np.asarray(self._listener.position), axis=1)
        line, remainder = split_travel(distance / SPEED_OF_SOUND * self._fs)
        self._line[:] = np.minimum(line, self._line_max)
        if not fade:
            self._line_before[:] = self._line
        return remainder

    def _apply_motion(self) -> None:
        if self._pending_listener is not None:
            self._listener = self._pending_listener
            self._pending_listener = None
        self._credit = min(self._credit + self._credit_per_block, self._credit_cap)
        if self._r_pending:
            self._collect_reflections()
        if self._n == 0 or self._settled:
            return
        # Live, poses come at a third of the block rate or less: the blocks between them
        # only age the small drifts and spend reflection credit, without new geometry.
        if self._moved:
            vectors = head_frame(self._listener, self._positions)
            remainder = self._update_lines(fade=True)
            _direct_drift(
                vectors,
                self._d_vector,
                remainder,
                self._d_remainder,
                DIRECT_TOLERANCE_DEG,
                DIRECT_TOLERANCE_DB,
                MIN_DISTANCE_M,
                self._d_drift,
            )
            self._moved = False
            self._r_dirty = True
            self._r_waiting = False
            self._d_age[:] = 0
            self._still_blocks = 0
        else:
            self._still_blocks += 1
        drift = self._d_drift
        drifting = drift > 0.0
        self._d_age[drifting] += 1
        due = (drift >= 1.0) | (drifting & (self._d_age >= DIRECT_CATCH_UP_BLOCKS))
        if due.any():
            which = np.flatnonzero(due)
            self._update_direct(which, fade=True)
            drift[which] = 0.0
        waiting = self._r_waiting and self._still_blocks < DIRECT_CATCH_UP_BLOCKS
        if self._r_dirty and self._credit >= 1.0 and not waiting:
            self._refresh_reflections()
        # Nothing left to catch up: the next blocks skip all of this until something moves.
        self._settled = not self._r_dirty and not self._r_pending and not np.any(drift > 0.0)

    def _refresh_reflections(self) -> None:
        """Spend whole credits on the sources whose reflections are the most out of date."""
        listener = np.asarray(self._listener.position)
        angles = np.array([self._listener.yaw_deg, self._listener.pitch_deg])
        turn = np.abs((self._r_angles - angles + 180.0) % 360.0 - 180.0).max(axis=1)
        if self._ambisonic is not None:
            turn[:] = 0.0  # the bus turns with the head; the reflections stay
        shift = np.linalg.norm(self._r_listener - listener, axis=1) + np.linalg.norm(
            self._r_position - self._positions, axis=1
        )
        staleness = np.maximum(turn / REFLECTION_TOLERANCE_DEG, shift / REFLECTION_TOLERANCE_M)
        if self._r_pending:
            staleness[list(self._r_pending)] = 0.0  # already being made
        paused = not self._lazy_reflections or self._still_blocks >= DIRECT_CATCH_UP_BLOCKS
        stale = np.flatnonzero(staleness > 0.0 if paused else staleness >= 1.0)
        allowed = min(math.floor(self._credit), stale.size)
        if allowed:
            chosen = stale[np.argsort(-staleness[stale], kind="stable")[:allowed]]
            self._credit -= allowed
            for s in chosen:
                s = int(s)
                if self._reflection_executor is None:
                    self._update_reflections(s, fade=True)
                else:
                    self._mark_reflections(s)
                    job = self._reflections_job(s)
                    self._r_pending[s] = self._reflection_executor.submit(job)
            staleness[chosen] = 0.0
        # A source whose reflections are still being made may have moved on since: it is
        # looked at again once they are in; a lag within the tolerances, once the motion
        # pauses.
        self._r_dirty = bool(self._r_pending) or bool(np.any(staleness > 0.0))
        # Nothing more is due before the next pose or position, or the pause: the blocks
        # in between need not look again.
        self._r_waiting = not paused and allowed == stale.size

    # --- validation -----------------------------------------------------------------

    def _checked_listener(self, pose: Pose) -> Pose:
        if not isinstance(pose, Pose):
            raise SceneError(
                "must be a scene.model.Pose", field="listener", value=type(pose).__name__
            )
        if self._plain_point(pose.position) is None:
            _check_point(self._room, pose.position, field="listener.position")
        for name in ("yaw_deg", "pitch_deg"):
            value = getattr(pose, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise SceneError(
                    "must be a finite number of degrees", field=f"listener.{name}", value=value
                )
        return pose

    def _checked_position(self, index: int, position: object) -> np.ndarray:
        p = self._plain_point(position)
        if p is not None:
            return np.array(p)
        return _check_point(self._room, position, field=f"positions[{index}]")

    def _plain_point(self, position: object) -> list[float] | None:
        """The point as three floats when it is valid: the fast path of the common case
        (live, every pose and source move); anything unusual gets the full check and its
        message."""
        if isinstance(position, tuple | list | np.ndarray) and len(position) == 3:
            try:
                p = [float(v) for v in position]
            except (TypeError, ValueError):
                return None
            if all(math.isfinite(v) for v in p) and self._inside(p):
                return p
        return None

    def _inside(self, p: list[float]) -> bool:
        if self._room.is_enclosed:
            return all(lo <= v <= hi for v, lo, hi in zip(p, self._low, self._high, strict=True))
        return self._room.kind != "outdoor" or p[2] >= 0.0

    def _checked_blocks(self, blocks: np.ndarray) -> np.ndarray:
        shape = (self._n, self._block)
        if (
            type(blocks) is np.ndarray
            and blocks.dtype == np.float32
            and blocks.shape == shape
            and _all_finite(blocks)
        ):
            return blocks
        if not isinstance(blocks, np.ndarray) or blocks.shape != shape:
            got = getattr(blocks, "shape", type(blocks).__name__)
            raise SceneError(
                f"must be an array of shape (sources, block_size) = {shape}",
                field="blocks",
                value=got,
            )
        if not np.issubdtype(blocks.dtype, np.floating):
            raise SceneError(
                "must be floating point (float32)", field="blocks", value=str(blocks.dtype)
            )
        x = blocks.astype(np.float32, copy=False)
        if not np.all(np.isfinite(x)):
            raise SceneError("must be finite (no NaN or Inf)", field="blocks", value="NaN/Inf")
        return x


@dataclass(frozen=True)
class _Reflections:
    """One source's reflections, made for the geometry in ``key``."""

    key: tuple[float, ...]
    source: _SourcePlan
    first: int
    spectra: np.ndarray  # complex64 (count, 2, block + 1); count 0 for none


def _reflection_partitions(
    source: _SourcePlan,
    listener: Pose,
    hrtf: Hrtf,
    *,
    fs: int,
    block: int,
    limit: int,
    cap: int,
    order: int | None,
) -> tuple[int, np.ndarray]:
    """The reflections' response for ``listener`` (two ears, or with an ambisonic
    ``order`` the channels of its world-frame field), cut into at most ``cap`` partitions
    that end by partition ``limit``: (index of the first, spectra)."""
    channels = 2 if order is None else channel_count(order)
    none = (0, np.zeros((0, channels, block + 1), dtype=np.complex64))
    if cap == 0:
        return none
    if order is None:
        response = reflections_brir(
            source.images, listener, hrtf, sample_rate=fs, cut_s=source.cut_s, fade_s=FADE_S
        )
    else:
        response = encode_reflections(
            source.images, np.asarray(listener.position), order, cut_s=source.cut_s, fs=fs
        )
    if response.shape[1] == 0:
        return none
    first, spectra = partition(response, 0, block, negligible=_NEGLIGIBLE)
    count = min(spectra.shape[0], limit - first)
    if count <= 0:
        return none
    spectra = spectra[:count]
    if count > cap:
        # Keep the end: what precedes it is the band split's faint pre-ringing.
        first += count - cap
        spectra = spectra[count - cap :]
    return first, spectra


class _History:
    """The last samples of every source as one contiguous view per source: a ring buffer
    written twice over (at i and i + length), so that no block ever copies the past."""

    def __init__(self, sources: int, length: int, block: int) -> None:
        self.length = math.ceil(length / block) * block
        self.block = block
        self.buffer = np.zeros((sources, 2 * self.length), dtype=np.float32)
        self.write = 0

    def advance(self) -> None:
        """Move on by a block that was written at ``write`` (and ``write + length``)."""
        self.write = (self.write + self.block) % self.length

    @property
    def view(self) -> np.ndarray:
        """Shape (sources, length): the oldest sample first, the newest last."""
        return self.buffer[:, self.write : self.write + self.length]


def _check_count(value: object, *, field: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise SceneError(f"must be an integer >= {low}", field=field, value=value)
    return int(value)


@njit(cache=True)
def _direct_partitions(
    frames: np.ndarray,
    first: np.ndarray,
    minimum_phase: np.ndarray,
    hrtf_delays: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    remainder: np.ndarray,
    air: np.ndarray,
    half: int,
    block: int,
) -> None:
    # Each direct sound's HRTF filter (its travel time's remainder, the ear delays, air,
    # the minimum-phase mix), as :func:`spatial.brir.direct_sound` computes it, cut into
    # overlap-save frames: frames[i, q, e, :block] is partition first[i] + q of ear e.
    air_half = (air.shape[1] - 1) // 2
    delays = np.empty(2)
    cap = frames.shape[1]
    scratch = np.zeros((2, cap * block), dtype=np.float32)
    for i in range(frames.shape[0]):
        for e in range(2):
            d = remainder[i]
            for k in range(3):
                d += weights[i, k] * hrtf_delays[indices[i, k], e]
            delays[e] = d
        start = int(np.floor(min(delays[0], delays[1]))) - half + 1 - air_half
        p0 = start // block
        first[i] = p0
        scratch[:, :] = 0.0
        _direct(scratch, p0 * block, minimum_phase, indices[i], weights[i], delays, air[i], half)
        for q in range(cap):
            for e in range(2):
                frames[i, q, e, :block] = scratch[e, q * block : (q + 1) * block]


@njit(cache=True, fastmath=True)
def _mac_sources(
    spectra: np.ndarray,
    fdl: np.ndarray,
    newest: int,
    u_fdl: np.ndarray,
    u_newest: int,
    r_spec: np.ndarray,
    r_first: np.ndarray,
    r_count: np.ndarray,
    r_pool: np.ndarray,
    r_pool_first: np.ndarray,
    r_pool_count: np.ndarray,
    r_old: np.ndarray,
    d_spec: np.ndarray,
    d_first: np.ndarray,
    d_count: np.ndarray,
    d_cur: np.ndarray,
    d_fading: np.ndarray,
    common: np.ndarray,
    sums: np.ndarray,
) -> bool:
    # The newest input spectra (spectra[0]: the sources, spectra[1]: their delay lines)
    # join the delay lines. Parts that did not change this block go to `common` (heard
    # through both the old and the new output); parts that changed go to sums[0:2], their
    # previous versions to sums[2:4]; both get `common` at the end. Returns whether any
    # part changed (the caller crossfades), and clears the marks of the changes.
    n = fdl.shape[0]
    for s in range(n):
        fdl[s, newest] = spectra[0, s]
        u_fdl[s, u_newest] = spectra[1, s]
    new = sums[0:2]
    old = sums[2:4]
    new[...] = 0
    old[...] = 0
    fading = False
    for s in range(n):
        line = fdl[s]
        j = r_old[s]
        if j < 0:
            _mac_one(line, newest, r_spec[s], r_first[s], r_count[s], common)
        else:
            _mac_one(line, newest, r_spec[s], r_first[s], r_count[s], new)
            _mac_one(line, newest, r_pool[j], r_pool_first[j], r_pool_count[j], old)
            r_old[s] = -1
            fading = True
        # The direct sound's filters run on the delay-line output's spectra.
        u = u_fdl[s]
        c = d_cur[s]
        if d_fading[s]:
            _mac_one(u, u_newest, d_spec[s, c], d_first[s, c], d_count[s, c], new)
            p = 1 - c
            _mac_one(u, u_newest, d_spec[s, p], d_first[s, p], d_count[s, p], old)
            d_fading[s] = False
            fading = True
        else:
            _mac_one(u, u_newest, d_spec[s, c], d_first[s, c], d_count[s, c], common)
    for e in range(2):
        for f in range(common.shape[1]):
            new[e, f] += common[e, f]
            old[e, f] += common[e, f]
    return fading


@njit(cache=True)
def _finish_block(
    outputs: np.ndarray, fading: bool, ramp: np.ndarray, late: np.ndarray, out: np.ndarray
) -> None:
    # out = the new filters' output (crossfaded from the old ones' when any changed) plus
    # the tail's late part. outputs: the overlap-save frames, (2 or 4, 2 * block).
    block = out.shape[1]
    for e in range(2):
        for n in range(block):
            value = outputs[e, block + n]
            if fading:
                before = outputs[2 + e, block + n]
                value = before + ramp[n] * (value - before)
            out[e, n] = value + late[e, n]


@njit(cache=True)
def _take_input(
    x: np.ndarray,
    frames: np.ndarray,
    history: np.ndarray,
    history_write: int,
    line_history: np.ndarray,
    line_write: int,
    before: np.ndarray,
    after: np.ndarray,
    ramp: np.ndarray,
    jump: float,
) -> None:
    # A block's input, in one call: each source's overlap-save frame (frames[0]) and its
    # two histories (_History rings, written at their write index and one length on; the
    # caller advances them) take the block, and the delay lines read their output into
    # frames[1]; the lines' glide then ends where it was going.
    n, block = x.shape
    for which in range(2):
        for s in range(n):
            for k in range(block):
                frames[which, s, k] = frames[which, s, block + k]
    for s in range(n):
        for k in range(block):
            frames[0, s, block + k] = x[s, k]
    for buffer, write in ((history, history_write), (line_history, line_write)):
        length = buffer.shape[1] // 2
        for s in range(n):
            for k in range(block):
                buffer[s, write + k] = x[s, k]
                buffer[s, write + length + k] = x[s, k]
    line_length = line_history.shape[1] // 2
    start = (line_write + block) % line_length
    _delay_lines(line_history[:, start : start + line_length], before, after, ramp, jump, frames[1])
    before[:] = after


@njit(cache=True)
def _delay_lines(
    history: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    ramp: np.ndarray,
    jump: float,
    frames: np.ndarray,
) -> None:
    # frames[s, block:] = source s's newest block through its delay line. The delay glides
    # from before[s] to after[s] (a true propagation delay: Doppler's pitch); a change of
    # more than `jump` samples in one block (faster than a tenth of the speed of sound) is
    # a jump, not a movement, and the old and new delays are crossfaded instead.
    block = frames.shape[1] // 2
    old = np.empty(block, dtype=np.float32)
    for s in range(history.shape[0]):
        out = frames[s, block:]
        if abs(after[s] - before[s]) <= jump:
            variable_delay(history[s], before[s], after[s], out)
            continue
        variable_delay(history[s], before[s], before[s], old)
        variable_delay(history[s], after[s], after[s], out)
        for n in range(block):
            out[n] = old[n] + ramp[n] * (out[n] - old[n])


@njit(cache=True)
def _tail_input(
    history: np.ndarray,
    block: int,
    shift: np.ndarray,
    gain: np.ndarray,
    shift_old: np.ndarray,
    gain_old: np.ndarray,
    fading: np.ndarray,
    ramp: np.ndarray,
) -> np.ndarray:
    # out[n] = sum_s gain[s] x_s[n - shift[s]], crossfaded from the old shift and gain;
    # the crossfades are done with this block.
    out = np.zeros(block, dtype=np.float32)
    length = history.shape[1]
    for s in range(history.shape[0]):
        base = length - block - shift[s]
        g = gain[s]
        if fading[s]:
            base_old = length - block - shift_old[s]
            g_old = gain_old[s]
            for n in range(block):
                now = g * history[s, base + n]
                before = g_old * history[s, base_old + n]
                out[n] += before + ramp[n] * (now - before)
            fading[s] = False
        else:
            for n in range(block):
                out[n] += g * history[s, base + n]
    return out


@njit(cache=True)
def _all_finite(x: np.ndarray) -> bool:
    for v in x.flat:
        if not np.isfinite(v):
            return False
    return True


@njit(cache=True)
def _direct_drift(
    vectors: np.ndarray,
    made: np.ndarray,
    remainder: np.ndarray,
    made_remainder: np.ndarray,
    tolerance_deg: float,
    tolerance_db: float,
    min_distance: float,
    out: np.ndarray,
) -> None:
    # out[i]: how far source i's direct-sound filter (made for the head-frame vector
    # made[i]) is out of date for vectors[i], in tolerances of direction and level; 0 when
    # up to date; inf when it was never made or its remainder (a very close source, see
    # spatial.brir.split_travel) changed.
    for i in range(vectors.shape[0]):
        ax, ay, az = made[i, 0], made[i, 1], made[i, 2]
        bx, by, bz = vectors[i, 0], vectors[i, 1], vectors[i, 2]
        if ax == bx and ay == by and az == bz:
            out[i] = 0.0
            continue
        if not np.isfinite(ax) or abs(remainder[i] - made_remainder[i]) > 1e-9:
            out[i] = np.inf
            continue
        ra = math.sqrt(ax * ax + ay * ay + az * az)
        rb = math.sqrt(bx * bx + by * by + bz * bz)
        cosine = (ax * bx + ay * by + az * bz) / max(ra * rb, 1e-300)
        angle = math.degrees(math.acos(min(1.0, max(-1.0, cosine))))
        level = 20.0 * abs(math.log10(max(ra, min_distance) / max(rb, min_distance)))
        out[i] = max(angle / tolerance_deg, level / tolerance_db)
