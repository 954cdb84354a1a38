"""Keys, scales and Roman-numeral chords as pitch classes."""

from __future__ import annotations

import re

__all__ = ["SCALES", "chord_pitch_classes", "scale_pitch_classes", "tonic_pitch_class"]

#: Semitones above the tonic of each mode's scale degrees.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}

_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NUMERALS = ("i", "ii", "iii", "iv", "v", "vi", "vii")
_ROMAN = re.compile(r"^(b|#)?(iii|ii|iv|vii|vi|v|i)(o|°)?(7)?$", re.I)


def tonic_pitch_class(name: str) -> int:
    """Pitch class 0..11 of a tonic name such as ``"A"``, ``"F#"`` or ``"Bb"``."""
    if not name or name[0].upper() not in _NAMES:
        raise ValueError(f"key tonic: got {name!r}; must be A-G with an optional # or b")
    pc = _NAMES[name[0].upper()]
    for accidental in name[1:]:
        if accidental == "#":
            pc += 1
        elif accidental == "b":
            pc -= 1
        else:
            raise ValueError(f"key tonic: got {name!r}; must be A-G with an optional # or b")
    return pc % 12


def scale_pitch_classes(tonic: str, mode: str) -> tuple[int, ...]:
    """The seven pitch classes of a key, tonic first."""
    if mode not in SCALES:
        raise ValueError(f"mode: got {mode!r}; allowed: {sorted(SCALES)}")
    root = tonic_pitch_class(tonic)
    return tuple((root + step) % 12 for step in SCALES[mode])


def chord_pitch_classes(roman: str, tonic: str, mode: str) -> tuple[int, ...]:
    """Pitch classes of a Roman-numeral chord, root first.

    Upper case is a major triad, lower case minor, ``o`` diminished, ``7`` adds the
    seventh (dominant on an upper-case numeral, minor otherwise), a ``b`` prefix lowers the
    root. The numeral counts degrees of the key's own scale, so in minor ``V`` is the major
    dominant of the harmonic minor (its third is the leading tone).
    """
    match = _ROMAN.match(roman)
    if match is None:
        raise ValueError(f"chord: got {roman!r}; must be a Roman numeral such as I, vi, V7, bVII")
    accidental, numeral, diminished, seventh = match.groups()
    degree = _NUMERALS.index(numeral.lower())
    root = (tonic_pitch_class(tonic) + SCALES[mode][degree]) % 12
    root = (root + {"b": -1, "#": 1}.get(accidental or "", 0)) % 12
    if diminished:
        intervals = [0, 3, 6]
    elif numeral.isupper():
        intervals = [0, 4, 7]
    else:
        intervals = [0, 3, 7]
    if seventh:
        intervals.append(10)
    return tuple((root + i) % 12 for i in intervals)
