"""The music a session asks for, as data, and the plan that follows from it.

A session's :class:`MusicRequest` gathers everything that shapes its music: the
instruction, style words added by controls, an explicit tempo, energy, and the taste that
likes and dislikes have nudged. :func:`plan_for` turns it, with the place E, into a
looping :class:`generation.MusicPlan` whose explanation says what each control did.
:func:`retempo` and :func:`with_energy` change a plan that is playing without starting a
new section. Pure functions: they run in the generation worker.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import generation
from generation import Decision, MusicPlan, Section, StemPlan
from scene.environment import Environment

__all__ = [
    "CYCLE_BARS",
    "GENRES",
    "TEMPO_STEP",
    "MusicRequest",
    "Taste",
    "disliked",
    "liked",
    "plan_for",
    "retempo",
    "with_energy",
]

#: Bars in one cycle of a session's looping form (A B A B of 4-bar phrases); each cycle
#: after the first is composed with the next seed, so the melody keeps changing.
CYCLE_BARS = 16
#: A tempo control's step: up multiplies the tempo by 1 + TEMPO_STEP, down divides.
TEMPO_STEP = 0.1
#: The genres the planner plays in, in the order a dislike tries them.
GENRES = ("pop", "folk", "classical", "ambient", "dance", "chinese")
_DRUMS_IN_ENERGY = 0.65
_DRUMS_OUT_ENERGY = 0.3
_TASTE_STEP = 0.25


@dataclass(frozen=True)
class Taste:
    """What likes and dislikes taught the session.

    Attributes
    ----------
    liked_genre
        A genre liked; kept when the words name none.
    disliked_genres
        Genres disliked; not chosen again unless the words name them.
    arousal_shift
        Added to the words' arousal, in [-1, 1]: dislikes of lively music calm it.
    notes
        What was learned, in words, for the explanation.
    """

    liked_genre: str | None = None
    disliked_genres: tuple[str, ...] = ()
    arousal_shift: float = 0.0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MusicRequest:
    """Everything a session's listener has asked of the music.

    Attributes
    ----------
    instruction
        The words (a hello's instruction, or a new one from a control).
    style_words
        Words added by ``style`` controls since the instruction.
    tempo_bpm
        An explicit tempo from a tempo control, or None.
    energy
        0 (calm, sparse) .. 1 (dense, with drums); None leaves it to the words.
    taste
        See :class:`Taste`.
    seed
        The session's seed.
    """

    instruction: str
    style_words: tuple[str, ...] = ()
    tempo_bpm: float | None = None
    energy: float | None = None
    taste: Taste = Taste()
    seed: int = 0


def plan_for(request: MusicRequest, environment: Environment) -> MusicPlan:
    """A looping plan of :data:`CYCLE_BARS` bars for what the session asks, in its place.

    The explanation is the planner's, followed by one line for each control and each
    lesson of the session's taste that changed the music.
    """
    text = request.instruction
    if request.style_words:
        text = f"{text}, {', '.join(request.style_words)}"
    style = generation.understand(text)
    taste = request.taste
    why: list[Decision] = []
    if taste.arousal_shift:
        arousal = max(-1.0, min(1.0, style.arousal + taste.arousal_shift))
        style = replace(style, arousal=arousal)
        why.append(
            Decision(
                "arousal",
                f"{arousal:+.2f}",
                f"shifted by {taste.arousal_shift:+.2f} from the listener's dislikes",
                ("session.taste",),
            )
        )
    if style.genre is None or style.genre in taste.disliked_genres:
        named = style.genre is not None
        if taste.liked_genre is not None and not named:
            style = replace(style, genre=taste.liked_genre)
            why.append(
                Decision("genre", taste.liked_genre, "the listener liked it", ("session.taste",))
            )
        elif taste.disliked_genres and not named:
            probe = generation.make_plan(style, environment, seed=request.seed, duration_s=60)
            if probe.genre in taste.disliked_genres:
                choice = next(g for g in GENRES if g not in taste.disliked_genres)
                style = replace(style, genre=choice)
                why.append(
                    Decision(
                        "genre",
                        choice,
                        f"the listener disliked {', '.join(taste.disliked_genres)}",
                        ("session.taste",),
                    )
                )
    if request.tempo_bpm is not None:
        style = replace(style, tempo_bpm=request.tempo_bpm, tempo_named=True)
    probe = generation.make_plan(style, environment, seed=request.seed, duration_s=60, loop=True)
    plan = generation.make_plan(
        style,
        environment,
        seed=request.seed,
        duration_s=CYCLE_BARS * probe.bar_seconds,
        loop=True,
    )
    if request.tempo_bpm is not None:
        why.append(
            Decision(
                "tempo",
                f"{request.tempo_bpm:.0f} bpm",
                "set by the listener's tempo control",
                ("session.control",),
            )
        )
    if request.style_words:
        why.append(
            Decision(
                "style",
                ", ".join(request.style_words),
                "words added by the listener's style control",
                ("session.control",),
            )
        )
    plan = replace(plan, explanation=plan.explanation + tuple(why))
    if request.energy is not None:
        plan = with_energy(plan, request.energy)
    return plan


def retempo(plan: MusicPlan, tempo_bpm: float, *, because: str) -> MusicPlan:
    """The same plan at another tempo: same form, chords, parts and seed."""
    cycle = sum(section.bars for section in plan.sections)
    beats, unit = plan.meter
    bar_s = beats * (4.0 / unit) * 60.0 / tempo_bpm
    decision = Decision("tempo", f"{tempo_bpm:.0f} bpm", because, ("session.control",))
    return replace(
        plan,
        tempo_bpm=float(tempo_bpm),
        duration_s=cycle * bar_s,
        explanation=_replacing(plan.explanation, decision),
    )


def with_energy(plan: MusicPlan, energy: float) -> MusicPlan:
    """The same plan played with more or less energy: density, dynamics, and the drums.

    Energy 0.5 leaves the plan's density; each 0.1 above or below moves it by 0.06. From
    0.65 a drum kit joins (when the plan has none); below 0.3 it leaves.
    """
    if not 0.0 <= energy <= 1.0:
        raise ValueError(f"energy: got {energy}; must be in [0, 1]")
    density = round(min(0.9, max(0.15, plan.density + 0.6 * (energy - 0.5))), 3)
    sections = tuple(
        Section(s.name, s.bars, s.chords, round(min(1.0, max(0.1, energy * 0.6 + 0.3)), 3))
        for s in plan.sections
    )
    stems = plan.stems
    has_drums = any(stem.role == "drums" for stem in stems)
    change = f"density {density:.2f}"
    if energy >= _DRUMS_IN_ENERGY and not has_drums:
        stems = (*stems, StemPlan("drums", "drums", 0, is_drum=True, gain_db=-5.0))
        change += ", drums enter"
    elif energy < _DRUMS_OUT_ENERGY and has_drums:
        stems = tuple(stem for stem in stems if stem.role != "drums")
        change += ", drums leave"
    decision = Decision(
        "energy", f"{energy:.2f}", f"set by the listener: {change}", ("session.control",)
    )
    return replace(
        plan,
        density=density,
        sections=sections,
        stems=stems,
        explanation=_replacing(plan.explanation, decision),
    )


def liked(taste: Taste, plan: MusicPlan) -> Taste:
    """The taste after a like of what is playing: its genre is kept from now on."""
    note = f"liked {plan.genre} at {plan.tempo_bpm:.0f} bpm in {plan.key}: kept"
    return replace(
        taste,
        liked_genre=plan.genre,
        disliked_genres=tuple(g for g in taste.disliked_genres if g != plan.genre),
        notes=(*taste.notes, note)[-5:],
    )


def disliked(taste: Taste, plan: MusicPlan, *, arousal: float) -> Taste:
    """The taste after a dislike: this genre is avoided, and the mood moves toward calm or
    lively, away from where it was (``arousal`` of the music disliked)."""
    shift = taste.arousal_shift + (-_TASTE_STEP if arousal > 0 else _TASTE_STEP)
    shift = max(-1.0, min(1.0, shift))
    disliked_genres = (*[g for g in taste.disliked_genres if g != plan.genre], plan.genre)
    if len(disliked_genres) >= len(GENRES):
        disliked_genres = disliked_genres[1:]
    direction = "calmer" if shift < taste.arousal_shift else "livelier"
    note = f"disliked {plan.genre} at {plan.tempo_bpm:.0f} bpm: another genre, {direction}"
    return Taste(
        liked_genre=None if taste.liked_genre == plan.genre else taste.liked_genre,
        disliked_genres=disliked_genres,
        arousal_shift=shift,
        notes=(*taste.notes, note)[-5:],
    )


def _replacing(explanation: tuple[Decision, ...], decision: Decision) -> tuple[Decision, ...]:
    """The explanation with earlier session decisions on the same attribute replaced."""
    kept = tuple(
        d
        for d in explanation
        if not (d.attribute == decision.attribute and "session.control" in d.features)
    )
    return (*kept, decision)
