"""SOFA files read through the disk cache give the arrays of an uncached read, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import spatial.hrtf
from assets import cache
from spatial import sofa_cache
from spatial.hrtf import Hrtf, load_sofa


@pytest.fixture
def sofa_file(tmp_path: Path) -> Path:
    """A small SOFA set at 44.1 kHz (resampled on reading): 6 directions, random responses."""
    sofar = pytest.importorskip("sofar")
    rng = np.random.default_rng(5)
    sofa = sofar.Sofa("SimpleFreeFieldHRIR")
    ir = rng.normal(size=(6, 2, 96)) * np.exp(-np.arange(96) / 12.0)
    ir[:, 0, 8] += 1.0
    ir[:, 1, 14] += 1.0
    sofa.Data_IR = ir
    sofa.Data_SamplingRate = 44100.0
    sofa.SourcePosition = np.array(
        [[0, 0, 1.2], [90, 0, 1.2], [180, 0, 1.2], [270, 0, 1.2], [0, 80, 1.2], [0, -60, 1.2]],
        dtype=float,
    )
    sofa.GLOBAL_Title = "six directions"
    path = tmp_path / "six.sofa"
    sofar.write_sofa(str(path), sofa)
    return path


def _arrays(hrtf: Hrtf) -> dict[str, np.ndarray]:
    return {
        "directions": hrtf.directions,
        "hrirs": hrtf.hrirs,
        "minimum_phase": hrtf.minimum_phase,
        "delays_samples": hrtf.delays_samples,
    }


def _assert_identical(a: Hrtf, b: Hrtf) -> None:
    assert a.source == b.source
    for name, value in _arrays(a).items():
        other = _arrays(b)[name]
        assert value.dtype == other.dtype, name
        assert np.array_equal(value, other), name  # exact, not close
        assert not value.flags.writeable, name


def _uncached(path: Path, monkeypatch: pytest.MonkeyPatch) -> Hrtf:
    monkeypatch.setenv(cache.CACHE_DIR_ENV, "off")
    hrtf = load_sofa(path)
    # The split computed lazily by the Hrtf itself, as any Hrtf not from a file does.
    fresh = Hrtf(directions=hrtf.directions, hrirs=hrtf.hrirs, source=hrtf.source)
    _assert_identical(hrtf, fresh)
    return fresh


def _entry_key(path: Path) -> str:
    key = spatial.hrtf._cache_key(path)
    assert key is not None
    return key


def test_a_cached_read_is_bit_identical_to_an_uncached_one(
    sofa_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _uncached(sofa_file, monkeypatch)
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    first = load_sofa(sofa_file)  # reads the file and writes the entry
    assert cache.entry_path("sofa", _entry_key(sofa_file)).is_file()

    def no_reading(path: Path):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(spatial.hrtf, "_read_sofa", no_reading)
    second = load_sofa(sofa_file)
    _assert_identical(first, reference)
    _assert_identical(second, reference)
    assert second.source == "six.sofa (six directions), 44100 Hz -> 48000 Hz"
    # The split is used as it is (interpolation reads both parts).
    np.testing.assert_array_equal(second.hrir(30.0, 10.0), reference.hrir(30.0, 10.0))


def test_a_changed_file_is_read_again(
    sofa_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    before = load_sofa(sofa_file)
    sofar = pytest.importorskip("sofar")
    sofa = sofar.read_sofa(str(sofa_file), verbose=False)
    sofa.Data_IR = np.asarray(sofa.Data_IR) * 0.5
    sofar.write_sofa(str(sofa_file), sofa)
    after = load_sofa(sofa_file)
    np.testing.assert_allclose(after.hrirs, before.hrirs * 0.5, rtol=1e-6, atol=1e-12)
    assert len(list((tmp_path / "cache").iterdir())) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_corrupt_entry_is_ignored_and_rebuilt(
    damage: str, sofa_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _uncached(sofa_file, monkeypatch)
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    load_sofa(sofa_file)
    entry = cache.entry_path("sofa", _entry_key(sofa_file))
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        entry.write_bytes(data[:-100] + bytes([data[-100] ^ 0x10]) + data[-99:])
    else:
        entry.write_bytes(b"not an entry at all")
    assert sofa_cache.read(_entry_key(sofa_file)) is None

    rebuilt = load_sofa(sofa_file)
    _assert_identical(rebuilt, reference)
    stored = sofa_cache.read(_entry_key(sofa_file))  # whole again
    assert stored is not None
    assert np.array_equal(stored.minimum_phase, reference.minimum_phase)
    assert np.array_equal(stored.delays_samples, reference.delays_samples)
