"""The plan's melody -> the singer's notes, and the lines that the lyrics must fill.

The voice sings the melody moved by whole octaves into a baritone's range (its middle near
D3, 147 Hz): one syllable per note. Each four-bar phrase of an ``A`` section is a line of
a verse, each of a ``B`` section a line of the chorus; a phrase of more than
:data:`MAX_LINE_NOTES` notes is sung as two lines of two bars. Intro and outro stay
instrumental. English lines rhyme in couplets (AABB); a Chinese section keeps one rhyme
class throughout (一韵到底), as Chinese songs do.
"""

from __future__ import annotations

from generation.lyrics.types import LineSlot
from generation.types import MusicPlan, Note, Part, Score, StemPlan

__all__ = ["MAX_LINE_NOTES", "VOCAL_CENTRE_MIDI", "VOCAL_RANGE_MIDI", "line_slots", "vocal_part"]

#: A phrase with more notes than this is sung as two lines.
MAX_LINE_NOTES = 14
#: The middle of the voice's range, MIDI (D3, 147 Hz): a baritone.
VOCAL_CENTRE_MIDI = 50
#: The voice's range, MIDI (G2 to E4).
VOCAL_RANGE_MIDI = (43, 64)
_SUNG_SECTIONS = ("A", "B")
_ONSET_SLACK_S = 0.03


def vocal_part(score: Score, *, program: int = 53) -> Part:
    """The melody moved by octaves into the voice's range, as a ``vocal`` part.

    Parameters
    ----------
    score
        A score with a ``melody`` part.
    program
        General MIDI program of the part in score.mid (53: Voice Oohs).

    Raises
    ------
    ValueError
        When the score has no melody part.
    """
    melody = next((p for p in score.parts if p.stem.role == "melody"), None)
    if melody is None or not melody.notes:
        roles = ", ".join(p.stem.role for p in score.parts) or "none"
        raise ValueError(f"lyrics need a melody to sing; the score's parts are: {roles}")
    pitches = sorted(n.pitch for n in melody.notes)
    median = pitches[len(pitches) // 2]
    # The octave that keeps most notes inside the baritone's range, then the one whose
    # middle is nearest the voice's.
    low_voice, high_voice = VOCAL_RANGE_MIDI

    def outside(shift: int) -> int:
        return sum(max(0, low_voice - p - shift) + max(0, p + shift - high_voice) for p in pitches)

    shift = min(
        (12 * k for k in range(-4, 3)),
        key=lambda s: (outside(s), abs(median + s - VOCAL_CENTRE_MIDI)),
    )
    low, high = melody.stem.register
    stem = StemPlan("vocal", "vocal", program, register=(low + shift, high + shift), gain_db=0.0)
    notes = tuple(Note(n.pitch + shift, n.start_s, n.end_s, n.velocity) for n in melody.notes)
    return Part(stem=stem, notes=notes)


def line_slots(plan: MusicPlan, notes: tuple[Note, ...], *, language: str) -> list[LineSlot]:
    """Group the vocal notes into the lines of verses and chorus.

    Parameters
    ----------
    plan
        The plan (its form, tempo and metre place the notes in bars).
    notes
        The vocal notes, in time order.
    language
        ``"en"`` (couplets rhyme) or ``"zh"`` (a section keeps one rhyme).

    Returns
    -------
    list of LineSlot
        In time order; empty when the form has no A or B section.
    """
    bar_s = plan.bar_seconds
    beats = plan.meter[0]
    beat_s = bar_s / beats
    # (section name, its number among sections of that name, first bar, bars)
    spans = []
    first = 0
    counts: dict[str, int] = {}
    for section in plan.sections:
        spans.append((section.name, counts.get(section.name, 0), first, section.bars))
        counts[section.name] = counts.get(section.name, 0) + 1
        first += section.bars
    slots: list[LineSlot] = []
    group = 0
    chorus_groups: dict[int, int] = {}
    verse_number = 0
    for name, number, first_bar, bars in spans:
        if name not in _SUNG_SECTIONS:
            continue
        if name == "A":
            verse_number += 1
            label, occurrence = f"verse {verse_number}", 0
        else:
            label, occurrence = "chorus", number
        lines: list[tuple[Note, ...]] = []
        for phrase_start in range(first_bar, first_bar + bars, 4):
            phrase_end = min(phrase_start + 4, first_bar + bars)
            phrase = _notes_in_bars(notes, phrase_start, phrase_end, bar_s)
            if len(phrase) > MAX_LINE_NOTES and phrase_end - phrase_start > 2:
                middle = phrase_start + 2
                lines.append(_notes_in_bars(notes, phrase_start, middle, bar_s))
                lines.append(_notes_in_bars(notes, middle, phrase_end, bar_s))
            else:
                lines.append(phrase)
        lines = [line for line in lines if len(line) >= 2]
        for index, line in enumerate(lines):
            key = index // 2 if language == "en" else 0
            if name == "B":
                # Every chorus rhymes as the first one did.
                if key not in chorus_groups:
                    chorus_groups[key] = group
                    group += 1
                rhyme_group = chorus_groups[key]
            else:
                if index == 0 or (language == "en" and index % 2 == 0):
                    group += 1
                rhyme_group = group
            strong = tuple(_is_strong(n.start_s, bar_s, beat_s, beats) for n in line)
            slots.append(LineSlot(label, line, strong, rhyme_group, occurrence))
        if name == "A":
            group += 1
    return slots


def _notes_in_bars(
    notes: tuple[Note, ...], first_bar: int, end_bar: int, bar_s: float
) -> tuple[Note, ...]:
    start, end = first_bar * bar_s - _ONSET_SLACK_S, end_bar * bar_s - _ONSET_SLACK_S
    return tuple(n for n in notes if start <= n.start_s < end)


def _is_strong(start_s: float, bar_s: float, beat_s: float, beats: int) -> bool:
    position = ((start_s + _ONSET_SLACK_S) % bar_s - _ONSET_SLACK_S) / beat_s
    strong_beats = (0.0, beats / 2) if beats % 2 == 0 and beats >= 4 else (0.0,)
    return any(abs(position - beat) < 0.2 for beat in strong_beats)
