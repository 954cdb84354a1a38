"""A singing voice: a numba formant synthesiser that sings the lyrics on the vocal line.

Source-filter synthesis in the manner of Klatt (1980): a Rosenberg (1971) glottal pulse,
differentiated for the lips' radiation, with vibrato and a little aspiration, through a
cascade of four formant resonators whose frequencies follow the vowels sung; noise through
a parallel resonator for the consonant that starts a syllable (frication, bursts,
aspiration), a nasal murmur for m, n and the nasal codas of Chinese finals, glides for l,
r, w and y.

Vowel targets (F1, F2, F3 in Hz) are the averages for men's voices of Peterson & Barney
(1952), "Control methods used in a study of the vowels", JASA 24(2), 175-184, Table II. A
pinyin final or a CMU vowel is sung as a sequence of those targets (a nucleus, and glides
on or off it: ``ai`` = [ɑ] -> [ɪ], ``iang`` = [i] -> [ɑ] -> nasal). Three sounds that the
table lacks are documented estimates: Mandarin [y] (ü) takes [i]'s F1 and F3 with F2 lowered
to 1,750 Hz by the rounding; Mandarin [ɤ] (e) is sung as [ʌ]; the apical vowel of zi ci si
as [ɪ], that of zhi chi shi ri as [ɝ].
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from generation.lyrics.types import Lyrics, Syllable
from generation.types import SAMPLE_RATE, Stem

__all__ = [
    "FORMANTS_HZ",
    "VoiceSettings",
    "sing",
    "vowel_targets",
]

#: (F1, F2, F3) in Hz of each vowel, men's averages of Peterson & Barney (1952), except
#: ``y`` (an estimate, see the module docstring) and the nasal murmur ``N``.
FORMANTS_HZ: dict[str, tuple[float, float, float]] = {
    "i": (270.0, 2290.0, 3010.0),
    "ɪ": (390.0, 1990.0, 2550.0),
    "ɛ": (530.0, 1840.0, 2480.0),
    "æ": (660.0, 1720.0, 2410.0),
    "ɑ": (730.0, 1090.0, 2440.0),
    "ɔ": (570.0, 840.0, 2410.0),
    "ʊ": (440.0, 1020.0, 2240.0),
    "u": (300.0, 870.0, 2240.0),
    "ʌ": (640.0, 1190.0, 2390.0),
    "ɝ": (490.0, 1350.0, 1690.0),
    "y": (270.0, 1750.0, 3010.0),
    # A nasal murmur (the oral tract closed, sound through the nose): a low first
    # resonance and weak upper ones.
    "N": (260.0, 1100.0, 2450.0),
}
_BANDWIDTHS_HZ = (70.0, 90.0, 140.0, 200.0)
_F4_HZ = 3500.0

# CMU vowels (stress removed) -> (target, share of the vowel's time), in order.
_CMU: dict[str, tuple[tuple[str, float], ...]] = {
    "IY": (("i", 1.0),),
    "IH": (("ɪ", 1.0),),
    "EH": (("ɛ", 1.0),),
    "AE": (("æ", 1.0),),
    "AA": (("ɑ", 1.0),),
    "AO": (("ɔ", 1.0),),
    "UH": (("ʊ", 1.0),),
    "UW": (("u", 1.0),),
    "AH": (("ʌ", 1.0),),
    "ER": (("ɝ", 1.0),),
    "EY": (("ɛ", 0.65), ("ɪ", 0.35)),
    "OW": (("ɔ", 0.65), ("ʊ", 0.35)),
    "AY": (("ɑ", 0.65), ("ɪ", 0.35)),
    "AW": (("ɑ", 0.65), ("ʊ", 0.35)),
    "OY": (("ɔ", 0.65), ("ɪ", 0.35)),
}
# Pinyin finals (strict) -> targets.
_PINYIN: dict[str, tuple[tuple[str, float], ...]] = {
    "a": (("ɑ", 1.0),),
    "o": (("ɔ", 1.0),),
    "e": (("ʌ", 1.0),),
    "i": (("i", 1.0),),
    "u": (("u", 1.0),),
    "v": (("y", 1.0),),
    "er": (("ɝ", 1.0),),
    "-i": (("ɪ", 1.0),),
    "-ir": (("ɝ", 1.0),),
    "ai": (("ɑ", 0.65), ("ɪ", 0.35)),
    "ei": (("ɛ", 0.65), ("ɪ", 0.35)),
    "ao": (("ɑ", 0.65), ("ʊ", 0.35)),
    "ou": (("ɔ", 0.65), ("ʊ", 0.35)),
    "ia": (("i", 0.15), ("ɑ", 0.85)),
    "ie": (("i", 0.15), ("ɛ", 0.85)),
    "ua": (("u", 0.15), ("ɑ", 0.85)),
    "uo": (("u", 0.15), ("ɔ", 0.85)),
    "ve": (("y", 0.15), ("ɛ", 0.85)),
    "iao": (("i", 0.12), ("ɑ", 0.58), ("ʊ", 0.3)),
    "iou": (("i", 0.12), ("ɔ", 0.58), ("ʊ", 0.3)),
    "uai": (("u", 0.12), ("ɑ", 0.58), ("ɪ", 0.3)),
    "uei": (("u", 0.12), ("ɛ", 0.58), ("ɪ", 0.3)),
    "an": (("ɑ", 0.8), ("N", 0.2)),
    "en": (("ʌ", 0.8), ("N", 0.2)),
    "in": (("i", 0.8), ("N", 0.2)),
    "vn": (("y", 0.8), ("N", 0.2)),
    "ian": (("i", 0.12), ("ɛ", 0.68), ("N", 0.2)),
    "uan": (("u", 0.12), ("ɑ", 0.68), ("N", 0.2)),
    "van": (("y", 0.12), ("ɛ", 0.68), ("N", 0.2)),
    "uen": (("u", 0.12), ("ʌ", 0.68), ("N", 0.2)),
    "ang": (("ɑ", 0.8), ("N", 0.2)),
    "eng": (("ʌ", 0.8), ("N", 0.2)),
    "ing": (("i", 0.8), ("N", 0.2)),
    "ong": (("ʊ", 0.8), ("N", 0.2)),
    "iang": (("i", 0.12), ("ɑ", 0.68), ("N", 0.2)),
    "uang": (("u", 0.12), ("ɑ", 0.68), ("N", 0.2)),
    "iong": (("i", 0.12), ("ʊ", 0.68), ("N", 0.2)),
    "ueng": (("u", 0.12), ("ʌ", 0.68), ("N", 0.2)),
}
_RETROFLEX = ("zh", "ch", "sh", "r")

# Consonant classes: (kind, frication centre Hz, frication bandwidth Hz, aspirated).
_FRICATIVE, _PLOSIVE, _NASAL, _GLIDE, _ASPIRATE = range(5)
_CONSONANTS: dict[str, tuple[int, float, float, bool]] = {
    # English (CMU)
    "S": (_FRICATIVE, 5500.0, 2500.0, False),
    "Z": (_FRICATIVE, 5500.0, 2500.0, False),
    "SH": (_FRICATIVE, 3000.0, 1500.0, False),
    "ZH": (_FRICATIVE, 3000.0, 1500.0, False),
    "CH": (_PLOSIVE, 3000.0, 1500.0, True),
    "JH": (_PLOSIVE, 3000.0, 1500.0, False),
    "F": (_FRICATIVE, 4000.0, 4000.0, False),
    "V": (_FRICATIVE, 4000.0, 4000.0, False),
    "TH": (_FRICATIVE, 4500.0, 4000.0, False),
    "DH": (_FRICATIVE, 4500.0, 4000.0, False),
    "HH": (_ASPIRATE, 0.0, 0.0, True),
    "P": (_PLOSIVE, 900.0, 1500.0, True),
    "B": (_PLOSIVE, 900.0, 1500.0, False),
    "T": (_PLOSIVE, 4000.0, 2500.0, True),
    "D": (_PLOSIVE, 4000.0, 2500.0, False),
    "K": (_PLOSIVE, 2000.0, 1500.0, True),
    "G": (_PLOSIVE, 2000.0, 1500.0, False),
    "M": (_NASAL, 0.0, 0.0, False),
    "N": (_NASAL, 0.0, 0.0, False),
    "NG": (_NASAL, 0.0, 0.0, False),
    "L": (_GLIDE, 0.0, 0.0, False),
    "R": (_GLIDE, 0.0, 0.0, False),
    "W": (_GLIDE, 0.0, 0.0, False),
    "Y": (_GLIDE, 0.0, 0.0, False),
    # Mandarin initials (pinyin): b d g unaspirated, p t k aspirated, affricates.
    "b": (_PLOSIVE, 900.0, 1500.0, False),
    "p": (_PLOSIVE, 900.0, 1500.0, True),
    "m": (_NASAL, 0.0, 0.0, False),
    "f": (_FRICATIVE, 4000.0, 4000.0, False),
    "d": (_PLOSIVE, 4000.0, 2500.0, False),
    "t": (_PLOSIVE, 4000.0, 2500.0, True),
    "n": (_NASAL, 0.0, 0.0, False),
    "l": (_GLIDE, 0.0, 0.0, False),
    "g": (_PLOSIVE, 2000.0, 1500.0, False),
    "k": (_PLOSIVE, 2000.0, 1500.0, True),
    "h": (_FRICATIVE, 1500.0, 2000.0, False),
    "j": (_PLOSIVE, 3500.0, 1500.0, False),
    "q": (_PLOSIVE, 3500.0, 1500.0, True),
    "x": (_FRICATIVE, 3500.0, 1500.0, False),
    "zh": (_PLOSIVE, 2800.0, 1500.0, False),
    "ch": (_PLOSIVE, 2800.0, 1500.0, True),
    "sh": (_FRICATIVE, 2800.0, 1500.0, False),
    "r": (_GLIDE, 0.0, 0.0, False),
    "z": (_PLOSIVE, 5500.0, 2500.0, False),
    "c": (_PLOSIVE, 5500.0, 2500.0, True),
    "s": (_FRICATIVE, 5500.0, 2500.0, False),
    "y": (_GLIDE, 0.0, 0.0, False),
    "w": (_GLIDE, 0.0, 0.0, False),
}
# Where a glide or nasal onset starts (F1, F2, F3).
_GLIDE_START = {
    "L": (360.0, 1300.0, 2700.0),
    "l": (360.0, 1300.0, 2700.0),
    "R": (350.0, 1100.0, 1500.0),
    "r": (350.0, 1100.0, 1500.0),
    "W": FORMANTS_HZ["u"],
    "w": FORMANTS_HZ["u"],
    "Y": FORMANTS_HZ["i"],
    "y": FORMANTS_HZ["i"],
}


@dataclass(frozen=True)
class VoiceSettings:
    """How the voice sings.

    Attributes
    ----------
    vibrato_hz, vibrato_cents
        Rate and peak depth of the vibrato; it fades in after ``vibrato_delay_s``.
    glide_s
        Portamento into a note that follows another closely, seconds.
    aspiration
        Breath noise relative to the voicing, 0..1.
    level_dbfs
        RMS level of the stem before the plan's gain.
    """

    vibrato_hz: float = 5.5
    vibrato_cents: float = 14.0
    vibrato_delay_s: float = 0.18
    glide_s: float = 0.04
    aspiration: float = 0.04
    level_dbfs: float = -20.0


def vowel_targets(syllable: Syllable, language: str) -> tuple[tuple[str, float], ...]:
    """The formant targets that a syllable's vowel is sung on, with their shares of time."""
    if language == "zh":
        final = syllable.vowel
        if final == "-i" and syllable.onset and syllable.onset[0] in _RETROFLEX:
            final = "-ir"
        if final not in _PINYIN:
            raise ValueError(f"syllable {syllable.text!r}: no vowel targets for final {final!r}")
        return _PINYIN[final]
    if syllable.vowel not in _CMU:
        raise ValueError(f"syllable {syllable.text!r}: no vowel targets for {syllable.vowel!r}")
    return _CMU[syllable.vowel]


def sing(
    lyrics: Lyrics,
    *,
    duration_s: float,
    seed: int,
    settings: VoiceSettings | None = None,
    name: str = "vocal",
) -> Stem:
    """Sing the lyrics, each syllable on its note.

    Parameters
    ----------
    lyrics
        Lines of syllables with their notes (pitch, seconds).
    duration_s
        Length of the stem, seconds.
    seed
        Seeds the noise of breath and consonants.
    settings
        See :class:`VoiceSettings`.
    name
        Stem name.

    Returns
    -------
    Stem
        Mono float32 at 48 kHz, ``round(duration_s * 48000)`` samples, role ``vocal``;
        finite, peaks below 1.
    """
    settings = settings or VoiceSettings()
    tracks = _tracks(lyrics, duration_s, settings)
    rng = np.random.default_rng([seed, 0x766F6963])
    noise = rng.standard_normal((2, tracks.f0.size))
    audio = _synthesise(
        tracks.f0,
        tracks.voicing,
        tracks.aspiration,
        tracks.frication,
        tracks.formants,
        np.asarray(_BANDWIDTHS_HZ),
        tracks.fric_centre,
        tracks.fric_bandwidth,
        noise,
        float(SAMPLE_RATE),
    )
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    if rms > 0:
        audio *= 10 ** (settings.level_dbfs / 20) / rms
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.98:
        audio *= 0.98 / peak
    if not np.all(np.isfinite(audio)):
        raise RuntimeError("the voice synthesiser produced NaN or Inf")
    return Stem(name, "vocal", audio.astype(np.float32))


@dataclass(frozen=True)
class _Tracks:
    f0: np.ndarray
    voicing: np.ndarray
    aspiration: np.ndarray
    frication: np.ndarray
    formants: np.ndarray  # (4, n)
    fric_centre: np.ndarray
    fric_bandwidth: np.ndarray


def _tracks(lyrics: Lyrics, duration_s: float, settings: VoiceSettings) -> _Tracks:
    """Per-sample control tracks from the syllables' notes and sounds."""
    sr = SAMPLE_RATE
    n = round(duration_s * sr)
    f0 = np.full(n, 100.0)
    voicing = np.zeros(n)
    aspiration = np.zeros(n)
    frication = np.zeros(n)
    formants = np.empty((4, n))
    formants[0], formants[1], formants[2] = FORMANTS_HZ["ʌ"]
    formants[3] = _F4_HZ
    fric_centre = np.full(n, 4000.0)
    fric_bandwidth = np.full(n, 2000.0)
    previous_end, previous_pitch = -1.0, None
    for syllable in lyrics.syllables:
        note = syllable.note
        a = round(note.start_s * sr)
        b = min(n, round(note.end_s * sr))
        if a >= n or b - a < 8:
            continue
        length = b - a
        hz = 440.0 * 2.0 ** ((note.pitch - 69) / 12.0)
        t = np.arange(length) / sr
        # Vibrato fades in; a note that follows closely glides from the previous pitch.
        depth = settings.vibrato_cents * np.clip((t - settings.vibrato_delay_s) / 0.15, 0.0, 1.0)
        cents = depth * np.sin(2 * np.pi * settings.vibrato_hz * t)
        if previous_pitch is not None and note.start_s - previous_end < 0.06:
            glide = np.clip(1.0 - t / settings.glide_s, 0.0, 1.0)
            cents = cents + 100.0 * (previous_pitch - note.pitch) * glide
        f0[a:b] = hz * 2.0 ** (cents / 1200.0)
        previous_end, previous_pitch = note.end_s, note.pitch

        targets = vowel_targets(syllable, lyrics.language)
        onset_len = _onset(
            syllable,
            a,
            length,
            targets,
            voicing,
            aspiration,
            frication,
            formants,
            fric_centre,
            fric_bandwidth,
            settings,
        )
        vowel_start = a + onset_len
        vowel_len = b - vowel_start
        if vowel_len <= 0:
            continue
        cursor = vowel_start
        for k, (symbol, share) in enumerate(targets):
            end = b if k == len(targets) - 1 else cursor + round(share * vowel_len)
            formants[0, cursor:end], formants[1, cursor:end], formants[2, cursor:end] = FORMANTS_HZ[
                symbol
            ]
            formants[3, cursor:end] = _F4_HZ
            cursor = end
        level = (note.velocity / 100.0) ** 1.5
        envelope = np.ones(vowel_len)
        attack = min(vowel_len, round(0.02 * sr))
        release = min(vowel_len - attack, round(0.05 * sr))
        envelope[:attack] = np.linspace(0.3 if onset_len else 0.0, 1.0, attack)
        if release > 0:
            envelope[vowel_len - release :] = np.linspace(1.0, 0.0, release)
        # The nasal part of a final is quieter.
        nasal = formants[0, vowel_start:b] == FORMANTS_HZ["N"][0]
        envelope[nasal] *= 0.45
        voicing[vowel_start:b] = np.maximum(voicing[vowel_start:b], level * envelope)
        aspiration[vowel_start:b] = settings.aspiration * level * envelope
    # Formants move smoothly (about 25 ms), as the tongue does.
    width = round(0.025 * sr)
    kernel = np.ones(width) / width
    for k in range(3):
        padded = np.pad(formants[k], (width // 2, width - width // 2 - 1), mode="edge")
        formants[k] = np.convolve(padded, kernel, mode="valid")
    return _Tracks(f0, voicing, aspiration, frication, formants, fric_centre, fric_bandwidth)


def _onset(
    syllable: Syllable,
    a: int,
    length: int,
    targets: tuple[tuple[str, float], ...],
    voicing: np.ndarray,
    aspiration: np.ndarray,
    frication: np.ndarray,
    formants: np.ndarray,
    fric_centre: np.ndarray,
    fric_bandwidth: np.ndarray,
    settings: VoiceSettings,
) -> int:
    """Write the syllable's first consonant into the tracks; returns its length in samples."""
    if not syllable.onset:
        return 0
    symbol = (
        syllable.onset[-1]
        if len(syllable.onset) > 1 and syllable.onset[0] == "S"
        else (syllable.onset[0])
    )
    spec = _CONSONANTS.get(symbol)
    if spec is None:
        return 0
    kind, centre, bandwidth, aspirated = spec
    sr = SAMPLE_RATE
    level = (syllable.note.velocity / 100.0) ** 1.5
    span = min(round(0.07 * sr), length // 3)
    if span < 8:
        return 0
    seg = slice(a, a + span)
    ramp = np.linspace(0.0, 1.0, span)
    vowel = FORMANTS_HZ[targets[0][0]]
    if kind == _FRICATIVE:
        frication[seg] = 0.5 * level * np.sin(np.pi * ramp) ** 0.5
        fric_centre[seg], fric_bandwidth[seg] = centre, bandwidth
        return span
    if kind == _PLOSIVE:
        closure = span // 3
        burst = max(8, round(0.012 * sr))
        start = a + closure
        frication[start : start + burst] = 0.8 * level
        fric_centre[start : start + burst + span], fric_bandwidth[start : start + burst + span] = (
            centre,
            bandwidth,
        )
        if aspirated:
            rest = a + span - (start + burst)
            if rest > 0:
                aspiration[start + burst : a + span] = 0.5 * level * np.linspace(1.0, 0.3, rest)
                formants[0, a : a + span], formants[1, a : a + span], formants[2, a : a + span] = (
                    vowel
                )
        if syllable.onset and syllable.onset[0] in ("zh", "ch", "z", "c", "j", "q", "CH", "JH"):
            # Affricates: the burst opens into frication.
            frication[start + burst : a + span] = 0.35 * level
        return span
    if kind == _ASPIRATE:
        aspiration[seg] = 0.6 * level
        formants[0, seg], formants[1, seg], formants[2, seg] = vowel
        return span
    if kind == _NASAL:
        voicing[seg] = 0.4 * level
        formants[0, seg], formants[1, seg], formants[2, seg] = FORMANTS_HZ["N"]
        return span
    start = _GLIDE_START.get(symbol, vowel)
    voicing[seg] = level * (0.6 + 0.4 * ramp)
    for k in range(3):
        formants[k, seg] = start[k] + (vowel[k] - start[k]) * ramp
    return span


@numba.njit(cache=True, nogil=True)
def _resonate(x: float, state: np.ndarray, k: int, hz: float, bw: float, dt: float) -> float:
    # Klatt's digital resonator with unit gain at 0 Hz.
    r = np.exp(-np.pi * bw * dt)
    c = -r * r
    b = 2.0 * r * np.cos(2.0 * np.pi * hz * dt)
    a = 1.0 - b - c
    y = a * x + b * state[k, 0] + c * state[k, 1]
    state[k, 1] = state[k, 0]
    state[k, 0] = y
    return y


@numba.njit(cache=True, nogil=True)
def _synthesise(
    f0: np.ndarray,
    voicing: np.ndarray,
    aspiration: np.ndarray,
    frication: np.ndarray,
    formants: np.ndarray,
    bandwidths: np.ndarray,
    fric_centre: np.ndarray,
    fric_bandwidth: np.ndarray,
    noise: np.ndarray,
    sample_rate: float,
) -> np.ndarray:
    n = f0.size
    dt = 1.0 / sample_rate
    out = np.zeros(n)
    state = np.zeros((6, 2))
    phase = 0.0
    # Rosenberg's pulse: opening over 40% of the period, closing over 16%.
    opening, closing = 0.4, 0.16
    for i in range(n):
        phase += f0[i] * dt
        if phase >= 1.0:
            phase -= 1.0
        if phase < opening:
            pulse = np.sin(np.pi * phase / opening) * np.pi / (2.0 * opening)
        elif phase < opening + closing:
            pulse = -np.sin(np.pi * (phase - opening) / (2.0 * closing)) * np.pi / (2.0 * closing)
        else:
            pulse = 0.0
        # Breath noise is strongest while the glottis is open.
        breath = noise[0, i] * (1.0 if phase < opening + closing else 0.3)
        x = voicing[i] * pulse * 0.1 + aspiration[i] * breath
        for k in range(4):
            x = _resonate(x, state, k, formants[k, i], bandwidths[k], dt)
        hiss = _resonate(
            frication[i] * noise[1, i], state, 4, fric_centre[i], fric_bandwidth[i], dt
        )
        # The frication resonator's unit DC gain would let its low end through: a
        # one-zero high-pass keeps the hiss above the voice.
        out[i] = x + hiss - state[5, 0]
        state[5, 0] = hiss
    return out
