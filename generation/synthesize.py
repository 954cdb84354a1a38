"""Score -> Stems: each part played alone with a General MIDI sound font, plus ambiences.

Stems come out mono, float32, 48 kHz, exactly the plan's length, each at a level set by
its role (RMS), so that the balance of the mix comes from the plan, not from how loud the
sound font happens to make an instrument.
"""

from __future__ import annotations

import io
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from generation.ambience import make_ambience
from generation.midi import part_to_midi_bytes
from generation.types import SAMPLE_RATE, Note, Part, Score, Stem

__all__ = ["default_soundfont", "synthesize", "synthesize_window"]

# RMS level of each role before its plan gain, dBFS.
_ROLE_RMS_DBFS = {"melody": -20.0, "harmony": -20.0, "bass": -20.0, "drums": -20.0}
_FADE_OUT_S = 0.05
_PEAK_LIMIT = 0.98


def default_soundfont() -> Path:
    """The TimGM6mb General MIDI sound font that the pretty_midi package ships."""
    import pretty_midi

    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def synthesize(score: Score, *, soundfont: str | Path | None = None) -> tuple[Stem, ...]:
    """Play every part of a score, and synthesise the plan's ambiences.

    Parameters
    ----------
    score
        The composed notes.
    soundfont
        A General MIDI ``.sf2`` file; None uses :func:`default_soundfont`.

    Returns
    -------
    tuple of Stem
        In the plan's stem order; each mono float32 of ``round(duration_s * 48000)``
        samples, finite, with peaks below 1.

    Raises
    ------
    FileNotFoundError
        When the sound font does not exist (the message names the path).
    """
    plan = score.plan
    n = round(plan.duration_s * SAMPLE_RATE)
    font = _soundfont_bytes(Path(soundfont) if soundfont else default_soundfont())
    parts = {part.stem.name: part for part in score.parts}
    stems = []
    for index, stem_plan in enumerate(plan.stems):
        if stem_plan.role == "ambience":
            audio = make_ambience(
                stem_plan.ambience or stem_plan.name,
                duration_s=plan.duration_s,
                seed=plan.seed * 1000 + index,
                sample_rate=SAMPLE_RATE,
                loop=plan.loop,
            )
        else:
            audio = _render_part(parts[stem_plan.name], score, font, n, loop=plan.loop)
            target = _ROLE_RMS_DBFS.get(stem_plan.role, -20.0)
            rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
            if rms > 0:
                audio = audio * (10 ** (target / 20) / rms)
        audio = audio * 10 ** (stem_plan.gain_db / 20)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > _PEAK_LIMIT:
            audio = audio * (_PEAK_LIMIT / peak)
        stems.append(Stem(stem_plan.name, stem_plan.role, audio.astype(np.float32)))
    return tuple(stems)


def synthesize_window(
    score: Score,
    *,
    start_s: float,
    end_s: float,
    lead_s: float = 0.03,
    tail_s: float = 1.0,
    soundfont: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Play the notes of a score that start inside a window, each part alone, with its tail.

    For streaming, where music is made bar by bar: the windows of consecutive bars,
    overlapped at their bar lines, play the whole score, and each note rings out in the
    window where it starts. A note belongs to the window its start falls in, counted
    ``lead_s`` early, so that a note played a few milliseconds before its bar line (human
    timing) still belongs to its bar.

    Parameters
    ----------
    score
        The composed notes.
    start_s, end_s
        The window, seconds of the score (e.g. one bar).
    lead_s
        How much earlier than ``start_s`` the returned audio starts, seconds.
    tail_s
        How long after ``end_s`` it goes on, seconds; its last quarter fades out, after
        the release of any note that ended by ``end_s``.
    soundfont
        A General MIDI ``.sf2`` file; None uses :func:`default_soundfont`.

    Returns
    -------
    dict of str to ndarray
        For every note-playing stem (no ambiences), mono float32 of
        ``round((end_s - start_s + lead_s + tail_s) * 48000)`` samples whose first sample
        is at ``start_s - lead_s``; levels as the sound font plays them (no normalisation:
        a bar's loudness stays relative to the next one's).
    """
    if not end_s > start_s:
        raise ValueError(f"end_s: got {end_s}; must be after start_s = {start_s}")
    if lead_s < 0 or tail_s <= 0:
        raise ValueError(f"lead_s = {lead_s} must be >= 0 and tail_s = {tail_s} > 0 seconds")
    origin = start_s - lead_s
    n = round((end_s - origin + tail_s) * SAMPLE_RATE)
    fade = max(1, round(tail_s / 4 * SAMPLE_RATE))
    font = _soundfont_bytes(Path(soundfont) if soundfont else default_soundfont())
    out: dict[str, np.ndarray] = {}
    for part in score.parts:
        notes = tuple(
            Note(
                note.pitch,
                note.start_s - origin,
                note.end_s - origin,
                note.velocity,
            )
            for note in part.notes
            if origin <= note.start_s < end_s - lead_s
        )
        audio = np.zeros(n, dtype=np.float32)
        if notes:
            mono = _play(Part(part.stem, notes), score, font, end_s=n / SAMPLE_RATE)
            length = min(n, mono.size)
            audio[:length] = mono[:length]
            audio[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        out[part.stem.name] = audio
    return out


def _play(part: Part, score: Score, font: bytes, *, end_s: float | None = None) -> np.ndarray:
    """One part through the sound font: mono float64 at :data:`SAMPLE_RATE`."""
    import midirenderer

    wav = midirenderer.render_wave_from(font, part_to_midi_bytes(part, score.plan, end_s=end_s))
    data, rate = sf.read(io.BytesIO(wav), dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        # Only a sound font at another rate gets here; scipy.signal takes a second to import.
        from scipy.signal import resample_poly

        common = gcd(int(rate), SAMPLE_RATE)
        mono = resample_poly(mono, SAMPLE_RATE // common, int(rate) // common)
    if not np.all(np.isfinite(mono)):
        raise RuntimeError(f"the sound font rendered NaN or Inf for stem {part.stem.name!r}")
    return mono


def _render_part(part: Part, score: Score, font: bytes, n: int, *, loop: bool) -> np.ndarray:
    mono = _play(part, score, font)
    out = np.zeros(n)
    length = min(n, mono.size)
    out[:length] = mono[:length]
    if loop:
        # The notes of the last bar ring on past the end: wrap that tail onto the start,
        # where it sounds when the loop comes round.
        tail = mono[n:]
        while tail.size:
            chunk = tail[:n]
            out[: chunk.size] += chunk
            tail = tail[n:]
    else:
        fade = round(_FADE_OUT_S * SAMPLE_RATE)
        out[n - fade :] *= np.linspace(1.0, 0.0, fade)
    return out


@lru_cache(maxsize=4)
def _soundfont_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"sound font: no such file {path}")
    return path.read_bytes()
