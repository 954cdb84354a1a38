"""Lyrics -> lyrics.txt, timed lyrics.lrc, lyric events in score.mid, score.musicxml.

The MusicXML score is the vocal line alone, quantised to sixteenths of a beat, each
syllable under its note (``<lyric>`` with its ``syllabic``), written with music21.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from generation.harmony import key_signature
from generation.lyrics.types import Lyrics
from generation.midi import score_to_pretty_midi
from generation.types import MusicPlan, Part, Score

__all__ = [
    "lrc_text",
    "lyrics_text",
    "musicxml_bytes",
    "write_lyrics_files",
    "write_score_with_lyrics",
]


def lyrics_text(lyrics: Lyrics) -> str:
    """The words as a person reads them: sections headed, one line per line."""
    out: list[str] = []
    section = None
    for line in lyrics.lines:
        if line.section != section:
            if out:
                out.append("")
            out.append(f"[{line.section}]")
            section = line.section
        out.append(line.text)
    return "\n".join(out) + "\n"


def _stamp(seconds: float) -> str:
    centis = max(0, round(seconds * 100))
    return f"{centis // 6000:02d}:{centis // 100 % 60:02d}.{centis % 100:02d}"


def lrc_text(lyrics: Lyrics, *, title: str, duration_s: float) -> str:
    """The lyrics as LRC: one ``[mm:ss.xx]`` line per line at its first note, and each
    word's time in enhanced-LRC ``<mm:ss.xx>`` marks."""
    head = [
        f"[ti:{title}]",
        f"[la:{lyrics.language}]",
        f"[length:{_stamp(duration_s)[:5]}]",
        "[re:genius-loci]",
    ]
    body = []
    for line in lyrics.lines:
        words: list[str] = []
        for syllable in line.syllables:
            if syllable.syllabic in ("single", "begin"):
                separator = " " if lyrics.language == "en" and words else ""
                words.append(f"{separator}<{_stamp(syllable.note.start_s)}>{syllable.word}")
        body.append(f"[{_stamp(line.start_s)}]" + "".join(words))
    return "\n".join(head + body) + "\n"


def write_score_with_lyrics(score: Score, vocal: Part, lyrics: Lyrics, path: Path) -> None:
    """score.mid with the vocal part as a track and one lyric event per syllable."""
    import pretty_midi

    full = Score(plan=score.plan, parts=(*score.parts, vocal))
    midi = score_to_pretty_midi(full)
    for syllable in lyrics.syllables:
        text = syllable.text + ("-" if syllable.syllabic in ("begin", "middle") else "")
        # MIDI text is bytes; mido writes Latin-1. The syllable's UTF-8 bytes go through
        # unchanged that way, so that a reader decoding UTF-8 (as karaoke players and
        # music21 do) gets the characters back.
        midi.lyrics.append(pretty_midi.Lyric(_as_bytes_text(text), syllable.note.start_s))
    _atomic_write(path, lambda handle: midi.write(handle))


def musicxml_bytes(lyrics: Lyrics, plan: MusicPlan, *, title: str) -> bytes:
    """The vocal line as MusicXML: one note per syllable, the syllable under it.

    Times are quantised to a sixteenth of a quarter note's grid (the performance's few
    milliseconds of human timing and its swing are not notated).
    """
    from music21 import key, metadata, meter, note, stream, tempo

    # tempo_bpm counts the metre's beat unit: a beat lasts 4 / unit quarter notes.
    beat_quarters = 4.0 / plan.meter[1]
    quarter_s = 60.0 / plan.tempo_bpm / beat_quarters
    part = stream.Part()
    part.append(meter.TimeSignature(f"{plan.meter[0]}/{plan.meter[1]}"))
    tonic, quality = key_signature(plan.key_tonic, plan.mode)
    part.append(key.Key(_PITCH_NAMES[tonic], quality))
    part.append(tempo.MetronomeMark(number=plan.tempo_bpm, referent=beat_quarters))
    cursor = 0.0
    grid = 0.25
    syllables = lyrics.syllables
    for index, syllable in enumerate(syllables):
        start = round(syllable.note.start_s / quarter_s / grid) * grid
        end = round(syllable.note.end_s / quarter_s / grid) * grid
        if index + 1 < len(syllables):
            following = round(syllables[index + 1].note.start_s / quarter_s / grid) * grid
            end = min(end, following)
        start = max(start, cursor)
        end = max(end, start + grid)
        if start > cursor:
            part.append(note.Rest(quarterLength=start - cursor))
        sung = note.Note(syllable.note.pitch, quarterLength=end - start)
        sung.lyrics.append(note.Lyric(text=syllable.text, syllabic=syllable.syllabic))
        part.append(sung)
        cursor = end
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title)
    part.partName = "Voice"
    score.insert(0, part)
    score = score.makeNotation()
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(score).parse()


def _as_bytes_text(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


_PITCH_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


def write_lyrics_files(
    folder: Path, lyrics: Lyrics, plan: MusicPlan, *, title: str
) -> tuple[Path, ...]:
    """Write lyrics.txt, lyrics.lrc and score.musicxml into a folder; returns the paths."""
    folder = Path(folder)
    txt = folder / "lyrics.txt"
    lrc = folder / "lyrics.lrc"
    xml = folder / "score.musicxml"
    txt.write_text(lyrics_text(lyrics), encoding="utf-8")
    lrc.write_text(lrc_text(lyrics, title=title, duration_s=plan.duration_s), encoding="utf-8")
    data = musicxml_bytes(lyrics, plan, title=title)
    _atomic_write(xml, lambda handle: handle.write(data))
    return txt, lrc, xml


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream_:
            write(stream_)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
