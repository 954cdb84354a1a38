"""Types that cross generation's border: Style (S), MusicPlan, Score and Stems.

All frozen; times in seconds, pitches as MIDI numbers, audio mono float32 at 48 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SAMPLE_RATE",
    "Decision",
    "Evidence",
    "MusicPlan",
    "Note",
    "Part",
    "Score",
    "Section",
    "Stem",
    "StemPlan",
    "Style",
]

SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class Evidence:
    """A word of the instruction and what it set (e.g. ``"轻快" -> arousal +0.5``)."""

    word: str
    attribute: str
    value: str | float


@dataclass(frozen=True)
class Style:
    """What the words ask for (S).

    Attributes
    ----------
    instruction
        The text as given.
    language
        ``"zh"``, ``"en"`` or ``"mixed"``.
    valence, arousal
        Mood in [-1, 1] (Russell's circumplex): valence sad..happy, arousal calm..excited.
    tempo_tendency
        -1 (slow) .. 1 (fast), from words like "slow", "轻快" and from mood words.
    tempo_named
        True when a word is about tempo itself ("fast", "slow", "缓慢"), not only a mood
        that leans one way: such words win over the place.
    tempo_bpm, key_tonic, mode, meter
        Explicit values the words gave ("at 90 bpm", "in D minor", "3/4"); None when not said.
    swing
        0 (straight) .. 0.33 (triplet feel), from words like "swing", "shuffle".
    genre
        A style word (``"pop"``, ``"folk"``, ``"ambient"``, ``"classical"``, ``"chinese"``,
        ``"dance"``), or None.
    instruments
        General-MIDI-style instrument names the words asked for (e.g. ``("acoustic_guitar",)``).
    place_tags, ambience_tags
        Place words (``"beach"``, ``"museum"``) and ambiences asked for (``"sea"``).
    evidence
        Which words produced which attribute.
    unknown_words
        Content words the understanding did not know (reported, never fatal).
    """

    instruction: str
    language: str
    valence: float = 0.0
    arousal: float = 0.0
    tempo_tendency: float = 0.0
    tempo_named: bool = False
    tempo_bpm: float | None = None
    key_tonic: str | None = None
    mode: str | None = None
    meter: tuple[int, int] | None = None
    genre: str | None = None
    swing: float = 0.0
    instruments: tuple[str, ...] = ()
    place_tags: tuple[str, ...] = ()
    ambience_tags: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    unknown_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """One musical choice of the plan and why: the value and the features that caused it."""

    attribute: str
    value: str
    because: str
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A part of the form: name (``intro``, ``A``, ``B``, ``outro``), bars, one chord per bar.

    Chords are Roman numerals relative to the plan's key and mode (``"I"``, ``"vi"``,
    ``"V7"``, ``"bVII"``).
    """

    name: str
    bars: int
    chords: tuple[str, ...]
    energy: float = 0.5


@dataclass(frozen=True)
class StemPlan:
    """One part of the arrangement.

    Attributes
    ----------
    role
        ``melody``, ``harmony``, ``bass``, ``drums`` or ``ambience``.
    name
        Unique stem name used for files (``melody``, ``sea`` ...).
    program
        General MIDI program 0..127 (ignored for drums and ambience).
    is_drum
        Drum kit on MIDI channel 10.
    register
        Lowest and highest MIDI pitch.
    gain_db
        Mix level relative to the melody.
    ambience
        Procedural ambience kind for role ``ambience`` (``"sea"``, ...), else None.
    """

    role: str
    name: str
    program: int = 0
    is_drum: bool = False
    register: tuple[int, int] = (48, 84)
    gain_db: float = 0.0
    ambience: str | None = None


@dataclass(frozen=True)
class MusicPlan:
    """(S, E, seed) -> every musical decision, with the reason for each.

    Attributes
    ----------
    key_tonic
        Tonic pitch name, e.g. ``"A"``, ``"F#"``, ``"Bb"``.
    mode
        ``"major"`` or ``"minor"`` (more modes come with the generation issue).
    tempo_bpm
        Quarter-note beats per minute... in the meter's beat unit for x/4 meters.
    meter
        (beats per bar, beat unit), e.g. (4, 4) or (3, 4).
    sections
        The form, in order.
    stems
        The arrangement.
    duration_s
        Target length; the form covers it.
    seed
        Seed of every random choice in composing.
    swing, density
        Swing ratio 0 (straight) .. 0.33; note density 0..1.
    explanation
        Every decision with its cause.
    genre
        The style the arranger plays in (``pop``, ``folk``, ``ambient``, ``classical``,
        ``chinese``, ``dance``): drum grooves and accompaniment patterns follow it.
    loop
        The piece is a seamless loop: whole bars, no intro or outro, its last bar leading
        back into its first, and every stem's tail wrapped onto its start.
    """

    key_tonic: str
    mode: str
    tempo_bpm: float
    meter: tuple[int, int]
    sections: tuple[Section, ...]
    stems: tuple[StemPlan, ...]
    duration_s: float
    seed: int
    swing: float = 0.0
    density: float = 0.5
    explanation: tuple[Decision, ...] = ()
    loop: bool = False
    genre: str = "pop"

    @property
    def key(self) -> str:
        """The key as a name, e.g. ``"A major"``."""
        return f"{self.key_tonic} {self.mode}"

    @property
    def bar_seconds(self) -> float:
        """Length of one bar in seconds."""
        beats, unit = self.meter
        return beats * (4.0 / unit) * 60.0 / self.tempo_bpm


@dataclass(frozen=True)
class Note:
    """A note: MIDI pitch, start and end in seconds, velocity 1..127."""

    pitch: int
    start_s: float
    end_s: float
    velocity: int = 80


@dataclass(frozen=True)
class Part:
    """The notes of one stem."""

    stem: StemPlan
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Score:
    """The composed notes, one part per note-playing stem (ambience stems have no notes)."""

    plan: MusicPlan
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Stem:
    """One dry stem: mono float32 audio at :data:`SAMPLE_RATE`, shape (samples,)."""

    name: str
    role: str
    audio: np.ndarray = field(repr=False)
    sample_rate: int = SAMPLE_RATE
