"""The MusicGen backend: the piece as audio from a local MusicGen checkpoint.

MusicGen (Copet et al. 2023) generates audio tokens from a text prompt; MusicGen-Melody
also from a chromagram. The checkpoint is one the user downloaded, in transformers'
format (``config.json``, weights, the T5 tokenizer); nothing is fetched. Its weights are
released under CC-BY-NC 4.0: non-commercial use only.

- The prompt is English, written from the style S and the place E (MusicGen was trained
  on English descriptions), also when the instruction was Chinese.
- A melody model is conditioned on the plan's own melody as a chromagram, computed here
  from the score (one-hot pitch class of the sounding melody note per chroma frame, the
  chord's root when the melody rests): the feature extractor of transformers needs
  torchaudio, which this project does not install.
- A piece longer than the model's window (30 s) is continued window by window: the
  last seconds of what is made so far prompt the next window (the plain model takes them
  as audio; the melody model as their EnCodec codes), and the seam is crossfaded.
- The result is resampled to 48 kHz; its tempo and key are measured (librosa) and
  reported against the plan's.
- CUDA in half precision when present; otherwise the CPU, with a progress callback per
  generated token.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

from generation.harmony import chord_pitch_classes
from generation.lexicon import INSTRUMENT_PROGRAMS
from generation.types import SAMPLE_RATE, MusicPlan, Score, Stem, Style

__all__ = [
    "LICENCE_NOTE",
    "MusicGenError",
    "MusicGenResult",
    "estimate_key",
    "generate_music",
    "load_musicgen",
    "melody_chroma",
    "musicgen_prompt",
]

#: What the CLI help and plan.json say about the weights.
LICENCE_NOTE = (
    "MusicGen weights are released under CC-BY-NC 4.0: generated music is for "
    "non-commercial use only"
)
_KINDS = ("musicgen", "musicgen_melody")
_PROMPT_S = 10.0
_CROSSFADE_S = 1.0
ProgressCallback = Callable[[int, int], None]


class MusicGenError(ValueError):
    """A MusicGen folder that cannot be used, or a request it cannot serve."""


@dataclass(frozen=True)
class MusicGenResult:
    """What the backend made.

    Attributes
    ----------
    stems
        One ``music`` stem (mono models) or a ``music_left``/``music_right`` pair (stereo
        models), float32 at 48 kHz, the plan's length.
    record
        plan.json's composer record: model, prompt, windows, speed, measured tempo and key.
    """

    stems: tuple[Stem, ...]
    record: dict = field(default_factory=dict)


@dataclass
class _Loaded:
    folder: Path
    kind: str
    model: object
    tokenizer: object
    device: str
    sample_rate: int
    frame_rate: float
    channels: int


def load_musicgen(folder: str | Path) -> _Loaded:
    """Load a MusicGen or MusicGen-Melody checkpoint from a local folder.

    Raises
    ------
    MusicGenError
        For a missing folder, no ``config.json``, a model type other than ``musicgen``
        or ``musicgen_melody``, no tokenizer, or weights that do not load.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MusicGenError(f"--model {folder}: no such folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise MusicGenError(
            f"--model {folder}: no config.json; expected a MusicGen checkpoint in transformers "
            "format (e.g. facebook/musicgen-small, saved with save_pretrained)"
        )
    try:
        kind = json.loads(config_path.read_text(encoding="utf-8")).get("model_type")
    except json.JSONDecodeError as error:
        raise MusicGenError(f"--model {folder}: config.json: {error}") from None
    if kind not in _KINDS:
        raise MusicGenError(
            f"--model {folder}: model_type {kind!r} is not MusicGen; allowed: {', '.join(_KINDS)}"
        )
    import torch
    from transformers import (
        AutoTokenizer,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise MusicGenError(f"--model {folder}: no usable tokenizer ({error})") from None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float16 if device == "cuda" else torch.float32
    cls = (
        MusicgenMelodyForConditionalGeneration
        if kind == "musicgen_melody"
        else MusicgenForConditionalGeneration
    )
    try:
        model = cls.from_pretrained(folder, dtype=dtype)
    except OSError as error:
        raise MusicGenError(f"--model {folder}: {error}") from None
    model = model.to(device).eval()
    audio = model.config.audio_encoder
    frame_rate = audio.sampling_rate / float(np.prod(audio.upsampling_ratios))
    channels = int(getattr(model.config.decoder, "audio_channels", 1))
    return _Loaded(
        folder, kind, model, tokenizer, device, audio.sampling_rate, frame_rate, channels
    )


def musicgen_prompt(style: Style, plan: MusicPlan, *, places: tuple[str, ...] = ()) -> str:
    """An English description of the piece for MusicGen, from S, the plan and the place."""
    if style.valence > 0.3:
        mood = "bright, cheerful" if style.arousal >= 0 else "warm, gentle"
    elif style.valence < -0.3:
        mood = "melancholic, dark" if style.arousal < 0.3 else "tense, dramatic"
    else:
        mood = "calm, elegant" if style.arousal < 0 else "lively"
    names: dict[int, str] = {}
    for name, program in INSTRUMENT_PROGRAMS.items():
        names.setdefault(program, name)  # the lexicon's first (most general) name
    instruments = []
    for stem in plan.stems:
        if stem.role in ("melody", "harmony", "bass"):
            name = names.get(stem.program)
            if name is not None and name not in instruments:
                instruments.append(name.replace("_", " "))
        elif stem.role == "drums":
            instruments.append("light drums")
    place = ""
    if "beach" in places:
        place = ", for a sunny beach by the sea"
    elif {"museum", "hall", "gallery"} & set(places):
        place = ", for a grand museum hall"
    elif places:
        place = f", for a {places[0]}"
    return (
        f"{mood} {plan.genre} music{place}, with {', '.join(instruments) or 'piano'}, "
        f"in {plan.key_tonic} {plan.mode}, {plan.tempo_bpm:.0f} bpm, {plan.meter[0]}/"
        f"{plan.meter[1]} time, high quality instrumental"
    )


def melody_chroma(score: Score, *, frame_rate: float, start_s: float, frames: int) -> np.ndarray:
    """The score's melody as MusicGen-Melody's chromagram: (frames, 12), one-hot per frame.

    A frame takes the pitch class of the melody note sounding at its centre; while the
    melody rests, the root of the bar's chord (the plan's harmony) stands in.
    """
    plan = score.plan
    melody = next((p for p in score.parts if p.stem.role == "melody"), None)
    chroma = np.zeros((frames, 12), dtype=np.float32)
    bar_s = plan.bar_seconds
    chords = [c for section in plan.sections for c in section.chords]
    for k in range(frames):
        t = start_s + (k + 0.5) / frame_rate
        pitch_class = None
        if melody is not None:
            for note in melody.notes:
                if note.start_s <= t < note.end_s:
                    pitch_class = note.pitch % 12
                    break
        if pitch_class is None and chords:
            chord = chords[min(int(t / bar_s), len(chords) - 1)]
            pitch_class = chord_pitch_classes(chord, plan.key_tonic, plan.mode)[0]
        if pitch_class is not None:
            chroma[k, pitch_class] = 1.0
    return chroma


def generate_music(
    plan: MusicPlan,
    style: Style,
    score: Score,
    *,
    model_dir: str | Path,
    places: tuple[str, ...] = (),
    window_s: float = 30.0,
    guidance_scale: float = 3.0,
    progress: ProgressCallback | None = None,
    loaded: _Loaded | None = None,
) -> MusicGenResult:
    """Generate the piece's audio with MusicGen, to the plan's duration.

    Parameters
    ----------
    plan, style, score
        The piece (the score's melody conditions a melody model).
    model_dir
        The checkpoint folder.
    places
        Place words for the prompt.
    window_s
        Seconds generated per window (MusicGen's context holds 30 s); later windows are
        prompted by the last :data:`_PROMPT_S` seconds (at most half the window).
    guidance_scale
        Classifier-free guidance (MusicGen's default 3).
    progress
        Called with (tokens done, tokens in all) after every generated token.
    loaded
        An already loaded model (see :func:`load_musicgen`).

    Returns
    -------
    MusicGenResult
    """
    if not window_s > 2.0:
        raise MusicGenError(f"window_s={window_s}; must be more than 2 seconds")
    model = loaded or load_musicgen(model_dir)
    import torch

    prompt_text = musicgen_prompt(style, plan, places=places)
    inputs = model.tokenizer([prompt_text], return_tensors="pt", padding=True)
    ids = inputs.input_ids.to(model.device)
    mask = inputs.attention_mask.to(model.device)
    sr, fps = model.sample_rate, model.frame_rate
    total = round(plan.duration_s * sr)
    prompt_s = min(_PROMPT_S, window_s / 2)
    schedule = _windows(plan.duration_s, window_s, prompt_s)
    tokens_total = sum(round(new * fps) + 3 for _, new in schedule)
    done = [0]
    bar = None
    if progress is None and model.device == "cpu" and sys.stderr.isatty():
        # On the CPU a minute of music takes minutes: show how far it is.
        from tqdm import tqdm

        bar = tqdm(total=tokens_total, desc="musicgen", unit="token", file=sys.stderr)

        def progress(now: int, _total: int) -> None:
            bar.update(now - bar.n)

    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Ticks(StoppingCriteria):
        """Counts generated steps (MusicGen's generate hands a streamer only its prompt)."""

        def __call__(self, input_ids, scores, **kwargs):
            done[0] += 1
            if progress is not None:
                progress(min(done[0], tokens_total), tokens_total)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    audio = np.zeros((model.channels, 0), dtype=np.float64)
    started = time.perf_counter()
    torch.manual_seed(plan.seed)
    for index, (start_s, new_s) in enumerate(schedule):
        new_tokens = round(new_s * fps) + 3
        kwargs: dict = dict(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            guidance_scale=guidance_scale,
            max_new_tokens=new_tokens,
            stopping_criteria=StoppingCriteriaList([_Ticks()]),
        )
        head = audio[:, max(0, audio.shape[1] - round(prompt_s * sr)) :] if index else None
        if model.kind == "musicgen_melody":
            frames = int(model.model.config.chroma_length)
            chroma_fps = frames / 30.0
            chroma = melody_chroma(
                score,
                frame_rate=chroma_fps,
                start_s=start_s - (head.shape[1] / sr if head is not None else 0.0),
                frames=frames,
            )
            kwargs["input_features"] = torch.from_numpy(chroma[None]).to(
                model.device, model.model.dtype
            )
            if head is not None:
                kwargs["decoder_input_ids"] = _codes(model, head)
        elif head is not None:
            kwargs["input_values"] = torch.from_numpy(head[None].astype(np.float32)).to(
                model.device, model.model.dtype
            )
        with torch.no_grad():
            out = model.model.generate(**kwargs)
        window = out[0].float().cpu().numpy().astype(np.float64)
        if head is None:
            audio = window
            continue
        # The window repeats (re-encoded) the prompt, then goes on: crossfade the seam.
        new_start = window.shape[1] - round(new_s * sr)
        new_start = max(0, min(new_start, window.shape[1]))
        fade = min(round(_CROSSFADE_S * sr), new_start, audio.shape[1])
        ramp = np.sin(np.linspace(0.0, np.pi / 2, fade)) ** 2
        if fade:
            audio[:, -fade:] = (
                audio[:, -fade:] * (1.0 - ramp) + window[:, new_start - fade : new_start] * ramp
            )
        audio = np.concatenate([audio, window[:, new_start:]], axis=1)
    seconds = time.perf_counter() - started
    if bar is not None:
        bar.close()
    audio = audio[:, :total]
    if audio.shape[1] < total:
        audio = np.pad(audio, ((0, 0), (0, total - audio.shape[1])))
    audio = _to_48k(audio, sr)[:, : round(plan.duration_s * SAMPLE_RATE)]
    audio = _levelled(audio)
    mono = audio.mean(axis=0)
    tempo, key = _measure(mono)
    stems = (
        (Stem("music", "music", audio[0].astype(np.float32)),)
        if audio.shape[0] == 1
        else (
            Stem("music_left", "music_left", audio[0].astype(np.float32)),
            Stem("music_right", "music_right", audio[1].astype(np.float32)),
        )
    )
    record = {
        "backend": "musicgen",
        "model": str(model.folder.resolve()),
        "model_type": model.kind,
        "licence": LICENCE_NOTE,
        "prompt": prompt_text,
        "melody_conditioning": "chroma of the plan's melody"
        if model.kind == "musicgen_melody"
        else None,
        "device": model.device,
        "dtype": "float16" if model.device == "cuda" else "float32",
        "windows": len(schedule),
        "window_s": window_s,
        "continuation_prompt_s": prompt_s,
        "crossfade_s": _CROSSFADE_S,
        "model_sample_rate_hz": sr,
        "tokens": tokens_total,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens_total / seconds, 2) if seconds > 0 else None,
        "measured": {
            "tempo_bpm": tempo,
            "key": key,
            "planned_tempo_bpm": plan.tempo_bpm,
            "planned_key": plan.key,
            "tempo_error_percent": round(100 * abs(tempo - plan.tempo_bpm) / plan.tempo_bpm, 1)
            if tempo
            else None,
            "method": "librosa.beat.beat_track; Krumhansl-Kessler profiles on chroma_stft",
        },
    }
    return MusicGenResult(stems=stems, record=record)


def _windows(duration_s: float, window_s: float, prompt_s: float) -> list[tuple[float, float]]:
    """(start, new seconds) of each window; after the first, each adds window - prompt."""
    schedule = [(0.0, min(window_s, duration_s))]
    made = schedule[0][1]
    while made < duration_s - 1e-9:
        new = min(window_s - prompt_s, duration_s - made)
        schedule.append((made, new))
        made += new
    return schedule


def _codes(model: _Loaded, audio: np.ndarray):
    """EnCodec codes of an audio prompt as decoder_input_ids (batch * codebooks, frames)."""
    import torch

    values = torch.from_numpy(audio[None].astype(np.float32)).to(model.device, model.model.dtype)
    with torch.no_grad():
        encoded = model.model.audio_encoder.encode(values)
    codes = encoded.audio_codes  # (chunks, batch, codebooks, frames)
    frames = codes.shape[-1]
    return codes[0].reshape(-1, frames)


def _to_48k(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return audio
    from scipy.signal import resample_poly

    common = gcd(int(rate), SAMPLE_RATE)
    return resample_poly(audio, SAMPLE_RATE // common, int(rate) // common, axis=1)


def _levelled(audio: np.ndarray) -> np.ndarray:
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    if rms > 0:
        audio = audio * (10 ** (-20 / 20) / rms)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.98:
        audio = audio * (0.98 / peak)
    return audio


# Krumhansl & Kessler (1982) key profiles, C major and C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def estimate_key(chroma_mean: np.ndarray) -> str:
    """The key whose Krumhansl-Kessler profile best correlates with a mean chroma (12,)."""
    best, name = -2.0, "C major"
    for tonic in range(12):
        for profile, mode in ((_MAJOR, "major"), (_MINOR, "minor")):
            r = float(np.corrcoef(np.roll(profile, tonic), chroma_mean)[0, 1])
            if r > best:
                best, name = r, f"{_NAMES[tonic]} {mode}"
    return name


def _measure(mono: np.ndarray) -> tuple[float | None, str | None]:
    import librosa

    if not np.any(mono):
        return None, None
    y = librosa.resample(mono.astype(np.float32), orig_sr=SAMPLE_RATE, target_sr=22050)
    tempo, _ = librosa.beat.beat_track(y=y, sr=22050)
    chroma = librosa.feature.chroma_stft(y=y, sr=22050, n_fft=4096, tuning=0.0)
    value = float(np.atleast_1d(tempo)[0])
    return (round(value, 1) if value > 0 else None), estimate_key(chroma.mean(axis=1))
