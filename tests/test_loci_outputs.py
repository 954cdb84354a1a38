"""Output files: the same audio gives the same bytes, whenever it is written."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from loci.outputs import write_wav


@pytest.mark.parametrize("audio_format", ["float", "pcm24"])
def test_a_wav_written_later_has_the_same_bytes(tmp_path: Path, audio_format: str) -> None:
    audio = (np.random.default_rng(3).standard_normal((2, 4800)) * 0.1).astype(np.float32)
    write_wav(tmp_path / "a.wav", audio, sample_rate=48_000, audio_format=audio_format)
    time.sleep(1.05)  # libsndfile's PEAK chunk of a float file would carry the time (seconds)
    write_wav(tmp_path / "b.wav", audio, sample_rate=48_000, audio_format=audio_format)

    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    read, rate = sf.read(tmp_path / "a.wav", dtype="float32", always_2d=True)
    assert rate == 48_000 and read.shape == (4800, 2)
    if audio_format == "float":
        np.testing.assert_array_equal(read.T, audio)
    else:
        np.testing.assert_allclose(read.T, audio, atol=2**-23)


def test_write_wav_refuses_non_finite_audio(tmp_path: Path) -> None:
    audio = np.zeros((2, 10), dtype=np.float32)
    audio[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        write_wav(tmp_path / "bad.wav", audio, sample_rate=48_000)
    assert not (tmp_path / "bad.wav").exists()
