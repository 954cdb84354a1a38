"""Measure the shipped music LM (``--backend lm``) against the plan and the corpus.

Run: ``pip install -e ".[bench,lm]" && python benchmarks/bench_lm_quality.py
[--model assets/models/default] [--pieces 100]``. One thread. Prints:

1. the validation loss per token of the model and of a Kneser-Ney 4-gram on the same
   held-out tokens (from the model's training.json, measured when it was trained);
2. over ``--pieces`` plans cycling through every mode, the metres 4/4, 3/4, 6/8 and 2/4
   and the six genres (30 s each): melody notes in the plan's scale (and the allowed
   passing notes), bars of exactly the metre's length (from the tokens), music21's key
   analysis naming the plan's key or an equivalent, of the whole piece and of the LM's
   own parts alone (melody and bass, without the arranger's harmony), and strong-beat
   melody notes on chord tones;
3. conditioning heard: notes per quarter note at low vs high arousal, and mean melody
   pitch at low vs high register, each once through the whole plan (tokens and limits)
   and once through the conditioning tokens alone (the plan's limits unchanged);
4. muspy's pitch-class entropy, scale consistency and groove consistency of LM and rules
   melodies (6 genres x 7 seeds, 60 s) beside the 3,068 folk tunes of O'Neill's and
   Ryan's collections in music21's corpus (``benchmarks/data/folk_corpus_metrics.json``);
5. originality: runs of 16 intervals still matching a training melody, phrases rewritten.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import music21
import muspy
import numpy as np
import torch

from generation import compose, make_plan, understand, write_midi
from generation.harmony import MODES, PARENT_MODE, SCALES, equivalent_keys
from generation.lm import DEFAULT_MODEL_DIR
from generation.lm.backend import compose_lm
from generation.lm.conditioning import decode_plan
from generation.lm.decode import sample_piece
from generation.lm.model import load_model
from generation.types import Score
from scene.environment import Environment, Feature

DRY = Environment(kind=Feature("free_field", "", "bench"), indoor=Feature(False, "", "bench"))
GENRES = {
    "pop": "a happy pop song",
    "folk": "a calm folk tune with guitar",
    "ambient": "a dreamy ambient piece",
    "classical": "an elegant classical piece",
    "chinese": "欢快的中国风笛子",
    "dance": "energetic dance music",
}
METERS = ((4, 4), (3, 4), (6, 8), (2, 4))
TONICS = ("C", "D", "Eb", "E", "F", "G", "A", "Bb", "B", "F#", "Ab", "C#")
RESOLUTION = 24  # muspy ticks per quarter note


def _positions(note, plan) -> tuple[int, int]:
    """(bar index, onset in sixteenths) of a performed note (no swing in these plans)."""
    bar = int(note.start_s / plan.bar_seconds + 1e-6)
    onset = round((note.start_s - bar * plan.bar_seconds) / (60.0 / plan.tempo_bpm / 4))
    return bar, onset


def _plan_for(index: int):
    genre = list(GENRES)[index % len(GENRES)]
    style = understand(GENRES[genre])
    style = replace(
        style,
        mode=MODES[index % len(MODES)],
        meter=METERS[(index // len(MODES)) % len(METERS)],
        key_tonic=TONICS[(index * 5) % len(TONICS)],
        swing=0.0,
    )
    return make_plan(style, DRY, seed=index, duration_s=30.0)


def _lm_parts_key(score: Score, folder: Path) -> music21.key.Key:
    lm_only = Score(
        plan=score.plan,
        parts=tuple(p for p in score.parts if p.stem.role in ("melody", "bass")),
    )
    path = folder / "lm.mid"
    write_midi(lm_only, path)
    return music21.converter.parse(path).analyze("key")


def _whole_score_key(score: Score, folder: Path) -> music21.key.Key:
    """music21's key of the whole piece as written to score.mid (the LM's melody and bass
    with the arranger's harmony; drums carry no pitch for the key-finder)."""
    pitched = Score(plan=score.plan, parts=tuple(p for p in score.parts if p.stem.role != "drums"))
    path = folder / "whole.mid"
    write_midi(pitched, path)
    return music21.converter.parse(path).analyze("key")


def _bars_exact(tokens: tuple[str, ...], length: int) -> tuple[int, int]:
    good = total = 0
    for chunk in " ".join(tokens).split(" BAR ")[1:]:
        for track in chunk.split("TRACK_BASS"):
            spans = [int(t.split("_")[1]) for t in track.split() if t[:4] in ("DUR_", "REST")]
            total += 1
            good += sum(spans) == length
    return good, total


def plan_adherence(model: Path, count: int) -> dict:
    in_scale = notes = strong_chord = strong = key_hits = whole_hits = bars_ok = bars = 0
    regenerated = violations = 0
    interventions = choices = 0
    track_counts = [[0, 0], [0, 0]]
    misses = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(count):
            plan = _plan_for(index)
            score, report = compose_lm(plan, model_dir=model)
            dplan = decode_plan(plan)
            record = report.to_dict()
            regenerated += record["originality"]["regenerated_phrases"]
            violations += record["originality"]["violations"]
            interventions += report.interventions
            choices += report.free_steps
            for k, (steps, hits) in enumerate(report.track_interventions):
                track_counts[k][0] += hits
                track_counts[k][1] += steps
            scale = set(SCALES[plan.mode])
            parent = set(SCALES[PARENT_MODE[plan.mode]])
            melody = next(p for p in score.parts if p.stem.role == "melody")
            beat_16 = 60.0 / plan.tempo_bpm / 4
            for note in melody.notes:
                bar, onset = _positions(note, plan)
                chord = dplan.bars[bar].chord_pcs
                pc = (note.pitch - dplan.tonic_pc) % 12
                length = round((note.end_s - note.start_s) / beat_16 / 0.92)
                allowed = scale | (chord & {11})
                if onset not in dplan.strong and length <= 2:
                    allowed |= parent
                notes += 1
                in_scale += pc in allowed
                if onset in dplan.strong:
                    strong += 1
                    strong_chord += pc in chord
            good, total = _bars_exact(report.token_strings, dplan.bar_length)
            bars_ok += good
            bars += total
            allowed = equivalent_keys(plan.key_tonic, plan.mode)
            found = _lm_parts_key(score, Path(tmp))
            hit = (found.tonic.pitchClass, found.mode) in allowed
            key_hits += hit
            whole = _whole_score_key(score, Path(tmp))
            whole_hits += (whole.tonic.pitchClass, whole.mode) in allowed
            if not hit:
                misses.append(f"{plan.key} {plan.meter[0]}/{plan.meter[1]}: music21 {found}")
    return {
        "pieces": count,
        "notes in scale": (in_scale, notes),
        "bars of the metre's length": (bars_ok, bars),
        "key named (LM parts only)": (key_hits, count),
        "key named (the whole piece, the arranger's harmony included)": (whole_hits, count),
        "strong-beat melody notes on chord tones": (strong_chord, strong),
        "phrases rewritten for originality": regenerated,
        "originality violations": violations,
        "constraint interventions": (interventions, choices),
        "  of them in the melody": tuple(track_counts[0]),
        "  of them in the bass": tuple(track_counts[1]),
        "key misses": misses,
    }


def _notes_per_quarter(lines, dplan) -> float:
    notes = sum(len(bar) for bar in lines)
    return notes / (len(lines) * dplan.bar_length / 4)


def conditioning(model: Path, seeds: int) -> dict:
    loaded = load_model(model)
    rows: dict[str, list[float]] = {}
    for seed in range(seeds):
        mode = ("major", "minor", "dorian", "mixolydian")[seed % 4]
        base = replace(understand("a piece"), mode=mode, key_tonic="D", meter=(4, 4))
        calm = make_plan(
            replace(base, arousal=-0.9, tempo_tendency=-0.8), DRY, seed=seed, duration_s=30
        )
        lively = make_plan(
            replace(base, arousal=0.9, tempo_tendency=0.8), DRY, seed=seed, duration_s=30
        )
        for name, plan in (("arousal low", calm), ("arousal high", lively)):
            result = sample_piece(loaded, decode_plan(plan), seed=seed)
            rows.setdefault(name, []).append(_notes_per_quarter(result.melody, decode_plan(plan)))
        # Tokens alone: the calm plan, with the lively plan's tempo, density and arousal bins.
        dplan = decode_plan(calm)
        hot = replace(
            dplan,
            conditions=replace(dplan.conditions, tempo="fast", density="high", arousal="high"),
        )
        cold = replace(
            dplan, conditions=replace(dplan.conditions, tempo="slow", density="low", arousal="low")
        )
        for name, dp in (("arousal tokens low", cold), ("arousal tokens high", hot)):
            result = sample_piece(loaded, dp, seed=seed)
            rows.setdefault(name, []).append(_notes_per_quarter(result.melody, dp))
        # Register: the melody stem an octave apart (tokens and limits), or tokens alone.
        plan = make_plan(base, DRY, seed=seed, duration_s=30)
        for name, shift in (("register low", -6), ("register high", 6)):
            stems = tuple(
                replace(s, register=(s.register[0] + shift, s.register[1] + shift))
                if s.role == "melody"
                else s
                for s in plan.stems
            )
            result = sample_piece(loaded, decode_plan(replace(plan, stems=stems)), seed=seed)
            rows.setdefault(name, []).append(
                float(np.mean([n[2] for bar in result.melody for n in bar]))
            )
        wide = replace(decode_plan(plan), melody_range=(50, 86))
        for name, bin_name in (("register tokens low", "low"), ("register tokens high", "high")):
            dp = replace(wide, conditions=replace(wide.conditions, register=bin_name))
            result = sample_piece(loaded, dp, seed=seed)
            rows.setdefault(name, []).append(
                float(np.mean([n[2] for bar in result.melody for n in bar]))
            )
    return {name: float(np.mean(values)) for name, values in rows.items()}


def _muspy_row(notes_beats: list[tuple[float, float, int]], beats_per_bar: float) -> tuple:
    notes = [
        muspy.Note(
            time=round(start * RESOLUTION),
            pitch=pitch,
            duration=max(1, round(length * RESOLUTION)),
            velocity=64,
        )
        for start, length, pitch in notes_beats
    ]
    music = muspy.Music(resolution=RESOLUTION, tracks=[muspy.Track(notes=notes)])
    return (
        muspy.pitch_class_entropy(music),
        muspy.scale_consistency(music),
        muspy.groove_consistency(music, round(beats_per_bar * RESOLUTION)),
    )


def _score_melody_row(score: Score) -> tuple:
    plan = score.plan
    quarter = 60.0 / plan.tempo_bpm
    melody = next(p for p in score.parts if p.stem.role == "melody")
    rows = [(n.start_s / quarter, (n.end_s - n.start_s) / quarter, n.pitch) for n in melody.notes]
    return _muspy_row(rows, plan.meter[0] * 4 / plan.meter[1])


#: Per-tune metrics of every folk tune of music21's corpus that records no licence
#: restriction (O'Neill's 1850 and Ryan's Mammoth, 3,068 tunes of at least 16 notes), made
#: by ``benchmarks/folk_corpus_metrics.py``: the same reference as bench_generation_quality.
CORPUS_METRICS = Path(__file__).resolve().parent / "data" / "folk_corpus_metrics.json"


def corpus_rows() -> np.ndarray:
    tunes = json.loads(CORPUS_METRICS.read_text(encoding="utf-8"))["tunes"]
    names = ("pitch_class_entropy", "scale_consistency", "groove_consistency")
    return np.asarray([[tune[name] for name in names] for tune in tunes])


def metrics_table(model: Path, seeds: int) -> str:
    lm_rows, rules_rows = [], []
    for text in GENRES.values():
        style = understand(text)
        for seed in range(seeds):
            plan = make_plan(style, DRY, seed=seed, duration_s=60.0)
            rules_rows.append(_score_melody_row(compose(plan)))
            lm_rows.append(_score_melody_row(compose_lm(plan, model_dir=model)[0]))
    corpus = corpus_rows()
    lm, rules = np.asarray(lm_rows), np.asarray(rules_rows)
    lines = [
        "| metric | corpus range (median) | rules: median, inside range, distance | "
        "lm: median, inside range, distance |",
        "| --- | --- | --- | --- |",
    ]
    for column, name in enumerate(
        ("pitch-class entropy", "scale consistency", "groove consistency")
    ):
        low, high = corpus[:, column].min(), corpus[:, column].max()
        median = np.median(corpus[:, column])
        cells = []
        for ours in (rules, lm):
            inside = np.mean((ours[:, column] >= low) & (ours[:, column] <= high))
            m = np.median(ours[:, column])
            cells.append(f"{m:.3f}, {100 * inside:.0f}%, {abs(m - median):.3f}")
        lines.append(f"| {name} | {low:.3f}..{high:.3f} ({median:.3f}) | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + (
        f"\n\n{len(corpus)} folk tunes (O'Neill's and Ryan's); {len(lm)} pieces per backend."
    )


def _bars(piece) -> list[tuple[str, ...]]:
    """A piece's bars as its note tokens (melody and bass), without chords or sections."""
    from generation.lm.vocab import encode_piece

    bars, current = [], []
    for token in encode_piece(piece):
        if token == "BAR":
            if current:
                bars.append(tuple(current))
            current = []
        elif token.startswith(("PITCH_", "DUR_", "REST_", "TRACK")):
            current.append(token)
    if current:
        bars.append(tuple(current))
    return bars


def overlap_free_losses(model_dir: Path, cache: Path, *, run_bars: int = 8) -> list[str]:
    """The held-out losses again without the held-out tunes that share a run of
    ``run_bars`` bars with a training tune: folk collections print one tune more than
    once, under other names, and a model that learnt it by heart would look better than
    it is. The 4-gram is refitted on the same training tokens as in training."""
    import transformers

    from generation.lm.dataset import split_by_piece, windows
    from generation.lm.ngram import KneserNey
    from generation.lm.train import evaluate_loss
    from generation.lm.train_default import _pieces, read_default_corpus
    from generation.lm.vocab import Vocabulary

    pieces, _ = _pieces(read_default_corpus(cache, quiet=True))
    train, held_out = split_by_piece(pieces, validation_fraction=0.1)
    seen = set()
    for piece in train:
        bars = _bars(piece)
        seen.update(tuple(bars[i : i + run_bars]) for i in range(len(bars) - run_bars + 1))
    fresh = []
    for piece in held_out:
        bars = _bars(piece)
        if not any(tuple(bars[i : i + run_bars]) in seen for i in range(len(bars) - run_bars + 1)):
            fresh.append(piece)
    vocab = Vocabulary()
    train_windows = windows(train, vocab, context=1024)
    ngram = KneserNey(train_windows, order=4, vocab_size=len(vocab), pad=vocab.pad_id)
    model = transformers.GPT2LMHeadModel.from_pretrained(str(model_dir))
    lines = []
    for name, subset in (("all held-out tunes", held_out), ("without repeats", fresh)):
        sequences = windows(subset, vocab, context=1024)
        theirs = ngram.cross_entropy(sequences)
        ours = evaluate_loss(model, sequences, pad_id=vocab.pad_id)
        lines.append(
            f"{name} ({len(subset)}): model {ours:.4f}, 4-gram {theirs:.4f}: "
            f"{100 * (1 - ours / theirs):.1f}% lower"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--pieces", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=7)
    parser.add_argument("--conditioning-seeds", type=int, default=12)
    parser.add_argument(
        "--overlap-cache",
        type=Path,
        help="also measure the losses without held-out tunes that repeat training music, "
        "reading the corpus as generation.lm.train_default does (this cache file, made "
        "by it; about half an hour to read without one)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    info = json.loads((args.model / "training.json").read_text())
    lm_loss = info["validation_loss_per_token"]
    ngram = info["ngram4_validation_loss_per_token"]
    print(
        f"1. validation loss per token: model {lm_loss:.4f} nats, 4-gram (Kneser-Ney) "
        f"{ngram:.4f}: {100 * (1 - lm_loss / ngram):.1f}% lower "
        f"({info['validation_pieces']} held-out pieces)"
    )
    if args.overlap_cache is not None:
        for line in overlap_free_losses(args.model, args.overlap_cache):
            print(f"   {line}")
    adherence = plan_adherence(args.model, args.pieces)
    print("2./5. plan adherence and originality:")
    for name, value in adherence.items():
        if isinstance(value, tuple):
            print(f"   {name}: {value[0]}/{value[1]} ({100 * value[0] / max(value[1], 1):.1f}%)")
        elif isinstance(value, list):
            for miss in value:
                print(f"     {miss}")
        else:
            print(f"   {name}: {value}")
    rows = conditioning(args.model, args.conditioning_seeds)
    print("3. conditioning (means over seeds):")
    print(
        f"   notes per quarter, arousal low {rows['arousal low']:.2f} vs high "
        f"{rows['arousal high']:.2f}: x{rows['arousal high'] / rows['arousal low']:.2f}; "
        f"tokens alone {rows['arousal tokens low']:.2f} vs {rows['arousal tokens high']:.2f}: "
        f"x{rows['arousal tokens high'] / rows['arousal tokens low']:.2f}"
    )
    print(
        f"   mean melody pitch (key-relative), register low {rows['register low']:.1f} vs "
        f"high {rows['register high']:.1f}: "
        f"{rows['register high'] - rows['register low']:+.1f} semitones; tokens alone "
        f"{rows['register tokens low']:.1f} vs {rows['register tokens high']:.1f}: "
        f"{rows['register tokens high'] - rows['register tokens low']:+.1f}"
    )
    print("4. muspy metrics of the melodies:")
    print(metrics_table(args.model, args.seeds))


if __name__ == "__main__":
    main()
