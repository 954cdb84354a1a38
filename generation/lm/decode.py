"""Constrained sampling of one piece with a KV cache, phrase by phrase.

A plain loop over a key/value cache (:mod:`generation.lm.stepper`: on the CPU a numpy
GPT-2, measured faster than transformers' ``generate``; see ``docs/performance.md``):
tokens the plan fixes (header, sections, bar lines, chords, the bass marker) are fed to
the model together in one forward pass; every other token is sampled from the masked,
temperature-scaled, top-p-truncated distribution with a seeded
``torch.Generator``, so one seed gives one piece.

After each phrase (up to a cadence bar), the melody so far is checked against the
originality index; a phrase that completes a run of 16 intervals copied from a training
piece is rolled back (the cache cropped to the phrase's start) and written again, at a
slightly higher temperature each time. A piece longer than the model's context is
re-primed at a phrase start: the header and the last bars are fed afresh, as training
windows start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from generation.lm.conditioning import DecodePlan
from generation.lm.constraints import ConstraintState, PlanLogitsProcessor
from generation.lm.model import LMError, LoadedModel
from generation.lm.originality import RUN, OriginalityIndex
from generation.lm.stepper import make_stepper

__all__ = ["DecodeResult", "SamplingSettings", "sample_piece"]

_MAX_ATTEMPTS = 24
_REPRIME_BARS = 8


@dataclass(frozen=True)
class SamplingSettings:
    """How tokens are drawn.

    Attributes
    ----------
    temperature
        Divides the logits (> 0); lower is more conservative.
    top_p
        Nucleus sampling: the smallest set of tokens holding this much probability.
    strong_bias
        Logit boost of chord tones on strong beats.
    """

    # 1.1: the shipped model's melodies then have the folk corpus's pitch-class entropy
    # (median 2.65 against the corpus's 2.67; 2.55 at 1.0), measured by
    # benchmarks/bench_lm_quality.py. The plan's masks keep every note in the scale.
    temperature: float = 1.1
    top_p: float = 0.95
    strong_bias: float = 2.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise LMError(f"temperature: got {self.temperature}; must be > 0")
        if not 0 < self.top_p <= 1:
            raise LMError(f"top_p: got {self.top_p}; must be in (0, 1]")


@dataclass(frozen=True)
class DecodeResult:
    """The notes and the record of how they were written.

    Attributes
    ----------
    melody, bass
        Per bar: (onset sixteenths, length sixteenths, key-relative pitch).
    tokens
        Every token of the piece, as strings.
    bar_log_likelihood
        Per bar: mean natural-log probability, under the unconstrained model, of the
        tokens the model chose.
    free_steps, interventions
        Tokens the model chose, and how often its most likely token was not allowed.
    masked_mass
        Mean probability mass per free step that the constraints removed.
    regenerated_phrases
        Phrases written again because they copied a training melody.
    originality_violations
        Runs of 16 intervals still matching a training piece (0 unless attempts ran out).
    forward_passes
        Model calls made.
    reprimes
        Times a long piece was re-primed with its header and latest bars.
    track_interventions
        (free steps, interventions) of the melody and of the bass, including phrases
        that were written again.
    """

    melody: tuple[tuple[tuple[int, int, int], ...], ...]
    bass: tuple[tuple[tuple[int, int, int], ...], ...]
    tokens: tuple[str, ...]
    bar_log_likelihood: tuple[float, ...]
    free_steps: int
    interventions: int
    masked_mass: float
    regenerated_phrases: int
    originality_violations: int
    forward_passes: int
    reprimes: int = 0
    track_interventions: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))


@dataclass
class _Snapshot:
    state: ConstraintState
    tokens: int
    context: list[int]
    fed: int
    bar_ll: list[list[float]]
    counters: tuple[int, int, float, int]


def _sample(logits: torch.Tensor, settings: SamplingSettings, generator, boost: float) -> int:
    scaled = logits / (settings.temperature + boost)
    probabilities = torch.softmax(scaled, dim=-1)
    if settings.top_p < 1:
        sorted_p, order = torch.sort(probabilities, descending=True)
        cumulative = torch.cumsum(sorted_p, dim=-1)
        cut = int(torch.searchsorted(cumulative, torch.tensor(settings.top_p))) + 1
        keep = order[:cut]
        kept = probabilities[keep]
        choice = torch.multinomial(kept / kept.sum(), 1, generator=generator)
        return int(keep[choice])
    return int(torch.multinomial(probabilities, 1, generator=generator))


def sample_piece(
    loaded: LoadedModel,
    plan: DecodePlan,
    *,
    seed: int,
    settings: SamplingSettings | None = None,
    originality: OriginalityIndex | None = None,
) -> DecodeResult:
    """Write the melody (and bass) of a DecodePlan with the model.

    Parameters
    ----------
    loaded
        The model (see :func:`generation.lm.model.load_model`).
    plan
        What to write (see :func:`generation.lm.conditioning.decode_plan`).
    seed
        Seeds every draw; the same seed, plan and model give the same notes.
    settings
        Temperature, top-p and the strong-beat bias.
    originality
        The training melodies' index; None skips the check.
    """
    settings = settings or SamplingSettings()
    vocab = loaded.vocab
    stepper = make_stepper(loaded)
    generator = torch.Generator().manual_seed(int(seed))
    state = ConstraintState(plan, vocab)
    processor = PlanLogitsProcessor([state], prompt_length=0, strong_bias=settings.strong_bias)
    tokens: list[int] = []
    context: list[int] = []  # what the model has been fed, as ids
    fed = 0
    logits = None
    bar_ll: list[list[float]] = [[] for _ in plan.bars]
    regenerated = 0
    violations = 0
    passes = 0
    reprimes = 0
    by_track = {"melody": [0, 0], "bass": [0, 0]}  # free steps, interventions
    attempts = 0
    temperature_boost = 0.0
    limit = loaded.context
    bar_tokens = 4 * plan.bar_length + 4
    header = vocab.encode(plan.header())
    bar_starts: list[int] = []  # index in `tokens` where each bar's own tokens begin
    snapshot: _Snapshot | None = None
    phrase_first_note = 0

    def take_snapshot() -> _Snapshot:
        return _Snapshot(
            state.copy(),
            len(tokens),
            list(context),
            fed,
            [list(b) for b in bar_ll],
            (
                processor.free_steps[0],
                processor.interventions[0],
                processor.masked_mass[0],
                len(bar_starts),
            ),
        )

    with torch.inference_mode():
        while not state.done:
            if state.fresh_bar and len(bar_starts) == state.bar:
                bar_starts.append(len(tokens))
                if state.bar == 0 or plan.bars[state.bar - 1].cadence:
                    # A phrase starts: re-prime a long piece, and remember where we are.
                    if len(context) + 4 * bar_tokens > limit:
                        keep = bar_starts[-1 - _REPRIME_BARS : -1]
                        while keep and len(header) + len(tokens) - keep[0] + 4 * bar_tokens > limit:
                            keep = keep[1:]
                        context = header + tokens[keep[0] if keep else len(tokens) :]
                        stepper.reset()
                        fed = 0
                        reprimes += 1
                    snapshot = take_snapshot()
                    attempts, temperature_boost = 0, 0.0
                    phrase_first_note = sum(len(b) for b in state.melody[: state.bar])
            step = state.step()
            token = step.forced
            bar_index = state.bar
            if token is None:
                # The model chooses: feed what it has not seen, then sample.
                logits = stepper.feed(context[fed:])
                passes += 1
                fed = len(context)
                log_probs = torch.log_softmax(logits, dim=-1)
                scores = logits.clone()
                before = processor.interventions[0]
                processor.apply(0, step, scores)
                by_track[state.track][0] += 1
                by_track[state.track][1] += processor.interventions[0] - before
                token = _sample(scores, settings, generator, temperature_boost)
                bar_ll[bar_index].append(float(log_probs[token]))
            state.consume(token)
            tokens.append(token)
            context.append(token)
            if bar_index >= len(plan.bars):
                continue  # EOS
            if state.bar == bar_index or not plan.bars[bar_index].cadence:
                continue
            if originality is None or not len(originality):
                continue
            pitches = [note[2] for bar in state.melody[: bar_index + 1] for note in bar]
            matches = originality.matches(pitches)
            # A copied run that ends inside this phrase: write the phrase again.
            bad = matches[matches + RUN >= phrase_first_note]
            if not len(bad):
                continue
            if snapshot is None or attempts >= _MAX_ATTEMPTS:
                violations += len(bad)
                continue
            attempts += 1
            regenerated += 1
            temperature_boost = 0.05 * attempts
            state = snapshot.state.copy()
            processor.states[0] = state
            del tokens[snapshot.tokens :]
            del bar_starts[snapshot.counters[3] :]
            context = list(snapshot.context)
            fed = snapshot.fed
            stepper.crop(min(fed, stepper.length))
            fed = stepper.length
            bar_ll = [list(b) for b in snapshot.bar_ll]
            free, interventions, mass, _ = snapshot.counters
            processor.free_steps[0] = free
            processor.interventions[0] = interventions
            processor.masked_mass[0] = mass
    del logits
    free = processor.free_steps[0]
    return DecodeResult(
        melody=tuple(tuple(b) for b in state.melody),
        bass=tuple(tuple(b) for b in state.bass),
        tokens=tuple(vocab.decode(tokens)),
        bar_log_likelihood=tuple(float(np.mean(b)) if b else math.nan for b in bar_ll),
        free_steps=free,
        interventions=processor.interventions[0],
        masked_mass=processor.masked_mass[0] / max(free, 1),
        regenerated_phrases=regenerated,
        originality_violations=violations,
        forward_passes=passes,
        reprimes=reprimes,
        track_interventions=(tuple(by_track["melody"]), tuple(by_track["bass"])),
    )
