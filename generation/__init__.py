"""Music from words and place: instruction -> Style (S); (S, E) -> MusicPlan; plan -> Score
-> Stems. Imports only ``scene`` (for ``Environment``), never ``spatial`` or ``loci``.
"""

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
