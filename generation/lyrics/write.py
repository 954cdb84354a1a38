"""Plan + score -> Lyrics: themes from the words and the place, lines fitted to the melody.

The generator behind one interface is the built-in grammar (:mod:`generation.lyrics.grammar`)
or a local language model (:mod:`generation.lyrics.lm`); either way every line is checked
by the content policy after it is written, and a refused line is written again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from generation.lyrics.fit import line_slots, vocal_part
from generation.lyrics.grammar import (
    THEMES,
    ChosenLine,
    choose_line,
    rhymes_available,
    words_of,
)
from generation.lyrics.phonetics import (
    chinese_final,
    chinese_initial,
    english_word,
    split_written_syllables,
)
from generation.lyrics.types import LineSlot, LyricLine, Lyrics, Syllable
from generation.safety import LineDecision, check_text
from generation.types import MusicPlan, Part, Score, Style

__all__ = ["LyricsResult", "choose_language", "themes_for", "write_lyrics"]

# Place and topic words -> themes of the bank.
_THEME_WORDS: dict[str, tuple[str, ...]] = {
    "beach": (
        "beach",
        "sea",
        "ocean",
        "coast",
        "shore",
        "island",
        "海滩",
        "沙滩",
        "海边",
        "大海",
        "海",
    ),
    "museum": (
        "museum",
        "hall",
        "gallery",
        "history",
        "temple",
        "church",
        "palace",
        "博物馆",
        "大厅",
        "展厅",
        "历史",
        "宫殿",
    ),
    "forest": (
        "forest",
        "park",
        "garden",
        "tree",
        "trees",
        "woods",
        "森林",
        "公园",
        "花园",
        "树林",
    ),
    "night": (
        "night",
        "moon",
        "star",
        "stars",
        "city",
        "evening",
        "夜",
        "夜晚",
        "月亮",
        "星",
        "城市",
    ),
}
_MAX_REWRITES = 12
_PAD = {"en": "la", "zh": "啦"}

#: A function that writes one line: (slot, rhyme or None, used end words, rejected texts)
#: -> the line's text and rhyme, or None when it cannot.
LineWriter = Callable[[LineSlot, str | None, frozenset[str], frozenset[str]], ChosenLine | None]


@dataclass(frozen=True)
class LyricsResult:
    """The lyrics, the vocal part they are sung on, and the output check's decisions."""

    lyrics: Lyrics
    vocal: Part
    decisions: tuple[LineDecision, ...]
    lines_checked: int


def choose_language(style: Style, requested: str | None) -> str:
    """The lyrics' language: the one asked for, else the instruction's (Chinese if mixed)."""
    if requested is not None:
        if requested not in ("en", "zh"):
            raise ValueError(f"lyrics language: got {requested!r}; allowed: en, zh")
        return requested
    return "en" if style.language == "en" else "zh"


def themes_for(style: Style, places: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Themes from the place (first) and the instruction's words, then ``general``."""
    found: list[str] = []
    text = style.instruction.lower()
    for theme, words in _THEME_WORDS.items():
        if any(p in words for p in (*places, *style.place_tags)):
            found.append(theme)
    for theme, words in _THEME_WORDS.items():
        if theme not in found and any(w in text for w in words if len(w) > 2 or not w.isascii()):
            found.append(theme)
    return (*found, "general")


def write_lyrics(
    plan: MusicPlan,
    score: Score,
    style: Style,
    *,
    language: str,
    places: tuple[str, ...] = (),
    writer: Callable[..., LineWriter] | None = None,
    generator_name: str = "built-in grammar",
) -> LyricsResult:
    """Write lyrics for a score's melody.

    Parameters
    ----------
    plan, score
        The piece; its melody is sung, its form gives verses and chorus.
    style
        The words' style (themes from its words and place tags).
    language
        ``"en"`` or ``"zh"``.
    places
        Place words perceived in the environment.
    writer
        Makes the line writer from ``(language, themes, rng)``; None uses the built-in
        grammar.
    generator_name
        How plan.json names the generator.

    Returns
    -------
    LyricsResult
    """
    if language not in ("en", "zh"):
        raise ValueError(f"language={language!r}; lyrics are written in 'en' or 'zh'")
    themes = themes_for(style, places)
    rng = np.random.default_rng([plan.seed, 0x6C797269])
    vocal = vocal_part(score)
    slots = line_slots(plan, vocal.notes, language=language)
    line_writer = (writer or _grammar_writer)(language, themes, rng)
    rhymes: dict[int, str] = {}
    used: dict[int, set[str]] = {}
    chorus: dict[tuple[int, int], LyricLine] = {}
    lines: list[LyricLine] = []
    decisions: list[LineDecision] = []
    checked = 0
    chorus_index = -1
    previous_occurrence = -1
    for slot in slots:
        if slot.section == "chorus":
            if slot.occurrence != previous_occurrence:
                chorus_index = 0
                previous_occurrence = slot.occurrence
            else:
                chorus_index += 1
            earlier = chorus.get((0, chorus_index))
            if earlier is not None and len(earlier.syllables) == len(slot.notes):
                # The chorus comes round with the same words when its melody allows.
                lines.append(_fitted(earlier.text, earlier.rhyme, slot, language))
                continue
        rhyme = rhymes.get(slot.rhyme_group)
        if rhyme is None:
            choices = rhymes_available(language, themes, size=2 if language == "en" else 3)
            rhyme = choices[int(rng.integers(len(choices)))] if choices else None
        rejected: set[str] = set()
        line: LyricLine | None = None
        for _ in range(_MAX_REWRITES):
            chosen = _write_fitting(
                line_writer,
                slot,
                rhyme,
                frozenset(used.get(slot.rhyme_group, ())),
                frozenset(rejected),
                language,
            )
            checked += 1
            verdict = check_text(chosen.text)
            if verdict.allowed:
                line = _fitted(chosen.text, chosen.rhyme, slot, language)
                break
            decisions.append(
                LineDecision(
                    len(lines), verdict.category or "", verdict.hits[0].matched, "replaced"
                )
            )
            rejected.add(chosen.text)
        if line is None:
            # Nothing the writer offers passes: the phrase is sung on "la".
            decisions.append(LineDecision(len(lines), "", "", "dropped"))
            pad = (
                " ".join([_PAD[language]] * len(slot.notes))
                if language == "en"
                else (_PAD[language] * len(slot.notes))
            )
            line = _fitted(pad, "", slot, language)
        rhymes.setdefault(slot.rhyme_group, line.rhyme)
        used.setdefault(slot.rhyme_group, set()).add(
            words_of(line.text, language)[-1].lower() if line.text else ""
        )
        if slot.section == "chorus" and slot.occurrence == 0:
            chorus[(0, chorus_index)] = line
        lines.append(line)
    explanation = (
        f"themes: {', '.join(themes)} (from the place and the words)",
        f"form: {_form_summary(lines)}; one {'syllable' if language == 'en' else 'character'} "
        "per melody note",
        "rhyme: couplets (AABB) by CMU rhyming part"
        if language == "en"
        else "rhyme: one 十三辙 class per section (一韵到底)",
    )
    lyrics = Lyrics(language, tuple(lines), themes, generator_name, explanation)
    # Only the notes that carry a syllable are sung (intro and outro stay instrumental).
    sung = Part(vocal.stem, tuple(s.note for s in lyrics.syllables))
    return LyricsResult(lyrics, sung, tuple(decisions), checked)


def _grammar_writer(language: str, themes: tuple[str, ...], rng: np.random.Generator) -> LineWriter:
    sung: dict[str, set[str]] = {}  # clauses used per section, not repeated in it

    def write(
        slot: LineSlot, rhyme: str | None, used: frozenset[str], rejected: frozenset[str]
    ) -> ChosenLine | None:
        clauses = sung.setdefault(slot.section, set())
        chosen = choose_line(
            language=language,
            themes=themes,
            syllables=len(slot.notes),
            strong=slot.strong,
            rhyme=rhyme,
            used_ends=used,
            rng=rng,
            reject=rejected,
            avoid=frozenset(clauses),
        )
        if chosen is not None:
            clauses.update(p.text for p in chosen.phrases)
        return chosen

    return write


def _write_fitting(
    writer: LineWriter,
    slot: LineSlot,
    rhyme: str | None,
    used: frozenset[str],
    rejected: frozenset[str],
    language: str,
) -> ChosenLine:
    """A line for the slot; when none fits exactly, a shorter one after "la"s."""
    chosen = writer(slot, rhyme, used, rejected)
    if chosen is not None:
        return chosen
    for pad in range(1, len(slot.notes)):
        shorter = LineSlot(
            slot.section, slot.notes[pad:], slot.strong[pad:], slot.rhyme_group, slot.occurrence
        )
        chosen = writer(shorter, rhyme, used, rejected)
        if chosen is None and rhyme is not None:
            chosen = writer(shorter, None, used, rejected)
        if chosen is not None:
            sep = " " if language == "en" else ""
            text = sep.join([_PAD[language]] * pad) + sep + chosen.text
            return ChosenLine(chosen.phrases, text, chosen.rhyme, chosen.stress_fit)
    text = (" " if language == "en" else "").join([_PAD[language]] * len(slot.notes))
    return ChosenLine((), text, rhyme or "", 0.0)


def _fitted(text: str, rhyme: str, slot: LineSlot, language: str) -> LyricLine:
    """The line's words on the slot's notes, one syllable each."""
    syllables: list[Syllable] = []
    notes = iter(zip(slot.notes, slot.strong, strict=True))
    if language == "zh":
        chars = words_of(text, "zh")
        for char in chars:
            note, strong = next(notes)
            final = chinese_final(char, context="".join(chars))
            initial = chinese_initial(char)
            syllables.append(
                Syllable(
                    char, char, "single", note, True, strong, final, (initial,) if initial else ()
                )
            )
    else:
        for word in words_of(text, "en"):
            reading = english_word(word)
            pieces = split_written_syllables(word, reading.syllables)
            for k in range(reading.syllables):
                note, strong = next(notes)
                if reading.syllables == 1:
                    syllabic = "single"
                else:
                    syllabic = (
                        "begin" if k == 0 else "end" if k == reading.syllables - 1 else "middle"
                    )
                syllables.append(
                    Syllable(
                        pieces[k],
                        word,
                        syllabic,
                        note,
                        bool(reading.stresses[k]),
                        strong,
                        reading.vowels[k],
                        reading.onsets[k] if k < len(reading.onsets) else (),
                    )
                )
    if len(syllables) != len(slot.notes):
        raise RuntimeError(
            f"line {text!r} has {len(syllables)} syllables for {len(slot.notes)} notes"
        )
    return LyricLine(slot.section, text, tuple(syllables), rhyme)


def _form_summary(lines: list[LyricLine]) -> str:
    sections: list[str] = []
    for line in lines:
        if not sections or sections[-1] != line.section:
            sections.append(line.section)
    return ", ".join(sections)


__all__ += ["THEMES"]
