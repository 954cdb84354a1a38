"""(S, E, seed) -> MusicPlan: every musical decision, and the words or features behind it.

The rules, each recorded in the plan's explanation when it acts:

- Mood: valence chooses the mode (major above -0.15); arousal and tempo words set the
  tempo (about 58..160 bpm) and the note density.
- Reverberation: a long RT60 slows the music, thins it, and drops the drums, because fast,
  dense music smears in a reverberant hall (Hidaka et al. found listeners prefer longer
  reverberation for slower music); explicit tempo words or values win over the room.
- Light: bright, warm surroundings (camera frames) brighten a neutral mood toward major
  and lift the register.
- Place: a beach brings the sea and an acoustic, folk-like band; explicit genre words win.
- Explicit values in the words (bpm, key, metre) win over everything.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from generation.harmony import PARENT_MODE
from generation.lexicon import INSTRUMENT_PROGRAMS, PLACE_AMBIENCE
from generation.types import Decision, MusicPlan, Section, StemPlan, Style
from scene.environment import Environment

__all__ = ["AMBIENCES", "make_plan", "plan_to_dict", "style_to_dict"]

#: Ambiences that generation.ambience can synthesise.
AMBIENCES: tuple[str, ...] = ("sea", "wind", "rain", "birds", "water", "crowd")

_MAJOR_TONICS = ("C", "D", "Eb", "F", "G", "A", "Bb")
_MINOR_TONICS = ("A", "B", "C", "D", "E", "F#", "G")

# (melody, harmony, bass) General MIDI programs per genre.
_GENRE_BAND: dict[str, tuple[int, int, int]] = {
    "pop": (0, 25, 33),
    "folk": (73, 25, 32),
    "classical": (40, 0, 42),
    "ambient": (4, 46, 89),
    "chinese": (110, 107, 42),
    "dance": (81, 4, 38),
}
_MELODIC = frozenset(
    {
        "piano",
        "violin",
        "cello",
        "flute",
        "dizi",
        "erhu",
        "saxophone",
        "trumpet",
        "clarinet",
        "oboe",
        "synth_lead",
        "marimba",
        "vibraphone",
        "harp",
        "pan_flute",
        "music_box",
        "horn",
    }
)
_ACCOMPANYING = frozenset(
    {
        "acoustic_guitar",
        "steel_guitar",
        "electric_guitar",
        "strings",
        "pad",
        "organ",
        "guzheng",
        "electric_piano",
        "accordion",
        "choir",
    }
)
_PROGRESSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "major": {
        "intro": ("I", "V"),
        "A": ("I", "V", "vi", "IV", "I", "IV", "V", "I"),
        "B": ("vi", "IV", "I", "V", "vi", "IV", "ii", "V"),
        "outro": ("IV", "V7", "I", "I"),
    },
    "minor": {
        "intro": ("i", "V"),
        "A": ("i", "VI", "III", "VII", "i", "iv", "V", "i"),
        "B": ("iv", "i", "VI", "V", "iv", "i", "VI", "V"),
        "outro": ("iv", "V7", "i", "i"),
    },
    "dorian": {
        "intro": ("i", "IV"),
        "A": ("i", "IV", "i", "VII", "i", "IV", "V", "i"),
        "B": ("III", "VII", "IV", "i", "III", "IV", "VII", "V"),
        "outro": ("IV", "V7", "i", "i"),
    },
    "mixolydian": {
        "intro": ("I", "VII"),
        "A": ("I", "VII", "IV", "I", "I", "VII", "V", "I"),
        "B": ("IV", "I", "VII", "IV", "vi", "IV", "VII", "V"),
        "outro": ("IV", "VII", "V7", "I"),
    },
}
# Modes without progressions of their own borrow those of the nearest major or minor.
_PROGRESSION_FAMILY = {"phrygian": "minor"}
_LONG_REVERB_S = 1.2
_NO_DRUMS_REVERB_S = 1.8


def make_plan(
    style: Style, environment: Environment, *, seed: int, duration_s: float, loop: bool = False
) -> MusicPlan:
    """Decide key, mode, tempo, metre, form, chords and parts for a style in a place.

    Parameters
    ----------
    style
        What the words asked for (see :func:`generation.understand.understand`).
    environment
        The place (E); reverberation, light and place tags act on the music.
    seed
        Seeds the choices left open (the tonic, the arranger's notes).
    duration_s
        Length of the piece, seconds (> 0). A loop is rounded to whole bars.
    loop
        Plan a seamless loop (see :attr:`MusicPlan.loop`).

    Returns
    -------
    MusicPlan
        With an explanation entry for every decision.
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s: got {duration_s!r}; must be > 0 seconds")
    rng = np.random.default_rng(seed)
    why: list[Decision] = []
    rt60 = environment.value("rt60_mid_s")
    brightness = environment.value("brightness")
    warmth = environment.value("warmth")
    places = tuple(style.place_tags) + tuple(environment.value("place_tags", None) or ())
    words_set_tempo = style.tempo_named

    valence = style.valence
    register_shift = 0
    if brightness is not None and warmth is not None and brightness > 0.6 and warmth > 0:
        if abs(style.valence) < 0.5:
            valence += 0.2
            why.append(
                Decision(
                    "valence",
                    f"{valence:+.2f}",
                    "bright, warm surroundings lift a neutral mood",
                    ("brightness", "warmth"),
                )
            )
        register_shift = 2
        why.append(
            Decision(
                "register",
                "+2 semitones",
                "bright, warm surroundings: a brighter register",
                ("brightness", "warmth"),
            )
        )

    mode = style.mode or ("major" if valence > -0.15 else "minor")
    why.append(_mode_reason(style, mode, valence))
    if style.mode is None and style.genre == "chinese":
        mode = "gong" if mode == "major" else "yu"
        why.append(
            Decision(
                "mode",
                mode,
                "Chinese traditional style: pentatonic, 宫 (gong) "
                "for a bright mood, 羽 (yu) for a dark one",
                ("style.genre", "style.valence"),
            )
        )
    tonic = style.key_tonic or str(rng.choice(_MAJOR_TONICS if mode == "major" else _MINOR_TONICS))
    why.append(
        Decision(
            "key",
            f"{tonic} {mode}",
            "set explicitly (in the words or the scene file)"
            if style.key_tonic
            else "tonic drawn with the seed; the mode decides the key's colour",
            ("style.key",) if style.key_tonic else ("seed",),
        )
    )

    genre = style.genre
    if genre is None:
        if "beach" in places:
            genre = "folk"
            why.append(
                Decision(
                    "genre", genre, "a beach: acoustic guitar and a light band", ("place_tags",)
                )
            )
        elif style.arousal > 0.3:
            genre = "pop"
        elif style.arousal < -0.3:
            genre = "ambient" if not places else "classical"
        else:
            genre = "pop"
        if not why or why[-1].attribute != "genre":
            why.append(
                Decision(
                    "genre",
                    genre,
                    "from the mood (arousal) as no genre was named",
                    ("style.arousal",),
                )
            )
    else:
        why.append(Decision("genre", genre, "named in the words", ("style.genre",)))

    tempo = _tempo(style, genre, why)
    density = float(np.clip(0.5 + 0.3 * style.arousal, 0.2, 0.9))
    legato = False
    if rt60 is not None and rt60 > _LONG_REVERB_S:
        strength = min(1.0, (rt60 - _LONG_REVERB_S) / 1.3)
        density = round(density * (1.0 - 0.4 * strength), 3)
        legato = True
        if words_set_tempo:
            why.append(
                Decision(
                    "tempo",
                    f"{tempo:.0f} bpm",
                    f"kept: this tempo was asked for "
                    f"explicitly, which wins over the room's RT60 of {rt60:.1f} s",
                    ("rt60_mid_s", "style.tempo"),
                )
            )
        else:
            tempo = round(tempo * (1.0 - 0.15 * strength))
            why.append(
                Decision(
                    "tempo",
                    f"{tempo:.0f} bpm",
                    f"slowed by {15 * strength:.0f}% "
                    f"for an RT60 of {rt60:.1f} s: slow music suits long "
                    "reverberation (Hidaka)",
                    ("rt60_mid_s",),
                )
            )
        why.append(
            Decision(
                "density",
                f"{density:.2f}",
                f"thinned and legato for an RT60 of {rt60:.1f} s, so notes do not smear",
                ("rt60_mid_s",),
            )
        )
    meter = style.meter or (4, 4)
    why.append(
        Decision(
            "meter",
            f"{meter[0]}/{meter[1]}",
            "set explicitly (in the words or the scene file)" if style.meter else "common time",
            ("style.meter",) if style.meter else (),
        )
    )

    stems = _stems(style, genre, mode, rt60, register_shift, places, why)
    if style.swing:
        why.append(
            Decision(
                "swing",
                f"{style.swing:.2f}",
                "asked for in the words: off-beat eighths are played late",
                ("style.swing",),
            )
        )
    bar_s = meter[0] * (4.0 / meter[1]) * 60.0 / tempo
    if loop:
        bars = max(4, round(duration_s / bar_s))
        duration_s = bars * bar_s
        sections = _loop_form(bars, mode)
        why.append(
            Decision(
                "loop",
                f"{bars} bars = {duration_s:.3f} s",
                "a loop is whole bars "
                "with no intro or outro; it ends on the dominant, which leads back "
                "into the tonic of its first bar",
                ("loop",),
            )
        )
    else:
        # Whole bars that fit: the last chord then rings out within the duration, never cut.
        sections = _form(max(2, int(duration_s / bar_s)), mode)
    why.append(
        Decision(
            "form",
            " ".join(f"{s.name}({s.bars})" for s in sections),
            f"{sum(s.bars for s in sections)} bars of {bar_s:.2f} s fill "
            f"{duration_s:g} s; sections end on cadences",
            ("duration",),
        )
    )
    return MusicPlan(
        key_tonic=tonic,
        mode=mode,
        tempo_bpm=float(tempo),
        meter=meter,
        sections=sections,
        stems=stems,
        duration_s=float(duration_s),
        seed=seed,
        swing=style.swing,
        density=density if not legato else min(density, 0.45),
        explanation=tuple(why),
        loop=loop,
        genre=genre,
    )


def _mode_reason(style: Style, mode: str, valence: float) -> Decision:
    if style.mode:
        return Decision(
            "mode", mode, "set explicitly (in the words or the scene file)", ("style.mode",)
        )
    mood = "bright" if mode == "major" else "dark"
    return Decision(
        "mode", mode, f"valence {valence:+.2f} asks for a {mood} mode", ("style.valence",)
    )


def _tempo(style: Style, genre: str, why: list[Decision]) -> float:
    if style.tempo_bpm is not None:
        why.append(
            Decision(
                "tempo",
                f"{style.tempo_bpm:.0f} bpm",
                "set explicitly (in the words or the scene file)",
                ("style.tempo_bpm",),
            )
        )
        return float(style.tempo_bpm)
    tempo = 100.0 + 30.0 * style.arousal + 22.0 * style.tempo_tendency
    if genre == "dance":
        tempo = max(tempo, 118.0)
    if genre == "ambient":
        tempo = min(tempo, 80.0)
    tempo = float(round(np.clip(tempo, 58.0, 160.0)))
    why.append(
        Decision(
            "tempo",
            f"{tempo:.0f} bpm",
            f"arousal {style.arousal:+.2f} and tempo "
            f"words {style.tempo_tendency:+.2f} (genre {genre})",
            ("style.arousal", "style.tempo_tendency"),
        )
    )
    return tempo


def _stems(
    style: Style,
    genre: str,
    mode: str,
    rt60: float | None,
    register_shift: int,
    places: tuple[str, ...],
    why: list[Decision],
) -> tuple[StemPlan, ...]:
    melody, harmony, bass = _GENRE_BAND[genre]
    asked = [name for name in style.instruments if name != "drums"]
    for name in asked:
        if name in _MELODIC:
            melody = INSTRUMENT_PROGRAMS[name]
            why.append(Decision("melody", name, "asked for in the words", ("style.instruments",)))
            break
    for name in asked:
        if name in _ACCOMPANYING:
            harmony = INSTRUMENT_PROGRAMS[name]
            why.append(Decision("harmony", name, "asked for in the words", ("style.instruments",)))
            break
    low = 0 if PARENT_MODE[mode] in ("major", "mixolydian") else -3
    stems = [
        StemPlan(
            "melody",
            "melody",
            melody,
            register=(64 + low + register_shift, 84 + low + register_shift),
        ),
        StemPlan("harmony", "harmony", harmony, register=(50, 72), gain_db=-5.0),
        StemPlan("bass", "bass", bass, register=(33, 52), gain_db=-3.0),
    ]
    asked_drums = "drums" in style.instruments or genre == "dance"
    if asked_drums or (style.arousal > 0.2 and genre not in ("ambient", "classical")):
        if rt60 is not None and rt60 > _NO_DRUMS_REVERB_S and not asked_drums:
            why.append(
                Decision(
                    "drums",
                    "none",
                    f"an RT60 of {rt60:.1f} s would smear a drum kit",
                    ("rt60_mid_s",),
                )
            )
        else:
            stems.append(StemPlan("drums", "drums", 0, is_drum=True, gain_db=-5.0))
            why.append(
                Decision(
                    "drums",
                    "kit",
                    "asked for"
                    if asked_drums
                    else f"arousal {style.arousal:+.2f}: a rhythm section",
                    ("style.instruments",) if asked_drums else ("style.arousal",),
                )
            )
    else:
        why.append(Decision("drums", "none", "a calm or classical piece", ("style.arousal",)))
    ambiences = list(style.ambience_tags)
    for place in places:
        ambience = PLACE_AMBIENCE.get(place)
        if ambience is not None and ambience not in ambiences:
            ambiences.append(ambience)
    for kind in ambiences:
        if kind in AMBIENCES:
            stems.append(StemPlan("ambience", kind, ambience=kind, gain_db=-9.0))
            why.append(
                Decision(
                    "ambience",
                    kind,
                    "the words or the place call for it",
                    ("style.ambience", "place_tags"),
                )
            )
    return tuple(stems)


def _form(total_bars: int, mode: str) -> tuple[Section, ...]:
    """Intro, alternating 8-bar A and B sections, and an outro, ending on the tonic."""
    parent = PARENT_MODE[mode]
    progressions = _PROGRESSIONS[_PROGRESSION_FAMILY.get(parent, parent)]
    if total_bars < 8:
        chords = progressions["A"][: max(0, total_bars - 2)] + progressions["outro"][-2:]
        return (Section("A", total_bars, chords[-total_bars:], 0.6),)
    intro = 2 if total_bars >= 16 else 0
    outro = 4
    sections: list[Section] = []
    if intro:
        sections.append(Section("intro", intro, progressions["intro"], 0.35))
    left = total_bars - intro - outro
    names = ("A", "B")
    index = 0
    while left > 0:
        bars = min(8, left)
        # A remainder shorter than a phrase joins this section: a two-bar fragment of B
        # before the outro would only blur the cadence.
        if 0 < left - bars < 4:
            bars = left
        name = names[index % 2]
        base = progressions[name]
        chords = tuple(base[i % len(base)] for i in range(bars))
        if bars >= 2 and name == "A":
            tonic = progressions["A"][0]
            chords = (*chords[:-2], "V", tonic)
        energy = 0.6 if name == "A" else 0.8
        sections.append(Section(name, bars, chords, energy))
        left -= bars
        index += 1
    sections.append(Section("outro", outro, progressions["outro"], 0.45))
    return tuple(sections)


def _loop_form(total_bars: int, mode: str) -> tuple[Section, ...]:
    """Alternating A and B sections of whole phrases, the last bar on V (back to I)."""
    parent = PARENT_MODE[mode]
    progressions = _PROGRESSIONS[_PROGRESSION_FAMILY.get(parent, parent)]
    sections: list[Section] = []
    left, index = total_bars, 0
    while left > 0:
        bars = left if left < 12 else 8
        name = ("A", "B")[index % 2]
        base = progressions[name]
        chords = tuple(base[i % len(base)] for i in range(bars))
        sections.append(Section(name, bars, chords, 0.6 if name == "A" else 0.8))
        left -= bars
        index += 1
    last = sections[-1]
    sections[-1] = Section(last.name, last.bars, (*last.chords[:-1], "V"), last.energy)
    return tuple(sections)


def plan_to_dict(plan: MusicPlan) -> dict:
    """The plan as JSON-ready data; ``key``, ``tempo_bpm``, ``meter`` and ``explanation`` on top."""
    return {
        "key": plan.key,
        "tempo_bpm": plan.tempo_bpm,
        "meter": f"{plan.meter[0]}/{plan.meter[1]}",
        "mode": plan.mode,
        "form": [
            {"name": s.name, "bars": s.bars, "chords": list(s.chords), "energy": s.energy}
            for s in plan.sections
        ],
        "stems": [asdict(stem) for stem in plan.stems],
        "density": plan.density,
        "swing": plan.swing,
        "seed": plan.seed,
        "duration_s": plan.duration_s,
        "loop": plan.loop,
        "genre": plan.genre,
        "explanation": [asdict(d) for d in plan.explanation],
    }


def style_to_dict(style: Style) -> dict:
    """The style S as JSON-ready data, with its evidence."""
    data = asdict(style)
    data["meter"] = None if style.meter is None else f"{style.meter[0]}/{style.meter[1]}"
    return data
