"""The music LM's vocabulary: key-relative bars of melody and bass under conditioning tokens.

A piece is written as::

    BOS STYLE_folk MODE_major METER_4/4 TEMPO_mid DENSITY_high AROUSAL_high VALENCE_high
    REGISTER_mid
    SECTION_A BAR CHORD_0maj  DUR_4 PITCH_72 DUR_2 PITCH_74 ... REST_2   (the melody)
                   TRACK_BASS DUR_8 PITCH_48 DUR_8 PITCH_55              (the bass, if any)
    BAR CHORD_7maj ...
    EOS

Pitches are key-relative: ``PITCH_r`` is MIDI pitch ``r + tonic_pc`` (the tonic's pitch
class 0..11), so every key shares one set of tokens and no transposition augmentation is
needed; the key itself comes from the plan. Times count sixteenth notes: each note is a
duration then a pitch, a gap a ``REST``, and the durations of a bar's melody (and of its
bass) add up to exactly the bar, which the constrained decoder then enforces token by
token. Chords are one per bar, as root (semitones above the tonic) and quality.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHORD_QUALITIES",
    "CONDITION_BINS",
    "DURATIONS",
    "METERS",
    "PITCH_RANGE",
    "SECTIONS",
    "STYLES",
    "TOKENIZER_FILE",
    "Bar",
    "Conditions",
    "NoteEvent",
    "Piece",
    "PieceStats",
    "Vocabulary",
    "bar_sixteenths",
    "chord_token",
    "decode_bar_tokens",
    "encode_piece",
    "strong_positions",
]

#: Metres the vocabulary can write (bars of at most 24 sixteenths).
METERS: tuple[tuple[int, int], ...] = (
    (2, 2),
    (3, 2),
    (2, 4),
    (3, 4),
    (4, 4),
    (5, 4),
    (6, 4),
    (3, 8),
    (6, 8),
    (7, 8),
    (9, 8),
    (12, 8),
)
#: Note and rest durations, sixteenths.
DURATIONS: tuple[int, ...] = tuple(range(1, 25))
#: Key-relative pitches ``PITCH_r``, r = MIDI pitch - tonic pitch class.
PITCH_RANGE: tuple[int, int] = (24, 100)
STYLES: tuple[str, ...] = ("folk", "classical")
MODE_TOKENS: tuple[str, ...] = ("major", "minor", "dorian", "mixolydian", "phrygian")
SECTIONS: tuple[str, ...] = ("A", "B")
CHORD_QUALITIES: tuple[str, ...] = ("maj", "min", "dim")
#: Each condition's bins, low to high.
CONDITION_BINS: dict[str, tuple[str, ...]] = {
    "tempo": ("slow", "mid", "fast"),
    "density": ("low", "mid", "high"),
    "arousal": ("low", "mid", "high"),
    "valence": ("low", "mid", "high"),
    "register": ("low", "mid", "high"),
}
TOKENIZER_FILE = "tokenizer.json"
_SPECIALS = ("PAD", "BOS", "EOS", "UNK")


@dataclass(frozen=True)
class NoteEvent:
    """A note inside a bar: onset and length in sixteenths, absolute MIDI pitch."""

    start: int
    length: int
    pitch: int


@dataclass(frozen=True)
class Bar:
    """One bar: its chord (root semitones above the tonic, quality), melody and bass.

    ``bass`` is None for a piece without a bass line (a single-line folk tune).
    """

    chord: tuple[int, str]
    melody: tuple[NoteEvent, ...]
    bass: tuple[NoteEvent, ...] | None = None
    section: str | None = None


@dataclass(frozen=True)
class Conditions:
    """The conditioning of a piece: a bin name per condition (see :data:`CONDITION_BINS`)."""

    style: str
    mode: str
    meter: tuple[int, int]
    tempo: str
    density: str
    arousal: str
    valence: str
    register: str

    def tokens(self) -> list[str]:
        """The header tokens, in the order the model reads them."""
        return [
            f"STYLE_{self.style}",
            f"MODE_{self.mode}",
            f"METER_{self.meter[0]}/{self.meter[1]}",
            f"TEMPO_{self.tempo}",
            f"DENSITY_{self.density}",
            f"AROUSAL_{self.arousal}",
            f"VALENCE_{self.valence}",
            f"REGISTER_{self.register}",
        ]


@dataclass(frozen=True)
class PieceStats:
    """The measured features behind a piece's condition bins."""

    onsets_per_quarter: float
    mean_relative_pitch: float


@dataclass(frozen=True)
class Piece:
    """A piece read from a score: key, conditions and bars, ready to be written as tokens."""

    name: str
    tonic_pc: int
    conditions: Conditions
    bars: tuple[Bar, ...]
    stats: PieceStats | None = None

    @property
    def has_bass(self) -> bool:
        """True when the piece has a bass line."""
        return any(bar.bass is not None for bar in self.bars)


def bar_sixteenths(meter: tuple[int, int]) -> int:
    """Length of a bar of ``meter`` in sixteenth notes."""
    beats, unit = meter
    return beats * 16 // unit


def strong_positions(meter: tuple[int, int]) -> frozenset[int]:
    """Onsets (sixteenths into the bar) of the metre's strong beats.

    The downbeat always; the half bar in duple and quadruple metres (4/4, 2/2, 6/8's
    second dotted quarter, 6/4's second dotted half); every dotted quarter in 9/8 and 12/8.
    """
    beats, unit = meter
    length = bar_sixteenths(meter)
    if unit == 8 and beats % 3 == 0:
        return frozenset(range(0, length, 6))
    if beats in (4, 2) and unit in (2, 4) and not (beats == 2 and unit == 4):
        return frozenset({0, length // 2})
    if beats == 6 and unit == 4:
        return frozenset({0, 12})
    return frozenset({0})


def chord_token(root: int, quality: str) -> str:
    """``CHORD_<root><quality>``, root in semitones above the tonic."""
    return f"CHORD_{root % 12}{quality}"


class Vocabulary:
    """Token strings <-> ids, fixed by this module (the saved tokenizer must agree)."""

    def __init__(self) -> None:
        tokens = list(_SPECIALS)
        tokens += [f"STYLE_{s}" for s in STYLES]
        tokens += [f"MODE_{m}" for m in MODE_TOKENS]
        tokens += [f"METER_{b}/{u}" for b, u in METERS]
        for name, bins in CONDITION_BINS.items():
            tokens += [f"{name.upper()}_{b}" for b in bins]
        tokens += [f"SECTION_{s}" for s in SECTIONS]
        tokens += ["BAR", "TRACK_BASS"]
        tokens += [chord_token(r, q) for r in range(12) for q in CHORD_QUALITIES]
        tokens += [f"DUR_{d}" for d in DURATIONS]
        tokens += [f"REST_{d}" for d in DURATIONS]
        tokens += [f"PITCH_{p}" for p in range(*PITCH_RANGE)]
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.ids: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.pad_id = self.ids["PAD"]
        self.bos_id = self.ids["BOS"]
        self.eos_id = self.ids["EOS"]
        self.bar_id = self.ids["BAR"]
        self.bass_id = self.ids["TRACK_BASS"]
        self.dur_ids = {d: self.ids[f"DUR_{d}"] for d in DURATIONS}
        self.rest_ids = {d: self.ids[f"REST_{d}"] for d in DURATIONS}
        self.pitch_ids = {p: self.ids[f"PITCH_{p}"] for p in range(*PITCH_RANGE)}
        self.id_to_duration = {i: d for d, i in self.dur_ids.items()}
        self.id_to_rest = {i: d for d, i in self.rest_ids.items()}
        self.id_to_pitch = {i: p for p, i in self.pitch_ids.items()}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        """Ids of token strings; an unknown token raises ``KeyError`` naming it."""
        try:
            return [self.ids[t] for t in tokens]
        except KeyError as error:
            raise KeyError(f"token {error.args[0]!r} is not in the music vocabulary") from None

    def decode(self, ids: list[int]) -> list[str]:
        """Token strings of ids."""
        return [self.tokens[i] for i in ids]

    def save(self, folder: Path) -> None:
        """Write the vocabulary as a transformers fast tokenizer (``tokenizer.json`` etc.)."""
        self.fast_tokenizer().save_pretrained(str(folder))

    def fast_tokenizer(self):  # -> transformers.PreTrainedTokenizerFast
        """A word-level ``PreTrainedTokenizerFast`` over these tokens (space-separated)."""
        from tokenizers import Tokenizer
        from tokenizers.models import WordLevel
        from tokenizers.pre_tokenizers import WhitespaceSplit
        from transformers import PreTrainedTokenizerFast

        backend = Tokenizer(WordLevel(vocab=dict(self.ids), unk_token="UNK"))
        backend.pre_tokenizer = WhitespaceSplit()
        return PreTrainedTokenizerFast(
            tokenizer_object=backend,
            bos_token="BOS",
            eos_token="EOS",
            pad_token="PAD",
            unk_token="UNK",
        )

    def check_saved(self, folder: Path) -> None:
        """Raise ``ValueError`` when a model folder's tokenizer differs from this vocabulary."""
        path = folder / TOKENIZER_FILE
        if not path.is_file():
            raise ValueError(f"{folder}: no {TOKENIZER_FILE}; not a music LM folder")
        saved = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
        if saved != self.ids:
            raise ValueError(
                f"{path}: its {len(saved)} tokens differ from this version's vocabulary of "
                f"{len(self.ids)}; retrain the model with this version"
            )


def _events(notes: tuple[NoteEvent, ...], length: int, tonic_pc: int) -> list[str]:
    tokens: list[str] = []
    time = 0
    for note in notes:
        if note.start > time:
            tokens.append(f"REST_{note.start - time}")
        tokens += [f"DUR_{note.length}", f"PITCH_{note.pitch - tonic_pc}"]
        time = note.start + note.length
    if time < length:
        tokens.append(f"REST_{length - time}")
    return tokens


def encode_piece(piece: Piece, *, with_header: bool = True) -> list[str]:
    """A piece as token strings (BOS, header, bars, EOS)."""
    length = bar_sixteenths(piece.conditions.meter)
    tokens = ["BOS", *piece.conditions.tokens()] if with_header else []
    for bar in piece.bars:
        if bar.section is not None:
            tokens.append(f"SECTION_{bar.section}")
        tokens += ["BAR", chord_token(*bar.chord)]
        tokens += _events(bar.melody, length, piece.tonic_pc)
        if bar.bass is not None:
            tokens.append("TRACK_BASS")
            tokens += _events(bar.bass, length, piece.tonic_pc)
    tokens.append("EOS")
    return tokens


def decode_bar_tokens(
    tokens: list[str], *, tonic_pc: int
) -> tuple[list[NoteEvent], list[NoteEvent]]:
    """The melody and bass notes of one bar's tokens (after ``BAR CHORD_x``)."""
    melody: list[NoteEvent] = []
    bass: list[NoteEvent] = []
    track, time, length = melody, 0, 0
    for token in tokens:
        if token == "TRACK_BASS":
            track, time = bass, 0
        elif token.startswith("REST_"):
            time += int(token[5:])
        elif token.startswith("DUR_"):
            length = int(token[4:])
        elif token.startswith("PITCH_"):
            track.append(NoteEvent(time, length, int(token[6:]) + tonic_pc))
            time += length
    return melody, bass
