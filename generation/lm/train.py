"""Train or fine-tune the music LM: progress, TensorBoard logs, checkpoints and resume.

The output folder gets, when training ends: ``config.json`` and ``model.safetensors``
(``save_pretrained``), the tokenizer files, ``originality.npy`` (the training melodies'
interval runs, see :mod:`generation.lm.originality`) and ``training.json`` (data, settings,
losses, the 4-gram baseline, throughput). While it runs: ``logs/`` (TensorBoard event
files) and ``checkpoint/`` (model, optimiser and position in the data, written atomically
every few minutes and at each epoch's end); a run started again with the same output
folder resumes from the checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generation.lm.corpus import read_folder
from generation.lm.dataset import batches, split_by_piece, windows
from generation.lm.model import LMError, _require_torch, new_model, quiet_transformers
from generation.lm.ngram import KneserNey
from generation.lm.originality import ORIGINALITY_FILE, OriginalityIndex
from generation.lm.vocab import Piece, Vocabulary

__all__ = ["TrainConfig", "TrainResult", "evaluate_loss", "train", "train_folder"]

CHECKPOINT = "checkpoint"
_STATE = "trainer_state.json"
_OPTIMIZER = "optimizer.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run.

    Attributes
    ----------
    epochs
        Passes over the training windows.
    batch_tokens
        Tokens in a batch, padding included.
    learning_rate
        Peak AdamW learning rate (after a linear warm-up, then cosine decay to 10%).
    warmup_steps
        Steps of the linear warm-up (capped at a tenth of the run).
    weight_decay
        AdamW weight decay.
    layers, width, heads, context
        Size of a new model (ignored when fine-tuning, which keeps the base's).
    validation_fraction
        Share of pieces held out (by piece, see :func:`generation.lm.dataset.split_by_piece`).
    seed
        Seeds the initial weights, dropout and the order of batches.
    checkpoint_every_s
        Seconds between checkpoints.
    threads
        torch CPU threads (one gives steady throughput on a shared machine).
    """

    epochs: int = 1
    batch_tokens: int = 4096
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    layers: int = 6
    width: int = 256
    heads: int = 4
    context: int = 1024
    validation_fraction: float = 0.1
    seed: int = 0
    checkpoint_every_s: float = 300.0
    threads: int = 1


@dataclass(frozen=True)
class TrainResult:
    """What a run produced and measured."""

    out_dir: Path
    train_pieces: int
    validation_pieces: int
    train_tokens: int
    steps: int
    seconds: float
    tokens_per_s: float
    validation_loss: float
    ngram_loss: float
    resumed_from_step: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def evaluate_loss(model, sequences: Sequence[list[int]], *, pad_id: int, batch_tokens: int = 8192):
    """Mean cross-entropy per predicted token (nats) of a model on token sequences."""
    torch, _ = _require_torch()
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for ids, mask in batches(sequences, batch_tokens=batch_tokens, seed=0, pad_id=pad_id):
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            logits = model(input_ids=ids_t, attention_mask=mask_t).logits[:, :-1]
            targets = ids_t[:, 1:]
            keep = mask_t[:, 1:].bool()
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), reduction="none"
            ).reshape(targets.shape)
            total += float(losses[keep].sum())
            count += int(keep.sum())
    return total / max(count, 1)


def _learning_rate(step: int, total: int, config: TrainConfig) -> float:
    warmup = max(1, min(config.warmup_steps, total // 10))
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _save_dir_atomically(target: Path, write: Callable[[Path], None]) -> None:
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write(staging)
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def train(
    pieces: Sequence[Piece],
    out_dir: Path,
    *,
    base: Path | None = None,
    config: TrainConfig | None = None,
    progress: bool = True,
    notes: Sequence[str] = (),
    stop_after_steps: int | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a new model (or fine-tune ``base``) on pieces and save it to ``out_dir``.

    Parameters
    ----------
    pieces
        Training data (see :func:`generation.lm.corpus.read_folder`); split by piece.
    out_dir
        Output folder (see the module notes); an interrupted run there resumes.
    base
        A model folder to fine-tune (``loci train --from``); its originality index is kept.
    config
        Settings; the defaults train a 6 x 256 GPT-2 for one epoch.
    progress
        Show a progress bar with the loss and tokens/s on stderr.
    notes
        Lines recorded in ``training.json`` (where the data came from, what was skipped).
    stop_after_steps
        Stop (after a checkpoint) at this step, as an interruption would; for tests.
    log
        Called with a line of progress every 100 steps and the validation loss after
        each epoch (for runs without a terminal).

    Raises
    ------
    LMError
        With no pieces to train on, or a base folder that is not a music LM.
    """
    torch, transformers = _require_torch()
    config = config or TrainConfig()
    out_dir = Path(out_dir)
    if not pieces:
        raise LMError("no pieces to train on: every file was skipped or the folder is empty")
    vocab = Vocabulary()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    train_pieces, validation_pieces = split_by_piece(
        pieces, validation_fraction=config.validation_fraction
    )
    checkpoint = out_dir / CHECKPOINT
    resumed_step = 0
    state: dict = {}
    if (checkpoint / _STATE).is_file():
        state = json.loads((checkpoint / _STATE).read_text(encoding="utf-8"))
        with quiet_transformers():
            model = transformers.GPT2LMHeadModel.from_pretrained(str(checkpoint))
        resumed_step = int(state["step"])
    elif base is not None:
        base = Path(base)
        if not (base / "config.json").is_file():
            raise LMError(f"--from: {str(base)!r} is not a model folder (no config.json)")
        try:
            vocab.check_saved(base)
        except ValueError as error:
            raise LMError(str(error)) from None
        with quiet_transformers():
            model = transformers.GPT2LMHeadModel.from_pretrained(str(base))
    else:
        model = new_model(
            vocab,
            layers=config.layers,
            width=config.width,
            heads=config.heads,
            context=config.context,
        )
    context = int(model.config.n_positions)
    train_seqs = windows(train_pieces, vocab, context=context)
    validation_seqs = windows(validation_pieces, vocab, context=context)
    train_tokens = sum(len(s) for s in train_seqs)
    per_epoch = [
        batches(train_seqs, batch_tokens=config.batch_tokens, seed=config.seed + e, pad_id=0)
        for e in range(config.epochs)
    ]
    total_steps = sum(len(b) for b in per_epoch)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    if state:
        optimizer.load_state_dict(torch.load(checkpoint / _OPTIMIZER, weights_only=True))
        torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))

    writer = _summary_writer(out_dir / "logs")
    step = resumed_step
    seconds = float(state.get("seconds", 0.0))
    trained_tokens = int(state.get("tokens", 0))
    last_checkpoint = time.perf_counter()
    bar = _Bar(total_steps, enabled=progress)
    bar.advance(step)
    model.train()
    stopped = False
    for epoch, epoch_batches in enumerate(per_epoch):
        done_before = sum(len(b) for b in per_epoch[:epoch])
        for index, (ids, mask) in enumerate(epoch_batches):
            if done_before + index < step:
                continue  # done before the interruption
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(step, total_steps, config)
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            labels = ids_t.masked_fill(mask_t == 0, -100)
            loss = model(input_ids=ids_t, attention_mask=mask_t, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            elapsed = time.perf_counter() - started
            seconds += elapsed
            tokens = int(mask.sum())
            trained_tokens += tokens
            rate = trained_tokens / max(seconds, 1e-9)
            bar.update(step, loss=loss.item(), rate=rate, epoch=epoch + 1)
            if log is not None and step % 100 == 0:
                log(f"step {step}/{total_steps}: loss {loss.item():.3f}, {rate:,.0f} tokens/s")
            if writer is not None:
                writer.add_scalar("train/loss", loss.item(), step)
                writer.add_scalar("train/tokens_per_s", tokens / max(elapsed, 1e-9), step)
                writer.add_scalar("train/learning_rate", optimizer.param_groups[0]["lr"], step)
            end_of_epoch = index == len(epoch_batches) - 1
            due = time.perf_counter() - last_checkpoint > config.checkpoint_every_s
            interrupt = stop_after_steps is not None and step >= stop_after_steps
            if (due or end_of_epoch or interrupt) and step < total_steps:
                _write_checkpoint(
                    checkpoint, model, optimizer, vocab, step, seconds, trained_tokens, torch
                )
                last_checkpoint = time.perf_counter()
            if interrupt and step < total_steps:
                stopped = True
                break
        if stopped:
            break
        if (
            (writer is not None or log is not None)
            and validation_seqs
            and epoch + 1 < len(per_epoch)
        ):
            loss = evaluate_loss(model, validation_seqs, pad_id=vocab.pad_id)
            if writer is not None:
                writer.add_scalar("validation/loss", loss, step)
            if log is not None:
                log(f"epoch {epoch + 1}: validation loss {loss:.4f} nats/token")
            model.train()
    bar.close()
    if stopped:
        if writer is not None:
            writer.close()
        return TrainResult(
            out_dir=out_dir,
            train_pieces=len(train_pieces),
            validation_pieces=len(validation_pieces),
            train_tokens=train_tokens,
            steps=step,
            seconds=seconds,
            tokens_per_s=trained_tokens / max(seconds, 1e-9),
            validation_loss=float("nan"),
            ngram_loss=float("nan"),
            resumed_from_step=resumed_step,
        )

    model.eval()
    validation_loss = (
        evaluate_loss(model, validation_seqs, pad_id=vocab.pad_id) if validation_seqs else math.nan
    )
    ngram_loss = math.nan
    if validation_seqs:
        ngram = KneserNey(train_seqs, order=4, vocab_size=len(vocab), pad=vocab.pad_id)
        ngram_loss = ngram.cross_entropy(validation_seqs)
    if writer is not None:
        writer.add_scalar("validation/loss", validation_loss, step)
        writer.add_scalar("validation/ngram4_loss", ngram_loss, step)
        writer.close()
    index = OriginalityIndex.from_pieces(pieces)
    if base is not None and (Path(base) / ORIGINALITY_FILE).is_file():
        index = index.union(OriginalityIndex.load(Path(base) / ORIGINALITY_FILE))
    result = TrainResult(
        out_dir=out_dir,
        train_pieces=len(train_pieces),
        validation_pieces=len(validation_pieces),
        train_tokens=train_tokens,
        steps=step,
        seconds=seconds,
        tokens_per_s=trained_tokens / max(seconds, 1e-9),
        validation_loss=validation_loss,
        ngram_loss=ngram_loss,
        resumed_from_step=resumed_step,
        notes=tuple(notes),
    )
    _write_final(out_dir, model, vocab, index, result, config, base)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return result


def _write_checkpoint(folder, model, optimizer, vocab, step, seconds, tokens, torch) -> None:
    def write(staging: Path) -> None:
        with quiet_transformers():
            model.save_pretrained(str(staging))
        vocab.save(staging)
        torch.save(optimizer.state_dict(), staging / _OPTIMIZER)
        state = {
            "step": step,
            "seconds": seconds,
            "tokens": tokens,
            "torch_rng": torch.get_rng_state().tolist(),
        }
        (staging / _STATE).write_text(json.dumps(state), encoding="utf-8")

    folder.parent.mkdir(parents=True, exist_ok=True)
    _save_dir_atomically(folder, write)


def _write_final(out_dir, model, vocab, index, result, config, base) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / ".final.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    with quiet_transformers():
        model.save_pretrained(str(staging))
    vocab.save(staging)
    index.save(staging / ORIGINALITY_FILE)
    parameters = sum(p.numel() for p in model.parameters())
    info = {
        "parameters": parameters,
        "architecture": {
            "type": "gpt2",
            "layers": model.config.n_layer,
            "width": model.config.n_embd,
            "heads": model.config.n_head,
            "context": model.config.n_positions,
            "vocabulary": len(vocab),
        },
        "base_model": None if base is None else str(base),
        "config": asdict(config),
        "train_pieces": result.train_pieces,
        "validation_pieces": result.validation_pieces,
        "train_tokens": result.train_tokens,
        "steps": result.steps,
        "training_seconds": round(result.seconds, 1),
        "training_tokens_per_s": round(result.tokens_per_s, 1),
        "validation_loss_per_token": round(result.validation_loss, 4),
        "ngram4_validation_loss_per_token": round(result.ngram_loss, 4),
        "improvement_over_ngram4": round(1 - result.validation_loss / result.ngram_loss, 4)
        if result.ngram_loss == result.ngram_loss and result.ngram_loss > 0
        else None,
        "originality_runs": len(index),
        "notes": list(result.notes),
    }
    (staging / "training.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    for item in staging.iterdir():
        os.replace(item, out_dir / item.name)
    staging.rmdir()


def _summary_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the tensorboard package is part of the lm extra
        print(
            "loci train: no TensorBoard logs (pip install tensorboard)",
            file=sys.stderr,
        )
        return None
    return SummaryWriter(str(folder))


class _Bar:
    """A rich progress bar with loss and tokens/s (nothing when disabled)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._progress = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("{task.fields[rate]:,.0f} tokens/s"),
            TimeRemainingColumn(),
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=total, loss=math.nan, rate=0, epoch=1)

    def advance(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def update(self, step: int, *, loss: float, rate: float, epoch: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=loss, rate=rate, epoch=epoch)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def train_folder(
    data_dir: Path,
    out_dir: Path,
    *,
    base: Path | None = None,
    epochs: int = 1,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = lambda _line: None,
) -> TrainResult:
    """``loci train``: read a folder of scores and train (or fine-tune ``base``) on it.

    Files and scores that cannot be read are skipped; their count and commonest reasons
    are logged, and every one is listed in ``out_dir/skipped.txt``. Fine-tuning uses a
    lower learning rate (3e-4) than training from scratch (1e-3).
    """
    started = time.perf_counter()
    report = read_folder(Path(data_dir))
    log(f"read {report.summary()} in {time.perf_counter() - started:.1f} s")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if report.skipped:
        lines = [f"{path}: {why}" for path, why in report.skipped]
        (out_dir / "skipped.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        log(f"skipped {len(report.skipped)}, listed in {out_dir / 'skipped.txt'}")
    config = TrainConfig(
        epochs=epochs,
        seed=seed,
        learning_rate=3e-4 if base is not None else 1e-3,
        warmup_steps=20 if base is not None else 100,
    )
    return train(
        list(report.pieces),
        out_dir,
        base=base,
        config=config,
        progress=progress,
        notes=(f"data: {Path(data_dir).resolve()}", report.summary()),
        log=None if progress else log,
    )
