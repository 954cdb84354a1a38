"""Lyrics: words in the instruction's language, fitted one syllable to a melody note."""

from generation.lyrics.types import LineSlot, LyricLine, Lyrics, Syllable
from generation.lyrics.write import LyricsResult, choose_language, themes_for, write_lyrics

__all__ = [
    "LineSlot",
    "LyricLine",
    "Lyrics",
    "LyricsResult",
    "Syllable",
    "choose_language",
    "themes_for",
    "write_lyrics",
]
