"""MusicGen generation speed: tokens per second of the backend against transformers alone.

Run: ``python benchmarks/bench_musicgen.py [--model DIR] [--seconds 20]``. Without
``--model`` it builds a tiny random MusicGen (4 codebooks, 25 frames/s, 32 kHz) and saves
it, so the figures measure the pipeline's own cost (windows, continuation, crossfades,
resampling, measuring tempo and key) around the model rather than a real checkpoint's
speed. Side by side in one run: ``MusicgenForConditionalGeneration.generate`` for the
same number of tokens in one call, which is what a user of transformers would do (and
which cannot go past the model's 30 s window). On the CPU one torch thread; on CUDA
(half precision) too when it is present.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import generation
from generation.musicgen import generate_music, load_musicgen
from scene.environment import Environment, Feature


def tiny_musicgen(folder: Path) -> Path:
    """A tiny random MusicGen saved with save_pretrained (the tests' recipe)."""
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
        T5Tokenizer,
    )

    text = T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2)
    audio = EncodecConfig(
        sampling_rate=32000,
        upsampling_ratios=[8, 5, 4, 4, 2],
        codebook_size=2048,
        target_bandwidths=[1.1],
        hidden_size=32,
        num_filters=8,
        num_residual_layers=1,
        codebook_dim=32,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=64,
        num_codebooks=4,
        max_position_embeddings=2048,
    )
    torch.manual_seed(0)
    config = MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)
    MusicgenForConditionalGeneration(config).save_pretrained(folder)
    words = "bright cheerful folk music beach sea flute guitar major bpm".split()
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in words]
    T5Tokenizer(vocab=vocab, extra_ids=0).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="a MusicGen checkpoint (default: tiny random)")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per run (default 20)")
    parser.add_argument("--continuation", type=float, default=45.0, help="a longer run, s")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.model or tiny_musicgen(Path(scratch) / "tiny")
        style = generation.understand("play a light, cheerful piece on the beach")
        place = Environment(
            kind=Feature("outdoor", "label", "bench"),
            indoor=Feature(False, "true/false", "bench"),
            place_tags=Feature(("beach",), "words", "bench"),
        )
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            loaded = load_musicgen(folder)
            if device == "cpu" and loaded.device != "cpu":
                loaded.model = loaded.model.float().to("cpu")
                loaded.device = "cpu"
            print(f"{folder} on {device} ({loaded.kind}, {loaded.frame_rate:g} frames/s)")
            # Warm up: first calls load librosa and compile kernels.
            warm = generation.make_plan(style, place, seed=1, duration_s=2.0)
            generate_music(warm, style, generation.compose(warm), model_dir=folder, loaded=loaded)
            for seconds in (args.seconds, args.continuation):
                plan = generation.make_plan(style, place, seed=1, duration_s=seconds)
                score = generation.compose(plan)
                started = time.perf_counter()
                result = generate_music(
                    plan, style, score, model_dir=folder, loaded=loaded, progress=lambda *_: None
                )
                wall = time.perf_counter() - started
                record = result.record
                print(
                    f"  loci musicgen, {seconds:g} s in {record['windows']} window(s): "
                    f"{record['tokens']} tokens, {record['tokens_per_s']:.1f} tokens/s generating, "
                    f"{wall:.1f} s in all ({seconds / wall:.2f}x real time)"
                )
                if seconds <= 30:
                    ids = loaded.tokenizer(["bright cheerful folk music"], return_tensors="pt")
                    started = time.perf_counter()
                    with torch.no_grad():
                        loaded.model.generate(
                            input_ids=ids.input_ids.to(loaded.device),
                            attention_mask=ids.attention_mask.to(loaded.device),
                            do_sample=True,
                            guidance_scale=3.0,
                            max_new_tokens=record["tokens"],
                        )
                    raw = time.perf_counter() - started
                    print(
                        f"  transformers generate alone: {record['tokens'] / raw:.1f} tokens/s; "
                        f"loci's whole path takes {wall / raw:.2f}x its time"
                    )


if __name__ == "__main__":
    main()
