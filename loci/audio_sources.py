"""User audio files as sources: read, mixed to mono, resampled to 48 kHz, fitted in length."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from scene.errors import SceneError

__all__ = ["read_source_audio"]


def read_source_audio(
    path: Path, *, n_samples: int, sample_rate: int, scene_file: Path | None, field: str
) -> np.ndarray:
    """Read an audio file as a mono float32 signal of exactly ``n_samples`` at ``sample_rate``.

    Multi-channel files are averaged to mono (a source is a point); other rates are
    resampled with a polyphase filter; the signal is played from t = 0 and cut or padded
    with silence to the scene's length.

    Raises
    ------
    SceneError
        When the file cannot be read or holds NaN/Inf, naming the scene file and the field.
    """
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as error:
        raise SceneError(
            f"cannot read audio: {error}", file=scene_file, field=field, value=str(path)
        ) from None
    if not np.all(np.isfinite(data)):
        raise SceneError(
            "the audio holds NaN or Inf samples", file=scene_file, field=field, value=str(path)
        )
    mono = data.mean(axis=1)
    if rate != sample_rate:
        # Only a file at another rate gets here; scipy.signal takes a second to import.
        from scipy.signal import resample_poly

        common = gcd(int(rate), sample_rate)
        mono = resample_poly(mono, sample_rate // common, int(rate) // common).astype(np.float32)
    out = np.zeros(n_samples, dtype=np.float32)
    length = min(n_samples, mono.size)
    out[:length] = mono[:length]
    return out
