"""A session's music, generated ahead bar by bar and changed only at bar lines.

The scheduler keeps a list of *pieces* (a looping plan, the stream sample of its bar 0,
and the bar line where it takes over) and of generated *bars* (each stem's audio from just
before its bar line to a release tail after the next one). Bars are overlapped at their
lines, so every note rings out in full and no stem is ever cut. Playback asks for
``mix(start, frames)``: the stems, one row per source slot of the spatial renderer.

A change asked for mid-bar is scheduled at the first bar line at least a guard time
ahead (time to generate that bar), and the bars already made past it are thrown away:

- tempo and energy continue the form where it is (same chords, parts and seed), so a
  tempo change is heard as the same music going on faster;
- a new instruction, style words, a like that changes nothing audible, a dislike, or a
  change of place start a new section of a new plan at that bar line;
- stems that leave fade out over that bar, stems that enter fade in over it; muting,
  soloing and ambiences fade over one beat from it;
- volume and moving a source are mixing, not music: they follow within one block, with a
  short ramp.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

import generation
from generation import MusicPlan
from loci.layout import place_stem
from loci.serve import adapt, bars
from loci.serve.generator import Generator
from loci.serve.metrics import Metrics
from scene.environment import Environment
from scene.model import Pose, Room

__all__ = ["SAMPLE_RATE", "BarCache", "MusicScheduler", "Transition"]

SAMPLE_RATE = 48_000
_LEAD = round(bars.LEAD_S * SAMPLE_RATE)
_VOLUME_RAMP = round(0.05 * SAMPLE_RATE)
_MIN_GUARD_S = 0.3
_MAX_GUARD_S = 2.0
_LOOKAHEAD_S = 2.5
_NOTES_KEPT = 12


@dataclass(frozen=True)
class _Piece:
    """A plan playing from a bar line: bar ``k`` starts at ``origin + k * bar_samples``."""

    number: int
    plan: MusicPlan
    base: MusicPlan  # before the listener's energy is applied
    origin: float
    start: int
    first_bar: int

    @property
    def bar_samples(self) -> float:
        return self.plan.bar_seconds * SAMPLE_RATE

    @property
    def beat_samples(self) -> float:
        return self.bar_samples / self.plan.meter[0]

    def bar_start(self, bar: int) -> int:
        return round(self.origin + bar * self.bar_samples)

    def bar_at(self, sample: int) -> int:
        return math.floor((sample - self.origin) / self.bar_samples + 1e-9)

    def note_stems(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.plan.stems if s.role != "ambience")


@dataclass
class _Bar:
    """Generated audio of one bar: each stem from ``start`` (its line minus the lead)."""

    start: int
    line: int
    piece: int
    bar: int
    audio: dict[str, np.ndarray]
    end: int = field(init=False)

    def __post_init__(self) -> None:
        # Read by every block's mix: computed once (a bar's audio does not change).
        self.end = self.start + max((a.size for a in self.audio.values()), default=0)


@dataclass
class _Ambience:
    """A looping ambience stem, faded in from ``start`` and out from ``stop``."""

    name: str
    loop: np.ndarray | None
    start: int
    fade: int
    stop: int | None = None


class BarCache:
    """Bars already made, shared by a server's sessions: listeners who asked for the same
    music in the same place (a museum's visitors) share its generation.

    Parameters
    ----------
    bars
        Bars kept (the oldest used go first); about 2 MB each.
    """

    def __init__(self, bars: int = 64) -> None:
        self._bars: OrderedDict[tuple, tuple[dict[str, np.ndarray], ...]] = OrderedDict()
        self._size = bars
        self.hits = 0

    def get(self, key: tuple) -> tuple[dict[str, np.ndarray], ...] | None:
        """The bars made for these jobs, or None."""
        found = self._bars.get(key)
        if found is not None:
            self._bars.move_to_end(key)
            self.hits += 1
        return found

    def put(self, key: tuple, value: tuple[dict[str, np.ndarray], ...]) -> None:
        """Keep the bars made for these jobs."""
        self._bars[key] = value
        while len(self._bars) > self._size:
            self._bars.popitem(last=False)

    def clear(self) -> None:
        """Forget every bar (when no session is left to share them)."""
        self._bars.clear()

    def __len__(self) -> int:
        return len(self._bars)


@dataclass(frozen=True)
class Transition:
    """A change waiting for its bar line.

    Attributes
    ----------
    what
        What changes (``"tempo 110 bpm"``, ``"new section: instruction"``).
    at_sample
        The bar line, stream samples.
    asked_at_sample
        Where playback was when the change was asked for.
    """

    what: str
    at_sample: int
    asked_at_sample: int
    guard_samples: int = 0


class MusicScheduler:
    """One session's music.

    Parameters
    ----------
    generator
        The server's generation pool.
    request
        What the listener asks of the music.
    environment
        The place E.
    listener, room
        The scene's listener (stems are placed around it) and room (to keep them inside).
    slots
        Source slots of the spatial renderer; a stem takes a free one when it enters.
    on_position
        Called with (slot, world position) when a slot gets a stem or a stem moves.
    time_of
        Maps a stream sample to ``time.monotonic()`` seconds (for generation deadlines).
    metrics
        The server's metrics.
    soundfont
        A General MIDI ``.sf2`` path, or None for the default.
    """

    def __init__(
        self,
        *,
        generator: Generator,
        request: adapt.MusicRequest,
        environment: Environment,
        listener: Pose,
        room: Room,
        slots: int,
        on_position: Callable[[int, tuple[float, float, float]], None],
        time_of: Callable[[int], float],
        metrics: Metrics,
        soundfont: str | None = None,
        cache: BarCache | None = None,
    ) -> None:
        self._generator = generator
        self._cache = cache
        self.request = request
        self.environment = environment
        self._listener = listener
        self._room = room
        self._slots: list[str | None] = [None] * slots
        self._steady_volume: np.ndarray | None = None
        self._on_position = on_position
        self._time_of = time_of
        self._metrics = metrics
        self._soundfont = soundfont
        self._pieces: list[_Piece] = []
        self._bars: list[_Bar] = []
        self._ambiences: list[_Ambience] = []
        self._frontier: tuple[_Piece, int] | None = None
        self._epoch = 0
        self._pending_fades: dict[int, tuple[_Piece, int, tuple[str, ...]]] = {}
        self._entering: dict[int, tuple[str, ...]] = {}
        self._gains: dict[str, list[tuple[int, float]]] = {}
        self._volume: list[tuple[int, float]] = [(0, 1.0)]
        self._positions: dict[str, tuple[float, float, float]] = {}
        self._muted: set[str] = set()
        self._solo: str | None = None
        self._play = 0
        self._latency_s = 0.2
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closed = False
        self.transitions: list[Transition] = []
        self.notes: list[str] = []

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Plan the music and generate its first bar; playback may begin when this returns."""
        base, plan = await self._generator.call(
            bars.make_plan, self.request, self.environment, self._soundfont, deadline=0.0
        )
        piece = _Piece(0, plan, base, 0.0, 0, 0)
        self._pieces = [piece]
        self._frontier = (piece, 0)
        await self._generate_next()
        self._start_ambiences(None, piece, at=0)
        self._task = asyncio.create_task(self._generate_loop())

    def close(self) -> None:
        """Stop generating (playback may stop at any time)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
        # Let go of the audio now, and of the callbacks that point back at the session,
        # so the memory is freed when the session ends, not at the next garbage collection.
        self._bars = []
        self._ambiences = []
        self._on_position = lambda slot, position: None
        self._time_of = lambda sample: 0.0

    def generated_until(self) -> int:
        """Stream sample up to which every bar line's bar has been generated."""
        if self._frontier is None:
            return 0
        piece, bar = self._frontier
        return piece.bar_start(bar)

    def bar_key(self, sample: int) -> tuple[int, int]:
        """(piece, bar) playing at a stream sample: it changes at every bar line."""
        piece = self._piece_at(sample)
        return piece.number, piece.bar_at(sample)

    @property
    def plan(self) -> MusicPlan:
        """The plan playing at the current position."""
        return self._piece_at(self._play).plan

    # --- playback -----------------------------------------------------------------------

    def mix(self, start: int, frames: int) -> np.ndarray:
        """The stems of ``frames`` samples from stream sample ``start``, one row per slot.

        Returns
        -------
        ndarray
            float32, shape (slots, frames).
        """
        self._play = start
        end = start + frames
        out = np.zeros((len(self._slots), frames), dtype=np.float32)
        index = {name: i for i, name in enumerate(self._slots) if name is not None}
        for bar in self._bars:
            if bar.start >= end or bar.end <= start:
                continue
            for name, audio in bar.audio.items():
                slot = index.get(name)
                if slot is None:
                    continue
                lo = max(start, bar.start)
                hi = min(end, bar.start + audio.size)
                if hi > lo:
                    out[slot, lo - start : hi - start] += audio[lo - bar.start : hi - bar.start]
        for voice in self._ambiences:
            slot = index.get(voice.name)
            if slot is None or voice.loop is None or end <= voice.start:
                continue
            phase = (start - voice.start) % voice.loop.size
            piece = voice.loop[phase : phase + frames]
            if piece.size < frames:  # the loop wraps inside this block
                piece = np.concatenate([piece, voice.loop[: frames - piece.size]])
            fading_in = start < voice.start + voice.fade
            fading_out = voice.stop is not None and end > voice.stop
            if fading_in or fading_out:
                samples = np.arange(start, end, dtype=np.float64)
                envelope = np.clip((samples - voice.start) / voice.fade, 0.0, 1.0)
                if voice.stop is not None:
                    envelope *= np.clip(1.0 - (samples - voice.stop) / voice.fade, 0.0, 1.0)
                piece = piece * envelope.astype(np.float32)
            out[slot] += piece
        for name, points in self._gains.items():
            slot = index.get(name)
            if slot is None:
                continue
            if points[-1][0] <= start:  # settled: one number for the whole block
                if points[-1][1] != 1.0:
                    out[slot] *= np.float32(points[-1][1])
                continue
            xs, ys = zip(*points, strict=True)
            samples = np.arange(start, end, dtype=np.float64)
            out[slot] *= np.interp(samples, xs, ys).astype(np.float32)
        if self._frontier is not None and self._frontier[0].bar_start(self._frontier[1]) < end:
            self._metrics.music_underruns += 1
        if any(bar.end <= end for bar in self._bars):
            self._bars = [bar for bar in self._bars if bar.end > end]
        if any(v.stop is not None and v.stop + v.fade <= end for v in self._ambiences):
            self._ambiences = [
                v for v in self._ambiences if v.stop is None or v.stop + v.fade > end
            ]
        if self._frontier is not None:
            piece, bar = self._frontier
            if piece.bar_start(bar) - end < _LOOKAHEAD_S * SAMPLE_RATE:
                self._wake.set()
        return out

    def volume(self, start: int, frames: int) -> np.ndarray:
        """The listener's volume over a block, float32 of shape (frames,)."""
        if len(self._volume) == 1:
            level = self._volume[0][1]
            steady = self._steady_volume
            if steady is None or steady.size != frames or steady[0] != np.float32(level):
                # Shared by the blocks until the volume changes; nobody writes to it (a
                # read-only array would make the output kernel compile anew).
                steady = np.full(frames, level, dtype=np.float32)
                self._steady_volume = steady
            return steady
        xs, ys = zip(*self._volume, strict=True)
        gain = np.interp(np.arange(start, start + frames, dtype=np.float64), xs, ys)
        if xs[-1] <= start:
            self._volume = [self._volume[-1]]
        return gain.astype(np.float32)

    # --- changes ------------------------------------------------------------------------

    def set_volume(self, value: float) -> str:
        """Volume 0..2 (1 as composed), ramped over 50 ms from the next block."""
        now = self._play
        current = float(np.interp(now, *zip(*self._volume, strict=True)))
        self._volume = [(now, current), (now + _VOLUME_RAMP, float(value))]
        return f"volume {value:.2f}"

    def move(self, stem: str, position: tuple[float, float, float]) -> str:
        """Move a stem's source to a world position (metres), from the next block."""
        self._known_stem(stem)
        self._positions[stem] = position
        if stem in self._slots:
            self._on_position(self._slots.index(stem), position)
        shown = ", ".join(f"{v:.2f}" for v in position)
        return f"{stem} moved to ({shown}) m"

    def set_tempo(self, *, change: str | None = None, bpm: float | None = None) -> Transition:
        """A new tempo from the next bar line; the music goes on where it is."""
        current = self._piece_at(self._play).plan.tempo_bpm
        if bpm is None:
            factor = 1 + adapt.TEMPO_STEP if change == "up" else 1 / (1 + adapt.TEMPO_STEP)
            bpm = current * factor
        bpm = float(min(200.0, max(40.0, round(bpm, 1))))
        self.request = replace(self.request, tempo_bpm=bpm)
        because = f"the listener's tempo control ({change or 'set'}: {current:.0f} -> {bpm:.0f})"

        def make(old: _Piece) -> tuple[MusicPlan, MusicPlan]:
            base = adapt.retempo(old.base, bpm, because=because)
            return base, _with_request_energy(base, self.request)

        return self._continue(f"tempo {bpm:.0f} bpm", make)

    def set_energy(self, value: float) -> Transition:
        """Energy 0..1 from the next bar line (density, dynamics, drums in or out)."""
        self.request = replace(self.request, energy=float(value))

        def make(old: _Piece) -> tuple[MusicPlan, MusicPlan]:
            return old.base, adapt.with_energy(old.base, float(value))

        return self._continue(f"energy {value:.2f}", make)

    def set_mute(self, stem: str, muted: bool) -> Transition:
        """Mute or unmute a stem: it fades over one beat from the next bar line."""
        self._known_stem(stem)
        (self._muted.add if muted else self._muted.discard)(stem)
        return self._regain(f"{stem} {'muted' if muted else 'unmuted'}")

    def set_solo(self, stem: str | None) -> Transition:
        """Solo one stem (None: all stems again), fading over one beat from the next bar line."""
        if stem is not None:
            self._known_stem(stem)
        self._solo = stem
        return self._regain(f"solo {stem}" if stem else "solo off")

    async def replan(self, request: adapt.MusicRequest, why: str) -> Transition:
        """A new plan for a new request or place, as a new section from a bar line."""
        self.request = request
        base, plan = await self._generator.call(
            bars.make_plan,
            request,
            self.environment,
            self._soundfont,
            deadline=time.monotonic(),
        )
        return self._new_section(why, plan, base)

    async def place_changed(self, environment: Environment, why: str) -> Transition:
        """The place changed (frames, depth): a new plan for it from the next bar line."""
        self.environment = environment
        return await self.replan(self.request, why)

    def note(self, line: str) -> None:
        """Add a line to the session's explanation (the latest lines are kept)."""
        self.notes = [*self.notes, line][-_NOTES_KEPT:]

    # --- state --------------------------------------------------------------------------

    def describe(self) -> dict:
        """The music's state: plan, bar, stems, pending changes and explanation lines."""
        piece = self._piece_at(self._play)
        bar = piece.bar_at(self._play)
        cycle = bars.cycle_bars(piece.plan)
        section, in_section = _section_of(piece.plan, bar % cycle)
        stems = []
        for stem in piece.plan.stems:
            stems.append(
                {
                    "name": stem.name,
                    "role": stem.role,
                    "slot": self._slots.index(stem.name) if stem.name in self._slots else None,
                    "muted": stem.name in self._muted,
                    "solo": self._solo == stem.name,
                }
            )
        return {
            "plan": generation.plan_to_dict(piece.plan),
            "bar": {
                "index": bar,
                "line_sample": piece.bar_start(bar),
                "samples": piece.bar_samples,
                "section": section,
                "bar_in_section": in_section,
                "tempo_bpm": piece.plan.tempo_bpm,
                "meter": list(piece.plan.meter),
            },
            "stems": stems,
            "pending": [
                {
                    "what": t.what,
                    "at_sample": t.at_sample,
                    "asked_at_sample": t.asked_at_sample,
                    "guard_samples": t.guard_samples,
                }
                for t in self.transitions
                if t.at_sample > self._play
            ],
            "explanation": [
                f"{d.attribute}: {d.value} ({d.because})" for d in piece.plan.explanation
            ]
            + [f"taste: {line}" for line in self.request.taste.notes]
            + [f"session: {line}" for line in self.notes],
        }

    # --- internals ----------------------------------------------------------------------

    def _known_stem(self, stem: str) -> None:
        names = {s.name for p in self._pieces for s in p.plan.stems}
        if stem not in names:
            from loci.serve.protocol import ProtocolError

            raise ProtocolError(
                "bad_message",
                f"control: stem: got {stem!r}; this session's stems are: "
                + ", ".join(sorted(names)),
            )

    def _piece_at(self, sample: int) -> _Piece:
        current = self._pieces[0]
        for piece in self._pieces:
            if piece.start <= sample:
                current = piece
        return current

    def _guard_samples(self) -> int:
        guard = min(_MAX_GUARD_S, max(_MIN_GUARD_S, 2.5 * self._latency_s))
        return round(guard * SAMPLE_RATE)

    def _transition_line(self) -> tuple[int, _Piece, int]:
        """The first bar line far enough ahead to generate its bar, the piece playing just
        before it, and that piece's bar number at the line."""
        earliest = self._play + self._guard_samples()
        piece = self._piece_at(earliest)
        bar = math.ceil((earliest - piece.origin) / piece.bar_samples - 1e-9)
        line = piece.bar_start(bar)
        later = [p for p in self._pieces if earliest <= p.start < line]
        if later:
            piece = self._piece_at(later[0].start - 1)
            line = later[0].start
            bar = piece.bar_at(line)
        return line, piece, bar

    def _continue(self, what: str, make: Callable) -> Transition:
        line, old, bar = self._transition_line()
        base, plan = make(old)
        bar_samples = plan.bar_seconds * SAMPLE_RATE
        piece = _Piece(
            old.number + 1 if old is self._pieces[-1] else self._pieces[-1].number + 1,
            plan,
            base,
            line - bar * bar_samples,
            line,
            bar,
        )
        return self._schedule(what, old, piece, bar)

    def _new_section(self, what: str, plan: MusicPlan, base: MusicPlan) -> Transition:
        line, old, bar = self._transition_line()
        piece = _Piece(self._pieces[-1].number + 1, plan, base, float(line), line, 0)
        return self._schedule(what, old, piece, bar)

    def _schedule(self, what: str, old: _Piece, piece: _Piece, old_bar: int) -> Transition:
        line = piece.start
        self._pieces = [p for p in self._pieces if p.start < line] + [piece]
        self._bars = [b for b in self._bars if b.line < line]
        self._pending_fades = {k: v for k, v in self._pending_fades.items() if k < line}
        self._entering = {k: v for k, v in self._entering.items() if k < line}
        leaving = tuple(n for n in old.note_stems() if n not in piece.note_stems())
        if leaving:
            self._pending_fades[line] = (old, old_bar, leaving)
        entering = tuple(n for n in piece.note_stems() if n not in old.note_stems())
        if entering:
            self._entering[line] = entering
        if self._frontier is None or self._frontier[0].bar_start(self._frontier[1]) >= line:
            self._epoch += 1
            self._frontier = (piece, piece.first_bar)
        self._start_ambiences(old, piece, at=line)
        transition = Transition(what, line, self._play, self._guard_samples())
        self.transitions = [*[t for t in self.transitions if t.at_sample < line][-8:], transition]
        self.note(f"{what}: from the bar line at {line / SAMPLE_RATE:.2f} s")
        self._wake.set()
        return transition

    def _regain(self, what: str) -> Transition:
        line, piece, _ = self._transition_line()
        ramp = round(piece.beat_samples)
        names = {s.name for s in piece.plan.stems} | self._muted | {self._solo} - {None}
        for name in names:
            target = 0.0 if name in self._muted or (self._solo and name != self._solo) else 1.0
            points = self._gains.get(name, [(0, 1.0)])
            xs, ys = zip(*points, strict=True)
            now = float(np.interp(line, xs, ys))
            kept = [(x, y) for x, y in points if x < line]
            self._gains[name] = [*(kept or [(0, now)]), (line, now), (line + ramp, target)]
        transition = Transition(what, line, self._play, self._guard_samples())
        self.transitions = [*self.transitions[-8:], transition]
        self.note(f"{what}: from the bar line at {line / SAMPLE_RATE:.2f} s")
        return transition

    def _start_ambiences(self, old: _Piece | None, piece: _Piece, *, at: int) -> None:
        wanted = {s.name: s for s in piece.plan.stems if s.role == "ambience"}
        fade = round(piece.bar_samples)
        for voice in self._ambiences:
            if voice.stop is None and voice.name not in wanted and voice.start < at:
                voice.stop = at
                voice.fade = fade
        self._ambiences = [v for v in self._ambiences if v.start < at]
        playing = {v.name for v in self._ambiences if v.stop is None}
        for name, stem in wanted.items():
            if name in playing:
                continue
            voice = _Ambience(name, None, at, fade)
            self._ambiences.append(voice)
            self._claim(name, stem.role)
            asyncio.get_running_loop().create_task(self._load_ambience(voice, stem, piece))

    async def _load_ambience(self, voice: _Ambience, stem, piece: _Piece) -> None:
        make = functools.partial(
            bars.ambience_loop,
            stem.ambience or stem.name,
            seed=piece.plan.seed * 1000 + 7,
            gain_db=stem.gain_db,
        )
        loop = await self._generator.call(make, deadline=self._time_of(voice.start) + 1.0)
        voice.loop = loop

    def _claim(self, name: str, role: str) -> None:
        if name in self._slots:
            return
        busy = {n for b in self._bars for n in b.audio} | {v.name for v in self._ambiences}
        for i, holder in enumerate(self._slots):
            if holder is not None and holder not in busy:
                self._slots[i] = None
        if None not in self._slots:
            self.note(f"{name}: not played, all {len(self._slots)} source slots are in use")
            return
        slot = self._slots.index(None)
        self._slots[slot] = name
        position = self._positions.get(name)
        if position is None:
            stems = self._pieces[-1].plan.stems
            index = next((i for i, s in enumerate(stems) if s.name == name), slot)
            ambiences = [s.name for s in stems if s.role == "ambience"]
            placement = place_stem(
                role,
                index=index,
                listener=self._listener,
                room=self._room,
                ambience_index=ambiences.index(name) if name in ambiences else 0,
            )
            position = placement.position
        self._on_position(slot, position)

    async def _generate_loop(self) -> None:
        while not self._closed:
            piece, bar = self._frontier  # type: ignore[misc]
            if piece.bar_start(bar) - self._play > _LOOKAHEAD_S * SAMPLE_RATE:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._generate_next()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a failed bar is silence, not a dead session
                self.note(f"generation failed at bar {bar}: {error}")
                self._advance(piece, bar)

    async def _generate_next(self) -> None:
        piece, bar = self._frontier  # type: ignore[misc]
        line = piece.bar_start(bar)
        epoch = self._epoch
        jobs = [bars.BarJob(piece.plan, bar, piece.note_stems(), self._soundfont)]
        fading = self._pending_fades.get(line) if bar == piece.first_bar else None
        if fading is not None:
            old, old_bar, names = fading
            jobs.append(bars.BarJob(old.plan, old_bar, names, self._soundfont))
        key = tuple(jobs)
        results = self._cache.get(key) if self._cache is not None else None
        if results is None:
            asked = time.monotonic()
            results = await self._generator.call(
                bars.render_bars, key, deadline=self._time_of(line - _LEAD)
            )
            took = time.monotonic() - asked
            self._latency_s = 0.8 * self._latency_s + 0.2 * took
            self._metrics.bars_generated += 1
            self._metrics.generation_seconds += took
            if self._cache is not None:
                self._cache.put(key, results)
        if epoch != self._epoch:
            return  # a change replaced this bar while it was made
        audio = dict(results[0])
        bar_samples = round(piece.bar_samples)
        if bar == piece.first_bar:
            for name in self._entering.get(line, ()):
                if name in audio:
                    audio[name] = _ramp(audio[name], rising=True, length=bar_samples)
        if fading is not None:
            for name, signal in results[1].items():
                audio[name] = _ramp(signal, rising=False, length=round(fading[0].bar_samples))
        self._bars.append(_Bar(line - _LEAD, line, piece.number, bar, audio))
        roles = {s.name: s.role for p in self._pieces for s in p.plan.stems}
        for name in audio:
            self._claim(name, roles.get(name, "melody"))
        self._advance(piece, bar)

    def _advance(self, piece: _Piece, bar: int) -> None:
        following = piece.bar_start(bar + 1)
        nxt = next((p for p in self._pieces if p.start == following), None)
        self._frontier = (nxt, nxt.first_bar) if nxt is not None else (piece, bar + 1)


def _ramp(signal: np.ndarray, *, rising: bool, length: int) -> np.ndarray:
    """Fade a bar's audio in or out over ``length`` samples after its lead."""
    gain = np.ones(signal.size, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, length, dtype=np.float32)
    span = slice(_LEAD, min(signal.size, _LEAD + length))
    count = span.stop - span.start
    if rising:
        gain[:_LEAD] = 0.0
        gain[span] = ramp[:count]
    else:
        gain[span] = ramp[::-1][:count]
        gain[span.stop :] = 0.0
    return signal * gain


def _with_request_energy(base: MusicPlan, request: adapt.MusicRequest) -> MusicPlan:
    return base if request.energy is None else adapt.with_energy(base, request.energy)


def _section_of(plan: MusicPlan, bar: int) -> tuple[str, int]:
    for section in plan.sections:
        if bar < section.bars:
            return section.name, bar
        bar -= section.bars
    return plan.sections[-1].name, bar
