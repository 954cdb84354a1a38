"""Lyrics as they cross generation's border: lines of syllables, each on one melody note."""

from __future__ import annotations

from dataclasses import dataclass

from generation.types import Note

__all__ = ["LineSlot", "LyricLine", "Lyrics", "Syllable"]


@dataclass(frozen=True)
class LineSlot:
    """A line of the song before its words: the notes of one melodic phrase.

    Attributes
    ----------
    section
        ``"verse 1"``, ``"verse 2"``, ``"chorus"`` ...
    notes
        The vocal notes of the phrase, one syllable each.
    strong
        Per note: True when it falls on a strong beat (the downbeat, or beat 3 of 4/4).
    rhyme_group
        Lines with the same group end on the same rhyme.
    occurrence
        For a chorus, which time it comes round (0 first); verses are 0.
    """

    section: str
    notes: tuple[Note, ...]
    strong: tuple[bool, ...]
    rhyme_group: int
    occurrence: int = 0


@dataclass(frozen=True)
class Syllable:
    """One sung syllable on one note.

    Attributes
    ----------
    text
        As written under the note: a character (``"海"``) or a piece of a word (``"o"``,
        ``"cean"``).
    word
        The word it belongs to.
    syllabic
        MusicXML's ``single``, ``begin``, ``middle`` or ``end``.
    note
        The note it is sung on (pitch, seconds).
    stressed
        English lexical stress (CMU); True for every Chinese character.
    strong_beat
        The note falls on a strong beat.
    vowel
        What is sung: a CMU vowel without stress (``"IY"``) or a pinyin final (``"ang"``).
    onset
        The consonants before the vowel: CMU phones (``("S", "T")``) or a pinyin initial
        (``("sh",)``); empty for none.
    """

    text: str
    word: str
    syllabic: str
    note: Note
    stressed: bool
    strong_beat: bool
    vowel: str
    onset: tuple[str, ...]


@dataclass(frozen=True)
class LyricLine:
    """One line: its words, its syllables on their notes, its section and its rhyme."""

    section: str
    text: str
    syllables: tuple[Syllable, ...]
    rhyme: str

    @property
    def start_s(self) -> float:
        """When the line's first syllable is sung, seconds."""
        return self.syllables[0].note.start_s


@dataclass(frozen=True)
class Lyrics:
    """The words of a song, fitted to its vocal line.

    Attributes
    ----------
    language
        ``"en"`` or ``"zh"``.
    lines
        In the order sung.
    themes
        The themes the words came from (``("beach", "general")``).
    generator
        ``"built-in grammar"`` or the lyrics model's folder.
    explanation
        Why: themes, form, rhyme scheme, the model's decoding record.
    """

    language: str
    lines: tuple[LyricLine, ...]
    themes: tuple[str, ...]
    generator: str
    explanation: tuple[str, ...] = ()

    @property
    def syllables(self) -> tuple[Syllable, ...]:
        """Every syllable in order."""
        return tuple(s for line in self.lines for s in line.syllables)
