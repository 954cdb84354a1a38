"""MusicPlan -> Score: a rule-based arranger for melody, harmony, bass and drums.

The melody is built from scale degrees: a motif (rhythm and steps) opens each phrase and
returns, varied to fit the chord, in its third bar; strong beats take chord tones, other
notes move by step; phrases end on long chord tones and the piece on the tonic. The
harmony is voiced close with the smallest movement between chords and articulated in a
pattern that carries the beat; the bass plays roots and fifths; drums play a groove with
humanised timing and velocity. Every random choice comes from the plan's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generation.harmony import PARENT_MODE, SCALES, chord_pitch_classes, tonic_pitch_class
from generation.types import MusicPlan, Note, Part, Score, StemPlan

__all__ = ["compose"]

# General MIDI drum keys.
_KICK, _SNARE, _CLOSED_HAT, _OPEN_HAT, _CRASH, _SIDE_STICK = 36, 38, 42, 46, 49, 37
_CLAP, _SHAKER = 39, 70
_HUMANISE_S = 0.005
_PLUCKED = frozenset({0, 4, 10, 11, 12, 24, 25, 26, 27, 46, 104, 105, 106, 107})

# One-bar melody rhythms (onset, duration) in beats, by metre and density level.
_RHYTHMS: dict[int, tuple[tuple[tuple[float, float], ...], ...]] = {
    4: (
        ((0, 2), (2, 2)),
        ((0, 3), (3, 1)),
        ((0, 1), (1, 1), (2, 2)),
        ((0, 1), (1, 1), (2, 1), (3, 1)),
        ((0, 1.5), (1.5, 0.5), (2, 2)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 2)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 1)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 1), (3, 0.5), (3.5, 0.5)),
    ),
    3: (
        ((0, 2), (2, 1)),
        ((0, 3),),
        ((0, 1), (1, 1), (2, 1)),
        ((0, 1.5), (1.5, 0.5), (2, 1)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 1)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 1)),
    ),
}


@dataclass(frozen=True)
class _Bar:
    index: int
    start_s: float
    chord: str
    section: str
    energy: float
    phrase_bar: int  # 0..3 within a four-bar phrase
    last: bool


def compose(plan: MusicPlan) -> Score:
    """Write the notes of every note-playing stem of a plan.

    Parameters
    ----------
    plan
        The plan; its seed makes the result reproducible.

    Returns
    -------
    Score
        One :class:`Part` per stem that plays notes (ambience stems have none); times in
        seconds, nothing sounding after ``plan.duration_s``.
    """
    rng = np.random.default_rng([plan.seed, 0x6C6F6369])
    bars = _bars(plan)
    parts = []
    for stem in plan.stems:
        if stem.role == "ambience":
            continue
        writer = {
            "melody": _melody,
            "harmony": _harmony,
            "bass": _bass,
            "drums": _drums,
        }.get(stem.role)
        if writer is None:
            raise ValueError(f"stem {stem.name!r}: role {stem.role!r} has no arranger")
        notes = _perform(writer(plan, stem, bars, rng), plan, stem, rng)
        parts.append(Part(stem=stem, notes=tuple(_fit(notes, plan.duration_s))))
    return Score(plan=plan, parts=tuple(parts))


def _bars(plan: MusicPlan) -> list[_Bar]:
    bar_s = plan.bar_seconds
    bars: list[_Bar] = []
    for section in plan.sections:
        for i, chord in enumerate(section.chords):
            bars.append(
                _Bar(
                    len(bars), len(bars) * bar_s, chord, section.name, section.energy, i % 4, False
                )
            )
    if bars and not plan.loop:
        last = bars[-1]
        bars[-1] = _Bar(
            last.index, last.start_s, last.chord, last.section, last.energy, last.phrase_bar, True
        )
    return bars


def _beat_s(plan: MusicPlan) -> float:
    return (4.0 / plan.meter[1]) * 60.0 / plan.tempo_bpm


def _velocity(base: float, energy: float, rng: np.random.Generator, spread: float = 6) -> int:
    return int(np.clip(base * (0.75 + 0.5 * energy) + rng.normal(0, spread), 20, 120))


# --- melody ------------------------------------------------------------------------------


def _melody(
    plan: MusicPlan, stem: StemPlan, bars: list[_Bar], rng: np.random.Generator
) -> list[Note]:
    scale = SCALES[plan.mode]
    tonic = tonic_pitch_class(plan.key_tonic)
    low, high = stem.register
    # Scale degrees are counted from the tonic in the octave just below the register's
    # middle, so that degree `size` is the tonic an octave up.
    base = (low + high) // 2 - 6
    base += (tonic - base) % 12

    size = len(scale)  # 7, or 5 for the pentatonic modes
    parent_scale = {(tonic + step) % 12 for step in SCALES[PARENT_MODE[plan.mode]]}

    def pitch(degree: int) -> int:
        return base + 12 * (degree // size) + scale[degree % size]

    lo_deg = min(d for d in range(-14, 21) if pitch(d) >= low)
    hi_deg = max(d for d in range(-14, 21) if pitch(d) <= high)
    beats = plan.meter[0]
    pool = _RHYTHMS.get(beats) or (tuple((float(b), 1.0) for b in range(beats)),)
    # Even a sparse melody keeps three rhythms to choose from, one of them with a note on
    # every beat: two long notes a bar for a whole piece say too little.
    level = int(np.clip(round(plan.density * (len(pool) - 1)), 3, len(pool) - 1))
    choices = pool[max(0, level - 2) : level + 1]
    beat_s = _beat_s(plan)

    notes: list[Note] = []
    motifs: dict[str, tuple[tuple[tuple[float, float], ...], tuple[int, ...]]] = {}
    degree = size  # start on the tonic, middle of the register
    direction = 1
    motif_rhythm = choices[int(rng.integers(len(choices)))]
    motif_steps: tuple[int, ...] = ()
    for bar in bars:
        chord_degrees = _chord_degrees(bar.chord, plan)
        if bar.phrase_bar == 0:
            stored = motifs.get(bar.section)
            if stored is not None and rng.random() < 0.8:
                motif_rhythm, motif_steps = stored  # the section's motif returns
            else:
                motif_rhythm = choices[int(rng.integers(len(choices)))]
                motif_steps = ()
        cadence = bar.phrase_bar == 3 or bar.last
        if bar.last:
            rhythm: tuple[tuple[float, float], ...] = ((0.0, float(beats)),)
        elif cadence:
            rhythm = (
                ((0.0, beats / 2), (beats / 2, beats / 2))
                if beats % 2 == 0
                else ((0.0, float(beats)),)
            )
        elif bar.phrase_bar == 2:
            rhythm = motif_rhythm  # the motif again, on this bar's chord
        else:
            rhythm = (
                motif_rhythm if bar.phrase_bar == 0 else choices[int(rng.integers(len(choices)))]
            )
        steps_used: list[int] = []
        for k, (onset, length) in enumerate(rhythm):
            strong = onset == 0 or (beats == 4 and onset == 2)
            if bar.last:
                target = _nearest(degree, [d for d in range(lo_deg, hi_deg + 1) if d % size == 0])
            elif strong or cadence:
                candidates = [d for d in range(lo_deg, hi_deg + 1) if d % size in chord_degrees]
                # A chord may share no tone with a pentatonic scale: any scale tone will do.
                candidates = candidates or list(range(lo_deg, hi_deg + 1))
                if bar.phrase_bar == 2 and motif_steps and k == 0:
                    target = _nearest(degree, candidates)
                else:
                    # Drift toward the register's middle keeps long melodies from wandering.
                    pull = 1 if degree < size else -1 if degree > size + size // 2 else 0
                    # A chord tone within a fifth or so, nearer ones likelier, mostly not the
                    # pitch just played: the line moves and visits the whole scale.
                    near = [d for d in candidates if 0 < abs(d - degree - pull) <= 4]
                    if near and rng.random() < 0.8:
                        weights = np.array([1.0 / abs(d - degree - pull) for d in near])
                        target = int(rng.choice(near, p=weights / weights.sum()))
                    else:
                        target = _nearest(degree + pull, candidates)
            elif bar.phrase_bar == 2 and 0 < k <= len(motif_steps):
                target = degree + motif_steps[k - 1]
            else:
                # Passing notes run in one direction for a while (scalar runs visit more of
                # the scale than a random walk), turning at the register's edges.
                if rng.random() < 0.3 or not lo_deg < degree + direction < hi_deg:
                    direction = -direction
                size_of_step = 1 if rng.random() < 0.8 else 2
                target = degree + direction * size_of_step
            target = int(np.clip(target, lo_deg, hi_deg))
            steps_used.append(target - degree)
            sounding = pitch(target)
            if size == 5 and not strong and abs(target - degree) == 1 and rng.random() < 0.3:
                # Pentatonic melodies pass through the scale's missing tones (偏音, such as
                # 清角 and 变宫 in Chinese music) on weak beats, where a minor third opens.
                sounding = _passing_tone(pitch(degree), sounding, parent_scale) or sounding
            degree = target
            start = bar.start_s + onset * beat_s
            legato = 0.97 if plan.density < 0.45 else 0.9
            notes.append(
                Note(
                    sounding,
                    start,
                    start + length * beat_s * legato,
                    _velocity(86 if strong else 74, bar.energy, rng),
                )
            )
        if bar.phrase_bar == 0:
            motif_steps = tuple(steps_used[1:])
            motifs.setdefault(bar.section, (motif_rhythm, motif_steps))
    return notes


def _passing_tone(previous: int, target: int, scale_pcs: set[int]) -> int | None:
    """The tone of ``scale_pcs`` between two pitches a minor third apart, or None."""
    if abs(target - previous) != 3:
        return None
    step = 1 if target > previous else -1
    for pitch in (previous + step, previous + 2 * step):
        if pitch % 12 in scale_pcs:
            return pitch
    return None


def _chord_degrees(roman: str, plan: MusicPlan) -> set[int]:
    """Indices in the mode's scale of the chord's tones that belong to it."""
    scale = SCALES[plan.mode]
    tonic = tonic_pitch_class(plan.key_tonic)
    degrees = set()
    for pc in chord_pitch_classes(roman, plan.key_tonic, plan.mode):
        step = (pc - tonic) % 12
        if step in scale:
            degrees.add(scale.index(step))
    return degrees


def _nearest(degree: int, candidates: list[int]) -> int:
    return min(candidates, key=lambda d: (abs(d - degree), d))


# --- harmony and bass --------------------------------------------------------------------


def _voicing(pcs: tuple[int, ...], low: int, high: int, previous: list[int] | None) -> list[int]:
    triad = pcs[:3]
    options = []
    for inversion in range(3):
        order = triad[inversion:] + triad[:inversion]
        for octave_base in range(low, high):
            if octave_base % 12 != order[0]:
                continue
            voices = [octave_base]
            for pc in order[1:]:
                nxt = voices[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                voices.append(nxt)
            if voices[-1] <= high:
                options.append(voices)
    if not options:
        raise ValueError(f"register {low}..{high} cannot hold the chord {pcs}")
    if previous is None:
        middle = (low + high) / 2
        return min(options, key=lambda v: abs(np.mean(v) - middle))
    return min(options, key=lambda v: sum(abs(a - b) for a, b in zip(v, previous, strict=True)))


def _harmony(
    plan: MusicPlan, stem: StemPlan, bars: list[_Bar], rng: np.random.Generator
) -> list[Note]:
    beat_s = _beat_s(plan)
    beats = plan.meter[0]
    notes: list[Note] = []
    previous: list[int] | None = None
    plucked = stem.program in _PLUCKED
    for bar in bars:
        pcs = chord_pitch_classes(bar.chord, plan.key_tonic, plan.mode)
        voices = _voicing(pcs, stem.register[0], stem.register[1], previous)
        previous = voices
        if bar.last:
            for p in voices:
                notes.append(
                    Note(
                        p, bar.start_s, bar.start_s + beats * beat_s, _velocity(70, bar.energy, rng)
                    )
                )
            continue
        if plucked:
            # Arpeggiated eighths: the beat is heard in every bar.
            order = [0, 1, 2, 1]
            for eighth in range(beats * 2):
                start = bar.start_s + eighth * beat_s / 2
                accent = 78 if eighth % 2 == 0 else 64
                notes.append(
                    Note(
                        voices[order[eighth % 4]],
                        start,
                        start + beat_s * 0.9,
                        _velocity(accent, bar.energy, rng, 4),
                    )
                )
        else:
            # Sustained instruments re-articulate the chord on every beat, softly off the
            # downbeat, so the pulse stays clear even in a reverberant hall.
            for beat in range(beats):
                start = bar.start_s + beat * beat_s
                accent = 74 if beat == 0 else 60
                for p in voices:
                    notes.append(
                        Note(p, start, start + beat_s * 0.95, _velocity(accent, bar.energy, rng, 3))
                    )
    return notes


def _bass(
    plan: MusicPlan, stem: StemPlan, bars: list[_Bar], rng: np.random.Generator
) -> list[Note]:
    beat_s = _beat_s(plan)
    beats = plan.meter[0]
    low, high = stem.register
    notes: list[Note] = []
    for bar in bars:
        pcs = chord_pitch_classes(bar.chord, plan.key_tonic, plan.mode)
        root = low + (pcs[0] - low) % 12
        fifth = root + 7 if root + 7 <= high else root - 5
        if bar.last:
            notes.append(
                Note(
                    root, bar.start_s, bar.start_s + beats * beat_s, _velocity(84, bar.energy, rng)
                )
            )
            continue
        half = beats // 2 if beats % 2 == 0 else beats - 1
        notes.append(
            Note(
                root,
                bar.start_s,
                bar.start_s + half * beat_s * 0.95,
                _velocity(88, bar.energy, rng),
            )
        )
        notes.append(
            Note(
                fifth,
                bar.start_s + half * beat_s,
                bar.start_s + beats * beat_s * 0.97,
                _velocity(78, bar.energy, rng),
            )
        )
    return notes


# --- drums -------------------------------------------------------------------------------


# Grooves per genre: for each beat of a 4/4 bar, the keys struck on the beat and on its
# off-beat eighth. Other metres get a downbeat kick and side sticks (a waltz pattern).
_GROOVES: dict[str, tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]] = {
    # Backbeat: kick on 1 and 3, snare on 2 and 4, closed hats on every eighth.
    "pop": (
        ((_KICK, _CLOSED_HAT), (_CLOSED_HAT,)),
        ((_SNARE, _CLOSED_HAT), (_CLOSED_HAT,)),
        ((_KICK, _CLOSED_HAT), (_KICK, _CLOSED_HAT)),
        ((_SNARE, _CLOSED_HAT), (_CLOSED_HAT,)),
    ),
    # Four on the floor: a kick on every beat, claps on 2 and 4, open hats off the beat.
    "dance": (
        ((_KICK,), (_OPEN_HAT,)),
        ((_KICK, _CLAP), (_OPEN_HAT,)),
        ((_KICK,), (_OPEN_HAT,)),
        ((_KICK, _CLAP), (_OPEN_HAT,)),
    ),
    # Light and acoustic: kick on 1, side stick on 2 and 4, a shaker on the eighths.
    "folk": (
        ((_KICK, _SHAKER), (_SHAKER,)),
        ((_SIDE_STICK, _SHAKER), (_SHAKER,)),
        ((_SHAKER,), (_KICK, _SHAKER)),
        ((_SIDE_STICK, _SHAKER), (_SHAKER,)),
    ),
}
_ACCENT = {
    _KICK: 100,
    _SNARE: 90,
    _CLAP: 88,
    _SIDE_STICK: 74,
    _OPEN_HAT: 60,
    _CLOSED_HAT: 66,
    _SHAKER: 56,
}


def _drums(
    plan: MusicPlan, stem: StemPlan, bars: list[_Bar], rng: np.random.Generator
) -> list[Note]:
    beat_s = _beat_s(plan)
    beats = plan.meter[0]
    groove = _GROOVES.get(plan.genre, _GROOVES["pop"])
    notes: list[Note] = []
    previous_section = None

    def hit(key: int, at_s: float, base: float, energy: float) -> None:
        # Gaussian drift, clipped so that no hit strays audibly far from the grid.
        drift = float(np.clip(rng.normal(0.0, _HUMANISE_S), -2 * _HUMANISE_S, 2 * _HUMANISE_S))
        start = max(0.0, at_s + drift)
        notes.append(Note(key, start, start + 0.1, _velocity(base, energy, rng, 7)))

    for bar in bars:
        if bar.section != previous_section and bar.section not in ("intro",):
            hit(_CRASH, bar.start_s, 80, bar.energy)
        previous_section = bar.section
        if bar.last:
            hit(_KICK, bar.start_s, 96, bar.energy)
            hit(_CRASH, bar.start_s, 84, bar.energy)
            continue
        for beat in range(beats):
            at = bar.start_s + beat * beat_s
            if bar.section == "intro":
                # The intro keeps time with the lightest voice of the groove only.
                hit(_CLOSED_HAT, at, 60, bar.energy)
            elif beats == 4:
                on_beat, off_beat = groove[beat]
                for key in on_beat:
                    hit(key, at, _ACCENT[key], bar.energy)
                for key in off_beat:
                    hit(key, at + beat_s / 2, _ACCENT[key] - 10, bar.energy)
            else:
                hit(_KICK if beat == 0 else _SIDE_STICK, at, 100 if beat == 0 else 72, bar.energy)
                hit(_CLOSED_HAT, at + beat_s / 2, 52, bar.energy)
    return notes


def _perform(
    notes: list[Note], plan: MusicPlan, stem: StemPlan, rng: np.random.Generator
) -> list[Note]:
    """Play the written notes like a player would: swing, timing and a phrase's dynamics.

    Off-beat eighths are delayed by the plan's swing (0.33 is a triplet feel); pitched
    parts drift a few milliseconds around the grid (the drums are humanised as written);
    loudness swells over each four-bar phrase and relaxes into its cadence.
    """
    beat_s = _beat_s(plan)
    phrase_s = 4 * plan.bar_seconds
    performed = []
    for note in notes:
        shift = 0.0
        position = note.start_s / beat_s % 1.0
        if plan.swing and abs(position - 0.5) < 0.02:
            shift += plan.swing * beat_s / 2
        if not stem.is_drum:
            shift += float(rng.normal(0.0, _HUMANISE_S * 0.8))
        arch = 0.9 + 0.15 * np.sin(np.pi * (note.start_s % phrase_s) / phrase_s)
        velocity = int(np.clip(round(note.velocity * arch), 1, 127))
        start = max(0.0, note.start_s + shift)
        performed.append(Note(note.pitch, start, max(start + 0.01, note.end_s + shift), velocity))
    return performed


def _fit(notes: list[Note], duration_s: float) -> list[Note]:
    """Drop notes that start too late and shorten those that would sound past the end."""
    fitted = []
    for note in sorted(notes, key=lambda n: (n.start_s, n.pitch)):
        if note.start_s >= duration_s - 0.05:
            continue
        fitted.append(Note(note.pitch, note.start_s, min(note.end_s, duration_s), note.velocity))
    return fitted
