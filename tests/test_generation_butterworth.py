"""Butterworth sections (generation.butterworth) against scipy.signal.butter, which they replace."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfreqz

from generation.ambience import _sosfilt
from generation.butterworth import butterworth_sos

FS = 48_000

#: Every design generation.ambience asks for: (order, cutoff, kind, rate).
AMBIENCE_DESIGNS = [
    (2, 500, "low", FS),
    (2, [600, 4000], "band", FS),
    (1, 0.3, "low", FS),
    (2, [200, 1500], "band", FS),
    (2, 2000, "high", FS),
    (2, [1500, 8000], "band", FS),
    (2, 300, "high", FS),
    (2, [1000, 8000], "band", FS),
    (2, [250, 2500], "band", FS),
    (2, 5.0, "low", FS / 100),  # the crowd's syllable gates, at a hundredth of the rate
]


@pytest.mark.parametrize(("order", "cutoff", "kind", "rate"), AMBIENCE_DESIGNS)
def test_the_ambience_designs_are_scipys_sections(
    order: int, cutoff: float | list[float], kind: str, rate: float
) -> None:
    ours = butterworth_sos(order, cutoff, kind, sample_rate=rate)
    theirs = butter(order, cutoff, kind, fs=rate, output="sos")
    # The same sections in the same order (so the same rounding when filtering).
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    x = np.random.default_rng(order).standard_normal(30_000)
    np.testing.assert_allclose(_sosfilt(ours, x), sosfilt(theirs, x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("order", range(1, 9))
@pytest.mark.parametrize(
    ("cutoff", "kind"),
    [
        (1234.0, "low"),
        (20_000.0, "low"),
        (0.5, "low"),
        (1234.0, "high"),
        (23_000.0, "high"),
        ([300.0, 5000.0], "band"),
        ([20.0, 21_000.0], "band"),
        ([990.0, 1010.0], "band"),
    ],
)
def test_other_orders_and_edges_respond_as_scipys(
    order: int, cutoff: float | list[float], kind: str
) -> None:
    ours = butterworth_sos(order, cutoff, kind, sample_rate=FS)
    theirs = butter(order, cutoff, kind, fs=FS, output="sos")
    assert ours.shape == theirs.shape
    frequencies = np.geomspace(1.0, FS / 2 - 1, 400)
    _, h_ours = sosfreqz(ours, worN=frequencies, fs=FS)
    _, h_theirs = sosfreqz(theirs, worN=frequencies, fs=FS)
    np.testing.assert_allclose(h_ours, h_theirs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-14)


def test_the_response_is_butterworths() -> None:
    # -3 dB at each edge, flat inside, falling 6 dB per octave per order outside.
    sos = butterworth_sos(3, [500.0, 4000.0], "band", sample_rate=FS)
    _, h = sosfreqz(sos, worN=[500.0, 4000.0, 1414.0, 50.0], fs=FS)
    db = 20 * np.log10(np.abs(h))
    np.testing.assert_allclose(db[:2], -3.01, atol=0.01)
    assert abs(db[2]) < 0.01
    assert db[3] < -55.0


@pytest.mark.parametrize(
    ("order", "cutoff", "kind", "match"),
    [
        (2, 500, "notch", "kind"),
        (0, 500, "low", "order"),
        (1.5, 500, "low", "order"),
        (2, 24_000, "low", "cutoff"),
        (2, 0, "high", "cutoff"),
        (2, 500, "band", "cutoff"),
        (2, [500, 1000], "low", "cutoff"),
        (2, [4000, 600], "band", "cutoff"),
    ],
)
def test_a_design_it_cannot_make_is_refused(
    order: float, cutoff: float | list[float], kind: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        butterworth_sos(order, cutoff, kind, sample_rate=FS)  # type: ignore[arg-type]


def test_ambiences_and_stems_import_no_scipy_signal() -> None:
    # A fresh render process would spend over a second importing it.
    code = (
        "import sys\n"
        "import generation.synthesize\n"
        "from generation.ambience import AMBIENCE_KINDS, make_ambience\n"
        "for kind in AMBIENCE_KINDS:\n"
        "    make_ambience(kind, duration_s=0.5, seed=1)\n"
        "assert 'scipy.signal' not in sys.modules, 'scipy.signal was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
