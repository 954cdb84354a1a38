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


# --- interpolation, the minimum-phase split, and the ITD the renderer produces ---------

UPSAMPLE = 8


def _itd_us(left: np.ndarray, right: np.ndarray, rate: float) -> float:
    """Left-ear lag behind the right (us; negative: left leads): the peak of the
    cross-correlation of the ears' signals below 1.5 kHz, where the ear reads time,
    upsampled 8x for a resolution of a few microseconds."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    fs = rate * UPSAMPLE
    sos = butter(4, 1500.0, "lowpass", fs=fs, output="sos")
    a, b = (
        sosfiltfilt(sos, resample_poly(np.asarray(x, dtype=np.float64), UPSAMPLE, 1))
        for x in (left, right)
    )
    c = correlate(a, b, mode="full")
    lags = np.arange(-b.size + 1, a.size)
    near = np.abs(lags) <= 1.5e-3 * fs
    return float(lags[near][np.argmax(c[near])] / fs * 1e6)


def _render_direction(azimuth: float, elevation: float = 0.0, hrtf: Hrtf | None = None):
    from scene.model import Pose, Room
    from spatial import PlacedSource, render_scene

    click = np.zeros(2400, dtype=np.float32)
    click[50] = 1.0
    a, e = np.radians(azimuth), np.radians(elevation)
    position = (2 * np.cos(e) * np.cos(a), 2 * np.cos(e) * np.sin(a), 2 * np.sin(e))
    return render_scene(
        Room(kind="free_field"),
        Pose(position=(0.0, 0.0, 0.0)),
        [PlacedSource("click", click, position)],
        n_samples=2400,
        hrtf=hrtf,
    ).astype(np.float64)


def test_rendered_itd_matches_the_sofa_files_own_itd_within_30_us() -> None:
    """The file read independently at its own 44.1 kHz against the free-field render at
    48 kHz (minimum phase + interpolated delays + fractional delays + 1/r law)."""
    sofar = pytest.importorskip("sofar")
    from assets import asset_path

    sofa = sofar.read_sofa(str(asset_path("hrtf", "mit_kemar_normal_pinna.sofa")), verbose=False)
    positions = np.asarray(sofa.SourcePosition)
    rate = float(np.ravel(sofa.Data_SamplingRate)[0])
    worst = 0.0
    for azimuth in range(0, 181, 15):
        row = np.flatnonzero((positions[:, 0] == azimuth) & (positions[:, 1] == 0.0))
        assert row.size == 1
        left, right = np.asarray(sofa.Data_IR)[row[0]]
        own = _itd_us(left, right, rate)
        rendered = _itd_us(*_render_direction(float(azimuth)), SAMPLE_RATE)
        worst = max(worst, abs(rendered - own))
        assert rendered == pytest.approx(own, abs=30.0), (azimuth, own, rendered)
        if azimuth == 90:
            assert own == pytest.approx(-700.0, abs=30.0)  # KEMAR: about 0.70 ms
    assert worst > 0.0  # the two measurements are independent, not the same numbers


def test_ild_has_the_right_sign_and_grows_toward_the_side() -> None:
    def ild_db(azimuth: float) -> float:
        left, right = _render_direction(azimuth)
        return float(10 * np.log10(np.sum(left**2) / np.sum(right**2)))

    front = [ild_db(a) for a in (0.0, 15.0, 30.0, 45.0, 60.0, 75.0)]
    assert abs(front[0]) < 0.5
    # Louder in the left ear for a source on the left, rising towards the side (at 90
    # degrees itself the far ear's bright spot lowers it a little).
    assert np.all(np.diff(front) > 1.0), front
    assert ild_db(90.0) > front[2] > 5.0
    for azimuth in (30.0, 90.0, 120.0):
        assert ild_db(-azimuth) == pytest.approx(-ild_db(azimuth), abs=1.0)
        assert ild_db(-azimuth) < -5.0


def test_interpolated_itd_moves_smoothly_and_monotonically_in_azimuth() -> None:
    hrtf = default_hrtf()
    azimuths = np.arange(0.0, 180.01, 0.25)
    itd = []
    for azimuth in azimuths:
        _, delays = hrtf.interpolate(float(azimuth), 0.0)
        itd.append((delays[0] - delays[1]) / SAMPLE_RATE * 1e6)
    itd = np.asarray(itd)
    # Measured every 5 degrees; between them the delays are interpolated, so no step
    # of 0.25 degrees moves the ITD by more than a few microseconds (nearest-neighbour
    # lookup would jump by about 40 us at every cell boundary).
    assert np.max(np.abs(np.diff(itd))) < 5.0
    rising, falling = azimuths <= 85.0, azimuths >= 95.0
    assert np.all(np.diff(itd[rising]) <= 0.0)  # more negative: the left ear leads more
    assert np.all(np.diff(itd[falling]) >= 0.0)
    assert itd.min() == pytest.approx(-650.0, abs=40.0)
    # The rendered output follows the interpolation between measured directions too.
    between = [_itd_us(*_render_direction(a), SAMPLE_RATE) for a in (40.0, 42.5, 45.0)]
    assert between[0] > between[1] > between[2], between


def test_interpolation_weights_are_barycentric() -> None:
    hrtf = default_hrtf()
    indices, weights = hrtf.interpolation_weights(hrtf.unit_vectors)
    assert np.all(indices[np.arange(len(indices)), np.argmax(weights, axis=1)] == np.arange(710))
    np.testing.assert_allclose(weights.max(axis=1), 1.0, atol=1e-9)
    rng = np.random.default_rng(0)
    wanted = rng.standard_normal((500, 3))
    wanted[:, 2] = np.abs(wanted[:, 2])  # above -40 degrees is where KEMAR was measured
    indices, weights = hrtf.interpolation_weights(wanted)
    assert np.all(weights >= 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    # The weighted vertices lie on the ray of the wanted direction.
    mixed = np.einsum("nk,nkd->nd", weights, hrtf.unit_vectors[indices])
    unit = wanted / np.linalg.norm(wanted, axis=1, keepdims=True)
    cross = np.cross(mixed / np.linalg.norm(mixed, axis=1, keepdims=True), unit)
    assert np.max(np.abs(cross)) < 1e-9
    # A ring of directions spans no solid angle: lookup falls back to the nearest.
    ring = Hrtf(
        directions=np.array([[0.0, 0.0], [90.0, 0.0], [180.0, 0.0], [270.0, 0.0]]),
        hrirs=np.zeros((4, 2, 8), dtype=np.float32),
    )
    indices, weights = ring.interpolation_weights(np.array([[0.1, 1.0, 0.0]]))
    assert indices[0, 0] == 1 and weights[0, 0] == 1.0


def test_minimum_phase_keeps_the_magnitude_and_front_loads_the_energy() -> None:
    hrtf = default_hrtf()
    rows = [0, 123, 400, 650]
    original = hrtf.hrirs[rows].astype(np.float64)
    minimum = hrtf.minimum_phase[rows].astype(np.float64)
    n = 4096
    a, b = (np.abs(np.fft.rfft(x, n, axis=-1)) for x in (original, minimum))
    audible = a > 1e-3 * a.max(axis=-1, keepdims=True)
    np.testing.assert_allclose(20 * np.log10(b[audible] / a[audible]), 0.0, atol=0.2)
    # Of all responses with one magnitude, the minimum-phase one has the most energy in
    # its first n taps, for every n.
    for taps in (16, 64, 256):
        assert np.all(np.sum(minimum[..., :taps] ** 2, -1) >= np.sum(original[..., :taps] ** 2, -1))


def test_spherical_head_follows_woodworth() -> None:
    from scene.acoustics import SPEED_OF_SOUND
    from spatial.hrtf import HEAD_RADIUS_M, load_hrtf, spherical_head_hrtf

    head = load_hrtf("spherical")
    assert head is spherical_head_hrtf()
    assert load_hrtf(None) is default_hrtf() and load_hrtf("kemar") is default_hrtf()
    for azimuth in (0.0, 30.0, 60.0, 90.0):
        theta = np.radians(azimuth)
        woodworth = -HEAD_RADIUS_M / SPEED_OF_SOUND * (theta + np.sin(theta)) * 1e6
        _, delays = head.interpolate(azimuth, 0.0)
        assert (delays[0] - delays[1]) / SAMPLE_RATE * 1e6 == pytest.approx(woodworth, abs=5.0)
        # Below 1.5 kHz the shadow filters add their own group delays (Brown and Duda's
        # intent): the ITD the ear reads approaches Kuhn's 3 a sin(theta) / c there.
        index = int(head.nearest_index(np.array(azimuth), np.array(0.0)))
        own = _itd_us(*head.hrirs[index], SAMPLE_RATE)
        kuhn = -3 * HEAD_RADIUS_M / SPEED_OF_SOUND * np.sin(theta) * 1e6
        assert own == pytest.approx(kuhn, rel=0.2, abs=5.0)
        rendered = _itd_us(*_render_direction(azimuth, hrtf=head), SAMPLE_RATE)
        assert rendered == pytest.approx(own, abs=30.0)
    left, right = _render_direction(60.0, hrtf=head)
    assert np.sum(left**2) > 4 * np.sum(right**2)
    with pytest.raises(ValueError, match=r"radius_m=0\.5"):
        spherical_head_hrtf(radius_m=0.5)


def test_sofa_files_are_read_safely_from_several_threads_at_once() -> None:
    # Regression: `loci serve` opened two sessions at once, both threads read the SOFA file,
    # and HDF5 (not thread-safe) failed one with "NetCDF: HDF error".
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        sets = list(pool.map(lambda _: load_sofa(None), range(8)))
    for hrtf in sets[1:]:
        np.testing.assert_array_equal(hrtf.hrirs, sets[0].hrirs)
