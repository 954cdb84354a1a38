"""Bilingual instruction sets land in the right valence/arousal quadrant.

``mood_instructions.yaml`` was written beside the lexicon; ``mood_instructions_heldout.yaml``
after it, to measure wording it was not built for; ``mood_instructions_sealed.yaml`` before
the mood fallback (generation.mood_fallback) existed, and first measured once it did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generation import understand

DATA = Path(__file__).parent / "data"
SETS = ("mood_instructions.yaml", "mood_instructions_heldout.yaml", "mood_instructions_sealed.yaml")
QUADRANTS = {"HA": (1, 1), "TA": (-1, 1), "SL": (-1, -1), "CP": (1, -1)}


def _quadrant(valence: float, arousal: float) -> tuple[int, int]:
    return (1 if valence > 0 else -1, 1 if arousal > 0 else -1)


@pytest.mark.parametrize("name", SETS)
def test_at_least_90_percent_land_in_their_quadrant(name: str) -> None:
    items = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    assert len(items) >= 60
    languages = {understand(text).language for _, text in items}
    assert {"en", "zh", "mixed"} <= languages
    misses = []
    for label, text in items:
        style = understand(text)
        if _quadrant(style.valence, style.arousal) != QUADRANTS[label]:
            misses.append(f"{label} {text!r}: valence {style.valence}, arousal {style.arousal}")
    assert len(misses) <= 0.10 * len(items), "\n".join(misses)
