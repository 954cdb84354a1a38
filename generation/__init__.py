"""Music from words and place: instruction -> Style (S); (S, E) -> MusicPlan; plan -> Score
-> Stems. Imports only ``scene`` (for ``Environment``), never ``spatial`` or ``loci``.
"""

from generation.ambience import AMBIENCE_KINDS, make_ambience
from generation.arranger import compose
from generation.midi import score_to_pretty_midi, write_midi
from generation.planner import make_plan, plan_to_dict, style_to_dict
from generation.synthesize import default_soundfont, synthesize, synthesize_window
from generation.types import (
    SAMPLE_RATE,
    Decision,
    Evidence,
    MusicPlan,
    Note,
    Part,
    Score,
    Section,
    Stem,
    StemPlan,
    Style,
)
from generation.understand import understand

__all__ = [
    "AMBIENCE_KINDS",
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
    "compose",
    "default_soundfont",
    "make_ambience",
    "make_plan",
    "plan_to_dict",
    "score_to_pretty_midi",
    "style_to_dict",
    "synthesize",
    "synthesize_window",
    "understand",
    "write_midi",
]
