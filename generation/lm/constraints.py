"""The plan as a ``LogitsProcessor``: every token the LM writes obeys the plan's grammar.

:class:`ConstraintState` follows the tokens of one piece and says, before each token,
which are allowed:

- the header, sections, bar lines and chords are the plan's own (one allowed token);
- inside a bar, a duration or rest may not run past the bar line, and the next bar (or
  the bass) starts only when the bar is exactly full: every bar has the metre's length;
- a pitch must lie in the stem's register, in the plan's scale (a minor key's raised
  seventh inside a chord that holds it; a pentatonic mode's parent-scale tones on weak,
  short notes only), within an octave of the previous note;
- the note that ends a phrase's last bar is a chord tone (the plan's cadence); the final
  bar opens on a long tonic;
- on strong beats chord tones are preferred: their logits are raised by ``strong_bias``.

:class:`PlanLogitsProcessor` applies one state per batch row to a model's scores, so it
works inside ``model.generate`` as well as in :mod:`generation.lm.decode`'s loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import LogitsProcessor

from generation.lm.conditioning import DecodePlan
from generation.lm.vocab import PITCH_RANGE, Vocabulary

__all__ = ["ConstraintState", "PlanLogitsProcessor", "Step"]

_MAX_LEAP = 12
_PITCHES = np.arange(*PITCH_RANGE)


@dataclass
class Step:
    """What may come next: allowed ids, and logit boosts for some of them."""

    allowed: np.ndarray  # int64 ids
    boosted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def forced(self) -> int | None:
        """The one allowed id, or None when the model has a choice."""
        return int(self.allowed[0]) if len(self.allowed) == 1 else None


@dataclass
class _Track:
    time: int = 0
    last_pitch: int | None = None


class ConstraintState:
    """The grammar of one piece under a DecodePlan, advanced token by token.

    Attributes
    ----------
    bar
        Index of the bar being written (``len(plan.bars)`` when the piece is done).
    melody, bass
        Notes written so far per bar: (onset sixteenths, length, key-relative pitch).
    done
        EOS was written.
    fresh_bar
        No token of bar ``bar`` has been written yet (the header is done).
    """

    def __init__(self, plan: DecodePlan, vocab: Vocabulary) -> None:
        self.plan = plan
        self.vocab = vocab
        self.bar = 0
        self.melody: list[list[tuple[int, int, int]]] = [[] for _ in plan.bars]
        self.bass: list[list[tuple[int, int, int]]] = [[] for _ in plan.bars]
        self.done = False
        self.fresh_bar = False
        self._queue: list[int] = vocab.encode(plan.header())
        self._header_left = len(self._queue)
        self._queue_bar(0)
        self.fresh_bar = False
        self._track_name = "melody"
        self._tracks = {"melody": _Track(), "bass": _Track()}
        self._duration: int | None = None
        self._pitch_ids = np.array([vocab.pitch_ids[int(p)] for p in _PITCHES], dtype=np.int64)
        self._dur_ids = np.array([vocab.dur_ids[d] for d in range(1, 25)], dtype=np.int64)
        self._rest_ids = np.array([vocab.rest_ids[d] for d in range(1, 25)], dtype=np.int64)

    def copy(self) -> ConstraintState:
        """An independent copy (for rolling a phrase back)."""
        clone = copy.copy(self)
        clone.melody = [list(bar) for bar in self.melody]
        clone.bass = [list(bar) for bar in self.bass]
        clone._queue = list(self._queue)
        clone._tracks = {k: copy.copy(v) for k, v in self._tracks.items()}
        return clone

    def _queue_bar(self, index: int) -> None:
        if index >= len(self.plan.bars):
            self._queue.append(self.vocab.eos_id)
            return
        self.fresh_bar = True
        bar = self.plan.bars[index]
        if bar.section_token is not None:
            self._queue.append(self.vocab.ids[bar.section_token])
        self._queue += [self.vocab.bar_id, self.vocab.ids[bar.chord_token]]

    @property
    def track(self) -> str:
        """``melody`` or ``bass``: the line being written."""
        return self._track_name

    def step(self) -> Step:
        """The ids allowed next."""
        if self.done:
            return Step(np.array([self.vocab.pad_id]))
        if self._queue:
            return Step(np.array([self._queue[0]]))
        if self._duration is None:
            return self._timing_step()
        return self._pitch_step()

    def _timing_step(self) -> Step:
        length = self.plan.bar_length
        track = self._tracks[self._track_name]
        left = length - track.time
        bar = self.plan.bars[self.bar]
        if bar.last and track.time == 0:
            # The final bar opens on a long note (its pitch the tonic).
            return Step(self._dur_ids[length // 2 - 1 : left])
        return Step(np.concatenate([self._dur_ids[:left], self._rest_ids[:left]]))

    def _pitch_step(self) -> Step:
        plan = self.plan
        bar = plan.bars[self.bar]
        track = self._tracks[self._track_name]
        onset, end = track.time, track.time + self._duration
        low, high = plan.melody_range if self._track_name == "melody" else plan.bass_range
        pcs = _PITCHES % 12
        in_range = (_PITCHES >= low) & (_PITCHES <= high)
        chord = np.isin(pcs, list(bar.chord_pcs))
        scale = np.isin(pcs, list(plan.scale_pcs))
        strong = onset in plan.strong
        if plan.conditions.mode in ("minor", "dorian", "phrygian"):
            scale |= chord & (pcs == 11)  # the leading tone inside V and vii°
        if plan.passing_pcs and not strong and self._duration <= 2:
            scale |= np.isin(pcs, list(plan.passing_pcs))
        if bar.last and onset == 0:
            wanted = in_range & (pcs == 0)
        elif bar.last or (bar.cadence and end == plan.bar_length):
            wanted = in_range & chord & scale
        else:
            wanted = in_range & scale
        if track.last_pitch is not None:
            near = np.abs(_PITCHES - track.last_pitch) <= _MAX_LEAP
            if (wanted & near).any():
                wanted &= near
        if not wanted.any():  # a chord with no tone in this scale's register: any scale tone
            wanted = in_range & scale
        allowed = self._pitch_ids[wanted]
        boosted = self._pitch_ids[wanted & chord] if strong else np.zeros(0, dtype=np.int64)
        return Step(allowed, boosted)

    def consume(self, token: int) -> None:
        """Advance by one token (which must be allowed; see :meth:`step`)."""
        if self._queue:
            expected = self._queue.pop(0)
            if self._header_left:
                self._header_left -= 1
                self.fresh_bar = self._header_left == 0
            else:
                self.fresh_bar = False
            if token != expected:
                raise ValueError(
                    f"token {self.vocab.tokens[token]!r} where the plan writes "
                    f"{self.vocab.tokens[expected]!r}"
                )
            if token == self.vocab.eos_id:
                self.done = True
            return
        vocab = self.vocab
        track = self._tracks[self._track_name]
        if self._duration is not None:
            pitch = vocab.id_to_pitch[token]
            lines = self.melody if self._track_name == "melody" else self.bass
            lines[self.bar].append((track.time, self._duration, pitch))
            track.time += self._duration
            track.last_pitch = pitch
            self._duration = None
        elif token in vocab.id_to_duration:
            self._duration = vocab.id_to_duration[token]
            return
        elif token in vocab.id_to_rest:
            track.time += vocab.id_to_rest[token]
        else:
            raise ValueError(f"token {vocab.tokens[token]!r} is not a duration, rest or pitch")
        if track.time > self.plan.bar_length:
            raise ValueError(f"bar {self.bar + 1} overfull: {track.time} sixteenths")
        if track.time == self.plan.bar_length:
            self._end_track()

    def _end_track(self) -> None:
        if self._track_name == "melody" and self.plan.with_bass:
            self._track_name = "bass"
            self._tracks["bass"].time = 0
            self._queue.append(self.vocab.bass_id)
            return
        self._track_name = "melody"
        self._tracks["melody"].time = 0
        self.bar += 1
        self._queue_bar(self.bar)


class PlanLogitsProcessor(LogitsProcessor):
    """A transformers ``LogitsProcessor`` holding each batch row to its piece's plan.

    Parameters
    ----------
    states
        One :class:`ConstraintState` per batch row.
    prompt_length
        Tokens of ``input_ids`` already consumed by the states (the header fed as prompt).
    strong_bias
        Added to the logits of chord tones on strong beats.

    Attributes
    ----------
    interventions
        Per row: how often the model's most likely token was not allowed.
    masked_mass
        Per row: the model's probability mass removed by the constraints, summed.
    """

    def __init__(
        self, states: list[ConstraintState], *, prompt_length: int, strong_bias: float = 2.0
    ) -> None:
        self.states = states
        self.strong_bias = strong_bias
        self._seen = [prompt_length] * len(states)
        self.interventions = [0] * len(states)
        self.masked_mass = [0.0] * len(states)
        self.free_steps = [0] * len(states)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, state in enumerate(self.states):
            ids = input_ids[row].tolist()
            for token in ids[self._seen[row] :]:
                if not state.done:
                    state.consume(token)
            self._seen[row] = len(ids)
            self.apply(row, state.step(), scores[row])
        return scores

    def apply(self, row: int, step: Step, scores: torch.Tensor) -> None:
        """Mask (and boost) one row of scores, shape (vocabulary,), in place."""
        allowed = torch.from_numpy(step.allowed)
        if step.forced is None:
            self.free_steps[row] += 1
            if not (step.allowed == int(torch.argmax(scores))).any():
                self.interventions[row] += 1
            probabilities = torch.softmax(scores.float(), dim=-1)
            self.masked_mass[row] += float(1.0 - probabilities[allowed].sum())
        kept = scores[allowed].clone()
        scores.fill_(-float("inf"))
        scores[allowed] = kept
        if len(step.boosted):
            scores[torch.from_numpy(step.boosted)] += self.strong_bias
