"""A sung part for a piece: lyrics written and checked, the vocal line, the voice's stem."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from generation.lyrics.types import Lyrics
from generation.lyrics.write import choose_language, write_lyrics
from generation.safety import LineDecision
from generation.types import MusicPlan, Part, Score, Stem, Style

__all__ = ["Vocals", "add_vocals", "vocals_to_dict"]


@dataclass(frozen=True)
class Vocals:
    """What singing adds to a piece.

    Attributes
    ----------
    lyrics
        The words on their notes.
    part
        The vocal line (a ``vocal`` part for score.mid).
    stem
        The voice's dry stem (role ``vocal``).
    decisions, lines_checked
        The output check: lines it refused and what was done, lines it read.
    suppressed_words
        Blocked words that the lyrics model was kept from producing while decoding.
    model
        The lyrics model's record (folder, decoding), or None for the built-in grammar.
    """

    lyrics: Lyrics
    part: Part
    stem: Stem
    decisions: tuple[LineDecision, ...]
    lines_checked: int
    suppressed_words: int = 0
    model: dict | None = field(default=None)


def add_vocals(
    plan: MusicPlan,
    score: Score,
    style: Style,
    *,
    language: str | None = None,
    places: tuple[str, ...] = (),
    model_dir: Path | None = None,
) -> Vocals:
    """Write lyrics for the score's melody and sing them.

    Parameters
    ----------
    plan, score, style
        The piece and the words' style.
    language
        ``"en"``, ``"zh"``, or None for the instruction's language.
    places
        Place words perceived in the environment (themes).
    model_dir
        A local causal language model (transformers format) to write the lines; None uses
        the built-in grammar.
    """
    from generation.voice import sing

    chosen = choose_language(style, language)
    model_record = None
    suppressed = 0
    if model_dir is None:
        result = write_lyrics(plan, score, style, language=chosen, places=places)
    else:
        from generation.lyrics.lm import LyricsModel

        model = LyricsModel.load(model_dir, seed=plan.seed)
        result = write_lyrics(
            plan,
            score,
            style,
            language=chosen,
            places=places,
            writer=model.writer(plan, style),
            generator_name=f"language model: {Path(model_dir).resolve()}",
        )
        model_record = model.record()
        suppressed = model.suppressed_words
    stem = sing(result.lyrics, duration_s=plan.duration_s, seed=plan.seed)
    return Vocals(
        lyrics=result.lyrics,
        part=result.vocal,
        stem=stem,
        decisions=result.decisions,
        lines_checked=result.lines_checked,
        suppressed_words=suppressed,
        model=model_record,
    )


def vocals_to_dict(vocals: Vocals) -> dict:
    """plan.json's ``lyrics`` entry: language, generator, themes, lines, the fit figures."""
    syllables = vocals.lyrics.syllables
    strong = [s for s in syllables if s.strong_beat]
    stressed_on_strong = sum(s.stressed for s in strong) / len(strong) if strong else None
    return {
        "language": vocals.lyrics.language,
        "generator": vocals.lyrics.generator,
        "themes": list(vocals.lyrics.themes),
        "explanation": list(vocals.lyrics.explanation),
        "syllables": len(syllables),
        "notes": len(vocals.part.notes),
        "stressed_on_strong_beats": stressed_on_strong,
        "vocal_stem": asdict(vocals.part.stem),
        "model": vocals.model,
        "lines": [
            {
                "section": line.section,
                "start_s": round(line.start_s, 3),
                "text": line.text,
                "syllables": len(line.syllables),
                "rhyme": line.rhyme,
            }
            for line in vocals.lyrics.lines
        ],
    }
