"""HRTF loading: rate, ear order, ITD, direction lookup, and errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from spatial import SAMPLE_RATE, Hrtf, default_hrtf, load_sofa


def _lag_ms(left: np.ndarray, right: np.ndarray, *, max_ms: float = 1.5) -> float:
    """Lag of the left ear behind the right, ms (negative: the left ear leads)."""
    c = correlate(left.astype(np.float64), right.astype(np.float64), mode="full")
    lags = np.arange(-right.size + 1, left.size)
    near = np.abs(lags) <= max_ms * SAMPLE_RATE / 1000.0
    return float(lags[near][np.argmax(c[near])] / SAMPLE_RATE * 1000.0)


def test_default_hrtf_is_mit_kemar_at_48k() -> None:
    hrtf = default_hrtf()
    assert hrtf.hrirs.dtype == np.float32
    assert hrtf.hrirs.shape[:2] == (710, 2)
    # 512 taps at 44.1 kHz resampled by 160/147.
    assert hrtf.taps == int(np.ceil(512 * 160 / 147))
    assert hrtf.directions[:, 1].min() == pytest.approx(-40.0)
    assert hrtf.directions[:, 1].max() == pytest.approx(90.0)
    assert default_hrtf() is hrtf


@pytest.mark.parametrize(("azimuth", "leading"), [(90.0, "left"), (270.0, "right")])
def test_itd_at_the_side_is_about_0p7_ms_and_the_near_ear_leads(
    azimuth: float, leading: str
) -> None:
    left, right = default_hrtf().nearest(azimuth, 0.0)
    lag = _lag_ms(left, right)
    assert 0.6 <= abs(lag) <= 0.75, lag
    assert (lag < 0) == (leading == "left"), lag
    near, far = (left, right) if leading == "left" else (right, left)
    assert np.sum(near.astype(float) ** 2) > 4 * np.sum(far.astype(float) ** 2)


def test_nearest_uses_great_circle_distance() -> None:
    hrtf = default_hrtf()
    # 359 degrees is 1 degree from 0, not 359 away; azimuth wraps.
    index = int(hrtf.nearest_index(np.array(359.0), np.array(0.0)))
    assert tuple(hrtf.directions[index]) == (0.0, 0.0)
    # Near the pole azimuth means little: any azimuth at elevation 89 finds the pole.
    index = int(hrtf.nearest_index(np.array(123.0), np.array(89.0)))
    assert hrtf.directions[index, 1] == 90.0
    np.testing.assert_array_equal(hrtf.nearest(-90.0, 0.0), hrtf.nearest(270.0, 0.0))


def test_missing_file_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sofa"
    with pytest.raises(ValueError, match=r"nowhere.sofa"):
        load_sofa(missing)


def test_wrong_file_error_names_the_path(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sofa"
    bogus.write_text("not a SOFA file", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bogus.sofa"):
        load_sofa(bogus)


def test_cartesian_positions_and_swapped_receivers_are_mapped(tmp_path: Path) -> None:
    sofar = pytest.importorskip("sofar")
    sofa = sofar.Sofa("SimpleFreeFieldHRIR")
    taps = 64
    ir = np.zeros((2, 2, taps))
    # Receiver 0 is the RIGHT ear (y < 0): give it a click at tap 10, the left one at 20.
    ir[:, 0, 10] = 1.0
    ir[:, 1, 20] = 1.0
    sofa.Data_IR = ir
    sofa.Data_SamplingRate = 44100.0
    sofa.SourcePosition = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    sofa.SourcePosition_Type = "cartesian"
    sofa.SourcePosition_Units = "metre"
    sofa.ReceiverPosition = np.array([[[0.0], [-0.09], [0.0]], [[0.0], [0.09], [0.0]]])
    path = tmp_path / "swapped.sofa"
    sofar.write_sofa(str(path), sofa)

    hrtf = load_sofa(path)
    np.testing.assert_allclose(hrtf.directions, [[90.0, 0.0], [0.0, 45.0]], atol=1e-9)
    assert hrtf.taps == int(np.ceil(taps * 160 / 147))
    left, right = hrtf.hrirs[0]
    # The left ear (row 0) is the file's receiver 1, whose click came later.
    assert np.argmax(left) > np.argmax(right)


def test_hrtf_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"hrirs.shape"):
        Hrtf(directions=np.zeros((3, 2)), hrirs=np.zeros((3, 1, 8), dtype=np.float32))
