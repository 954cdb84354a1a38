"""Score -> Standard MIDI File: one track per stem, with tempo, metre and key signature."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pretty_midi

from generation.harmony import key_signature
from generation.types import MusicPlan, Part, Score

__all__ = ["part_to_midi_bytes", "score_to_pretty_midi", "write_midi"]


def score_to_pretty_midi(score: Score) -> pretty_midi.PrettyMIDI:
    """All parts of a score in one MIDI object (drums on channel 10)."""
    midi = _empty(score.plan)
    for part in score.parts:
        midi.instruments.append(_instrument(part))
    return midi


def part_to_midi_bytes(part: Part, plan: MusicPlan, *, end_s: float | None = None) -> bytes:
    """One part alone as the bytes of a Standard MIDI File.

    ``end_s`` makes the file last at least that long (seconds), so that a synthesiser that
    stops at the file's end lets the last notes ring out.
    """
    midi = _empty(plan)
    instrument = _instrument(part)
    if end_s is not None:
        # A volume message that changes nothing, placed where the file should end.
        instrument.control_changes.append(pretty_midi.ControlChange(7, 100, end_s))
    midi.instruments.append(instrument)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def write_midi(score: Score, path: str | Path) -> None:
    """Write ``score.mid`` through a temporary file, so a failure leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        score_to_pretty_midi(score).write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _empty(plan: MusicPlan) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=plan.tempo_bpm)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(*plan.meter, 0.0))
    # pretty_midi numbers keys 0..11 major, 12..23 minor, by tonic pitch class.
    signature_tonic, quality = key_signature(plan.key_tonic, plan.mode)
    key_number = signature_tonic + (12 if quality == "minor" else 0)
    midi.key_signature_changes.append(pretty_midi.KeySignature(key_number, 0.0))
    return midi


def _instrument(part: Part) -> pretty_midi.Instrument:
    instrument = pretty_midi.Instrument(
        program=part.stem.program, is_drum=part.stem.is_drum, name=part.stem.name
    )
    for note in part.notes:
        instrument.notes.append(
            pretty_midi.Note(
                velocity=note.velocity, pitch=note.pitch, start=note.start_s, end=note.end_s
            )
        )
    return instrument
