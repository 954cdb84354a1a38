"""MusicPlan -> what the LM is told (conditioning tokens) and held to (a DecodePlan).

The mapping from the plan mirrors how training pieces were labelled
(:func:`generation.lm.corpus.conditions_for`):

| condition | from the plan | bins |
| --- | --- | --- |
| style | genre: ``classical`` and ``ambient`` -> classical (the chorales), others -> folk | |
| mode | the mode, pentatonic modes by their parent diatonic mode | |
| metre | the metre | |
| tempo | tempo_bpm (quarter notes per minute) | slow < 84 <= mid < 116 <= fast |
| density | density (the planner's 0.5 + 0.3 arousal) | low < 0.4 <= mid < 0.6 <= high |
| arousal, valence | from tempo, density and the mode's third, as for training pieces | |
| register | the melody stem's register: its middle less 4, key-relative | see corpus |
| section | intro and outro -> A (the corpus has neither), A -> A, B -> B | |
| chord | each bar's Roman numeral -> root above the tonic and quality | |
"""

from __future__ import annotations

from dataclasses import dataclass

from generation.harmony import PARENT_MODE, SCALES, chord_pitch_classes, tonic_pitch_class
from generation.lm.corpus import REGISTER_BINS, bin_of, conditions_for, tempo_bin
from generation.lm.model import LMError
from generation.lm.vocab import (
    METERS,
    PITCH_RANGE,
    Conditions,
    bar_sixteenths,
    chord_token,
    strong_positions,
)
from generation.types import MusicPlan

__all__ = ["BarPlan", "DecodePlan", "decode_plan", "plan_conditions"]

DENSITY_EDGES = (0.4, 0.6)
_SECTION_ROLE = {"intro": "A", "A": "A", "B": "B", "outro": "A"}


@dataclass(frozen=True)
class BarPlan:
    """One bar as the decoder must write it.

    Attributes
    ----------
    chord_token
        The bar's ``CHORD_`` token.
    chord_pcs
        Pitch classes of the chord relative to the tonic (0 = tonic).
    section_token
        ``SECTION_`` token written before the bar when a section starts here, else None.
    cadence
        The bar ends a phrase: the note that ends it is a chord tone.
    last
        The piece's final bar: it opens on a long tonic.
    """

    chord_token: str
    chord_pcs: frozenset[int]
    section_token: str | None
    cadence: bool
    last: bool


@dataclass(frozen=True)
class DecodePlan:
    """Everything the constrained decoder needs: tokens to write and the rules to keep.

    Pitches and pitch classes are key-relative (MIDI pitch - ``tonic_pc``).
    """

    conditions: Conditions
    tonic_pc: int
    bars: tuple[BarPlan, ...]
    bar_length: int
    strong: frozenset[int]
    scale_pcs: frozenset[int]
    passing_pcs: frozenset[int]
    melody_range: tuple[int, int]
    bass_range: tuple[int, int]
    with_bass: bool

    def header(self) -> list[str]:
        """BOS and the conditioning tokens."""
        return ["BOS", *self.conditions.tokens()]


def _register_bin(register: tuple[int, int], tonic_pc: int) -> str:
    return bin_of((register[0] + register[1]) / 2 - 4 - tonic_pc, REGISTER_BINS)


def plan_conditions(plan: MusicPlan, *, register: tuple[int, int] | None = None) -> Conditions:
    """The conditioning of a plan (see the module table)."""
    if plan.meter not in METERS:
        allowed = ", ".join(f"{b}/{u}" for b, u in METERS)
        raise LMError(
            f"meter: got {plan.meter[0]}/{plan.meter[1]}; the lm backend writes {allowed}"
        )
    if register is None:
        register = next((s.register for s in plan.stems if s.role == "melody"), (64, 84))
    tonic_pc = tonic_pitch_class(plan.key_tonic)
    return conditions_for(
        style="classical" if plan.genre in ("classical", "ambient") else "folk",
        mode=PARENT_MODE[plan.mode],
        meter=plan.meter,
        tempo=tempo_bin(plan.tempo_bpm),
        density=bin_of(plan.density, DENSITY_EDGES),
        register=_register_bin(register, tonic_pc),
    )


def _chord(roman: str, plan: MusicPlan, tonic_pc: int) -> tuple[str, frozenset[int]]:
    pcs = [(pc - tonic_pc) % 12 for pc in chord_pitch_classes(roman, plan.key_tonic, plan.mode)]
    root = pcs[0]
    third = (pcs[1] - root) % 12
    fifth = (pcs[2] - root) % 12
    quality = "dim" if (third, fifth) == (3, 6) else "min" if third == 3 else "maj"
    return chord_token(root, quality), frozenset(pcs)


def decode_plan(plan: MusicPlan, *, with_bass: bool | None = None) -> DecodePlan:
    """The DecodePlan of a MusicPlan.

    The melody may use the mode's scale; a minor-like mode also the raised seventh inside
    a chord that holds it (the harmonic minor's V and vii°). A pentatonic mode's melody
    may pass through its parent scale's other tones on weak, short notes (as the rules
    arranger's does); no other chromatic notes are allowed.

    Raises
    ------
    LMError
        For a metre outside the vocabulary.
    """
    tonic_pc = tonic_pitch_class(plan.key_tonic)
    stems = {s.role: s for s in plan.stems}
    melody_register = stems["melody"].register if "melody" in stems else (64, 84)
    bass_register = stems["bass"].register if "bass" in stems else (33, 52)
    conditions = plan_conditions(plan, register=melody_register)
    scale = frozenset(SCALES[plan.mode])
    parent = frozenset(SCALES[PARENT_MODE[plan.mode]])
    bars: list[BarPlan] = []
    total = sum(len(s.chords) for s in plan.sections)
    for section in plan.sections:
        for i, roman in enumerate(section.chords):
            token, pcs = _chord(roman, plan, tonic_pc)
            last = len(bars) == total - 1 and not plan.loop
            bars.append(
                BarPlan(
                    chord_token=token,
                    chord_pcs=pcs,
                    section_token=f"SECTION_{_SECTION_ROLE.get(section.name, 'A')}"
                    if i % 8 == 0
                    else None,
                    cadence=i % 4 == 3 or i == len(section.chords) - 1 or last,
                    last=last,
                )
            )
    low, high = PITCH_RANGE

    def relative(register: tuple[int, int]) -> tuple[int, int]:
        return max(low, register[0] - tonic_pc), min(high - 1, register[1] - tonic_pc)

    return DecodePlan(
        conditions=conditions,
        tonic_pc=tonic_pc,
        bars=tuple(bars),
        bar_length=bar_sixteenths(plan.meter),
        strong=strong_positions(plan.meter),
        scale_pcs=scale,
        passing_pcs=parent - scale,
        melody_range=relative(melody_register),
        bass_range=relative(bass_register),
        with_bass="bass" in stems if with_bass is None else with_bass,
    )
