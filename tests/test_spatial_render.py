"""render_scene: consistency with the BRIR, determinism, shared tail, argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Material, Pose, Room
from spatial import PlacedSource, binaural_room_impulse_response, render_scene

FS = 48_000
ROOM = Room(
    kind="shoebox",
    size=(10.0, 8.0, 4.0),
    materials=tuple(
        (s, Material(name="alpha=0.15", absorption=(0.15,) * len(BANDS_HZ)))
        for s in SHOEBOX_SURFACES
    ),
)
LISTENER = Pose(position=(3.0, 4.0, 1.7), yaw_deg=20.0)


def _noise(n: int, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_render_equals_convolution_with_the_brir() -> None:
    """The shared late tail and the per-source early parts add up to the full BRIR, also
    for a far source whose direct sound arrives after the transition time."""
    x = _noise(FS, 1)
    n = 2 * FS
    hall = Room(kind="shoebox", size=(30.0, 18.0, 10.0), materials=ROOM.materials)
    for room, position in ((ROOM, (8.0, 6.0, 1.5)), (hall, (29.0, 17.0, 9.0))):
        listener = Pose(position=(1.0, 1.0, 1.7), yaw_deg=20.0)
        out = render_scene(
            room, listener, [PlacedSource("n", x, position, gain_db=-6.0)], n_samples=n, seed=4
        )
        brir = binaural_room_impulse_response(room, listener, position, seed=4)
        ref = fftconvolve(x[None, :].astype(np.float64) * 10 ** (-6 / 20), brir)[:, :n]
        assert out.dtype == np.float32
        assert out.shape == (2, n)
        np.testing.assert_allclose(out, ref, atol=1e-5 * np.max(np.abs(ref)))


def test_sources_add_linearly() -> None:
    a = PlacedSource("a", _noise(FS // 2, 1), (8.0, 6.0, 1.5))
    b = PlacedSource("b", _noise(FS // 2, 2), (2.0, 1.0, 3.0), gain_db=3.0)
    both = render_scene(ROOM, LISTENER, [a, b], n_samples=FS)
    each = render_scene(ROOM, LISTENER, [a], n_samples=FS) + render_scene(
        ROOM, LISTENER, [b], n_samples=FS
    )
    np.testing.assert_allclose(both, each, atol=1e-6)


def test_same_seed_same_output_other_seed_other_tail() -> None:
    sources = [PlacedSource("a", _noise(FS // 2, 1), (8.0, 6.0, 1.5))]
    first = render_scene(ROOM, LISTENER, sources, n_samples=FS, seed=5)
    again = render_scene(ROOM, LISTENER, sources, n_samples=FS, seed=5)
    other = render_scene(ROOM, LISTENER, sources, n_samples=FS, seed=6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_no_sources_gives_silence_and_output_is_finite() -> None:
    assert not np.any(render_scene(ROOM, LISTENER, [], n_samples=100))
    out = render_scene(
        ROOM, LISTENER, [PlacedSource("a", _noise(10, 1), (3.0, 4.0, 1.7))], n_samples=50
    )
    assert out.shape == (2, 50)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("n_samples", [0, -5, 2.5, True])
def test_bad_n_samples(n_samples: object) -> None:
    with pytest.raises(ValueError, match=r"n_samples.*positive integer"):
        render_scene(ROOM, LISTENER, [], n_samples=n_samples)  # type: ignore[arg-type]


def test_bad_sample_rate() -> None:
    with pytest.raises(ValueError, match="sample_rate: got 44100; must be 48000"):
        render_scene(ROOM, LISTENER, [], n_samples=10, sample_rate=44100)
    with pytest.raises(ValueError, match="sample_rate"):
        binaural_room_impulse_response(ROOM, LISTENER, (1.0, 1.0, 1.0), sample_rate=44100)


def test_source_outside_the_shoebox_is_named() -> None:
    source = PlacedSource("piano", _noise(10, 1), (11.0, 2.0, 1.0))
    with pytest.raises(
        ValueError,
        match=r"sources\[0\] \('piano'\)\.position: got \(11\.0, 2\.0, 1\.0\); "
        r"must lie inside the room box \[0, 10\] x \[0, 8\] x \[0, 4\] m",
    ):
        render_scene(ROOM, LISTENER, [source], n_samples=10)


def test_listener_outside_the_shoebox() -> None:
    with pytest.raises(ValueError, match=r"listener\.position.*inside the room box"):
        render_scene(ROOM, Pose(position=(1.0, 1.0, 5.0)), [], n_samples=10)


def test_source_below_the_ground_outdoors() -> None:
    ground = Material(name="grass", absorption=(0.2,) * len(BANDS_HZ))
    room = Room(kind="outdoor", materials=(("ground", ground),))
    with pytest.raises(ValueError, match=r"sources\[0\].*above the ground"):
        render_scene(room, LISTENER, [PlacedSource("a", _noise(10, 1), (1, 1, -1))], n_samples=9)


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (np.array([0.0, np.nan], dtype=np.float32), "signal.*finite"),
        (np.zeros((2, 10), dtype=np.float32), "signal.*1-D"),
        (np.zeros(10, dtype=np.int16), "signal.*floating point"),
    ],
)
def test_bad_signals(signal: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_scene(ROOM, LISTENER, [PlacedSource("s", signal, (5.0, 5.0, 1.0))], n_samples=10)


def test_non_finite_position() -> None:
    source = PlacedSource("s", _noise(10, 1), (np.nan, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"sources\[0\] \('s'\)\.position.*finite"):
        render_scene(Room(kind="free_field"), LISTENER, [source], n_samples=10)
