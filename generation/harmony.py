"""Keys, scales and Roman-numeral chords as pitch classes."""

from __future__ import annotations

import re

__all__ = [
    "CHINESE_MODES",
    "MODES",
    "PARENT_MODE",
    "SCALES",
    "chord_pitch_classes",
    "equivalent_keys",
    "key_signature",
    "scale_pitch_classes",
    "tonic_pitch_class",
]

#: Semitones above the tonic of each mode's scale degrees. The five Chinese pentatonic
#: modes are named after their tonic degree: 宫 gong, 商 shang, 角 jue, 徵 zhi, 羽 yu.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "gong": (0, 2, 4, 7, 9),
    "shang": (0, 2, 5, 7, 10),
    "jue": (0, 3, 5, 8, 10),
    "zhi": (0, 2, 5, 7, 9),
    "yu": (0, 3, 5, 7, 10),
}

#: Every mode a plan may use.
MODES: tuple[str, ...] = tuple(SCALES)

#: The Chinese pentatonic modes.
CHINESE_MODES: tuple[str, ...] = ("gong", "shang", "jue", "zhi", "yu")

#: The seven-note mode whose chords harmonise each mode: Roman numerals count its degrees.
#: A pentatonic melody is harmonised by the diatonic mode that contains it on the same
#: tonic, as Chinese popular and film music usually is.
PARENT_MODE: dict[str, str] = {
    "major": "major",
    "minor": "minor",
    "dorian": "dorian",
    "phrygian": "phrygian",
    "mixolydian": "mixolydian",
    "major_pentatonic": "major",
    "minor_pentatonic": "minor",
    "gong": "major",
    "shang": "dorian",
    "jue": "phrygian",
    "zhi": "mixolydian",
    "yu": "minor",
}

# Where each seven-note mode starts within its relative major scale, in semitones.
_OFFSET_IN_MAJOR = {"major": 0, "dorian": 2, "phrygian": 4, "mixolydian": 7, "minor": 9}

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


def key_signature(tonic: str, mode: str) -> tuple[int, str]:
    """The conventional key signature of a mode: (tonic pitch class, "major" or "minor").

    Major-like modes (major, mixolydian, their pentatonics) take the signature of their
    relative major; minor-like modes that of their relative minor, so D dorian is written
    with C major's signature as "A minor" (no sharps or flats) rather than D minor's.
    """
    parent = PARENT_MODE[mode]
    major_tonic = (tonic_pitch_class(tonic) - _OFFSET_IN_MAJOR[parent]) % 12
    if parent in ("major", "mixolydian"):
        return major_tonic, "major"
    return (major_tonic + 9) % 12, "minor"


def equivalent_keys(tonic: str, mode: str) -> set[tuple[int, str]]:
    """The major/minor keys a key-finder may fairly name for a plan's key.

    For major and minor: the key and its relative. For the other modes, which a
    major/minor key-finder cannot name: the tonic with the mode's own quality (its third),
    the key of its signature, and both relatives.
    """
    root = tonic_pitch_class(tonic)
    quality = "major" if 4 in SCALES[mode] or mode in ("gong", "zhi") else "minor"
    keys = {(root, quality)}
    signature = key_signature(tonic, mode)
    keys.add(signature)
    for pc, kind in list(keys):
        keys.add(((pc + 9) % 12, "minor") if kind == "major" else ((pc + 3) % 12, "major"))
    return keys


def chord_pitch_classes(roman: str, tonic: str, mode: str) -> tuple[int, ...]:
    """Pitch classes of a Roman-numeral chord, root first.

    Upper case is a major triad, lower case minor, ``o`` diminished, ``7`` adds the
    seventh (dominant on an upper-case numeral, minor otherwise), a ``b`` prefix lowers the
    root. The numeral counts degrees of the key's own scale, so in minor ``V`` is the major
    dominant of the harmonic minor (its third is the leading tone). Pentatonic modes use
    the chords of their :data:`PARENT_MODE`.
    """
    mode = PARENT_MODE.get(mode, mode)
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
