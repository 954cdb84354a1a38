"""Room acoustics as heard: ITD, distance law, image-source arrivals, RT60, coherence, level."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, correlate, sosfiltfilt

from scene.acoustics import SPEED_OF_SOUND, air_absorption_per_m, room_acoustics
from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Material, Pose, Room
from spatial import SAMPLE_RATE, Hrtf, PlacedSource, binaural_room_impulse_response, render_scene
from spatial.bands import band_masks, fft_size
from spatial.late import transition_time_s
from spatial.render import source_images

FS = SAMPLE_RATE


def _pra(name: str) -> Material:
    from pyroomacoustics.parameters import materials_absorption_table

    coeffs = [float(c) for c in materials_absorption_table[name]["coeffs"]]
    coeffs += [coeffs[-1]] * (len(BANDS_HZ) - len(coeffs))
    return Material(name=name, absorption=tuple(coeffs), source="pyroomacoustics")


def _shoebox(size: tuple[float, float, float], walls: str, floor: str, ceiling: str) -> Room:
    chosen = {"floor": floor, "ceiling": ceiling}
    materials = tuple((s, _pra(chosen.get(s, walls))) for s in SHOEBOX_SURFACES)
    return Room(kind="shoebox", size=size, materials=materials)


def _uniform_room(size: tuple[float, float, float], alpha: float) -> Room:
    material = Material(name=f"alpha={alpha}", absorption=(alpha,) * len(BANDS_HZ))
    return Room(kind="shoebox", size=size, materials=tuple((s, material) for s in SHOEBOX_SURFACES))


# An "omni" HRTF: a unit impulse at tap 0 from every direction, so that arrival times and
# levels of the room alone can be read off the response.
OMNI = Hrtf(
    directions=np.array([[0.0, 0.0], [90.0, 0.0], [180.0, 0.0], [270.0, 0.0], [0, 90], [0, -90]]),
    hrirs=np.tile(np.eye(1, 8, dtype=np.float32), (6, 2, 1)).reshape(6, 2, 8),
    source="test omni",
)


def _itd_ms(binaural: np.ndarray) -> float:
    """Lag of the left ear behind the right, ms, by cross-correlation within +/-1.5 ms of
    the ears' signals below 1.5 kHz, where the ear reads time differences."""
    sos = butter(4, 1500.0, "lowpass", fs=FS, output="sos")
    left, right = sosfiltfilt(sos, binaural.astype(np.float64), axis=-1)
    c = correlate(left, right, mode="full")
    lags = np.arange(-right.size + 1, left.size)
    near = np.abs(lags) <= 1.5e-3 * FS
    return float(lags[near][np.argmax(c[near])] / FS * 1000.0)


def _click(n: int = 4800, at: int = 100) -> np.ndarray:
    signal = np.zeros(n, dtype=np.float32)
    signal[at] = 1.0
    return signal


@pytest.mark.parametrize("yaw", [0.0, 90.0, -135.0])
@pytest.mark.parametrize("azimuth", [60.0, -60.0])
def test_free_field_itd_follows_the_head(yaw: float, azimuth: float) -> None:
    a = math.radians(yaw + azimuth)
    position = (2.0 * math.cos(a), 2.0 * math.sin(a), 0.0)
    out = render_scene(
        Room(kind="free_field"),
        Pose(position=(0.0, 0.0, 0.0), yaw_deg=yaw),
        [PlacedSource("click", _click(), position)],
        n_samples=4800,
    )
    lag = _itd_ms(out)
    assert 0.50 <= abs(lag) <= 0.70, lag
    # Source to the left (+azimuth): the left ear hears it first (negative lag).
    assert (lag < 0) == (azimuth > 0), lag


def test_pitch_moves_a_frontal_source_down_in_the_head_frame() -> None:
    from spatial.brir import head_frame

    listener = Pose(position=(0.0, 0.0, 0.0), yaw_deg=90.0, pitch_deg=30.0)
    v = head_frame(listener, np.array([[0.0, 2.0, 0.0]]))[0]
    elevation = math.degrees(math.atan2(v[2], math.hypot(v[0], v[1])))
    assert elevation == pytest.approx(-30.0)
    assert v[1] == pytest.approx(0.0, abs=1e-12)


def test_free_field_direct_level_falls_6_db_per_doubling_and_arrives_at_r_over_c() -> None:
    energies, onsets = [], []
    for distance in (1.0, 2.0, 4.0):
        out = render_scene(
            Room(kind="free_field"),
            Pose(position=(0.0, 0.0, 1.5)),
            [PlacedSource("click", _click(), (distance, 0.0, 1.5))],
            n_samples=4800,
        ).astype(np.float64)
        energies.append(np.sum(out**2))
        onsets.append(out[0])
    steps = 10.0 * np.log10(np.asarray(energies[:-1]) / np.asarray(energies[1:]))
    np.testing.assert_allclose(steps, 6.02, atol=0.5)
    # Doubling from 1 to 2 m delays the sound by 1 m / c.
    c = correlate(onsets[1], onsets[0], mode="full")
    lag = np.argmax(c) - (onsets[0].size - 1)
    assert abs(lag - FS / SPEED_OF_SOUND) <= 1.0


def test_shoebox_first_order_images_match_the_analytic_mirrors() -> None:
    size = (10.0, 8.0, 4.0)
    room = _shoebox(size, "brickwork", "concrete_floor", "plasterboard")
    source = np.array([2.5, 3.0, 1.2])
    listener = Pose(position=(6.0, 5.5, 1.7))
    images = source_images(room, listener, tuple(source))
    lx, ly, lz = size
    mirrors = {
        "west": [-source[0], source[1], source[2]],
        "east": [2 * lx - source[0], source[1], source[2]],
        "south": [source[0], -source[1], source[2]],
        "north": [source[0], 2 * ly - source[1], source[2]],
        "floor": [source[0], source[1], -source[2]],
        "ceiling": [source[0], source[1], 2 * lz - source[2]],
    }
    first = images.positions[images.orders == 1]
    assert len(first) == 6
    lis = np.asarray(listener.position)
    air = air_absorption_per_m()
    for wall, mirror in mirrors.items():
        match = np.flatnonzero(np.all(np.isclose(first, mirror), axis=1))
        assert match.size == 1, wall
        k = np.flatnonzero(images.orders == 1)[match[0]]
        r = np.linalg.norm(np.asarray(mirror) - lis)
        assert images.delays_s[k] == pytest.approx(r / SPEED_OF_SOUND)
        alpha = np.asarray(room.material(wall).absorption)
        np.testing.assert_allclose(
            images.gains[k], np.sqrt(1 - alpha) * np.exp(-air * r / 2) / r, rtol=1e-12
        )
    # Every image arrives before the transition time plus the crossfade.
    assert images.delays_s.max() <= transition_time_s(room) + 0.0051

    # In the response (omni HRTF) each of these arrivals is a peak at round(delay * fs).
    brir = binaural_room_impulse_response(room, listener, tuple(source), hrtf=OMNI)
    energy = brir[0].astype(np.float64) ** 2
    for k in np.flatnonzero(images.orders <= 1):
        expected = round(images.delays_s[k] * FS)
        window = energy[expected - 3 : expected + 4]
        assert np.argmax(window) - 3 == 0, (k, images.delays_s[k])


def test_outdoor_adds_one_ground_reflection() -> None:
    ground = _pra("rough_concrete")
    room = Room(kind="outdoor", materials=(("ground", ground),))
    listener = Pose(position=(0.0, 0.0, 1.7))
    images = source_images(room, listener, (8.0, 0.0, 1.0))
    assert len(images) == 2
    np.testing.assert_allclose(images.positions[1], [8.0, 0.0, -1.0])
    r = math.hypot(8.0, 2.7)
    alpha = np.asarray(ground.absorption)
    expected = np.sqrt(1 - alpha) * np.exp(-air_absorption_per_m() * r / 2) / r
    np.testing.assert_allclose(images.gains[1], expected, rtol=1e-12)


def _octave(signal: np.ndarray, centre: float) -> np.ndarray:
    sos = butter(4, [centre / math.sqrt(2), centre * math.sqrt(2)], "bandpass", fs=FS, output="sos")
    return sosfiltfilt(sos, signal)


ROOMS = {
    # name: (room, decay_db, relative tolerance of the 1 kHz RT60). The dry room decays
    # 25 dB within the image-source part (40 ms), whose decay depends on where the
    # absorption sits, which Eyring's mean ignores: it gets the 20% the task allows.
    "brick": (_shoebox((10.0, 8.0, 4.0), "brickwork", "concrete_floor", "plasterboard"), 30, 0.10),
    "office": (_shoebox((10.0, 8.0, 4.0), "brickwork", "carpet_cotton", "plasterboard"), 30, 0.15),
    "dry": (
        _shoebox((6.0, 5.0, 3.0), "curtains_cotton_0.5", "carpet_cotton", "rockwool_50mm_80kgm3"),
        20,
        0.20,
    ),
}


@pytest.mark.parametrize("name", sorted(ROOMS))
def test_rt60_at_1khz_matches_eyring(name: str) -> None:
    from pyroomacoustics.experimental import measure_rt60

    room, decay_db, tolerance = ROOMS[name]
    predicted = room_acoustics(room)
    size = np.asarray(room.size)
    rng = np.random.default_rng(3)
    band, broadband = [], []
    for trial in range(3):
        listener, source = (tuple(rng.uniform(0.2, 0.8, 3) * size) for _ in range(2))
        brir = binaural_room_impulse_response(
            room, Pose(position=listener), source, seed=trial
        ).astype(np.float64)
        for ear in (0, 1):
            band.append(measure_rt60(_octave(brir[ear], 1000.0), fs=FS, decay_db=decay_db))
            broadband.append(measure_rt60(brir[ear], fs=FS, decay_db=decay_db))
    # Averaged over positions and ears; the octave filter's skirts also let neighbouring
    # bands' decays in, so a band's measured RT60 leans towards its slower neighbour.
    assert np.mean(band) == pytest.approx(predicted.rt60_eyring_s[3], rel=tolerance), band
    assert np.mean(broadband) == pytest.approx(predicted.rt60_mid_s, rel=0.20), broadband


def test_late_tail_coherence_is_high_at_125_hz_and_low_at_4_khz() -> None:
    room = ROOMS["brick"][0]
    brir = binaural_room_impulse_response(
        room, Pose(position=(3.0, 2.0, 1.6)), (7.0, 5.0, 1.5), seed=2
    ).astype(np.float64)
    # Filter first, then cut: cutting first would give the filter an edge transient.
    start = int((transition_time_s(room) + 0.05) * FS)

    def coherence(centre: float) -> float:
        left, right = (_octave(brir[e], centre)[start:] for e in (0, 1))
        return float(np.sum(left * right) / np.sqrt(np.sum(left**2) * np.sum(right**2)))

    assert coherence(125.0) > 0.6
    assert abs(coherence(4000.0)) < 0.3


@pytest.mark.parametrize(("size", "alpha"), [((10.0, 8.0, 4.0), 0.2), ((30.0, 18.0, 10.0), 0.1)])
def test_late_tail_continues_the_image_source_energy(
    size: tuple[float, float, float], alpha: float
) -> None:
    """In the 1 kHz band, the energy just before and just after the transition matches the
    diffuse-field law 4 pi c / V exp(-13.8 t / T) within 1.5 dB (averaged over positions)."""
    room = _uniform_room(size, alpha)
    volume = float(np.prod(size))
    t60 = room_acoustics(room).rt60_eyring_s[3]
    t_mix = transition_time_s(room)
    rng = np.random.default_rng(7)
    early, late = [], []
    for trial in range(8):
        lis, src = (rng.uniform(0.3, 0.7, 3) * np.asarray(size) for _ in range(2))
        direct = np.linalg.norm(lis - src) / SPEED_OF_SOUND
        brir = binaural_room_impulse_response(
            room, Pose(position=tuple(lis)), tuple(src), hrtf=OMNI, seed=trial
        ).astype(np.float64)
        n = fft_size(brir.shape[1])
        mask = band_masks(n, FS)[3]
        band = np.fft.irfft(np.fft.rfft(brir[0], n) * mask, n)[: brir.shape[1]]
        law = 4 * np.pi * SPEED_OF_SOUND / (volume * FS) * np.mean(mask**2)

        def ratio(t0: float, t1: float, band: np.ndarray = band, law: float = law) -> float:
            i = np.arange(int(t0 * FS), int(t1 * FS))
            return float(np.mean(band[i] ** 2 * np.exp(13.8 * i / FS / t60)) / law)

        early.append(ratio(direct + 0.003, t_mix - 0.006))
        late.append(ratio(t_mix + 0.006, t_mix + 0.1))
    assert 10 * np.log10(np.mean(early)) == pytest.approx(0.0, abs=1.5)
    assert 10 * np.log10(np.mean(late)) == pytest.approx(0.0, abs=1.0)


def test_mesh_room_is_its_box_at_its_origin() -> None:
    """A mesh room renders as the box ``origin + [0, size]``: moving the room, listener and
    source together by the origin changes nothing."""
    shoebox = ROOMS["office"][0]
    offset = np.array([100.0, -20.0, 3.0])
    mesh = Room(kind="mesh", size=shoebox.size, materials=shoebox.materials, origin=tuple(offset))
    listener, source = np.array([3.0, 2.0, 1.6]), np.array([7.5, 6.0, 2.5])
    a = binaural_room_impulse_response(shoebox, Pose(position=tuple(listener)), tuple(source))
    b = binaural_room_impulse_response(
        mesh, Pose(position=tuple(listener + offset)), tuple(source + offset)
    )
    np.testing.assert_allclose(a, b, atol=1e-6 * np.max(np.abs(a)))
