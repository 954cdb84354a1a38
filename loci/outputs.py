"""Writing a render's files so that a failure never leaves half a result behind.

Everything is written into a hidden temporary folder beside the destination and renamed
into place at the end; an existing destination is replaced only once the new one is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

__all__ = ["AudioFormat", "atomic_output_dir", "write_json", "write_wav"]

AudioFormat = Literal["float", "pcm24"]

_SUBTYPES: dict[str, str] = {"float": "FLOAT", "pcm24": "PCM_24"}


@contextlib.contextmanager
def atomic_output_dir(destination: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder that becomes ``destination`` when the block succeeds.

    On an exception the temporary folder is removed and ``destination`` is left as it was
    (absent, or the previous complete result).
    """
    destination = Path(destination).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if destination.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old.", dir=destination.parent))
        os.replace(destination, retired / "previous")
        os.replace(staging, destination)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, destination)


def write_wav(
    path: Path, audio: np.ndarray, *, sample_rate: int, audio_format: AudioFormat = "float"
) -> None:
    """Write (channels, samples) or (samples,) float audio as WAV.

    Parameters
    ----------
    path
        Destination file.
    audio
        float32, shape (channels, samples) or (samples,); values within [-1, 1].
    sample_rate
        Hz.
    audio_format
        ``"float"`` (32-bit float) or ``"pcm24"``.
    """
    if audio_format not in _SUBTYPES:
        raise ValueError(f"audio_format={audio_format!r}; allowed: {sorted(_SUBTYPES)}")
    data = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path}: refusing to write audio with NaN or Inf samples")
    frames = data.T if data.ndim == 2 else data
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    subtype = _SUBTYPES[audio_format]
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=channels, subtype=subtype) as f:
        if subtype == "FLOAT":
            _omit_peak_chunk(f)
        f.write(frames)


#: sndfile.h's SFC_SET_ADD_PEAK_CHUNK: whether a float file gets a PEAK chunk.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _omit_peak_chunk(handle: sf.SoundFile) -> None:
    # libsndfile stamps a float WAV's PEAK chunk with the wall-clock time, so the same
    # audio written a second later gave other bytes: outputs must depend only on the
    # scene and its seed. The chunk is optional (peaks are in the data anyway).
    sf._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, sf._snd.SF_FALSE)


def write_json(path: Path, data: object) -> None:
    """Write JSON as UTF-8 (Chinese stays readable), indented, with numpy values converted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_plain)
    path.write_text(text + "\n", encoding="utf-8")


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
