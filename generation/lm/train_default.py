"""Train the shipped model, ``assets/models/default``, on public-domain scores of music21.

Run: ``nice -n 10 python -m generation.lm.train_default [-o assets/models/default]``.

The collections and their licences (read from the files): O'Neill's Music of Ireland
(1850), Ryan's Mammoth Collection (1883) and Aird's Selection of Scotch, English, Irish and
Foreign Airs (1782-1797), transcribed to ABC with transcriber credits and no licence; the
Bach chorales in MusicXML (18th century, no licence recorded). Left out: Essen (for
non-commercial use only), Palestrina and the three Bach kern files (copyrighted
encodings), Josquin (GPL-2).
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import sys
import time
from pathlib import Path

from generation.lm.corpus import ReadReport, read_folder, relabel

__all__ = ["COLLECTIONS", "read_default_corpus", "record_base_training", "write_model_card"]

#: music21 corpus folder -> (style, file pattern, source and licence).
COLLECTIONS: dict[str, tuple[str, str, str]] = {
    "oneills1850": (
        "folk",
        "*.abc",
        "O'Neill's Music of Ireland (1850 tunes, 1903); ABC by Norbert Paap; no licence recorded",
    ),
    "ryansMammoth": (
        "folk",
        "*.abc",
        "Ryan's Mammoth Collection (1883); ABC transcription; no licence recorded",
    ),
    "airdsAirs": (
        "folk",
        "*.abc",
        "Aird's Selection of Airs (1782-1797); ABC transcription; no licence recorded",
    ),
    "bach": ("classical", "*.mxl", "J. S. Bach, chorales (MusicXML); no licence recorded"),
}


def read_default_corpus(cache: Path, *, quiet: bool = False) -> dict[str, ReadReport]:
    """Every collection of :data:`COLLECTIONS` read into pieces, cached in ``cache``."""
    if cache.is_file():
        with cache.open("rb") as handle:
            return pickle.load(handle)
    import music21

    root = Path(music21.__file__).parent / "corpus"
    reports = {}
    for folder, (style, pattern, _) in COLLECTIONS.items():
        started = time.perf_counter()
        files = sorted((root / folder).glob(pattern))
        report = read_folder(root / folder, style=style, files=files)
        reports[folder] = report
        if not quiet:
            print(
                f"{folder}: {report.summary()} in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        pickle.dump(reports, handle)
    temporary.replace(cache)
    return reports


def _pieces(reports: dict[str, ReadReport]) -> tuple[list, list[str]]:
    pieces, notes = [], []
    for folder, report in reports.items():
        pieces += [relabel(p) for p in report.pieces]
        notes.append(f"{folder}: {report.summary()}; {COLLECTIONS[folder][2]}")
    return pieces, notes


def _decode_speed(folder: Path, precision: str) -> float:
    """Tokens per second writing the melody and bass of a 60 s pop piece (one thread)."""
    from generation import make_plan, understand
    from generation.lm.conditioning import decode_plan
    from generation.lm.decode import sample_piece
    from generation.lm.model import load_model
    from scene.environment import Environment, Feature

    place = Environment(kind=Feature("free_field", "", "train"), indoor=Feature(False, "", "train"))
    plan = make_plan(understand("a happy pop song"), place, seed=1, duration_s=60.0)
    loaded = load_model(folder, precision=precision)  # type: ignore[arg-type]
    sample_piece(loaded, decode_plan(plan), seed=0)  # warm-up
    started = time.perf_counter()
    result = sample_piece(loaded, decode_plan(plan), seed=1)
    return len(result.tokens) / (time.perf_counter() - started)


#: What a continued model keeps of its base's training.json: how the base was made.
_BASE_FIELDS = (
    "command",
    "config",
    "train_pieces",
    "train_tokens",
    "steps",
    "training_seconds",
    "training_tokens_per_s",
    "validation_loss_per_token",
    "base_training",
)


def record_base_training(folder: Path, base: Path) -> None:
    """Add the base model's own training record to ``folder/training.json``.

    A model trained on from another (``--from``) then tells its whole history: each stage's
    command, settings, steps, time and validation loss.
    """
    base_file = Path(base) / "training.json"
    if not base_file.is_file():
        return
    base_info = json.loads(base_file.read_text(encoding="utf-8"))
    info_path = Path(folder) / "training.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["base_training"] = {k: base_info[k] for k in _BASE_FIELDS if k in base_info}
    info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _stages(info: dict) -> list[dict]:
    """The training stages of a model, first first (its base's, then its own)."""
    stages = [info]
    while isinstance(stages[-1].get("base_training"), dict):
        stages.append(stages[-1]["base_training"])
    return stages[::-1]


def write_model_card(folder: Path, quality: str = "") -> None:
    """Write ``README.md`` of a model folder from its ``training.json`` (and quality notes)."""
    info = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    arch = info["architecture"]
    size_mb = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6
    data = "\n".join(f"- {line}" for line in info["notes"])
    speeds = info.get("decode_tokens_per_s", {})
    fp32, int8 = speeds.get("fp32", 0.0), speeds.get("int8", 0.0)
    loss, ngram = info["validation_loss_per_token"], info["ngram4_validation_loss_per_token"]
    training = "\n\n".join(
        f"{number}. `{stage.get('command', 'python -m generation.lm.train_default')}`: "
        f"{stage['config']['epochs']} epochs, {stage['steps']} steps of about "
        f"{stage['config']['batch_tokens']:,} tokens at a peak learning rate of "
        f"{stage['config']['learning_rate']:g}; {stage['training_seconds'] / 60:.0f} minutes, "
        f"{stage['training_tokens_per_s']:,.0f} tokens/s; validation loss "
        f"{stage['validation_loss_per_token']:.4f} nats per token after it."
        for number, stage in enumerate(_stages(info), start=1)
    )
    card = f"""# The default music LM of genius-loci

A GPT-2 ({arch["layers"]} layers x {arch["width"]}, {arch["heads"]} heads, context
{arch["context"]} tokens, vocabulary {arch["vocabulary"]}: {info["parameters"]:,} parameters)
over the key-relative bar tokens of `generation/lm/vocab.py`. It writes the melody and
bass of `loci compose/render --backend lm`. Files: `config.json`, `model.safetensors`
(float32), `tokenizer.json` (a word-level transformers tokenizer of the vocabulary),
`originality.npy` (hashes of every run of 16 melodic intervals of the training melodies),
`training.json` (everything below, as numbers). {size_mb:.1f} MB in all.

## Data and licences

{info["train_pieces"] + info["validation_pieces"]:,} pieces from music21's corpus
(music21 is BSD-licensed; its corpus files carry their own terms):

{data}

Left out: the Essen folk song collection (licensed for non-commercial use only; it holds
music21's only Chinese songs), Palestrina and the three Bach kern files (copyrighted
encodings with licence agreements), Josquin (GPL-2). The sources are 18th- and
19th-century publications; the model and its weights are released under the project's
MIT licence.

## Training

{training}

{info["train_pieces"]:,} pieces ({info["train_tokens"]:,} tokens) for training,
{info["validation_pieces"]} held out by piece (by a hash of their names: every stage holds
out by the same rule, so none trained on a piece another held out); AdamW (warm-up,
cosine decay), dropout 0.1, one CPU thread at nice 10 on a shared 2-core machine. Each
stage's validation loss is on the pieces held out when it ran.

## Metrics

| measure | value |
| --- | --- |
| validation loss per token, this model | {loss:.4f} nats |
| validation loss per token, Kneser-Ney 4-gram on the same tokens | {ngram:.4f} nats |
| improvement over the 4-gram | {100 * info["improvement_over_ngram4"]:.1f}% |
| decoding, KV cache, one thread (tokens/s) | fp32 {fp32:.0f}, int8 {int8:.0f} |
| CPU precision chosen by default | {info.get("cpu_precision", "fp32")} |
{quality}"""
    (folder / "README.md").write_text(card, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("assets/models/default"))
    parser.add_argument("--cache", type=Path, default=Path("build/lm/default_corpus.pkl"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--from", dest="base", type=Path, help="continue from this model")
    parser.add_argument("--read-only", action="store_true", help="read the corpus and stop")
    args = parser.parse_args(argv)
    import torch

    from generation.lm.train import TrainConfig, train

    torch.set_num_threads(1)
    reports = read_default_corpus(args.cache)
    if args.read_only:
        return 0
    pieces, notes = _pieces(reports)
    config = TrainConfig(
        epochs=args.epochs,
        layers=6,
        width=256,
        heads=4,
        context=1024,
        learning_rate=3e-4 if args.base else 1e-3,
        warmup_steps=20 if args.base else 100,
    )
    result = train(
        pieces,
        args.out,
        base=args.base,
        config=config,
        progress=sys.stderr.isatty(),
        notes=notes,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(result, file=sys.stderr, flush=True)
    speeds = {p: _decode_speed(args.out, p) for p in ("fp32", "int8")}
    info_path = args.out / "training.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["decode_tokens_per_s"] = {p: round(v, 1) for p, v in speeds.items()}
    info["cpu_precision"] = max(speeds, key=speeds.get)
    info["command"] = "nice -n 10 python -m generation.lm.train_default " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if args.base is not None:
        record_base_training(args.out, args.base)
    # The TensorBoard logs stay out of the shipped folder.
    logs = args.out / "logs"
    if logs.is_dir():
        target = args.cache.parent / "default_logs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(logs), target)
    write_model_card(args.out)
    print(json.dumps(info, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
