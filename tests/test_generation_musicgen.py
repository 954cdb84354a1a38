"""The MusicGen backend with tiny random models saved and loaded through from_pretrained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import generation
from generation.musicgen import (
    MusicGenError,
    estimate_key,
    generate_music,
    load_musicgen,
    melody_chroma,
    musicgen_prompt,
)
from generation.types import SAMPLE_RATE
from loci.cli import main
from loci.compose import placeless_environment

WORDS = (
    "bright cheerful folk music for a sunny beach by the sea with flute steel guitar light "
    "drums in major minor bpm time high quality instrumental calm elegant"
).split()


def _tiny_musicgen(folder: Path, *, melody: bool) -> Path:
    """A tiny random MusicGen (or MusicGen-Melody): small T5 and EnCodec, 4 codebooks at
    25 frames/s, 32 kHz; a T5 tokenizer made from a word list; saved with save_pretrained."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
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
    decoder_config = MusicgenMelodyDecoderConfig if melody else MusicgenDecoderConfig
    decoder = decoder_config(
        vocab_size=2048,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=64,
        num_codebooks=4,
        max_position_embeddings=2048,
    )
    torch.manual_seed(0)
    if melody:
        config = MusicgenMelodyConfig(
            text_encoder=text, audio_encoder=audio, decoder=decoder, chroma_length=235
        )
        model = MusicgenMelodyForConditionalGeneration(config)
    else:
        config = MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)
        model = MusicgenForConditionalGeneration(config)
    model.save_pretrained(folder)
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in WORDS]
    T5Tokenizer(vocab=vocab, extra_ids=0).save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def musicgen_dir(tmp_path_factory) -> Path:
    return _tiny_musicgen(tmp_path_factory.mktemp("musicgen"), melody=False)


@pytest.fixture(scope="module")
def melody_dir(tmp_path_factory) -> Path:
    return _tiny_musicgen(tmp_path_factory.mktemp("musicgen_melody"), melody=True)


def _piece(duration_s: float, instruction: str = "在海滩上播放一首轻快的音乐"):
    style = generation.understand(instruction)
    plan = generation.make_plan(
        style, placeless_environment(("beach",)), seed=1, duration_s=duration_s
    )
    return style, plan, generation.compose(plan)


def test_output_shape_rate_and_record(musicgen_dir: Path) -> None:
    style, plan, score = _piece(8.0)
    result = generate_music(plan, style, score, model_dir=musicgen_dir, places=("beach",))
    (stem,) = result.stems
    assert stem.name == "music" and stem.sample_rate == SAMPLE_RATE == 48_000
    assert stem.audio.shape == (8 * SAMPLE_RATE,) and stem.audio.dtype == np.float32
    assert np.all(np.isfinite(stem.audio)) and 0 < np.max(np.abs(stem.audio)) < 1.0
    record = result.record
    assert record["windows"] == 1 and record["model_sample_rate_hz"] == 32000
    assert record["tokens"] == 8 * 25 + 3 and record["tokens_per_s"] > 0
    assert "CC-BY-NC" in record["licence"]
    assert record["measured"]["planned_key"] == plan.key


def test_prompt_is_english_for_a_chinese_instruction() -> None:
    style, plan, _ = _piece(8.0)
    prompt = musicgen_prompt(style, plan, places=("beach",))
    assert all(ord(c) < 128 for c in prompt)
    assert "cheerful" in prompt and "beach" in prompt
    assert f"{plan.tempo_bpm:.0f} bpm" in prompt and plan.key_tonic in prompt


def test_continuation_to_70_seconds_has_no_gaps(musicgen_dir: Path) -> None:
    style, plan, score = _piece(70.0, "play a light, cheerful piece on the beach")
    ticks = []
    result = generate_music(
        plan,
        style,
        score,
        model_dir=musicgen_dir,
        guidance_scale=1.0,
        progress=lambda done, total: ticks.append((done, total)),
    )
    (stem,) = result.stems
    assert stem.audio.shape == (70 * SAMPLE_RATE,)
    # 30 s, then 20 s twice (each prompted by the last 10 s).
    assert result.record["windows"] == 3
    frames = stem.audio[: 70 * SAMPLE_RATE].reshape(-1, SAMPLE_RATE // 10)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    assert np.min(rms[:-1]) > 0.02 * np.median(rms)  # no silent tenth of a second
    assert ticks[-1][0] == ticks[-1][1] == result.record["tokens"]


def test_melody_chroma_follows_the_score() -> None:
    _, _, score = _piece(8.0)
    chroma = melody_chroma(score, frame_rate=235 / 30, start_s=0.0, frames=40)
    assert chroma.shape == (40, 12) and np.all(chroma.sum(axis=1) == 1.0)
    melody = next(p for p in score.parts if p.stem.role == "melody")
    for k in range(40):
        t = (k + 0.5) / (235 / 30)
        sounding = [n.pitch % 12 for n in melody.notes if n.start_s <= t < n.end_s]
        if sounding:
            assert int(np.argmax(chroma[k])) == sounding[0]


def test_melody_model_is_conditioned_and_continues(melody_dir: Path) -> None:
    style, plan, score = _piece(22.0)
    result = generate_music(
        plan, style, score, model_dir=melody_dir, window_s=10.0, guidance_scale=1.0
    )
    assert result.record["model_type"] == "musicgen_melody"
    assert result.record["melody_conditioning"] == "chroma of the plan's melody"
    # 10 s, then 5 s at a time, each prompted by the last 5 s as EnCodec codes.
    assert result.record["windows"] == 4
    assert result.stems[0].audio.shape == (22 * SAMPLE_RATE,)


def test_model_folder_errors(tmp_path: Path, musicgen_dir: Path) -> None:
    with pytest.raises(MusicGenError, match="no such folder"):
        load_musicgen(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MusicGenError, match=r"no config\.json"):
        load_musicgen(tmp_path / "empty")
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(MusicGenError, match="'gpt2' is not MusicGen"):
        load_musicgen(wrong)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (no_weights / name).write_bytes((musicgen_dir / name).read_bytes())
    with pytest.raises(MusicGenError, match=r"model\.safetensors"):
        load_musicgen(no_weights)
    style, plan, score = _piece(4.0)
    with pytest.raises(MusicGenError, match=r"window_s=1\.0"):
        generate_music(plan, style, score, model_dir=musicgen_dir, window_s=1.0)


def test_key_and_tempo_measurement() -> None:
    from generation.musicgen import _measure

    # A C major scale's pitch classes, weighted toward tonic and fifth.
    chroma = np.zeros(12)
    chroma[[0, 2, 4, 5, 7, 9, 11]] = [3, 1, 2, 1, 2.5, 1, 1]
    assert estimate_key(chroma) == "C major"
    assert estimate_key(np.roll(chroma, 2)) == "D major"
    # Clicks at 120 bpm.
    clicks = np.zeros(10 * SAMPLE_RATE)
    for k in range(20):
        at = round(k * 0.5 * SAMPLE_RATE)
        clicks[at : at + 200] = np.hanning(200)
    tempo, _ = _measure(clicks)
    assert tempo == pytest.approx(120.0, rel=0.03)


def test_cli_needs_a_model_and_names_the_licence(capsys) -> None:
    assert main(["compose", "a calm piece", "--backend", "musicgen", "-o", "/tmp/none"]) == 2
    assert "needs --model DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compose", "--help"])
    assert "CC-BY-NC" in capsys.readouterr().out


def test_cli_compose_with_musicgen(musicgen_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compose", "play a calm piece", "--backend", "musicgen", "--model", str(musicgen_dir)]
    assert main([*args, "-o", str(out), "--duration", "6"]) == 0
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["composer"]["backend"] == "musicgen"
    assert set(plan["composer"]["measured"]) >= {"tempo_bpm", "key", "planned_tempo_bpm"}
    assert (out / "stems" / "music.wav").is_file() and (out / "score.mid").is_file()
