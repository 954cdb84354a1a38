"""Time the music LM on the CPU: decoding 60 s of melody and bass, training, fine-tuning.

Run: ``python benchmarks/bench_lm_speed.py [--model assets/models/default]`` (one thread,
as on a shared machine). Prints, side by side in one run:

- the KV-cache decoding loop of ``generation.lm.decode`` in fp32 through the numpy GPT-2
  (the default on the CPU) and through transformers' modules, and in int8 (Conv1D layers
  converted to Linear, then dynamic quantisation), against ``model.generate`` with the same
  ``PlanLogitsProcessor`` (what a transformers user would write): seconds for the melody
  and bass of a 60 s piece and tokens/s, the median of ``--repeats`` runs;
- with ``--batch N`` (the default 64 where a CUDA GPU is present), N pieces at once through
  ``generation.lm.batch_decode.sample_batch``;
- training throughput of the default architecture (tokens/s, batches of 4,096 tokens);
- ``loci train`` fine-tuning the model on 50 tunes of Ryan's Mammoth Collection for one
  epoch, wall-clock, reading the files included.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

# One BLAS thread for numpy, as torch gets one below: decoding is serial, the machine shared.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import music21
import torch

from generation import make_plan, understand
from generation.lm import DEFAULT_MODEL_DIR
from generation.lm.batch_decode import sample_batch
from generation.lm.conditioning import decode_plan
from generation.lm.constraints import ConstraintState, PlanLogitsProcessor
from generation.lm.corpus import read_folder
from generation.lm.dataset import batches, windows
from generation.lm.decode import SamplingSettings, sample_piece
from generation.lm.model import load_model
from generation.lm.vocab import Vocabulary
from scene.environment import Environment, Feature

DRY = Environment(kind=Feature("free_field", "", "bench"), indoor=Feature(False, "", "bench"))
RYAN = Path(music21.__file__).parent / "corpus" / "ryansMammoth"


def _median_time(run, repeats: int) -> tuple[float, object]:
    run()  # warm-up
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def decoding(model: Path, repeats: int) -> None:
    plan = make_plan(understand("a happy pop song"), DRY, seed=1, duration_s=60.0)
    dplan = decode_plan(plan)
    bars = len(dplan.bars)
    print(
        f"60 s piece: {plan.tempo_bpm:.0f} bpm {plan.meter[0]}/{plan.meter[1]}, {bars} bars of "
        "melody and bass"
    )
    rows = []
    for precision in ("fp32", "int8"):
        loaded = load_model(model, precision=precision)
        seconds, result = _median_time(
            lambda loaded=loaded: sample_piece(loaded, dplan, seed=1), repeats
        )
        path = "numpy GPT-2" if loaded.numpy_weights is not None else "transformers"
        rows.append((f"KV-cache loop, {path}, {precision}", seconds, len(result.tokens)))
        if precision == "fp32":
            hf = replace(loaded, numpy_weights=None)
            hf_seconds, hf_result = _median_time(
                lambda hf=hf: sample_piece(hf, dplan, seed=1), repeats
            )
            rows.append(("KV-cache loop, transformers, fp32", hf_seconds, len(hf_result.tokens)))
            vocab = loaded.vocab
            prompt = torch.tensor([vocab.encode(dplan.header())])
            target = len(result.tokens) - prompt.shape[1]

            def generate(loaded=loaded, vocab=vocab, prompt=prompt, target=target):
                # The state reads the prompt (the header) from input_ids itself.
                processor = PlanLogitsProcessor([ConstraintState(dplan, vocab)], prompt_length=0)
                # As long as the loop's piece, and never past the model's context.
                room = loaded.model.config.n_positions - prompt.shape[1]
                return loaded.model.generate(
                    prompt,
                    attention_mask=torch.ones_like(prompt),
                    logits_processor=[processor],
                    do_sample=True,
                    temperature=SamplingSettings().temperature,
                    top_p=SamplingSettings().top_p,
                    max_new_tokens=min(2 * target, room),
                    eos_token_id=vocab.eos_id,
                    pad_token_id=vocab.pad_id,
                )

            gen_seconds, out = _median_time(generate, repeats)
            rows.append(("model.generate + processor, fp32", gen_seconds, out.shape[1]))
    base = rows[0][1]
    for name, seconds, tokens in rows:
        print(
            f"  {name:<40} {seconds:6.2f} s  {tokens / seconds:7.0f} tokens/s  "
            f"x{base / seconds:.2f} vs fp32 loop"
        )


def batch_decoding(model: Path, size: int) -> None:
    """``size`` 60 s pieces at once through :func:`sample_batch` (fp16 on a CUDA GPU)."""
    texts = ["a happy pop song", "a sad slow waltz in 3/4", "欢快的中国风笛子", "a jig in 6/8"]
    plans = [
        decode_plan(make_plan(understand(texts[row % 4]), DRY, seed=row, duration_s=60.0))
        for row in range(size)
    ]
    loaded = load_model(model)
    sample_batch(loaded, plans[: min(size, 4)], seed=0)  # warm-up
    started = time.perf_counter()
    results = sample_batch(loaded, plans, seed=1)
    seconds = time.perf_counter() - started
    tokens = sum(len(r.tokens) for r in results)
    print(
        f"  batch of {size} pieces, {loaded.device} {loaded.precision}: {seconds:.2f} s, "
        f"{seconds / size:.3f} s a piece, {tokens / seconds:,.0f} tokens/s"
    )


def training(repeats: int) -> None:
    from generation.lm.model import new_model

    pieces = list(read_folder(RYAN, files=sorted(RYAN.glob("*.abc"))[:60]).pieces)
    vocab = Vocabulary()
    seqs = windows(pieces, vocab, context=1024)
    torch.manual_seed(0)
    model = new_model(vocab, layers=6, width=256, heads=4, context=1024)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    batch_list = batches(seqs, batch_tokens=4096, seed=0, pad_id=vocab.pad_id)
    tokens = seconds = 0.0
    for step, (ids, mask) in enumerate(batch_list[: 2 + repeats * 3]):
        started = time.perf_counter()
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        loss = model(
            input_ids=ids_t, attention_mask=mask_t, labels=ids_t.masked_fill(mask_t == 0, -100)
        ).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= 2:  # after warm-up
            seconds += time.perf_counter() - started
            tokens += int(mask.sum())
    print(f"training, 6 x 256 GPT-2, batches of 4,096 tokens: {tokens / seconds:,.0f} tokens/s")


def fine_tune(model: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for path in sorted(RYAN.glob("*.abc"))[100:150]:
            shutil.copy(path, data / path.name)
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "loci.cli",
                "train",
                str(data),
                "-o",
                str(Path(tmp) / "mine"),
                "--from",
                str(model),
                "--epochs",
                "1",
                "-q",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        print(f"loci train --from the model, 50 tunes, 1 epoch: {seconds:.0f} s wall-clock")
        print("  " + done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch",
        type=int,
        default=64 if torch.cuda.is_available() else 0,
        help="pieces decoded at once by sample_batch (default 64 with a CUDA GPU, else none)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    decoding(args.model, args.repeats)
    if args.batch:
        batch_decoding(args.model, args.batch)
    training(args.repeats)
    fine_tune(args.model)


if __name__ == "__main__":
    main()
