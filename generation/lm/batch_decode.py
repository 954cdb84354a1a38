"""Write many pieces at once, one batch row each: the path for a GPU.

:func:`generation.lm.decode.sample_piece` writes one piece, feeding each run of forced
tokens in one call: the fastest way to one piece on a CPU. A GPU (or a CPU with pieces to
spare) does more per call when the rows of a batch advance together, so
:func:`sample_batch` runs transformers' ``generate`` over all the pieces' headers
(left-padded) with one :class:`~generation.lm.constraints.ConstraintState` per row in the
:class:`~generation.lm.constraints.PlanLogitsProcessor`: every row keeps its own plan.

What it gives up, and where the single-piece path takes over:

- Rows share one random stream (seeded once), so a row's notes depend on the whole batch;
  the same plans and seed give the same pieces.
- A piece that does not end within the model's context, or whose melody copies a run of
  16 intervals from a training piece, is written again by ``sample_piece`` (which
  re-primes long pieces and rewrites single phrases), with the row's seed ``seed + row``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import torch

from generation.lm.conditioning import DecodePlan
from generation.lm.constraints import ConstraintState, PlanLogitsProcessor
from generation.lm.decode import DecodeResult, SamplingSettings, sample_piece
from generation.lm.model import LoadedModel
from generation.lm.originality import OriginalityIndex

__all__ = ["sample_batch"]


def sample_batch(
    loaded: LoadedModel,
    plans: Sequence[DecodePlan],
    *,
    seed: int,
    settings: SamplingSettings | None = None,
    originality: OriginalityIndex | None = None,
) -> list[DecodeResult]:
    """Write the melody (and bass) of several DecodePlans together, one batch row each.

    Parameters
    ----------
    loaded
        The model (see :func:`generation.lm.model.load_model`); fp16 on a CUDA GPU is
        what this path is for.
    plans
        One per piece; any mix of modes, metres and lengths.
    seed
        Seeds the batch's sampling; the same plans, seed and model give the same pieces.
    settings
        Temperature, top-p and the strong-beat bias, shared by every row.
    originality
        The training melodies' index; None skips the check.

    Returns
    -------
    list of DecodeResult
        In the order of ``plans``; ``forward_passes`` is the batch's (shared) count for
        rows written in the batch.
    """
    settings = settings or SamplingSettings()
    if not plans:
        return []
    vocab, device = loaded.vocab, loaded.device
    headers = [vocab.encode(plan.header()) for plan in plans]
    width = max(len(h) for h in headers)
    prompt = torch.full((len(plans), width), vocab.pad_id, dtype=torch.long)
    mask = torch.zeros_like(prompt)
    states = []
    for row, (plan, header) in enumerate(zip(plans, headers, strict=True)):
        prompt[row, width - len(header) :] = torch.tensor(header)
        mask[row, width - len(header) :] = 1
        state = ConstraintState(plan, vocab)
        for token in header:  # the processor then reads only what the model writes
            state.consume(token)
        states.append(state)
    processor = PlanLogitsProcessor(states, prompt_length=width, strong_bias=settings.strong_bias)
    devices = [torch.device(device)] if device.startswith("cuda") else []
    with torch.inference_mode(), torch.random.fork_rng(devices=devices), _finished_rows_quiet():
        torch.manual_seed(int(seed))
        out = loaded.model.generate(
            prompt.to(device),
            attention_mask=mask.to(device),
            logits_processor=[processor],
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=0,
            max_new_tokens=loaded.context - width,
            eos_token_id=vocab.eos_id,
            pad_token_id=vocab.pad_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
    written = out.sequences[:, width:].cpu()
    raw = torch.stack(out.logits, dim=1).float().cpu()  # (rows, steps, vocabulary)
    results = []
    for row, plan in enumerate(plans):
        result = _replay(plan, loaded, written[row].tolist(), raw[row], len(out.logits))
        if result is None or (
            originality is not None and len(originality) and _copied(result, originality)
        ):
            result = sample_piece(
                loaded, plan, seed=int(seed) + row, settings=settings, originality=originality
            )
        results.append(result)
    return results


@contextlib.contextmanager
def _finished_rows_quiet():
    """Silence transformers' padding warning: rows that have written EOS are fed the pad
    token, which it takes for unmasked padding, though generate masks those rows."""
    from transformers.utils import logging

    was = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(was)


def _copied(result: DecodeResult, originality: OriginalityIndex) -> bool:
    pitches = [note[2] for bar in result.melody for note in bar]
    return bool(len(originality.matches(pitches)))


def _replay(
    plan: DecodePlan, loaded: LoadedModel, written: list[int], logits: torch.Tensor, steps: int
) -> DecodeResult | None:
    """A row's record, from its tokens and the model's unconstrained logits; None when the
    piece did not end within the context."""
    vocab = loaded.vocab
    header = vocab.encode(plan.header())
    state = ConstraintState(plan, vocab)
    for token in header:
        state.consume(token)
    # The same counting as sample_piece's: the processor's, on the unconstrained logits.
    counter = PlanLogitsProcessor([state], prompt_length=0)
    bar_ll: list[list[float]] = [[] for _ in plan.bars]
    by_track = {"melody": [0, 0], "bass": [0, 0]}
    tokens = list(header)
    for index, token in enumerate(written):
        if state.done:
            break
        step = state.step()
        if step.forced is None:
            before = counter.interventions[0]
            counter.apply(0, step, logits[index].clone())
            by_track[state.track][0] += 1
            by_track[state.track][1] += counter.interventions[0] - before
            bar_ll[state.bar].append(float(torch.log_softmax(logits[index], dim=-1)[token]))
        state.consume(token)
        tokens.append(token)
    if not state.done:
        return None
    free = counter.free_steps[0]
    return DecodeResult(
        melody=tuple(tuple(b) for b in state.melody),
        bass=tuple(tuple(b) for b in state.bass),
        tokens=tuple(vocab.decode(tokens)),
        bar_log_likelihood=tuple(float(np.mean(b)) if b else math.nan for b in bar_ll),
        free_steps=free,
        interventions=counter.interventions[0],
        masked_mass=counter.masked_mass[0] / max(free, 1),
        regenerated_phrases=0,
        originality_violations=0,
        forward_passes=steps,
        track_interventions=(tuple(by_track["melody"]), tuple(by_track["bass"])),
    )
