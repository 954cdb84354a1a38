"""Scores -> :class:`~generation.lm.vocab.Piece`: melody, bass, key, chords and conditions.

Reads MIDI, MusicXML, ABC and Humdrum kern through music21. Each score becomes a piece:

- melody: the part with the highest mean pitch, reduced to its top line; bass: the part
  with the lowest, when it lies at least an octave below the melody (single-line tunes
  have none); both quantised to sixteenths and cut at bar lines;
- bars: whole bars of the score's one metre; a pickup is padded with a rest in front, a
  short closing bar with one behind, two short bars that make a whole (a strain's last
  bar and the next one's pickup) are joined;
- key: the tonic of the last note (folk tunes and chorales end on it) with the church
  mode whose scale holds most of the notes; music21's key analysis where that fits badly;
- chord per bar: the diatonic triad whose tones carry most of the bar's notes (strong
  beats and bass weigh more);
- conditions (the planner's features, since a corpus has no mood labels): tempo bin from a
  metronome mark or the ABC tune type and tempo words; density bin from melody onsets per
  quarter note; arousal from tempo and density; valence from the mode's third and tempo;
  register bin from the melody's mean key-relative pitch. The mapping is in
  :func:`conditions_for`; the planner side in :mod:`generation.lm.conditioning`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from generation.lm.vocab import (
    METERS,
    MODE_TOKENS,
    PITCH_RANGE,
    Bar,
    Conditions,
    NoteEvent,
    Piece,
    PieceStats,
    bar_sixteenths,
    strong_positions,
)

__all__ = [
    "SCORE_SUFFIXES",
    "PieceError",
    "ReadReport",
    "bin_of",
    "conditions_for",
    "estimate_chord",
    "estimate_key",
    "piece_from_score",
    "read_folder",
    "read_score_file",
    "relabel",
]

#: File suffixes ``loci train`` reads.
SCORE_SUFFIXES: tuple[str, ...] = (".mid", ".midi", ".xml", ".musicxml", ".mxl", ".abc", ".krn")

MODE_SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
MAJOR_LIKE = frozenset({"major", "mixolydian"})

# Thresholds of the condition bins (low below the first, high from the second).
TEMPO_BPM_BINS = (84.0, 116.0)  # quarter notes per minute
DENSITY_BINS = (1.25, 1.75)  # melody onsets per quarter note
REGISTER_BINS = (64.5, 68.5)  # mean key-relative melody pitch (corpus terciles)
_MIN_BARS = 4
_MIN_NOTES = 12
_KEY_FIT = 0.9
_MAX_PADDED_BARS = 2

# ABC tune types (R: field) and tempo words (N:, Q: text) -> tempo bin.
_FAST_TYPES = (
    "reel",
    "jig",
    "hornpipe",
    "polka",
    "slide",
    "fling",
    "highland",
    "set dance",
    "single",
    "double",
    "slip",
    "quick",
)
_SLOW_TYPES = ("air", "lament", "slow", "song")
_MID_TYPES = ("march", "strathspey", "waltz", "mazurka", "long dance", "schottische")
_SLOW_WORDS = re.compile(r"\b(very slow|slow|slowly|plaintive|tenderly|adagio|lento|largo)\b")
_FAST_WORDS = re.compile(r"\b(lively|quick|quickly|fast|brisk|allegro|presto|vivace|spirited)\b")


class PieceError(ValueError):
    """A score that cannot become a training piece (the message says why)."""


@dataclass(frozen=True)
class ReadReport:
    """What reading a folder found: pieces, and the files or scores skipped with reasons."""

    pieces: tuple[Piece, ...]
    skipped: tuple[tuple[str, str], ...]
    files: int

    def summary(self) -> str:
        """One line: pieces read, skipped, and the commonest reasons."""
        reasons: dict[str, int] = {}
        for _, why in self.skipped:
            key = why.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        common = ", ".join(
            f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:4]
        )
        text = f"{len(self.pieces)} pieces from {self.files} files"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} ({common})"
        return text


def bin_of(value: float, edges: tuple[float, float]) -> str:
    """``low``, ``mid`` or ``high`` for a value against two bin edges."""
    return "low" if value < edges[0] else "high" if value >= edges[1] else "mid"


def _score_of(name: str) -> int:
    return {"low": -1, "slow": -1, "mid": 0, "high": 1, "fast": 1}[name]


def tempo_bin(bpm: float) -> str:
    """``slow``, ``mid`` or ``fast`` for a tempo in quarter notes per minute."""
    return {"low": "slow", "mid": "mid", "high": "fast"}[bin_of(bpm, TEMPO_BPM_BINS)]


def conditions_for(
    *,
    style: str,
    mode: str,
    meter: tuple[int, int],
    tempo: str,
    density: str,
    register: str,
) -> Conditions:
    """Conditions with arousal and valence derived as the planner relates them.

    The planner raises tempo and density with arousal and picks the mode by valence, so a
    piece's arousal is the mean of its tempo and density scores (-1, 0, 1 for the low, mid
    and high bins) and its valence is 0.7 x the mode's third (+1 major, -1 minor) plus
    0.3 x the tempo score, each binned at +-0.25.
    """
    tempo_score, density_score = _score_of(tempo), _score_of(density)
    arousal = 0.5 * (tempo_score + density_score)
    valence = 0.7 * (1 if mode in MAJOR_LIKE else -1) + 0.3 * tempo_score
    return Conditions(
        style=style,
        mode=mode,
        meter=meter,
        tempo=tempo,
        density=density,
        arousal=bin_of(arousal, (-0.25, 0.25)),
        valence=bin_of(valence, (-0.25, 0.25)),
        register=register,
    )


def estimate_key(
    melody: list[tuple[int, float]], bass: list[tuple[int, float]] | None, fallback=None
) -> tuple[int, str]:
    """(tonic pitch class, mode) of a piece from (pitch, duration) pairs.

    The last bass note (else the last melody note) names the tonic; the mode is the one of
    :data:`MODE_SCALES` on that tonic holding the most note duration (ties: major, minor,
    mixolydian, dorian, phrygian). A minor key's raised seventh counts as in its scale.
    When no mode holds 90% of the duration, ``fallback()`` (music21's key analysis)
    decides, as (tonic pitch class, "major" | "minor").
    """
    weights = np.zeros(12)
    for pitch, duration in melody + (bass or []):
        weights[pitch % 12] += duration
    total = weights.sum()
    final = (bass or melody)[-1][0] % 12
    best, best_fit = None, -1.0
    for mode in ("major", "minor", "mixolydian", "dorian", "phrygian"):
        scale = set(MODE_SCALES[mode]) | ({11} if mode == "minor" else set())
        fit = sum(weights[(final + s) % 12] for s in scale) / total
        if fit > best_fit + 1e-9:
            best, best_fit = mode, fit
    if best_fit >= _KEY_FIT or fallback is None:
        return final, str(best)
    return fallback()


def _triads(mode: str) -> list[tuple[int, str, tuple[int, ...]]]:
    scale = MODE_SCALES[mode]
    triads = []
    for degree in range(7):
        root = scale[degree]
        third = (scale[(degree + 2) % 7] - root) % 12
        fifth = (scale[(degree + 4) % 7] - root) % 12
        quality = "dim" if (third, fifth) == (3, 6) else "min" if third == 3 else "maj"
        triads.append((root, quality, (root, (root + third) % 12, (root + fifth) % 12)))
    if mode in ("minor", "dorian", "phrygian"):
        # The major dominant of the harmonic minor (its third the leading tone).
        triads.append((7, "maj", (7, 11, 2)))
    return triads


def estimate_chord(
    notes: list[tuple[int, int, int, float]], *, tonic_pc: int, mode: str, meter: tuple[int, int]
) -> tuple[int, str]:
    """The bar's chord as (root semitones above the tonic, quality).

    ``notes`` are (MIDI pitch, onset sixteenths, length sixteenths, weight); onsets on
    strong beats count 1.5x. The diatonic triad (and, in minor, the major V) whose tones
    carry the most weight wins, its root's weight counted again by half; an empty bar is
    the tonic triad.
    """
    if not notes:
        return 0, "maj" if mode in MAJOR_LIKE else "min"
    strong = strong_positions(meter)
    weights = np.zeros(12)
    for pitch, onset, length, weight in notes:
        weights[(pitch - tonic_pc) % 12] += length * weight * (1.5 if onset in strong else 1.0)
    best = max(
        _triads(mode),
        key=lambda t: sum(weights[pc] for pc in t[2]) + 0.5 * weights[t[2][0]],
    )
    return best[0], best[1]


def _abc_tempo_hints(path: Path) -> dict[str, str]:
    """Tempo bin per ABC tune number, from its R: (tune type) and N:/Q: text fields."""
    hints: dict[str, str] = {}
    number = None
    text = ""
    for line in [*path.read_text(encoding="utf-8", errors="replace").splitlines(), "X:"]:
        if line.startswith("X:"):
            if number is not None:
                hint = _tempo_from_words(text)
                if hint:
                    hints[number] = hint
            number, text = line[2:].strip(), ""
        elif line[:2] in ("R:", "N:", "Q:", "T:"):
            text += " " + line[2:].lower()
    return hints


def _tempo_from_words(text: str) -> str | None:
    if _SLOW_WORDS.search(text):
        return "slow"
    if _FAST_WORDS.search(text):
        return "fast"
    if any(t in text for t in _SLOW_TYPES):
        return "slow"
    if any(t in text for t in _MID_TYPES):
        return "mid"
    if any(t in text for t in _FAST_TYPES):
        return "fast"
    return None


@dataclass
class _Segment:
    onset: int
    end: int
    pitch: int
    tied: bool


def _part_notes(part) -> list[tuple[float, float, tuple[int, ...], bool]]:
    """(offset, length, pitches, tie continues) of a part's notes, in quarter notes."""
    found = []
    for element in part.flatten().notes:
        length = float(element.quarterLength)
        if length <= 0 or element.duration.isGrace:
            continue
        pitches = tuple(p.midi for p in element.pitches)
        tie = element.tie is not None and element.tie.type in ("start", "continue")
        found.append((float(element.offset), length, pitches, tie))
    return found


def _bar_starts(part, bar_ql: float) -> list[float]:
    """Score offsets (quarter notes) of each whole bar; see the module notes on bar lines."""
    measures = [
        (float(m.offset), float(m.duration.quarterLength))
        for m in part.getElementsByClass("Measure")
    ]
    if not measures:
        raise PieceError("no bars: the score has no measures")
    starts: list[float] = []
    i = padded = 0
    eps = 1e-6
    while i < len(measures):
        offset, length = measures[i]
        if length <= eps:
            i += 1
            continue
        if abs(length - bar_ql) < eps:
            starts.append(offset)
        elif length < bar_ql:
            if not starts:
                starts.append(offset - (bar_ql - length))  # a pickup
            elif i + 1 < len(measures) and abs(length + measures[i + 1][1] - bar_ql) < eps:
                starts.append(offset)
                i += 1
            else:
                # Padded with a rest: the last bar, or a strain's end before a repeat.
                starts.append(offset)
                padded += i < len(measures) - 1
                if padded > _MAX_PADDED_BARS:
                    raise PieceError(
                        f"irregular bars: bars {i + 1} and more are shorter than "
                        f"the metre's {bar_ql:g} quarter notes"
                    )
        else:
            raise PieceError(
                f"irregular bar: bar {i + 1} lasts {length:g} quarter notes, the metre {bar_ql:g}"
            )
        i += 1
    return starts


def _line(
    notes: list[tuple[float, float, tuple[int, ...], bool]],
    starts: list[float],
    bar_ql: float,
    *,
    top: bool,
) -> list[list[_Segment]]:
    """One monophonic line per bar: the top (or bottom) note, cut at bar lines and onsets."""
    length = round(bar_ql * 4)
    bars: list[list[_Segment]] = [[] for _ in starts]
    for offset, duration, pitches, tied in notes:
        pitch = max(pitches) if top else min(pitches)
        first = max(0, bisect.bisect_right(starts, offset + 1e-6) - 1)
        for b in range(first, len(starts)):
            onset = round((offset - starts[b]) * 4)
            end = round((offset + duration - starts[b]) * 4)
            if onset >= length:
                continue
            if end <= 0:
                break
            onset, end = max(onset, 0), min(end, length)
            if end > onset:
                bars[b].append(_Segment(onset, end, pitch, tied and end == length))
            if offset + duration <= starts[b] + bar_ql + 1e-6:
                break
    lines = []
    for segments in bars:
        segments.sort(key=lambda s: (s.onset, -s.pitch if top else s.pitch))
        line: list[_Segment] = []
        for seg in segments:
            if line and seg.onset == line[-1].onset:
                continue  # a lower (upper) note of the same onset
            if line and line[-1].end > seg.onset:
                line[-1].end = seg.onset
            line.append(seg)
        lines.append([s for s in line if s.end > s.onset])
    return lines


def _merge_ties(line: list[list[_Segment]]) -> list[list[_Segment]]:
    """Tied notes of one pitch inside a bar become one; across a bar line they stay two."""
    merged_bars = []
    for segments in line:
        merged: list[_Segment] = []
        for seg in segments:
            if (
                merged
                and merged[-1].pitch == seg.pitch
                and merged[-1].end == seg.onset
                and merged[-1].tied
            ):
                merged[-1].end = seg.end
                merged[-1].tied = seg.tied
            else:
                merged.append(seg)
        merged_bars.append(merged)
    return merged_bars


def piece_from_score(
    score, *, name: str, style: str | None = None, tempo_hint: str | None = None
) -> Piece:
    """A music21 score as a training piece.

    Parameters
    ----------
    score
        A ``music21.stream.Score`` (or a single part).
    name
        The piece's name in reports (file and tune number).
    style
        ``"folk"`` or ``"classical"``; None: classical when the piece has a bass line.
    tempo_hint
        Tempo bin from text outside the score (an ABC tune type), used when the score has
        no metronome mark.

    Raises
    ------
    PieceError
        When the score cannot become a piece (no notes, a metre outside the vocabulary,
        metre changes, irregular bars, pitches out of range).
    """
    import music21

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    lines = []
    for part in parts:
        if any(isinstance(i, music21.instrument.UnpitchedPercussion) for i in part.recurse()):
            continue
        notes = _part_notes(part)
        if notes:
            mean = float(np.mean([np.mean(p) for _, _, p, _ in notes]))
            lines.append((mean, part, notes))
    if not lines:
        raise PieceError("no notes: the score has no pitched notes")
    lines.sort(key=lambda item: -item[0])
    melody_part = lines[0][1]
    # music21's ABC reader gives some pickups a metre of their own (1/8, 1/16): ignored.
    signatures = {
        (ts.numerator, ts.denominator)
        for ts in melody_part.recurse().getElementsByClass("TimeSignature")
        if ts.numerator > 1
    }
    if not signatures:
        raise PieceError("no metre: the score has no time signature")
    if len(signatures) > 1:
        raise PieceError(f"metre changes: {sorted(signatures)}")
    meter = signatures.pop()
    if meter not in METERS:
        raise PieceError(f"metre not in the vocabulary: {meter[0]}/{meter[1]}")
    bar_ql = meter[0] * 4.0 / meter[1]
    starts = _bar_starts(melody_part, bar_ql)
    melody = _merge_ties(_line(lines[0][2], starts, bar_ql, top=True))
    bass = None
    if len(lines) >= 2 and lines[-1][0] <= lines[0][0] - 12:
        bass = _merge_ties(_line(lines[-1][2], starts, bar_ql, top=False))
    melody_notes = [(s.pitch, (s.end - s.onset) / 4) for bar in melody for s in bar]
    if len(melody_notes) < _MIN_NOTES or len(starts) < _MIN_BARS:
        raise PieceError(
            f"too short: {len(starts)} bars, {len(melody_notes)} notes "
            f"(at least {_MIN_BARS} and {_MIN_NOTES})"
        )
    bass_notes = [(s.pitch, (s.end - s.onset) / 4) for bar in bass for s in bar] if bass else None

    def music21_key() -> tuple[int, str]:
        key = score.analyze("key")
        return key.tonic.pitchClass, "major" if key.mode == "major" else "minor"

    tonic_pc, mode = estimate_key(melody_notes, bass_notes or None, music21_key)
    length = bar_sixteenths(meter)
    every = [
        _line(notes, starts, bar_ql, top=True) if part is not melody_part else melody
        for _, part, notes in lines
    ]
    bars = []
    low, high = PITCH_RANGE
    for b in range(len(starts)):
        weighted = []
        for index, line in enumerate(every):
            weight = 2.0 if bass is not None and index == len(every) - 1 else 1.0
            weighted += [(s.pitch, s.onset, s.end - s.onset, weight) for s in line[b]]
        chord = estimate_chord(weighted, tonic_pc=tonic_pc, mode=mode, meter=meter)
        mel = tuple(NoteEvent(s.onset, s.end - s.onset, s.pitch) for s in melody[b])
        bas = (
            tuple(NoteEvent(s.onset, s.end - s.onset, s.pitch) for s in bass[b])
            if bass is not None
            else None
        )
        for note in mel + (bas or ()):
            if not low <= note.pitch - tonic_pc < high:
                raise PieceError(f"pitch out of range: MIDI {note.pitch} in bar {b + 1}")
            if note.start + note.length > length:
                raise PieceError(f"note past the bar line in bar {b + 1}")
        section = ("A", "B")[(b // 8) % 2] if b % 8 == 0 else None
        bars.append(Bar(chord=chord, melody=mel, bass=bas, section=section))

    tempo = _metronome_bin(score) or tempo_hint or "mid"
    onsets_per_quarter = len(melody_notes) / (len(starts) * bar_ql)
    register = float(np.mean([p for p, _ in melody_notes])) - tonic_pc
    conditions = conditions_for(
        style=style or ("classical" if bass is not None else "folk"),
        mode=mode,
        meter=meter,
        tempo=tempo,
        density=bin_of(onsets_per_quarter, DENSITY_BINS),
        register=bin_of(register, REGISTER_BINS),
    )
    if mode not in MODE_TOKENS:
        raise PieceError(f"mode not in the vocabulary: {mode}")
    return Piece(
        name=name,
        tonic_pc=tonic_pc,
        conditions=conditions,
        bars=tuple(bars),
        stats=PieceStats(onsets_per_quarter=onsets_per_quarter, mean_relative_pitch=register),
    )


def relabel(piece: Piece) -> Piece:
    """The piece with its density and register bins recomputed from its stats (after the
    bin edges change), its tempo, style and mode kept."""
    if piece.stats is None:
        return piece
    c = piece.conditions
    conditions = conditions_for(
        style=c.style,
        mode=c.mode,
        meter=c.meter,
        tempo=c.tempo,
        density=bin_of(piece.stats.onsets_per_quarter, DENSITY_BINS),
        register=bin_of(piece.stats.mean_relative_pitch, REGISTER_BINS),
    )
    return replace(piece, conditions=conditions)


def _metronome_bin(score) -> str | None:
    for mark in score.recurse().getElementsByClass("MetronomeMark"):
        bpm = mark.getQuarterBPM()
        if bpm:
            return tempo_bin(float(bpm))
    return None


def read_score_file(path: Path, *, style: str | None = None) -> Iterator[Piece | PieceError]:
    """The pieces of one file (an ABC file may hold many), or a PieceError for each failure.

    A file music21 cannot parse yields one PieceError naming the file and the reason.
    """
    import music21

    try:
        parsed = music21.converter.parse(str(path))
    except Exception as error:  # music21 raises many kinds for bad files
        yield PieceError(f"unreadable: {path.name}: {type(error).__name__}: {error}"[:300])
        return
    hints = _abc_tempo_hints(path) if path.suffix.lower() == ".abc" else {}
    scores = list(parsed.scores) if isinstance(parsed, music21.stream.Opus) else [parsed]
    for index, score in enumerate(scores):
        number = str(score.metadata.number) if score.metadata and score.metadata.number else ""
        name = f"{path.name}#{number or index + 1}" if len(scores) > 1 else path.name
        try:
            yield piece_from_score(score, name=name, style=style, tempo_hint=hints.get(number))
        except PieceError as error:
            yield PieceError(f"{error} ({name})")
        except Exception as error:  # a score music21 read but cannot walk
            yield PieceError(f"unreadable: {type(error).__name__}: {error} ({name})"[:300])


def read_folder(
    folder: Path, *, style: str | None = None, progress=None, files: list[Path] | None = None
) -> ReadReport:
    """Every piece in a folder's score files (recursively), with what was skipped and why.

    Parameters
    ----------
    folder
        Where to look for :data:`SCORE_SUFFIXES` files.
    style
        Style of every piece; None decides per piece (see :func:`piece_from_score`).
    progress
        Called with (files done, files in all) after each file.
    files
        Read these files instead of searching the folder.
    """
    paths = files or sorted(
        p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in SCORE_SUFFIXES
    )
    pieces: list[Piece] = []
    skipped: list[tuple[str, str]] = []
    for done, path in enumerate(paths, 1):
        for item in read_score_file(path, style=style):
            if isinstance(item, PieceError):
                skipped.append((str(path), str(item)))
            else:
                pieces.append(item)
        if progress is not None:
            progress(done, len(paths))
    return ReadReport(pieces=tuple(pieces), skipped=tuple(skipped), files=len(paths))
